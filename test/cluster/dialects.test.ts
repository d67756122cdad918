import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type Database from 'better-sqlite3';
import pg from 'pg';
import { closeDb, openDb } from '../../src/server/db/index.js';
import { migratePostgres } from '../../src/server/store/postgres/migrate.js';
import { freshDatabase } from '../helpers/postgres.js';

/**
 * One schema, two dialects: a database migrated from empty by each dialect's
 * committed migrations (SQLite through `openDb`, as the server opens it;
 * PostgreSQL through `migratePostgres`) has the same tables, columns (name,
 * type family, nullability, whether it has a default), primary keys, indexes
 * (columns, uniqueness, partial or not), foreign keys, checks, views and
 * triggers, but for the differences listed below, each with its reason.
 */

/** A difference the dialects are meant to have, and why. */
type Allowed = { fact: string; reason: string };

const ALLOWED: Allowed[] = [
  {
    fact: 'table message_search',
    reason: "SQLite's full-text index is an FTS5 virtual table; PostgreSQL keeps the words in message_search_rows",
  },
  { fact: 'table message_search_config', reason: 'a table FTS5 keeps its index in' },
  { fact: 'table message_search_data', reason: 'a table FTS5 keeps its index in' },
  { fact: 'table message_search_idx', reason: 'a table FTS5 keeps its index in' },
  {
    fact: 'view message_search_text',
    reason: 'what the FTS5 index reads a message back through (highlights); PostgreSQL reads messages',
  },
  {
    fact: 'column message_search_rows.document',
    reason: "PostgreSQL's full-text index: the message's words, as a tsvector",
  },
  {
    fact: 'index message_search_rows.message_search_rows_document',
    reason: "PostgreSQL's full-text index: GIN over the words",
  },
  {
    fact: 'column messages.bot',
    reason: 'SQLite has no boolean type: drizzle stores a boolean as integer 0 or 1',
  },
  {
    fact: 'column held_messages.bot',
    reason: 'SQLite has no boolean type: drizzle stores a boolean as integer 0 or 1',
  },
  {
    fact: 'column automod_rules.enabled',
    reason: 'SQLite has no boolean type: drizzle stores a boolean as integer 0 or 1',
  },
  {
    fact: 'column users.operator',
    reason: 'SQLite has no boolean type: drizzle stores a boolean as integer 0 or 1',
  },
  {
    fact: 'table event_counter',
    reason:
      "PostgreSQL's event ids: a one-row counter whose row lock orders them by commit (a sequence would not); SQLite keeps its counter in sqlite_sequence",
  },
  {
    fact: 'table rate_buckets',
    reason:
      'the rate limits natters sharing a PostgreSQL database share; one natter on SQLite keeps its buckets in memory',
  },
  {
    fact: 'index events.events_scope',
    reason: "SQLite's index holds the rowid (events.id) after its columns; PostgreSQL's must name it to serve replay",
  },
];

/** Facts about a schema, by what they are about (`column users.id`) -> what they say (`text not null`). */
type Facts = Map<string, string>;

/** SQLite's INTEGER holds 64 bits: the family of a PostgreSQL bigint. */
function sqliteFamily(declared: string): string {
  const t = declared.toLowerCase();
  if (t === 'integer') return 'bigint';
  if (t === 'text') return 'text';
  return t === '' ? 'untyped' : t;
}

function postgresFamily(type: string): string {
  switch (type) {
    case 'text':
    case 'character varying':
      return 'text';
    case 'integer':
    case 'smallint':
      return 'integer';
    default:
      return type;
  }
}

function column(family: string, nullable: boolean, hasDefault: boolean): string {
  return `${family} ${nullable ? 'null' : 'not null'}${hasDefault ? ' default' : ''}`;
}

function sqliteFacts(sqlite: Database.Database): Facts {
  const facts: Facts = new Map();
  const objects = sqlite
    .prepare(
      `SELECT type, name, tbl_name AS tableName, sql FROM sqlite_master
        WHERE name NOT LIKE 'sqlite_%' AND name <> '__drizzle_migrations' ORDER BY name`,
    )
    .all() as { type: string; name: string; tableName: string; sql: string | null }[];
  for (const o of objects) {
    if (o.type === 'view') facts.set(`view ${o.name}`, 'exists');
    if (o.type === 'trigger') facts.set(`trigger ${o.tableName}.${o.name}`, 'exists');
    if (o.type !== 'table') continue;
    const t = o.name;
    facts.set(`table ${t}`, 'exists');
    const cols = sqlite.prepare('SELECT name, type, "notnull", dflt_value, pk FROM pragma_table_info(?)').all(t) as {
      name: string;
      type: string;
      notnull: number;
      dflt_value: string | null;
      pk: number;
    }[];
    for (const c of cols) {
      facts.set(`column ${t}.${c.name}`, column(sqliteFamily(c.type), c.notnull === 0, c.dflt_value !== null));
    }
    const pk = cols
      .filter((c) => c.pk > 0)
      .sort((a, b) => a.pk - b.pk)
      .map((c) => c.name);
    if (pk.length > 0) facts.set(`primary key ${t}`, pk.join(', '));
    const indexes = sqlite.prepare('SELECT name, "unique", origin, partial FROM pragma_index_list(?)').all(t) as {
      name: string;
      unique: number;
      origin: string;
      partial: number;
    }[];
    for (const i of indexes) {
      if (i.origin === 'pk') continue;
      const on = (
        sqlite.prepare('SELECT name FROM pragma_index_info(?) ORDER BY seqno').all(i.name) as { name: string }[]
      )
        .map((c) => c.name)
        .join(', ');
      facts.set(`index ${t}.${i.name}`, `${i.unique ? 'unique ' : ''}(${on})${i.partial ? ' partial' : ''}`);
    }
    const fks = sqlite
      .prepare('SELECT id, "table", "from", "to", on_delete FROM pragma_foreign_key_list(?) ORDER BY id, seq')
      .all(t) as { id: number; table: string; from: string; to: string; on_delete: string }[];
    for (const id of new Set(fks.map((f) => f.id))) {
      const parts = fks.filter((f) => f.id === id);
      const first = parts[0];
      if (!first) continue;
      facts.set(
        `foreign key ${t}(${parts.map((f) => f.from).join(', ')})`,
        `${first.table}(${parts.map((f) => f.to).join(', ')}) on delete ${first.on_delete.toLowerCase()}`,
      );
    }
    for (const m of (o.sql ?? '').matchAll(/CONSTRAINT\s+["`]?(\w+)["`]?\s+CHECK/gi)) {
      facts.set(`check ${t}.${m[1]}`, 'exists');
    }
  }
  return facts;
}

const ON_DELETE: Record<string, string> = {
  a: 'no action',
  r: 'restrict',
  c: 'cascade',
  n: 'set null',
  d: 'set default',
};

async function postgresFacts(client: pg.Pool): Promise<Facts> {
  const facts: Facts = new Map();
  const q = async <R extends pg.QueryResultRow>(text: string): Promise<R[]> => (await client.query<R>(text)).rows;

  for (const r of await q<{ name: string }>(
    "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
  )) {
    facts.set(`table ${r.name}`, 'exists');
  }
  for (const r of await q<{ name: string }>(
    "SELECT table_name AS name FROM information_schema.views WHERE table_schema = 'public'",
  )) {
    facts.set(`view ${r.name}`, 'exists');
  }
  for (const r of await q<{ tableName: string; name: string }>(
    `SELECT DISTINCT event_object_table AS "tableName", trigger_name AS name
       FROM information_schema.triggers WHERE trigger_schema = 'public'`,
  )) {
    facts.set(`trigger ${r.tableName}.${r.name}`, 'exists');
  }
  for (const c of await q<{ tableName: string; name: string; type: string; nullable: string; dflt: string | null }>(
    `SELECT c.table_name AS "tableName", c.column_name AS name, c.data_type AS type,
            c.is_nullable AS nullable, c.column_default AS dflt
       FROM information_schema.columns c JOIN information_schema.tables t USING (table_schema, table_name)
      WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'`,
  )) {
    facts.set(`column ${c.tableName}.${c.name}`, column(postgresFamily(c.type), c.nullable === 'YES', c.dflt !== null));
  }
  // Constraints and indexes, with their columns in order.
  for (const k of await q<{
    tableName: string;
    name: string;
    type: string;
    cols: string[];
    target: string;
    targetCols: string[];
    onDelete: string;
  }>(
    `SELECT rel.relname AS "tableName", con.conname AS name, con.contype AS type,
            ARRAY(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY k(n, i)
                  JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n ORDER BY k.i)::text[] AS cols,
            coalesce(ref.relname, '') AS target,
            ARRAY(SELECT a.attname FROM unnest(con.confkey) WITH ORDINALITY k(n, i)
                  JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n ORDER BY k.i)::text[] AS "targetCols",
            con.confdeltype AS "onDelete"
       FROM pg_constraint con
       JOIN pg_class rel ON rel.oid = con.conrelid
       JOIN pg_namespace ns ON ns.oid = rel.relnamespace
       LEFT JOIN pg_class ref ON ref.oid = con.confrelid
      WHERE ns.nspname = 'public'`,
  )) {
    if (k.type === 'p') facts.set(`primary key ${k.tableName}`, k.cols.join(', '));
    if (k.type === 'c') facts.set(`check ${k.tableName}.${k.name}`, 'exists');
    if (k.type === 'f') {
      facts.set(
        `foreign key ${k.tableName}(${k.cols.join(', ')})`,
        `${k.target}(${k.targetCols.join(', ')}) on delete ${ON_DELETE[k.onDelete] ?? k.onDelete}`,
      );
    }
  }
  for (const i of await q<{
    tableName: string;
    name: string;
    unique: boolean;
    partial: boolean;
    method: string;
    cols: string[];
  }>(
    `SELECT t.relname AS "tableName", ic.relname AS name, ix.indisunique AS unique,
            ix.indpred IS NOT NULL AS partial, am.amname AS method,
            ARRAY(SELECT a.attname FROM unnest(ix.indkey::int2[]) WITH ORDINALITY k(n, i)
                  JOIN pg_attribute a ON a.attrelid = ix.indrelid AND a.attnum = k.n ORDER BY k.i)::text[] AS cols
       FROM pg_index ix
       JOIN pg_class ic ON ic.oid = ix.indexrelid
       JOIN pg_class t ON t.oid = ix.indrelid
       JOIN pg_namespace ns ON ns.oid = t.relnamespace
       JOIN pg_am am ON am.oid = ic.relam
      WHERE ns.nspname = 'public' AND NOT ix.indisprimary`,
  )) {
    facts.set(
      `index ${i.tableName}.${i.name}`,
      `${i.unique ? 'unique ' : ''}(${i.cols.join(', ')})${i.partial ? ' partial' : ''}${i.method === 'btree' ? '' : ` using ${i.method}`}`,
    );
  }
  return facts;
}

/** The table a fact is about, if any: facts of a table one dialect lacks are that one difference. */
function tableOf(fact: string): string | undefined {
  const m = /^(?:column|index|trigger|check) (\w+)\.|^(?:primary key) (\w+)$|^foreign key (\w+)\(/.exec(fact);
  return m?.[1] ?? m?.[2] ?? m?.[3];
}

/** Every fact the two sides do not share, as a line that names the fact and what each side says. */
function differences(sqlite: Facts, postgres: Facts): Map<string, string> {
  const out = new Map<string, string>();
  const keys = [...new Set([...sqlite.keys(), ...postgres.keys()])].sort();
  for (const key of keys) {
    const a = sqlite.get(key);
    const b = postgres.get(key);
    if (a === b) continue;
    const table = tableOf(key);
    if (table !== undefined && sqlite.has(`table ${table}`) !== postgres.has(`table ${table}`)) continue;
    out.set(key, `${key}: SQLite ${a ?? '(none)'}, PostgreSQL ${b ?? '(none)'}`);
  }
  return out;
}

const cleanup: (() => Promise<void>)[] = [];
after(async () => {
  for (const step of cleanup.reverse()) await step();
});

test('both dialects migrate from empty to the same tables, columns, keys and indexes, but for the listed differences', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'natter-dialects-'));
  cleanup.push(async () => rmSync(dataDir, { recursive: true, force: true }));
  const db = openDb(dataDir);
  let sqlite: Facts;
  try {
    sqlite = sqliteFacts(db.$client);
  } finally {
    closeDb(db);
  }

  const database = await freshDatabase();
  cleanup.push(() => database.drop());
  const pool = new pg.Pool({ connectionString: database.url, max: 1 });
  // pool.end() resolves before its connections have closed: dropping the database then ends them with an error.
  pool.on('error', () => {});
  cleanup.push(() => pool.end());
  await migratePostgres(pool);
  const postgres = await postgresFacts(pool);

  // The comparison sees what matters: a sample of facts each side must state.
  for (const [facts, name] of [
    [sqlite, 'SQLite'],
    [postgres, 'PostgreSQL'],
  ] as const) {
    assert.equal(facts.get('column users.created_at'), 'bigint not null', name);
    assert.equal(facts.get('column messages.kind'), 'text not null default', name);
    assert.equal(facts.get('primary key event_scopes'), 'scope, event_id', name);
    assert.equal(facts.get('index conversations.conversations_channel_name'), 'unique (server_id, name) partial', name);
    assert.equal(facts.get('foreign key bans(banned_by)'), 'users(id) on delete no action', name);
    assert.equal(facts.get('check sessions.sessions_kind'), 'exists', name);
    assert.equal(facts.get('trigger messages.message_search_update'), 'exists', name);
  }

  const found = differences(sqlite, postgres);
  const allowed = new Set(ALLOWED.map((a) => a.fact));
  const unexpected = [...found].filter(([key]) => !allowed.has(key)).map(([, line]) => line);
  assert.deepEqual(unexpected, [], `differences between the dialects that are not listed:\n${unexpected.join('\n')}`);
  const stale = ALLOWED.filter((a) => !found.has(a.fact)).map((a) => a.fact);
  assert.deepEqual(stale, [], 'listed differences that no longer exist');
});
