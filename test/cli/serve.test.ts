import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { connectClient, PASSWORD } from '../helpers/api.js';
import { DEADLINE_MS, within } from '../helpers/wait.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(ROOT, 'bin', 'natter');
const run = promisify(execFile);
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'natter-cli-'));
  dirs.push(d);
  return d;
}

/** Runs bin/natter and returns exit code and output, without throwing on a non-zero exit. */
async function natter(args: string[], env: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await run(BIN, args, {
      env: { ...process.env, ...env },
      cwd: tempDir(),
      timeout: DEADLINE_MS,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** Starts `natter serve` and resolves once it logs where it listens. */
function serve(
  args: string[],
  env: Record<string, string>,
): Promise<{ child: ChildProcess; port: number; stderr: () => string }> {
  const child = spawn(BIN, ['serve', ...args], {
    env: { ...process.env, ...env },
    cwd: tempDir(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  const listening = new Promise<{ child: ChildProcess; port: number; stderr: () => string }>((resolve, reject) => {
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      err += chunk;
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(err);
      if (m) resolve({ child, port: Number(m[1]), stderr: () => err });
    });
    child.on('exit', (code) => reject(new Error(`natter serve exited with ${code}: ${err}`)));
  });
  return within(listening, 'natter serve to listen', DEADLINE_MS, () => `its stderr: ${err}`);
}

describe('natter binary', () => {
  test('--version prints the package version', async () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const r = await natter(['--version']);
    assert.equal(r.code, 0);
    assert.equal(r.stdout.trim(), pkg.version);
  });

  test('--help lists the serve command', async () => {
    const r = await natter(['--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /serve/);
  });

  test('an unknown command or a bad flag value is a usage error (exit 2)', async () => {
    assert.equal((await natter(['frobnicate'])).code, 2);
    const bad = await natter(['serve', '--port', 'seventy']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /port number/);
    for (const url of ['ftp://example.com/score', 'not a url']) {
      const hook = await natter(['serve', '--port', '0', '--tcp-port', '0', '--moderation-webhook', url]);
      assert.equal(hook.code, 2, url);
      assert.match(hook.stderr, /--moderation-webhook must be an http:\/\/ or https:\/\/ URL/);
    }
    const threshold = await natter(['serve', '--moderation-threshold', '2']);
    assert.equal(threshold.code, 2);
    assert.match(threshold.stderr, /expected a score from 0 to 1, such as 0\.8/);
    const action = await natter(['serve', '--moderation-action', 'shout']);
    assert.equal(action.code, 2);
    assert.match(action.stderr, /Allowed choices are block, hold, alert/);
  });

  test('a mistyped command suggests the right one; "help COMMAND" and "version" work as words', async () => {
    const typo = await natter(['sned', 'general', 'hi']);
    assert.equal(typo.code, 2);
    assert.match(typo.stderr, /unknown command "sned"; did you mean send\?/);
    const far = await natter(['xyzzy']);
    assert.equal(far.code, 2);
    assert.match(far.stderr, /unknown command "xyzzy" \(natter --help lists them\)/);
    const help = await natter(['help', 'send']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Usage: natter send/);
    assert.equal((await natter(['help', 'nope'])).code, 2);
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const version = await natter(['version']);
    assert.equal(version.code, 0);
    assert.equal(version.stdout.trim(), pkg.version);
  });

  test('invite create --expires under a minute is refused by the command line, in its own words', async () => {
    const r = await natter(['invite', 'create', 'acme', '--expires', '30s']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--expires.*at least 1m/);
    assert.doesNotMatch(r.stderr, /expiresInSeconds|params\./);
  });

  test('a bad --limits file is a usage error that says what is wrong', async () => {
    const file = join(tempDir(), 'limits.json');
    writeFileSync(file, '{"sendPerUser": {"capacity": 0, "refillMs": 10}}');
    const r = await natter(['serve', '--port', '0', '--tcp-port', '0', '--data', tempDir(), '--limits', file]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /"sendPerUser" must be/);
    writeFileSync(file, '{"sendsPerUser": {"capacity": 1, "refillMs": 10}}');
    assert.match(
      (await natter(['serve', '--port', '0', '--data', tempDir(), '--limits', file])).stderr,
      /unknown limit "sendsPerUser"/,
    );
  });

  test('a port in use is reported in words, exit 1', async () => {
    const blocker = createServer();
    await within(new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r)), 'a blocking listener');
    const port = (blocker.address() as { port: number }).port;
    try {
      const r = await natter(['serve', '--port', String(port), '--tcp-port', '0', '--data', tempDir()]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /EADDRINUSE.*pick another with --port/);
      assert.doesNotMatch(r.stderr, /at .*\.js:\d+/, 'no stack trace');
    } finally {
      blocker.close();
    }
  });
});

describe('natter serve', () => {
  test('reads NATTER_* settings, logs where it listens, and on SIGTERM tells clients and exits 0', async () => {
    const data = tempDir();
    const { child, port, stderr } = await serve(['--port', '0', '--tcp-port', '0'], {
      NATTER_DATA: data,
      NATTER_BCRYPT_COST: '4',
    });
    assert.match(stderr(), new RegExp(`data in ${data.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/natter\\.db`));
    const c = await connectClient(`ws://127.0.0.1:${port}`);
    await c.request('register', { username: 'sigterm', password: PASSWORD });
    const closing = c.nextEvent('closing');
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    const ev = await closing;
    assert.equal(ev.data.code, 1012);
    assert.equal(await within(exited, 'natter serve to exit on SIGTERM'), 0);
    assert.match(stderr(), /natter stopped/);

    // The account is there after the restart.
    const again = await serve(['--port', '0', '--tcp-port', '0', '--data', data], { NATTER_BCRYPT_COST: '4' });
    const c2 = await connectClient(`ws://127.0.0.1:${again.port}`);
    const login = await c2.request('login', { username: 'sigterm', password: PASSWORD });
    assert.equal(login.user.username, 'sigterm');
    c2.close();
    const exited2 = new Promise<number | null>((resolve) => again.child.on('exit', (code) => resolve(code)));
    again.child.kill('SIGINT');
    assert.equal(await within(exited2, 'natter serve to exit on SIGINT'), 0);
  });
});
