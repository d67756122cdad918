import pg from 'pg';
import { NatterError } from '../../src/protocol/index.js';
import type { MessageRow } from '../../src/server/db/schema.js';
import type { Scope } from '../../src/server/event-log.js';
import type { AfterCommit, StoredEvent, TxStores } from '../../src/server/store/port.js';
import { pgTypes } from '../../src/server/store/postgres/sql.js';
import {
  openPostgresStore,
  type PostgresStore,
  type PostgresStoreOptions,
} from '../../src/server/store/postgres/store.js';
import type { TestDatabase } from './postgres.js';

/** A PostgreSQL store of a test, with the events it published, in order. */
export type TestStore = { store: PostgresStore; published: StoredEvent[] };

/**
 * Opens (migrating) a store on `db` that records what it publishes; `cleanup`
 * gets its closing. Statements may run for a minute unless the test sets its
 * own timeout: a busy machine must not turn a lock wait into `unavailable`.
 */
export async function openTestStore(
  db: TestDatabase,
  cleanup: (() => Promise<void>)[],
  options: Partial<PostgresStoreOptions> = {},
): Promise<TestStore> {
  const published: StoredEvent[] = [];
  const store = await openPostgresStore(db.url, {
    publish: (e) => published.push(e),
    statementTimeoutMs: 60_000,
    ...options,
  });
  cleanup.push(() => store.close());
  return { store, published };
}

/** A pool of the test's own on `db` (int8 read as numbers), to look at the tables and the server's sessions. */
export function testPool(db: TestDatabase, cleanup: (() => Promise<void>)[]): pg.Pool {
  const pool = new pg.Pool({ connectionString: db.url, max: 2, types: pgTypes });
  pool.on('error', () => {});
  cleanup.push(() => pool.end());
  return pool;
}

/** Users `u-<name>` for each of `names`, and a group `conversationId` they are all in. */
export async function seedGroup(store: PostgresStore, conversationId: string, names: readonly string[]): Promise<void> {
  await store.write(async (tx) => {
    for (const name of names) {
      await tx.users.insert({
        id: `u-${name}`,
        username: name,
        usernameKey: name,
        usernameCapitalKey: null,
        passwordHash: 'x',
        displayName: null,
        status: null,
        bio: null,
        createdAt: 1,
        updatedAt: 1,
        groupAdds: 'invite',
      });
    }
    await tx.chat.insertConversation({
      id: conversationId,
      kind: 'group',
      serverId: null,
      name: conversationId,
      topic: null,
      dmKey: null,
      lastSeq: 0,
      lastMessageAt: null,
      createdAt: 1,
      createdBy: null,
    });
    for (const name of names) await tx.chat.addConversationMember(conversationId, `u-${name}`, 1);
  });
}

/** Sends message `id` inside a write job as messages.send does: its number, the row, the sender's read position, the event. */
export async function sendIn(
  tx: TxStores,
  after: AfterCommit,
  conversationId: string,
  authorId: string,
  id: string,
  now = 1_000,
): Promise<MessageRow> {
  const seq = await tx.chat.nextSeq(conversationId, now);
  const row: MessageRow = {
    id,
    conversationId,
    seq,
    authorId,
    body: `message ${id}`,
    createdAt: now,
    editedAt: null,
    deletedAt: null,
    nonce: id,
    kind: 'text',
    bot: false,
  };
  await tx.chat.insertMessage(row);
  await tx.chat.markReadOnCommit(authorId, conversationId, seq);
  const scope: Scope = `c:${conversationId}`;
  await tx.events.append(after, [scope], 'message.created', { message: { id, seq } } as never, now);
  return row;
}

/** Whether `err` is natter's `unavailable` error (what a request that cannot reach the database gets). */
export function isUnavailable(err: unknown): boolean {
  return err instanceof NatterError && err.code === 'unavailable';
}

/** A promise and the function that resolves it: a job waits on it where the test wants it held. */
export function gate(): { opened: Promise<void>; open: () => void } {
  let open = () => {};
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}
