import { downloadFile, formatBytes, streamFile } from '../../client/media.js';
import type { Attachment } from '../../protocol/index.js';
import { mediaFailure } from '../files.js';
import { progress } from '../progress.js';
import { act, isNatterError } from '../session.js';
import { CliError, clean, EXIT, usageError } from '../util.js';

/** The id in what was typed: an id, or a file's URL as messages carry it (`/media/v1/<id>/<name>`). */
function fileId(ref: string): string {
  const id = /\/media\/v1\/(?:thumbs\/)?([^/?#]+)/.exec(ref)?.[1] ?? ref.trim();
  if (id === '') throw usageError('give the id of a file (natter history shows them)');
  return id;
}

/**
 * `natter download <id> [-o PATH] [--force]`: the file under its own
 * (cleaned) name in the current directory, or at `-o PATH` (into it, when it
 * is a directory or ends in `/`), or on stdout with `-o -`. An existing file
 * is replaced only with `--force`; an interrupted download resumes from its
 * `.part`.
 */
export const download = act(async (ctx, ref: string) => {
  const o = ctx.opts as { output?: string; force?: boolean };
  const id = fileId(ref);
  const toStdout = o.output === '-';
  if (toStdout && ctx.g.json)
    throw usageError('-o - writes the file on stdout, where --json writes its document: use one');
  const media = await ctx.s.media();
  let attachment: Attachment;
  try {
    attachment = (await ctx.s.request('attachments.get', { attachmentId: id })).attachment;
  } catch (err) {
    if (isNatterError(err) && err.code === 'not_found') {
      throw new CliError(EXIT.refused, 'not_found', `there is no file ${clean(id)}, or none you can see`);
    }
    throw err;
  }
  const name = clean(attachment.name);
  const bar = progress('downloading', name, attachment.size);
  const onProgress = (n: number) => bar.update(n);
  try {
    if (toStdout) {
      await streamFile(media, attachment, process.stdout, { onProgress });
      return;
    }
    const saved = await downloadFile(media, attachment, o.output ?? '.', { force: o.force === true, onProgress });
    bar.end();
    ctx.out(
      { attachment, path: saved.path, bytes: saved.bytes },
      () => `saved ${name} (${formatBytes(saved.bytes)}, ${clean(attachment.type)}) as ${clean(saved.path)}`,
    );
  } catch (err) {
    const e = err as Error & { code?: string };
    if (e.name === 'FileError' && e.code === 'EEXIST') {
      throw new CliError(
        EXIT.usage,
        'exists',
        `${clean(e.message)}: add --force to replace it, or -o PATH to save it elsewhere`,
      );
    }
    const failure = mediaFailure(err, ctx.g.server, `downloading ${name}`);
    // What came so far is kept in the .part: the same command goes on from there.
    if (!toStdout && failure instanceof CliError && failure.exitCode === EXIT.unreachable) {
      throw new CliError(failure.exitCode, failure.code, `${failure.message}; run the same command again to resume`);
    }
    throw failure;
  } finally {
    bar.end();
  }
});
