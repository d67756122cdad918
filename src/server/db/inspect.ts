import type Database from 'better-sqlite3';

/**
 * What a natter SQLite file holds, read through SQLite's own catalog: for the
 * tools that look inside one (natter migrate-data). The statements are
 * SQLite's alone, so they live beside the rest of its SQL.
 */

/** The names of the file's tables. */
export function tableNames(sqlite: Database.Database): Set<string> {
  return new Set(
    (sqlite.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map(
      (r) => r.name,
    ),
  );
}

/** The names of a table's columns, sorted. */
export function columnNames(sqlite: Database.Database, table: string): string[] {
  return (sqlite.prepare('SELECT name FROM pragma_table_info(?)').all(table) as { name: string }[])
    .map((c) => c.name)
    .sort();
}

/**
 * The newest event id SQLite handed out: AUTOINCREMENT's counter (its
 * `sqlite_sequence` row, which pruning leaves alone), or the largest id
 * stored should that row be missing. 0 when there was none.
 */
export function lastEventId(sqlite: Database.Database): number {
  const sequence = sqlite.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'events'").get() as
    | { seq: bigint | number }
    | undefined;
  const newest = sqlite.prepare('SELECT max(id) AS id FROM events').get() as { id: bigint | number | null };
  return Math.max(Number(sequence?.seq ?? 0), Number(newest.id ?? 0));
}
