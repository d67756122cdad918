import { createServer, type Server, type Socket } from 'node:net';
import { CloseCode, NatterError } from '../../protocol/index.js';
import { Connection, type OutgoingFrame } from '../connection.js';
import type { Services } from '../context.js';
import type { Dispatcher } from '../dispatch.js';
import {
  CLOSE_DRAIN_MS,
  remoteAddress,
  sendHello,
  startAuthDeadline,
  tooManyConnections,
  WriteCoalescer,
} from './common.js';

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
  ) {
    super('tcp', remoteAddress(socket));
  }

  protected write(text: string): void {
    if (!this.socket.writable) return;
    this.coalescer.hold(this.socket, this);
    this.socket.write(`${text}\n`);
  }

  protected override writeFrame(frame: OutgoingFrame): void {
    if (!this.socket.writable) return;
    this.coalescer.hold(this.socket, this);
    this.socket.write(frame.line());
  }

  protected queuedBytes(): number {
    return this.socket.writableCorked > 0 ? 0 : this.socket.writableLength;
  }

  override backlog(): number {
    return this.socket.writableLength;
  }

  override whenDrained(fn: () => void): void {
    if (this.socket.writableNeedDrain) this.socket.once('drain', fn);
    else setImmediate(fn);
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

/** Starts the NDJSON listener. */
export function createTcpServer(services: Services, dispatcher: Dispatcher): Server {
  const { config, hub } = services;
  const coalescer = new WriteCoalescer();
  const live = new Set<TcpConnection>();
  const heartbeat = setInterval(() => checkHeartbeats(live, config.heartbeatMs), Math.max(1, config.heartbeatMs / 4));
  heartbeat.unref();
  const server = createServer((socket) => {
    socket.on('error', () => socket.destroy());
    const conn = new TcpConnection(socket, coalescer);
    if (services.sockets.track(socket) > config.maxConnectionsPerAddress) {
      socket.end(`${JSON.stringify({ id: null, error: tooManyConnections().toBody() })}\n`);
      return;
    }
    conn.maxQueuedBytes = config.maxQueuedBytes;
    socket.setNoDelay(true);
    // Besides the protocol's heartbeat, the kernel's keepalive finds peers whose host vanished.
    socket.setKeepAlive(true, config.heartbeatMs);
    hub.add(conn);
    const reader = new LineReader(config.maxFrameBytes);
    live.add(conn);
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
        socket.destroy();
      }
    });
    socket.on('close', () => {
      live.delete(conn);
      conn.markClosed();
    });
    sendHello(conn, services);
    startAuthDeadline(conn, config.authDeadlineMs);
  });
  server.on('close', () => clearInterval(heartbeat));
  return server;
}
