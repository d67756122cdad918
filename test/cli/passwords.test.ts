import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { HttpApi, PASSWORD } from '../helpers/api.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { BIN, cleanEnv, natter, ROOT, removeTempDirs, tempDir } from './helpers.js';

let t: TestServer;
before(async () => {
  t = await startTestServer();
});
after(async () => {
  await t.destroy();
  removeTempDirs();
});

describe('natter register and passwd with a weak password', () => {
  test('register shows the server reason in plain words and stores nothing', async () => {
    const env = { NATTER_SERVER: t.wsUrl, NATTER_HOME: tempDir() };
    const common = await natter(['register', 'weakling', '--password-stdin'], env, 'Password1\n');
    assert.equal(common.code, 1, common.stderr);
    assert.equal(common.stderr, 'error: bad_request: password is too common; choose another\n');
    const short = await natter(['register', 'weakling', '--password-stdin'], env, 'short\n');
    assert.equal(short.stderr, 'error: bad_request: password must be at least 8 characters\n');
    const spaces = await natter(['register', 'weakling', '--password-stdin'], env, '          \n');
    assert.equal(spaces.stderr, 'error: bad_request: password is only spaces; choose another\n');
    const named = await natter(['register', 'weakling', '--password-stdin'], env, 'my WEAKLING pass\n');
    assert.equal(named.stderr, 'error: bad_request: password contains your username; choose another\n');
    assert.equal((await natter(['whoami'], env)).code, 3, 'not logged in');
    // The name is still free.
    const ok = await natter(['register', 'weakling', '--password-stdin'], env, `${PASSWORD}\n`);
    assert.equal(ok.code, 0, ok.stderr);
  });

  test('passwd shows the reason for the new password and keeps the old one', async () => {
    const env = { NATTER_SERVER: t.wsUrl, NATTER_HOME: tempDir() };
    assert.equal((await natter(['register', 'changer', '--password-stdin'], env, `${PASSWORD}\n`)).code, 0);
    const r = await natter(['passwd', '--password-stdin'], env, `${PASSWORD}\nqwertyuiop\n`);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stderr, 'error: bad_request: new password is too common; choose another\n');
    const mine = await natter(['passwd', '--password-stdin'], env, `${PASSWORD}\nchanger-2024!\n`);
    assert.equal(mine.stderr, 'error: bad_request: new password contains your username; choose another\n');
    await new HttpApi(t.httpUrl).call('login', { username: 'changer', password: PASSWORD });
  });
});

test('natter --version and natter send load neither the username key table nor the text rules', async () => {
  const http = new HttpApi(t.httpUrl);
  const reg = await http.call('register', { username: 'sender', password: PASSWORD });
  await http.call('servers.create', { name: 'startup' });
  const trace = join(tempDir(), 'imports.txt');
  const hook = join(ROOT, 'test', 'cli', 'fixtures', 'import-trace.mjs');
  const env = cleanEnv({
    IMPORT_TRACE: trace,
    NATTER_SERVER: t.wsUrl,
    NATTER_TOKEN: reg.token,
    NATTER_HOME: tempDir(),
  });
  const heavy = /dist\/protocol\/(username-key-data|text)\.js/;
  const v = spawnSync(process.execPath, ['--import', hook, BIN, '--version'], { env, encoding: 'utf8' });
  assert.equal(v.status, 0, v.stderr);
  assert.match(readFileSync(trace, 'utf8'), /dist\/cli\/main\.js/, 'the trace works');
  assert.doesNotMatch(readFileSync(trace, 'utf8'), heavy);
  rmSync(trace);
  // spawnSync would block the server in this process: run it asynchronously.
  const sent = await new Promise<{ status: number | null; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, ['--import', hook, BIN, 'send', 'startup/general', 'hello'], { env });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      stderr += c;
    });
    child.on('close', (status) => resolve({ status, stderr }));
  });
  assert.equal(sent.status, 0, sent.stderr);
  const loaded = readFileSync(trace, 'utf8');
  assert.match(loaded, /dist\/cli\/commands\/send\.js/, 'the send command ran');
  assert.doesNotMatch(loaded, heavy);
});
