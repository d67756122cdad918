import type { Command } from 'commander';
import { CliError, EXIT } from '../errors.js';
import { clean, fmtTime, table } from '../util.js';

/** `--data` and `--database`, as `natter serve` takes them (the same environment variables). */
export type AdminOptions = { data: string; database?: string };

/** An account as the admin commands print it with `--json`: never its password hash or keys. */
type Account = { id: string; username: string; displayName: string | null; createdAt: number };

/** The exit code of each way an admin command can fail. */
const EXITS = {
  usage: EXIT.usage,
  no_database: EXIT.usage,
  version: EXIT.refused,
  forbidden: EXIT.refused,
  not_found: EXIT.refused,
  refused: EXIT.refused,
  failed: EXIT.refused,
  unreachable: EXIT.unreachable,
} as const;

/**
 * Opens the server's own database (`--data`, or `--database`), runs `fn` on
 * it and closes it; an `InstanceAdminError` becomes the CLI's error with its
 * exit code.
 */
export async function withDatabase<T>(
  opts: AdminOptions,
  fn: (
    db: import('../../server/operators.js').InstanceDatabase,
    ops: typeof import('../../server/operators.js'),
  ) => Promise<T>,
): Promise<T> {
  const ops = await import('../../server/operators.js');
  try {
    // An empty NATTER_DATABASE is no setting, as for natter serve.
    const db = await ops.openInstanceDatabase({ dataDir: opts.data, database: opts.database || null });
    try {
      return await fn(db, ops);
    } finally {
      await db.close();
    }
  } catch (err) {
    if (err instanceof ops.InstanceAdminError) throw new CliError(EXITS[err.code], err.code, err.message);
    throw err;
  }
}

function account(user: Account): Account {
  return { id: user.id, username: user.username, displayName: user.displayName, createdAt: user.createdAt };
}

export function print(cmd: Command, json: unknown, human: string): void {
  process.stdout.write(`${cmd.optsWithGlobals().json ? JSON.stringify(json) : human}\n`);
}

/** `natter admin grant|revoke <username>`: makes someone an instance operator, or no longer one. */
export function change(operator: boolean) {
  return async (username: string, opts: AdminOptions, cmd: Command): Promise<void> => {
    await withDatabase(opts, async (db, ops) => {
      const { user, changed } = await ops.setOperator(db, username, operator);
      const name = clean(user.username);
      const human = changed
        ? operator
          ? `${name} is now an operator of this natter server`
          : `${name} is no longer an operator of this natter server`
        : operator
          ? `${name} is already an operator of this natter server; nothing changed`
          : `${name} is not an operator of this natter server; nothing changed`;
      print(cmd, { database: db.where, user: account(user), operator, changed }, human);
    });
  };
}

/** `natter admin list`: the instance operators, by name. */
export async function list(opts: AdminOptions, cmd: Command): Promise<void> {
  await withDatabase(opts, async (db, ops) => {
    const operators = (await ops.listOperators(db)).map(account);
    const human =
      operators.length === 0
        ? 'no operators: natter admin grant <username> names one'
        : table(
            ['USERNAME', 'DISPLAY NAME', 'CREATED', 'ID'],
            operators.map((u) => [u.username, u.displayName ?? '', fmtTime(u.createdAt), u.id]),
          );
    print(cmd, { database: db.where, operators }, human);
  });
}

/** `natter admin mail`: the mail outbox: how many mails wait, went and were given up, and the latest failures. */
export async function mail(opts: AdminOptions & { failures: number }, cmd: Command): Promise<void> {
  await withDatabase(opts, async (db, ops) => {
    const summary = await ops.outboxSummary(db, opts.failures);
    const counts = `${summary.pending} waiting, ${summary.sent} sent, ${summary.failed} given up (sent and given-up mail is kept for 7 days)`;
    const human =
      summary.failures.length === 0
        ? `${counts}\nno failures`
        : `${counts}\n\nlatest failures:\n${table(
            ['ID', 'KIND', 'TO', 'WRITTEN', 'TRIES', 'STATE', 'LAST ERROR'],
            summary.failures.map((f) => [
              String(f.id),
              f.kind,
              f.toAddress,
              fmtTime(f.createdAt),
              String(f.attempts),
              f.failedAt === null ? `retry ${fmtTime(f.nextAttemptAt)}` : `given up ${fmtTime(f.failedAt)}`,
              (f.lastError ?? '').replace(/\s+/g, ' ').slice(0, 120),
            ]),
          )}`;
    print(cmd, { database: db.where, ...summary }, human);
  });
}
