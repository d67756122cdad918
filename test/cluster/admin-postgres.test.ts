import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import pg from 'pg';
import { natter, type Result, removeTempDirs, tempDir } from '../cli/helpers.js';
import { HttpApi, PASSWORD, uniqueName } from '../helpers/api.js';
import { freshDatabase, type TestDatabase } from '../helpers/postgres.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

// Instance operators on PostgreSQL: natter admin takes the database as natter serve does
// (--database or NATTER_DATABASE) and changes it with a plain statement, while a server
// serves it or not. bin/natter runs dist/ (npm run test:cluster builds it first).

const cleanup: (() => Promise<void>)[] = [];
after(async () => {
  for (const step of cleanup.reverse()) await step();
  removeTempDirs();
});

async function database(): Promise<TestDatabase> {
  const db = await freshDatabase();
  cleanup.push(() => db.drop());
  return db;
}

async function server(db: TestDatabase): Promise<TestServer> {
  const t = await startTestServer({ database: db.url }, tempDir('natter-admin-pg-'));
  cleanup.push(() => t.stop());
  return t;
}

function ok(r: Result, what: string): Result {
  assert.equal(r.code, 0, `${what} failed (${r.code}): ${r.stderr}`);
  return r;
}

/** The URL as messages show it: no password. */
function shown(url: string): string {
  const u = new URL(url);
  return `postgres://${u.username ? `${u.username}@` : ''}${u.host}${u.pathname}`;
}

test('grant, list and revoke on the database a running server serves; the server sees each change at once', async () => {
  const db = await database();
  const t = await server(db);
  const api = new HttpApi(t.httpUrl);
  const name = uniqueName('pg-op');
  const reg = await api.call('register', { username: name, password: PASSWORD });

  const granted = ok(await natter(['admin', 'grant', name, '--database', db.url], {}), 'grant');
  assert.equal(granted.stdout, `${name} is now an operator of this natter server\n`);
  assert.equal((await api.call('whoami', {})).user.operator, true);
  const again = ok(await natter(['admin', 'grant', name], { NATTER_DATABASE: db.url }), 'grant with NATTER_DATABASE');
  assert.match(again.stdout, /is already an operator of this natter server; nothing changed/);

  const listed = JSON.parse(
    ok(await natter(['admin', 'list', '--json'], { NATTER_DATABASE: db.url }), 'list --json').stdout,
  ) as { database: string; operators: { id: string; username: string }[] };
  assert.deepEqual(listed, {
    database: shown(db.url),
    operators: [{ id: reg.user.id, username: name, displayName: null, createdAt: reg.user.createdAt }],
  });

  ok(await natter(['admin', 'revoke', name, '--database', db.url], {}), 'revoke');
  assert.equal((await api.call('whoami', {})).user.operator, undefined);
  const unknown = await natter(['admin', 'grant', 'nobody-here', '--database', db.url], {});
  assert.equal(unknown.code, 1);
  assert.equal(unknown.stderr, `error: not_found: there is no account named "nobody-here" in ${shown(db.url)}\n`);
});

test('with the server stopped; a database that does not exist, one that is not natter, an unreachable server and a wrong URL are refused in words', async () => {
  const db = await database();
  const t = await server(db);
  const name = uniqueName('pg-st');
  await new HttpApi(t.httpUrl).call('register', { username: name, password: PASSWORD });
  await t.stop();
  ok(await natter(['admin', 'grant', name, '--database', db.url], {}), 'grant while stopped');
  const check = new pg.Client({ connectionString: db.url });
  await check.connect();
  const row = (await check.query('SELECT operator FROM users WHERE username = $1', [name])).rows[0] as {
    operator: boolean;
  };
  await check.end();
  assert.equal(row.operator, true);

  const gone = new URL(db.url);
  gone.pathname = `/${db.name}_missing`;
  const missing = await natter(['admin', 'list', '--database', gone.toString()], {});
  assert.equal(missing.code, 2);
  assert.equal(
    missing.stderr,
    `error: no_database: ${shown(gone.toString())} names a database that does not exist: give the URL natter serve --database runs with\n`,
  );

  const empty = await database();
  const notNatter = await natter(['admin', 'list', '--database', empty.url], {});
  assert.equal(notNatter.code, 2);
  assert.match(notNatter.stderr, /^error: no_database: .* holds no natter database \(no users table\)/);

  const away = await natter(['admin', 'list', '--database', 'postgres://natter@127.0.0.1:1/natter'], {});
  assert.equal(away.code, 4);
  assert.match(
    away.stderr,
    /^error: unreachable: cannot reach PostgreSQL at postgres:\/\/natter@127\.0\.0\.1:1\/natter: /,
  );

  const wrong = await natter(['admin', 'list', '--database', 'mysql://db/natter'], {});
  assert.equal(wrong.code, 2);
  assert.match(wrong.stderr, /^error: usage: --database takes a PostgreSQL URL/);
});
