import type { Writable } from 'node:stream';
import { CloseCode, type EventData, type EventMessage, type EventName, type Reply } from '../protocol/index.js';
import type { ConnectionMeter } from './metrics.js';

/**
 * One serialized message on its way to many connections: encoded to bytes at
 * most once per framing, however many connections it goes to.
 */
export class OutgoingFrame {
  private wsFrame: Buffer | undefined;
  private tcpLine: Buffer | undefined;

  constructor(readonly text: string) {}

  /** A complete WebSocket text frame (RFC 6455 section 5.2: FIN, opcode 1, unmasked from a server). */
  ws(): Buffer {
    if (!this.wsFrame) {
      const n = Buffer.byteLength(this.text);
      const head = n < 126 ? 2 : n < 65536 ? 4 : 10;
      const frame = Buffer.allocUnsafe(head + n);
      frame[0] = 0x81;
      if (n < 126) {
        frame[1] = n;
      } else if (n < 65536) {
        frame[1] = 126;
        frame.writeUInt16BE(n, 2);
      } else {
        frame[1] = 127;
        frame.writeUInt32BE(Math.floor(n / 2 ** 32), 2);
        frame.writeUInt32BE(n >>> 0, 6);
      }
      frame.write(this.text, head, 'utf8');
      this.wsFrame = frame;
    }
    return this.wsFrame;
  }

  /** The text as one NDJSON line. */
  line(): Buffer {
    this.tcpLine ??= Buffer.from(`${this.text}\n`, 'utf8');
    return this.tcpLine;
  }
}

/** Who a connection is, once authenticated. */
export type AuthState = {
  userId: string;
  /** The `sessions` row: a login session or a bot token. */
  sessionId: string;
  kind: 'session' | 'bot';
  /**
   * The account still owes the confirmation of an email address the server
   * requires: it may only confirm it (access.ts `assertConfirmed`). Cleared
   * once a request finds it confirmed.
   */
  unconfirmed?: boolean;
};

export type Transport = 'ws' | 'tcp' | 'http';

/**
 * One client connection, whatever carries it. Transports supply `write` and
 * `terminate` (and, when they can, flow control: `pauseInput`, `backlog`...);
 * everything else (auth state, strikes, the requests waiting to run) lives here.
 */
export abstract class Connection {
  private static nextId = 1;
  readonly id = Connection.nextId++;
  auth: AuthState | null = null;
  /** Undecodable frames in a row. */
  badFrames = 0;
  /** Requests refused for lack of authentication. */
  unauthenticatedStrikes = 0;
  /** Requests answered `rate_limited` in a row. */
  rateLimitedStrikes = 0;
  /** Frames received and not yet started (the dispatcher drains it a few at a time). */
  readonly inbox: string[] = [];
  /** UTF-16 length of the frames in `inbox`. */
  inboxChars = 0;
  /** Requests started and not yet answered. */
  inFlight = 0;
  /** An exclusive request (login, auth, logout...) is running: nothing else starts until it is answered. */
  exclusiveRunning = false;
  /** A turn of the dispatcher is scheduled for this connection. */
  pumpScheduled = false;
  /** Input is paused because too much of it waits to run. */
  inputPaused = false;
  /** Set when the connection is to close as soon as every reply it is owed has gone out. */
  closeWhenAnswered: { code: number; reason: string } | null = null;
  closed = false;
  /** The scopes (`u:`, `s:`, `c:`) whose events this connection receives; kept by the hub. */
  readonly scopes = new Set<string>();
  /**
   * Stored events held back while a resume reads what the connection missed
   * (null otherwise): sent, once the replay has gone out, if newer than it.
   */
  held: { id: number; frame: OutgoingFrame }[] | null = null;
  /** Stored events up to this id are not sent: the client has them (its resume cursor, or the replay's end). */
  seenThrough = 0;
  /** Whether this connection makes its user appear online (one-shot scripts opt out). */
  present = true;
  /** Bytes allowed to wait for the peer before it counts as a slow consumer; 0 = no limit. */
  maxQueuedBytes = 0;
  /** Counts what is written (the server's metrics), or null when metrics are off. */
  meter: ConnectionMeter | null = null;
  /** Runs once when the connection closes, from either side (the hub forgets it). */
  onGone: (conn: Connection) => void = () => {};
  private gone = false;

  constructor(
    readonly transport: Transport,
    readonly address: string,
  ) {}

  /** Writes one serialized JSON object. */
  protected abstract write(text: string): void;
  /** Closes the underlying socket with a close code. */
  protected abstract terminate(code: number, reason: string): void;
  /** Bytes written but not yet taken by the peer (0 while writes are held for the end of the turn). */
  protected abstract queuedBytes(): number;

  /** The stream writes go to, when the transport has one (for flow control). */
  protected outgoing(): Writable | null {
    return null;
  }

  /** Bytes waiting to go out, including those held for the end of this turn. */
  backlog(): number {
    return this.outgoing()?.writableLength ?? 0;
  }

  /** Runs `fn` once the bytes waiting to go out have been taken by the peer (soon, if there is no backlog). */
  whenDrained(fn: () => void): void {
    const out = this.outgoing();
    if (out?.writableNeedDrain) out.once('drain', fn);
    else setImmediate(fn);
  }

  /** Stops reading from the peer (its frames wait in the kernel, and then in the peer). */
  pauseInput(): void {
    this.inputPaused = true;
  }

  /** Reads from the peer again. */
  resumeInput(): void {
    this.inputPaused = false;
  }

  /** Sends a reply. */
  reply(reply: Reply): void {
    this.sendText(JSON.stringify(reply));
  }

  /** Sends an event. */
  event<N extends EventName>(event: N, data: EventData<N>, cursor?: string): void {
    const msg: EventMessage<N> = cursor === undefined ? { event, data } : { event, data, cursor };
    if (!this.closed) this.meter?.delivered(this.transport);
    this.sendText(JSON.stringify(msg));
  }

  /** Sends text that is already a serialized message. */
  sendText(text: string): void {
    if (this.closed) return;
    this.write(text);
    this.checkQueue();
  }

  /**
   * Ends holding stored events back: sends those newer than `head` (the last
   * event the replay covered, or the client's cursor when this node has not
   * delivered that far yet), in order, and then those newer than it as they come.
   */
  release(head: number): void {
    const held = this.held;
    this.held = null;
    this.seenThrough = head;
    if (held) for (const h of held) if (h.id > head) this.sendFrame(h.frame);
  }

  /** Sends a committed stream event, unless the client has it already (see {@link seenThrough}). */
  sendStored(id: number, frame: OutgoingFrame): void {
    if (this.held) this.held.push({ id, frame });
    else if (id > this.seenThrough) this.sendFrame(frame);
  }

  /** Sends a message that goes to many connections (fan-out encodes it once for all of them). */
  sendFrame(frame: OutgoingFrame): void {
    if (this.closed) return;
    this.meter?.delivered(this.transport);
    this.writeFrame(frame);
    this.checkQueue();
  }

  /** Writes a shared frame; transports that can reuse its encoded bytes do. */
  protected writeFrame(frame: OutgoingFrame): void {
    this.write(frame.text);
  }

  /** Closes the connection if more than `maxQueuedBytes` wait for the peer (checked after each write, and when held writes are released). */
  checkQueue(): void {
    if (this.closed) return;
    if (this.maxQueuedBytes > 0 && this.queuedBytes() > this.maxQueuedBytes) {
      // A client that does not read would make the server hold its events without bound.
      this.meter?.slowConsumer();
      this.close(CloseCode.slowConsumer, 'too slow reading events; reconnect and resume');
    }
  }

  /**
   * Tells the client why it is being closed (a `closing` event), then closes.
   * From then on nothing it sends is read, nothing more is written to it, and
   * it no longer speaks for anyone. Safe to call more than once.
   */
  close(code: number, reason: string, reconnectAfterMs?: number): void {
    if (this.closed) return;
    const data: EventData<'closing'> = { code, reason, at: Date.now() };
    if (reconnectAfterMs !== undefined) data.reconnectAfterMs = reconnectAfterMs;
    this.closed = true;
    this.write(JSON.stringify({ event: 'closing', data }));
    this.terminate(code, reason);
    this.forget();
  }

  /** Called when the connection stops being authenticated (logout): the transport re-arms its auth deadline. */
  onDeauthenticated: () => void = () => {};

  /** Marks the connection gone (the peer hung up). */
  markClosed(): void {
    this.closed = true;
    this.forget();
  }

  /** Drops what waits to run and lets the hub forget this connection, once. */
  private forget(): void {
    if (this.gone) return;
    this.gone = true;
    this.inbox.length = 0;
    this.inboxChars = 0;
    this.onGone(this);
  }
}
