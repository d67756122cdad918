import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import pg from 'pg';
import { NatterError, type OpName, type ParamsIn, type ResultOf } from '../../src/protocol/index.js';
import { backupDatabase } from '../../src/server/db/backup.js';
import { DB_FILE } from '../../src/server/db/index.js';
import { migrateData } from '../../src/server/store/migrate-data.js';
import { migratePostgres } from '../../src/server/store/postgres/migrate.js';
import { HttpApi, PASSWORD } from '../helpers/api.js';
import { freshDatabase, type TestDatabase } from '../helpers/postgres.js';
import { RawWs } from '../helpers/raw.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { DEADLINE_MS, deadline, waitFor, within } from '../helpers/wait.js';

/**
 * `natter migrate-data`: a SQLite installation, made through the protocol by
 * a real server, moved into PostgreSQL by the command as a person runs it,
 * then served from PostgreSQL by a real server and checked through the
 * protocol; and the moves it must refuse, leaving the target as it was.
 */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

type Run = { code: number | null; stdout: string; stderr: string };

/** `natter args...` run from the sources (this suite does not build dist/), without NATTER_* settings. */
type Started = { child: ChildProcess; output(): string; result: Promise<Run> };

function startNatter(args: string[]): Started {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('NATTER_')) env[k] = v;
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (c: string) => {
    stdout += c;
  });
  child.stderr?.setEncoding('utf8').on('data', (c: string) => {
    stderr += c;
  });
  const done = new Promise<Run>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
  const output = () => `stdout: ${stdout}\nstderr: ${stderr}`;
  const result = within(done, `natter ${args.join(' ')} to exit`, 4 * DEADLINE_MS, output).catch((err: unknown) => {
    child.kill('SIGKILL');
    throw err;
  });
  return { child, output, result };
}

/** Runs `natter args...` to its end. */
const natter = (args: string[]): Promise<Run> => startNatter(args).result;

const cleanup: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const step of cleanup.reverse()) await step();
});

async function database(): Promise<{ db: TestDatabase; pool: pg.Pool }> {
  const db = await freshDatabase();
  cleanup.push(() => db.drop());
  const pool = new pg.Pool({ connectionString: db.url, max: 2 });
  cleanup.push(() => pool.end());
  return { db, pool };
}

async function sqliteServer(): Promise<TestServer> {
  const t = await startTestServer();
  cleanup.push(() => t.destroy());
  return t;
}

/** The user tables of a PostgreSQL database, each with its rows as sorted JSON: what "unchanged" is checked by. */
async function contents(pool: pg.Pool): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  const tables = await pool.query<{ schema: string; name: string }>(
    `SELECT n.nspname AS schema, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname IN ('public', 'drizzle') AND c.relkind = 'r' ORDER BY 1, 2`,
  );
  for (const { schema, name } of tables.rows) {
    const rows = await pool.query<{ row: string }>(`SELECT to_jsonb(t)::text AS row FROM "${schema}"."${name}" t`);
    out[`${schema}.${name}`] = rows.rows.map((r) => r.row).sort();
  }
  return out;
}

/** The tables of the public schema that hold rows (an event counter past 0 counts). */
async function tablesWithRows(pool: pg.Pool): Promise<string[]> {
  const full: string[] = [];
  for (const [table, rows] of Object.entries(await contents(pool))) {
    if (!table.startsWith('public.')) continue;
    if (table === 'public.event_counter' && rows.every((r) => (JSON.parse(r) as { last: number }).last === 0)) continue;
    if (rows.length > 0) full.push(table);
  }
  return full;
}

type Caller = <N extends OpName>(op: N, params: ParamsIn<N>) => Promise<ResultOf<N>>;

/** Calls over HTTP with a token, as a script would. */
function as(base: string, token: string): Caller {
  const api = new HttpApi(base);
  api.token = token;
  return (op, params) => api.call(op, params);
}

type Frame = { id?: unknown; event?: string; data?: unknown; cursor?: string; result?: unknown };
const streamEvents = (frames: unknown[]): Frame[] =>
  (frames as Frame[]).filter((f) => typeof f.event === 'string' && typeof f.cursor === 'string');

let requestId = 0;
/** Sends one request on a raw WebSocket and waits for its reply. */
async function rawCall(raw: RawWs, op: string, params: unknown): Promise<Frame> {
  const id = `r${++requestId}`;
  raw.send(JSON.stringify({ id, op, params }));
  const reply = (await raw.reply(id)) as Frame & { error?: unknown };
  assert.equal(reply.error, undefined, `${op} failed: ${JSON.stringify(reply.error)}`);
  return reply;
}

const authResult = (reply: Frame): { cursor: string } => reply.result as { cursor: string };

/** What one account sees, through the protocol: every list, every history, some searches. */
async function view(call: Caller) {
  const { conversations } = await call('conversations.list', { limit: 100 });
  const histories: Record<string, ResultOf<'messages.history'>> = {};
  for (const c of conversations) {
    histories[c.id] = await call('messages.history', { conversationId: c.id, limit: 100 });
  }
  const searches: Record<string, ResultOf<'messages.search'>> = {};
  for (const query of ['hello', 'cafe', 'climb', '日本', 'edited']) {
    searches[query] = await call('messages.search', { query, limit: 50 });
  }
  return {
    user: (await call('whoami', {})).user,
    conversations,
    histories,
    searches,
    servers: await call('servers.list', {}),
    groups: await call('groups.list', {}),
    invitations: (await call('groups.invitations', {})).invitations,
    dms: await call('dms.list', {}),
    blocks: (await call('blocks.list', {})).blocks,
    settings: await call('settings.get', {}),
    // Which sessions exist (when each was last used moves with every request).
    sessions: (await call('sessions.list', {})).sessions.map((s) => [s.id, s.client, s.createdAt]),
  };
}

/** What every account sees, and what the owner sees of the server. */
async function observe(base: string, tokens: Record<string, string>, serverId: string) {
  const users: Record<string, Awaited<ReturnType<typeof view>>> = {};
  for (const [name, token] of Object.entries(tokens)) users[name] = await view(as(base, token));
  const owner = as(base, tokens.alice ?? '');
  const server = {
    members: (await owner('members.list', { serverId })).members.map((m) => [m.user, m.role, m.joinedAt]),
    bans: (await owner('bans.list', { serverId })).bans,
    invites: (await owner('invites.list', { serverId })).invites,
    channels: await owner('channels.list', { serverId }),
    tokens: (await owner('tokens.list', {})).tokens.map((t) => [t.id, t.name, t.createdAt]),
  };
  return { users, server };
}

test('a SQLite installation moved by natter migrate-data is served from PostgreSQL as it was: logins, tokens, histories, unread counts, search, and a cursor resumes with what came after', async () => {
  const t1 = await sqliteServer();
  const api = new HttpApi(t1.httpUrl);
  const tokens: Record<string, string> = {};
  const ids: Record<string, string> = {};
  for (const name of ['alice', 'bob', 'carol', 'dave']) {
    const reg = await api.call('register', { username: name, password: PASSWORD });
    tokens[name] = reg.token;
    ids[name] = reg.user.id;
  }
  const alice = as(t1.httpUrl, tokens.alice ?? '');
  const bob = as(t1.httpUrl, tokens.bob ?? '');
  const carol = as(t1.httpUrl, tokens.carol ?? '');
  const dave = as(t1.httpUrl, tokens.dave ?? '');
  const bot = (await alice('tokens.create', { name: 'deploy-bot' })).token;

  const created = await alice('servers.create', { name: 'acme', description: 'the acme people' });
  const serverId = created.server.id;
  const general = created.channels[0]?.id ?? '';
  const dev = (await alice('channels.create', { serverId, name: 'dev', topic: 'builds' })).channel.id;
  const { invite } = await alice('invites.create', { serverId, maxUses: 10 });
  await alice('invites.create', { serverId, expiresInSeconds: 3600 });
  for (const member of [bob, carol, dave]) await member('invites.join', { code: invite.code });
  await alice('members.role', { serverId, userId: ids.bob ?? '', role: 'admin' });

  // Bob listens from here on; the cursor he holds now is the one he resumes with after the move.
  const listener = await RawWs.open(t1.wsUrl);
  cleanup.push(() => listener.close());
  const authed = await rawCall(listener, 'auth', { token: tokens.bob });
  const send = (call: Caller, conversationId: string, body: string, kind?: 'action') =>
    call('messages.send', { conversationId, body, nonce: randomUUID(), ...(kind ? { kind } : {}) });
  await send(alice, general, 'hello @bob, welcome');
  await send(bob, general, 'hello alice');
  await rawCall(listener, 'ping', {});
  const heldCursor = Number(streamEvents(listener.messages).at(-1)?.cursor ?? authResult(authed).cursor);

  const edited = await send(carol, general, 'café au lait for @alice');
  await carol('messages.edit', { messageId: edited.message.id, body: 'café au lait for @alice (edited)' });
  const gone = await send(alice, general, 'a mistake');
  await alice('messages.delete', { messageId: gone.message.id });
  await send(alice, dev, 'waves', 'action');
  await send(as(t1.httpUrl, bot), dev, 'build 42 passed, hello from the bot');
  await send(dave, general, '日本語のテスト');
  await bob('messages.send', { to: 'alice', body: 'hello in private', nonce: randomUUID() });
  await bob('settings.update', { groupAdds: 'everyone' });
  const group = (await alice('groups.create', { name: 'climbing', usernames: ['bob', 'carol'] })).group.id;
  await send(bob, group, 'climb on saturday?');
  await alice('bans.add', { serverId, userId: ids.dave ?? '', reason: 'spam' });
  await carol('blocks.add', { username: 'dave' });
  await alice('profile.update', { status: 'moving house' });
  await carol('username.change', { username: 'carola' });
  await send(bob, dev, '@alice the build is green');
  const latest = await bob('conversations.list', { limit: 100 });
  const bobGeneral = latest.conversations.find((c) => c.id === general);
  await bob('read.mark', { conversationId: general, seq: (bobGeneral?.lastSeq ?? 1) - 1 });
  await alice('read.mark', { conversationId: dev, seq: 1 });
  await rawCall(listener, 'ping', {});
  const liveAfterHeld = streamEvents(listener.messages).filter((f) => Number(f.cursor) > heldCursor);
  assert.ok(liveAfterHeld.length >= 10, `bob saw what came after his cursor (${liveAfterHeld.length} events)`);

  const before = await observe(t1.httpUrl, tokens, serverId);
  // What the comparison below covers is there to compare.
  const summary = (user: string, id: string) => before.users[user]?.conversations.find((c) => c.id === id);
  assert.deepEqual([summary('bob', general)?.unread, summary('alice', dev)?.mentions], [1, 1]);
  assert.equal(before.users.carol?.invitations.length, 1);
  assert.equal(before.users.carol?.blocks.length, 1);
  assert.equal(before.users.carol?.user.username, 'carola');
  assert.equal(before.server.bans.length, 1);
  assert.equal(before.server.invites.length, 2);
  assert.ok(
    Object.values(before.users.alice?.searches ?? {}).every((s) => s.hits.length > 0),
    'each search finds',
  );
  // The newest event id: what `auth` answers as the cursor.
  const probe = await RawWs.open(t1.wsUrl);
  cleanup.push(() => probe.close());
  const oldHead = Number(authResult(await rawCall(probe, 'auth', { token: tokens.dave })).cursor);
  await t1.stop();

  const { db, pool } = await database();
  const moved = await natter(['migrate-data', '--from', t1.dataDir, '--to', db.url]);
  assert.equal(moved.code, 0, moved.stderr);
  assert.match(moved.stdout, /^moved .*natter\.db into postgres:\/\/.* in [\d.]+ s/);
  assert.match(moved.stdout, /\n {2}messages +10\n/);
  assert.match(moved.stdout, /verified: PostgreSQL holds as many rows in each table as SQLite did\n$/);
  assert.equal(moved.stderr, '');

  const t2 = await startTestServer({ database: db.url });
  cleanup.push(() => t2.destroy());

  // The old session tokens work, and everyone sees what they saw.
  assert.deepEqual(await observe(t2.httpUrl, tokens, serverId), before);

  // Passwords, and the bot token.
  const api2 = new HttpApi(t2.httpUrl);
  for (const name of ['alice', 'bob', 'carola', 'dave']) {
    const login = await api2.call('login', { username: name, password: PASSWORD });
    assert.equal(login.user.username, name);
  }
  const botWho = await as(t2.httpUrl, bot)('whoami', {});
  assert.equal(botWho.user.username, 'alice');
  assert.equal(botWho.botToken?.name, 'deploy-bot');
  // The name carol gave up is still held for her.
  const taken = await api2.call('register', { username: 'carol', password: PASSWORD }).catch((err: unknown) => err);
  assert.ok(taken instanceof NatterError, 'the held name cannot be registered');

  // Bob resumes from the cursor he held before the move: exactly what came after it, then live events.
  const resumed = await RawWs.open(t2.wsUrl);
  cleanup.push(() => resumed.close());
  const auth = await rawCall(resumed, 'auth', { token: tokens.bob, cursor: String(heldCursor) });
  assert.equal(authResult(auth).cursor, String(oldHead));
  await resumed.waitFor((m) => (m as Frame).event === 'caught_up', DEADLINE_MS, 'caught_up');
  const replayed = streamEvents(resumed.messages);
  assert.deepEqual(replayed, liveAfterHeld);

  // New messages continue the conversation's numbers and the event ids.
  const alice2 = as(t2.httpUrl, tokens.alice ?? '');
  const next = await alice2('messages.send', { conversationId: general, body: 'hello from postgres', nonce: 'pg-1' });
  assert.equal(next.message.seq, (summary('alice', general)?.lastSeq ?? 0) + 1);
  const live = (await resumed.waitFor(
    (m) => (m as Frame).event === 'message.created' && Number((m as Frame).cursor) > oldHead,
    DEADLINE_MS,
    'the new message, live',
  )) as Frame;
  assert.equal((live.data as { message: { id: string } }).message.id, next.message.id);
  const firstNew = await pool.query<{ id: string }>('SELECT min(id)::text AS id FROM events WHERE id > $1', [oldHead]);
  assert.equal(Number(firstNew.rows[0]?.id), oldHead + 1, 'event ids continue right after the moved ones');
  const found = await alice2('messages.search', { query: 'postgres' });
  assert.deepEqual(
    found.hits.map((h) => h.message.id),
    [next.message.id],
  );
});

test('natter migrate-data reads one snapshot of a server that keeps writing: the copy is whole up to some moment', async () => {
  const t = await sqliteServer();
  const reg = await new HttpApi(t.httpUrl).call('register', { username: 'busy', password: PASSWORD });
  const call = as(t.httpUrl, reg.token);
  const channel = (await call('servers.create', { name: 'busy' })).channels[0]?.id ?? '';
  let stop = false;
  let sent = 0;
  const writer = (async () => {
    const overdue = deadline('the move to finish while sends keep coming', 4 * DEADLINE_MS);
    while (!stop) {
      overdue();
      await call('messages.send', { conversationId: channel, body: `busy ${sent}`, nonce: `busy-${sent}` });
      sent++;
    }
  })();
  await waitFor(() => sent > 0, { what: 'the sends to start' });
  const { db, pool } = await database();
  const moved = await natter(['migrate-data', '--from', t.dataDir, '--to', db.url]);
  stop = true;
  await writer;
  assert.equal(moved.code, 0, moved.stderr);

  const copied = await pool.query<{ n: string; top: string | null; last: string; read: string }>(
    `SELECT count(m.id)::text AS n, max(m.seq)::text AS top, c.last_seq::text AS last,
            (SELECT last_read_seq FROM read_states WHERE conversation_id = c.id)::text AS read
       FROM conversations c LEFT JOIN messages m ON m.conversation_id = c.id WHERE c.id = $1 GROUP BY c.id`,
    [channel],
  );
  const row = copied.rows[0];
  assert.ok(row);
  // Numbers 1..n with nothing torn: the conversation's counter and the sender's read position say n too.
  assert.ok(Number(row.n) > 0);
  assert.equal(row.top, row.n);
  assert.equal(row.last, row.n);
  assert.equal(row.read, row.n);
  // A send takes a commit; the move a process of its own: sends went on after its snapshot.
  assert.ok(Number(row.n) < sent, `the server kept writing during the move (${row.n} copied of ${sent} sent)`);
  const events = await pool.query<{ last: string; top: string; n: string }>(
    'SELECT (SELECT last FROM event_counter)::text AS last, max(id)::text AS top, count(*)::text AS n FROM events',
  );
  assert.equal(events.rows[0]?.last, events.rows[0]?.top);
});

test('natter migrate-data moves a database file natter backup wrote, and says what it moved in --json', async () => {
  const t = await sqliteServer();
  const reg = await new HttpApi(t.httpUrl).call('register', { username: 'archivist', password: PASSWORD });
  const call = as(t.httpUrl, reg.token);
  const channel = (await call('servers.create', { name: 'archive' })).channels[0]?.id ?? '';
  for (let i = 1; i <= 3; i++)
    await call('messages.send', { conversationId: channel, body: `kept ${i}`, nonce: `k${i}` });
  const file = join(t.dataDir, 'copy.db');
  await backupDatabase(t.dataDir, file);
  const { db, pool } = await database();
  const moved = await natter(['--json', 'migrate-data', '--from', file, '--to', db.url]);
  assert.equal(moved.code, 0, moved.stderr);
  const summary = JSON.parse(moved.stdout) as {
    from: string;
    to: string;
    tables: { table: string; rows: number }[];
    searchRows: number;
    eventCounter: number;
  };
  assert.equal(summary.from, file);
  assert.equal(summary.to, db.url.replace(/^postgres:\/\/([^:@]+)(:[^@]*)?@/, 'postgres://$1@'));
  assert.equal(summary.tables.find((x) => x.table === 'messages')?.rows, 3);
  assert.equal(summary.searchRows, 3);
  const counter = await pool.query<{ last: string; top: string }>(
    'SELECT (SELECT last FROM event_counter)::text AS last, max(id)::text AS top FROM events',
  );
  assert.equal(String(summary.eventCounter), counter.rows[0]?.last);
  assert.equal(counter.rows[0]?.last, counter.rows[0]?.top);
});

test('a move in batches of two keeps every row, and the messages in the order SQLite indexed them', async () => {
  const t = await sqliteServer();
  const reg = await new HttpApi(t.httpUrl).call('register', { username: 'batcher', password: PASSWORD });
  const call = as(t.httpUrl, reg.token);
  const channel = (await call('servers.create', { name: 'batches' })).channels[0]?.id ?? '';
  const ids: string[] = [];
  for (let i = 1; i <= 7; i++) {
    ids.push((await call('messages.send', { conversationId: channel, body: `batch ${i}`, nonce: `b${i}` })).message.id);
  }
  await call('messages.delete', { messageId: ids[2] ?? '' });
  await call('messages.edit', { messageId: ids[0] ?? '', body: 'batch one, edited' });
  await t.stop();
  // Index keys in another order than the rows (as a database indexed after the fact has them): the keys decide.
  const sqlite = new Database(join(t.dataDir, DB_FILE));
  sqlite.exec('UPDATE message_search_rows SET key = 1000 - key');
  const indexed = (
    sqlite.prepare('SELECT message_id AS id FROM message_search_rows ORDER BY key').all() as { id: string }[]
  ).map((r) => r.id);
  sqlite.close();

  const { db, pool } = await database();
  const progress: string[] = [];
  const summary = await migrateData({
    from: t.dataDir,
    to: db.url,
    batchRows: 2,
    onProgress: (table, done, total) => {
      if (table === 'messages') progress.push(`${done}/${total}`);
    },
  });
  assert.deepEqual(progress, ['2/7', '4/7', '6/7', '7/7']);
  assert.equal(summary.tables.find((x) => x.table === 'messages')?.rows, 7);
  const search = await pool.query<{ id: string }>('SELECT message_id AS id FROM message_search_rows ORDER BY key');
  assert.deepEqual(
    search.rows.map((r) => r.id),
    indexed,
  );
  assert.equal(indexed.length, 6);
  assert.deepEqual(indexed, ids.filter((_, i) => i !== 2).reverse());
});

test('natter migrate-data refuses a database that holds rows, naming the tables, and changes nothing in it', async () => {
  const source = await sqliteServer();
  await new HttpApi(source.httpUrl).call('register', { username: 'mover', password: PASSWORD });
  await source.stop();

  // A natter database in use.
  const { db, pool } = await database();
  const running = await startTestServer({ database: db.url });
  cleanup.push(() => running.destroy());
  await new HttpApi(running.httpUrl).call('register', { username: 'already', password: PASSWORD });
  await running.stop();
  const before = await contents(pool);
  const refused = await natter(['migrate-data', '--from', source.dataDir, '--to', db.url]);
  assert.equal(refused.code, 1, refused.stderr);
  assert.match(
    refused.stderr,
    /^error: not_empty: --to postgres:\/\/\S+ is not empty \(rows in [a-z_, ]*\busers\b[a-z_, ]*\): migrate-data moves an installation into an empty database only; nothing was changed\n$/,
  );
  assert.equal(refused.stdout, '');
  assert.deepEqual(await contents(pool), before);

  // Another program's database: refused before natter's migrations touch it.
  const other = await database();
  await other.pool.query('CREATE TABLE notes (body text); INSERT INTO notes VALUES ($$keep me$$)');
  const foreign = await natter(['migrate-data', '--from', source.dataDir, '--to', other.db.url]);
  assert.equal(foreign.code, 1, foreign.stderr);
  assert.match(foreign.stderr, /is not empty \(rows in notes\)/);
  assert.deepEqual(await contents(other.pool), { 'public.notes': ['{"body": "keep me"}'] });
});

test('natter migrate-data rolls the copy back when PostgreSQL ends up holding other counts than SQLite: the target keeps no row', async () => {
  const source = await sqliteServer();
  const reg = await new HttpApi(source.httpUrl).call('register', { username: 'reader', password: PASSWORD });
  const call = as(source.httpUrl, reg.token);
  const { channels } = await call('servers.create', { name: 'reading' });
  await call('messages.send', { conversationId: channels[0]?.id ?? '', body: 'read me', nonce: 'read-1' });
  await source.stop();

  // Something of the database's own (a rule, a trigger a replication tool added) drops rows as they arrive.
  const { db, pool } = await database();
  await migratePostgres(pool);
  await pool.query(`CREATE FUNCTION drop_row() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
    CREATE TRIGGER drop_read_states BEFORE INSERT ON read_states FOR EACH ROW EXECUTE FUNCTION drop_row()`);
  const failed = await natter(['migrate-data', '--from', source.dataDir, '--to', db.url]);
  assert.equal(failed.code, 1, failed.stderr);
  assert.match(
    failed.stderr,
    /^error: mismatch: after the copy, --to postgres:\/\/\S+ does not hold what SQLite held \(read_states: 1 in SQLite, 0 in PostgreSQL\); nothing was kept: the copy was rolled back\n$/,
  );
  assert.deepEqual(await tablesWithRows(pool), []);

  // Without it, the same move goes through.
  await pool.query('DROP TRIGGER drop_read_states ON read_states');
  const moved = await natter(['migrate-data', '--from', source.dataDir, '--to', db.url]);
  assert.equal(moved.code, 0, moved.stderr);
  assert.ok((await tablesWithRows(pool)).includes('public.read_states'));
});

test('natter migrate-data whose connection is ended mid-copy exits 4, saying so in words, and the target keeps no row', async () => {
  const source = await sqliteServer();
  await new HttpApi(source.httpUrl).call('register', { username: 'stranded', password: PASSWORD });
  await source.stop();

  // The copy of users waits inside the database until the test ends its connection, as a restart would.
  const { db, pool } = await database();
  await migratePostgres(pool);
  await pool.query(`CREATE FUNCTION hold() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(600); RETURN NULL; END $$;
    CREATE TRIGGER hold_users BEFORE INSERT ON users FOR EACH STATEMENT EXECUTE FUNCTION hold()`);
  const run = natter(['migrate-data', '--from', source.dataDir, '--to', db.url]);
  await waitFor(
    async () =>
      (
        await pool.query(
          `SELECT 1 FROM pg_stat_activity WHERE datname = current_database()
              AND application_name = 'natter migrate-data' AND query LIKE 'INSERT INTO "users"%'`,
        )
      ).rowCount === 1,
    { what: 'the copy of users to be under way', timeoutMs: 4 * DEADLINE_MS },
  );
  await pool.query(
    `SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity
      WHERE datname = current_database() AND application_name = 'natter migrate-data'`,
  );
  const lost = await run;
  assert.equal(lost.code, 4, lost.stderr);
  assert.match(
    lost.stderr,
    /^error: unreachable: copying users into --to postgres:\/\/\S+ failed: the connection to PostgreSQL was lost \(terminating connection due to administrator command\); nothing was kept: the copy was rolled back\n$/,
  );
  await pool.query('DROP TRIGGER hold_users ON users');
  assert.deepEqual(await tablesWithRows(pool), []);
});

test('natter migrate-data stopped by Ctrl-C rolls the copy back: exit 1, and the target keeps no row', async () => {
  const source = await sqliteServer();
  await new HttpApi(source.httpUrl).call('register', { username: 'hasty', password: PASSWORD });
  await source.stop();

  // The copy of users waits inside the database for a lock the test holds.
  const { db, pool } = await database();
  await migratePostgres(pool);
  await pool.query(`CREATE FUNCTION wait_for_test() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN PERFORM pg_advisory_lock(4242); PERFORM pg_advisory_unlock(4242); RETURN NULL; END $$;
    CREATE TRIGGER wait_users BEFORE INSERT ON users FOR EACH STATEMENT EXECUTE FUNCTION wait_for_test()`);
  const gate = await pool.connect();
  cleanup.push(() => gate.release());
  await gate.query('SELECT pg_advisory_lock(4242)');
  const run = startNatter(['migrate-data', '--from', source.dataDir, '--to', db.url]);
  await waitFor(
    async () =>
      (
        await pool.query(
          `SELECT 1 FROM pg_stat_activity WHERE datname = current_database()
              AND application_name = 'natter migrate-data' AND query LIKE 'INSERT INTO "users"%'`,
        )
      ).rowCount === 1,
    { what: 'the copy of users to be under way', timeoutMs: 4 * DEADLINE_MS, detail: run.output },
  );
  run.child.kill('SIGINT');
  await waitFor(() => run.output().includes('rolling the copy back'), {
    what: 'the command to say it stops',
    detail: run.output,
  });
  await gate.query('SELECT pg_advisory_unlock(4242)');
  const stopped = await run.result;
  assert.equal(stopped.code, 1, stopped.stderr);
  assert.match(
    stopped.stderr,
    /\nerror: interrupted: stopped before the commit: nothing was kept in --to postgres:\/\/\S+, the copy was rolled back\n$/,
  );
  assert.equal(stopped.stdout, '');
  await pool.query('DROP TRIGGER wait_users ON users');
  assert.deepEqual(await tablesWithRows(pool), []);
});
