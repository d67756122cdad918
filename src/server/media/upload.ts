import type { IncomingMessage } from 'node:http';
import { type Attachment, type AttachmentPurpose, NatterError } from '../../protocol/index.js';
import type { Services } from '../context.js';
import { dayOf, type UploadedContent } from '../db/media.js';
import type { AttachmentRow } from '../db/schema.js';
import { rateLimited } from '../limits.js';
import { formatBytes } from '../quotas.js';
import { hashToken } from '../tokens.js';
import { bearerToken } from '../transports/common.js';
import { toAttachment } from '../views.js';
import { type Staged, TooMuch } from './blob-store.js';
import { durationOf, imageSize, picture, thumbnail } from './images.js';
import { assertConsistent, assertPicture, IMAGE_TYPES, sniff } from './sniff.js';

/** Uploads one account may have under way at once (on one natter). */
export const UPLOADS_PER_USER = 4;

/** An upload whose body stops arriving for this long is cut off (its temporary file deleted). */
export const UPLOAD_IDLE_MS = 60_000;

/** What a finished upload answers: the file as stored. */
export type UploadAnswer = { attachment: Attachment & { purpose: AttachmentPurpose } };

/**
 * What this natter is receiving: the slots being uploaded to (a second PUT
 * to one of them is refused at once rather than racing the first) and how
 * many uploads each account has under way.
 */
export class Uploads {
  readonly #slots = new Set<string>();
  readonly #perUser = new Map<string, number>();
  /** Bytes the rate allows now (a token bucket of a quarter second's worth), and when it was last filled. */
  #tokens: number;
  #filledAt = performance.now();

  /** @param bytesPerSecond what this natter reads of all uploads together, at most (0: no limit) */
  constructor(readonly bytesPerSecond = 0) {
    this.#tokens = bytesPerSecond / 4;
  }

  /**
   * Counts `bytes` just read from an upload against the natter's upload
   * rate; returns how long (ms) that upload should wait before reading more
   * (0: go on). Every upload shares the rate, so however many arrive at once,
   * the time the natter spends on them (hashing, writing) is bounded, and
   * message delivery keeps its share.
   */
  pace(bytes: number): number {
    if (this.bytesPerSecond <= 0) return 0;
    const now = performance.now();
    const cap = this.bytesPerSecond / 4;
    this.#tokens = Math.min(cap, this.#tokens + ((now - this.#filledAt) * this.bytesPerSecond) / 1000);
    this.#filledAt = now;
    this.#tokens -= bytes;
    return this.#tokens >= 0 ? 0 : Math.ceil((-this.#tokens * 1000) / this.bytesPerSecond);
  }

  /** Uploads under way on this natter. */
  get active(): number {
    return this.#slots.size;
  }

  /** Counts an upload to `row` until the returned function is called; refuses one over the caps. */
  claim(row: AttachmentRow): () => void {
    if (this.#slots.has(row.id)) {
      throw new NatterError('conflict', 'this file is being uploaded already; wait for that upload to end');
    }
    const n = this.#perUser.get(row.ownerId) ?? 0;
    if (n >= UPLOADS_PER_USER) {
      throw new NatterError(
        'rate_limited',
        `at most ${UPLOADS_PER_USER} uploads of one account may be under way at once; wait for one to finish`,
        { retryAfterMs: 1000 },
      );
    }
    this.#slots.add(row.id);
    this.#perUser.set(row.ownerId, n + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#slots.delete(row.id);
      const left = (this.#perUser.get(row.ownerId) ?? 1) - 1;
      if (left > 0) this.#perUser.set(row.ownerId, left);
      else this.#perUser.delete(row.ownerId);
    };
  }
}

/** The answer for an unknown slot or a wrong token: the same, so a token cannot be tested against ids. */
function noSuchSlot(): NatterError {
  return new NatterError('not_found', 'no upload slot with this id and token; start the upload again');
}

/** "3 bytes" or "1,234,567 bytes (1.2 MiB)": exact, and readable. */
function bytes(n: number): string {
  const exact = `${n.toLocaleString('en')} byte${n === 1 ? '' : 's'}`;
  return n < 1024 ? exact : `${exact} (${formatBytes(n)})`;
}

/**
 * `PUT /media/v1/uploads/<id>`: checks the slot and its token, streams the
 * body into a temporary file (never more than the slot's size), finds what
 * the file is, makes its thumbnail or picture, puts the bytes in the blob
 * store and records them on the slot's row. A file refused for what it is
 * (`invalid_file`) gives its bytes back to the day's allowance and its slot
 * is deleted. On any failure the temporary files are deleted.
 */
export async function receiveUpload(
  services: Services,
  req: IncomingMessage,
  address: string,
  id: string,
): Promise<UploadAnswer> {
  const header = req.headers.authorization;
  if (!header) {
    throw new NatterError(
      'unauthenticated',
      'an upload needs the header Authorization: Bearer <upload token> (the token given with the upload slot)',
    );
  }
  const token = bearerToken(header);
  // Wrong upload tokens count with other wrong tokens: guessing is slowed down the same way.
  const limiter = services.limiters.authFailPerAddress;
  const wait = await limiter.retryAfter(address);
  if (wait > 0) {
    services.metrics.authFailure('rate_limited');
    throw rateLimited(wait, 'invalid tokens from this address');
  }
  const row = await services.media.byId(id);
  if (!row) {
    services.metrics.authFailure('upload_token');
    await limiter.take(address);
    throw noSuchSlot();
  }
  // The token first: without it, nothing about the slot is told (not even that it was used).
  if (row.tokenHash === null || hashToken(token) !== row.tokenHash) {
    services.metrics.authFailure('upload_token');
    await limiter.take(address);
    throw noSuchSlot();
  }
  if (row.sha256 !== null) {
    throw new NatterError(
      'conflict',
      'this file has been uploaded already; each slot takes one upload: start the upload again to send another',
    );
  }
  const now = services.clock();
  if (row.uploadBy < now) {
    throw new NatterError(
      'conflict',
      `this upload slot expired at ${new Date(row.uploadBy).toISOString().slice(11, 19)} UTC (slots last ${Math.round(services.config.uploadSlotMs / 60_000)} min); start the upload again`,
    );
  }
  const length = req.headers['content-length'];
  if (length !== undefined && Number(length) !== row.size) {
    throw new NatterError(
      'bad_request',
      `this upload slot is for ${bytes(row.size)}, but the request says Content-Length: ${length}; send exactly the file's bytes`,
    );
  }
  const release = services.uploads.claim(row);
  const staged: Staged[] = [];
  try {
    let body: Staged;
    try {
      body = await services.blobs.receive(req, row.size, (n) => services.uploads.pace(n));
    } catch (err) {
      if (err instanceof TooMuch) {
        throw new NatterError(
          'too_large',
          `this upload slot is for ${bytes(row.size)} and more arrived; the upload was stopped. Ask for a slot of the file's real size`,
        );
      }
      throw new NatterError('bad_request', 'the upload was cut off before its end; send it again');
    }
    staged.push(body);
    if (body.size < row.size) {
      throw new NatterError(
        'bad_request',
        `the body ended after ${bytes(body.size)}; this upload slot is for ${bytes(row.size)}: send the whole file`,
      );
    }
    let content: UploadedContent & { name?: string; size?: number };
    try {
      content = await inspect(services, row, body, staged);
    } catch (err) {
      if (err instanceof NatterError && err.code === 'invalid_file') await refuse(services, row);
      throw err;
    }
    const blobs = staged.filter((s) => s.sha256 === content.sha256 || s.sha256 === content.thumbSha256);
    for (const s of blobs) await services.blobs.commit(s);
    const completed = await services.store.write((tx) => tx.media.complete(row.id, content));
    if (!completed) {
      const now = await services.media.byId(row.id);
      if (!now)
        throw new NatterError('not_found', 'this upload slot was deleted meanwhile (it expired); ask for a new one');
      throw new NatterError('conflict', 'this file has been uploaded already, by another upload to the same slot');
    }
    // The row names the blobs now: make sure a sweep did not take them between the link and the commit.
    for (const s of blobs) await services.blobs.settle(s);
    const stored: AttachmentRow = { ...row, ...content };
    services.metrics.upload(stored.size);
    return { attachment: { ...toAttachment(stored), purpose: row.purpose } };
  } finally {
    release();
    for (const s of staged) await services.blobs.discard(s).catch(() => {});
  }
}

/**
 * Finds what the upload is and what goes with it: the sniffed type, checked
 * against the name and the stated type; an image's size and thumbnail; an
 * audio or video file's length. A profile picture or server icon becomes
 * the 256-pixel WebP that is stored in place of the upload. Files it makes
 * are added to `staged`.
 */
async function inspect(
  services: Services,
  row: AttachmentRow,
  body: Staged,
  staged: Staged[],
): Promise<UploadedContent & { name?: string; size?: number }> {
  const max = services.config.imageMaxPixels;
  const sniffed = await sniff(body.path, row.name);
  const uploadedAt = services.clock();
  if (row.purpose !== 'message') {
    if (body.size === 0) throw new NatterError('invalid_file', 'this file is empty; a picture must be an image');
    assertPicture(sniffed, row.purpose);
    if ((await imageSize(body.path, max)) === null) {
      throw new NatterError('invalid_file', 'this image could not be read; send another');
    }
    const made = await services.blobs.stage(await picture(body.path, max));
    staged.push(made);
    return {
      sha256: made.sha256,
      thumbSha256: null,
      type: 'image/webp',
      width: 256,
      height: 256,
      durationMs: null,
      uploadedAt,
      name: 'picture.webp',
      size: made.size,
    };
  }
  assertConsistent(sniffed, row.name, row.type === 'application/octet-stream' ? null : row.type, body.size === 0);
  const content: UploadedContent = {
    sha256: body.sha256,
    thumbSha256: null,
    type: sniffed.type,
    width: null,
    height: null,
    durationMs: null,
    uploadedAt,
  };
  if (IMAGE_TYPES.has(sniffed.type)) {
    const size = await imageSize(body.path, max);
    if (size) {
      content.width = size.width;
      content.height = size.height;
      const thumb = await thumbnail(body.path, max);
      if (thumb) {
        const made = await services.blobs.stage(thumb);
        staged.push(made);
        content.thumbSha256 = made.sha256;
      }
    }
  } else if (sniffed.type.startsWith('audio/') || sniffed.type.startsWith('video/')) {
    content.durationMs = await durationOf(body.path);
  }
  return content;
}

/** A file refused for what it is: its bytes go back to the day's allowance, and its slot is deleted. */
async function refuse(services: Services, row: AttachmentRow): Promise<void> {
  await services.store.write(async (tx) => {
    // Given back once, and never for a slot another upload completed: two uploads to one slot
    // through two nodes may both be refused (one deletes the slot), or one may succeed.
    if (await tx.media.removeSlot(row.id)) await tx.media.addUsage(row.ownerId, dayOf(row.createdAt), -row.size);
  });
}
