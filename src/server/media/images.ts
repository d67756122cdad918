import { parseFile } from 'music-metadata';
import sharp, { type Metadata, type Sharp } from 'sharp';
import { NatterError } from '../../protocol/index.js';

// One image at a time on libvips' threads: decoding runs off the event loop,
// and a burst of uploads cannot take every core (or the memory of many large
// images at once) from message delivery. No cache: every image is new.
sharp.concurrency(1);
sharp.cache(false);

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
    meta = await sharp(path, { limitInputPixels: false }).metadata();
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
    return await decoder(path, maxPixels)
      .resize(THUMB_MAX, THUMB_MAX, { fit: 'inside', withoutEnlargement: true })
      .webp({ quality: 80 })
      .toBuffer();
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
    return await decoder(path, maxPixels)
      .resize(PICTURE_SIZE, PICTURE_SIZE, { fit: 'cover', position: 'centre' })
      .webp({ quality: 85 })
      .toBuffer();
  } catch (err) {
    throw new NatterError(
      'invalid_file',
      `this image could not be read (${err instanceof Error ? err.message.split('\n')[0] : 'damaged'}); send another`,
    );
  }
}

/** Length of an audio or video file in milliseconds, or null when it cannot be told. */
export async function durationOf(path: string): Promise<number | null> {
  try {
    const { format } = await parseFile(path, { duration: true, skipCovers: true });
    const seconds = format.duration;
    return seconds !== undefined && Number.isFinite(seconds) && seconds >= 0 ? Math.round(seconds * 1000) : null;
  } catch {
    return null;
  }
}
