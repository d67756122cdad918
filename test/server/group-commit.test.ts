import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { ChatQueries } from '../../src/server/db/chat.js';
import { closeDb, type Db, openDb } from '../../src/server/db/index.js';
import { EventLog } from '../../src/server/store/sqlite/event-log.js';
import { SqliteWriter as Writer } from '../../src/server/store/sqlite/writer.js';
import { databaseAt } from '../helpers/old-database.js';
import { within } from '../helpers/wait.js';

const NOW = 1_800_000_000_000;

type World = { dir: string; db: Db; chat: ChatQueries; writer: Writer; events: EventLog; userId: string };

function world(): World {
  const dir = mkdtempSync(join(tmpdir(), 'natter-commit-'));
  const db = openDb(dir);
  const chat = new ChatQueries(db);
  const writer = new Writer(
    db,
    (err) => {
      throw err;
    },
    [chat.pending],
  );
  const events = new EventLog(db, () => {});
  const userId = 'u1';
  db.$client
    .prepare(
      'INSERT INTO users (id, username, username_key, password_hash, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)',
    )
    .run(userId, 'alice', 'alice', 'x', NOW, NOW);
  return { dir, db, chat, writer, events, userId };
}

/** A message row for `seq`, as `messages.send` writes it. */
function insert(w: World, conversationId: string, seq: number, nonce: string): void {
  w.chat.insertMessage({
    id: `m-${conversationId}-${nonce}`,
    conversationId,
    seq,
    authorId: w.userId,
    body: 'hi',
    createdAt: NOW,
    editedAt: null,
    deletedAt: null,
    nonce,
    kind: 'text',
    bot: false,
  });
}

function stored(w: World, conversationId: string): { lastSeq: number; seqs: number[]; lastRead: number } {
  const sqlite = w.db.$client;
  const conv = sqlite.prepare('SELECT last_seq FROM conversations WHERE id = ?').get(conversationId) as
    | { last_seq: number }
    | undefined;
  const seqs = sqlite
    .prepare('SELECT seq FROM messages WHERE conversation_id = ? ORDER BY seq')
    .all(conversationId)
    .map((r) => (r as { seq: number }).seq);
  const read = sqlite
    .prepare('SELECT last_read_seq FROM read_states WHERE user_id = ? AND conversation_id = ?')
    .get(w.userId, conversationId) as { last_read_seq: number } | undefined;
  return { lastSeq: conv?.last_seq ?? -1, seqs, lastRead: read?.last_read_seq ?? 0 };
}

describe('group commit: sequence numbers and read positions written once per batch', () => {
  let w: World;
  let convId: string;
  beforeEach(() => {
    w = world();
    convId = w.db.$client.transaction(() => w.chat.createConversation({ kind: 'group' }, NOW).id)();
  });
  afterEach(() => {
    closeDb(w.db);
    rmSync(w.dir, { recursive: true, force: true });
  });

  test('a job that rolls back gives its number back: seq stays gapless 1..n', async () => {
    const send = (nonce: string) =>
      w.writer.run(() => {
        const seq = w.chat.nextSeq(convId, NOW);
        insert(w, convId, seq, nonce);
        w.chat.markReadOnCommit(w.userId, convId, seq);
        return seq;
      });
    const failing = w.writer.run(() => {
      const seq = w.chat.nextSeq(convId, NOW);
      w.chat.markReadOnCommit(w.userId, convId, seq);
      throw new Error(`refused after taking ${seq}`);
    });
    // All queued in one turn: one batch.
    const results = await Promise.allSettled([send('a'), failing, send('b'), send('c')]);
    assert.deepEqual(
      results.map((r) => (r.status === 'fulfilled' ? r.value : 'rejected')),
      [1, 'rejected', 2, 3],
    );
    assert.equal(w.writer.stats.commits, 1);
    assert.deepEqual(stored(w, convId), { lastSeq: 3, seqs: [1, 2, 3], lastRead: 3 });
    // The next batch continues from what was committed.
    assert.equal(await send('d'), 4);
    assert.deepEqual(stored(w, convId), { lastSeq: 4, seqs: [1, 2, 3, 4], lastRead: 4 });
  });

  test('a rolled-back job at the end of a batch leaves neither its number nor its read position', async () => {
    const ok = w.writer.run(() => {
      const seq = w.chat.nextSeq(convId, NOW);
      insert(w, convId, seq, 'a');
      return seq;
    });
    const failing = w.writer.run(() => {
      const seq = w.chat.nextSeq(convId, NOW);
      insert(w, convId, seq, 'b');
      w.chat.markReadOnCommit(w.userId, convId, seq);
      throw new Error('refused');
    });
    await ok;
    await assert.rejects(failing, /refused/);
    assert.deepEqual(stored(w, convId), { lastSeq: 1, seqs: [1], lastRead: 0 });
  });

  test('later jobs of the same batch read the numbers and read positions not yet written', async () => {
    w.writer.run(() => {
      const seq = w.chat.nextSeq(convId, NOW + 5);
      insert(w, convId, seq, 'a');
      w.chat.markReadOnCommit(w.userId, convId, seq);
    });
    const seen = await w.writer.run(() => {
      const conv = w.chat.conversation(convId);
      return {
        lastSeq: conv?.lastSeq,
        lastMessageAt: conv?.lastMessageAt,
        lastRead: w.chat.lastRead(w.userId, convId),
      };
    });
    assert.deepEqual(seen, { lastSeq: 1, lastMessageAt: NOW + 5, lastRead: 1 });
    // A read position set explicitly, later in a batch, never goes backwards.
    w.writer.run(() => {
      const seq = w.chat.nextSeq(convId, NOW);
      insert(w, convId, seq, 'b');
      w.chat.markReadOnCommit(w.userId, convId, seq);
    });
    const explicit = await w.writer.run(() => w.chat.markRead(w.userId, convId, 1));
    assert.equal(explicit, 2);
    assert.equal(stored(w, convId).lastRead, 2);
  });

  test('a conversation deleted later in the batch drops its pending writes; the batch still commits', async () => {
    const sent = w.writer.run(() => {
      const seq = w.chat.nextSeq(convId, NOW);
      insert(w, convId, seq, 'a');
      w.chat.markReadOnCommit(w.userId, convId, seq);
      return seq;
    });
    const deleted = w.writer.run(() => w.chat.deleteConversation(convId));
    assert.equal(await sent, 1);
    await deleted;
    assert.equal(w.chat.conversation(convId), undefined);
    assert.equal(stored(w, convId).lastRead, 0);
  });

  test('a batch that SQLite rolls back as a whole leaves nothing pending for the next one', async () => {
    const taken = w.writer.run(() => {
      const seq = w.chat.nextSeq(convId, NOW);
      insert(w, convId, seq, 'a');
      w.chat.markReadOnCommit(w.userId, convId, seq);
      return seq;
    });
    // What SQLite does on disk full or an I/O error: the whole transaction is gone.
    const lost = w.writer.run(() => w.db.$client.exec('ROLLBACK'));
    await assert.rejects(taken);
    await assert.rejects(lost);
    assert.deepEqual(stored(w, convId), { lastSeq: 0, seqs: [], lastRead: 0 });
    const next = await w.writer.run(() => {
      const seq = w.chat.nextSeq(convId, NOW);
      insert(w, convId, seq, 'b');
      return seq;
    });
    assert.equal(next, 1);
    assert.deepEqual(stored(w, convId), { lastSeq: 1, seqs: [1], lastRead: 0 });
  });

  test('sequence numbers are handed out only inside a write batch', () => {
    assert.throws(() => w.chat.nextSeq(convId, NOW), /inside a write batch/);
    assert.throws(() => w.chat.markReadOnCommit(w.userId, convId, 1), /inside a write batch/);
  });
});

describe('event log: one audience in the event row, several in event_scopes', () => {
  let w: World;
  beforeEach(() => {
    w = world();
  });
  afterEach(() => {
    closeDb(w.db);
    rmSync(w.dir, { recursive: true, force: true });
  });

  test('replay finds both kinds, each from the event at which the user may see its scope', async () => {
    await w.writer.run((after) => {
      w.events.append(after, ['s:one'], 'member.left', { serverId: 'one', userId: 'x', reason: 'left' }, NOW);
      w.events.append(after, ['u:a', 'u:b', 'u:a'], 'server.deleted', { serverId: 'two' }, NOW);
      w.events.append(after, ['s:one'], 'member.left', { serverId: 'one', userId: 'y', reason: 'left' }, NOW);
      w.events.append(after, ['u:b'], 'server.deleted', { serverId: 'three' }, NOW);
    });
    const sqlite = w.db.$client;
    const ids = (sqlite.prepare('SELECT id FROM events ORDER BY id').all() as { id: number }[]).map((r) => r.id);
    assert.equal(ids.length, 4);
    assert.deepEqual(
      sqlite.prepare('SELECT id, scope FROM events ORDER BY id').all(),
      ids.map((id, i) => ({ id, scope: [`s:one`, null, 's:one', 'u:b'][i] })),
    );
    assert.deepEqual(sqlite.prepare('SELECT event_id, scope FROM event_scopes ORDER BY scope').all(), [
      { event_id: ids[1], scope: 'u:a' },
      { event_id: ids[1], scope: 'u:b' },
    ]);
    const cursorsOf = (scopes: [string, number][], cursor: number) =>
      w.events
        .replay(scopes, cursor, Number.MAX_SAFE_INTEGER, 100, Number.POSITIVE_INFINITY)
        .texts.map((t) => (JSON.parse(t) as { cursor: string }).cursor);
    const [e1, e2, e3, e4] = ids.map(String);
    assert.deepEqual(
      cursorsOf(
        [
          ['s:one', 0],
          ['u:b', 0],
        ],
        0,
      ),
      [e1, e2, e3, e4],
    );
    assert.deepEqual(cursorsOf([['u:a', 0]], 0), [e2]);
    // Joined the server after its first event; resumed from after the second.
    assert.deepEqual(
      cursorsOf(
        [
          ['s:one', ids[0] ?? 0],
          ['u:b', 0],
        ],
        0,
      ),
      [e2, e3, e4],
    );
    assert.deepEqual(
      cursorsOf(
        [
          ['s:one', 0],
          ['u:b', 0],
        ],
        ids[1] ?? 0,
      ),
      [e3, e4],
    );
    assert.equal(
      w.events.replay([['s:one', 0]], 0, Number.MAX_SAFE_INTEGER, 1, Number.POSITIVE_INFINITY).limited,
      true,
    );
    // Up to an id (what a node has delivered so far): nothing after it, and the head it reports is that id.
    const upTo = w.events.replay([['s:one', 0]], 0, ids[0] ?? 0, 100, Number.POSITIVE_INFINITY);
    assert.deepEqual(
      upTo.texts.map((t) => (JSON.parse(t) as { cursor: string }).cursor),
      [e1],
    );
    assert.equal(upTo.head, ids[0]);
  });
});

describe('migration 0003: events of one audience move into the event row', () => {
  test('existing events replay exactly as before', () => {
    const root = mkdtempSync(join(tmpdir(), 'natter-migrate-'));
    try {
      // A database as the previous release left it: migrations 0000-0002 only.
      const { sqlite, dataDir } = databaseAt(root, 2);
      const addEvent = sqlite.prepare('INSERT INTO events (payload, created_at) VALUES (?, ?) RETURNING id');
      const addScope = sqlite.prepare('INSERT INTO event_scopes (event_id, scope) VALUES (?, ?)');
      const payload = (n: number) => JSON.stringify({ event: 'server.deleted', data: { serverId: `s${n}` } });
      const one = (addEvent.get(payload(1), NOW) as { id: number }).id;
      addScope.run(one, 's:x');
      const two = (addEvent.get(payload(2), NOW) as { id: number }).id;
      addScope.run(two, 'u:a');
      addScope.run(two, 'u:b');
      const three = (addEvent.get(payload(3), NOW) as { id: number }).id;
      addScope.run(three, 'u:b');
      sqlite.close();

      const db = openDb(dataDir);
      try {
        assert.deepEqual(db.$client.prepare('SELECT id, scope FROM events ORDER BY id').all(), [
          { id: one, scope: 's:x' },
          { id: two, scope: null },
          { id: three, scope: 'u:b' },
        ]);
        assert.deepEqual(db.$client.prepare('SELECT event_id, scope FROM event_scopes ORDER BY scope').all(), [
          { event_id: two, scope: 'u:a' },
          { event_id: two, scope: 'u:b' },
        ]);
        const events = new EventLog(db, () => {});
        const replayed = (scopes: [string, number][]) =>
          events
            .replay(scopes, 0, Number.MAX_SAFE_INTEGER, 10, Number.POSITIVE_INFINITY)
            .texts.map((t) => (JSON.parse(t) as { data: { serverId: string } }).data.serverId);
        assert.deepEqual(
          replayed([
            ['s:x', 0],
            ['u:b', 0],
          ]),
          ['s1', 's2', 's3'],
        );
        assert.deepEqual(replayed([['u:a', 0]]), ['s2']);
        assert.equal(events.head(), three);
      } finally {
        closeDb(db);
      }
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('commit window', () => {
  let dir: string;
  let db: Db;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'natter-window-'));
    db = openDb(dir);
  });
  afterEach(() => {
    closeDb(db);
    rmSync(dir, { recursive: true, force: true });
  });

  const write = (writer: Writer) => writer.run(() => db.$client.prepare('SELECT 1').get());
  /** Lets the event loop go round once, timers and I/O included: a batch that is not held back commits. */
  const turn = () => new Promise((r) => setTimeout(r, 0)).then(() => new Promise((r) => setImmediate(r)));

  test('a write after a quiet spell commits at once, not after the window', async () => {
    // A window far longer than the test's deadline: a write that waited for it would time out.
    const writer = new Writer(db, () => {}, [], 10 * 60_000);
    await within(write(writer), 'the first write to commit without waiting for the 10-minute window');
    assert.equal(writer.stats.commits, 1);
  });

  test('writes that follow a commit within the window wait for it and share one commit', async () => {
    // The window is long enough that the turns below cannot outlast it, short enough to wait for.
    const writer = new Writer(db, () => {}, [], 3000);
    await write(writer);
    const a = write(writer);
    await turn();
    const b = write(writer);
    await turn();
    // Queued in different turns, both are still held back for the window.
    assert.deepEqual(writer.stats, { commits: 1, jobs: 1 });
    await within(Promise.all([a, b]), 'the held-back writes to commit when the window ends');
    assert.deepEqual(writer.stats, { commits: 2, jobs: 3 });
  });

  test('with no window, each turn of the event loop commits its own batch', async () => {
    const writer = new Writer(db, () => {}, [], 0);
    await write(writer);
    await write(writer);
    await Promise.all([write(writer), write(writer)]);
    assert.deepEqual(writer.stats, { commits: 3, jobs: 4 });
  });
});
