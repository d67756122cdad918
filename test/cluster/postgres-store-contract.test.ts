import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { getTableName, is } from 'drizzle-orm';
import { PgTable } from 'drizzle-orm/pg-core';
import pg from 'pg';
import { NatterError, searchTerms } from '../../src/protocol/index.js';
import { openDb, openReader } from '../../src/server/db/index.js';
import type { NewReport, ReportFilter } from '../../src/server/db/reports.js';
import type { MessageRow } from '../../src/server/db/schema.js';
import type { Scope } from '../../src/server/event-log.js';
import type { SearchFilter } from '../../src/server/search.js';
import type { AfterCommit, StoredEvent, TxStores } from '../../src/server/store/port.js';
import { PostgresAccounts } from '../../src/server/store/postgres/accounts.js';
import { PostgresAudit } from '../../src/server/store/postgres/audit.js';
import { PostgresChat } from '../../src/server/store/postgres/chat.js';
import { PostgresEvents } from '../../src/server/store/postgres/events.js';
import { PostgresMail } from '../../src/server/store/postgres/mail.js';
import { PostgresMedia } from '../../src/server/store/postgres/media.js';
import { PostgresReports } from '../../src/server/store/postgres/reports.js';
import * as pgSchema from '../../src/server/store/postgres/schema.js';
import { PostgresSessions } from '../../src/server/store/postgres/sessions.js';
import { pgTypes } from '../../src/server/store/postgres/sql.js';
import { openPostgresStore, type PostgresStore } from '../../src/server/store/postgres/store.js';
import { PostgresUsage } from '../../src/server/store/postgres/usage.js';
import { PostgresUsers } from '../../src/server/store/postgres/users.js';
import { SqliteStore } from '../../src/server/store/sqlite/store.js';
import { freshDatabase } from '../helpers/postgres.js';

/**
 * The PostgreSQL stores answer as the SQLite query code does. One script of
 * calls (accounts, sessions, servers, members, bans, channels, groups, DMs,
 * messages, edits, deletions, mentions, read state, search, invites, blocks,
 * group invitations, events, the daily budget) runs against the SQLite store
 * (store/sqlite: the query classes of src/server/db, the event log and the
 * usage meter, on a database opened with openDb) and against the PostgreSQL
 * store; every result is recorded, and the two records must be equal, as
 * must every table at the end. Writes go through each store's `write`, reads
 * through its own stores (committed data). Every public method of the
 * PostgreSQL stores is called at least once, but for those listed in
 * NOT_COMPARED.
 */

/** Methods the script does not compare across the two backends, and why (none today). */
const NOT_COMPARED: Record<string, string> = {};

const BUDGET = 1000;
const T = 1_800_000_000_000;

/** What a step of the script sees of a backend. */
type Backend = {
  name: string;
  /** The stores outside any write: committed data. */
  read: TxStores;
  write<V>(fn: (tx: TxStores, after: AfterCommit) => Promise<V>): Promise<V>;
  /** Every committed event with an id above `after`, oldest first (`EventStore.since`). */
  since(after: number, limit: number): Promise<StoredEvent[]>;
  /** Every row of a table. */
  table(name: string): Promise<Record<string, unknown>[]>;
  /** Ids the backend made up (createConversation), by the name the script gave them. */
  made: Map<string, string>;
  log: [string, unknown][];
};

/** The SQLite store (the query classes of src/server/db behind the port), on a database opened with openDb. */
function sqliteBackend(dataDir: string, cleanup: (() => Promise<void>)[]): Backend {
  const db = openDb(dataDir);
  const store = new SqliteStore(db, openReader(dataDir), {
    publish: () => {},
    onAfterError: (err) => {
      throw err;
    },
    writeBytesPerDay: BUDGET,
    commitWindowMs: 0,
  });
  cleanup.push(() => store.close());
  return {
    name: 'SQLite',
    read: store,
    write: (fn) => store.write(fn),
    since: (afterId, limit) => store.events.since(afterId, limit),
    async table(name) {
      return db.$client.prepare(`SELECT * FROM ${name}`).all() as Record<string, unknown>[];
    },
    made: new Map(),
    log: [],
  };
}

/** The names of a class's public methods (PostgreSQL stores keep their helpers #private). */
function methodsOf(proto: object): string[] {
  return Object.getOwnPropertyNames(proto).filter(
    (name) => name !== 'constructor' && typeof Object.getOwnPropertyDescriptor(proto, name)?.value === 'function',
  );
}

const called = new Set<string>();

/** `target` with each method call noted in `called` as `<store>.<method>`. */
function noting<T extends object>(store: string, target: T): T {
  return new Proxy(target, {
    get(t, key) {
      const v = Reflect.get(t, key, t) as unknown;
      if (typeof v !== 'function' || typeof key !== 'string') return v;
      called.add(`${store}.${key}`);
      return (v as (...a: unknown[]) => unknown).bind(t);
    },
  });
}

function notingAll(stores: TxStores): TxStores {
  return {
    chat: noting('chat', stores.chat),
    users: noting('users', stores.users),
    sessions: noting('sessions', stores.sessions),
    events: noting('events', stores.events),
    usage: noting('usage', stores.usage),
    audit: noting('audit', stores.audit),
    reports: noting('reports', stores.reports),
    automod: noting('automod', stores.automod),
    media: noting('media', stores.media),
    accounts: noting('accounts', stores.accounts),
    mail: noting('mail', stores.mail),
  };
}

function postgresBackend(store: PostgresStore, pool: pg.Pool): Backend {
  return {
    name: 'PostgreSQL',
    read: notingAll(store),
    write: (fn) => store.write((tx, afterCommit) => fn(notingAll(tx), afterCommit)),
    since: (afterId, limit) => {
      called.add('events.since');
      return store.events.since(afterId, limit);
    },
    async table(name) {
      return (await pool.query(`SELECT * FROM ${name}`)).rows as Record<string, unknown>[];
    },
    made: new Map(),
    log: [],
  };
}

/** A result as the two backends can be compared: maps and sets as sorted entries, made-up ids by their names. */
function normalize(b: Backend, value: unknown): unknown {
  if (value instanceof Map)
    return [...value.entries()]
      .map(([k, v]) => [normalize(b, k), normalize(b, v)] as const)
      .sort((x, y) => (String(x[0]) < String(y[0]) ? -1 : 1));
  if (value instanceof Set) return [...value].map((v) => normalize(b, v)).sort();
  if (Array.isArray(value)) return value.map((v) => normalize(b, v));
  if (typeof value === 'string') {
    let s = value;
    for (const [name, id] of b.made) s = s.replaceAll(id, `<${name}>`);
    return s;
  }
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, normalize(b, v)]));
  }
  return value;
}

/** What an error says, the same for both backends: its code, or the constraint it broke. */
function failure(err: unknown): string {
  if (err instanceof NatterError) return `${err.code}: ${err.message}`;
  const code = (err as { code?: string }).code ?? '';
  if (/^SQLITE_CONSTRAINT_(UNIQUE|PRIMARYKEY)$/.test(code) || code === '23505') return 'unique violation';
  if (code === 'SQLITE_CONSTRAINT_FOREIGNKEY' || code === '23503') return 'foreign key violation';
  return (err as Error).message;
}

/** Records what `p` gave, or how it failed. */
async function rec(b: Backend, label: string, p: Promise<unknown>): Promise<unknown> {
  try {
    const value = await p;
    b.log.push([label, normalize(b, value)]);
    return value;
  } catch (err) {
    b.log.push([label, { failed: failure(err) }]);
    return undefined;
  }
}

const user = (id: string, name: string, created: number, hash = '$2b$12$abcdefghijklmnopqrstuv') => ({
  id,
  username: name,
  usernameKey: name.toLowerCase(),
  usernameCapitalKey: null,
  passwordHash: hash,
  displayName: null,
  status: null,
  bio: null,
  createdAt: created,
  updatedAt: created,
  groupAdds: 'invite' as const,
});

/** Records a list whose order the query does not set, sorted (after made-up ids are named). */
async function recUnordered(b: Backend, label: string, p: Promise<readonly unknown[]>): Promise<void> {
  try {
    const value = normalize(b, await p) as unknown[];
    b.log.push([label, value.sort((x, y) => (JSON.stringify(x) < JSON.stringify(y) ? -1 : 1))]);
  } catch (err) {
    b.log.push([label, { failed: failure(err) }]);
  }
}

/** Follows a paged list two rows at a time, recording each page. */
async function pages<R>(
  b: Backend,
  label: string,
  fetch: (after: readonly (string | number)[] | null) => Promise<R[]>,
  keyOf: (r: R) => readonly (string | number)[],
): Promise<void> {
  let after: readonly (string | number)[] | null = null;
  for (let page = 0; page < 10; page++) {
    const found = (await rec(b, `${label} page ${page}`, fetch(after))) as R[] | undefined;
    const last = found?.at(-1);
    if (!found || found.length < 2 || last === undefined) return;
    after = keyOf(last);
  }
  throw new Error(`${label}: more pages than the script has rows`);
}

const event = (tx: TxStores, afterCommit: AfterCommit, scopes: Scope[], what: string, at: number): Promise<void> =>
  tx.events.append(afterCommit, scopes, 'user.updated', { what } as never, at);

/** Sends a message in a write job, as messages.send does; returns its row. */
async function send(
  b: Backend,
  conversationId: string,
  authorId: string,
  id: string,
  body: string,
  at: number,
  mentions: string[] = [],
): Promise<MessageRow> {
  return b.write(async (tx, afterCommit) => {
    const seq = await tx.chat.nextSeq(conversationId, at);
    const row: MessageRow = {
      id,
      conversationId,
      seq,
      authorId,
      body,
      createdAt: at,
      editedAt: null,
      deletedAt: null,
      nonce: `n-${id}`,
      kind: 'text',
      bot: authorId === 'u-bot',
    };
    await tx.chat.insertMessage(row);
    for (const m of mentions) await tx.chat.insertMention(id, m, conversationId, seq);
    await tx.chat.markReadOnCommit(authorId, conversationId, seq);
    const scope: Scope = conversationId.startsWith('ch-') ? 's:s-acme' : `c:${conversationId}`;
    await tx.events.append(afterCommit, [scope], 'message.created', { message: { id, body } } as never, at);
    return row;
  });
}

/** The script: every call, with what it returned recorded. */
async function script(b: Backend): Promise<void> {
  const r = b.read;
  const w = <V>(label: string, fn: (tx: TxStores, afterCommit: AfterCommit) => Promise<V>) =>
    rec(b, label, b.write(fn));

  // Accounts and holds
  await w('users', async (tx) => {
    await tx.users.insert(user('u-ann', 'Ann', T, '$2b$12$aaaaaaaaaaaaaaaaaaaaaa'));
    await tx.users.insert(user('u-bob', 'bob', T + 1, '$2b$10$bbbbbbbbbbbbbbbbbbbbbb'));
    await tx.users.insert(user('u-cat', 'Cat', T + 2));
    await tx.users.insert({ ...user('u-dan', 'DAN', T + 3), usernameKey: 'dan', usernameCapitalKey: 'DAN' });
    await tx.users.insert(user('u-eve', 'eve', T + 4));
    await tx.users.insert(user('u-bot', 'bot', T + 5));
    await tx.users.insert({ ...user('u-ann2', 'ann', T + 6), usernameKey: 'ann#u-ann2' });
    // SQLite's lower() leaves Á as it is, so Ázsia sorts before ábel there (and must here too).
    await tx.users.insert(user('u-azs', 'Ázsia', T + 7));
    await tx.users.insert(user('u-abe', 'ábel', T + 7));
  });
  await w('users.insert taken', (tx) => tx.users.insert(user('u-zed', 'ANN', T + 7)));
  await rec(b, 'users.byId', r.users.byId('u-ann'));
  await rec(b, 'users.byId missing', r.users.byId('nobody'));
  await rec(b, 'users.byUsernameKey', r.users.byUsernameKey('bob'));
  await rec(b, 'users.withKey', r.users.withKey('ann'));
  await rec(b, 'users.withCapitalKey', r.users.withCapitalKey('DAN'));
  await rec(b, 'users.commonHashCost', r.users.commonHashCost());
  await w('users.update', (tx) =>
    tx.users.update('u-cat', { displayName: 'Cat S.', status: 'away', updatedAt: T + 10 }),
  );
  await w('users.update nothing', (tx) => tx.users.update('u-cat', {}));
  await w('users.update missing', (tx) => tx.users.update('nobody', { bio: 'x' }));
  await rec(b, 'users.operators none', r.users.operators());
  // Granted out of name order, and once more (no change the second time); then one revoked.
  await w('users.setOperator', async (tx) => [
    await tx.users.setOperator('u-eve', true),
    await tx.users.setOperator('u-abe', true),
    await tx.users.setOperator('u-azs', true),
    await tx.users.setOperator('u-eve', true),
    await tx.users.setOperator('u-cat', false),
    await tx.users.setOperator('nobody', true),
  ]);
  await rec(b, 'users.operators', r.users.operators());
  await w('users.setOperator revoke', (tx) => tx.users.setOperator('u-abe', false));
  await rec(b, 'users.operators after revoking', r.users.operators());
  await w('holds', async (tx) => {
    await tx.users.putHold({ usernameKey: 'old1', usernameCapitalKey: null }, 'u-bob', T + 11);
    await tx.users.putHold({ usernameKey: 'old2', usernameCapitalKey: 'OLD2' }, 'u-bob', T + 12);
    await tx.users.putHold({ usernameKey: 'old3', usernameCapitalKey: null }, 'u-bob', T + 13);
    await tx.users.putHold({ usernameKey: 'old1', usernameCapitalKey: null }, 'u-cat', T + 14);
  });
  await rec(b, 'users.hold', r.users.hold('old1'));
  await rec(b, 'users.hold by capital key', r.users.hold('OLD2'));
  await w('users.keepNewestHolds', (tx) => tx.users.keepNewestHolds('u-bob', 1));
  await rec(b, 'users.hold dropped', r.users.hold('old2'));
  await rec(b, 'users.hold kept', r.users.hold('old3'));
  await w('users.dropHold', (tx) => tx.users.dropHold('old3'));
  await w('users.pruneHolds', (tx) => tx.users.pruneHolds(T + 14, 500));
  await rec(b, 'users.hold after pruning', r.users.hold('old1'));
  await rec(b, 'users.hold gone', r.users.hold('old3'));

  // Sessions, bot tokens, addresses
  const session = (id: string, userId: string, kind: 'session' | 'bot', created: number, seen: number | null) => ({
    id,
    userId,
    kind,
    tokenHash: `hash-${id}`,
    name: kind === 'bot' ? `bot ${id}` : null,
    address: '127.0.0.1',
    createdAt: created,
    lastSeenAt: seen,
  });
  await w('sessions', async (tx) => {
    await tx.sessions.insert(session('s1', 'u-ann', 'session', T, T + 5));
    await tx.sessions.insert(session('s2', 'u-ann', 'session', T + 1, null));
    await tx.sessions.insert(session('s3', 'u-ann', 'session', T + 2, T + 3));
    await tx.sessions.insert(session('b1', 'u-ann', 'bot', T + 3, null));
    await tx.sessions.insert(session('s4', 'u-bob', 'session', T, T));
    return tx.sessions.exists('s4');
  });
  await w('sessions.insert taken', (tx) => tx.sessions.insert(session('s1', 'u-bob', 'session', T, null)));
  await rec(b, 'sessions.byId', r.sessions.byId('s1'));
  await rec(b, 'sessions.exists', r.sessions.exists('b1'));
  await rec(b, 'sessions.exists not', r.sessions.exists('nope'));
  await rec(b, 'sessions.byTokenHash', r.sessions.byTokenHash('hash-s2'));
  await rec(b, 'sessions.count', r.sessions.count('u-ann', 'session'));
  await rec(b, 'sessions.listForUser', r.sessions.listForUser('u-ann', 'session'));
  await w('sessions.touch', (tx) => tx.sessions.touch('s2', T + 4));
  await rec(b, 'sessions.leastRecentlyUsed', r.sessions.leastRecentlyUsed('u-ann', 2));
  await w('sessions.recordAddress', async (tx) => {
    await tx.sessions.recordAddress('u-ann', '10.0.0.1', T + 100);
    await tx.sessions.recordAddress('u-ann', '10.0.0.1', T + 50);
    await tx.sessions.recordAddress('u-ann', '10.0.0.2', T + 10);
    await tx.sessions.recordAddress('u-bob', '10.0.0.3', T + 20);
  });
  await rec(b, 'sessions.usedFrom', r.sessions.usedFrom('u-ann', '10.0.0.1', T + 100));
  await rec(b, 'sessions.usedFrom not since', r.sessions.usedFrom('u-ann', '10.0.0.2', T + 11));
  await w('sessions.forgetAddresses', (tx) => tx.sessions.forgetAddresses(T + 30, 500));
  await rec(b, 'sessions.usedFrom forgotten', r.sessions.usedFrom('u-bob', '10.0.0.3', 0));
  await w('sessions.expireIdle', (tx) => tx.sessions.expireIdle(T + 1, 500));
  await w('sessions.revoke', (tx) => tx.sessions.revoke('u-ann', 's2', 'session'));
  await w('sessions.revoke wrong kind', (tx) => tx.sessions.revoke('u-ann', 'b1', 'session'));
  await w('sessions.revokeOthers', async (tx) => {
    const rows = await tx.sessions.revokeOthers('u-ann', 'session', 's3');
    return rows.map((s) => s.id).sort();
  });
  await w('sessions.revokeOthers all bots', async (tx) => tx.sessions.revokeOthers('u-ann', 'bot', null));

  // Servers and members
  await w('servers', async (tx, afterCommit) => {
    await tx.chat.insertServer({
      id: 's-acme',
      name: 'Acme',
      description: null,
      ownerId: 'u-ann',
      createdAt: T,
      updatedAt: T,
    });
    await tx.chat.insertServer({
      id: 's-beta',
      name: 'beta',
      description: 'b',
      ownerId: 'u-bob',
      createdAt: T,
      updatedAt: T,
    });
    await event(tx, afterCommit, ['u:u-ann'], 'before the joins', T);
    await tx.chat.addMember('s-acme', 'u-ann', 'owner', T);
    await event(tx, afterCommit, ['s:s-acme', 'u:u-ann', 'u:u-ann'], 'between the joins', T);
    await tx.chat.addMember('s-acme', 'u-bob', 'admin', T + 1);
    await tx.chat.addMember('s-acme', 'u-cat', 'member', T + 2);
    await tx.chat.addMember('s-acme', 'u-dan', 'member', T + 3);
    await tx.chat.addMember('s-acme', 'u-bot', 'member', T + 3);
    await tx.chat.addMember('s-acme', 'u-abe', 'member', T + 3);
    await tx.chat.addMember('s-acme', 'u-azs', 'member', T + 3);
    await tx.chat.addMember('s-beta', 'u-bob', 'owner', T);
    await tx.chat.addMember('s-beta', 'u-ann', 'member', T);
    await event(tx, afterCommit, ['s:s-acme'], 'after the joins', T);
    return tx.chat.memberCount('s-acme');
  });
  await w('servers.addMember twice', (tx) => tx.chat.addMember('s-acme', 'u-bob', 'member', T));
  await rec(b, 'chat.server', r.chat.server('s-acme'));
  await rec(b, 'chat.server missing', r.chat.server('nope'));
  await rec(b, 'chat.serversByIds', r.chat.serversByIds(['s-acme', 's-beta', 'nope']));
  await rec(b, 'chat.serversByIds none', r.chat.serversByIds([]));
  await rec(b, 'chat.role', r.chat.role('s-acme', 'u-bob'));
  await rec(b, 'chat.role none', r.chat.role('s-acme', 'u-eve'));
  await rec(b, 'chat.member', r.chat.member('s-acme', 'u-cat'));
  await pages(
    b,
    'chat.serversOf',
    (a) => r.chat.serversOf('u-ann', a, 2),
    (x) => x.key,
  );
  await pages(
    b,
    'chat.membersOf',
    (a) => r.chat.membersOf('s-acme', a, 2),
    (x) => x.key,
  );
  await rec(b, 'chat.serverCounts', r.chat.serverCounts('u-bob'));
  await recUnordered(b, 'chat.memberIds', r.chat.memberIds('s-acme'));
  await recUnordered(b, 'chat.serverIdsOf', r.chat.serverIdsOf('u-ann'));
  await rec(b, 'chat.memberWithUser', r.chat.memberWithUser('s-acme', 'u-dan'));
  await recUnordered(b, 'chat.scopesSince', r.chat.scopesSince('u-bob'));
  await w('chat.updateServer', (tx) => tx.chat.updateServer('s-beta', 'Beta', 'the b', 'u-ann', T + 20));
  await w('chat.setRole', (tx) => tx.chat.setRole('s-acme', 'u-cat', 'admin'));
  await w('chat.removeMember', (tx) => tx.chat.removeMember('s-acme', 'u-dan'));
  await w('chat.removeMember none', (tx) => tx.chat.removeMember('s-acme', 'u-dan'));

  // Bans
  await w('bans', async (tx) => {
    await tx.chat.addBan('s-acme', 'u-eve', 'u-ann', 'spam', T + 1);
    await tx.chat.addBan('s-acme', 'u-dan', 'u-bob', null, T + 1);
    await tx.chat.addBan('s-acme', 'u-eve', 'u-bob', 'more spam', T + 9);
  });
  await rec(b, 'chat.isBanned', r.chat.isBanned('s-acme', 'u-eve'));
  await rec(b, 'chat.isBanned not', r.chat.isBanned('s-acme', 'u-bob'));
  await pages(
    b,
    'chat.bansOf',
    (a) => r.chat.bansOf('s-acme', a, 2),
    (x) => x.key,
  );
  await w('chat.removeBan', (tx) => tx.chat.removeBan('s-acme', 'u-dan'));

  // Channels
  await w('channels', async (tx) => {
    for (const [id, name, at] of [
      ['ch-gen', 'general', T],
      ['ch-ran', 'random', T + 1],
      ['ch-zet', 'Zeta', T + 2],
      ['ch-alp', 'alpha', T + 3],
    ] as const) {
      await tx.chat.insertConversation({
        id,
        kind: 'channel',
        serverId: 's-acme',
        name,
        topic: null,
        dmKey: null,
        lastSeq: 0,
        lastMessageAt: null,
        createdAt: at,
        createdBy: 'u-ann',
      });
    }
  });
  await w('channels duplicate name', (tx) =>
    tx.chat.insertConversation({
      id: 'ch-dup',
      kind: 'channel',
      serverId: 's-acme',
      name: 'general',
      topic: null,
      dmKey: null,
      lastSeq: 0,
      lastMessageAt: null,
      createdAt: T,
      createdBy: null,
    }),
  );
  await rec(b, 'chat.channelsOf', r.chat.channelsOf('s-acme'));
  await pages(
    b,
    'chat.channelPage',
    (a) => r.chat.channelPage('s-acme', a, 2),
    (x) => [x.name ?? '', x.id],
  );
  await rec(b, 'chat.channelCount', r.chat.channelCount('s-acme'));
  await rec(b, 'chat.channelByName', r.chat.channelByName('s-acme', 'Zeta'));
  await rec(b, 'chat.channelByName other case', r.chat.channelByName('s-acme', 'zeta'));
  await w('chat.updateConversation', (tx) => tx.chat.updateConversation('ch-ran', 'random', 'anything goes'));
  await rec(b, 'chat.conversation', r.chat.conversation('ch-ran'));
  await rec(b, 'chat.conversationsByIds', r.chat.conversationsByIds(['ch-gen', 'ch-zet', 'nope']));

  // Groups
  await w('groups', async (tx, afterCommit) => {
    const climbers = await tx.chat.createConversation({ kind: 'group', name: 'Climbers', createdBy: 'u-ann' }, T + 5);
    b.made.set('climbers', climbers.id);
    await tx.chat.insertConversation({
      id: 'g-alpha',
      kind: 'group',
      serverId: null,
      name: 'alpha',
      topic: null,
      dmKey: null,
      lastSeq: 0,
      lastMessageAt: null,
      createdAt: T + 6,
      createdBy: 'u-ann',
    });
    await tx.chat.insertConversation({
      id: 'g-zulu',
      kind: 'group',
      serverId: null,
      name: 'Zulu',
      topic: null,
      dmKey: null,
      lastSeq: 0,
      lastMessageAt: null,
      createdAt: T + 7,
      createdBy: 'u-bob',
    });
    const added = [];
    for (const id of ['u-ann', 'u-bob', 'u-cat'])
      added.push(await tx.chat.addConversationMember(climbers.id, id, T + 5));
    await event(tx, afterCommit, [`c:${climbers.id}` as Scope], 'climbers made', T + 5);
    for (const [id, joined] of [
      ['u-ann', T + 6],
      ['u-dan', T + 8],
      ['u-cat', T + 8],
      ['u-abe', T + 8],
      ['u-azs', T + 8],
    ] as const) {
      added.push(await tx.chat.addConversationMember('g-alpha', id, joined));
    }
    added.push(await tx.chat.addConversationMember('g-zulu', 'u-ann', T + 7));
    added.push(await tx.chat.addConversationMember('g-zulu', 'u-ann', T + 9));
    return { climbers: { ...climbers, id: '<climbers>' }, added };
  });
  const climbers = b.made.get('climbers') ?? 'missing';
  await rec(b, 'chat.conversation made', r.chat.conversation(climbers));
  await rec(b, 'chat.isConversationMember', r.chat.isConversationMember('g-alpha', 'u-dan'));
  await rec(b, 'chat.isConversationMember not', r.chat.isConversationMember('g-alpha', 'u-bob'));
  await rec(b, 'chat.conversationMembers', r.chat.conversationMembers('g-alpha'));
  await rec(b, 'chat.conversationMembersOf', r.chat.conversationMembersOf(['g-alpha', climbers, 'g-zulu', 'nope']));
  await pages(
    b,
    'chat.groupsOf',
    (a) => r.chat.groupsOf('u-ann', a, 2),
    (x) => x.key,
  );
  await rec(b, 'chat.groupsCreatedBy', r.chat.groupsCreatedBy('u-ann'));
  await recUnordered(b, 'chat.conversationIdsOf', r.chat.conversationIdsOf('u-cat'));
  await recUnordered(b, 'chat.scopesSince after groups', r.chat.scopesSince('u-cat'));
  await w('chat.removeConversationMember', (tx) => tx.chat.removeConversationMember('g-zulu', 'u-ann'));
  await w('chat.removeConversationMember none', (tx) => tx.chat.removeConversationMember('g-zulu', 'u-ann'));

  // Direct messages
  await w('dms', async (tx) => {
    for (const [id, key, at] of [
      ['d-ab', 'u-ann:u-bob', T + 1],
      ['d-ac', 'u-ann:u-cat', T + 2],
      ['d-ad', 'u-ann:u-dan', T + 3],
    ] as const) {
      await tx.chat.insertConversation({
        id,
        kind: 'dm',
        serverId: null,
        name: null,
        topic: null,
        dmKey: key,
        lastSeq: 0,
        lastMessageAt: null,
        createdAt: at,
        createdBy: null,
      });
      for (const u of key.split(':')) await tx.chat.addConversationMember(id, u, at);
    }
  });
  await rec(b, 'chat.dmByKey', r.chat.dmByKey('u-ann:u-cat'));

  // Messages: sequence numbers, mentions, read positions, events
  let at = T + 100;
  await send(b, 'ch-gen', 'u-ann', 'm01', 'Hello world, café time @bob', at++, ['u-bob']);
  await send(b, 'ch-gen', 'u-bob', 'm02', 'deploying the release now', at++, ['u-ann', 'u-cat']);
  await send(b, 'ch-gen', 'u-cat', 'm03', 'the deploy went fine', at++);
  await send(b, 'ch-ran', 'u-bob', 'm04', 'random deployment thoughts', at++, ['u-ann']);
  await send(b, 'd-ab', 'u-bob', 'm05', 'a private cafe word', at++);
  await send(b, 'd-ac', 'u-cat', 'm06', '日本語のテキストです', at++);
  await send(b, climbers, 'u-cat', 'm07', 'Climbing at the CAFÉ tomorrow?', at++, ['u-ann']);
  await send(b, 'ch-gen', 'u-bot', 'm08', 'deploy bot report: e-mail sent', at++);
  await send(b, 'd-ab', 'u-ann', 'm09', 'reply to bob', at++);
  await rec(
    b,
    'a batch of its own sees its sequence numbers and read positions',
    b.write(async (tx, afterCommit) => {
      const seq = await tx.chat.nextSeq('ch-zet', at);
      const seq2 = await tx.chat.nextSeq('ch-zet', at + 1);
      await tx.chat.markReadOnCommit('u-cat', 'ch-zet', seq);
      await tx.chat.markReadOnCommit('u-cat', 'ch-zet', seq2);
      await tx.chat.markReadOnCommit('u-cat', 'ch-zet', seq);
      await event(tx, afterCommit, ['s:s-acme'], 'zeta', at);
      for (const [id, s] of [
        ['m10', seq],
        ['m11', seq2],
      ] as const) {
        await tx.chat.insertMessage({
          id,
          conversationId: 'ch-zet',
          seq: s,
          authorId: 'u-cat',
          body: `zeta ${id}`,
          createdAt: at,
          editedAt: null,
          deletedAt: null,
          nonce: null,
          kind: 'action',
          bot: false,
        });
      }
      return {
        conversation: await tx.chat.conversation('ch-zet'),
        lastRead: await tx.chat.lastRead('u-cat', 'ch-zet'),
        page: await tx.chat.conversationPage('u-bot', 'ch-ran', 1),
      };
    }),
  );
  at += 2;
  await rec(b, 'chat.nextSeq outside a write', r.chat.nextSeq('ch-gen', at));
  await rec(b, 'chat.markReadOnCommit outside a write', r.chat.markReadOnCommit('u-ann', 'ch-gen', 1));
  await w('chat.nextSeq missing', (tx) => tx.chat.nextSeq('nope', at));
  await rec(b, 'chat.message', r.chat.message('m02'));
  await rec(b, 'chat.message bot', r.chat.message('m08'));
  await rec(b, 'chat.messageByNonce', r.chat.messageByNonce('u-bob', 'n-m04'));
  await rec(b, 'chat.messageByNonce missing', r.chat.messageByNonce('u-bob', 'n-m01'));
  await rec(b, 'chat.mentionsOf', r.chat.mentionsOf(['m01', 'm02', 'm03', 'm07']));
  await w('chat.editMessage', async (tx) => {
    await tx.chat.editMessage('m03', 'the deployment went fine after all', at);
    await tx.chat.clearMentions('m02');
    await tx.chat.insertMention('m02', 'u-cat', 'ch-gen', 2);
    await tx.chat.insertMention('m02', 'u-cat', 'ch-gen', 2);
  });
  await w('chat.deleteMessage', (tx) => tx.chat.deleteMessage('m01', at + 1));
  await rec(b, 'chat.mentionsOf after', r.chat.mentionsOf(['m01', 'm02']));
  await rec(b, 'chat.latest', r.chat.latest('ch-gen', 2));
  await rec(b, 'chat.before', r.chat.before('ch-gen', 3, 5));
  await rec(b, 'chat.after', r.chat.after('ch-gen', 1, 2));
  await rec(b, 'chat.lastMessages', r.chat.lastMessages(['ch-gen', 'ch-gen', 'd-ab', 'ch-alp', climbers]));
  await rec(
    b,
    'chat.messagesByIds',
    r.chat.messagesByIds(['m05', 'm01', 'nope']).then((ms) => ms.sort((x, y) => (x.id < y.id ? -1 : 1))),
  );
  await rec(b, 'chat.lastRead', r.chat.lastRead('u-bob', 'ch-gen'));
  await rec(b, 'chat.lastRead none', r.chat.lastRead('u-dan', 'ch-gen'));
  await w('chat.markRead', async (tx) => [
    await tx.chat.markRead('u-cat', 'ch-gen', 2),
    await tx.chat.markRead('u-cat', 'ch-gen', 1),
  ]);
  await rec(
    b,
    'chat.unreadCounts',
    r.chat.unreadCounts('u-ann', [
      { conversationId: 'ch-gen', after: 0 },
      { conversationId: 'ch-ran', after: 0 },
      { conversationId: climbers, after: 0 },
      { conversationId: 'd-ab', after: 1 },
    ]),
  );
  await rec(b, 'chat.unreadCounts none', r.chat.unreadCounts('u-ann', []));
  // Not ann or cat: the group made with a made-up id would sort anywhere among theirs.
  for (const u of ['u-dan', 'u-bot']) {
    let afterId: string | null = null;
    for (let page = 0; page < 10; page++) {
      const found = (await rec(b, `chat.conversationPage ${u} ${page}`, r.chat.conversationPage(u, afterId, 3))) as
        | { id: string }[]
        | undefined;
      const last = found?.at(-1);
      if (!found || found.length < 3 || !last) break;
      afterId = last.id;
    }
  }
  await pages(
    b,
    'chat.dmsOf',
    (a) => r.chat.dmsOf('u-ann', a, 2),
    (x) => x.key,
  );

  // Search
  const search = (
    label: string,
    query: string,
    filter: SearchFilter,
    scopes: string[],
    before = Number.MAX_SAFE_INTEGER,
    want = 10,
    scanMax = 2000,
  ) => rec(b, `chat.search ${label}`, r.chat.search(searchTerms(query), filter, scopes, before, want, scanMax));
  const everything = ['s:s-acme', 'c:d-ab', 'c:d-ac', `c:${climbers}`];
  await search('one word', 'deploy', {}, everything);
  await search('a prefix', 'deplo', {}, everything);
  await search('a whole word', 'deploy ', {}, everything);
  await search('two words', 'deployment thoughts', {}, everything);
  await search('accents', 'CAFE', {}, everything);
  await search('unspaced', 'テキスト', {}, everything);
  await search('punctuation inside', 'e-mail', {}, everything);
  await search('unreadable kept out', 'cafe', {}, ['s:s-acme']);
  await search('in the query', 'cafe', { scopes: ['c:d-ab'] }, ['c:d-ab']);
  await search('one conversation', 'deploy', { conversationId: 'ch-gen' }, everything);
  await search('one author', 'deploy', { authorId: 'u-bot' }, everything);
  await search('edited words', 'deployment', {}, everything);
  await search('deleted', 'hello', {}, everything);
  const first = (await search('a page', 'deplo', {}, everything, Number.MAX_SAFE_INTEGER, 2)) as
    | { hits: { key: number }[] }
    | undefined;
  await search('the next page', 'deplo', {}, everything, first?.hits.at(-1)?.key ?? 0, 2);
  await search('scan stops', 'deplo', {}, ['c:d-ab'], Number.MAX_SAFE_INTEGER, 5, 2);

  // Invites
  const invite = (code: string, created: number, extra: object = {}) => ({
    code,
    serverId: 's-acme',
    createdBy: 'u-ann',
    maxUses: null,
    uses: 0,
    expiresAt: null,
    revokedAt: null,
    createdAt: created,
    ...extra,
  });
  await w('invites', async (tx) => {
    await tx.chat.insertInvite(invite('inv-b', T + 1));
    await tx.chat.insertInvite(invite('inv-a', T + 1, { maxUses: 2 }));
    await tx.chat.insertInvite(invite('inv-c', T + 2, { expiresAt: T + 50 }));
    await tx.chat.insertInvite(invite('inv-d', T + 3, { maxUses: 1, uses: 1 }));
    await tx.chat.insertInvite(invite('inv-e', T + 4));
    await tx.chat.insertInvite(invite('inv-f', T + 5, { revokedAt: T + 6 }));
  });
  await rec(b, 'chat.invite', r.chat.invite('inv-a'));
  await rec(b, 'chat.invite missing', r.chat.invite('nope'));
  await pages(
    b,
    'chat.invitesOf',
    (a) => r.chat.invitesOf('s-acme', T + 40, a, 2),
    (x) => [x.createdAt, x.code],
  );
  await rec(b, 'chat.liveInviteCount', r.chat.liveInviteCount('s-acme', T + 60));
  await w('chat.useInvite', async (tx) => [
    // Two uses left, then none; an expired, a revoked and an unknown code count nothing.
    await tx.chat.useInvite('inv-a', T + 40),
    await tx.chat.useInvite('inv-a', T + 40),
    await tx.chat.useInvite('inv-a', T + 40),
    await tx.chat.useInvite('inv-c', T + 60),
    await tx.chat.useInvite('inv-f', T + 40),
    await tx.chat.useInvite('nope', T + 40),
    await tx.chat.invite('inv-a'),
    await tx.chat.invite('inv-c'),
  ]);
  await w('chat.revokeInvite', async (tx) => [
    await tx.chat.revokeInvite('s-acme', 'inv-e', T + 7),
    await tx.chat.revokeInvite('s-acme', 'inv-e', T + 8),
    await tx.chat.revokeInvite('s-beta', 'inv-b', T + 8),
  ]);
  await rec(b, 'chat.liveInviteCount after', r.chat.liveInviteCount('s-acme', T + 60));
  await w('chat.pruneDeadInvites', (tx) => tx.chat.pruneDeadInvites(T + 100, 500));

  // Blocks
  await w('blocks', async (tx) => [
    await tx.chat.addBlock('u-ann', 'u-eve', T + 1),
    await tx.chat.addBlock('u-ann', 'u-dan', T + 1),
    await tx.chat.addBlock('u-ann', 'u-eve', T + 9),
    await tx.chat.addBlock('u-cat', 'u-ann', T + 2),
    await tx.chat.addBlock('u-ann', 'u-bot', T + 3),
  ]);
  await rec(b, 'chat.blocked', r.chat.blocked('u-ann', 'u-eve'));
  await rec(b, 'chat.blocked not', r.chat.blocked('u-eve', 'u-ann'));
  await rec(b, 'chat.blockedEitherWay', r.chat.blockedEitherWay('u-ann', 'u-cat'));
  await rec(b, 'chat.blockedEitherWay not', r.chat.blockedEitherWay('u-bob', 'u-cat'));
  await rec(b, 'chat.blockersOf', r.chat.blockersOf('u-ann', ['u-cat', 'u-bob']));
  await rec(b, 'chat.blockersOf none', r.chat.blockersOf('u-ann', []));
  await rec(b, 'chat.blockCount', r.chat.blockCount('u-ann'));
  await pages(
    b,
    'chat.blocksOf',
    (a) => r.chat.blocksOf('u-ann', a, 2),
    (x) => [x.createdAt, x.user.id],
  );
  await w('chat.removeBlock', async (tx) => [
    await tx.chat.removeBlock('u-ann', 'u-bot'),
    await tx.chat.removeBlock('u-ann', 'u-bot'),
  ]);
  await rec(b, 'chat.shareServerOrGroup server', r.chat.shareServerOrGroup('u-bob', 'u-cat'));
  await rec(b, 'chat.shareServerOrGroup group', r.chat.shareServerOrGroup('u-dan', 'u-cat'));
  await rec(b, 'chat.shareServerOrGroup dm only', r.chat.shareServerOrGroup('u-eve', 'u-ann'));

  // Group invitations and settings
  await w('group invites', async (tx) => [
    await tx.chat.addGroupInvite('g-alpha', 'u-eve', 'u-ann', T + 3),
    await tx.chat.addGroupInvite('g-alpha', 'u-bob', 'u-cat', T + 2),
    await tx.chat.addGroupInvite(climbers, 'u-eve', 'u-ann', T + 1),
    await tx.chat.addGroupInvite('g-zulu', 'u-eve', 'u-bob', T + 4),
    await tx.chat.addGroupInvite('g-alpha', 'u-eve', 'u-bob', T + 9),
  ]);
  await rec(b, 'chat.groupInvite', r.chat.groupInvite('g-alpha', 'u-eve'));
  await rec(b, 'chat.groupInvite none', r.chat.groupInvite('g-alpha', 'u-cat'));
  await rec(b, 'chat.groupInvitees', r.chat.groupInvitees('g-alpha'));
  await rec(b, 'chat.groupInviteesOf', r.chat.groupInviteesOf(['g-alpha', climbers, 'ch-gen']));
  await pages(
    b,
    'chat.invitationsOf',
    (a) => r.chat.invitationsOf('u-eve', a, 2),
    (x) => [x.createdAt, x.conv.id],
  );
  await w('chat.removeGroupInvite', async (tx) => [
    await tx.chat.removeGroupInvite('g-alpha', 'u-bob'),
    await tx.chat.removeGroupInvite('g-alpha', 'u-bob'),
  ]);
  await recUnordered(
    b,
    'chat.removeInvitesFrom',
    b.write((tx) => tx.chat.removeInvitesFrom('u-eve', 'u-ann')),
  );
  await w('chat.setGroupAdds', (tx) => tx.chat.setGroupAdds('u-eve', 'contacts'));
  await rec(b, 'chat.user', r.chat.user('u-eve'));
  await rec(b, 'chat.userRef', r.chat.userRef('u-cat'));
  await rec(b, 'chat.userRef missing', r.chat.userRef('nope'));
  await rec(b, 'chat.userRefs', r.chat.userRefs(['u-ann', 'u-cat', 'nope']));
  await rec(b, 'chat.userRefs none', r.chat.userRefs([]));
  await rec(b, 'chat.usersByIds', r.chat.usersByIds(['u-bob', 'u-dan']));

  // The daily write budget
  await w('usage.charge', (tx) => tx.usage.charge('u-ann', 600, at));
  await w('usage.charge over', (tx) => tx.usage.charge('u-ann', 600, at));
  await w('usage.charge up to it', (tx) => tx.usage.charge('u-ann', 400, at));
  await w('usage.charge yesterday', (tx) => tx.usage.charge('u-bob', 10, at - 2 * 86_400_000));
  await w('usage.pruneBefore', (tx) => tx.usage.pruneBefore(at));

  // Audit logs
  const entry = (action: string, actorId: string | null, at: number, reason: string | null = null) => ({
    serverId: 's-acme',
    action,
    actorId,
    targetUserId: 'u-bob',
    targetId: null,
    reason,
    details: action === 'member.role' ? JSON.stringify({ from: 'member', to: 'moderator' }) : null,
    createdAt: at,
  });
  await w('audit.add', async (tx) => {
    await tx.audit.add(entry('member.kick', 'u-ann', T + 1, 'spam'));
    await tx.audit.add(entry('member.role', 'u-ann', T + 2));
    await tx.audit.add(entry('member.kick', null, T + 3));
    await tx.audit.add({ ...entry('member.kick', 'u-cat', T + 4), serverId: 's-beta' });
  });
  const strip = (rows: { id: number }[]) => rows.map(({ id: _id, ...rest }) => rest);
  await rec(b, 'audit.page', r.audit.page('s-acme', { action: null, actorId: null }, null, 10).then(strip));
  await rec(
    b,
    'audit.page action',
    r.audit.page('s-acme', { action: 'member.kick', actorId: null }, null, 10).then(strip),
  );
  await rec(b, 'audit.page actor', r.audit.page('s-acme', { action: null, actorId: 'u-ann' }, null, 1).then(strip));
  const newest = (await r.audit.page('s-acme', { action: null, actorId: null }, null, 1))[0]?.id ?? 0;
  await rec(b, 'audit.page before', r.audit.page('s-acme', { action: null, actorId: null }, newest, 10).then(strip));
  await w('audit.prune', (tx) => tx.audit.prune(T + 2, 500));

  // Reports: a message in a channel, a user in a server, a message in a DM (the operators' queue)
  const report = (over: Partial<NewReport>): NewReport => ({
    serverId: 's-acme',
    conversationId: 'ch-gen',
    messageId: 'm03',
    messageSeq: 3,
    targetUserId: 'u-cat',
    targetKey: 'm:m03',
    reporterId: 'u-dan',
    reason: 'spam',
    details: null,
    snapshot: 'the deploy went fine',
    createdAt: T + 20,
    ...over,
  });
  const reportIds = (await w('reports.insert', async (tx) => [
    await tx.reports.insert(report({ details: 'again and again' })),
    await tx.reports.insert(
      report({ conversationId: null, messageId: null, messageSeq: null, snapshot: null, targetKey: 'u:u-cat:s-acme' }),
    ),
    await tx.reports.insert(
      report({
        serverId: null,
        conversationId: 'd-ab',
        messageId: 'm05',
        messageSeq: 1,
        targetUserId: 'u-bob',
        targetKey: 'm:m05',
        reporterId: 'u-ann',
        reason: 'harassment',
        snapshot: 'a private cafe word',
        createdAt: T + 21,
      }),
    ),
    await tx.reports.insert(report({ reporterId: 'u-abe', targetUserId: 'u-ann', targetKey: 'u:u-ann:s-acme' })),
  ])) as number[];
  const [firstReport = 0, , thirdReport = 0] = reportIds;
  await rec(
    b,
    'reports.byId',
    r.reports.byId(firstReport).then((x) => x && { ...x, id: 0 }),
  );
  await rec(b, 'reports.byId missing', r.reports.byId(999_999));
  await w('reports.openFor', async (tx) => [
    (await tx.reports.openFor('u-dan', 'm:m03')) !== undefined,
    await tx.reports.openFor('u-dan', 'm:m04'),
  ]);
  await w('reports.openCount', async (tx) => [
    await tx.reports.openCount('u-dan'),
    await tx.reports.openCount('u-eve'),
  ]);
  await rec(b, 'reports.openTotal', r.reports.openTotal());
  await w('reports.resolve', async (tx) => [
    await tx.reports.resolve(firstReport, {
      resolution: 'delete',
      resolvedBy: 'u-bob',
      note: 'gone',
      resolvedAt: T + 30,
    }),
    await tx.reports.resolve(firstReport, { resolution: 'none', resolvedBy: 'u-ann', note: null, resolvedAt: T + 31 }),
    await tx.reports.resolve(999_999, { resolution: 'none', resolvedBy: 'u-ann', note: null, resolvedAt: T + 31 }),
  ]);
  await w('reports.insert again once resolved', (tx) => tx.reports.insert(report({ createdAt: T + 32 })).then(() => 1));
  // Last: PostgreSQL's identity spends an id on a refused insert, SQLite's AUTOINCREMENT does not.
  await w('reports.insert the same open target', (tx) => tx.reports.insert(report({})));
  const stripIds = (rows: { id: number }[]) => rows.map(({ id: _id, ...rest }) => rest);
  const page = (filter: ReportFilter, before: number | null, limit = 10) =>
    r.reports.page(filter, before, limit).then(stripIds);
  await rec(b, 'reports.page', page({ serverId: 's-acme', status: null, viewer: 'u-bob' }, null));
  await rec(b, 'reports.page open', page({ serverId: 's-acme', status: 'open', viewer: 'u-bob' }, null));
  await rec(b, 'reports.page resolved', page({ serverId: 's-acme', status: 'resolved', viewer: 'u-bob' }, null));
  await rec(
    b,
    'reports.page hides those about the viewer',
    page({ serverId: 's-acme', status: null, viewer: 'u-ann' }, null),
  );
  await rec(b, 'reports.page before', page({ serverId: 's-acme', status: null, viewer: 'u-bob' }, thirdReport, 1));
  await rec(b, 'reports.page of the instance', page({ serverId: null, status: 'open', viewer: 'u-eve' }, null));
  // Timeouts, slow mode and what sends count
  await w('chat.setTimeoutUntil', (tx) => tx.chat.setTimeoutUntil('s-acme', 'u-cat', T + 60_000));
  await w('chat.setTimeoutUntil not a member', (tx) => tx.chat.setTimeoutUntil('s-acme', 'u-eve', T));
  await rec(b, 'chat.sendGate', r.chat.sendGate('s-acme', 'u-cat'));
  await rec(b, 'chat.sendGate none', r.chat.sendGate('s-acme', 'u-eve'));
  await w('chat.setSlowmode', (tx) => tx.chat.setSlowmode('ch-gen', 30));
  await rec(b, 'chat.conversation slowed', r.chat.conversation('ch-gen'));
  await rec(b, 'chat.lastSentSince', r.chat.lastSentSince('u-bob', 'ch-gen', 0));
  await rec(b, 'chat.lastSentSince none', r.chat.lastSentSince('u-bob', 'ch-gen', Number.MAX_SAFE_INTEGER));
  await rec(b, 'chat.sentInServerSince', r.chat.sentInServerSince('u-bob', 's-acme', 0));
  await rec(b, 'chat.sentInServerSince none', r.chat.sentInServerSince('u-eve', 's-acme', 0));

  // Automatic moderation: rules, held messages, moderators
  const rule = (id: string, name: string, at: number) => ({
    id,
    serverId: 's-acme',
    name,
    kind: 'keyword' as const,
    config: JSON.stringify({ keywords: ['spam*'], allow: [] }),
    actions: JSON.stringify([{ block: { message: 'no spam' } }]),
    exemptRoles: '[]',
    exemptChannels: '[]',
    enabled: true,
    createdBy: 'u-ann',
    createdAt: at,
    updatedAt: at,
  });
  await w('automod.insertRule', async (tx) => {
    await tx.automod.insertRule(rule('r-2', 'second', T + 2));
    await tx.automod.insertRule(rule('r-1', 'first', T + 1));
    await tx.automod.bumpRevision('s-acme');
  });
  await rec(b, 'automod.rules', r.automod.rules('s-acme'));
  await rec(b, 'automod.rule', r.automod.rule('r-1'));
  await rec(b, 'automod.ruleNamed', r.automod.ruleNamed('s-acme', 'second'));
  await rec(b, 'automod.ruleNamed none', r.automod.ruleNamed('s-acme', 'third'));
  await w('automod.updateRule', (tx) =>
    tx.automod.updateRule('r-1', { ...rule('r-1', 'renamed', T + 1), enabled: false, updatedAt: T + 9 }),
  );
  await w('automod.deleteRule', (tx) => tx.automod.deleteRule('r-2'));
  await w('automod.deleteRule again', (tx) => tx.automod.deleteRule('r-2'));
  await rec(b, 'automod.rules after', r.automod.rules('s-acme'));
  await rec(b, 'chat.sendGate after a rule change', r.chat.sendGate('s-acme', 'u-ann'));
  const held = (id: string, at: number) => ({
    id,
    serverId: 's-acme',
    conversationId: 'ch-gen',
    authorId: 'u-cat',
    body: `held ${id}`,
    kind: 'text' as const,
    bot: false,
    nonce: `n-${id}`,
    heldBy: 'first',
    createdAt: at,
  });
  await w('automod.insertHeld', async (tx) => {
    await tx.automod.insertHeld(held('h-b', T + 5));
    await tx.automod.insertHeld(held('h-a', T + 5));
    await tx.automod.insertHeld(held('h-c', T + 4));
  });
  await rec(b, 'automod.held', r.automod.held('h-a'));
  await rec(b, 'automod.heldByNonce', r.automod.heldByNonce('u-cat', 'n-h-b'));
  await rec(b, 'automod.heldByNonce none', r.automod.heldByNonce('u-bob', 'n-h-b'));
  await rec(b, 'automod.heldPage', r.automod.heldPage('s-acme', null, 2));
  await rec(b, 'automod.heldPage after', r.automod.heldPage('s-acme', [T + 5, 'h-a'], 10));
  await rec(b, 'automod.heldCount', r.automod.heldCount('s-acme', 'u-cat'));
  await w('automod.deleteHeld', (tx) => tx.automod.deleteHeld('h-c'));
  await rec(b, 'automod.heldCount after', r.automod.heldCount('s-acme', 'u-cat'));
  await rec(b, 'automod.heldCount none', r.automod.heldCount('s-acme', 'u-bob'));
  await rec(b, 'automod.moderatorIds', r.automod.moderatorIds('s-acme'));

  // Uploaded files: slots, uploads, attachments, pictures, totals
  const slot = (
    id: string,
    owner: string,
    purpose: 'message' | 'avatar' | 'server-icon',
    size: number,
    at: number,
  ) => ({
    id,
    ownerId: owner,
    purpose,
    name: `${id}.bin`,
    size,
    type: 'application/octet-stream',
    tokenHash: `hash-${id}`,
    uploadBy: at + 900_000,
    createdAt: at,
    expiresAt: at + 3_600_000,
  });
  const content = (sha: string, at: number) => ({
    sha256: sha,
    thumbSha256: sha === 'sha-img' ? 'sha-thumb' : null,
    type: sha === 'sha-img' ? 'image/png' : 'audio/ogg',
    width: sha === 'sha-img' ? 640 : null,
    height: sha === 'sha-img' ? 480 : null,
    durationMs: sha === 'sha-img' ? null : 42_000,
    uploadedAt: at,
  });
  await w('media.insert', async (tx) => {
    await tx.media.insert(slot('f-1', 'u-bob', 'message', 1000, T + 10));
    await tx.media.insert(slot('f-2', 'u-bob', 'message', 2000, T + 11));
    await tx.media.insert(slot('f-3', 'u-cat', 'message', 3000, T + 12));
    await tx.media.insert(slot('f-av', 'u-ann', 'avatar', 500, T + 13));
    await tx.media.insert(slot('f-ic', 'u-ann', 'server-icon', 700, T + 14));
    await tx.media.insert(slot('f-old', 'u-cat', 'message', 10, T));
  });
  await rec(b, 'media.byId slot', r.media.byId('f-1'));
  await rec(b, 'media.byId none', r.media.byId('f-none'));
  await w('media.complete', async (tx) => [
    await tx.media.complete('f-1', content('sha-img', T + 20)),
    await tx.media.complete('f-2', content('sha-audio', T + 21)),
    await tx.media.complete('f-3', content('sha-img', T + 22)),
    await tx.media.complete('f-av', content('sha-img', T + 23)),
    await tx.media.complete('f-1', content('sha-audio', T + 24)),
    await tx.media.complete('f-none', content('sha-audio', T + 24)),
  ]);
  await w('media.attach', async (tx) => [
    await tx.media.attach(['f-2', 'f-1'], { messageId: 'm02', conversationId: 'ch-gen', serverId: 's-acme' }),
    await tx.media.attach(['f-3'], { messageId: 'm05', conversationId: 'd-ab', serverId: null }),
    await tx.media.attach(['f-1'], { messageId: 'm03', conversationId: 'ch-gen', serverId: 's-acme' }),
  ]);
  await rec(
    b,
    'media.ofMessages',
    r.media.ofMessages(['m02', 'm05', 'm01']).then((m) => [...m.entries()].sort()),
  );
  await rec(
    b,
    'media.ofMessages none',
    r.media.ofMessages([]).then((m) => [...m.entries()]),
  );
  await w('media.keep and pictures', async (tx) => {
    await tx.media.keep('f-av', null);
    await tx.users.update('u-ann', { avatarId: 'f-av' });
    await tx.media.keep('f-ic', 's-acme');
    await tx.media.setIcon('s-acme', 'f-ic');
    await tx.media.expireAt('f-old', T + 5);
  });
  await rec(b, 'media.byId kept', r.media.byId('f-av'));
  await rec(b, 'users.byId with a picture', r.users.byId('u-ann'));
  await rec(b, 'chat.server with an icon', r.chat.server('s-acme'));
  await rec(b, 'media.serverBytes', r.media.serverBytes('s-acme'));
  await rec(b, 'media.serverBytes none', r.media.serverBytes('s-none'));
  await rec(b, 'media.storedBytes', r.media.storedBytes());
  await rec(b, 'media.expired', r.media.expired(T + 3_600_000, 10));
  await rec(b, 'media.expired limited', r.media.expired(T + 3_600_000 + 20, 1));
  await rec(
    b,
    'media.referenced',
    r.media.referenced(['sha-img', 'sha-thumb', 'sha-gone']).then((s) => [...s].sort()),
  );
  await w('media.addUsage', async (tx) => {
    await tx.media.addUsage('u-bob', 100, 5000);
    await tx.media.addUsage('u-bob', 100, 1000);
    await tx.media.addUsage('u-bob', 99, 10);
    await tx.media.addUsage('u-bob', 100, -2000);
    await tx.media.addUsage('u-cat', 100, -50);
  });
  await rec(b, 'media.usageOn', r.media.usageOn('u-bob', 100));
  await rec(b, 'media.usageOn none', r.media.usageOn('u-cat', 100));
  await w('media.pruneUsage', (tx) => tx.media.pruneUsage(100));
  await rec(b, 'media.usageOn pruned', r.media.usageOn('u-bob', 99));
  await w('media.detachMessage', (tx) => tx.media.detachMessage('m02'));
  await w('media.removeSlot of a completed upload', (tx) => tx.media.removeSlot('f-3'));
  await w('media.removeSlot', (tx) => tx.media.removeSlot('f-old'));
  await w('media.remove', (tx) => tx.media.remove('f-old'));
  await w('media.remove again', (tx) => tx.media.remove('f-old'));
  await rec(
    b,
    'media.referenced after',
    r.media.referenced(['sha-img', 'sha-audio']).then((s) => [...s].sort()),
  );

  // Events: head, cursors, replay, pruning
  const head = (await rec(b, 'events.head', r.events.head())) as number;
  await rec(b, 'events.parseCursor', r.events.parseCursor(String(head)));
  await rec(b, 'events.parseCursor zero', r.events.parseCursor('0'));
  await rec(b, 'events.parseCursor ahead', r.events.parseCursor(String(head + 1)));
  await rec(b, 'events.parseCursor junk', r.events.parseCursor('01'));
  // An event's audiences are a set: their order is not compared.
  const since = (afterId: number, limit: number) =>
    b.since(afterId, limit).then((events) => events.map((e) => ({ ...e, scopes: [...e.scopes].sort() })));
  await rec(b, 'events.since', since(0, 100));
  await rec(b, 'events.since a window', since(2, 3));
  const annScopes = await r.chat.scopesSince('u-ann');
  await recUnordered(b, 'scopes of ann', Promise.resolve(annScopes));
  const mine: [string, number][] = [['u:u-ann', 0], ...annScopes];
  await rec(b, 'events.replay', r.events.replay(mine, 0, Number.MAX_SAFE_INTEGER, 100, 1_000_000));
  await rec(b, 'events.replay from a cursor', r.events.replay(mine, 4, Number.MAX_SAFE_INTEGER, 100, 1_000_000));
  await rec(b, 'events.replay over the cap', r.events.replay(mine, 0, Number.MAX_SAFE_INTEGER, 2, 1_000_000));
  await rec(b, 'events.replay over the bytes', r.events.replay(mine, 0, Number.MAX_SAFE_INTEGER, 100, 50));
  await rec(b, 'events.replay up to an id', r.events.replay(mine, 0, 3, 100, 1_000_000));
  await rec(b, 'events.replay of nothing', r.events.replay([], 0, Number.MAX_SAFE_INTEGER, 100, 1000));
  await w('events.prune', (tx) => tx.events.prune(T + 103, 2));
  await rec(b, 'events.replay after pruning', r.events.replay(mine, 0, Number.MAX_SAFE_INTEGER, 100, 1_000_000));
  await rec(b, 'events.replay from the head', r.events.replay(mine, head, Number.MAX_SAFE_INTEGER, 100, 1_000_000));
  await rec(b, 'events.head after pruning', r.events.head());
  await w('events.appendedBytes counts what a job appends', async (tx, afterCommit) => {
    const before = tx.events.appendedBytes;
    await tx.events.append(afterCommit, ['u:u-ann', 's:s-acme'], 'user.updated', { what: 'counted' } as never, at);
    return tx.events.appendedBytes - before;
  });

  // The head a write hands out (register, login) counts the events its batch appended before it: two jobs of one batch.
  const committed = await r.events.head();
  const heads: number[] = [];
  await Promise.all([
    b.write(async (tx, afterCommit) => {
      await tx.events.headOnCommit(afterCommit, (h) => heads.push(h));
    }),
    b.write(async (tx, afterCommit) => {
      await tx.events.append(afterCommit, ['u:u-ann'], 'user.updated', { what: 'head' } as never, at);
      await tx.events.headOnCommit(afterCommit, (h) => heads.push(h));
    }),
  ]);
  assert.deepEqual(heads, [committed, committed + 1], `${b.name}: the head at each job's place in the batch`);
  await rec(b, 'events.headOnCommit', Promise.resolve(heads));

  // Whole accounts: the operators' views, disabling, the export's reads, a deletion
  await rec(b, 'accounts.ownedServers', r.accounts.ownedServers('u-ann'));
  await rec(b, 'accounts.summary', r.accounts.summary('u-ann'));
  await rec(b, 'accounts.summary of bob', r.accounts.summary('u-bob'));
  await rec(b, 'accounts.counts', r.accounts.counts(T));
  await rec(b, 'accounts.list', r.accounts.list(null, false, null, 3));
  await rec(b, 'accounts.list after', r.accounts.list(null, false, 'bob', 3));
  await rec(b, 'accounts.list search', r.accounts.list('A', false, null, 10));
  await rec(b, 'accounts.list search escaped', r.accounts.list('%', false, null, 10));
  await w('accounts.setDisabled', async (tx) => [
    await tx.accounts.setDisabled('u-cat', T + 50),
    await tx.accounts.setDisabled('u-cat', T + 51),
    await tx.accounts.setDisabled('u-eve', T + 52),
    await tx.accounts.setDisabled('u-eve', null),
    await tx.accounts.setDisabled('u-eve', null),
  ]);
  await rec(b, 'accounts.list disabled', r.accounts.list(null, true, null, 10));
  await rec(b, 'accounts.sessionsOf', r.accounts.sessionsOf('u-ann'));
  await rec(b, 'accounts.liveSessions', r.accounts.liveSessions(['s1', 's4', 'b1', 'nope']));
  await rec(b, 'accounts.liveSessions none', r.accounts.liveSessions([]));
  await rec(b, 'accounts.messagesBy', r.accounts.messagesBy('u-ann', null, 3));
  const firstPage = await r.accounts.messagesBy('u-ann', null, 2);
  const last = firstPage[firstPage.length - 1];
  await rec(
    b,
    'accounts.messagesBy after',
    r.accounts.messagesBy('u-ann', last ? { createdAt: last.createdAt, id: last.id } : null, 100),
  );
  await rec(b, 'accounts.latestBy', r.accounts.latestBy('u-ann', 2));
  await rec(b, 'accounts.uploadsBy', r.accounts.uploadsBy('u-ann'));
  await rec(b, 'accounts.reportsBy', r.accounts.reportsBy('u-bob'));
  await rec(b, 'accounts.signal unset', r.accounts.signal());
  await w('accounts.bumpSignal', async (tx) => {
    await tx.accounts.bumpSignal();
    await tx.accounts.bumpSignal();
  });
  await rec(b, 'accounts.signal', r.accounts.signal());
  await w('accounts.endSessions one', (tx) => tx.accounts.endSessions('u-bob', 'nope'));
  await w('accounts.endSessions', (tx) => tx.accounts.endSessions('u-dan', null));
  await w('accounts.deleteAccount keep', (tx) => tx.accounts.deleteAccount('u-dan', T + 60, 'keep'));
  await w('accounts.deleteAccount remove', (tx) => tx.accounts.deleteAccount('u-eve', T + 61, 'remove'));
  await rec(b, 'accounts.counts after', r.accounts.counts(T));
  // Mail: one-time codes, the outbox, accounts that never confirmed the address they owed
  const code = (id: string, purpose: 'verify' | 'reset', hash: string, createdAt: number, expiresAt: number) => ({
    id,
    userId: 'u-ann',
    purpose,
    address: 'ann@example.org',
    codeHash: hash,
    createdAt,
    expiresAt,
    tries: 0,
    usedAt: null,
  });
  await w('mail.putCode', (tx) => tx.mail.putCode(code('c-1', 'verify', 'aa', T, T + 1000)));
  await w('mail.putCode supersedes the earlier code', (tx) =>
    tx.mail.putCode(code('c-2', 'verify', 'bb', T + 1, T + 1000)),
  );
  await w('mail.putCode of another purpose', (tx) => tx.mail.putCode(code('c-3', 'reset', 'cc', T + 2, T + 5)));
  await rec(b, 'mail.latestCode', r.mail.latestCode('u-ann', 'verify'));
  await rec(b, 'mail.latestCode none', r.mail.latestCode('u-bob', 'reset'));
  await w('mail.addTry', async (tx) => [
    await tx.mail.addTry('c-2'),
    await tx.mail.addTry('c-2'),
    await tx.mail.addTry('nope'),
  ]);
  await w('mail.useCode', async (tx) => [await tx.mail.useCode('c-2', T + 3), await tx.mail.useCode('c-2', T + 4)]);
  await rec(b, 'mail.latestCode used', r.mail.latestCode('u-ann', 'verify'));
  await w('mail.pruneCodes', (tx) => tx.mail.pruneCodes(T + 10, 10));
  await w('mail.dropCodes', (tx) => tx.mail.dropCodes('u-ann', 'verify'));
  await rec(b, 'mail.latestCode dropped', r.mail.latestCode('u-ann', 'verify'));
  await rec(b, 'mail.nextDue empty', r.mail.nextDue());
  await w('mail.enqueue', async (tx) => {
    const ids: number[] = [];
    for (const [i, kind] of ['verify', 'reset', 'verify', 'reset'].entries()) {
      ids.push(
        await tx.mail.enqueue({ kind, toAddress: `a${i}@example.org`, subject: 's', body: 'b', createdAt: T + i }),
      );
    }
    return ids.map((id) => id - (ids[0] ?? 0));
  });
  const [m1, m2, m3, m4] = await outboxIds(b);
  await w('mail.claim', async (tx) => (await tx.mail.claim(T + 2, T + 100, 2)).map((m) => m.kind));
  await w('mail.claim skips claimed mail', async (tx) => (await tx.mail.claim(T + 2, T + 100, 10)).map((m) => m.kind));
  await w('mail.claim after the claims ran out', async (tx) => (await tx.mail.claim(T + 100, T + 200, 1)).length);
  await w('mail.markSent', (tx) => tx.mail.markSent(m1 ?? 0, T + 5));
  await w('mail.markRetry', (tx) => tx.mail.markRetry(m2 ?? 0, T + 500, 'ECONNREFUSED', true));
  await w('mail.markRetry uncounted', (tx) => tx.mail.markRetry(m4 ?? 0, T + 400, 'not tried', false));
  await w('mail.markFailed', (tx) => tx.mail.markFailed(m3 ?? 0, T + 6, 'SMTP 550'));
  await rec(b, 'mail.pending', r.mail.pending());
  await rec(b, 'mail.nextDue', r.mail.nextDue());
  await rec(
    b,
    'mail.summary',
    r.mail.summary(10).then((s) => ({ ...s, failures: s.failures.map(({ id: _id, ...f }) => f) })),
  );
  await w('mail.pruneOutbox', (tx) => tx.mail.pruneOutbox(T + 2, 10));
  await w('users owing a confirmation', async (tx) => {
    await tx.users.insert({ ...user('u-unc', 'unconfirmed', T + 8), verifyBy: T + 50 });
    await tx.users.insert({ ...user('u-unc2', 'unconfirmed2', T + 8), verifyBy: T + 51 });
  });
  await rec(b, 'mail.overdueUnconfirmed not yet', r.mail.overdueUnconfirmed(T + 49, 10));
  await rec(b, 'mail.overdueUnconfirmed', r.mail.overdueUnconfirmed(T + 51, 10));
  await w('mail.removeUnconfirmed too early', (tx) => tx.mail.removeUnconfirmed('u-unc', T + 49));
  await w('mail.removeUnconfirmed', (tx) => tx.mail.removeUnconfirmed('u-unc', T + 50));
  await w('users.update confirmed', (tx) => tx.users.update('u-unc2', { verifyBy: null }));
  await w('mail.removeUnconfirmed once confirmed', (tx) => tx.mail.removeUnconfirmed('u-unc2', T + 60));

  // Deletions, and what they take along
  await w('chat.deleteConversation', (tx) => tx.chat.deleteConversation('d-ac'));
  await w('chat.deleteServer', (tx) => tx.chat.deleteServer('s-beta'));
  await rec(b, 'chat.server deleted', r.chat.server('s-beta'));
}

/** The outbox's mail ids, oldest first. */
async function outboxIds(b: Backend): Promise<number[]> {
  return (await b.table('mail_outbox')).map((r) => Number(r.id)).sort((x, y) => x - y);
}

/** Every table of both backends, but the FTS5 and tsvector columns of each, at the end of the script. */
const TABLES = [
  'users',
  'username_holds',
  'blocks',
  'usage',
  'sessions',
  'login_addresses',
  'servers',
  'members',
  'bans',
  'conversations',
  'conversation_members',
  'group_invites',
  'read_states',
  'invites',
  'messages',
  'message_search_rows',
  'mentions',
  'events',
  'event_scopes',
  'audit_log',
  'automod_rules',
  'held_messages',
  'reports',
  'attachments',
  'upload_usage',
  'account_codes',
  'mail_outbox',
];

const cleanup: (() => Promise<void>)[] = [];
after(async () => {
  for (const step of cleanup.reverse()) await step();
});

test('the PostgreSQL stores answer every call of the script as the SQLite query code does, and leave the same tables', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'natter-contract-'));
  cleanup.push(async () => rmSync(dataDir, { recursive: true, force: true }));
  const sqlite = sqliteBackend(dataDir, cleanup);

  const database = await freshDatabase();
  cleanup.push(() => database.drop());
  const published: StoredEvent[] = [];
  const store = await openPostgresStore(database.url, {
    publish: (e) => published.push(e),
    writeBytesPerDay: BUDGET,
  });
  cleanup.push(() => store.close());
  const pool = new pg.Pool({ connectionString: database.url, max: 1, types: pgTypes });
  // pool.end() resolves before its connections have closed: dropping the database then ends them with an error.
  pool.on('error', () => {});
  cleanup.push(() => pool.end());
  const postgres = postgresBackend(store, pool);

  await script(sqlite);
  await script(postgres);

  assert.equal(postgres.log.length, sqlite.log.length, 'both ran the whole script');
  for (const [i, [label, value]] of sqlite.log.entries()) {
    assert.deepEqual(postgres.log[i], [label, value], `step ${i}: ${label}`);
  }

  // What was written: every table, row by row (booleans are 0 and 1 in SQLite, made-up ids by name).
  const pgTables = Object.values(pgSchema)
    .filter((v) => is(v, PgTable))
    .map((v) => getTableName(v))
    // Kept by PostgreSQL alone: the event counter and the shared rate limits (SQLite's are in memory).
    .filter((name) => name !== 'event_counter' && name !== 'rate_buckets' && name !== 'meta');
  assert.deepEqual([...TABLES].sort(), pgTables.sort(), 'every table is compared');
  for (const name of TABLES) {
    const strip = (b: Backend, rows: Record<string, unknown>[]) =>
      rows
        .map((row) => {
          const { document: _document, ...rest } = row;
          if (name === 'messages') rest.bot = rest.bot === true || rest.bot === 1;
          if (name === 'users') rest.operator = rest.operator === true || rest.operator === 1;
          if (name === 'held_messages') rest.bot = rest.bot === true || rest.bot === 1;
          if (name === 'automod_rules') rest.enabled = rest.enabled === true || rest.enabled === 1;
          return normalize(b, rest);
        })
        // Made-up ids sort anywhere: compare the rows as a set.
        .sort((x, y) => (JSON.stringify(x) < JSON.stringify(y) ? -1 : 1));
    const expected = strip(sqlite, await sqlite.table(name));
    const actual = strip(postgres, await postgres.table(name));
    assert.deepEqual(actual, expected, `table ${name}`);
  }

  // The events a PostgreSQL write published are the events stored, in order (those pruned since included).
  assert.deepEqual(
    published.map((e) => e.id),
    published.map((_, i) => i + 1),
    'one publication per event, in id order, without gaps',
  );
  const stored = await store.events.since(0, 1000);
  const asSet = (e: StoredEvent | undefined) => e && { ...e, scopes: [...e.scopes].sort() };
  for (const e of stored) assert.deepEqual(asSet(published[e.id - 1]), asSet(e));

  const expected = [
    ...methodsOf(PostgresChat.prototype).map((m) => `chat.${m}`),
    ...methodsOf(PostgresUsers.prototype).map((m) => `users.${m}`),
    ...methodsOf(PostgresSessions.prototype).map((m) => `sessions.${m}`),
    ...methodsOf(PostgresEvents.prototype).map((m) => `events.${m}`),
    ...methodsOf(PostgresUsage.prototype).map((m) => `usage.${m}`),
    ...methodsOf(PostgresAudit.prototype).map((m) => `audit.${m}`),
    ...methodsOf(PostgresReports.prototype).map((m) => `reports.${m}`),
    ...methodsOf(PostgresMedia.prototype).map((m) => `media.${m}`),
    ...methodsOf(PostgresAccounts.prototype).map((m) => `accounts.${m}`),
    ...methodsOf(PostgresMail.prototype).map((m) => `mail.${m}`),
  ];
  assert.ok(expected.length > 100, 'the method lists were read');
  const missing = expected.filter((m) => !called.has(m) && NOT_COMPARED[m] === undefined);
  assert.deepEqual(missing, [], 'methods the script never called');
});
