import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import WebSocket from 'ws';
import type { WireReply } from './api.js';

/** A raw WebSocket that records every message and the close, for tests that send malformed data. */
export class RawWs {
  readonly messages: unknown[] = [];
  closeCode: number | null = null;
  private waiters: (() => void)[] = [];

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      this.messages.push(JSON.parse(data.toString()));
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
    await once(ws, 'open');
    await raw.waitFor((m) => (m as { event?: string }).event === 'hello');
    return raw;
  }

  send(data: string | Buffer, binary = false): void {
    this.ws.send(data, { binary });
  }

  /** Waits for a message matching `pred` that arrived (or arrives) after index `from`. */
  async waitFor(pred: (m: unknown) => boolean, timeoutMs = 5000): Promise<unknown> {
    return waitUntil(
      () => this.messages.find(pred),
      (fn) => this.waiters.push(fn),
      timeoutMs,
      'message',
    );
  }

  /** The reply to request `id`. */
  reply(id: unknown): Promise<WireReply> {
    return this.waitFor((m) => (m as { id?: unknown }).id === id && !('event' in (m as object))) as never;
  }

  /** Waits for the connection to close; returns the close code. */
  async closed(timeoutMs = 5000): Promise<number> {
    return waitUntil(
      () => this.closeCode ?? undefined,
      (fn) => this.waiters.push(fn),
      timeoutMs,
      'close',
    );
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

/** A raw TCP connection that splits what it receives into JSON lines. */
export class RawTcp {
  readonly messages: unknown[] = [];
  ended = false;
  private buffer = '';
  private waiters: (() => void)[] = [];

  private constructor(readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.buffer += chunk;
      let nl = this.buffer.indexOf('\n');
      while (nl !== -1) {
        this.messages.push(JSON.parse(this.buffer.slice(0, nl)));
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
    await once(socket, 'connect');
    await raw.waitFor((m) => (m as { event?: string }).event === 'hello');
    return raw;
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  async waitFor(pred: (m: unknown) => boolean, timeoutMs = 5000): Promise<unknown> {
    return waitUntil(
      () => this.messages.find(pred),
      (fn) => this.waiters.push(fn),
      timeoutMs,
      'line',
    );
  }

  reply(id: unknown): Promise<WireReply> {
    return this.waitFor((m) => (m as { id?: unknown }).id === id && !('event' in (m as object))) as never;
  }

  async closed(timeoutMs = 5000): Promise<void> {
    await waitUntil(
      () => (this.ended ? true : undefined),
      (fn) => this.waiters.push(fn),
      timeoutMs,
      'close',
    );
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

function waitUntil<T>(
  check: () => T | undefined,
  subscribe: (fn: () => void) => void,
  timeoutMs: number,
  what: string,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeoutMs);
    const attempt = () => {
      const v = check();
      if (v !== undefined) {
        clearTimeout(timer);
        resolve(v);
      } else {
        subscribe(attempt);
      }
    };
    attempt();
  });
}
