import { createServer, type Server, type Socket } from 'node:net';
import type { Writable } from 'node:stream';
import { CloseCode, NatterError } from '../../protocol/index.js';
import { Connection, type OutgoingFrame } from '../connection.js';
import type { Services } from '../context.js';
import type { Dispatcher } from '../dispatch.js';
import {
  CLOSE_DRAIN_MS,
  endAndCut,
  remoteAddress,
  sendHello,
  startAuthDeadline,
  tooManyConnections,
  WriteCoalescer,
} from './common.js';
import { readProxyHeader, startsLikeProxyHeader } from './proxy.js';
import { acceptTls, type ServerCertificate } from './tls.js';

const NEWLINE = 0x0a;

/** A client on raw TCP: one JSON object per line (NDJSON), in both directions. */
class TcpConnection extends Connection {
  /** When the peer last sent anything (ms, monotonic). */
  lastHeard = performance.now();
  /** When the server asked a silent peer for a sign of life (a `ping` event), or null. */
  pingedAt: number | null = null;

  constructor(
    readonly socket: Socket,
    private readonly coalescer: WriteCoalescer,
    address: string,
  ) {
    super('tcp', address);
  }

  protected write(text: string): void {
    if (!this.socket.writable) return;
    this.coalescer.hold(this.socket, this);
    // As bytes: the socket counts a string's queued length in UTF-16 units, and the
    // send-queue cap is in bytes.
    const line = Buffer.from(`${text}\n`, 'utf8');
    this.socket.write(line);
    this.meter?.sent('tcp', line.length);
  }

  protected override writeFrame(frame: OutgoingFrame): void {
    if (!this.socket.writable) return;
    this.coalescer.hold(this.socket, this);
    const line = frame.line();
    this.socket.write(line);
    this.meter?.sent('tcp', line.length);
  }

  protected queuedBytes(): number {
    return this.socket.writableCorked > 0 ? 0 : this.socket.writableLength;
  }

  protected override outgoing(): Writable {
    return this.socket;
  }

  override pauseInput(): void {
    super.pauseInput();
    this.socket.pause();
  }

  override resumeInput(): void {
    super.resumeInput();
    this.socket.resume();
  }

  /**
   * Ends the stream after what is queued (whole lines, then the `closing`
   * line): a peer that reads again within {@link CLOSE_DRAIN_MS} gets all of it.
   * One that does not is cut off then.
   */
  protected terminate(): void {
    this.socket.end();
    setTimeout(() => this.socket.destroy(), CLOSE_DRAIN_MS).unref();
  }
}

/**
 * Splits a byte stream into lines of at most `maxBytes`, decoding each as
 * strict UTF-8. A line may arrive in many chunks and a chunk may hold many lines.
 */
export class LineReader {
  private parts: Buffer[] = [];
  private size = 0;
  private readonly decoder = new TextDecoder('utf-8', { fatal: true });

  constructor(private readonly maxBytes: number) {}

  /**
   * Feeds a chunk; returns the complete lines (`null` for one that is not
   * UTF-8), or `overflow` when the pending line grew past the limit.
   */
  push(chunk: Buffer): { lines: (string | null)[]; overflow: boolean } {
    const lines: (string | null)[] = [];
    let start = 0;
    for (let nl = chunk.indexOf(NEWLINE); nl !== -1; nl = chunk.indexOf(NEWLINE, start)) {
      const piece = chunk.subarray(start, nl);
      if (this.size + piece.length > this.maxBytes) return { lines, overflow: true };
      const line = this.size === 0 ? piece : Buffer.concat([...this.parts, piece]);
      this.parts = [];
      this.size = 0;
      lines.push(this.decode(line));
      start = nl + 1;
    }
    const rest = chunk.subarray(start);
    if (rest.length > 0) {
      if (this.size + rest.length > this.maxBytes) return { lines, overflow: true };
      this.parts.push(Buffer.from(rest));
      this.size += rest.length;
    }
    return { lines, overflow: false };
  }

  private decode(bytes: Buffer): string | null {
    const end = bytes.length > 0 && bytes[bytes.length - 1] === 0x0d ? bytes.length - 1 : bytes.length;
    try {
      return this.decoder.decode(bytes.subarray(0, end));
    } catch {
      return null;
    }
  }
}

/**
 * TCP has no ping frames, so liveness is in the protocol: a peer silent for
 * `heartbeatMs` gets a `ping` event, and one still silent `heartbeatMs` later
 * is closed (4011). A client that sends any request (`ping` will do) at least
 * every `heartbeatMs` is never asked.
 */
function checkHeartbeats(live: ReadonlySet<TcpConnection>, heartbeatMs: number): void {
  const now = performance.now();
  for (const conn of live) {
    if (conn.closed) continue;
    if (conn.pingedAt !== null) {
      if (now - conn.pingedAt >= heartbeatMs) {
        const seconds = Math.round((now - conn.lastHeard) / 1000);
        conn.close(CloseCode.heartbeatMissed, `nothing heard from this connection for ${seconds} s`);
      }
    } else if (now - conn.lastHeard >= heartbeatMs) {
      conn.pingedAt = now;
      conn.event('ping', { at: Date.now() });
    }
  }
}

/**
 * Starts the NDJSON listener: plain TCP, or TLS with `certificate`. A
 * connection from a trusted proxy starts with a PROXY protocol header naming
 * the client; it is read before anything else (before the TLS handshake too).
 */
export function createTcpServer(
  services: Services,
  dispatcher: Dispatcher,
  certificate: ServerCertificate | null,
): Server {
  const { config, hub, log, proxies } = services;
  const coalescer = new WriteCoalescer();
  const live = new Set<TcpConnection>();
  const heartbeat = setInterval(() => checkHeartbeats(live, config.heartbeatMs), Math.max(1, config.heartbeatMs / 4));
  heartbeat.unref();

  /** Answers with an error line and hangs up, before any hello. */
  const refuse = (socket: Socket, err: NatterError) => {
    endAndCut(socket, `${JSON.stringify({ id: null, error: err.toBody() })}\n`);
  };

  /** A connection whose client is known and whose TLS handshake, if any, is done. */
  const serve = (socket: Socket, address: string, fromProxy: boolean) => {
    const conn = new TcpConnection(socket, coalescer, address);
    conn.maxQueuedBytes = config.maxQueuedBytes;
    conn.meter = services.metrics.meter;
    services.metrics.connectionOpened('tcp');
    socket.setNoDelay(true);
    // Besides the protocol's heartbeat, the kernel's keepalive finds peers whose host vanished.
    socket.setKeepAlive(true, config.heartbeatMs);
    hub.add(conn);
    live.add(conn);
    if (!fromProxy && !certificate) {
      // A proxy natter does not trust put its PROXY header first: not believed, and not served.
      socket.prependOnceListener('data', (chunk: Buffer) => {
        if (!startsLikeProxyHeader(chunk)) return;
        log.warn(`a PROXY protocol header from ${address}, which is not a trusted proxy (--trust-proxy); closed`);
        conn.close(CloseCode.decodeError, 'PROXY protocol header from an address that is not a trusted proxy');
      });
    }
    const reader = new LineReader(config.maxFrameBytes);
    socket.on('data', (chunk: Buffer) => {
      if (conn.closed) return;
      conn.lastHeard = performance.now();
      conn.pingedAt = null;
      const { lines, overflow } = reader.push(chunk);
      for (const line of lines) {
        if (conn.closed) return;
        if (line === null) {
          conn.badFrames++;
          conn.reply({ id: null, error: { code: 'bad_json', message: 'line is not valid UTF-8' } });
          if (conn.badFrames >= 3)
            dispatcher.closeWhenAnswered(conn, CloseCode.decodeError, 'too many undecodable lines');
        } else if (line.trim() !== '') {
          dispatcher.onText(conn, line);
        }
      }
      if (overflow && !conn.closed) {
        const err = new NatterError('payload_too_large', `a line may be at most ${config.maxFrameBytes} bytes`);
        conn.reply({ id: null, error: err.toBody() });
        conn.close(CloseCode.lineTooLong, 'line too long');
        // Read no more, and hang up once the error and the closing event are out
        // (over TLS they are still being encrypted when end() returns).
        socket.pause();
        if (socket.writableFinished) socket.destroy();
        else socket.once('finish', () => socket.destroy());
      }
    });
    socket.on('close', () => {
      services.metrics.connectionClosed('tcp');
      live.delete(conn);
      conn.markClosed();
    });
    // Paused when a PROXY header was read first.
    socket.resume();
    sendHello(conn, services);
    startAuthDeadline(conn, config.authDeadlineMs);
  };

  const accept = async (tcp: Socket) => {
    const peer = remoteAddress(tcp);
    const fromProxy = proxies.trusts(peer);
    let address = peer;
    let refusal: NatterError | null = null;
    if (fromProxy) {
      const got = await readProxyHeader(tcp, config.authDeadlineMs);
      if ('error' in got) {
        log.warn(
          `TCP connection from ${peer} (a trusted proxy) refused: ${got.error}. Does the proxy send the PROXY protocol (HAProxy: send-proxy; nginx: proxy_protocol on)?`,
        );
        refusal = new NatterError(
          'bad_request',
          `expected a PROXY protocol header from the proxy at ${peer}: ${got.error}`,
        );
      } else {
        address = got.header.address ?? peer;
      }
    }
    if (tcp.destroyed) return;
    // Counted from here (from the connection, when no proxy header comes first), TLS handshake included.
    const open = services.sockets.track(tcp, address);
    let socket: Socket = tcp;
    if (certificate) {
      const secure = await acceptTls(tcp, certificate);
      if (!secure) return;
      secure.on('error', () => secure.destroy());
      socket = secure;
    }
    if (refusal) return refuse(socket, refusal);
    if (open > config.maxConnectionsPerAddress) {
      return refuse(socket, tooManyConnections());
    }
    serve(socket, address, fromProxy);
  };

  const server = createServer((tcp) => {
    tcp.on('error', () => tcp.destroy());
    accept(tcp).catch((err: unknown) => {
      log.error('accepting a TCP connection', err);
      tcp.destroy();
    });
  });
  server.on('close', () => clearInterval(heartbeat));
  return server;
}
