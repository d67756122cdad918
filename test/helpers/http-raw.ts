import { randomBytes } from 'node:crypto';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { ErrorBody } from '../../src/protocol/index.js';

// HTTP requests with any headers (Host included, which fetch will not set) and
// WebSocket upgrades that report the HTTP answer, over http:// or https://.

export type RawAnswer = {
  status: number;
  headers: IncomingHttpHeaders;
  /** The parsed JSON body (an error reply, a result, or healthz). */
  body: { id?: unknown; result?: unknown; error?: ErrorBody; ok?: boolean };
};

export type RawOptions = {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  /** CAs to trust for https:// URLs. */
  ca?: string | Buffer;
  /** The name to ask for and check the certificate against (https://), when Host names another. */
  servername?: string;
  /** Local address to connect from (e.g. 127.0.0.2, to be another client). */
  localAddress?: string;
  timeoutMs?: number;
};

/** One request; resolves with its status, headers and JSON body. */
export function rawRequest(url: string, options: RawOptions = {}): Promise<RawAnswer> {
  const u = new URL(url);
  const send = u.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(
      u,
      {
        method: options.method ?? 'POST',
        headers: options.headers ?? {},
        agent: false,
        ...(options.ca === undefined ? {} : { ca: options.ca }),
        ...(options.servername === undefined ? {} : { servername: options.servername }),
        ...(options.localAddress === undefined ? {} : { localAddress: options.localAddress }),
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          text += c;
        });
        res.on('end', () => {
          clearTimeout(timer);
          try {
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: JSON.parse(text) as RawAnswer['body'] });
          } catch {
            reject(new Error(`HTTP ${res.statusCode}: the body is not JSON: ${text}`));
          }
        });
      },
    );
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error(`no answer to ${options.method ?? 'POST'} ${url} within ${options.timeoutMs ?? 5000} ms`));
    }, options.timeoutMs ?? 5000);
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.end(options.body);
  });
}

/**
 * A WebSocket upgrade request; resolves with the HTTP answer when it is
 * refused, or with status 101 (and the socket closed at once) when it is accepted.
 */
export function rawUpgrade(
  url: string,
  options: Omit<RawOptions, 'method' | 'body'> = {},
): Promise<{ status: number; body: RawAnswer['body'] | null }> {
  const u = new URL(url);
  const send = u.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(u, {
      method: 'GET',
      agent: false,
      headers: {
        Connection: 'Upgrade',
        Upgrade: 'websocket',
        'Sec-WebSocket-Key': randomBytes(16).toString('base64'),
        'Sec-WebSocket-Version': '13',
        ...options.headers,
      },
      ...(options.ca === undefined ? {} : { ca: options.ca }),
      ...(options.servername === undefined ? {} : { servername: options.servername }),
      ...(options.localAddress === undefined ? {} : { localAddress: options.localAddress }),
    });
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error(`no answer to the upgrade of ${url} within ${options.timeoutMs ?? 5000} ms`));
    }, options.timeoutMs ?? 5000);
    req.on('upgrade', (_res, socket) => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ status: 101, body: null });
    });
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        text += c;
      });
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, body: text === '' ? null : (JSON.parse(text) as RawAnswer['body']) });
      });
    });
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.end();
  });
}
