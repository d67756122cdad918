import { EventEmitter } from 'node:events';
import { NatterError } from '../protocol/error-class.js';
import type {
  AnyEvent,
  ErrorBody,
  EventData,
  EventMessage,
  EventName,
  OpName,
  ParamsIn,
  ResultOf,
} from '../protocol/index.js';
import { PROTOCOL_VERSION } from '../protocol/version.js';
import { parseServerList, ServersUnreachableError } from './servers.js';
import { type MessageTransport, openTransport, type TlsOptions } from './transport.js';

export type ClientOptions = TlsOptions & {
  /** Time allowed to connect and for each request's reply. Default 10 s. */
  timeoutMs?: number;
};

type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout };

/** Events a {@link NatterClient} emits. */
export type ClientEvents = {
  /** Every server push, as received. */
  event: [AnyEvent];
  /** The connection ended; `code` is the WebSocket (or TCP `closing`) close code. */
  close: [code: number, reason: string];
};

/**
 * A connection to a natter server over WebSocket or TCP: typed requests with
 * timeouts, and server events.
 */
export class NatterClient extends EventEmitter<ClientEvents> {
  private readonly pending = new Map<string, Pending>();
  private nextId = 1;
  private closedWith: { code: number; reason: string } | null = null;
  /** The server's `closing` event, which explains the close on TCP (no close frames there). */
  private closing: EventData<'closing'> | null = null;
  /** When this client last sent anything (ms, monotonic). */
  private lastSent = performance.now();
  private readonly heartbeat: NodeJS.Timeout | null = null;
  /** The token this connection authenticated with (`auth`, `login`, `register`), until `logout`. */
  private authToken: string | null = null;

  private constructor(
    private readonly transport: MessageTransport,
    readonly url: string,
    /** The server's `hello` event. */
    readonly hello: EventData<'hello'>,
    private readonly timeoutMs: number,
    early: string[],
    /** How a `wss://` or `tls://` server's certificate is checked; the HTTP side of files uses it too. */
    readonly tls: TlsOptions,
  ) {
    super();
    transport.onMessage((text) => this.receive(text));
    transport.onClose((code, reason) => this.onClosed(code, reason));
    queueMicrotask(() => {
      for (const text of early) this.receive(text);
    });
    const beat = hello.limits.heartbeatMs;
    if (beat > 0) {
      this.heartbeat = setInterval(() => this.checkLiveness(beat), Math.max(1, beat / 2));
      this.heartbeat.unref();
    }
  }

  /**
   * Both ends watch each other. On TCP (plain or TLS), where there are no ping frames, the
   * client sends a `ping` request whenever it has been quiet for half the
   * server's heartbeat, so the server never has to ask. On both transports, a
   * server that has sent nothing (not even a WebSocket ping) for more than two
   * heartbeats is taken for gone: the connection is dropped (1006), and a
   * reconnecting client tries again.
   */
  private checkLiveness(beat: number): void {
    if (this.closedWith) return;
    const now = performance.now();
    if (now - this.transport.lastHeard() > beat * 2.5) {
      this.transport.abort(`the server sent nothing for ${Math.round((beat * 2.5) / 1000)} s`);
      return;
    }
    const lines = this.url.startsWith('tcp:') || this.url.startsWith('tls:');
    if (lines && now - this.lastSent >= beat / 2) this.ping();
  }

  private ping(): void {
    this.request('ping', {}).catch(() => {});
  }

  /**
   * Connects to `ws://host:port`, `wss://…`, `tcp://host:port` or `tls://…` and
   * waits for the server's hello. A `wss://` or `tls://` server's certificate
   * must verify (against `ca` when given), or this rejects with a `CertificateError`.
   *
   * `url` may be a list, comma-separated (`ws://a:7777,ws://b:7777`) or an
   * array: each is tried in turn (each with the whole timeout) until one
   * answers; `url` is then the one that did. When none answers this rejects
   * with a {@link ServersUnreachableError} naming each and why (with a single
   * URL, with its own error). An empty or bad entry rejects before any is tried.
   */
  static async connect(url: string | readonly string[], options: ClientOptions = {}): Promise<NatterClient> {
    const urls = typeof url === 'string' ? parseServerList(url) : url;
    if (urls.length === 0) throw new Error('no server given');
    const failures: { url: string; error: Error }[] = [];
    for (const one of urls) {
      try {
        return await NatterClient.connectOne(one, options);
      } catch (err) {
        failures.push({ url: one, error: err instanceof Error ? err : new Error(String(err)) });
      }
    }
    const only = failures[0];
    if (failures.length === 1 && only) throw only.error;
    throw new ServersUnreachableError(failures);
  }

  private static async connectOne(url: string, options: ClientOptions): Promise<NatterClient> {
    const timeoutMs = options.timeoutMs ?? 10_000;
    const transport = await openTransport(url, timeoutMs, options.ca === undefined ? {} : { ca: options.ca });
    const early: string[] = [];
    const hello = await new Promise<EventData<'hello'>>((resolve, reject) => {
      const timer = setTimeout(() => {
        transport.close();
        reject(new Error(`no hello from ${url} within ${timeoutMs} ms`));
      }, timeoutMs);
      transport.onClose((code, reason) => {
        clearTimeout(timer);
        reject(new Error(`${url} closed the connection (${code} ${reason})`));
      });
      let greeted = false;
      transport.onMessage((text) => {
        if (greeted) {
          early.push(text);
          return;
        }
        let msg: EventMessage;
        try {
          msg = JSON.parse(text) as EventMessage;
        } catch {
          clearTimeout(timer);
          transport.close();
          reject(new Error(`${url} does not speak the natter protocol (its first line is not JSON)`));
          return;
        }
        if (msg.event === 'hello') {
          greeted = true;
          clearTimeout(timer);
          resolve(msg.data as EventData<'hello'>);
        }
      });
    });
    if (hello.protocol !== PROTOCOL_VERSION) {
      transport.close();
      throw new NatterError(
        'unsupported_version',
        `server speaks protocol ${hello.protocol}, this client ${PROTOCOL_VERSION}`,
      );
    }
    return new NatterClient(
      transport,
      url,
      hello,
      timeoutMs,
      early,
      options.ca === undefined ? {} : { ca: options.ca },
    );
  }

  /**
   * The session or bot token this connection is authenticated with (what it
   * sent with `auth`, or got from `login` or `register`), null before and
   * after `logout`. Files are downloaded over HTTP with it (media.ts).
   */
  get token(): string | null {
    return this.authToken;
  }

  /** Sends a request and resolves with its result, or rejects with a {@link NatterError}. */
  request<N extends OpName>(op: N, params: ParamsIn<N>, options: { timeoutMs?: number } = {}): Promise<ResultOf<N>> {
    const reply = this.send(op, params, options);
    if (op !== 'auth' && op !== 'login' && op !== 'register' && op !== 'logout') return reply;
    return reply.then((result) => {
      if (op === 'logout') this.authToken = null;
      else if (op === 'auth') this.authToken = (params as ParamsIn<'auth'>).token;
      else this.authToken = (result as ResultOf<'login'>).token;
      return result;
    });
  }

  private send<N extends OpName>(op: N, params: ParamsIn<N>, options: { timeoutMs?: number }): Promise<ResultOf<N>> {
    if (this.closedWith) {
      return Promise.reject(new Error(`connection closed (${this.closedWith.code} ${this.closedWith.reason})`));
    }
    const id = String(this.nextId++);
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`the server did not reply within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      this.lastSent = performance.now();
      this.transport.send(JSON.stringify({ id, op, params }));
    });
  }

  /** Resolves with the next event named `name` (optionally matching `filter`). */
  nextEvent<N extends EventName>(
    name: N,
    filter: (data: EventData<N>) => boolean = () => true,
    timeoutMs = this.timeoutMs,
  ): Promise<EventMessage<N>> {
    return waitForEvent(this, name, filter, timeoutMs);
  }

  /** The server's `closing` event, when it sent one before closing (it carries `reconnectAfterMs` on restarts). */
  get closingNotice(): EventData<'closing'> | null {
    return this.closing;
  }

  /** True once the connection has ended. */
  get closed(): boolean {
    return this.closedWith !== null;
  }

  /** Closes the connection. */
  close(): void {
    this.transport.close();
  }

  private receive(text: string): void {
    let msg: { id?: unknown; result?: unknown; error?: ErrorBody; event?: string };
    try {
      msg = JSON.parse(text) as typeof msg;
    } catch {
      return;
    }
    if (typeof msg.event === 'string') {
      if (msg.event === 'closing') this.closing = (msg as EventMessage<'closing'>).data;
      // The server heard nothing from us for a while (TCP): answer at once.
      if (msg.event === 'ping') this.ping();
      this.emit('event', msg as AnyEvent);
      return;
    }
    const pending = typeof msg.id === 'string' ? this.pending.get(msg.id) : undefined;
    if (!pending) return;
    this.pending.delete(msg.id as string);
    clearTimeout(pending.timer);
    if (msg.error) pending.reject(NatterError.fromBody(msg.error));
    else pending.resolve(msg.result);
  }

  private onClosed(transportCode: number, transportReason: string): void {
    if (this.closedWith) return;
    if (this.heartbeat) clearInterval(this.heartbeat);
    const fromEvent = transportCode === 1006 && this.closing !== null;
    const code = fromEvent && this.closing ? this.closing.code : transportCode;
    const reason = fromEvent && this.closing ? this.closing.reason : transportReason;
    this.closedWith = { code, reason };
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new Error(`connection closed (${code} ${reason})`));
    }
    this.pending.clear();
    this.emit('close', code, reason);
  }
}

/** Anything that emits protocol events as `event`. */
type EventSource = {
  on(name: 'event', fn: (msg: AnyEvent) => void): unknown;
  off(name: 'event', fn: (msg: AnyEvent) => void): unknown;
};

/** The next event named `name` from `source` that passes `filter`, or a timeout error. */
export function waitForEvent<N extends EventName>(
  source: EventSource,
  name: N,
  filter: (data: EventData<N>) => boolean,
  timeoutMs: number,
): Promise<EventMessage<N>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      source.off('event', listener);
      reject(new Error(`no "${name}" event within ${timeoutMs} ms`));
    }, timeoutMs);
    const listener = (msg: EventMessage) => {
      if (msg.event === name && filter(msg.data as EventData<N>)) {
        clearTimeout(timer);
        source.off('event', listener);
        resolve(msg as EventMessage<N>);
      }
    };
    source.on('event', listener);
  });
}
