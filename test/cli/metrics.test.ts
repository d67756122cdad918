import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, test } from 'node:test';
import { waitFor } from '../helpers/wait.js';
import { BIN, cleanEnv, natter, removeTempDirs, tempDir } from './helpers.js';

after(removeTempDirs);

test('natter serve refuses metrics settings it cannot use, in words, before serving', async () => {
  const data = tempDir();
  const cases: [string[], Record<string, string>, RegExp][] = [
    [['--metrics', '--host', '0.0.0.0'], {}, /--metrics on a server listening on 0\.0\.0\.0 needs --metrics-token/],
    [['--metrics-token', 'x'.repeat(20)], {}, /--metrics-token needs --metrics/],
    [['--metrics', '--metrics-listen', '9464'], {}, /--metrics-listen must be HOST:PORT/],
    [['--metrics'], { NATTER_METRICS_TOKEN: 'short' }, /at least 16 characters/],
  ];
  for (const [args, env, message] of cases) {
    const r = await natter(['serve', '--port', '0', '--tcp-port', '0', '--data', data, ...args], env);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
  }
});

test('NATTER_METRICS, NATTER_METRICS_TOKEN and NATTER_METRICS_LISTEN serve /metrics on an address of its own', async () => {
  const token = 'cli-metrics-token-0123456789';
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--tcp-port', '0', '--data', tempDir()], {
    env: cleanEnv({ NATTER_METRICS: '1', NATTER_METRICS_TOKEN: token, NATTER_METRICS_LISTEN: '127.0.0.1:0' }),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (c: string) => {
    stderr += c;
  });
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  try {
    const url = await waitFor(() => /Prometheus metrics at (http:\/\/127\.0\.0\.1:\d+\/metrics)/.exec(stderr)?.[1], {
      what: 'the metrics line of natter serve',
      detail: () => stderr,
    });
    assert.match(stderr, /Bearer token required/);
    assert.equal((await fetch(url)).status, 401);
    const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 200);
    assert.match(await res.text(), /^natter_up 1$/m);
  } finally {
    child.kill('SIGTERM');
    assert.equal(await exited, 0, stderr);
  }
});
