import assert from 'node:assert/strict';
import { test } from 'node:test';
import { getTableName, is } from 'drizzle-orm';
import { getTableConfig, PgTable } from 'drizzle-orm/pg-core';
import { copyPlan, countMismatches, describeMismatches, MADE_NOT_COPIED } from '../../src/server/store/migrate-data.js';
import * as postgresSchema from '../../src/server/store/postgres/schema.js';

// The plan and the check of `natter migrate-data`, without a database (the moves: test/cluster/migrate-data.test.ts).

const tables = Object.values(postgresSchema).filter((v) => is(v, PgTable));

test('the copy covers every table of the PostgreSQL schema, or says how the table is made instead', () => {
  const copied = copyPlan().map((t) => t.name);
  const all = tables.map((t) => getTableName(t)).sort();
  assert.deepEqual([...copied, ...Object.keys(MADE_NOT_COPIED)].sort(), all);
  assert.equal(new Set(copied).size, copied.length, 'each table once');
  for (const t of copyPlan()) {
    const config = getTableConfig(tables.find((x) => getTableName(x) === t.name) as PgTable);
    assert.deepEqual(
      t.columns.map((c) => c.name),
      config.columns.map((c) => c.name),
      `every column of ${t.name}`,
    );
  }
});

test('the copy puts every table after the tables its foreign keys point at', () => {
  const order = copyPlan().map((t) => t.name);
  for (const table of tables) {
    const config = getTableConfig(table);
    if (config.name in MADE_NOT_COPIED) continue;
    for (const fk of config.foreignKeys) {
      const parent = getTableName(fk.reference().foreignTable);
      assert.ok(order.indexOf(parent) < order.indexOf(config.name), `${parent} before ${config.name}`);
    }
  }
  assert.ok(order.indexOf('conversations') < order.indexOf('messages'), 'the search triggers read conversations');
});

test('messages are read in the order of their search keys, those without one first', () => {
  const messages = copyPlan().find((t) => t.name === 'messages');
  assert.equal(messages?.sources.length, 2);
  assert.match(messages?.sources[0] ?? '', /WHERE NOT EXISTS \(SELECT 1 FROM message_search_rows/);
  assert.match(messages?.sources[1] ?? '', /ORDER BY r\.key$/);
});

test('countMismatches lists each table whose count differs, or that is missing, in the order expected', () => {
  const expected = new Map([
    ['users', 3],
    ['messages', 10],
    ['read_states', 4],
    ['event_counter', 120],
  ]);
  assert.deepEqual(countMismatches(expected, new Map(expected)), []);
  const found = new Map([
    ['users', 3],
    ['messages', 9],
    ['event_counter', 0],
  ]);
  const mismatches = countMismatches(expected, found);
  assert.deepEqual(mismatches, [
    { table: 'messages', expected: 10, found: 9 },
    { table: 'read_states', expected: 4, found: null },
    { table: 'event_counter', expected: 120, found: 0 },
  ]);
  assert.equal(
    describeMismatches(mismatches),
    'messages: 10 in SQLite, 9 in PostgreSQL; read_states: 4 in SQLite, no such table in PostgreSQL; event_counter: 120 in SQLite, 0 in PostgreSQL',
  );
});
