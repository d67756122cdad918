/**
 * File names as uploaders send them, made safe to show and to save: only the
 * last path segment (`/` and `\` both split), no control, format or bidi
 * characters, no leading dots or trailing dots and spaces (Windows drops
 * them), at most {@link NAME_MAX_BYTES} bytes of UTF-8 with the extension
 * kept. A name with nothing left becomes `file`.
 */
export const NAME_MAX_BYTES = 200;

/** Characters never kept in a name: C0/C1 controls, DEL, bidi controls, zero-width and other format characters. */
const UNSAFE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\u{FFFD}]/gu;

/** Characters Windows refuses in names, replaced so a file saved anywhere keeps its name. */
const RESERVED = /[<>:"|?*]/g;

export function safeFileName(raw: string): string {
  const last = raw.normalize('NFC').split(/[/\\]/).pop() ?? '';
  let name = last.replace(UNSAFE, '').replace(RESERVED, '_').replace(/\s+/g, ' ').trim();
  name = name.replace(/^\.+/, '').replace(/[. ]+$/, '');
  if (name === '') return 'file';
  if (Buffer.byteLength(name, 'utf8') <= NAME_MAX_BYTES) return name;
  const dot = name.lastIndexOf('.');
  const ext = dot > 0 && name.length - dot <= 16 ? name.slice(dot) : '';
  const stem = [...name.slice(0, name.length - ext.length)];
  while (stem.length > 0 && Buffer.byteLength(stem.join('') + ext, 'utf8') > NAME_MAX_BYTES) stem.pop();
  return (stem.join('').trimEnd() || 'file') + ext;
}

/** The extension of a name, lower-cased, without its dot (`''` when none). */
export function extensionOf(name: string): string {
  const dot = name.lastIndexOf('.');
  return dot > 0 ? name.slice(dot + 1).toLowerCase() : '';
}
