import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { NatterError } from '../../protocol/index.js';
import { mayReadAttachment, resolveToken } from '../access.js';
import type { Services } from '../context.js';
import { bearerToken } from '../transports/common.js';
import { isInline } from './sniff.js';

/** What a download names: a file (its name in the URL is for people and is not checked), or a file's thumbnail. */
export type MediaTarget = { id: string; thumb: boolean };

/** A single byte range of a file of `size` bytes, both ends inclusive. */
export type ByteRange = { start: number; end: number };

/**
 * The one range of a `Range` header: `bytes=a-b`, `bytes=a-` or `bytes=-n`.
 * Null: serve the whole file (no header, another unit, several ranges, or a
 * header that does not parse, as RFC 9110 allows). `'unsatisfiable'`: a
 * range that starts past the end.
 */
export function parseRange(header: string | undefined, size: number): ByteRange | 'unsatisfiable' | null {
  // An empty file has no byte to range over: it is served whole.
  if (header === undefined || size === 0) return null;
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!m) return null;
  const [, a = '', b = ''] = m;
  if (a === '' && b === '') return null;
  if (a === '') {
    const n = Number(b);
    if (n === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(a);
  const end = b === '' ? size - 1 : Math.min(Number(b), size - 1);
  if (b !== '' && Number(b) < start) return null;
  if (start >= size) return 'unsatisfiable';
  return { start, end };
}

/**
 * `Content-Disposition` for a file called `name`: RFC 6266, the name in
 * UTF-8 (`filename*`) and an ASCII fallback for clients that know only
 * `filename`.
 */
export function contentDisposition(kind: 'inline' | 'attachment', name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]|["\\%]/g, '_');
  const encoded = encodeURIComponent(name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `${kind}; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}

/** Whether an `If-None-Match` header names `etag` (or is `*`). */
function matches(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  return header.split(',').some((t) => {
    const tag = t.trim().replace(/^W\//, '');
    return tag === etag || tag === '*';
  });
}

/** The answer for a file the caller may not see: the same as for one that does not exist. */
function noSuchFile(): NatterError {
  return new NatterError('not_found', 'no such file');
}

/**
 * `GET` or `HEAD` of a file or thumbnail, for whoever may read it now
 * (`mayReadAttachment`): anyone else gets `not_found`, exactly as for an id
 * that does not exist. One `Range` is honoured (206, or 416 past the end);
 * `If-None-Match` with the file's ETag (its SHA-256) gets 304. The bytes
 * are streamed from the blob store with backpressure. Files are never
 * pages: `nosniff`, a sandboxing CSP, and only images (not SVG), audio,
 * video and plain text inline; the rest is `application/octet-stream` as an
 * attachment.
 */
export async function serveDownload(
  services: Services,
  req: IncomingMessage,
  res: ServerResponse,
  address: string,
  target: MediaTarget,
): Promise<void> {
  const header = req.headers.authorization;
  if (!header) {
    throw new NatterError('unauthenticated', 'downloads need the header Authorization: Bearer <session or bot token>');
  }
  const { row: session } = await resolveToken(services, address, bearerToken(header));
  const file = await services.media.byId(target.id);
  if (!file || file.sha256 === null || !(await mayReadAttachment(services, file, session.userId))) {
    throw noSuchFile();
  }
  const sha = target.thumb ? file.thumbSha256 : file.sha256;
  if (sha === null) throw new NatterError('not_found', 'this file has no thumbnail');
  const blob = await services.blobs.stat(sha);
  if (!blob) {
    services.log.error(`download of ${file.id}: its blob ${sha} is missing from the media store`);
    throw noSuchFile();
  }
  const type = target.thumb ? 'image/webp' : file.type;
  const inline = isInline(type);
  const name = target.thumb ? `${file.name.replace(/\.[^.]*$/, '') || 'thumbnail'}.webp` : file.name;
  const etag = `"${sha}"`;
  const common: Record<string, string> = {
    ETag: etag,
    'Cache-Control': 'private, max-age=86400',
    'X-Content-Type-Options': 'nosniff',
    'Content-Security-Policy': "default-src 'none'; sandbox",
    'Cross-Origin-Resource-Policy': 'same-origin',
    'Accept-Ranges': 'bytes',
    Vary: 'Authorization',
  };
  if (matches(req.headers['if-none-match'], etag)) {
    res.writeHead(304, common);
    res.end();
    return;
  }
  const headers: Record<string, string | number> = {
    ...common,
    'Content-Type': inline ? (type === 'text/plain' ? 'text/plain; charset=utf-8' : type) : 'application/octet-stream',
    'Content-Disposition': contentDisposition(inline ? 'inline' : 'attachment', name),
  };
  // If-Range with another ETag: the file changed (it cannot, ids name one content), so the whole of it.
  const ifRange = req.headers['if-range'];
  const range = ifRange !== undefined && ifRange !== etag ? null : parseRange(req.headers.range, blob.size);
  if (range === 'unsatisfiable') {
    res.writeHead(416, {
      ...common,
      'Content-Range': `bytes */${blob.size}`,
      'Content-Type': 'application/json; charset=utf-8',
    });
    res.end(
      JSON.stringify({
        id: null,
        error: new NatterError(
          'bad_request',
          `the range asked for starts past the end of the file, which is ${blob.size} bytes`,
        ).toBody(),
      }),
    );
    return;
  }
  const status = range ? 206 : 200;
  const length = range ? range.end - range.start + 1 : blob.size;
  if (range) headers['Content-Range'] = `bytes ${range.start}-${range.end}/${blob.size}`;
  headers['Content-Length'] = length;
  res.writeHead(status, headers);
  if (req.method === 'HEAD' || length === 0) {
    res.end();
    return;
  }
  // pipeline waits for the client to read each chunk; a client that goes away ends it (and closes the file).
  await pipeline(services.blobs.open(sha, range ?? undefined), res).catch((err: unknown) => {
    if (!res.destroyed && (err as NodeJS.ErrnoException).code !== 'ERR_STREAM_PREMATURE_CLOSE') {
      services.log.error(`sending ${file.id}`, err);
    }
    res.destroy();
  });
}
