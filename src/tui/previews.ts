/**
 * Image previews for the message list: thumbnails fetched from the server,
 * decoded and scaled with sharp to the cells a preview takes, kept in
 * memory within a bound. The list asks for a preview while it lays out its
 * rows; what is not here yet is fetched, and whoever subscribed is told
 * when it arrives (the list then draws it in the rows it had kept for it).
 */
import type { ColorDepth, PictureSource, Pixels, PreviewState } from './view/attachments.js';

/** Fetches a thumbnail's bytes (`fetchMedia` with the session's token). */
export type ThumbnailFetcher = (url: string) => Promise<Buffer>;

/** The largest thumbnail taken (the server's are WebP of at most 512 px: far smaller). */
export const THUMBNAIL_MAX_BYTES = 2 * 1024 * 1024;

/** Fetches under way at once: a screen of pictures comes in a few at a time, not all in one burst. */
const CONCURRENT = 3;

/** A failed preview is tried again after this long (the connection may be back). */
const RETRY_MS = 30_000;

/**
 * The colours the terminal takes, from its environment: 24-bit when
 * `COLORTERM` says `truecolor` or `24bit` (as terminals that have them set
 * it), else the 256 of xterm's palette.
 */
export function colorDepth(env: Readonly<Record<string, string | undefined>>): ColorDepth {
  const c = (env.COLORTERM ?? '').toLowerCase();
  return c === 'truecolor' || c === '24bit' ? 'truecolor' : '256';
}

/**
 * Decodes an image (a WebP thumbnail, a PNG, anything sharp reads) to
 * `cols` × `rows * 2` RGB pixels, transparency laid on black.
 */
export async function decodePixels(image: Buffer, cols: number, rows: number): Promise<Pixels> {
  const { default: sharp } = await import('sharp');
  const { data, info } = await sharp(image)
    .flatten({ background: '#000000' })
    .resize(cols, rows * 2, { fit: 'fill' })
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.channels !== 3 || info.width !== cols || info.height !== rows * 2)
    throw new Error(`the picture decoded as ${info.width}×${info.height}×${info.channels}`);
  return { cols, rows, rgb: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

type Entry = { state: PreviewState; failedAt?: number };

/**
 * Previews by thumbnail and size, in memory: at most `maxPreviews` decoded
 * ones and `maxBytes` of fetched thumbnails (the least recently used go
 * first), so scrolling through a long conversation of pictures holds a
 * bounded amount.
 */
export class PreviewCache implements PictureSource {
  private readonly previews = new Map<string, Entry>();
  private readonly thumbnails = new Map<string, Buffer>();
  private thumbnailBytes = 0;
  private readonly fetching = new Map<string, Promise<Buffer>>();
  private readonly queue: (() => Promise<void>)[] = [];
  private running = 0;
  private readonly listeners = new Set<() => void>();
  private changes = 0;
  private announced = false;
  private readonly fetchThumbnail: ThumbnailFetcher;
  private readonly maxPreviews: number;
  private readonly maxBytes: number;
  readonly depth: ColorDepth;

  constructor(options: { fetch: ThumbnailFetcher; depth: ColorDepth; maxPreviews?: number; maxBytes?: number }) {
    this.fetchThumbnail = options.fetch;
    this.depth = options.depth;
    this.maxPreviews = options.maxPreviews ?? 400;
    this.maxBytes = options.maxBytes ?? 16 * 1024 * 1024;
  }

  /** Bumped whenever a preview arrives or fails (for React's `useSyncExternalStore`). */
  readonly version = (): number => this.changes;

  readonly subscribe = (fn: () => void): (() => void) => {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  };

  /** The preview of `url` at `cols` × `rows`: here, on its way (fetched now if it was not), or failed and why. */
  preview(url: string, cols: number, rows: number): PreviewState {
    const key = `${cols}x${rows} ${url}`;
    const found = this.previews.get(key);
    if (found && !(found.failedAt !== undefined && Date.now() - found.failedAt > RETRY_MS)) {
      // Used: it moves to the back of the eviction order.
      this.previews.delete(key);
      this.previews.set(key, found);
      return found.state;
    }
    const entry: Entry = { state: { kind: 'loading' } };
    this.previews.set(key, entry);
    this.evict();
    this.schedule(async () => {
      try {
        const image = await this.thumbnail(url);
        entry.state = { kind: 'ready', pixels: await decodePixels(image, cols, rows) };
      } catch (err) {
        entry.state = { kind: 'failed', error: err instanceof Error ? err.message : String(err) };
        entry.failedAt = Date.now();
      }
      this.changed();
    });
    return entry.state;
  }

  /** How many previews and thumbnail bytes are held (for the bound's tests). */
  get size(): { previews: number; thumbnailBytes: number } {
    return { previews: this.previews.size, thumbnailBytes: this.thumbnailBytes };
  }

  /** A thumbnail's bytes: kept from before, being fetched, or fetched now. */
  private thumbnail(url: string): Promise<Buffer> {
    const kept = this.thumbnails.get(url);
    if (kept) return Promise.resolve(kept);
    let under = this.fetching.get(url);
    if (!under) {
      under = this.fetchThumbnail(url).then(
        (buf) => {
          this.fetching.delete(url);
          this.keep(url, buf);
          return buf;
        },
        (err: unknown) => {
          this.fetching.delete(url);
          throw err;
        },
      );
      this.fetching.set(url, under);
    }
    return under;
  }

  private keep(url: string, buf: Buffer): void {
    this.thumbnails.set(url, buf);
    this.thumbnailBytes += buf.length;
    for (const [u, b] of this.thumbnails) {
      if (this.thumbnailBytes <= this.maxBytes) break;
      this.thumbnails.delete(u);
      this.thumbnailBytes -= b.length;
    }
  }

  private evict(): void {
    for (const [k, e] of this.previews) {
      if (this.previews.size <= this.maxPreviews) break;
      // One still loading stays: its fetch will fill it in.
      if (e.state.kind !== 'loading') this.previews.delete(k);
      else break;
    }
  }

  private schedule(job: () => Promise<void>): void {
    this.queue.push(job);
    this.pump();
  }

  private pump(): void {
    while (this.running < CONCURRENT) {
      const job = this.queue.shift();
      if (!job) return;
      this.running++;
      void job().finally(() => {
        this.running--;
        this.pump();
      });
    }
  }

  /** Listeners hear of arrivals once per turn of the event loop, however many came in it. */
  private changed(): void {
    this.changes++;
    if (this.announced) return;
    this.announced = true;
    setImmediate(() => {
      this.announced = false;
      for (const fn of this.listeners) fn();
    });
  }
}
