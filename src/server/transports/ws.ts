import type { IncomingMessage, Server } from 'node:http';
import type { Duplex, Writable } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import { NatterError } from '../../protocol/index.js';
import { resolveToken, scopesOfUser, settleScopes } from '../access.js';
import { Connection, type OutgoingFrame } from '../connection.js';
import type { Services } from '../context.js';
import type { Dispatcher } from '../dispatch.js';
import type { Scope } from '../event-log.js';
import {
  bearerToken,
  CLOSE_DRAIN_MS,
  endAndCut,
  httpRefusal,
  remoteAddress,
  sendHello,
  startAuthDeadline,
  tooManyConnections,
  WriteCoalescer,
} from './common.js';

/** A client on a WebSocket: one JSON object per text frame. */
class WsConnection extends Connection {
  alive = true;

  constructor(
    readonly ws: WebSocket,
    /** The upgraded socket `ws` writes to; fan-out writes prebuilt frames to it directly. */
    private readonly socket: Duplex,
    private readonly coalescer: WriteCoalescer,
    address: string,
  ) {
    super('ws', address);
  }

  protected write(text: string): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    this.coalescer.hold(this.socket, this);
    this.ws.send(text);
    if (this.meter) {
      const n = Buffer.byteLength(text);
      this.meter.sent('ws', n + (n < 126 ? 2 : n < 65536 ? 4 : 10));
    }
  }

  /**
   * A frame built once for the whole audience goes straight to the socket.
   * This keeps frame order because `ws` writes each message synchronously
   * (no compression is negotiated, so its sender never queues).
   */
  protected override writeFrame(frame: OutgoingFrame): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    this.coalescer.hold(this.socket, this);
    const bytes = frame.ws();
    this.socket.write(bytes);
    this.meter?.sent('ws', bytes.length);
  }

  protected queuedBytes(): number {
    return this.socket.writableCorked > 0 ? 0 : this.ws.bufferedAmount;
  }

  protected override outgoing(): Writable {
    return this.socket;
  }

  override pauseInput(): void {
    super.pauseInput();
    this.ws.pause();
  }

  override resumeInput(): void {
    super.resumeInput();
    this.ws.resume();
  }

  protected terminate(code: number, reason: string): void {
    this.ws.close(code, reason);
    // The close frame follows what is queued; a peer that never reads it and
    // never answers the close handshake is cut off after a while.
    setTimeout(() => this.ws.terminate(), CLOSE_DRAIN_MS).unref();
  }
}

/**
 * Serves WebSocket upgrades on the HTTP server. Host, Origin, connection caps
 * and an `Authorization: Bearer` header are checked before the upgrade completes.
 */
export function attachWebSocket(http: Server, services: Services, dispatcher: Dispatcher): { close(): void } {
  const { config, hub, log } = services;
  const wss = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    maxPayload: config.maxFrameBytes,
    clientTracking: false,
  });
  const live = new Set<WsConnection>();
  const coalescer = new WriteCoalescer();

  http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const hostRefusal = services.hosts.check(req.headers.host);
    if (hostRefusal) return refuse(socket, hostRefusal);
    const address = services.proxies.clientOf(req);
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/' && path !== '/ws') {
      return refuse(socket, new NatterError('not_found', 'the WebSocket endpoint is / (or /ws)'));
    }
    if (!originAllowed(req, config.allowedOrigins)) {
      return refuse(
        socket,
        new NatterError('forbidden', 'WebSockets from this Origin are not allowed (see --allow-origin)'),
      );
    }
    // This socket was counted when it connected, unless it comes from a trusted
    // proxy: then it counts from here, against the client the proxy names.
    if (services.proxies.trusts(remoteAddress(req.socket))) services.sockets.track(req.socket, address);
    if (services.sockets.count(address) > config.maxConnectionsPerAddress) {
      return refuse(socket, tooManyConnections());
    }
    void (async () => {
      let authState: Connection['auth'] = null;
      let scopes: Scope[] = [];
      const header = req.headers.authorization;
      if (header) {
        try {
          const { row, auth } = await resolveToken(services, address, bearerToken(header));
          authState = auth;
          scopes = await scopesOfUser(services.chat, row.userId);
        } catch (err) {
          return refuse(
            socket,
            err instanceof NatterError ? err : new NatterError('internal', 'could not check the token'),
          );
        }
      }
      // The client may have gone while its token was checked.
      if (socket.destroyed) return;
      wss.handleUpgrade(req, socket, head, (ws) => {
        const conn = new WsConnection(ws, socket, coalescer, address);
        conn.maxQueuedBytes = config.maxQueuedBytes;
        conn.meter = services.metrics.meter;
        services.metrics.connectionOpened('ws');
        live.add(conn);
        hub.add(conn);
        if (authState && hub.authenticate(conn, authState, scopes)) {
          const userId = authState.userId;
          settleScopes(
            hub,
            userId,
            () => scopesOfUser(services.chat, userId),
            (now) => hub.setScopes(conn, now),
          ).catch((err: unknown) => log.error(`reading the scopes of a websocket from ${address}`, err));
        }
        ws.on('message', (data, isBinary) => {
          if (isBinary) {
            conn.reply({
              id: null,
              error: { code: 'bad_request', message: 'binary frames are not supported; send JSON as text' },
            });
            return;
          }
          dispatcher.onText(conn, data.toString());
        });
        ws.on('pong', () => {
          conn.alive = true;
        });
        ws.on('error', (err) => log.error(`websocket from ${address}`, err.message));
        ws.on('close', () => {
          services.metrics.connectionClosed('ws');
          conn.markClosed();
          live.delete(conn);
        });
        sendHello(conn, services);
        startAuthDeadline(conn, config.authDeadlineMs);
      });
    })().catch((err: unknown) => {
      log.error(`websocket upgrade from ${address}`, err);
      socket.destroy();
    });
  });

  // The ws README's heartbeat: a connection that did not answer the last ping is dead.
  const heartbeat = setInterval(() => {
    for (const conn of live) {
      if (!conn.alive) {
        conn.ws.terminate();
        continue;
      }
      conn.alive = false;
      conn.ws.ping();
    }
  }, config.heartbeatMs);
  heartbeat.unref();

  return {
    close() {
      clearInterval(heartbeat);
      wss.close();
    },
  };
}

/** Answers an upgrade request with an HTTP error whose body is a natter error reply, and closes. */
function refuse(socket: Duplex, err: NatterError): void {
  endAndCut(socket, httpRefusal(err));
}

/**
 * Browsers send Origin; scripts and terminals usually do not. A page on another
 * site must not be able to open a socket with the user's cookies or network.
 */
function originAllowed(req: IncomingMessage, allowed: readonly string[]): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  if (allowed.includes(origin) || allowed.includes('*')) return true;
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}
