import { open } from 'node:fs/promises';
import { basename } from 'node:path';
import { formatBytes, type MediaClient, uploadFile } from '../client/media.js';
import type { Attachment, AttachmentPurpose } from '../protocol/index.js';
import { CliError, EXIT, isNatterError, usageError } from './errors.js';
import { progress } from './progress.js';
import { clean, connectionError } from './util.js';

// Files on the command line: checked before anything is sent (there, a
// directory, readable, not over the server's limit), uploaded with a progress
// line on a terminal, and every failure said in the words of the command.

/** A file given on the command line, checked. */
export type LocalFile = { path: string; name: string; size: number };

/** `(--file)` after a message, when the file came with an option. */
const from = (option: string | null) => (option ? ` (${option})` : '');

/** Local file problems in words, by Node's code. */
const WHY: Record<string, string> = {
  ENOENT: 'there is no such file',
  ENOTDIR: 'a part of the path is not a directory',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  ELOOP: 'too many symbolic links',
};

/**
 * Checks that `path` is a regular file this user can read, before anything
 * goes to the server: a usage error (exit 2) when it is missing, a directory
 * or unreadable.
 */
export async function checkFile(path: string, option: string | null): Promise<LocalFile> {
  let size: number;
  try {
    const handle = await open(path, 'r');
    try {
      const st = await handle.stat();
      if (st.isDirectory()) throw usageError(`${clean(path)} is a directory, not a file${from(option)}`);
      if (!st.isFile()) throw usageError(`${clean(path)} is not a regular file${from(option)}`);
      size = st.size;
    } finally {
      await handle.close();
    }
  } catch (err) {
    if (err instanceof CliError) throw err;
    const e = err as NodeJS.ErrnoException;
    // Opening a directory for reading works on some systems and fails with EISDIR on others.
    if (e.code === 'EISDIR') throw usageError(`${clean(path)} is a directory, not a file${from(option)}`);
    const why = (e.code && WHY[e.code]) ?? e.message;
    throw usageError(`cannot read ${clean(path)}: ${why}${from(option)}`);
  }
  return { path, name: basename(path), size };
}

/**
 * Checks checked files against the largest the server takes
 * (`hello.media.maxFileBytes`): `too_large` (exit 1) with that limit, before
 * a byte is uploaded. A server whose hello says nothing of files takes none.
 */
export function checkSizes(media: MediaClient, files: readonly LocalFile[], option: string | null): void {
  const max = media.hello?.media?.maxFileBytes;
  if (max === undefined) {
    throw new CliError(
      EXIT.refused,
      'unknown_op',
      'the server takes no files: it runs an older natter than this one; upgrade the server',
    );
  }
  for (const file of files) {
    if (file.size <= max) continue;
    throw new CliError(
      EXIT.refused,
      'too_large',
      `${clean(file.path)} is ${formatBytes(file.size)}; the server takes files of at most ${formatBytes(max)}${from(option)}`,
    );
  }
}

/** Uploads a checked file for `purpose`, with a progress line on a terminal; failures in words. */
export async function upload(
  media: MediaClient,
  file: LocalFile,
  purpose: AttachmentPurpose,
  server: string,
): Promise<Attachment> {
  const bar = progress('uploading', clean(file.name), file.size);
  try {
    return await uploadFile(media, file.path, { purpose, onProgress: (sent) => bar.update(sent) });
  } catch (err) {
    throw mediaFailure(err, server, `uploading ${clean(file.name)}`);
  } finally {
    bar.end();
  }
}

/** Local file problems that are about what was typed (exit 2); others (a full disk) exit 1. */
const USAGE_CODES = new Set(['ENOENT', 'ENOTDIR', 'EISDIR', 'EACCES', 'EPERM', 'EINVAL', 'ELOOP']);

/**
 * What a file function of the client library threw, as the CLI's error: the
 * server's refusals as they are (exit 1), a file that exists already (exit 2,
 * `exists`), other problems with local files (exit 2, or 1 for a full disk),
 * and anything on the way to the server (exit 4) with what was being done.
 */
export function mediaFailure(err: unknown, server: string, doing: string): unknown {
  if (err instanceof CliError || isNatterError(err)) return err;
  const e = err as Error & { code?: string };
  if (e.name === 'FileError') {
    if (e.code === 'EEXIST') return new CliError(EXIT.usage, 'exists', e.message);
    return USAGE_CODES.has(e.code ?? '') ? usageError(e.message) : new CliError(EXIT.refused, 'io', e.message);
  }
  if (e.name === 'CertificateError') return connectionError(server, err);
  const message = e instanceof Error ? e.message : String(err);
  return new CliError(EXIT.unreachable, 'unreachable', `${doing}: ${message}`);
}
