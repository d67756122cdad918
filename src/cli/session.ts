import type { Command } from 'commander';
import type { NatterClient } from '../client/client.js';
import type { MediaClient } from '../client/media.js';
import type { OpName, ParamsIn, ResultOf } from '../protocol/index.js';
import { CliError, EXIT, isNatterError } from './errors.js';
import { connectionError, defaultConfigDir, findToken, type Globals, readCa, serverKey, tlsOptions } from './util.js';

export { isNatterError } from './errors.js';

/** Time allowed to connect and for each reply. */
const TIMEOUT_MS = 10_000;

/**
 * Opens a client, lazily: the client (and ws) load only when a command needs the
 * server, and the protocol's schemas (zod) never do.
 */
export async function openClient(g: Globals): Promise<NatterClient> {
  const tls = tlsOptions(g.server, readCa(g));
  const { NatterClient } = await import('../client/client.js');
  try {
    return await NatterClient.connect(g.server, { timeoutMs: TIMEOUT_MS, ...tls });
  } catch (err) {
    if (isNatterError(err)) throw err;
    throw connectionError(g.server, err);
  }
}

/** One command's connection to the server. */
export class Session {
  private conn: NatterClient | null = null;
  /** The `auth` request, once sent. */
  private authing: Promise<ResultOf<'auth'>> | null = null;
  /** The authenticated user, after {@link auth}. */
  me: ResultOf<'auth'>['user'] | null = null;
  tokenSource: 'env' | 'file' | null = null;

  constructor(readonly g: Globals) {}

  /** Connects without authenticating. */
  async connect(): Promise<NatterClient> {
    if (!this.conn) this.conn = await openClient(this.g);
    return this.conn;
  }

  /**
   * Connects and authenticates with NATTER_TOKEN or the stored token (exit 3
   * when there is none or it is refused). A one-shot command does not make its
   * user appear online.
   */
  async auth(): Promise<ResultOf<'auth'>> {
    const found = this.token();
    const conn = await this.connect();
    this.authing ??= this.authOn(conn, found);
    return this.authing;
  }

  /**
   * A request on the authenticated connection. The first one goes out right
   * behind `auth`, without waiting for its reply: the server handles a request
   * sent after `auth` only once `auth` is done (docs/protocol.md), so a command
   * spends one round trip less. Should `auth` fail, its error is the one thrown.
   */
  async request<N extends OpName>(op: N, params: ParamsIn<N>): Promise<ResultOf<N>> {
    if (!this.authing) {
      const found = this.token();
      const conn = await this.connect();
      if (!this.authing) {
        this.authing = this.authOn(conn, found);
        const reply = this.call(conn, op, params);
        reply.catch(() => {});
        await this.authing;
        return reply;
      }
    }
    await this.authing;
    return this.call(await this.connect(), op, params);
  }

  /** The token to use (exit 3 when there is none). */
  private token(): { token: string; source: 'env' | 'file' } {
    const found = findToken(this.g);
    if (!found) {
      throw new CliError(
        EXIT.auth,
        'unauthenticated',
        `not logged in to ${serverKey(this.g.server)}: run "natter login <username>" (or set NATTER_TOKEN)`,
      );
    }
    this.tokenSource = found.source;
    return found;
  }

  /** Sends `auth` on `conn` before returning; settles with its reply. */
  private async authOn(
    conn: NatterClient,
    found: { token: string; source: 'env' | 'file' },
  ): Promise<ResultOf<'auth'>> {
    try {
      const res = await this.call(conn, 'auth', { token: found.token, presence: false });
      this.me = res.user;
      return res;
    } catch (err) {
      if (isNatterError(err) && err.code === 'unauthenticated') {
        const where = found.source === 'env' ? 'NATTER_TOKEN' : `the stored token for ${serverKey(this.g.server)}`;
        throw new CliError(
          EXIT.auth,
          'unauthenticated',
          `${where} was refused (${err.message}): run "natter login <username>"`,
        );
      }
      throw err;
    }
  }

  /**
   * The authenticated connection as the file functions of the client
   * library take it (src/client/media.ts): its requests go through
   * {@link request}, so a lost connection is the CLI's error.
   */
  async media(): Promise<MediaClient> {
    await this.auth();
    const conn = await this.connect();
    return {
      url: conn.url,
      hello: conn.hello,
      token: conn.token,
      tls: conn.tls,
      request: <N extends OpName>(op: N, params: ParamsIn<N>) => this.request(op, params),
    };
  }

  /** A request on the connection as it is (for register and login). */
  async raw<N extends OpName>(op: N, params: ParamsIn<N>): Promise<ResultOf<N>> {
    return this.call(await this.connect(), op, params);
  }

  private async call<N extends OpName>(conn: NatterClient, op: N, params: ParamsIn<N>): Promise<ResultOf<N>> {
    try {
      return await conn.request(op, params);
    } catch (err) {
      if (isNatterError(err)) throw err;
      throw new CliError(
        EXIT.unreachable,
        'unreachable',
        `lost the connection to ${this.g.server}: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
  }

  close(): void {
    this.conn?.close();
    this.conn = null;
  }
}

/** What a command's action gets. */
export type Ctx<O> = {
  g: Globals;
  opts: O;
  s: Session;
  /** Prints `json` (with --json) or the human text. */
  out(json: unknown, human: () => string | null): void;
};

/** The global options, as seen from any command. */
export function globalsOf(cmd: Command): Globals {
  const all = cmd.optsWithGlobals() as { server?: string; configDir?: string; json?: boolean; ca?: string };
  return {
    server: all.server ?? 'ws://127.0.0.1:7777',
    configDir: all.configDir && all.configDir !== '' ? all.configDir : defaultConfigDir(),
    json: all.json === true,
    ca: all.ca && all.ca !== '' ? all.ca : null,
  };
}

/**
 * Wraps a command's action: builds its context, runs it, and closes the
 * connection whatever happens. Errors go to main.ts, which maps them to exit codes.
 */
export function act<O, A extends unknown[]>(
  fn: (ctx: Ctx<O>, ...args: A) => Promise<void>,
): (...args: unknown[]) => Promise<void> {
  return async (...args: unknown[]) => {
    const cmd = args[args.length - 1] as Command;
    const g = globalsOf(cmd);
    const s = new Session(g);
    const ctx: Ctx<O> = {
      g,
      opts: cmd.opts() as O,
      s,
      out(json, human) {
        if (g.json) {
          process.stdout.write(`${JSON.stringify(json)}\n`);
        } else {
          const text = human();
          if (text !== null && text !== '') process.stdout.write(`${text}\n`);
        }
      },
    };
    try {
      await fn(ctx, ...(args.slice(0, -2) as A));
    } finally {
      s.close();
    }
  };
}
