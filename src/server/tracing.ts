import { AsyncResource } from 'node:async_hooks';
import type * as Api from '@opentelemetry/api';
import type { Logger } from './log.js';

/** Attribute values a span takes. */
export type SpanAttributes = Record<string, string | number | boolean>;

/** The spans of one request: its root, named after the op, and the phases under it. */
export type RequestSpan = {
  /** Records a phase that has already happened, from `from` to `to` (performance.now() ms). */
  past(name: string, from: number, to: number): void;
  /** Runs `fn` in a phase span under the root; a promise it returns ends the phase when it settles. */
  phase<T>(name: string, fn: () => T): T;
  /** Ends the root with the request's result (`ok` or an error code). */
  end(result: string, attributes: SpanAttributes): void;
};

/**
 * The tracer the server calls on its hot path. When tracing is off (no
 * OTLP endpoint configured) it is {@link OFF}: a constant whose methods do
 * nothing and allocate nothing, and no OpenTelemetry module is loaded.
 */
export type Tracer = {
  readonly on: boolean;
  /** The root span of a request, started now or at `startedAt` (performance.now() ms). */
  request(op: string, transport: string, reqId: string, startedAt?: number): RequestSpan;
  /**
   * Runs `fn` in a span under whatever span is current (a request's phase, a
   * write batch's first request); the span is current within `fn`, and ends
   * when `fn` returns or its promise settles.
   */
  span<T>(name: string, fn: () => T, attributes?: SpanAttributes): T;
};

const OFF_REQUEST: RequestSpan = {
  past() {},
  phase: (_name, fn) => fn(),
  end() {},
};

/** Tracing off. */
const OFF: Tracer = {
  on: false,
  request: () => OFF_REQUEST,
  span: (_name, fn) => fn(),
};

let current: Tracer = OFF;
let shutdown: (() => Promise<void>) | null = null;
/** Whether a span is current (set once OpenTelemetry is loaded). */
let inSpan: () => boolean = () => false;

/** The process's tracer: {@link OFF} until {@link startTracing} has loaded OpenTelemetry. */
export function tracer(): Tracer {
  return current;
}

/** Runs a batch in the async context a job was queued in. */
export type InContext = (fn: () => Promise<void>) => Promise<void>;

/**
 * When tracing is on, a function that runs its argument in the async context
 * current now (the `db.write` span of a request queueing a job), so that a
 * write batch's commit and after-commit spans hang under the first of its
 * jobs a request queued, whatever timer started the batch; null when
 * tracing is off or no span is current (a maintenance sweep).
 */
export function contextNow(): InContext | null {
  return current.on && inSpan() ? AsyncResource.bind((fn: () => Promise<void>) => fn()) : null;
}

/** Whether the environment asks for traces (an OTLP endpoint for traces is set and tracing is not disabled). */
export function tracingWanted(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.OTEL_SDK_DISABLED === 'true' || env.OTEL_TRACES_EXPORTER === 'none') return false;
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
}

/** performance.now() ms as the epoch ms OpenTelemetry takes. */
const epoch = (t: number): number => performance.timeOrigin + t;

/**
 * Loads OpenTelemetry (only now, and only once per process) and sends spans
 * by OTLP over HTTP (JSON) to the endpoint the standard OTEL_* variables
 * name. Resolves once spans can be made.
 */
export async function startTracing(options: {
  version: string;
  cluster: string | null;
  node: string;
  log: Logger;
}): Promise<void> {
  if (current.on) return;
  const api = await import('@opentelemetry/api');
  const { NodeSDK, resources } = await import('@opentelemetry/sdk-node');
  const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
  const log = options.log.child({ component: 'tracing' });
  api.diag.setLogger(diagLogger(log), api.DiagLogLevel.WARN);
  const attributes: SpanAttributes = {
    'service.name': process.env.OTEL_SERVICE_NAME || 'natter',
    'service.version': options.version,
    'service.instance.id': options.node,
  };
  if (options.cluster !== null) attributes['natter.cluster'] = options.cluster;
  let exporter: InstanceType<typeof OTLPTraceExporter>;
  try {
    exporter = new OTLPTraceExporter();
  } catch (err) {
    log.warn('tracing: off, the OTLP exporter cannot be set up', err);
    return;
  }
  const sdk = new NodeSDK({
    resource: resources.resourceFromAttributes(attributes),
    // OTEL_RESOURCE_ATTRIBUTES and the host name; not the process detector, whose
    // command line would carry --database with its password.
    resourceDetectors: [resources.envDetector, resources.hostDetector],
    traceExporter: exporter,
    // Traces only: no metrics or log records through OpenTelemetry, and no automatic instrumentation.
    metricReaders: [],
    logRecordProcessors: [],
    instrumentations: [],
  });
  sdk.start();
  const otel = api.trace.getTracer('natter', options.version);
  current = otelTracer(api, otel);
  inSpan = () => api.trace.getActiveSpan() !== undefined;
  shutdown = () => sdk.shutdown();
  log.info('tracing: spans go by OTLP/HTTP', {
    endpoint: process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || process.env.OTEL_EXPORTER_OTLP_ENDPOINT,
  });
}

/** Sends the spans still waiting and stops tracing, giving up after `deadlineMs`. */
export async function stopTracing(deadlineMs: number): Promise<void> {
  const stop = shutdown;
  shutdown = null;
  current = OFF;
  if (!stop) return;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, deadlineMs);
  });
  await Promise.race([stop().catch(() => {}), late]);
  clearTimeout(timer);
}

/** OpenTelemetry's own complaints (an unreachable collector), through our log, at most once a minute each. */
function diagLogger(log: Logger): Api.DiagLogger {
  const last = new Map<string, number>();
  const say =
    (level: 'warn' | 'error') =>
    (message: string, ...args: unknown[]) => {
      const now = Date.now();
      if ((last.get(message) ?? 0) > now - 60_000) return;
      last.set(message, now);
      log[level](`tracing: ${message}`, args[0]);
    };
  return { error: say('error'), warn: say('warn'), info() {}, debug() {}, verbose() {} };
}

function otelTracer(api: typeof Api, otel: Api.Tracer): Tracer {
  const run = <T>(span: Api.Span, ctx: Api.Context, fn: () => T): T => {
    let result: T;
    try {
      result = api.context.with(ctx, fn);
    } catch (err) {
      failed(span, err);
      span.end();
      throw err;
    }
    if (result instanceof Promise) {
      result.then(
        () => span.end(),
        (err: unknown) => {
          failed(span, err);
          span.end();
        },
      );
    } else {
      span.end();
    }
    return result;
  };
  const failed = (span: Api.Span, err: unknown) => {
    const code = (err as { code?: unknown } | null)?.code;
    span.setStatus({ code: api.SpanStatusCode.ERROR, message: typeof code === 'string' ? code : 'error' });
  };
  return {
    on: true,
    request(op, transport, reqId, startedAt) {
      const root = otel.startSpan(op, {
        kind: api.SpanKind.SERVER,
        startTime: startedAt === undefined ? undefined : epoch(startedAt),
        attributes: { 'natter.op': op, 'natter.transport': transport, 'natter.request_id': reqId },
      });
      const ctx = api.trace.setSpan(api.context.active(), root);
      return {
        past(name, from, to) {
          otel.startSpan(name, { startTime: epoch(from) }, ctx).end(epoch(to));
        },
        phase(name, fn) {
          const span = otel.startSpan(name, {}, ctx);
          return run(span, api.trace.setSpan(ctx, span), fn);
        },
        end(result, attributes) {
          root.setAttributes({ ...attributes, 'natter.result_code': result });
          if (result !== 'ok') root.setStatus({ code: api.SpanStatusCode.ERROR, message: result });
          root.end();
        },
      };
    },
    span(name, fn, attributes) {
      const parent = api.context.active();
      const span = otel.startSpan(name, attributes ? { attributes } : {}, parent);
      return run(span, api.trace.setSpan(parent, span), fn);
    },
  };
}
