/**
 * Files from the terminal app: uploads to the open conversation (and of a
 * profile picture), a file opened in the program the desktop opens it with,
 * a file saved to the download directory, and the thumbnails of previews.
 * Like the controller, it talks to the server and reports what happens as
 * actions: progress on the status line, outcomes (and failures, in words)
 * on the notice line.
 */
import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, stat } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { extname, join } from 'node:path';
import { isNatterError, plainMessage } from '../cli/errors.js';
import { downloadFile, fetchMedia, localFileName, uploadFile } from '../client/media.js';
import type { Natter } from '../client/natter.js';
import { newNonce } from '../client/natter.js';
import type { Attachment, AttachmentPurpose } from '../protocol/index.js';
import { errorText } from './controller.js';
import { colorDepth, PreviewCache, THUMBNAIL_MAX_BYTES } from './previews.js';
import { sanitize } from './sanitize.js';
import type { Action, Transfer } from './state.js';
import { formatBytes } from './view/attachments.js';

/** What the files side needs of its surroundings. */
export type FilesOptions = {
  /** The environment: `HOME`, `COLORTERM`, `NATTER_OPENER`. */
  env: Readonly<Record<string, string | undefined>>;
  /** config.json's `downloadDir` (null: ~/Downloads when it exists, else `cwd`). */
  downloadDir: string | null;
  /** The directory the app started in. */
  cwd: string;
  /** The platform, for the program that opens files (`open` on macOS, `xdg-open` elsewhere). */
  platform?: NodeJS.Platform;
};

/** `~` and `~/…` as the home directory. */
export function expandHome(path: string, home: string): string {
  if (path === '~') return home;
  return path.startsWith('~/') ? join(home, path.slice(2)) : path;
}

/** A path with the home directory shown as `~`, as people read it. */
export function tildePath(path: string, home: string): string {
  if (home === '' || home === '/') return path;
  if (path === home) return '~';
  return path.startsWith(`${home}/`) ? `~/${path.slice(home.length + 1)}` : path;
}

/** `name.ext`, then `name (1).ext`, `name (2).ext`…: the `n`-th name to try for a file that must not replace another. */
export function numberedName(name: string, n: number): string {
  if (n === 0) return name;
  const ext = extname(name);
  const stem = ext === '' || ext === name ? name : name.slice(0, -ext.length);
  return `${stem} (${n})${ext === name ? '' : ext}`;
}

/** Progress is reported at most this often (ms): a fast upload does not redraw the screen a thousand times. */
const PROGRESS_MS = 100;

export class Files {
  readonly pictures: PreviewCache;
  private readonly home: string;
  private tempDir: Promise<string> | null = null;
  private transfers = 0;

  constructor(
    readonly client: Natter,
    private readonly dispatch: (a: Action) => void,
    private readonly options: FilesOptions,
  ) {
    this.home = options.env.HOME ?? homedir();
    this.pictures = new PreviewCache({
      fetch: (url) => fetchMedia(client, url, { maxBytes: THUMBNAIL_MAX_BYTES }),
      depth: colorDepth(options.env),
    });
  }

  /** Where typed paths start: the home directory (`~`) and the directory the app started in. */
  get where(): { home: string; cwd: string } {
    return { home: this.home, cwd: this.options.cwd };
  }

  /** A path as typed (`~` expanded, relative to where the app started). */
  resolve(path: string): string {
    const expanded = expandHome(path, this.home);
    return expanded.startsWith('/') ? expanded : join(this.options.cwd, expanded);
  }

  /** A path to show: the home directory as `~`. */
  shown(path: string): string {
    return sanitize(tildePath(path, this.home), { multiline: false });
  }

  /**
   * Uploads the file at `path` and sends it to `conversationId` with
   * `caption` as its text: its progress on the status line, then the
   * message as one of mine being sent. False (and why on the notice line)
   * when the file did not go up: not there, too large for the server, over
   * a quota, the connection lost; the caller keeps the draft.
   */
  async upload(conversationId: string, path: string, caption: string): Promise<boolean> {
    const attachment = await this.put(path, 'message');
    if (!attachment) return false;
    const nonce = newNonce();
    const body = caption.trim();
    this.dispatch({
      type: 'pending',
      conversationId,
      nonce,
      body,
      kind: 'text',
      at: Date.now(),
      attachments: [attachment],
    });
    try {
      // Through the outbox, like any message: a connection lost meanwhile does not lose it.
      const message = await this.client.send({ conversationId }, body, nonce, 'text', [attachment.id]);
      this.dispatch({ type: 'sent', nonce, message });
    } catch (err) {
      // Held for review: posted if a moderator approves it; the line says so.
      if (isNatterError(err) && err.code === 'held')
        this.dispatch({ type: 'send-held', nonce, conversationId, note: plainMessage(err) });
      else this.dispatch({ type: 'send-failed', nonce, conversationId, error: errorText(err) });
    }
    return true;
  }

  /** `/avatar PATH`: the picture uploaded and made my profile picture; null removes it. */
  async setAvatar(path: string | null): Promise<boolean> {
    if (path === null) return this.profile(null, 'profile picture removed');
    const attachment = await this.put(path, 'avatar');
    if (!attachment) return false;
    return this.profile(attachment.id, `profile picture set from ${this.shown(this.resolve(path))}`);
  }

  private async profile(avatar: string | null, success: string): Promise<boolean> {
    try {
      await this.client.request('profile.update', { avatar });
      this.notice(success, 'info');
      return true;
    } catch (err) {
      this.notice(`the profile picture was not changed: ${errorText(err)}`, 'error');
      return false;
    }
  }

  /**
   * Opens a file in the program the desktop opens it with (`$NATTER_OPENER`,
   * else `xdg-open`, `open` on macOS): downloaded first to a directory of
   * this app's own that only I can read, then handed over, detached, its
   * output kept off the screen. What goes wrong is said in words.
   */
  async open(a: Attachment): Promise<boolean> {
    const name = sanitize(a.name, { multiline: false });
    let path: string;
    try {
      this.tempDir ??= mkdtemp(join(tmpdir(), 'natter-'));
      // A directory per file: two files of one name are both kept.
      const dir = join(await this.tempDir, a.id);
      const there = join(dir, localFileName(a));
      const kept = await stat(there).catch(() => null);
      if (!kept) await mkdir(dir, { recursive: true, mode: 0o700 });
      path =
        kept?.isFile() && kept.size === a.size
          ? there
          : (
              await this.transfer('download', a.name, a.size, (onProgress) =>
                downloadFile(this.client, a, `${dir}/`, { force: true, onProgress }),
              )
            ).path;
    } catch (err) {
      this.notice(`${name} could not be downloaded: ${errorText(err)}`, 'error');
      return false;
    }
    const opener = this.options.env.NATTER_OPENER?.trim();
    const program = opener || (this.options.platform === 'darwin' ? 'open' : 'xdg-open');
    return new Promise((done) => {
      // A configured opener is a command line of the user's own; the file's path reaches it as "$1",
      // never spliced into it, so no name can become shell syntax.
      const child = opener
        ? spawn('/bin/sh', ['-c', `${opener} "$1"`, 'natter-open', path], { detached: true, stdio: 'ignore' })
        : spawn(program, [path], { detached: true, stdio: 'ignore' });
      let answered = false;
      child.once('error', (err: NodeJS.ErrnoException) => {
        answered = true;
        this.notice(
          err.code === 'ENOENT'
            ? `cannot open ${name}: there is no ${program} here (set NATTER_OPENER to the program that opens files)`
            : `cannot open ${name}: ${err.message}`,
          'error',
        );
        done(false);
      });
      child.once('spawn', () => {
        if (answered) return;
        answered = true;
        this.notice(`opening ${name} with ${opener ? 'NATTER_OPENER' : program}`, 'info');
        done(true);
      });
      child.once('exit', (code) => {
        if (code !== null && code !== 0)
          this.notice(`${opener ? 'NATTER_OPENER' : program} could not open ${name} (exit status ${code})`, 'error');
      });
      child.unref();
    });
  }

  /** Where `s` saves files: config.json's `downloadDir`, else ~/Downloads when it exists, else where the app started. */
  downloadDir(): string {
    if (this.options.downloadDir !== null) return this.resolve(this.options.downloadDir);
    const downloads = join(this.home, 'Downloads');
    return existsSync(downloads) ? downloads : this.options.cwd;
  }

  /**
   * Saves a file to the download directory under its own name, never over
   * another: `cat.png`, else `cat (1).png`, `cat (2).png`… Says where it went.
   */
  async save(a: Attachment): Promise<string | null> {
    const name = sanitize(a.name, { multiline: false });
    const dir = this.downloadDir();
    const own = localFileName(a);
    try {
      for (let n = 0; n < 1000; n++) {
        const path = join(dir, numberedName(own, n));
        if (existsSync(path)) continue;
        try {
          const done = await this.transfer('download', a.name, a.size, (onProgress) =>
            downloadFile(this.client, a, path, { onProgress }),
          );
          this.notice(`saved ${name} to ${this.shown(done.path)} (${formatBytes(done.bytes)})`, 'info');
          return done.path;
        } catch (err) {
          // Another file took the name meanwhile: the next one.
          if ((err as { code?: unknown }).code === 'EEXIST') continue;
          throw err;
        }
      }
      throw new Error(`${this.shown(dir)} has ${own} and 999 numbered copies already`);
    } catch (err) {
      this.notice(`${name} was not saved: ${errorText(err)}`, 'error');
      return null;
    }
  }

  /**
   * Checks the file and the server's limit, then uploads it with its
   * progress on the status line: the stored file, or null with why on the
   * notice line.
   */
  private async put(typed: string, purpose: AttachmentPurpose): Promise<Attachment | null> {
    const path = this.resolve(typed);
    const shown = this.shown(path);
    const fail = (why: string) => {
      this.notice(`${shown} was not uploaded: ${why}`, 'error');
      return null;
    };
    const st = await stat(path).catch((err: NodeJS.ErrnoException) => err);
    if (st instanceof Error)
      return fail(
        st.code === 'ENOENT' ? 'there is no such file' : st.code === 'EACCES' ? 'permission denied' : st.message,
      );
    if (st.isDirectory()) return fail('it is a directory (upload the files in it one by one)');
    if (!st.isFile()) return fail('it is not a regular file');
    const media = this.client.hello?.media;
    if (this.client.state.status === 'connected' && !media) return fail('this server takes no files');
    if (media && st.size > media.maxFileBytes)
      return fail(
        `it is ${formatBytes(st.size)}, and this server takes files of up to ${formatBytes(media.maxFileBytes)}`,
      );
    const name = path.split('/').pop() ?? path;
    try {
      return await this.transfer('upload', name, st.size, (onProgress) =>
        uploadFile(this.client, path, { purpose, onProgress }),
      );
    } catch (err) {
      return fail(uploadError(err));
    }
  }

  /** Runs an upload or a download with its progress on the status line, off it when it ends, however it ends. */
  private async transfer<T>(
    kind: Transfer['kind'],
    name: string,
    total: number,
    run: (onProgress: (sent: number, total: number) => void) => Promise<T>,
  ): Promise<T> {
    const id = `${kind}:${++this.transfers}`;
    let last = 0;
    this.dispatch({ type: 'transfer', transfer: { id, kind, name, sent: 0, total } });
    try {
      return await run((sent, all) => {
        const now = Date.now();
        if (now - last < PROGRESS_MS && sent < all) return;
        last = now;
        this.dispatch({ type: 'transfer', transfer: { id, kind, name, sent, total: all } });
      });
    } finally {
      this.dispatch({ type: 'transfer-done', id });
    }
  }

  private notice(text: string, level: 'info' | 'error'): void {
    this.dispatch({ type: 'notice', text, level });
  }
}

/** An upload's failure in words: the server's limits say which and until when; a lost connection says so. */
function uploadError(err: unknown): string {
  if (isNatterError(err)) {
    if (err.code === 'too_large') return `too large: ${plainMessage(err)}`;
    if (err.code === 'quota_exceeded') return `over your allowance: ${plainMessage(err)}`;
    if (err.code === 'invalid_file') return `the server refused it: ${plainMessage(err)}`;
  }
  const code = (err as { code?: unknown }).code;
  if (code === 'ECONNREFUSED' || code === 'ECONNRESET' || code === 'EPIPE' || code === 'ETIMEDOUT')
    return `the connection to the server was lost (${code}); try again`;
  return errorText(err);
}

/** Whether `path` is a regular file (what a pasted path must be to be offered for upload). */
export function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}
