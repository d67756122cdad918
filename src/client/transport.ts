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

/** How a `wss://` or `tls://` server's certificate is checked. */
export type TlsOptions = {
  /**
   * PEM certificates of the certificate authorities to trust, in place of the
   * public ones Node.js trusts (for a server whose certificate your own CA signed).
   */
  ca?: string | Buffer | (string | Buffer)[];
};

/** Why a certificate was refused, in words, by OpenSSL's and Node's error codes. */
const CERTIFICATE_PROBLEMS: Record<string, string> = {
  DEPTH_ZERO_SELF_SIGNED_CERT: 'it is self-signed',
  SELF_SIGNED_CERT_IN_CHAIN: 'it is signed by a certificate authority that is not trusted here',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'it is signed by a certificate authority that is not trusted here',
  UNABLE_TO_GET_ISSUER_CERT: 'it is signed by a certificate authority that is not trusted here',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'it is signed by a certificate authority that is not trusted here',
  CERT_UNTRUSTED: 'it is signed by a certificate authority that is not trusted here',
  CERT_HAS_EXPIRED: 'it has expired',
  CERT_NOT_YET_VALID: "it is not valid yet (is this machine's clock right?)",
  CERT_REVOKED: 'it has been revoked',
  CERT_SIGNATURE_FAILURE: 'its signature does not verify',
  CERT_REJECTED: 'it is refused for its purpose',
  INVALID_PURPOSE: 'it is not a certificate for a TLS server',
  INVALID_CA: 'a certificate in its chain is not a certificate authority',
  ERR_TLS_CERT_ALTNAME_INVALID: 'it was issued for other names',
};

/**
 * A `wss://` or `tls://` server whose certificate did not verify. `code` is
 * OpenSSL's or Node's (such as `UNABLE_TO_VERIFY_LEAF_SIGNATURE`,
 * `CERT_HAS_EXPIRED`, `ERR_TLS_CERT_ALTNAME_INVALID`).
 */
export class CertificateError extends Error {
  constructor(
    readonly code: string,
    /** Why, in words. */
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`the server's certificate is not trusted: ${reason}`, options);
    this.name = 'CertificateError';
  }
}

/** The {@link CertificateError} for a TLS error that is about the server's certificate, else the error itself. */
export function explain(err: Error): Error {
  const code = (err as NodeJS.ErrnoException).code ?? '';
  const problem = CERTIFICATE_PROBLEMS[code];
  if (problem === undefined) return err;
  // For a name mismatch Node says which name was asked for and which the certificate holds.
  const detail =
    code === 'ERR_TLS_CERT_ALTNAME_INVALID' ? ` (${(err as { reason?: string }).reason ?? err.message})` : '';
  return new CertificateError(code, `${problem}${detail} [${code}]`, { cause: err });
}

/** Opens `ws://`, `wss://`, `tcp://` or `tls://` URLs; resolves once the connection is open. */
export function openTransport(url: string, timeoutMs: number, tls: TlsOptions = {}): Promise<MessageTransport> {
  const parsed = new URL(url);
  if (parsed.protocol === 'ws:' || parsed.protocol === 'wss:') return openWs(url, timeoutMs, tls);
  if (parsed.protocol === 'tcp:' || parsed.protocol === 'tls:') {
    const host = parsed.hostname.replace(/^\[|\]$/g, '');
    return openLines(host, Number(parsed.port || 7778), timeoutMs, parsed.protocol === 'tls:' ? tls : null);
  }
  return Promise.reject(new Error(`unsupported URL scheme "${parsed.protocol}" (use ws://, wss://, tcp:// or tls://)`));
}

function openWs(url: string, timeoutMs: number, tls: TlsOptions): Promise<MessageTransport> {
  return new Promise((resolve, reject) => {
    const ws = new (webSocketClass())(url, {
      perMessageDeflate: false,
      handshakeTimeout: timeoutMs,
      ...(tls.ca === undefined ? {} : { ca: tls.ca }),
    });
    const fail = (err: Error) => reject(explain(err));
    ws.once('error', fail);
    ws.once('unexpected-response', (_req, res) => {
      reject(new Error(`${url} refused the WebSocket: HTTP ${res.statusCode}`));
      ws.terminate();
    });
    ws.once('open', () => {
      ws.off('error', fail);
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

/** NDJSON over TCP, or over TLS when `tls` is given. */
async function openLines(
  host: string,
  port: number,
  timeoutMs: number,
  tls: TlsOptions | null,
): Promise<MessageTransport> {
  const scheme = tls ? 'tls' : 'tcp';
  // node:tls loads only for tls:// URLs.
  const socket: Socket = tls
    ? (await import('node:tls')).connect({
        host,
        port,
        minVersion: 'TLSv1.2',
        ...(tls.ca === undefined ? {} : { ca: tls.ca }),
      })
    : netConnect({ host, port });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`timed out connecting to ${scheme}://${host}:${port}`));
    }, timeoutMs);
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(explain(err));
    });
    socket.once(tls ? 'secureConnect' : 'connect', () => {
      clearTimeout(timer);
      socket.setNoDelay(true);
      socket.on('error', () => {});
      let buffered = '';
      const h = handlers();
      // TCP has no close codes: 1006 as on a WebSocket that dropped; the server's `closing` event says more.
      let closeInfo = { code: 1006, reason: 'the connection dropped' };
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
