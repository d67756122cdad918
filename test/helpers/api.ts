import { Natter, NatterClient, type NatterOptions } from '../../src/client/index.js';
import { type ErrorBody, NatterError, type OpName, type ParamsIn, type ResultOf } from '../../src/protocol/index.js';
import { assertReply, check, watchClient, watchNatter } from './contract.js';
import type { TestServer } from './server.js';
import { DEADLINE_MS, nextEmit } from './wait.js';

/** A reply as it arrives on the wire. */
export type WireReply = { id: unknown; result?: unknown; error?: ErrorBody };

export type TransportName = 'ws' | 'tcp' | 'http';
export const TRANSPORTS: readonly TransportName[] = ['ws', 'tcp', 'http'];

/** One way of calling operations, the same for every transport. */
export type Api = {
  readonly transport: TransportName;
  call<N extends OpName>(op: N, params: ParamsIn<N>): Promise<ResultOf<N>>;
  /** The token this API authenticates with (HTTP), or null. */
  token: string | null;
  close(): void;
};

/** HTTP: each call is a POST with the Bearer token; login and register remember their token. */
export class HttpApi implements Api {
  readonly transport = 'http';
  token: string | null = null;
  constructor(private readonly baseUrl: string) {}

  async call<N extends OpName>(op: N, params: ParamsIn<N>): Promise<ResultOf<N>> {
    const { status, body } = await httpPost(this.baseUrl, op, params, this.token);
    if (body.error) throw NatterError.fromBody(body.error);
    if (status !== 200) throw new Error(`HTTP ${status} with a result body`);
    const result = body.result as ResultOf<N>;
    if ((op === 'login' || op === 'register') && typeof (result as { token?: unknown }).token === 'string') {
      this.token = (result as { token: string }).token;
    }
    return result;
  }

  close(): void {}
}

/** Raw HTTP POST to `/api/v1/<op>`; returns status, headers and parsed body. */
export async function httpPost(
  baseUrl: string,
  op: string,
  body: unknown,
  token: string | null = null,
  rawBody?: string,
): Promise<{ status: number; headers: Headers; body: WireReply }> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(`${baseUrl}/api/v1/${op}`, {
    method: 'POST',
    headers,
    body: rawBody ?? JSON.stringify(body),
  });
  const reply = (await res.json()) as WireReply;
  check(() => assertReply(op, reply));
  return { status: res.status, headers: res.headers, body: reply };
}

class SocketApi implements Api {
  token: string | null = null;
  constructor(
    readonly transport: TransportName,
    readonly client: NatterClient,
  ) {}
  call<N extends OpName>(op: N, params: ParamsIn<N>): Promise<ResultOf<N>> {
    return this.client.request(op, params);
  }
  close(): void {
    this.client.close();
  }
}

/** Opens an API of the given transport against a test server. */
export async function openApi(t: TestServer, transport: TransportName): Promise<Api> {
  if (transport === 'http') return new HttpApi(t.httpUrl);
  const client = await connectClient(transport === 'ws' ? t.wsUrl : t.tcpUrl);
  return new SocketApi(transport, client);
}

/**
 * Connects a client for a test. Its requests and `nextEvent` wait up to the
 * suite's deadline, not the library's 10 s: a loaded machine is slow. Every
 * event and reply it gets is checked against the protocol's schemas.
 */
export async function connectClient(url: string): Promise<NatterClient> {
  return watchClient(await NatterClient.connect(url, { timeoutMs: DEADLINE_MS }));
}

/** A reconnecting client for a test (not started): requests wait up to the suite's deadline. */
export function createNatter(options: NatterOptions): Natter {
  return watchNatter(Natter.create({ timeoutMs: DEADLINE_MS, ...options }));
}

/** A reconnecting client for a test, connected (and authenticated when given a token). */
export async function connectNatter(options: NatterOptions): Promise<Natter> {
  const n = createNatter(options);
  await n.start();
  return n;
}

/** Connects a client and authenticates it with `token`. */
export async function connectAs(url: string, token: string): Promise<NatterClient> {
  const c = await connectClient(url);
  await c.request('auth', { token });
  return c;
}

/**
 * Resolves with the close code of `c` (on TCP, the code of the server's
 * `closing` event). Call it before causing the close.
 */
export async function closeCodeOf(c: NatterClient, what = 'the connection to close'): Promise<number> {
  const [code] = await nextEmit<[number, string]>(c, 'close', what);
  return code;
}

/**
 * Resolves once everything the server sent `c` before it read this request
 * has arrived: the reply to a ping comes after it on the same connection.
 * After an action whose reply has been received, its events have been
 * written to every recipient; a barrier on a recipient then shows whether one
 * reached it, without waiting for a time.
 */
export async function settled(c: NatterClient): Promise<void> {
  await c.request('ping', {});
}

/** Resolves with the error a promise rejects with; fails if it resolves. */
export async function rejection(p: Promise<unknown>): Promise<NatterError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof NatterError) return err;
    throw err;
  }
  throw new Error('expected the request to fail, but it succeeded');
}

let counter = 0;
/** A username unique within this process. */
export function uniqueName(prefix = 'user'): string {
  counter++;
  return `${prefix}${process.pid % 10000}x${counter}`;
}

export const PASSWORD = 'correct horse battery';
