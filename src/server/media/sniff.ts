import { createReadStream } from 'node:fs';
import { fileTypeFromFile } from 'file-type';
import { NatterError } from '../../protocol/index.js';
import { extensionOf } from './names.js';

/**
 * What a file is, found in its content: never taken from its name or from
 * the uploader, who are only checked against it.
 */
export type Sniffed = {
  /** The MIME type recorded and shown to clients. */
  type: string;
  /** How it was found: by a signature in its bytes, as UTF-8 text (typed by its extension), or not at all. */
  by: 'signature' | 'text' | 'unknown';
};

const OCTET = 'application/octet-stream';

/** Text files by extension: valid UTF-8 with one of these is typed so (the rest of text is text/plain). */
const TEXT_TYPES: Record<string, string> = {
  html: 'text/html',
  htm: 'text/html',
  xhtml: 'application/xhtml+xml',
  svg: 'image/svg+xml',
  md: 'text/markdown',
  markdown: 'text/markdown',
  csv: 'text/csv',
  tsv: 'text/tab-separated-values',
  json: 'application/json',
  xml: 'application/xml',
  css: 'text/css',
  js: 'text/javascript',
  mjs: 'text/javascript',
  ics: 'text/calendar',
  vtt: 'text/vtt',
};

/**
 * Extensions that claim a type found by its signature, with the signatures
 * (file-type's `ext`) each accepts. A name with one of these whose content
 * is something else (`photo.png` holding a ZIP) is refused: a client that
 * trusts the name would open it with the wrong program.
 */
const CLAIMS: Record<string, readonly string[]> = {
  png: ['png', 'apng'],
  apng: ['apng', 'png'],
  jpg: ['jpg'],
  jpeg: ['jpg'],
  jfif: ['jpg'],
  gif: ['gif'],
  webp: ['webp'],
  avif: ['avif'],
  heic: ['heic'],
  heif: ['heic'],
  tif: ['tif'],
  tiff: ['tif'],
  bmp: ['bmp'],
  ico: ['ico', 'cur'],
  pdf: ['pdf'],
  zip: ['zip'],
  gz: ['gz'],
  tgz: ['gz'],
  bz2: ['bz2'],
  xz: ['xz'],
  zst: ['zst'],
  '7z': ['7z'],
  rar: ['rar'],
  tar: ['tar'],
  mp3: ['mp3'],
  flac: ['flac'],
  wav: ['wav'],
  ogg: ['ogg', 'oga', 'ogv', 'opus', 'spx', 'ogx'],
  oga: ['ogg', 'oga', 'opus', 'spx'],
  opus: ['opus', 'ogg'],
  m4a: ['m4a', 'mp4', 'm4b'],
  mp4: ['mp4', 'm4v', 'm4a', 'mov'],
  m4v: ['m4v', 'mp4'],
  mov: ['mov', 'mp4'],
  webm: ['webm', 'mkv'],
  mkv: ['mkv', 'webm'],
  avi: ['avi'],
  exe: ['exe'],
  docx: ['docx', 'zip'],
  xlsx: ['xlsx', 'zip'],
  pptx: ['pptx', 'zip'],
  odt: ['odt', 'zip'],
  ods: ['ods', 'zip'],
  epub: ['epub', 'zip'],
  jar: ['jar', 'zip'],
  apk: ['apk', 'zip'],
};

/** The pictures a profile picture or server icon may be made from. */
export const PICTURE_TYPES: ReadonlySet<string> = new Set([
  'image/png',
  'image/jpeg',
  'image/webp',
  'image/gif',
  'image/avif',
]);

/** The images natter reads dimensions from and makes thumbnails of. */
export const IMAGE_TYPES: ReadonlySet<string> = new Set([...PICTURE_TYPES, 'image/tiff']);

/**
 * Extensions of files a browser or desktop runs or renders as a page:
 * content of any other kind under such a name (a GIF that is also a script,
 * saved as `poly.html`) would run when saved and opened. Text content is
 * kept (it is served as a download, as its type says).
 */
const ACTIVE = new Set([
  'html',
  'htm',
  'xhtml',
  'xht',
  'shtml',
  'svg',
  'xml',
  'xsl',
  'xslt',
  'js',
  'mjs',
  'hta',
  'swf',
  'mht',
  'mhtml',
]);

/** Names people and programs give one type, as the one file-type says. */
const ALIASES: Record<string, string> = {
  'image/jpg': 'image/jpeg',
  'image/pjpeg': 'image/jpeg',
  'audio/mp3': 'audio/mpeg',
  'audio/x-mp3': 'audio/mpeg',
  'audio/x-wav': 'audio/wav',
  'audio/wave': 'audio/wav',
  'audio/vnd.wave': 'audio/wav',
  'audio/x-flac': 'audio/flac',
};

/** Sniffs the file at `path`, named `name`. */
export async function sniff(path: string, name: string): Promise<Sniffed & { ext: string | null }> {
  const found = await fileTypeFromFile(path).catch(() => undefined);
  // XML and other text formats file-type knows are text: typed by their extension like the rest.
  if (found && !found.mime.startsWith('text/') && found.ext !== 'xml') {
    return { type: found.mime, by: 'signature', ext: found.ext };
  }
  if (await isText(path)) return { type: TEXT_TYPES[extensionOf(name)] ?? 'text/plain', by: 'text', ext: null };
  return { type: OCTET, by: 'unknown', ext: null };
}

/**
 * Valid UTF-8 with no NULs and no control characters but tab, line feed,
 * carriage return and form feed (a BOM is fine). Read in chunks: a 10 MiB
 * file is never held whole.
 */
export async function isText(path: string): Promise<boolean> {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  try {
    for await (const chunk of createReadStream(path)) {
      const text = decoder.decode(chunk as Buffer, { stream: true });
      if (/[\u0000-\u0008\u000B\u000E-\u001F\u007F]/.test(text)) return false;
    }
    decoder.decode();
    return true;
  } catch {
    return false;
  }
}

/** A MIME type's family: `image`, `audio`, `video`, `text`, … (audio and video count as one: containers hold both). */
function family(type: string): string {
  const major = type.split('/')[0] ?? '';
  return major === 'video' ? 'audio' : major;
}

/**
 * Refuses a file whose name or stated type contradicts its content, with
 * `invalid_file`: an extension that claims a type found by signature which
 * the content is not, or a stated image, audio, video or text type for
 * content of another kind (application types are not compared: `application/ogg`
 * for Vorbis is as right as `audio/ogg`). Text is whatever UTF-8 text the
 * content is, whatever its extension says.
 */
export function assertConsistent(
  sniffed: Sniffed & { ext: string | null },
  name: string,
  declared: string | null,
  empty = false,
): void {
  const ext = extensionOf(name);
  if (empty && (CLAIMS[ext] || (declared !== null && declared !== OCTET && family(declared) !== 'text'))) {
    throw new NatterError('invalid_file', `${name} is empty: there is no ${ext ? `.${ext}` : declared} file in it`);
  }
  if (ACTIVE.has(ext) && sniffed.by === 'signature') {
    throw new NatterError(
      'invalid_file',
      `${name} is named .${ext} (a page or script) but its content is ${describe(sniffed)}; rename it or send the right file`,
    );
  }
  const claims = CLAIMS[ext];
  if (claims && !(sniffed.ext !== null && claims.includes(sniffed.ext))) {
    throw new NatterError(
      'invalid_file',
      `${name} is named .${ext} but its content is ${describe(sniffed)}; rename it or send the right file`,
    );
  }
  if (declared === null || declared === OCTET) return;
  const stated = ALIASES[declared] ?? declared;
  const kind = family(stated);
  if (!['image', 'audio', 'text'].includes(kind)) return;
  const actual = sniffed.by === 'text' ? 'text' : family(sniffed.type);
  if (actual !== kind || (kind === 'image' && sniffed.by === 'signature' && stated !== sniffed.type)) {
    throw new NatterError(
      'invalid_file',
      `${name} was said to be ${declared} but its content is ${describe(sniffed)}; send it without a type, or with the right one`,
    );
  }
}

/** A profile picture or server icon must be a PNG, JPEG, WebP, GIF or AVIF. */
export function assertPicture(sniffed: Sniffed, purpose: 'avatar' | 'server-icon'): void {
  if (PICTURE_TYPES.has(sniffed.type)) return;
  throw new NatterError(
    'invalid_file',
    `a ${purpose === 'avatar' ? 'profile picture' : 'server icon'} must be a PNG, JPEG, WebP, GIF or AVIF image; this file is ${describe(sniffed)}`,
  );
}

/** What a file was found to be, in words. */
function describe(sniffed: Sniffed): string {
  if (sniffed.by === 'unknown') return 'not a type natter recognises';
  if (sniffed.by === 'text') return 'text';
  return sniffed.type;
}

/**
 * Whether a type is shown in place (`Content-Disposition: inline`): images
 * but SVG (which can carry scripts), audio, video and plain text. Everything
 * else is served as a download of `application/octet-stream`, so that no
 * upload is ever a page on the server's origin.
 */
export function isInline(type: string): boolean {
  if (type === 'image/svg+xml') return false;
  return type.startsWith('image/') || type.startsWith('audio/') || type.startsWith('video/') || type === 'text/plain';
}
