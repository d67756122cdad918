import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { NatterClient } from '../../src/client/index.js';
import { CloseCode } from '../../src/protocol/index.js';
import { natter, type Result, removeTempDirs } from '../cli/helpers.js';
import { closeCodeOf, connectAs, HttpApi, PASSWORD, rejection, uniqueName } from '../helpers/api.js';
import { type TestNats, testNats } from '../helpers/nats.js';
import { freshDatabase, type TestDatabase } from '../helpers/postgres.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { within } from '../helpers/wait.js';

/**
 * Two natter nodes on one PostgreSQL database and NATS: natter admin (the
 * built binary, on the database) disabling an account closes its
 * connections on both nodes; deleting an account through one node closes
 * its connections on the other; the user commands answer on PostgreSQL.
 */

let db: TestDatabase;
let bus: TestNats;
let east: TestServer;
let west: TestServer;
const clients: NatterClient[] = [];
before(async () => {
  db = await freshDatabase();
  bus = await testNats({ started: true });
  east = await startTestServer({ database: db.url, bus: bus.url, cluster: 'acc' });
  west = await startTestServer({ database: db.url, bus: bus.url, cluster: 'acc' });
});
after(async () => {
  for (const c of clients) c.close();
  await west?.destroy();
  await east?.destroy();
  await bus.dispose();
  await db.drop();
  removeTempDirs();
});

function ok(r: Result, what: string): Result {
  assert.equal(r.code, 0, `${what} failed (${r.code}): ${r.stderr}`);
  return r;
}

async function user(t: TestServer, prefix: string) {
  const api = new HttpApi(t.httpUrl);
  const username = uniqueName(prefix);
  const reg = await api.call('register', { username, password: PASSWORD });
  return { api, username, id: reg.user.id, token: reg.token };
}

async function connect(url: string, token: string): Promise<NatterClient> {
  const c = await connectAs(url, token);
  clients.push(c);
  return c;
}

test("natter admin disable closes the account's connections on both nodes; enable lets it back in", async () => {
  const amy = await user(east, 'ca-amy');
  const onEast = await connect(east.tcpUrl, amy.token);
  const onWest = await connect(west.wsUrl, amy.token);
  const closes = Promise.all([closeCodeOf(onEast, 'the east connection'), closeCodeOf(onWest, 'the west connection')]);
  ok(await natter(['admin', 'disable', amy.username, '--database', db.url], {}), 'disable');
  assert.deepEqual(await within(closes, 'both nodes to close the disabled account', 10_000), [
    CloseCode.accountClosed,
    CloseCode.accountClosed,
  ]);
  const refused = await rejection(
    new HttpApi(west.httpUrl).call('login', { username: amy.username, password: PASSWORD }),
  );
  assert.equal(refused.code, 'account_disabled');
  ok(await natter(['admin', 'enable', amy.username, '--database', db.url], {}), 'enable');
  await new HttpApi(west.httpUrl).call('login', { username: amy.username, password: PASSWORD });
});

test("account.delete through one node closes the account's connection on the other", async () => {
  const ben = await user(east, 'ca-ben');
  const onWest = await connect(west.wsUrl, ben.token);
  const closed = closeCodeOf(onWest, 'the west connection of the deleted account');
  const res = await ben.api.call('account.delete', { password: PASSWORD });
  assert.equal(res.deletedMessages, 'keep');
  assert.equal(await within(closed, 'the other node to close it', 10_000), CloseCode.accountClosed);
});

test('the user commands on PostgreSQL: users, show, sessions, end-sessions, reset-password, stats', async () => {
  const cy = await user(west, 'ca-cy');
  const listed = JSON.parse(
    ok(await natter(['admin', 'users', cy.username, '--json', '--database', db.url], {}), 'users').stdout,
  ) as { accounts: { username: string; sessions: number }[] };
  assert.deepEqual(
    listed.accounts.map((a) => [a.username, a.sessions]),
    [[cy.username, 1]],
  );
  const shown = JSON.parse(
    ok(await natter(['admin', 'show', cy.username, '--json', '--database', db.url], {}), 'show').stdout,
  ) as { sessions: number; serversOwned: unknown[] };
  assert.equal(shown.sessions, 1);
  assert.deepEqual(shown.serversOwned, []);
  const live = await connect(east.wsUrl, cy.token);
  const closed = closeCodeOf(live, 'the ended session');
  const ended = JSON.parse(
    ok(await natter(['admin', 'end-sessions', cy.username, '--json', '--database', db.url], {}), 'end-sessions').stdout,
  ) as { ended: string[] };
  assert.equal(ended.ended.length, 1);
  assert.equal(await within(closed, 'the ended session to close', 10_000), CloseCode.sessionRevoked);
  const reset = JSON.parse(
    ok(await natter(['admin', 'reset-password', cy.username, '--json', '--database', db.url], {}), 'reset').stdout,
  ) as { password: string };
  await new HttpApi(east.httpUrl).call('login', { username: cy.username, password: reset.password });
  const stats = JSON.parse(
    ok(await natter(['admin', 'stats', '--json', '--database', db.url], {}), 'stats').stdout,
  ) as { users: number; deleted: number; databaseBytes: number };
  assert.ok(stats.users >= 1);
  assert.ok(stats.deleted >= 1, 'the account deleted above is counted as such');
  assert.ok(stats.databaseBytes > 0);
  const unknown = await natter(['admin', 'show', 'nobody-here', '--database', db.url], {});
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /^error: not_found: there is no account named "nobody-here" in postgres:/);
});
