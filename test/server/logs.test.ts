import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, describe, test } from 'node:test';
import { createLogger, type LogLevel, scrubText } from '../../src/server/log.js';
import { formatPretty } from '../../src/server/log-pretty.js';
import { connectClient, HttpApi, PASSWORD, rejection, uniqueName } from '../helpers/api.js';
import { put } from '../helpers/media.js';
import { freePort } from '../helpers/nats.js';
import { ServeProcess } from '../helpers/serve-process.js';
import { startTestServer } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';

/** A stream that keeps what a logger writes, line by line. */
function capture(isTTY = false): { stream: Writable & { isTTY: boolean }; lines: () => string[] } {
  let text = '';
  const stream = Object.assign(
    new Writable({
      write(chunk: Buffer, _enc, done) {
        text += chunk.toString('utf8');
        done();
      },
    }),
    { isTTY },
  );
  return { stream, lines: () => text.split('\n').filter((l) => l !== '') };
}

function jsonLogger(level: LogLevel = 'trace') {
  const out = capture();
  const log = createLogger({ level, format: 'json', stream: out.stream });
  return { log, entries: () => out.lines().map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe('the logger', () => {
  test('writes one JSON object a line with time, level label, message and fields', () => {
    const { log, entries } = jsonLogger('info');
    log.info('hello', { op: 'login', ms: 3 });
    log.debug('not at info');
    log.warn('careful');
    const [first, second, ...rest] = entries();
    assert.equal(rest.length, 0, 'the debug line is left out at info');
    assert.equal(first?.level, 'info');
    assert.equal(first?.msg, 'hello');
    assert.equal(first?.op, 'login');
    assert.equal(first?.ms, 3);
    assert.match(String(first?.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.equal(second?.level, 'warn');
  });

  test('an error keeps its type, message and stack; a child carries its bindings', () => {
    const { log, entries } = jsonLogger();
    const child = log.child({ reqId: 'abc123' });
    child.error('"messages.send" failed', new TypeError('boom'));
    child.error('with fields', { err: new Error('inner'), op: 'x' });
    child.warn('a string detail', 'EACCES');
    const [a, b, c] = entries();
    assert.equal(a?.reqId, 'abc123');
    const err = a?.err as { type: string; message: string; stack: string };
    assert.equal(err.type, 'TypeError');
    assert.equal(err.message, 'boom');
    assert.match(err.stack, /TypeError: boom\n\s+at /);
    assert.equal((b?.err as { message?: string } | undefined)?.message, 'inner');
    assert.equal(b?.op, 'x');
    assert.equal(c?.detail, 'EACCES');
  });

  test('secrets are censored: known keys at any depth, URL passwords, tokens and email addresses in text', () => {
    const { log, entries } = jsonLogger();
    log.info('mail through smtp://natter:hunter2smtp@mail.example.org:587 for ada@example.org', {
      params: { password: 'pw-one', nested: { newPassword: 'pw-two', token: 'tok-three' }, code: '123456' },
      email: 'bob@example.org',
      note: 'session nts_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
    });
    log.error('failed', new Error('auth with ntb_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBB refused'));
    const text = JSON.stringify(entries());
    for (const secret of [
      'hunter2smtp',
      'ada@example.org',
      'pw-one',
      'pw-two',
      'tok-three',
      '123456',
      'bob@example.org',
    ]) {
      assert.ok(!text.includes(secret), `${secret} is not logged: ${text}`);
    }
    assert.ok(!text.includes('nts_AAAA') && !text.includes('ntb_BBBB'), 'no natter token is logged');
    assert.match(text, /smtp:\/\/natter:\[redacted\]@mail\.example\.org:587/, 'the rest of the URL stays');
    assert.equal(scrubText('no secret here: 42 users'), 'no secret here: 42 users');
  });

  test('pretty lines for a person: time, level, message, fields, an indented stack', () => {
    const line = JSON.stringify({
      level: 'error',
      time: '2026-12-01T08:00:01.234Z',
      pid: 1,
      msg: 'it broke',
      reqId: 'r1',
      op: 'messages.send',
      err: { type: 'Error', message: 'x', stack: 'Error: x\n    at f (file.js:1:1)' },
    });
    assert.equal(
      formatPretty(`${line}\n`, false),
      '08:00:01.234 ERROR it broke reqId=r1 op=messages.send\n    Error: x\n        at f (file.js:1:1)\n',
    );
    const out = capture(true);
    createLogger({ level: 'info', format: 'auto', stream: out.stream }).info('on a terminal');
    assert.match(
      out.lines()[0] ?? '',
      /^\S*\d\d:\d\d:\d\d\.\d{3}\S* \S*INFO\s*\S* on a terminal/,
      'auto is pretty on a terminal',
    );
    const piped = capture(false);
    createLogger({ level: 'info', format: 'auto', stream: piped.stream }).info('to a pipe');
    assert.equal((JSON.parse(piped.lines()[0] ?? '{}') as { msg?: string }).msg, 'to a pipe', 'auto is JSON elsewhere');
  });
});

describe('natter serve logs', () => {
  const dirs: string[] = [];
  const procs: ServeProcess[] = [];
  after(() => {
    for (const p of procs) p.kill();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  const dataDir = () => {
    const d = mkdtempSync(join(tmpdir(), 'natter-logs-'));
    dirs.push(d);
    return d;
  };

  test('at trace level, requests are logged with id, op, user, transport, duration and result, and no secret appears', async () => {
    const proc = ServeProcess.spawn(['--port', '0', '--tcp-port', '0', '--data', dataDir(), '--log-level', 'trace']);
    procs.push(proc);
    const { port } = await proc.listening();
    const base = `http://127.0.0.1:${port}`;
    const first = 'Zq9-first-secret-password';
    const second = 'Zq9-second-secret-password';
    const username = uniqueName('leaky');
    const ws = await connectClient(`ws://127.0.0.1:${port}`);
    const reg = await ws.request('register', { username, password: first });
    const again = await connectClient(`ws://127.0.0.1:${port}`);
    const wrong = await rejection(again.request('login', { username, password: 'Zq9-wrong-secret-guess' }));
    assert.equal(wrong.code, 'invalid_credentials');
    await again.request('login', { username, password: first });
    again.close();
    const http = new HttpApi(base);
    const login = await http.call('login', { username, password: first });
    const other = await connectClient(`ws://127.0.0.1:${port}`);
    await other.request('auth', { token: login.token });
    const bot = await ws.request('tokens.create', { name: 'logbot' });
    const botConn = await connectClient(`ws://127.0.0.1:${port}`);
    await botConn.request('auth', { token: bot.token });
    botConn.close();
    const slot = await http.call('attachments.create', { name: 'note.txt', size: 5 });
    assert.equal((await put(base, slot, Buffer.from('hello'))).status, 200);
    await ws.request('password.change', { currentPassword: first, newPassword: second });
    ws.close();
    other.close();
    assert.equal(await proc.stop(), 0);

    const lines = proc.stderr.split('\n').filter((l) => l !== '');
    const entries = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    const done = entries.filter((e) => typeof e.result === 'string' && typeof e.ms === 'number');
    const register = done.find((e) => e.op === 'register');
    assert.ok(register, `a line for register: ${proc.stderr}`);
    assert.equal(register.level, 'debug');
    assert.equal(register.result, 'ok');
    assert.equal(register.transport, 'ws');
    assert.equal(register.userId, reg.user.id, 'the user the request ran as');
    assert.match(String(register.reqId), /^[A-Za-z0-9_-]{8}$/);
    assert.equal(done.find((e) => e.op === 'login' && e.result === 'invalid_credentials')?.transport, 'ws');
    assert.ok(done.some((e) => e.op === 'attachments.create' && e.transport === 'http'));
    assert.ok(done.some((e) => e.op === 'password.change' && e.result === 'ok'));
    assert.equal(new Set(done.map((e) => e.reqId)).size, done.length, 'each request has its own id');
    const started = entries.find((e) => e.level === 'trace' && e.op === 'register');
    assert.deepEqual(started?.params, { username, password: '[redacted]' }, 'the params, the password censored');

    const secrets = [first, second, 'Zq9-wrong-secret-guess', reg.token, login.token, bot.token, slot.upload.token];
    for (const secret of secrets) {
      assert.ok(!proc.stderr.includes(secret), `the log holds the secret ${secret.slice(0, 8)}…`);
    }
    // A token shorter than natter's never appears whole either: no long fragment of one.
    for (const token of [reg.token, bot.token]) assert.ok(!proc.stderr.includes(token.slice(4, 24)));
  });

  test('--quiet logs warnings only; --log-level overrides it; NATTER_LOG_LEVEL is read', async () => {
    const quietPort = await freePort();
    const quiet = ServeProcess.spawn(['--port', String(quietPort), '--tcp-port', '0', '--data', dataDir(), '--quiet']);
    procs.push(quiet);
    const envPort = await freePort();
    const byEnv = ServeProcess.spawn(['--port', String(envPort), '--tcp-port', '0', '--data', dataDir()], {
      env: { NATTER_LOG_LEVEL: 'error' },
    });
    procs.push(byEnv);
    const loud = ServeProcess.spawn([
      '--port',
      '0',
      '--tcp-port',
      '0',
      '--data',
      dataDir(),
      '--quiet',
      '--log-level',
      'info',
    ]);
    procs.push(loud);
    await loud.listening();
    assert.equal(await loud.stop(), 0);
    assert.match(loud.stderr, /natter stopped/);
    // The quiet ones say nothing, so their readiness is seen from outside.
    for (const [p, port] of [
      [quiet, quietPort],
      [byEnv, envPort],
    ] as const) {
      await waitFor(
        () =>
          fetch(`http://127.0.0.1:${port}/healthz`).then(
            (r) => r.ok,
            () => false,
          ),
        { what: 'the quiet server to answer' },
      );
      assert.equal(await p.stop(), 0);
      assert.doesNotMatch(p.stderr, /listening on|natter stopped/);
    }
  });

  test('a bad --log-level is refused with the levels there are', async () => {
    const p = ServeProcess.spawn(['--port', '0', '--data', dataDir(), '--log-level', 'loud']);
    procs.push(p);
    assert.equal(await p.exit(), 2);
    assert.match(p.stderr, /--log-level.*Allowed choices are trace, debug, info, warn, error, silent/);
  });
});

describe('an unexpected error', () => {
  test('is logged once at error with its stack and the request id, which the reply tells the user', async () => {
    const t = await startTestServer();
    after(() => t.destroy());
    const out = capture();
    t.server.services.log = createLogger({ level: 'debug', format: 'json', stream: out.stream });
    const c = await connectClient(t.wsUrl);
    await c.request('register', { username: uniqueName('broken'), password: PASSWORD });
    // A fault from outside the code: the table the request reads is gone.
    t.server.sqlite().$client.exec('DROP TABLE blocks');
    const err = await rejection(c.request('blocks.list', {}));
    c.close();
    assert.equal(err.code, 'internal');
    const id = /\(request ([A-Za-z0-9_-]{8})\)/.exec(err.message)?.[1];
    assert.ok(id, `the reply names the request: ${err.message}`);
    const entries = out.lines().map((l) => JSON.parse(l) as Record<string, unknown>);
    const errors = entries.filter((e) => e.level === 'error');
    assert.equal(errors.length, 1, `one error line: ${out.lines().join('\n')}`);
    assert.equal(errors[0]?.reqId, id);
    assert.match(String((errors[0]?.err as { stack?: string } | undefined)?.stack), /no such table: blocks\n\s+at /);
    const done = entries.find((e) => e.reqId === id && e.result === 'internal');
    assert.equal(done?.level, 'warn', 'the request line of a failed request is a warning');
    assert.equal(done?.op, 'blocks.list');
  });
});
