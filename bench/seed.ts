/**
 * Writes N messages straight into a conversation of a natter data directory
 * (the server must not be running), for history benchmarks.
 *
 *   node --import tsx bench/seed.ts --data DIR --conversation ID [--messages 1000000]
 *
 * Authors are the conversation's members, in turn; bodies are 75 bytes;
 * timestamps are one second apart and end now; seq continues from the
 * conversation's last one. Rows go in through the same schema the server
 * migrates to, 100,000 per transaction.
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { closeDb, openDb } from '../src/server/db/index.js';

const { values } = parseArgs({
  options: {
    data: { type: 'string' },
    conversation: { type: 'string' },
    messages: { type: 'string', default: '1000000' },
  },
});
if (!values.data || !values.conversation) {
  console.error('usage: bench/seed.ts --data DIR --conversation ID [--messages N]');
  process.exit(2);
}
const total = Number(values.messages);
const db = openDb(values.data);
const sqlite = db.$client;
const conv = sqlite
  .prepare('SELECT id, kind, server_id AS serverId, last_seq AS lastSeq FROM conversations WHERE id = ?')
  .get(values.conversation) as { id: string; kind: string; serverId: string | null; lastSeq: number } | undefined;
if (!conv) {
  console.error(`no conversation ${values.conversation} in ${values.data}`);
  process.exit(1);
}
const authors = (
  conv.kind === 'channel'
    ? sqlite.prepare('SELECT user_id AS id FROM members WHERE server_id = ? ORDER BY joined_at').all(conv.serverId)
    : sqlite.prepare('SELECT user_id AS id FROM conversation_members WHERE conversation_id = ?').all(conv.id)
) as { id: string }[];
if (authors.length === 0) {
  console.error('the conversation has no members to write as');
  process.exit(1);
}

const insert = sqlite.prepare(
  'INSERT INTO messages (id, conversation_id, seq, author_id, body, created_at) VALUES (?, ?, ?, ?, ?, ?)',
);
const bump = sqlite.prepare('UPDATE conversations SET last_seq = ?, last_message_at = ? WHERE id = ?');
const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-';
/** A random 21-character id like the server's. */
function id(): string {
  const bytes = randomBytes(21);
  let s = '';
  for (const b of bytes) s += alphabet[b & 63];
  return s;
}

const t0 = Date.now();
const end = Date.now();
// Seeding is not a durability test: let the OS flush.
sqlite.pragma('synchronous = OFF');
const batch = sqlite.transaction((from: number, to: number) => {
  for (let n = from; n < to; n++) {
    const seq = conv.lastSeq + n + 1;
    const author = authors[n % authors.length]?.id ?? '';
    const head = `seeded message ${seq} `;
    insert.run(id(), conv.id, seq, author, head + '.'.repeat(Math.max(0, 75 - head.length)), end - (total - n) * 1000);
  }
  bump.run(conv.lastSeq + to, end - (total - to) * 1000, conv.id);
});
for (let from = 0; from < total; from += 100_000) {
  batch(from, Math.min(total, from + 100_000));
  process.stderr.write(`\r${Math.min(total, from + 100_000)} / ${total}`);
}
sqlite.pragma('synchronous = FULL');
closeDb(db);
process.stderr.write(`\nseeded ${total} messages into ${conv.id} in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
