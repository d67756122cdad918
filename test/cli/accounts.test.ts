import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import Database from 'better-sqlite3';
import { CloseCode } from '../../src/protocol/index.js';
import { closeCodeOf, connectAs, HttpApi, PASSWORD, uniqueName } from '../helpers/api.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { waitFor, within } from '../helpers/wait.js';
import { BIN, cleanEnv, natter, type Result, removeTempDirs, tempDir } from './helpers.js';

// natter account export|delete and the operators' user commands (natter admin users, show,
// disable, enable, delete, reset-password, sessions, end-sessions, stats) through the built
// binary, on SQLite (test/cluster/admin-postgres.test.ts has PostgreSQL's). npm run build first.

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

function json<T>(r: Result, what: string): T {
  return JSON.parse(ok(r, what).stdout) as T;
}

/** A person registered with the CLI (its config dir holds the token) and an HTTP API logged in apart. */
async function person(
  t: TestServer,
  prefix: string,
): Promise<{ name: string; env: Record<string, string>; api: HttpApi }> {
  const name = uniqueName(prefix);
  const env = { NATTER_SERVER: t.wsUrl, NATTER_HOME: tempDir() };
  ok(await natter(['register', name, '--password-stdin'], env, `${PASSWORD}\n`), 'register');
  const api = new HttpApi(t.httpUrl);
  await api.call('login', { username: name, password: PASSWORD });
  return { name, env, api };
}

test('account export writes one JSON file (0600, atomically), refuses to overwrite without --force, and also goes to stdout', async () => {
  const t = await server();
  const ann = await person(t, 'ex');
  const { server: guild, channels } = await ann.api.call('servers.create', { name: uniqueName('Exp') });
  const general = channels[0];
  assert.ok(general);
  for (let i = 0; i < 30; i++) {
    await ann.api.call('messages.send', { conversationId: general.id, body: `note ${i}`, nonce: `x${i}` });
  }
  const dir = tempDir('natter-export-');
  const file = join(dir, 'me.json');
  const wrote = ok(await natter(['account', 'export', '-o', file], ann.env), 'export');
  assert.equal(wrote.stdout, `wrote ${file} (30 message(s))\n`);
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.deepEqual(readdirSync(dir), ['me.json'], 'no temporary file left');
  const doc = JSON.parse(readFileSync(file, 'utf8')) as {
    format: number;
    profile: { user: { username: string }; settings: unknown };
    sessions: unknown[];
    servers: { id: string; role: string }[];
    messages: { body: string; token?: unknown }[];
  };
  assert.equal(doc.format, 1);
  assert.equal(doc.profile.user.username, ann.name);
  assert.equal(doc.sessions.length, 2);
  assert.deepEqual(
    doc.servers.map((s) => [s.id, s.role]),
    [[guild.id, 'owner']],
  );
  assert.deepEqual(
    doc.messages.map((m) => m.body),
    Array.from({ length: 30 }, (_, i) => `note ${i}`),
  );
  assert.doesNotMatch(readFileSync(file, 'utf8'), /tokenHash|passwordHash|password_hash/, 'no secrets');

  writeFileSync(file, 'keep me');
  const refused = await natter(['account', 'export', '-o', file], ann.env);
  assert.equal(refused.code, 1);
  assert.equal(refused.stderr, `error: exists: ${file} already exists: add --force to replace it\n`);
  assert.equal(readFileSync(file, 'utf8'), 'keep me');
  ok(await natter(['account', 'export', '-o', file, '--force'], ann.env), 'export --force');
  assert.equal((JSON.parse(readFileSync(file, 'utf8')) as { format: number }).format, 1);

  const piped = ok(await natter(['account', 'export', '-o', '-'], ann.env), 'export to stdout');
  assert.equal((JSON.parse(piped.stdout) as { messages: unknown[] }).messages.length, 30);
});

test('account delete: without a terminal it needs --yes; a wrong password deletes nothing; then the account is gone and its name free', async () => {
  const t = await server();
  const bob = await person(t, 'del');
  const noYes = await natter(['account', 'delete'], bob.env, `${PASSWORD}\n`);
  assert.equal(noYes.code, 2);
  assert.match(noYes.stderr, /no terminal to ask on: add --yes/);
  const wrong = await natter(['account', 'delete', '--yes'], bob.env, 'not my password\n');
  assert.notEqual(wrong.code, 0);
  assert.equal(wrong.stderr, 'error: invalid_credentials: the password is wrong; nothing was deleted\n');
  ok(await natter(['whoami'], bob.env), 'still logged in');

  const done = ok(await natter(['account', 'delete', '--yes'], bob.env, `${PASSWORD}\n`), 'delete');
  assert.equal(
    done.stdout,
    `account ${bob.name} deleted; the messages it wrote stay, shown as written by "deleted user"\n`,
  );
  assert.equal((await natter(['whoami'], bob.env)).code, 3, 'the token was forgotten');
  const env = { NATTER_SERVER: t.wsUrl, NATTER_HOME: tempDir() };
  ok(await natter(['register', bob.name, '--password-stdin'], env, `${PASSWORD}\n`), 'the name is free again');
});

/** `natter account delete` on a pseudo-terminal (util-linux `script`), answering its two questions. */
async function deleteOnTerminal(
  env: Record<string, string>,
  typed: string,
  asksPassword: boolean,
): Promise<{ code: number | null; out: string }> {
  const child = spawn('script', ['-qfec', `${process.execPath} ${BIN} account delete`, '/dev/null'], {
    env: cleanEnv(env),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => {
    out += c;
  });
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  try {
    await waitFor(() => out.includes('Type your username to confirm: ') || undefined, {
      what: 'the username question',
      detail: () => out,
    });
    child.stdin.write(`${typed}\r`);
    if (!asksPassword) return { code: await within(exited, 'natter to exit'), out };
    await waitFor(() => out.includes('Password: ') || undefined, { what: 'the password prompt', detail: () => out });
    child.stdin.write(`${PASSWORD}\r`);
    return { code: await within(exited, 'natter to exit', undefined, () => out), out };
  } finally {
    child.stdin.end();
    if (child.exitCode === null) child.kill('SIGKILL');
  }
}

test('account delete on a terminal: the username must be typed out, the password is not echoed', async () => {
  const t = await server();
  const gus = await person(t, 'tty');
  const wrong = await deleteOnTerminal(gus.env, `${gus.name}x`, false);
  assert.equal(wrong.code, 1);
  assert.match(wrong.out, new RegExp(`that is not ${gus.name}; the account is kept`));
  ok(await natter(['whoami'], gus.env), 'kept');
  const done = await deleteOnTerminal(gus.env, gus.name, true);
  assert.equal(done.code, 0, done.out);
  assert.match(done.out, new RegExp(`account ${gus.name} deleted`));
  assert.ok(!done.out.includes(PASSWORD), 'the password was not echoed');
});

test('admin users, show, disable (closing a live connection), enable, sessions, end-sessions, reset-password, stats and delete on a running server', async () => {
  const t = await server();
  const cat = await person(t, 'adm');
  const dan = await person(t, 'adm');
  const data = ['--data', t.dataDir];

  const listed = json<{ accounts: { username: string; sessions: number }[]; next: string | null }>(
    await natter(['admin', 'users', '--json', ...data], {}),
    'users',
  );
  assert.deepEqual(
    listed.accounts.map((a) => [a.username, a.sessions]),
    [cat.name, dan.name].sort().map((n) => [n, 2]),
  );
  const paged = json<{ accounts: { username: string }[]; next: string | null }>(
    await natter(['admin', 'users', '--limit', '1', '--json', ...data], {}),
    'users --limit 1',
  );
  assert.equal(paged.accounts.length, 1);
  assert.notEqual(paged.next, null);
  const rest = json<{ accounts: { username: string }[]; next: string | null }>(
    await natter(['admin', 'users', '--after', paged.next ?? '', '--json', ...data], {}),
    'users --after',
  );
  assert.equal(rest.accounts.length, 1);
  assert.equal(rest.next, null);
  const search = ok(await natter(['admin', 'users', cat.name.toUpperCase(), ...data], {}), 'users SEARCH').stdout;
  assert.match(search, new RegExp(`^${cat.name}\\s`, 'm'));
  assert.doesNotMatch(search, new RegExp(dan.name));

  const shown = json<{ user: { username: string; disabledAt: number | null }; sessions: number; messages: number }>(
    await natter(['admin', 'show', cat.name, '--json', ...data], {}),
    'show',
  );
  assert.equal(shown.user.username, cat.name);
  assert.equal(shown.sessions, 2);
  assert.equal(shown.user.disabledAt, null);

  // A live connection of cat's closes as soon as the running server sees the change.
  const live = await connectAs(t.wsUrl, cat.api.token ?? '');
  const closed = closeCodeOf(live, "the disabled account's connection to close");
  const disabled = ok(await natter(['admin', 'disable', cat.name, '--reason', 'spam run', ...data], {}), 'disable');
  assert.match(disabled.stdout, /is disabled \(spam run\)/);
  assert.equal(await within(closed, 'the close', 10_000), CloseCode.accountClosed);
  const refused = await natter(['whoami'], cat.env);
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /account_disabled/);
  const onlyDisabled = json<{ accounts: { username: string }[] }>(
    await natter(['admin', 'users', '--disabled', '--json', ...data], {}),
    'users --disabled',
  );
  assert.deepEqual(
    onlyDisabled.accounts.map((a) => a.username),
    [cat.name],
  );
  assert.match(ok(await natter(['admin', 'disable', cat.name, ...data], {}), 'again').stdout, /already disabled/);
  ok(await natter(['admin', 'enable', cat.name, ...data], {}), 'enable');
  ok(await natter(['whoami'], cat.env), 'the token works again');

  const sessions = json<{ sessions: { id: string; kind: string }[] }>(
    await natter(['admin', 'sessions', cat.name, '--json', ...data], {}),
    'sessions',
  );
  assert.equal(sessions.sessions.length, 2);
  const one = sessions.sessions[0]?.id ?? '';
  const ended = json<{ ended: string[] }>(
    await natter(['admin', 'end-sessions', cat.name, one, '--json', ...data], {}),
    'end-sessions one',
  );
  assert.deepEqual(ended.ended, [one]);
  const noSuch = await natter(['admin', 'end-sessions', cat.name, one, ...data], {});
  assert.equal(noSuch.code, 1);
  assert.match(noSuch.stderr, /has no session or bot token/);

  const reset = json<{ password: string; endedSessions: number }>(
    await natter(['admin', 'reset-password', cat.name, '--json', ...data], {}),
    'reset-password',
  );
  assert.equal(reset.endedSessions, 1);
  assert.equal(reset.password.length, 20);
  await new HttpApi(t.httpUrl).call('login', { username: cat.name, password: reset.password });

  const stats = json<{ users: number; servers: number; databaseBytes: number; disabled: number }>(
    await natter(['admin', 'stats', '--json', ...data], {}),
    'stats',
  );
  assert.equal(stats.users, 2);
  assert.equal(stats.disabled, 0);
  assert.ok(stats.databaseBytes > 0);

  await dan.api.call('servers.create', { name: 'dans place' });
  const owner = await natter(['admin', 'delete', dan.name, '--yes', ...data], {});
  assert.equal(owner.code, 1);
  assert.match(owner.stderr, new RegExp(`error: refused: ${dan.name} owns dans place`));
  const noYes = await natter(['admin', 'delete', cat.name, ...data], {});
  assert.equal(noYes.code, 2);
  const deleted = json<{ deleted: boolean; deletedMessages: string }>(
    await natter(['admin', 'delete', cat.name, '--yes', '--json', ...data], {}),
    'delete',
  );
  assert.deepEqual([deleted.deleted, deleted.deletedMessages], [true, 'keep']);
  const gone = await natter(['admin', 'show', cat.name, ...data], {});
  assert.equal(gone.code, 1);
  assert.equal(
    gone.stderr,
    `error: not_found: there is no account named "${cat.name}" in ${join(t.dataDir, 'natter.db')}\n`,
  );
});

test('on a stopped server: disable, then the server started again refuses the login', async () => {
  const t = await server();
  const eve = await person(t, 'stp');
  await t.stop();
  ok(await natter(['admin', 'disable', eve.name, '--data', t.dataDir], {}), 'disable while stopped');
  const again = await server(t.dataDir);
  const err = await new HttpApi(again.httpUrl).call('login', { username: eve.name, password: PASSWORD }).then(
    () => null,
    (e: { code: string }) => e.code,
  );
  assert.equal(err, 'account_disabled');
});

test('while another program holds the write lock, a change waits, then says the server is busy and changes nothing', async () => {
  const t = await server();
  const fay = await person(t, 'busy');
  const file = join(t.dataDir, 'natter.db');
  const holder = new Database(file);
  holder.exec('BEGIN IMMEDIATE');
  try {
    const r = await natter(['admin', 'disable', fay.name, '--data', t.dataDir], {});
    assert.equal(r.code, 4, r.stderr);
    assert.match(
      r.stderr,
      /^error: unreachable: the server is busy: .* stayed locked by another program for 5 s; nothing was changed, try again\n$/,
    );
  } finally {
    holder.exec('ROLLBACK');
    holder.close();
  }
  const shown = json<{ user: { disabledAt: number | null } }>(
    await natter(['admin', 'show', fay.name, '--json', '--data', t.dataDir], {}),
    'show',
  );
  assert.equal(shown.user.disabledAt, null);
});

test('a database from before accounts could be disabled is refused with how to bring it up to date', async () => {
  const t = await server();
  await t.stop();
  const db = new Database(join(t.dataDir, 'natter.db'));
  db.exec('ALTER TABLE users DROP COLUMN deleted_at');
  db.close();
  const r = await natter(['admin', 'users', '--data', t.dataDir], {});
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^error: version: the database .*natter\.db was last opened by an older natter/);
  const missing = await natter(['admin', 'stats', '--data', join(t.dataDir, 'nope')], {});
  assert.equal(missing.code, 2);
  assert.equal(existsSync(join(t.dataDir, 'nope')), false);
});
