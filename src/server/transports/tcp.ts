import { createServer, type Server, type Socket } from 'node:net';
import { CloseCode, NatterError } from '../../protocol/index.js';
import { Connection, type OutgoingFrame } from '../connection.js';
import type { Services } from '../context.js';
import type { Dispatcher } from '../dispatch.js';
import { remoteAddress, sendHello, startAuthDeadline, WriteCoalescer } from './common.js';

const NEWLINE = 0x0a;

/** A client on raw TCP: one JSON object per line (NDJSON), in both directions. */
class TcpConnection extends Connection {
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

  protected terminate(): void {
    this.socket.end();
    setTimeout(() => this.socket.destroy(), 2000).unref();
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

/** Starts the NDJSON listener. */
export function createTcpServer(services: Services, dispatcher: Dispatcher): Server {
  const { config, hub } = services;
  const coalescer = new WriteCoalescer();
  return createServer((socket) => {
    socket.on('error', () => socket.destroy());
    const conn = new TcpConnection(socket, coalescer);
    if (services.sockets.track(socket) > config.maxConnectionsPerAddress) {
      const err = new NatterError('rate_limited', 'too many connections from this address; close some first', {
        retryAfterMs: 1000,
      });
      socket.end(`${JSON.stringify({ id: null, error: err.toBody() })}\n`);
      return;
    }
    conn.maxQueuedBytes = config.maxQueuedBytes;
    socket.setNoDelay(true);
    // TCP has no ping frame; the kernel's keepalive finds peers that vanished.
    socket.setKeepAlive(true, config.heartbeatMs);
    hub.add(conn);
    const reader = new LineReader(config.maxFrameBytes);
    socket.on('data', (chunk: Buffer) => {
      if (conn.closed) return;
      const { lines, overflow } = reader.push(chunk);
      for (const line of lines) {
        if (conn.closed) return;
        if (line === null) {
          conn.badFrames++;
          conn.reply({ id: null, error: { code: 'bad_json', message: 'line is not valid UTF-8' } });
          if (conn.badFrames >= 3) conn.close(CloseCode.decodeError, 'too many undecodable lines');
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
      conn.markClosed();
      hub.remove(conn);
    });
    sendHello(conn, services);
    startAuthDeadline(conn, config.authDeadlineMs);
  });
}
