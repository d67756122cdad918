import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex, Writable } from 'node:stream';
import { CloseCode, HTTP_STATUS, NatterError, PROTOCOL_VERSION } from '../../protocol/index.js';
import type { Connection } from '../connection.js';
import type { Services } from '../context.js';

/**
 * How long a closed connection may take to read what was queued for it (its
 * last events, then the `closing` notice) before the socket is cut.
 */
export const CLOSE_DRAIN_MS = 30_000;

/** The peer's address, without the IPv4-mapped prefix. */
export function remoteAddress(socket: Socket): string {
  const a = socket.remoteAddress ?? 'unknown';
  return a.startsWith('::ffff:') ? a.slice(7) : a;
}

/** The first thing every WebSocket and TCP client receives. */
export function sendHello(conn: Connection, services: Services): void {
  conn.event('hello', {
    protocol: PROTOCOL_VERSION,
    server: { name: 'natter', version: services.version },
    authenticated: conn.auth !== null,
    registration: services.config.registration,
    mail: services.config.mail !== null,
    emailRequired: services.config.mail?.requireEmail === true,
    limits: {
      maxFrameBytes: services.config.maxFrameBytes,
      authDeadlineMs: services.config.authDeadlineMs,
      heartbeatMs: services.config.heartbeatMs,
    },
    media: {
      // A TCP client reaches the HTTP side on the same host, this port, unless told the public address.
      ...(services.config.publicUrl === null
        ? { httpPort: services.httpPort() }
        : { httpUrl: services.config.publicUrl.replace(/\/+$/, '') }),
      maxFileBytes: services.config.quotas.fileBytesMax,
    },
  });
}

/** Closes a connection that has not authenticated in time. */
export function startAuthDeadline(conn: Connection, ms: number): void {
  // Logged out later: the same deadline applies again.
  conn.onDeauthenticated = () => startAuthDeadline(conn, ms);
  // Authenticated on the upgrade request: no timer to hold for every such connection.
  if (conn.auth) return;
  const check = () => {
    if (conn.auth || conn.closed) return;
    // A login or registration being checked when the time is up gets its answer first:
    // password hashing waits its turn, and on a busy machine that can take a while.
    if (conn.exclusiveRunning) {
      setTimeout(check, Math.min(ms, 1000)).unref();
      return;
    }
    conn.close(CloseCode.notAuthenticated, `not authenticated within ${Math.round(ms / 1000)} s`);
  };
  setTimeout(check, ms).unref();
}

/** The token of an `Authorization: Bearer <token>` header. */
export function bearerToken(header: string): string {
  const token = /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1];
  if (!token) throw new NatterError('unauthenticated', 'the Authorization header must be "Bearer <token>"');
  return token;
}

/** How long a refused socket may take to read its answer before it is cut off. */
export const REFUSAL_DRAIN_MS = 2_000;

/**
 * Sends `text` as the last thing on `socket` and closes it. A peer that never
 * closes its side (a half-open socket) is cut off after {@link REFUSAL_DRAIN_MS},
 * so refused sockets cannot pile up and use the server's file descriptors.
 */
export function endAndCut(socket: Duplex, text: string): void {
  socket.end(text);
  setTimeout(() => socket.destroy(), REFUSAL_DRAIN_MS).unref();
}

/** A whole HTTP response carrying a natter error reply, for a socket about to be closed. */
export function httpRefusal(err: NatterError): string {
  const status = HTTP_STATUS[err.code];
  const body = JSON.stringify({ id: null, error: err.toBody() });
  const retry = err.retryAfterMs === undefined ? '' : `Retry-After: ${Math.ceil(err.retryAfterMs / 1000)}\r\n`;
  return `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\n${retry}Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

/** The error for a connection over the per-address cap. */
export function tooManyConnections(): NatterError {
  return new NatterError('rate_limited', 'too many connections from this address; close some first', {
    retryAfterMs: 1000,
  });
}

/**
 * Open sockets per client address, on every port: a socket counts from the
 * moment it connects until it closes, whatever it carries (plain HTTP requests
 * on a keep-alive socket can be followed by a WebSocket upgrade), so a
 * handshake that trickles in (slowloris) holds a slot like any other connection.
 */
export class AddressCounter {
  private readonly open = new Map<string, number>();

  /**
   * Counts `socket` until it closes against `address` (the client's, which
   * differs from the peer's behind a trusted proxy); returns how many are open
   * from that address, itself included.
   */
  track(socket: Socket, address = remoteAddress(socket)): number {
    const n = (this.open.get(address) ?? 0) + 1;
    this.open.set(address, n);
    socket.once('close', () => {
      const left = (this.open.get(address) ?? 1) - 1;
      if (left > 0) this.open.set(address, left);
      else this.open.delete(address);
    });
    return n;
  }

  /** Sockets open from `address`. */
  count(address: string): number {
    return this.open.get(address) ?? 0;
  }
}

/**
 * Holds writes to sockets until the end of the current turn of the event
 * loop, so that what one turn sends a connection (the events of a committed
 * batch, a reply and its own event) leaves in one system call. The busier the
 * server, the larger the batches, and the more this saves. Once released,
 * each connection checks its send queue (a slow reader is judged on what it
 * failed to take, not on what was held back here).
 */
export class WriteCoalescer {
  private held: { socket: Writable; conn: Connection }[] = [];
  private readonly release = () => {
    const held = this.held;
    this.held = [];
    for (const { socket, conn } of held) {
      socket.uncork();
      conn.checkQueue();
    }
  };

  /** Corks `socket` until the end of this turn (once, however often it is called). */
  hold(socket: Writable, conn: Connection): void {
    if (socket.writableCorked > 0) return;
    socket.cork();
    if (this.held.push({ socket, conn }) === 1) process.nextTick(this.release);
  }
}
