import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, test } from 'node:test';
import { HttpApi, PASSWORD } from '../helpers/api.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { waitUntil, within } from '../helpers/wait.js';
import { BIN, cleanEnv, natter, removeTempDirs, tempDir } from './helpers.js';

// `natter server transfer` cannot be undone by the one who runs it: it asks on a terminal, and needs --yes without one.

let t: TestServer;
before(async () => {
  t = await startTestServer();
});
after(async () => {
  await t.destroy();
  removeTempDirs();
});

async function register(username: string) {
  const api = new HttpApi(t.httpUrl);
  const reg = await api.call('register', { username, password: PASSWORD });
  return { api, env: { NATTER_SERVER: t.wsUrl, NATTER_HOME: tempDir(), NATTER_TOKEN: reg.token } };
}

/**
 * `natter args…` on a pseudo-terminal (util-linux `script`): once `question`
 * shows, `answer` is typed; resolves with the exit code and all it wrote.
 */
async function onTerminal(args: string[], env: Record<string, string>, question: RegExp, answer: string) {
  const child = spawn('script', ['-qfec', `${BIN} ${args.join(' ')}`, '/dev/null'], {
    env: cleanEnv(env),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  const wakers: (() => void)[] = [];
  child.stdout.setEncoding('utf8').on('data', (c: string) => {
    out += c;
    for (const w of wakers.splice(0)) w();
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    await waitUntil(
      () => (question.test(out) ? true : undefined),
      (wake) => wakers.push(wake),
      { what: `the question of natter ${args.join(' ')}`, detail: () => out },
    );
    child.stdin.write(answer);
    const code = await within(exited, `natter ${args.join(' ')} to exit`, undefined, () => out);
    return { code, out };
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
}

test('server transfer: asks on a terminal (no keeps it, y gives it), refuses in words without one unless --yes', async () => {
  const alice = await register('alice');
  const bob = await register('bob');
  const { server } = await alice.api.call('servers.create', { name: 'acme' });
  const { invite } = await alice.api.call('invites.create', { serverId: server.id });
  await bob.api.call('invites.join', { code: invite.code });
  const roleOf = async (who: { api: HttpApi }) =>
    (await who.api.call('servers.get', { serverId: server.id })).server.role;
  const question = /give acme to bob\? You will no longer own it\. y: yes, any other answer: no \[y\/N\]/;

  // No terminal to ask on: nothing happens, and it says why and what to do.
  const piped = await natter(['server', 'transfer', 'acme', 'bob'], alice.env, 'y\n');
  assert.equal(piped.code, 2, piped.stderr);
  assert.match(
    piped.stderr,
    /^error: usage: giving acme to bob cannot be undone, and there is no terminal to ask on: add --yes to confirm$/m,
  );
  assert.equal(await roleOf(alice), 'owner');

  const kept = await onTerminal(['server', 'transfer', 'acme', 'bob'], alice.env, question, 'n\r');
  assert.equal(kept.code, 1, kept.out);
  assert.match(kept.out, /^error: cancelled: acme is still yours\r?$/m);
  assert.equal(await roleOf(alice), 'owner');

  const given = await onTerminal(['server', 'transfer', 'acme', 'bob'], alice.env, question, 'y\r');
  assert.equal(given.code, 0, given.out);
  assert.match(given.out, /bob now owns acme; you are an admin of it/);
  assert.equal(await roleOf(alice), 'admin');
  assert.equal(await roleOf(bob), 'owner');

  // --yes gives it without asking, terminal or not.
  const back = await natter(['server', 'transfer', 'acme', 'alice', '--yes'], bob.env);
  assert.equal(back.code, 0, back.stderr);
  assert.match(back.stdout, /^alice now owns acme; you are an admin of it$/m);
  assert.equal(await roleOf(alice), 'owner');
});

test('server delete: asks on a terminal (no keeps it, y deletes it), refuses in words without one unless --yes', async () => {
  const carol = await register('carol');
  const { server } = await carol.api.call('servers.create', { name: 'doomed' });
  const { server: other } = await carol.api.call('servers.create', { name: 'scripted' });
  const exists = async (id: string) => (await carol.api.call('servers.list', {})).servers.some((s) => s.id === id);
  const question =
    /delete doomed with all its channels and messages, for everyone\? y: yes, any other answer: no \[y\/N\]/;

  const piped = await natter(['server', 'delete', 'doomed'], carol.env, 'y\n');
  assert.equal(piped.code, 2, piped.stderr);
  assert.match(
    piped.stderr,
    /^error: usage: deleting doomed takes all its channels and messages with it, and there is no terminal to ask on: add --yes to confirm$/m,
  );
  assert.equal(await exists(server.id), true);

  const kept = await onTerminal(['server', 'delete', 'doomed'], carol.env, question, 'n\r');
  assert.equal(kept.code, 1, kept.out);
  assert.match(kept.out, /^error: cancelled: doomed is kept\r?$/m);
  assert.equal(await exists(server.id), true);

  const gone = await onTerminal(['server', 'delete', 'doomed'], carol.env, question, 'y\r');
  assert.equal(gone.code, 0, gone.out);
  assert.match(gone.out, /deleted server doomed/);
  assert.equal(await exists(server.id), false);

  // A script says --yes.
  const scripted = await natter(['server', 'delete', 'scripted', '--yes'], carol.env);
  assert.equal(scripted.code, 0, scripted.stderr);
  assert.equal(await exists(other.id), false);
});
