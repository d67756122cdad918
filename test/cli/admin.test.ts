import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import Database from 'better-sqlite3';
import { connectAs, HttpApi, PASSWORD, uniqueName } from '../helpers/api.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { natter, type Result, removeTempDirs, tempDir } from './helpers.js';

// Instance operators on SQLite: natter admin grant, revoke and list change the server's
// own database file, running or stopped. bin/natter runs dist/ (npm run build first).

const servers: TestServer[] = [];
after(async () => {
  for (const s of servers) await s.destroy();
  removeTempDirs();
});

async function server(dataDir?: string): Promise<TestServer> {
  const t = await startTestServer({}, dataDir);
  servers.push(t);
  return t;
}

function ok(r: Result, what: string): Result {
  assert.equal(r.code, 0, `${what} failed (${r.code}): ${r.stderr}`);
  return r;
}

/** An account, with an HTTP API logged in as it. */
async function person(t: TestServer, prefix: string): Promise<{ name: string; id: string; api: HttpApi }> {
  const api = new HttpApi(t.httpUrl);
  const name = uniqueName(prefix);
  const reg = await api.call('register', { username: name, password: PASSWORD });
  return { name, id: reg.user.id, api };
}

test('on a running server: grant, again, list (table and JSON), revoke, again; the server sees each change at once and shows it to the operator alone', async () => {
  const t = await server();
  const [ann, bob] = await Promise.all([person(t, 'op-ann'), person(t, 'op-bob')]);
  const { server: guild } = await ann.api.call('servers.create', { name: uniqueName('Ops') });
  const { invite } = await ann.api.call('invites.create', { serverId: guild.id });
  await bob.api.call('invites.join', { code: invite.code });
  assert.equal((await ann.api.call('whoami', {})).user.operator, undefined, 'nobody is an operator at first');
  const data = ['--data', t.dataDir];

  // Any form of the name finds the account, as a login does.
  const granted = ok(await natter(['admin', 'grant', ann.name.toUpperCase(), ...data], {}), 'grant');
  assert.equal(granted.stdout, `${ann.name} is now an operator of this natter server\n`);
  assert.equal((await ann.api.call('whoami', {})).user.operator, true, 'the running server read the change');
  // Nobody else learns it: not from the profile change they hear of, a look-up, or the member list.
  const b = await connectAs(t.wsUrl, bob.api.token ?? '');
  const heard = b.nextEvent('user.updated', (d) => d.user.id === ann.id);
  assert.equal((await ann.api.call('profile.update', { status: 'on call' })).user.operator, true);
  assert.equal('operator' in (await heard).data.user, false);
  b.close();
  assert.equal('operator' in (await bob.api.call('users.get', { userId: ann.id })).user, false);
  const members = (await bob.api.call('members.list', { serverId: guild.id })).members;
  assert.equal(
    members.some((m) => 'operator' in m.user),
    false,
  );
  assert.equal('operator' in (await bob.api.call('whoami', {})).user, false);

  const again = ok(await natter(['admin', 'grant', ann.name, ...data], {}), 'grant again');
  assert.equal(again.stdout, `${ann.name} is already an operator of this natter server; nothing changed\n`);
  const both = ok(await natter(['admin', 'grant', `@${bob.name}`, ...data, '--json'], {}), 'grant --json');
  const doc = JSON.parse(both.stdout) as { database: string; user: Record<string, unknown>; changed: boolean };
  assert.deepEqual(doc, {
    database: join(t.dataDir, 'natter.db'),
    user: { id: bob.id, username: bob.name, displayName: null, createdAt: doc.user.createdAt },
    operator: true,
    changed: true,
  });

  // NATTER_DATA names the data directory, as for natter serve.
  const table = ok(await natter(['admin', 'list'], { NATTER_DATA: t.dataDir }), 'list')
    .stdout.trim()
    .split('\n');
  assert.match(table[0] ?? '', /^USERNAME\s+DISPLAY NAME\s+CREATED\s+ID$/);
  assert.deepEqual(
    table.slice(1).map((l) => l.split(/\s+/)[0]),
    [ann.name, bob.name].sort(),
  );
  const listed = JSON.parse(ok(await natter(['admin', 'list', ...data, '--json'], {}), 'list --json').stdout) as {
    operators: { id: string }[];
  };
  assert.deepEqual(listed.operators.map((u) => u.id).sort(), [ann.id, bob.id].sort());

  const whoami = ok(
    await natter(['whoami'], { NATTER_SERVER: t.wsUrl, NATTER_TOKEN: ann.api.token ?? '', NATTER_HOME: tempDir() }),
    'whoami',
  );
  assert.match(whoami.stdout, /^operator\s+yes: you are an operator of this natter server$/m);

  const revoked = ok(await natter(['admin', 'revoke', ann.name, ...data], {}), 'revoke');
  assert.equal(revoked.stdout, `${ann.name} is no longer an operator of this natter server\n`);
  assert.equal((await ann.api.call('whoami', {})).user.operator, undefined, 'the running server read the revocation');
  const notOne = ok(await natter(['admin', 'revoke', ann.name, ...data], {}), 'revoke again');
  assert.equal(notOne.stdout, `${ann.name} is not an operator of this natter server; nothing changed\n`);
  const plain = ok(
    await natter(['whoami'], { NATTER_SERVER: t.wsUrl, NATTER_TOKEN: ann.api.token ?? '', NATTER_HOME: tempDir() }),
    'whoami',
  );
  assert.doesNotMatch(plain.stdout, /operator/);
  const left = JSON.parse(ok(await natter(['admin', 'list', ...data, '--json'], {}), 'list').stdout) as {
    operators: { id: string }[];
  };
  assert.deepEqual(
    left.operators.map((u) => u.id),
    [bob.id],
  );
});

test('on a stopped server: grant and list work on the file, and the server started again has the operator', async () => {
  const t = await server();
  const cay = await person(t, 'op-cay');
  await t.stop();
  const data = ['--data', t.dataDir];
  ok(await natter(['admin', 'grant', cay.name, ...data], {}), 'grant while stopped');
  const listed = ok(await natter(['admin', 'list', ...data], {}), 'list while stopped').stdout;
  assert.match(listed, new RegExp(`^${cay.name}\\s`, 'm'));

  const again = await server(t.dataDir);
  const api = new HttpApi(again.httpUrl);
  await api.call('login', { username: cay.name, password: PASSWORD });
  assert.equal((await api.call('whoami', {})).user.operator, true);
});

test('an unknown user is refused by name; a data directory without a database is refused and left without one', async () => {
  const t = await server();
  const unknown = await natter(['admin', 'grant', 'nobody-here', '--data', t.dataDir], {});
  assert.equal(unknown.code, 1);
  assert.equal(
    unknown.stderr,
    `error: not_found: there is no account named "nobody-here" in ${join(t.dataDir, 'natter.db')}\n`,
  );
  const unknownJson = await natter(['admin', 'revoke', 'nobody-here', '--data', t.dataDir, '--json'], {});
  assert.equal(unknownJson.code, 1);
  assert.equal((JSON.parse(unknownJson.stdout) as { error: { code: string } }).error.code, 'not_found');

  const empty = tempDir('natter-admin-empty-');
  const missing = join(empty, 'not-there');
  for (const dir of [empty, missing]) {
    for (const args of [['grant', 'anyone'], ['revoke', 'anyone'], ['list']]) {
      const r = await natter(['admin', ...args, '--data', dir], {});
      assert.equal(r.code, 2, `${args[0]} on ${dir}`);
      assert.equal(
        r.stderr,
        `error: no_database: there is no natter database at ${join(dir, 'natter.db')}: give the data directory natter serve runs with (--data or NATTER_DATA), or its PostgreSQL URL (--database or NATTER_DATABASE)\n`,
      );
    }
  }
  assert.deepEqual(readdirSync(empty), [], 'no database was made by accident');
  assert.equal(existsSync(missing), false, 'nor a directory');
});

test('a database an older natter last opened is refused, with how to bring it up to date', async () => {
  const t = await server();
  await t.stop();
  const db = new Database(join(t.dataDir, 'natter.db'));
  db.exec('ALTER TABLE users DROP COLUMN operator');
  db.close();
  const r = await natter(['admin', 'list', '--data', t.dataDir], {});
  assert.equal(r.code, 1);
  assert.match(
    r.stderr,
    /^error: version: the database .*natter\.db was last opened by an older natter: start this version's server on it once \(natter serve --data .*\)/,
  );
});
