import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { link, mkdir, open, readdir, rename, rm, stat, unlink, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';

/**
 * Where uploaded bytes live, named by their SHA-256: the database's rows
 * name blobs, never paths. An interface, so that an object store can take
 * the file system's place; uploads are still received into a local
 * temporary file first (sniffing, images and durations need a file).
 *
 * Sweeping without losing a blob whose row is committing at that moment
 * (see `sweepBlobs` in sweep.ts) takes both sides:
 *
 * - the sweeper takes a blob out of the way (`quarantine`: a rename to a
 *   trash name), then asks the database again whether a row names it; if
 *   one does now, it puts it back (`restore`), otherwise it deletes it
 *   (`purge`);
 * - the uploader links its blob (`commit`), commits its row, and only then
 *   `settle`s: if the blob is not in the store (a sweep took it between the
 *   link and the commit), it links it again from its temporary file, which
 *   it kept until now, and deletes the temporary file.
 *
 * Either the sweeper's second look sees the row (and restores), or the row
 * committed after that look, so after the rename, and the uploader's check,
 * which follows its commit, finds the blob missing and links it again. A blob
 * named by a committed row is therefore never gone once its upload has been
 * answered.
 */
export interface BlobStore {
  /**
   * Streams `source` into a new temporary file, hashing and counting, and
   * fsyncs it. More than `max` bytes: stops reading, deletes the file and
   * throws {@link TooMuch}. The temporary file is deleted on any failure.
   */
  receive(source: Readable, max: number, pace?: (bytes: number) => number): Promise<Staged>;
  /** Writes `bytes` (a processed picture, a thumbnail) to a temporary file, fsynced. */
  stage(bytes: Buffer): Promise<Staged>;
  /** Puts a staged file into the store under its hash; an identical blob already there is kept (and touched). */
  commit(staged: Staged): Promise<void>;
  /**
   * After the row naming `staged` committed: makes sure its blob is in the
   * store (linking it again if a sweep took it meanwhile), then deletes the
   * temporary file.
   */
  settle(staged: Staged): Promise<void>;
  /** Deletes a staged file (a refused or abandoned upload); the store is not touched. */
  discard(staged: Staged): Promise<void>;
  /** The size of a blob, or null when there is none. */
  stat(sha256: string): Promise<{ size: number } | null>;
  /** Reads a blob, or bytes `start` to `end` (inclusive) of it. */
  open(sha256: string, range?: { start: number; end: number }): Readable;
  /** Every blob in the store with when it was last written or touched. */
  list(): AsyncIterable<BlobInfo>;
  /** Takes a blob out of the store under a trash name; null when it is not there. */
  quarantine(sha256: string): Promise<string | null>;
  /** Puts a quarantined blob back. */
  restore(sha256: string, trash: string): Promise<void>;
  /** Deletes a quarantined blob for good. */
  purge(trash: string): Promise<void>;
  /** Deletes temporary files last written before `before` (uploads cut off, a natter killed); returns how many. */
  removeTemps(before: number): Promise<number>;
  /** Blobs a sweep quarantined before `before` and never decided on (it died): to restore or purge. */
  strays(before: number): Promise<{ sha256: string; trash: string }[]>;
}

/** A received or written file not yet in the store (or not yet settled). */
export type Staged = { path: string; sha256: string; size: number };

export type BlobInfo = { sha256: string; mtimeMs: number };

/** A body longer than allowed: `received` bytes had arrived when it was stopped. */
export class TooMuch extends Error {
  constructor(readonly received: number) {
    super(`more than the allowed bytes arrived (${received})`);
    this.name = 'TooMuch';
  }
}

const SHA256 = /^[0-9a-f]{64}$/;

/** Where a blob lives under a blob store's directory: `ab/cd/<sha256>` (backups keep the same layout). */
export function blobRelativePath(sha256: string): string {
  if (!SHA256.test(sha256)) throw new Error(`not a SHA-256: ${sha256}`);
  return join(sha256.slice(0, 2), sha256.slice(2, 4), sha256);
}

/** The file system's error code, if it is one. */
function codeOf(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | null)?.code;
}

/**
 * Blobs on a directory: `ab/cd/<sha256>`, with `tmp/` for uploads under way
 * and `trash/` for blobs a sweep is deciding about, all in one file system
 * so that links and renames are atomic. Directories are 0700 and files 0600,
 * as the data directory and the database are (db/index.ts): uploads are
 * private to the user natter runs as, whatever its umask.
 */
export class FsBlobStore implements BlobStore {
  readonly #tmp: string;
  readonly #trash: string;
  #ready: Promise<void> | null = null;

  constructor(readonly dir: string) {
    this.#tmp = join(dir, 'tmp');
    this.#trash = join(dir, 'trash');
  }

  /** Creates the directories on first use (a server that never stores a file leaves none). */
  #init(): Promise<void> {
    this.#ready ??= (async () => {
      for (const d of [this.dir, this.#tmp, this.#trash]) await mkdir(d, { recursive: true, mode: 0o700 });
    })().catch((err: unknown) => {
      this.#ready = null;
      throw err;
    });
    return this.#ready;
  }

  #pathOf(sha256: string): string {
    return join(this.dir, blobRelativePath(sha256));
  }

  #tempName(): string {
    return join(this.#tmp, randomBytes(16).toString('hex'));
  }

  async receive(source: Readable, max: number, pace: (bytes: number) => number = () => 0): Promise<Staged> {
    await this.#init();
    const path = this.#tempName();
    const file = await open(path, 'wx', 0o600);
    const hash = createHash('sha256');
    let size = 0;
    try {
      // Not `for await`: leaving that loop early destroys the request, and with it
      // the socket the refusal has to go out on. The source is paused while each
      // chunk is written: backpressure.
      await new Promise<void>((resolve, reject) => {
        let done = false;
        const finish = (err?: unknown) => {
          if (done) return;
          done = true;
          source.off('data', onData);
          source.off('end', onEnd);
          source.off('error', finish);
          source.off('close', onClose);
          if (err === undefined) resolve();
          else {
            source.pause();
            reject(err);
          }
        };
        const onData = (chunk: Buffer) => {
          size += chunk.length;
          if (size > max) return finish(new TooMuch(size));
          hash.update(chunk);
          source.pause();
          file.write(chunk).then(() => {
            // Over the natter's upload rate: this body waits its turn before reading on.
            const wait = pace(chunk.length);
            if (wait <= 0) {
              if (!done) source.resume();
            } else {
              setTimeout(() => {
                if (!done) source.resume();
              }, wait);
            }
          }, finish);
        };
        const onEnd = () => finish();
        const onClose = () => {
          if (!source.readableEnded) finish(new Error('the body was cut off before its end'));
        };
        source.on('data', onData);
        source.once('end', onEnd);
        source.once('error', finish);
        source.once('close', onClose);
        source.resume();
      });
      await file.sync();
      await file.close();
    } catch (err) {
      await file.close().catch(() => {});
      await rm(path, { force: true });
      throw err;
    }
    return { path, sha256: hash.digest('hex'), size };
  }

  async stage(bytes: Buffer): Promise<Staged> {
    await this.#init();
    const path = this.#tempName();
    const file = await open(path, 'wx', 0o600);
    try {
      await file.write(bytes);
      await file.sync();
      await file.close();
    } catch (err) {
      await file.close().catch(() => {});
      await rm(path, { force: true });
      throw err;
    }
    return { path, sha256: createHash('sha256').update(bytes).digest('hex'), size: bytes.length };
  }

  async commit(staged: Staged): Promise<void> {
    const target = this.#pathOf(staged.sha256);
    const parent = join(target, '..');
    await mkdir(parent, { recursive: true, mode: 0o700 });
    try {
      await link(staged.path, target);
    } catch (err) {
      if (codeOf(err) !== 'EEXIST') throw err;
      // Stored already: the same bytes. Touched, so a sweep's grace period starts again.
      const now = new Date();
      await utimes(target, now, now).catch((e: unknown) => {
        // Swept between the link and now: link ours.
        if (codeOf(e) !== 'ENOENT') throw e;
        return this.commit(staged);
      });
    }
    // The new name must survive a crash as the row that will name it does.
    await syncDir(parent);
  }

  async settle(staged: Staged): Promise<void> {
    if ((await this.stat(staged.sha256)) === null) await this.commit(staged);
    await rm(staged.path, { force: true });
  }

  async discard(staged: Staged): Promise<void> {
    await rm(staged.path, { force: true });
  }

  async stat(sha256: string): Promise<{ size: number } | null> {
    try {
      return { size: (await stat(this.#pathOf(sha256))).size };
    } catch (err) {
      if (codeOf(err) === 'ENOENT') return null;
      throw err;
    }
  }

  open(sha256: string, range?: { start: number; end: number }): Readable {
    return createReadStream(this.#pathOf(sha256), range ? { start: range.start, end: range.end } : {});
  }

  async *list(): AsyncIterable<BlobInfo> {
    for (const a of await listDir(this.dir)) {
      if (!/^[0-9a-f]{2}$/.test(a)) continue;
      for (const b of await listDir(join(this.dir, a))) {
        if (!/^[0-9a-f]{2}$/.test(b)) continue;
        for (const name of await listDir(join(this.dir, a, b))) {
          if (!SHA256.test(name) || !name.startsWith(a + b)) continue;
          try {
            const s = await stat(join(this.dir, a, b, name));
            yield { sha256: name, mtimeMs: s.mtimeMs };
          } catch (err) {
            if (codeOf(err) !== 'ENOENT') throw err;
          }
        }
      }
    }
  }

  async quarantine(sha256: string): Promise<string | null> {
    await this.#init();
    const trash = join(this.#trash, `${sha256}.${randomBytes(8).toString('hex')}`);
    try {
      await rename(this.#pathOf(sha256), trash);
      return trash;
    } catch (err) {
      if (codeOf(err) === 'ENOENT') return null;
      throw err;
    }
  }

  async restore(sha256: string, trash: string): Promise<void> {
    // An upload may have linked the same bytes again meanwhile: rename replaces them with themselves.
    await rename(trash, this.#pathOf(sha256));
  }

  async purge(trash: string): Promise<void> {
    await rm(trash, { force: true });
  }

  async removeTemps(before: number): Promise<number> {
    let n = 0;
    for (const name of await listDir(this.#tmp)) {
      const path = join(this.#tmp, name);
      try {
        if ((await stat(path)).mtimeMs < before) {
          await unlink(path);
          n++;
        }
      } catch (err) {
        if (codeOf(err) !== 'ENOENT') throw err;
      }
    }
    return n;
  }

  async strays(before: number): Promise<{ sha256: string; trash: string }[]> {
    const found: { sha256: string; trash: string }[] = [];
    for (const name of await listDir(this.#trash)) {
      const sha256 = name.split('.')[0] ?? '';
      if (!SHA256.test(sha256)) continue;
      const trash = join(this.#trash, name);
      try {
        // A rename keeps the blob's mtime but sets its ctime: the ctime says when it was quarantined.
        if ((await stat(trash)).ctimeMs < before) found.push({ sha256, trash });
      } catch (err) {
        if (codeOf(err) !== 'ENOENT') throw err;
      }
    }
    return found;
  }
}

/** The names in a directory; none when it does not exist. */
async function listDir(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (err) {
    if (codeOf(err) === 'ENOENT') return [];
    throw err;
  }
}

/** fsyncs a directory, so that a name just made in it is on disk. */
async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
