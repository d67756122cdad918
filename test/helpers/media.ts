import { type IncomingHttpHeaders, request } from 'node:http';
import type { Attachment, AttachmentPurpose, ErrorBody } from '../../src/protocol/index.js';
import type { Api } from './api.js';
import { DEADLINE_MS } from './wait.js';

// Uploads and downloads over real HTTP, with the control tests need: any
// Content-Length (or none, chunked), bodies sent in parts, raw answers.

export type MediaAnswer = { status: number; headers: IncomingHttpHeaders; body: Buffer };

export type MediaRequest = {
  method?: string;
  headers?: Record<string, string>;
  /** One buffer (sent with its Content-Length unless a header says otherwise), or parts sent chunked. */
  body?: Buffer | Buffer[];
  /** Called with the request once the parts are written, before the answer (to wait on state mid-upload). */
  onSent?: () => void;
};

/** One request to `baseUrl + path`; resolves with the whole answer. */
export function mediaRequest(baseUrl: string, path: string, options: MediaRequest = {}): Promise<MediaAnswer> {
  const url = new URL(path, baseUrl);
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...options.headers };
    const body = options.body;
    const named = (h: string) => Object.keys(headers).some((k) => k.toLowerCase() === h);
    if (Buffer.isBuffer(body) && !named('content-length') && !named('transfer-encoding')) {
      headers['Content-Length'] = String(body.length);
    }
    const req = request(url, { method: options.method ?? 'GET', headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
      });
      res.on('error', reject);
    });
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error(`no answer to ${options.method ?? 'GET'} ${path} within ${DEADLINE_MS} ms`));
    }, DEADLINE_MS);
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    if (Array.isArray(body)) {
      for (const part of body) req.write(part);
      options.onSent?.();
      return;
    }
    req.end(body);
  });
}

/** The error of a JSON error answer. */
export function errorOf(a: MediaAnswer): ErrorBody {
  const parsed = JSON.parse(a.body.toString('utf8')) as { error?: ErrorBody };
  if (!parsed.error) throw new Error(`HTTP ${a.status} without an error: ${a.body.toString('utf8').slice(0, 200)}`);
  return parsed.error;
}

export type Slot = {
  attachment: Attachment & { purpose: AttachmentPurpose };
  upload: { url: string; token: string; expiresAt: number };
};

/** Asks for a slot for `bytes`. */
export async function slotFor(
  api: Api,
  name: string,
  bytes: Buffer | number,
  more: { type?: string; purpose?: AttachmentPurpose } = {},
): Promise<Slot> {
  const size = typeof bytes === 'number' ? bytes : bytes.length;
  return api.call('attachments.create', { name, size, ...more });
}

/** PUTs `bytes` to a slot with its token. */
export function put(baseUrl: string, slot: Slot, bytes: Buffer | Buffer[], headers: Record<string, string> = {}) {
  return mediaRequest(baseUrl, slot.upload.url, {
    method: 'PUT',
    headers: { Authorization: `Bearer ${slot.upload.token}`, ...headers },
    body: bytes,
  });
}

/** Asks for a slot and uploads `bytes` to it; throws unless the upload is answered 200. Returns the stored file. */
export async function upload(
  api: Api,
  baseUrl: string,
  name: string,
  bytes: Buffer,
  more: { type?: string; purpose?: AttachmentPurpose } = {},
): Promise<Attachment & { purpose: AttachmentPurpose }> {
  const slot = await slotFor(api, name, bytes, more);
  const a = await put(baseUrl, slot, bytes);
  if (a.status !== 200) throw new Error(`upload of ${name}: HTTP ${a.status} ${a.body.toString('utf8')}`);
  return (JSON.parse(a.body.toString('utf8')) as { attachment: Attachment & { purpose: AttachmentPurpose } })
    .attachment;
}

/** GETs (or HEADs) a file's URL with a session or bot token. */
export function download(
  baseUrl: string,
  url: string,
  token: string | null,
  headers: Record<string, string> = {},
  method = 'GET',
): Promise<MediaAnswer> {
  return mediaRequest(baseUrl, url, {
    method,
    headers: { ...(token === null ? {} : { Authorization: `Bearer ${token}` }), ...headers },
  });
}
