import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  decodeJson,
  HTTP_STATUS,
  Id,
  NatterError,
  PROTOCOL_VERSION,
  parseRequest,
  type Reply,
  RequestId,
} from '../../protocol/index.js';
import { resolveToken } from '../access.js';
import { Connection } from '../connection.js';
import type { Services } from '../context.js';
import type { Dispatcher } from '../dispatch.js';
import { type MediaTarget, serveDownload } from '../media/download.js';
import { receiveUpload, UPLOAD_IDLE_MS } from '../media/upload.js';
import { serveMetrics } from '../metrics.js';
import { bearerToken, remoteAddress, tooManyConnections } from './common.js';

/** One HTTP request, seen as a connection that lives for one reply. Events are not delivered over HTTP. */
class HttpConnection extends Connection {
  constructor(address: string) {
    super('http', address);
  }
  protected write(): void {}
  protected terminate(): void {}
  protected queuedBytes(): number {
    return 0;
  }
}

const API_PREFIX = '/api/v1/';
const MEDIA_PREFIX = '/media/v1/';

/** How long an API request's body may take to arrive (uploads have their own, longer, rules). */
export const BODY_DEADLINE_MS = 30_000;

/** How long `/readyz` waits for the database to answer before saying it does not. */
const READY_PING_MS = 1000;

/**
 * Whether this node can serve: the database answers (within a second) and
 * the node is not shutting down. The bus is reported but does not decide:
 * with NATS down a node keeps serving, reading new events from the database.
 */
async function readiness(services: Services, draining: () => boolean) {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), READY_PING_MS);
  });
  const database = await Promise.race([services.store.ping().catch(() => false), timeout]);
  clearTimeout(timer);
  const bus = services.bus.status();
  const stopping = draining();
  const status = services.classifier?.client.status();
  const classifier = status && {
    ...status,
    retryInMs: status.retryInMs === null ? null : Math.ceil(status.retryInMs),
  };
  return {
    ready: database && !stopping,
    stopping,
    database: { backend: services.store.backend, ok: database },
    // An open breaker does not make natter unready: messages get the fallback meanwhile.
    ...(classifier ? { classifier } : {}),
    bus: {
      transport: bus.transport,
      connected: bus.connected,
      mode: bus.mode,
      lastApplied: bus.lastApplied,
      lag: bus.lag,
      nodes: bus.nodes,
    },
  };
}

/**
 * The HTTP side: `POST /api/v1/<op>`, files under `/media/v1/`, `GET /healthz`,
 * `GET /readyz`. WebSocket upgrades are handled elsewhere.
 */
export function createHttpHandler(services: Services, dispatcher: Dispatcher, startedAt: number) {
  /** API and media requests under way per client address. */
  const underWay = new Map<string, number>();
  /**
   * Counts a request against its address's cap until its response closes;
   * false (and the refusal sent) when the address has too many under way.
   */
  const admit = (req: IncomingMessage, res: ServerResponse, address: string, id: RequestId | null): boolean => {
    const n = (underWay.get(address) ?? 0) + 1;
    if (n > services.config.maxHttpRequestsPerAddress) {
      refuseBody(req, res);
      sendError(
        res,
        id,
        new NatterError('rate_limited', 'too many requests under way from this address; wait for their replies', {
          retryAfterMs: 1000,
        }),
      );
      return false;
    }
    underWay.set(address, n);
    services.metrics.connectionOpened('http');
    res.once('close', () => {
      services.metrics.connectionClosed('http');
      const left = (underWay.get(address) ?? 1) - 1;
      if (left > 0) underWay.set(address, left);
      else underWay.delete(address);
    });
    return true;
  };
  return (req: IncomingMessage, res: ServerResponse): void => {
    // Every socket counts toward the per-address cap (it could be upgraded later);
    // over it, its requests are refused. A trusted proxy's sockets carry many clients:
    // they are not counted.
    if (
      !services.proxies.trusts(remoteAddress(req.socket)) &&
      services.sockets.count(services.proxies.clientOf(req)) > services.config.maxConnectionsPerAddress
    ) {
      req.resume();
      res.setHeader('Connection', 'close');
      sendError(res, null, tooManyConnections());
      return;
    }
    const hostRefusal = services.hosts.check(req.headers.host);
    if (hostRefusal) {
      sendError(res, null, hostRefusal);
      return;
    }
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (path === '/healthz') {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        sendError(res, null, methodNotAllowed('GET'));
        return;
      }
      send(res, 200, {
        ok: true,
        version: services.version,
        protocol: PROTOCOL_VERSION,
        uptimeMs: Date.now() - startedAt,
      });
      return;
    }
    if (path === '/readyz') {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        sendError(res, null, methodNotAllowed('GET'));
        return;
      }
      readiness(services, () => dispatcher.draining).then(
        (body) => send(res, body.ready ? 200 : 503, body),
        (err: unknown) => {
          services.log.error('checking readiness', err);
          send(res, 503, { ready: false });
        },
      );
      return;
    }
    if (path === '/metrics' && services.config.metrics && !services.config.metrics.listen) {
      serveMetrics(services.metrics, services.config.metrics.token, req, res, (err) =>
        services.log.error('collecting metrics', err),
      );
      return;
    }
    if (path.startsWith(MEDIA_PREFIX)) {
      const address = services.proxies.clientOf(req);
      if (admit(req, res, address, null)) media(services, req, res, address, path.slice(MEDIA_PREFIX.length));
      return;
    }
    if (!path.startsWith(API_PREFIX)) {
      sendError(res, null, new NatterError('not_found', 'nothing here: the API is POST /api/v1/<operation>'));
      return;
    }
    if (req.method !== 'POST') {
      sendError(res, null, methodNotAllowed('POST'));
      return;
    }
    const op = path.slice(API_PREFIX.length);
    const rawId = req.headers['x-request-id'];
    const idParse = RequestId.safeParse(rawId);
    const id = idParse.success ? idParse.data : 0;
    if (!admit(req, res, services.proxies.clientOf(req), id)) return;
    readBody(req, services.config.maxFrameBytes).then(
      (body) => {
        // A browser may POST text/plain or a form to any site without asking
        // (no CORS preflight): only JSON bodies are taken.
        if (body.length > 0 && !isJson(req.headers['content-type'])) {
          sendError(res, id, notJson(req.headers['content-type']));
          return;
        }
        void handle(services, dispatcher, req, res, id, op, body);
      },
      (err: unknown) => {
        refuseBody(req, res);
        sendError(
          res,
          id,
          err instanceof NatterError ? err : new NatterError('bad_request', 'could not read the request body'),
        );
      },
    );
  };
}

/**
 * `/media/v1/…`: `PUT uploads/<id>` (media/upload.ts), `GET`/`HEAD
 * <id>/<name>` and `thumbs/<id>` (media/download.ts).
 */
function media(services: Services, req: IncomingMessage, res: ServerResponse, address: string, rest: string): void {
  route(services, req, res, address, rest).catch((err: unknown) => {
    if (!(err instanceof NatterError)) services.log.error(`${req.method} ${MEDIA_PREFIX}${rest}`, err);
    refuseBody(req, res);
    sendError(
      res,
      null,
      err instanceof NatterError ? err : new NatterError('internal', 'the file could not be handled'),
    );
  });
}

async function route(
  services: Services,
  req: IncomingMessage,
  res: ServerResponse,
  address: string,
  rest: string,
): Promise<void> {
  const parts = rest.split('/');
  const validId = (s: string | undefined): s is string => Id.safeParse(s).success;
  if (parts[0] === 'uploads' && parts.length === 2) {
    const id = parts[1];
    if (req.method !== 'PUT') throw methodNotAllowed('PUT');
    if (!validId(id)) throw new NatterError('not_found', 'no upload slot with this id and token');
    // A slow link may take minutes over a large file, but not stall: silent for too long, it is cut off.
    // Once the body is in, the silence is the server's (finding what the file is): no timer then.
    req.setTimeout(UPLOAD_IDLE_MS, () => {
      if (!req.complete) req.destroy();
    });
    req.once('end', () => req.socket?.setTimeout(0));
    try {
      send(res, 200, await receiveUpload(services, req, address, id));
    } finally {
      req.socket?.setTimeout(0);
    }
    return;
  }
  let target: MediaTarget | null = null;
  if (parts[0] === 'thumbs' && parts.length === 2 && validId(parts[1])) target = { id: parts[1], thumb: true };
  else if (parts.length === 2 && validId(parts[0])) target = { id: parts[0], thumb: false };
  if (!target) throw new NatterError('not_found', 'no such file');
  if (req.method !== 'GET' && req.method !== 'HEAD') throw methodNotAllowed('GET or HEAD');
  await serveDownload(services, req, res, address, target);
}

/**
 * Before answering a request whose body has not been read: the connection
 * closes after the answer, rather than reading (perhaps megabytes of) a body
 * nobody wants to keep it alive.
 */
function refuseBody(req: IncomingMessage, res: ServerResponse): void {
  if (req.complete || res.headersSent) return;
  res.setHeader('Connection', 'close');
  req.resume();
}

async function handle(
  services: Services,
  dispatcher: Dispatcher,
  req: IncomingMessage,
  res: ServerResponse,
  id: RequestId,
  op: string,
  body: string,
): Promise<void> {
  let params: unknown = {};
  if (body.trim() !== '') {
    const decoded = decodeJson(body);
    if (!decoded.ok) return sendError(res, id, decoded.error);
    params = decoded.value;
  }
  const parsed = parseRequest({ id, op, params });
  if (!parsed.ok) {
    services.metrics.request(op, parsed.error.code, null);
    return sendError(res, id, parsed.error);
  }
  const conn = new HttpConnection(services.proxies.clientOf(req));
  const header = req.headers.authorization;
  if (header) {
    try {
      const { auth } = await resolveToken(services, conn.address, bearerToken(header));
      conn.auth = auth;
    } catch (err) {
      return sendError(
        res,
        id,
        err instanceof NatterError ? err : new NatterError('internal', 'could not check the token'),
      );
    }
  }
  const { reply, after } = await dispatcher.executeHttp(conn, parsed.request);
  sendReply(res, reply);
  for (const fn of after) fn();
}

/** `application/json`, with parameters or none; a charset, if given, must be UTF-8 (RFC 8259). */
function isJson(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  const [type, ...params] = contentType.split(';').map((p) => p.trim().toLowerCase());
  if (type !== 'application/json') return false;
  const charset = params
    .find((p) => p.startsWith('charset='))
    ?.slice(8)
    .replace(/^"|"$/g, '');
  return charset === undefined || charset === 'utf-8' || charset === 'utf8';
}

function notJson(contentType: string | undefined): NatterError {
  const given =
    contentType === undefined ? 'no Content-Type' : `Content-Type ${JSON.stringify(contentType.slice(0, 100))}`;
  return new NatterError(
    'unsupported_media_type',
    `request bodies must be JSON sent as Content-Type: application/json (UTF-8), not ${given}`,
  );
}

function methodNotAllowed(allow: string): NatterError {
  return new NatterError('bad_request', `use ${allow} here`);
}

function readBody(req: IncomingMessage, max: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > max) {
      reject(new NatterError('payload_too_large', `request bodies may be at most ${max} bytes`));
      req.resume();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    // The server's own request deadline is long, for uploads: an API body that trickles in is cut off here.
    const deadline = setTimeout(() => {
      reject(
        new NatterError('bad_request', `the request body took longer than ${BODY_DEADLINE_MS / 1000} s to arrive`),
      );
      req.pause();
    }, BODY_DEADLINE_MS);
    req.once('close', () => clearTimeout(deadline));
    req.on('data', (chunk: Buffer) => {
      if (size > max) return;
      size += chunk.length;
      if (size > max) {
        // Answer first, then stop reading: destroying at once would reset the connection before the 413.
        chunks.length = 0;
        reject(new NatterError('payload_too_large', `request bodies may be at most ${max} bytes`));
        req.pause();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      clearTimeout(deadline);
      try {
        resolve(new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks)));
      } catch {
        reject(new NatterError('bad_json', 'the request body is not valid UTF-8'));
      }
    });
    req.on('error', () => reject(new NatterError('bad_request', 'the request body could not be read')));
  });
}

function sendReply(res: ServerResponse, reply: Reply): void {
  if ('error' in reply) {
    const retry = reply.error.retryAfterMs;
    if (retry !== undefined) res.setHeader('Retry-After', String(Math.ceil(retry / 1000)));
    send(res, HTTP_STATUS[reply.error.code], reply);
  } else {
    send(res, 200, reply);
  }
}

function sendError(res: ServerResponse, id: RequestId | null, err: NatterError): void {
  sendReply(res, { id, error: err.toBody() });
}

function send(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  // A body too large to read is not read to its end: close the connection after answering.
  if (status === 413) res.setHeader('Connection', 'close');
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store',
  });
  res.end(text);
}
