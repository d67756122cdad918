import { createHash, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { type FileHandle, open, rename, rm, stat } from 'node:fs/promises';
import type { ClientRequest, IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import { join } from 'node:path';
import { type Readable, Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { NatterError } from '../protocol/error-class.js';
import type {
  Attachment,
  AttachmentPurpose,
  ErrorCode,
  EventData,
  OpName,
  ParamsIn,
  ResultOf,
} from '../protocol/index.js';
import { explain, type TlsOptions } from './transport.js';

// Files over the server's HTTP side (docs/media.md): the protocol hands out a
// slot, the bytes go up with PUT and come down with GET, streamed both ways,
// never held in memory whole. For the CLI, the terminal app and bots alike.

/**
 * What the file functions need of a client: a {@link NatterClient} or a
 * {@link Natter}, connected and authenticated (or anything shaped so).
 */
export type MediaClient = {
  /** The server connected to: `ws://…`, `wss://…`, `tcp://…` or `tls://…`. */
  readonly url: string;
  /** Its `hello`: where its HTTP side is over TCP, and the largest file it takes. */
  readonly hello: EventData<'hello'> | null;
  /** The session or bot token downloads are made with. */
  readonly token: string | null;
  /** How an `https://` server's certificate is checked (the connection's `ca`). */
  readonly tls?: TlsOptions;
  request<N extends OpName>(op: N, params: ParamsIn<N>): Promise<ResultOf<N>>;
};

/** A quiet server is given up on after this long (no byte either way). */
const IDLE_MS = 60_000;

/**
 * How long the answer to an upload may take once the whole body went: the
 * server looks at the file first (images wait their turn to be decoded).
 */
const ANSWER_MS = 5 * 60_000;

/** Most of an error answer read to find its message. */
const ERROR_BODY_MAX = 64 * 1024;

/** Most of the upload's answer (the file as stored) read. */
const ANSWER_MAX = 1024 * 1024;

/** `212 bytes`, `4.2 KiB`, `212 KiB`, `3.5 MiB`: as the server words sizes in its errors. */
export function formatBytes(n: number): string {
  if (n >= 1024 * 1024 * 1024) return `${Math.round((n / (1024 * 1024 * 1024)) * 10) / 10} GiB`;
  if (n >= 1024 * 1024) return `${Math.round((n / (1024 * 1024)) * 10) / 10} MiB`;
  if (n >= 10 * 1024) return `${Math.round(n / 1024)} KiB`;
  if (n >= 1024) return `${Math.round((n / 1024) * 10) / 10} KiB`;
  return n === 1 ? '1 byte' : `${n} bytes`;
}

/** A length of audio or video as players show it: `0:42`, `12:05`, `1:02:09`. */
export function formatDuration(ms: number): string {
  const total = Math.round(ms / 1000);
  const s = String(total % 60).padStart(2, '0');
  const m = Math.floor(total / 60) % 60;
  const h = Math.floor(total / 3600);
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

/**
 * The origin of the server's HTTP side, without a trailing slash: over
 * `ws://` and `wss://` the address connected to (`http://host:7777`,
 * `https://…`); over `tcp://` and `tls://`, `hello.media.httpUrl` when the
 * server was told its public address, else the same host on
 * `hello.media.httpPort` (HTTPS for `tls://`). A TCP server whose hello says
 * nothing of files takes none (`unknown_op`: it runs an older natter).
 */
export function httpBase(client: Pick<MediaClient, 'url' | 'hello'>): string {
  const url = new URL(client.url);
  if (url.protocol === 'ws:' || url.protocol === 'wss:') {
    return `${url.protocol === 'wss:' ? 'https:' : 'http:'}//${url.host}`;
  }
  if (url.protocol === 'tcp:' || url.protocol === 'tls:') {
    const media = client.hello?.media;
    if (media?.httpUrl) return media.httpUrl.replace(/\/+$/, '');
    if (media?.httpPort !== undefined) {
      return `${url.protocol === 'tls:' ? 'https:' : 'http:'}//${url.hostname}:${media.httpPort}`;
    }
    throw new NatterError('unknown_op', `${client.url} takes no files: it runs a natter from before them`);
  }
  throw new Error(`unsupported URL scheme "${url.protocol}" (use ws://, wss://, tcp:// or tls://)`);
}

/** A URL the server gave (`/media/v1/…`, relative to its HTTP side, or absolute) made absolute. */
export function mediaHref(client: Pick<MediaClient, 'url' | 'hello'>, url: string): string {
  if (/^https?:\/\//i.test(url)) return url;
  return `${httpBase(client)}${url.startsWith('/') ? '' : '/'}${url}`;
}

/** An error about a local file, with Node's code (`ENOENT`, `EISDIR`, `EEXIST`…) and a message in words. */
export class FileError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly path: string,
  ) {
    super(message);
    this.name = 'FileError';
  }
}

/** Node's error about `path` in words. */
function fileProblem(err: unknown, path: string, doing: string): Error {
  const e = err as NodeJS.ErrnoException;
  if (e.name === 'AbortError') return e;
  const why: Record<string, string> = {
    ENOENT: 'there is no such file',
    EACCES: 'permission denied',
    EPERM: 'permission denied',
    EISDIR: 'it is a directory',
    ENOTDIR: 'a part of the path is not a directory',
    ENOSPC: 'the disk is full',
    EROFS: 'the file system is read-only',
  };
  const reason = (e.code && why[e.code]) ?? e.message;
  return new FileError(e.code ?? 'EIO', `cannot ${doing} ${path}: ${reason}`, path);
}

/** The error for a file over `max` bytes, as the server words it. */
function tooLarge(size: number, max: number): NatterError {
  return new NatterError('too_large', `files may be at most ${formatBytes(max)}; this one is ${formatBytes(size)}`, {
    field: 'params.size',
  });
}

/** The answer of a request over the server's HTTP side. */
async function httpRequest(
  client: Pick<MediaClient, 'tls'>,
  method: 'GET' | 'HEAD' | 'PUT',
  href: string,
  headers: OutgoingHttpHeaders,
  options: { body?: Readable; signal?: AbortSignal | undefined } = {},
): Promise<IncomingMessage> {
  const url = new URL(href);
  const secure = url.protocol === 'https:';
  // Loaded on the first file: a client that never sends one never loads them.
  const mod = secure ? await import('node:https') : await import('node:http');
  const ca = secure ? client.tls?.ca : undefined;
  return new Promise((resolve, reject) => {
    let answered = false;
    const req: ClientRequest = mod.request(
      url,
      {
        method,
        headers,
        ...(ca === undefined ? {} : { ca }),
        ...(options.signal ? { signal: options.signal } : {}),
      },
      (res) => {
        answered = true;
        req.setTimeout(IDLE_MS);
        // The server may answer before the whole body went (a refusal): the rest is not sent.
        const body = options.body;
        if (body && !body.readableEnded) {
          body.unpipe(req);
          body.destroy();
        }
        resolve(res);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${url.host} stopped answering`)));
    req.setTimeout(IDLE_MS);
    req.on('error', (err) => {
      // After the answer, a broken pipe is the server closing on a body it refused: the answer says why.
      if (!answered) reject(explain(err));
    });
    if (options.body) {
      options.body.on('error', (err) => req.destroy(err));
      req.on('finish', () => {
        if (!answered) req.setTimeout(ANSWER_MS);
      });
      options.body.pipe(req);
    } else {
      req.end();
    }
  });
}

/** Up to `max` bytes of a response, as text. */
async function readText(res: IncomingMessage, max: number): Promise<string> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of res) {
    const b = chunk as Buffer;
    length += b.length;
    if (length > max) {
      res.destroy();
      break;
    }
    chunks.push(b);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * The error of a refusal over HTTP: the server's `{error: {code, message}}`
 * as a {@link NatterError}, else the status in words.
 */
async function refusal(res: IncomingMessage, what: string): Promise<Error> {
  const text = await readText(res, ERROR_BODY_MAX).catch(() => '');
  try {
    const parsed = JSON.parse(text) as { error?: unknown };
    const e = (parsed.error ?? parsed) as { code?: unknown; message?: unknown; retryAfterMs?: unknown };
    if (typeof e.code === 'string' && typeof e.message === 'string') {
      return new NatterError(
        e.code as ErrorCode,
        e.message,
        typeof e.retryAfterMs === 'number' ? { retryAfterMs: e.retryAfterMs } : {},
      );
    }
  } catch {
    // Not JSON: a proxy's page, or nothing (HEAD).
  }
  return new Error(`${what}: the server answered HTTP ${res.statusCode} ${res.statusMessage ?? ''}`.trimEnd());
}

export type UploadOptions = {
  /** What the file is for: `message` (the default), `avatar` or `server-icon`. */
  purpose?: AttachmentPurpose;
  /** The name it is sent under (default: the file's own name). */
  name?: string;
  /** Its MIME type, when known (the server checks it against the content). */
  type?: string;
  /** Called as bytes go: how many so far, of how many. */
  onProgress?: (sent: number, total: number) => void;
  signal?: AbortSignal;
};

/** A regular file opened for reading, with its size; anything else is a {@link FileError} in words. */
async function openFile(path: string): Promise<{ handle: FileHandle; size: number }> {
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    throw fileProblem(err, path, 'read');
  }
  try {
    const st = await handle.stat();
    if (st.isDirectory()) throw new FileError('EISDIR', `${path} is a directory, not a file`, path);
    if (!st.isFile()) throw new FileError('EINVAL', `${path} is not a regular file`, path);
    return { handle, size: st.size };
  } catch (err) {
    await handle.close();
    throw err;
  }
}

/**
 * Uploads the file at `path`: asks for a slot (`attachments.create`, with
 * the file's name and size), then streams the bytes to it with `PUT`. Returns
 * the file as stored, with the type found in its content, ready to attach
 * (`messages.send {attachments}`, `profile.update {avatar}`, `servers.update
 * {icon}`) within the hour. A file over the server's limit
 * (`hello.media.maxFileBytes`) is refused before anything is sent; the
 * server's refusals (`too_large`, `quota_exceeded`, `invalid_file`…) are
 * thrown as {@link NatterError}s, and problems with the file itself
 * (missing, a directory, unreadable) as {@link FileError}s.
 */
export async function uploadFile(client: MediaClient, path: string, options: UploadOptions = {}): Promise<Attachment> {
  options.signal?.throwIfAborted();
  const { handle, size } = await openFile(path);
  try {
    const max = client.hello?.media?.maxFileBytes;
    if (max !== undefined && size > max) throw tooLarge(size, max);
    const name = options.name ?? path.split(/[/\\]/).pop() ?? path;
    const { upload } = await client.request('attachments.create', {
      name: name === '' ? 'file' : name,
      size,
      ...(options.purpose ? { purpose: options.purpose } : {}),
      ...(options.type ? { type: options.type } : {}),
    });
    options.signal?.throwIfAborted();
    let body: Readable | undefined;
    if (size > 0) {
      // Exactly the size announced, even should the file grow meanwhile; counted as it goes into the request.
      const source = handle.createReadStream({ start: 0, end: size - 1, autoClose: false });
      const counted = counter(0, size, options.onProgress);
      source.on('error', (err) => counted.destroy(err));
      body = source.pipe(counted);
    }
    const res = await httpRequest(
      client,
      'PUT',
      mediaHref(client, upload.url),
      {
        Authorization: `Bearer ${upload.token}`,
        'Content-Type': 'application/octet-stream',
        'Content-Length': String(size),
      },
      { body, signal: options.signal },
    );
    const status = res.statusCode ?? 0;
    if (status < 200 || status > 299) throw await refusal(res, `uploading ${name}`);
    if (size === 0) options.onProgress?.(0, 0);
    const answer = JSON.parse(await readText(res, ANSWER_MAX)) as { attachment?: Attachment };
    if (!answer.attachment) throw new Error(`uploading ${name}: the server's answer holds no file`);
    return answer.attachment;
  } catch (err) {
    if (err instanceof Error && err.name !== 'AbortError' && (err as NodeJS.ErrnoException).syscall === 'read') {
      throw fileProblem(err, path, 'read');
    }
    throw err;
  } finally {
    await handle.close();
  }
}

/** A file's own name made safe to save under: its last path segment, no control characters, no leading dots. */
export function localFileName(file: Pick<Attachment, 'id' | 'name'>): string {
  const last = file.name.split(/[/\\]/).pop() ?? '';
  const name = last
    .replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu, '')
    .replace(/^[.\s]+/, '')
    .trim();
  return name === '' ? `file-${file.id}` : name;
}

/** The attachment `file` names: as given, or looked up by id (`not_found` when it cannot be seen). */
async function attachmentOf(client: MediaClient, file: string | Attachment): Promise<Attachment> {
  if (typeof file !== 'string') return file;
  return (await client.request('attachments.get', { attachmentId: file })).attachment;
}

/** The Authorization header of a download: the connection's token. */
function bearer(client: MediaClient): string {
  if (!client.token) {
    throw new NatterError('unauthenticated', 'files are downloaded with a session or bot token: authenticate first');
  }
  return `Bearer ${client.token}`;
}

/**
 * Passes bytes through, counting them (and hashing them into `hash`); more
 * than `total` in all is an error (the answer is not this file).
 */
function counter(
  start: number,
  total: number,
  onProgress?: (received: number, total: number) => void,
  hash?: Hash,
): Transform {
  let received = start;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      received += chunk.length;
      if (received > total) {
        done(new Error(`the server sent more than the file's ${formatBytes(total)}`));
        return;
      }
      hash?.update(chunk);
      onProgress?.(received, total);
      done(null, chunk);
    },
  });
}

/** The size of the file at `path`, or null when there is none. */
async function sizeOf(path: string): Promise<{ size: number; file: boolean } | null> {
  try {
    const st = await stat(path);
    return { size: st.size, file: st.isFile() };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw fileProblem(err, path, 'look at');
  }
}

/**
 * Where a download goes: `dest` itself, or, when `dest` is a directory (an
 * existing one, or any path ending in `/`), the file's own name in it.
 */
async function destination(dest: string, file: Attachment): Promise<string> {
  const slash = /[/\\]$/.test(dest);
  let dir = slash;
  try {
    dir = (await stat(dest)).isDirectory();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw fileProblem(err, dest, 'look at');
    if (slash) throw new FileError('ENOENT', `cannot save into ${dest}: there is no such directory`, dest);
  }
  return dir ? join(dest, localFileName(file)) : dest;
}

export type DownloadOptions = {
  /** Replace a file that is there already (by default that is refused with a {@link FileError} `EEXIST`). */
  force?: boolean;
  /** Called as bytes come: how many of the file are here so far, of how many. */
  onProgress?: (received: number, total: number) => void;
  signal?: AbortSignal;
};

/** An existing file refused as a download's destination. */
function exists(path: string): FileError {
  return new FileError('EEXIST', `${path} exists already`, path);
}

/**
 * Downloads a file (an attachment, or its id) to `dest`: a path, or a
 * directory to put it in under its own (cleaned) name. The bytes go to
 * `<path>.part`, renamed to `<path>` once all of them are there, its length
 * checked; a `.part` left by an interrupted download is resumed with `Range`.
 * An existing file is replaced only with `force`. Returns where it went and
 * its length.
 */
export async function downloadFile(
  client: MediaClient,
  file: string | Attachment,
  dest: string,
  options: DownloadOptions = {},
): Promise<{ path: string; bytes: number; attachment: Attachment }> {
  options.signal?.throwIfAborted();
  const attachment = await attachmentOf(client, file);
  const path = await destination(dest, attachment);
  const there = await sizeOf(path);
  if (there && !there.file) throw new FileError('EISDIR', `cannot save to ${path}: it is a directory`, path);
  if (there && !options.force) throw exists(path);
  const part = `${path}.part`;
  const total = attachment.size;
  const partial = await sizeOf(part);
  if (partial && !partial.file) throw new FileError('EISDIR', `cannot save to ${part}: it is a directory`, part);
  // What is there already counts, when it is less than the file: a `.part` as long as the file or longer
  // (its rename did not happen, or it is of another file) is fetched again whole.
  let start = partial && partial.size < total ? partial.size : 0;
  const href = mediaHref(client, attachment.url);
  const auth = bearer(client);
  for (;;) {
    const res = await httpRequest(
      client,
      'GET',
      href,
      { Authorization: auth, ...(start > 0 ? { Range: `bytes=${start}-` } : {}) },
      { signal: options.signal },
    );
    const status = res.statusCode ?? 0;
    if (status === 416 && start > 0) {
      // The server does not see that much of it: start again from the beginning.
      res.resume();
      start = 0;
      continue;
    }
    if (status !== 200 && status !== 206) throw await refusal(res, `downloading ${attachment.name}`);
    if (status === 206) {
      const from = /^bytes (\d+)-/.exec(String(res.headers['content-range'] ?? ''))?.[1];
      if (from === undefined || Number(from) !== start) {
        res.destroy();
        throw new Error(`downloading ${attachment.name}: the server sent another part than asked for`);
      }
    } else {
      // The whole file (the range was not honoured, or none was asked): written from its start.
      start = 0;
    }
    // natter's ETag is the content's SHA-256: what came, resumed or not, is checked against it.
    const sha = /^"([0-9a-f]{64})"$/.exec(String(res.headers.etag ?? ''))?.[1];
    const hash = createHash('sha256');
    options.onProgress?.(start, total);
    try {
      if (start > 0) for await (const chunk of createReadStream(part, { start: 0, end: start - 1 })) hash.update(chunk);
      await pipeline(
        res,
        counter(start, total, options.onProgress, hash),
        createWriteStream(part, { flags: start > 0 ? 'a' : 'w' }),
        options.signal ? { signal: options.signal } : {},
      );
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      throw e.syscall === 'open' || e.syscall === 'write' ? fileProblem(err, part, 'write') : err;
    }
    const got = (await sizeOf(part))?.size ?? 0;
    if (got !== total) {
      throw new Error(
        `the download of ${attachment.name} stopped after ${formatBytes(got)} of ${formatBytes(total)}; run it again to resume (${part})`,
      );
    }
    if (sha !== undefined && hash.digest('hex') !== sha) {
      await rm(part, { force: true });
      // The part it resumed was of another file (of the same name): fetched again whole.
      if (start > 0) {
        start = 0;
        continue;
      }
      throw new Error(`the download of ${attachment.name} does not match the file on the server; run it again`);
    }
    break;
  }
  // Made by someone else meanwhile: still not replaced without force.
  if (!options.force && (await sizeOf(path))) throw exists(path);
  try {
    await rename(part, path);
  } catch (err) {
    throw fileProblem(err, path, 'write');
  }
  return { path, bytes: total, attachment };
}

/**
 * Downloads a file (an attachment, or its id) into `out` (standard output, a
 * socket…), which is left open. Checks that the whole file came; returns its
 * length.
 */
export async function streamFile(
  client: MediaClient,
  file: string | Attachment,
  out: Writable,
  options: Omit<DownloadOptions, 'force'> = {},
): Promise<{ bytes: number; attachment: Attachment }> {
  const attachment = await attachmentOf(client, file);
  const res = await httpRequest(
    client,
    'GET',
    mediaHref(client, attachment.url),
    { Authorization: bearer(client) },
    { signal: options.signal },
  );
  if (res.statusCode !== 200) throw await refusal(res, `downloading ${attachment.name}`);
  let bytes = 0;
  const count = counter(0, attachment.size, (n, total) => {
    bytes = n;
    options.onProgress?.(n, total);
  });
  await pipeline(res, count, out, { end: false, ...(options.signal ? { signal: options.signal } : {}) });
  if (bytes !== attachment.size) {
    throw new Error(
      `the download of ${attachment.name} stopped after ${formatBytes(bytes)} of ${formatBytes(attachment.size)}`,
    );
  }
  return { bytes, attachment };
}

/**
 * The bytes at `url` (a thumbnail, a profile picture, a small image: a URL
 * the server gave, relative or absolute), at most `maxBytes` of them: a
 * longer answer is cut off and refused (`too_large`), so a preview never
 * holds more than it asked for.
 */
export async function fetchMedia(
  client: MediaClient,
  url: string,
  options: { maxBytes: number; signal?: AbortSignal },
): Promise<Buffer> {
  const res = await httpRequest(
    client,
    'GET',
    mediaHref(client, url),
    { Authorization: bearer(client) },
    { signal: options.signal },
  );
  if (res.statusCode !== 200) throw await refusal(res, `fetching ${url}`);
  const tooBig = () =>
    new NatterError('too_large', `${url} is larger than the ${formatBytes(options.maxBytes)} fetched at most here`);
  if (Number(res.headers['content-length'] ?? 0) > options.maxBytes) {
    res.destroy();
    throw tooBig();
  }
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of res) {
    const b = chunk as Buffer;
    length += b.length;
    if (length > options.maxBytes) {
      res.destroy();
      throw tooBig();
    }
    chunks.push(b);
  }
  return Buffer.concat(chunks, length);
}
