import { closeSync, existsSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { allPages, patiently } from '../../client/pages.js';
import { act } from '../session.js';
import { CliError, clean, EXIT, type PasswordOptions, readPassword, saveCredential, usageError } from '../util.js';

/** The export file's format; a reader checks it before anything else. */
export const EXPORT_FORMAT = 1;

/** Messages asked for per page of the export (the server also stops a page at about 256 KiB). */
const MESSAGES_PER_PAGE = 1000;

/** Asks for a line on the terminal (stderr), visible: the username typed to confirm. */
async function askLine(question: string): Promise<string> {
  const { createInterface } = await import('node:readline');
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return await new Promise<string>((done, fail) => {
      rl.on('SIGINT', () => {
        process.stderr.write('\n');
        fail(new CliError(130, 'interrupted', 'interrupted'));
      });
      rl.on('close', () => done(''));
      rl.question(question, (answer) => done(answer.trim()));
    });
  } finally {
    rl.close();
  }
}

/**
 * `natter account delete [--yes] [--password-stdin]`: on a terminal it asks
 * for the username, typed out, then the password; without one it needs
 * --yes and reads the password from stdin (or NATTER_PASSWORD).
 */
export const remove = act(async (ctx) => {
  const opts = ctx.opts as PasswordOptions & { yes?: boolean };
  const terminal = process.stdin.isTTY === true;
  if (!opts.yes && !terminal) {
    throw usageError(
      'deleting your account cannot be undone, and there is no terminal to ask on: add --yes to confirm (the password is read from stdin)',
    );
  }
  const { user } = await ctx.s.request('whoami', {});
  if (!opts.yes) {
    process.stderr.write(
      `This deletes the account ${clean(user.username)} for good: its profile, sessions, bot tokens, memberships and uploads.\n`,
    );
    const typed = await askLine('Type your username to confirm: ');
    if (typed.replace(/^@/, '') !== user.username) {
      throw new CliError(EXIT.refused, 'cancelled', `that is not ${clean(user.username)}; the account is kept`);
    }
  }
  const envSet = (process.env.NATTER_PASSWORD ?? '') !== '';
  const password = await readPassword(
    { passwordStdin: opts.passwordStdin === true || (!terminal && !envSet) },
    { prompt: 'Password', envVar: 'NATTER_PASSWORD' },
  );
  const res = await ctx.s.request('account.delete', { password });
  // The session went with the account: forget its token.
  saveCredential(ctx.g.configDir, ctx.g.server, null);
  ctx.out({ deleted: true, username: user.username, ...res }, () =>
    res.deletedMessages === 'keep'
      ? `account ${clean(user.username)} deleted; the messages it wrote stay, shown as written by "deleted user"`
      : `account ${clean(user.username)} deleted, with the ${res.messagesRemoved} message(s) it wrote`,
  );
});

/** Writes JSON text to a file descriptor, or to stdout. */
type Sink = { write(text: string): void };

/**
 * `natter account export -o FILE|- [--force]`: everything the server holds
 * about the caller, as one JSON document, written to a temporary file
 * beside FILE (mode 0600) and renamed over it once complete: a file
 * that exists is never half-written, and one already there is kept
 * unless --force.
 */
export const exportAccount = act(async (ctx) => {
  const opts = ctx.opts as { output?: string; force?: boolean };
  const output = opts.output;
  if (output === undefined || output === '')
    throw usageError('say where to write the export: -o FILE, or -o - for stdout');
  const toStdout = output === '-';
  const target = toStdout ? '' : resolve(output);
  if (!toStdout && existsSync(target) && !opts.force) {
    throw new CliError(EXIT.refused, 'exists', `${target} already exists: add --force to replace it`);
  }
  if (!toStdout && !existsSync(dirname(target))) {
    throw usageError(`${dirname(target)} does not exist: create the folder first`);
  }
  const temp = toStdout ? '' : join(dirname(target), `.${basename(target)}.${process.pid}.part`);
  let fd: number | null = null;
  const sink: Sink = toStdout
    ? { write: (text) => process.stdout.write(text) }
    : {
        write: (text) => {
          writeSync(fd as number, text);
        },
      };
  if (!toStdout) fd = openSync(temp, 'wx', 0o600);
  let messages = 0;
  try {
    const request = ctx.s.request.bind(ctx.s);
    const { profile } = await patiently(() => request('account.export', { part: 'profile' }));
    const { settings } = await patiently(() => request('settings.get', {}));
    const { sessions } = await patiently(() => request('sessions.list', {}));
    const { tokens } = await patiently(() => request('tokens.list', {}));
    const servers = await allPages(async (after) => {
      const r = await request('servers.list', { after });
      return { items: r.servers, next: r.next };
    });
    const groups = await allPages(async (after) => {
      const r = await request('groups.list', { after });
      return { items: r.groups, next: r.next };
    });
    const dms = await allPages(async (after) => {
      const r = await request('dms.list', { after });
      return { items: r.dms, next: r.next };
    });
    const blocks = await allPages(async (after) => {
      const r = await request('blocks.list', { after });
      return { items: r.blocks, next: r.next };
    });
    const uploads = await allPages(async (after) => {
      const r = await request('account.export', { part: 'uploads', after });
      return { items: r.uploads, next: r.next };
    });
    const reports = await allPages(async (after) => {
      const r = await request('account.export', { part: 'reports', after });
      return { items: r.reports, next: r.next };
    });
    const head = {
      format: EXPORT_FORMAT,
      exportedAt: Date.now(),
      server: ctx.g.server,
      profile: profile && { ...profile, settings },
      sessions,
      botTokens: tokens,
      servers: servers.map((s) => ({
        id: s.id,
        name: s.name,
        role: s.role,
        ownerId: s.ownerId,
        createdAt: s.createdAt,
      })),
      groups: groups.map((g) => ({ id: g.id, name: g.name, members: g.members, createdAt: g.createdAt })),
      dms: dms.map((d) => ({ conversationId: d.id, peer: d.peer })),
      blocks,
      uploads,
      reports,
    };
    // The messages go last, a page at a time, straight to the file: 100,000 of them never sit in memory at once.
    const opening = JSON.stringify(head);
    sink.write(`${opening.slice(0, -1)},"messages":[`);
    let after: string | undefined;
    for (;;) {
      const cursor = after;
      const page = await patiently(() =>
        request('account.export', { part: 'messages', after: cursor, limit: MESSAGES_PER_PAGE }),
      );
      for (const m of page.messages) {
        sink.write(`${messages === 0 ? '' : ','}\n${JSON.stringify(m)}`);
        messages++;
      }
      if (page.next === null) break;
      after = page.next;
    }
    sink.write(']}\n');
    if (fd !== null) {
      fsyncSync(fd);
      closeSync(fd);
      fd = null;
      renameSync(temp, target);
    }
  } catch (err) {
    if (fd !== null) closeSync(fd);
    if (!toStdout) rmSync(temp, { force: true });
    throw err;
  }
  if (!toStdout) {
    ctx.out({ file: target, messages, format: EXPORT_FORMAT }, () => `wrote ${target} (${messages} message(s))`);
  }
});
