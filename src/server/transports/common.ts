import type { Socket } from 'node:net';
import { CloseCode, NatterError, PROTOCOL_VERSION } from '../../protocol/index.js';
import type { Connection } from '../connection.js';
import type { Services } from '../context.js';

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
    limits: {
      maxFrameBytes: services.config.maxFrameBytes,
      authDeadlineMs: services.config.authDeadlineMs,
      heartbeatMs: services.config.heartbeatMs,
    },
  });
}

/** Closes a connection that has not authenticated in time. */
export function startAuthDeadline(conn: Connection, ms: number): void {
  setTimeout(() => {
    if (!conn.auth && !conn.closed) {
      conn.close(CloseCode.notAuthenticated, `not authenticated within ${Math.round(ms / 1000)} s`);
    }
  }, ms).unref();
}

/** The token of an `Authorization: Bearer <token>` header. */
export function bearerToken(header: string): string {
  const token = /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1];
  if (!token) throw new NatterError('unauthenticated', 'the Authorization header must be "Bearer <token>"');
  return token;
}
