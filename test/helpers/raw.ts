import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import WebSocket from 'ws';
import type { WireReply } from './api.js';
import { assertFrame, check, SentOps } from './contract.js';
import { DEADLINE_MS, waitUntil, within } from './wait.js';

/**
 * A raw WebSocket that records every message and the close, for tests that
 * send malformed data. Every message is checked against the protocol's
 * schemas (replies against the op of the request they answer).
 */
export class RawWs {
  readonly messages: unknown[] = [];
  closeCode: number | null = null;
  private waiters: (() => void)[] = [];
  private readonly sent = new SentOps();

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const msg: unknown = JSON.parse(data.toString());
      check(() => assertFrame(msg, this.sent.opOf));
      this.messages.push(msg);
      this.wake();
    });
    ws.on('close', (code) => {
      this.closeCode = code;
      this.wake();
    });
    ws.on('error', () => {});
  }

  static async open(url: string, headers: Record<string, string> = {}): Promise<RawWs> {
    const ws = new WebSocket(url, { headers, perMessageDeflate: false });
    const raw = new RawWs(ws);
    await within(once(ws, 'open'), `the WebSocket to ${url} to open`);
    await raw.waitFor((m) => (m as { event?: string }).event === 'hello', DEADLINE_MS, 'the hello event');
    return raw;
  }

  send(data: string | Buffer, binary = false): void {
    this.sent.note(data);
    this.ws.send(data, { binary });
  }

  /** Waits for a message matching `pred` (one already received counts). */
  async waitFor(pred: (m: unknown) => boolean, timeoutMs = DEADLINE_MS, what = 'a matching message'): Promise<unknown> {
    return waitUntil(
      () => this.messages.find(pred),
      (fn) => this.waiters.push(fn),
      { what: `${what} on the raw WebSocket`, timeoutMs, detail: () => this.describe() },
    );
  }

  /** The reply to request `id`. */
  reply(id: unknown): Promise<WireReply> {
    return this.waitFor(
      (m) => (m as { id?: unknown }).id === id && !('event' in (m as object)),
      DEADLINE_MS,
      `the reply to request ${JSON.stringify(id)}`,
    ) as never;
  }

  /** Waits for the connection to close; returns the close code. */
  async closed(timeoutMs = DEADLINE_MS): Promise<number> {
    return waitUntil(
      () => this.closeCode ?? undefined,
      (fn) => this.waiters.push(fn),
      { what: 'the raw WebSocket to close', timeoutMs, detail: () => this.describe() },
    );
  }

  private describe(): string {
    return `received so far: ${JSON.stringify(this.messages).slice(-2000)}`;
  }

  close(): void {
    this.ws.terminate();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const fn of w) fn();
  }
}

/**
 * A raw TCP connection that splits what it receives into JSON lines, each
 * checked against the protocol's schemas like {@link RawWs}'s messages.
 */
export class RawTcp {
  readonly messages: unknown[] = [];
  ended = false;
  private buffer = '';
  private waiters: (() => void)[] = [];
  private readonly sent = new SentOps();
  /** What was written since the last newline: a request written in pieces is noted once whole. */
  private outgoing = '';

  private constructor(readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.buffer += chunk;
      let nl = this.buffer.indexOf('\n');
      while (nl !== -1) {
        const msg: unknown = JSON.parse(this.buffer.slice(0, nl));
        check(() => assertFrame(msg, this.sent.opOf));
        this.messages.push(msg);
        this.buffer = this.buffer.slice(nl + 1);
        nl = this.buffer.indexOf('\n');
      }
      this.wake();
    });
    socket.on('close', () => {
      this.ended = true;
      this.wake();
    });
    socket.on('error', () => {});
  }

  static async open(url: string): Promise<RawTcp> {
    const u = new URL(url);
    const socket = connect({ host: u.hostname, port: Number(u.port) });
    const raw = new RawTcp(socket);
    await within(once(socket, 'connect'), `the TCP connection to ${url}`);
    await raw.waitFor((m) => (m as { event?: string }).event === 'hello', DEADLINE_MS, 'the hello event');
    return raw;
  }

  write(data: string | Buffer): void {
    this.outgoing += data.toString();
    const lines = this.outgoing.split('\n');
    this.outgoing = lines.pop() ?? '';
    for (const line of lines) this.sent.note(line);
    this.socket.write(data);
  }

  /** Waits for a line matching `pred` (one already received counts). */
  async waitFor(pred: (m: unknown) => boolean, timeoutMs = DEADLINE_MS, what = 'a matching line'): Promise<unknown> {
    return waitUntil(
      () => this.messages.find(pred),
      (fn) => this.waiters.push(fn),
      { what: `${what} on the raw TCP connection`, timeoutMs, detail: () => this.describe() },
    );
  }

  /** The reply to request `id`. */
  reply(id: unknown): Promise<WireReply> {
    return this.waitFor(
      (m) => (m as { id?: unknown }).id === id && !('event' in (m as object)),
      DEADLINE_MS,
      `the reply to request ${JSON.stringify(id)}`,
    ) as never;
  }

  /** Waits for the server to end the connection. */
  async closed(timeoutMs = DEADLINE_MS): Promise<void> {
    await waitUntil(
      () => (this.ended ? true : undefined),
      (fn) => this.waiters.push(fn),
      { what: 'the raw TCP connection to close', timeoutMs, detail: () => this.describe() },
    );
  }

  private describe(): string {
    return `received so far: ${JSON.stringify(this.messages).slice(-2000)}`;
  }

  close(): void {
    this.socket.destroy();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const fn of w) fn();
  }
}
