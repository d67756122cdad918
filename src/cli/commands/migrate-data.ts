import type { Command } from 'commander';
import { CliError, EXIT } from '../errors.js';

/** Tables of at least this many rows report their progress on stderr, every {@link PROGRESS_EVERY_MS} at most. */
const PROGRESS_FROM = 10_000;
const PROGRESS_EVERY_MS = 2000;

/**
 * `natter migrate-data --from DIR --to URL`: the SQLite installation in DIR
 * into the empty PostgreSQL database URL, in one transaction, checked before
 * it commits.
 */
export async function migrateDataCommand(opts: { from: string; to: string }, cmd: Command): Promise<void> {
  const { migrateData, MigrateDataError } = await import('../../server/store/migrate-data.js');
  const json = cmd.optsWithGlobals().json === true;
  // The first signal rolls the copy back at its next batch; a second one leaves at once (PostgreSQL rolls back a
  // transaction whose connection ends).
  const abort = new AbortController();
  const onSignal = () => {
    if (abort.signal.aborted) process.exit(1);
    abort.abort();
    process.stderr.write('natter: stopping: rolling the copy back (again to leave at once)\n');
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let shownAt = performance.now();
  try {
    const s = await migrateData({
      from: opts.from,
      to: opts.to,
      signal: abort.signal,
      onProgress: (table, done, total) => {
        const now = performance.now();
        if (total < PROGRESS_FROM || done >= total || now - shownAt < PROGRESS_EVERY_MS) return;
        shownAt = now;
        process.stderr.write(`natter: ${table}: ${done} of ${total} rows (${Math.floor((100 * done) / total)}%)\n`);
      },
    });
    if (json) {
      process.stdout.write(`${JSON.stringify(s)}\n`);
      return;
    }
    const width = Math.max(...s.tables.map((t) => t.table.length), 'message_search_rows'.length);
    const digits = Math.max(...s.tables.map((t) => String(t.rows).length), String(s.eventCounter).length);
    const line = (name: string, n: number, note = '') =>
      `  ${name.padEnd(width)}  ${String(n).padStart(digits)}${note ? `  ${note}` : ''}\n`;
    const applied = s.migrations.length > 0 ? `, after applying ${s.migrations.length} PostgreSQL migrations` : '';
    process.stdout.write(
      `moved ${s.from} into ${s.to} in ${(s.ms / 1000).toFixed(1)} s${applied}; rows per table:\n` +
        s.tables.map((t) => line(t.table, t.rows)).join('') +
        line('message_search_rows', s.searchRows, "(the search index, made by PostgreSQL's triggers)") +
        line('event_counter', s.eventCounter, '(the newest event id: new events continue after it)') +
        'verified: PostgreSQL holds as many rows in each table as SQLite did\n',
    );
  } catch (err) {
    if (!(err instanceof MigrateDataError)) throw err;
    const exit = err.code === 'usage' ? EXIT.usage : err.code === 'unreachable' ? EXIT.unreachable : EXIT.refused;
    throw new CliError(exit, err.code, err.message);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
