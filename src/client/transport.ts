import { createRequire } from 'node:module';
import { connect as netConnect, type Socket } from 'node:net';
import type WebSocketType from 'ws';

// ws is CommonJS. Loaded with require it starts in a fraction of the time its ES
// module wrapper takes (which has every file scanned for its exports), and a
// one-shot command spends much of its life loading modules. It is loaded on the
// first WebSocket connection, so tcp:// clients never load it.
let wsClass: typeof WebSocketType | null = null;
function webSocketClass(): typeof WebSocketType {
  wsClass ??= createRequire(import.meta.url)('ws') as typeof WebSocketType;
  return wsClass;
}

/** A bidirectional channel of JSON text messages, whatever carries it. */
export type MessageTransport = {
  send(text: string): void;
  close(): void;
  /** Drops the connection at once, as a network failure would (close code 1006 with `reason`). */
  abort(reason: string): void;
  /** When anything (a message, a WebSocket ping) last came from the server (ms, monotonic). */
  lastHeard(): number;
  /** Sets (replaces) the message handler. */
  onMessage(fn: (text: string) => void): void;
  /** Sets (replaces) the close handler. */
  onClose(fn: (code: number, reason: string) => void): void;
};

/**
 * Holds the current handlers so that a later caller can replace an earlier
 * one. Messages that arrive before any handler is set (the server's hello can
 * come in the same packet as the handshake) are kept and handed over.
 */
function handlers() {
  const early: string[] = [];
  let message: ((text: string) => void) | null = null;
  let closed: [number, string] | null = null;
  let close: ((code: number, reason: string) => void) | null = null;
  return {
    message(text: string): void {
      if (message) message(text);
      else early.push(text);
    },
    close(code: number, reason: string): void {
      if (close) close(code, reason);
      else closed = [code, reason];
    },
    setMessage(fn: (text: string) => void): void {
      message = fn;
      for (const text of early.splice(0)) fn(text);
    },
    setClose(fn: (code: number, reason: string) => void): void {
      close = fn;
      if (closed) fn(...closed);
    },
  };
}

/** Opens `ws://`, `wss://` or `tcp://` URLs; resolves once the connection is open. */
export function openTransport(url: string, timeoutMs: number): Promise<MessageTransport> {
  const parsed = new URL(url);
  if (parsed.protocol === 'ws:' || parsed.protocol === 'wss:') return openWs(url, timeoutMs);
  if (parsed.protocol === 'tcp:')
    return openTcp(parsed.hostname.replace(/^\[|\]$/g, ''), Number(parsed.port || 7778), timeoutMs);
  return Promise.reject(new Error(`unsupported URL scheme "${parsed.protocol}" (use ws://, wss:// or tcp://)`));
}

function openWs(url: string, timeoutMs: number): Promise<MessageTransport> {
  return new Promise((resolve, reject) => {
    const ws = new (webSocketClass())(url, { perMessageDeflate: false, handshakeTimeout: timeoutMs });
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => {
      reject(new Error(`${url} refused the WebSocket: HTTP ${res.statusCode}`));
      ws.terminate();
    });
    ws.once('open', () => {
      ws.off('error', reject);
      ws.on('error', () => {});
      const h = handlers();
      let heard = performance.now();
      let aborted: string | null = null;
      ws.on('message', (data) => {
        heard = performance.now();
        h.message(data.toString());
      });
      ws.on('ping', () => {
        heard = performance.now();
      });
      ws.on('close', (code, reason) => h.close(code, aborted ?? reason.toString()));
      resolve({
        send: (text) => ws.send(text),
        close: () => ws.close(1000),
        abort: (reason) => {
          aborted = reason;
          ws.terminate();
        },
        lastHeard: () => heard,
        onMessage: (fn) => h.setMessage(fn),
        onClose: (fn) => h.setClose(fn),
      });
    });
  });
}

function openTcp(host: string, port: number, timeoutMs: number): Promise<MessageTransport> {
  return new Promise((resolve, reject) => {
    const socket: Socket = netConnect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`timed out connecting to tcp://${host}:${port}`));
    }, timeoutMs);
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.setNoDelay(true);
      socket.on('error', () => {});
      let buffered = '';
      const h = handlers();
      // TCP has no close codes: 1006 as on a WebSocket that dropped; the server's `closing` event says more.
      let closeInfo = { code: 1006, reason: 'connection lost' };
      let heard = performance.now();
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => {
        heard = performance.now();
        buffered += chunk;
        let nl = buffered.indexOf('\n');
        while (nl !== -1) {
          const line = buffered.slice(0, nl);
          buffered = buffered.slice(nl + 1);
          if (line.trim() !== '') h.message(line);
          nl = buffered.indexOf('\n');
        }
      });
      socket.on('close', () => h.close(closeInfo.code, closeInfo.reason));
      resolve({
        send: (text) => socket.write(`${text}\n`),
        close: () => {
          closeInfo = { code: 1000, reason: 'closed by client' };
          socket.end();
        },
        abort: (reason) => {
          closeInfo = { code: 1006, reason };
          socket.destroy();
        },
        lastHeard: () => heard,
        onMessage: (fn) => h.setMessage(fn),
        onClose: (fn) => h.setClose(fn),
      });
    });
  });
}
