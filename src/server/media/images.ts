import { Worker } from 'node:worker_threads';
import sharp, { type Metadata, type Sharp } from 'sharp';
import { NatterError } from '../../protocol/index.js';

// One thread per image inside libvips, and no cache: every image is new.
sharp.concurrency(1);
sharp.cache(false);

/**
 * Runs jobs one at a time, in order. sharp's `concurrency` is the threads of
 * one image; each sharp call still takes one of libuv's four pool threads,
 * which file reads and writes (every download, every upload's temporary
 * file) share. Images go through this queue: one decode at a time, three
 * pool threads left for files, whatever a burst of uploads asks.
 */
class Queue {
  #tail: Promise<unknown> = Promise.resolve();
  run<T>(job: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(job, job);
    this.#tail = result.catch(() => {});
    return result;
  }
}

const images = new Queue();

/** Longest side of a message image's thumbnail, in pixels. */
export const THUMB_MAX = 512;

/** Side of a profile picture or server icon, in pixels. */
export const PICTURE_SIZE = 256;

/**
 * An image's width and height from its header alone, as shown (EXIF
 * orientation applied). Larger than `maxPixels` (width × height) is refused
 * here, before anything is decoded: a 100 000 × 100 000 PNG of a few hundred
 * bytes would otherwise ask for 40 GB. Null when the header cannot be read.
 */
export async function imageSize(path: string, maxPixels: number): Promise<{ width: number; height: number } | null> {
  let meta: Metadata;
  try {
    meta = await images.run(() => sharp(path, { limitInputPixels: false }).metadata());
  } catch {
    return null;
  }
  const width = meta.autoOrient?.width ?? meta.width;
  const height = meta.autoOrient?.height ?? meta.height;
  if (!width || !height) return null;
  if (width * height > maxPixels) {
    throw new NatterError(
      'invalid_file',
      `this image is ${width} × ${height} pixels; natter takes images of at most ${(maxPixels / 1e6).toLocaleString('en')} megapixels`,
    );
  }
  return { width, height };
}

/** The decoder for an image already checked by {@link imageSize}: the pixel limit again, as a second guard. */
function decoder(path: string, maxPixels: number): Sharp {
  return sharp(path, { limitInputPixels: maxPixels, failOn: 'error' }).autoOrient();
}

/**
 * A WebP of at most {@link THUMB_MAX} pixels on its longest side (never
 * enlarged), first frame of an animation. sharp writes no metadata unless
 * asked: EXIF (GPS included), XMP and ICC profiles are gone. Null when the
 * image cannot be decoded (the file is still stored, without a thumbnail).
 */
export async function thumbnail(path: string, maxPixels: number): Promise<Buffer | null> {
  try {
    return await images.run(() =>
      decoder(path, maxPixels)
        .resize(THUMB_MAX, THUMB_MAX, { fit: 'inside', withoutEnlargement: true })
        .webp({ quality: 80 })
        .toBuffer(),
    );
  } catch {
    return null;
  }
}

/**
 * A profile picture or server icon: the image cropped to a square from its
 * middle and scaled to {@link PICTURE_SIZE}, as WebP without metadata. What
 * is stored is this, never the upload: an avatar is shown to everyone, and
 * the original could carry where it was taken. An image that cannot be
 * decoded is refused.
 */
export async function picture(path: string, maxPixels: number): Promise<Buffer> {
  try {
    return await images.run(() =>
      decoder(path, maxPixels)
        .resize(PICTURE_SIZE, PICTURE_SIZE, { fit: 'cover', position: 'centre' })
        .webp({ quality: 85 })
        .toBuffer(),
    );
  } catch {
    throw new NatterError('invalid_file', 'this image could not be read (it is damaged or cut short); send another');
  }
}

/** How long the length of one audio or video file may take to find before it is given up (left out). */
export const PROBE_MS = 5_000;

// The probe runs in a worker thread of its own, so that a file crafted to
// make the parser scan forever (an MP3 of nothing but frame syncs takes
// minutes) is stopped after PROBE_MS: the worker is terminated, which stops
// the work, not just the waiting. Plain CommonJS run with `eval` (like the
// password and checkpoint workers), loading music-metadata (ESM) by URL.
const MUSIC_METADATA_URL = import.meta.resolve('music-metadata');
const PROBE_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
import(workerData.url)
  .then((mm) => mm.parseFile(workerData.path, { duration: true, skipCovers: true }))
  .then((m) => parentPort.postMessage(m.format.duration ?? null), () => parentPort.postMessage(null));
`;

const probes = new Queue();

/**
 * Length of an audio or video file in milliseconds, or null when it cannot
 * be told within {@link PROBE_MS}. One probe at a time.
 */
export function durationOf(path: string, limitMs = PROBE_MS): Promise<number | null> {
  return probes.run(
    () =>
      new Promise<number | null>((resolve) => {
        const worker = new Worker(PROBE_SOURCE, { eval: true, workerData: { url: MUSIC_METADATA_URL, path } });
        const done = (seconds: unknown) => {
          clearTimeout(timer);
          void worker.terminate();
          resolve(
            typeof seconds === 'number' && Number.isFinite(seconds) && seconds >= 0 ? Math.round(seconds * 1000) : null,
          );
        };
        const timer = setTimeout(() => done(null), limitMs);
        worker.once('message', done);
        worker.once('error', () => done(null));
        worker.once('exit', () => done(null));
      }),
  );
}
