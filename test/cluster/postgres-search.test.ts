import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { migratePostgres } from '../../src/server/store/postgres/migrate.js';
import { freshDatabase } from '../helpers/postgres.js';

/**
 * The PostgreSQL full-text index (drizzle/postgres/0001_message_search.sql)
 * follows `messages` as SQLite's FTS5 index does (test/server/search.test.ts
 * shows that one through the protocol): a message is indexed as it is
 * written, an edit replaces its words, a deletion and a cascade take it out;
 * case and accents do not matter.
 */

let pool: pg.Pool;
const cleanup: (() => Promise<void>)[] = [];
before(async () => {
  const db = await freshDatabase();
  cleanup.push(() => db.drop());
  pool = new pg.Pool({ connectionString: db.url, max: 1 });
  // pool.end() resolves before its connections have closed: dropping the database then ends them with an error.
  pool.on('error', () => {});
  cleanup.push(() => pool.end());
  await migratePostgres(pool);
  await pool.query(`
    INSERT INTO users (id, username, username_key, password_hash, created_at, updated_at)
      VALUES ('ann', 'Ann', 'ann', 'x', 1, 1), ('bob', 'Bob', 'bob', 'x', 1, 1);
    INSERT INTO servers (id, name, owner_id, created_at, updated_at) VALUES ('srv', 'Town', 'ann', 1, 1);
    INSERT INTO conversations (id, kind, server_id, name, created_at) VALUES ('chan', 'channel', 'srv', 'general', 1);
    INSERT INTO conversations (id, kind, dm_key, created_at) VALUES ('dm', 'dm', 'ann:bob', 1);`);
});
after(async () => {
  for (const step of cleanup.reverse()) await step();
});

/** The messages whose words match `query` (web search syntax), newest key first, with their scope. */
async function found(query: string): Promise<string[]> {
  const r = await pool.query<{ message_id: string; scope: string }>(
    `SELECT message_id, scope FROM message_search_rows
      WHERE document @@ websearch_to_tsquery('natter_search', $1) ORDER BY key DESC`,
    [query],
  );
  return r.rows.map((row) => `${row.message_id} ${row.scope}`);
}

async function send(id: string, conversation: string, seq: number, body: string): Promise<void> {
  await pool.query(
    `INSERT INTO messages (id, conversation_id, seq, author_id, body, created_at) VALUES ($1, $2, $3, 'ann', $4, $3)`,
    [id, conversation, seq, body],
  );
}

test('a message is indexed as it is stored, under its audience, accents and case folded', async () => {
  await send('m1', 'chan', 1, 'Ancient CAFÉ notes');
  await send('m2', 'dm', 1, 'a naïve café in the old town');
  assert.deepEqual(await found('cafe'), ['m2 c:dm', 'm1 s:srv'], 'newest first');
  assert.deepEqual(await found('NAIVE'), ['m2 c:dm']);
  assert.deepEqual(await found('ancient notes'), ['m1 s:srv'], 'every word must match');
  assert.deepEqual(await found('missing'), []);
});

test('a run of Chinese or Japanese characters is found anywhere in a message, as a phrase of its characters', async () => {
  await send('m9', 'chan', 9, '日本語のテキストです');
  // The query side spaces the characters as the index does; <-> keeps them next to each other.
  const phrase = async (text: string) => {
    const r = await pool.query<{ message_id: string }>(
      `SELECT message_id FROM message_search_rows
        WHERE document @@ phraseto_tsquery('natter_search', natter_search_text($1))`,
      [text],
    );
    return r.rows.map((row) => row.message_id);
  };
  assert.deepEqual(await phrase('テキスト'), ['m9'], 'in the middle');
  assert.deepEqual(await phrase('日本語'), ['m9'], 'at the start');
  assert.deepEqual(await phrase('テスト'), [], 'the characters, not in that order');
});

test('an edit replaces the words; a deletion takes the message out, and so does its conversation going', async () => {
  await send('e1', 'chan', 2, 'first draft');
  await pool.query(`UPDATE messages SET body = 'final wording', edited_at = 5 WHERE id = 'e1'`);
  assert.deepEqual(await found('draft'), [], 'the old words are gone');
  assert.deepEqual(await found('wording'), ['e1 s:srv']);

  await pool.query(`UPDATE messages SET body = '', deleted_at = 6 WHERE id = 'e1'`);
  assert.deepEqual(await found('wording'), []);
  const left = await pool.query(`SELECT 1 FROM message_search_rows WHERE message_id = 'e1'`);
  assert.equal(left.rowCount, 0, 'its row is gone');

  await send('d1', 'dm', 2, 'goodbye words');
  assert.deepEqual(await found('goodbye'), ['d1 c:dm']);
  await pool.query(`DELETE FROM conversations WHERE id = 'dm'`);
  assert.deepEqual(await found('goodbye'), [], 'the cascade took it out');
  assert.deepEqual(await found('naive'), []);
  assert.deepEqual(await found('ancient'), ['m1 s:srv'], 'the channel keeps its own');
});

test('a message stored already deleted is not indexed', async () => {
  await pool.query(
    `INSERT INTO messages (id, conversation_id, seq, author_id, body, created_at, deleted_at)
       VALUES ('x1', 'chan', 3, 'ann', 'hidden words', 7, 7)`,
  );
  assert.deepEqual(await found('hidden'), []);
});
