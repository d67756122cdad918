import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { NatterClient } from '../../src/client/index.js';
import { PASSWORD } from '../helpers/api.js';
import { ServeProcess } from '../helpers/serve-process.js';

// What natter writes to disk is for its owner alone, whatever the umask of the
// process that runs it: the server is started with umask 000, under which
// anything created with default modes would be world-readable and writable.

const BIN = fileURLToPath(new URL('../../bin/natter', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'natter-modes-'));
const running: ServeProcess[] = [];
after(() => {
  for (const p of running) p.kill();
  rmSync(root, { recursive: true, force: true });
});

const mode = (path: string) => (statSync(path).mode & 0o777).toString(8).padStart(4, '0');

/** Runs `natter backup` with umask 000. */
function backup(file: string, data: string): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      'sh',
      ['-c', 'umask 000 && exec "$@"', 'sh', process.execPath, BIN, 'backup', file, '--data', data],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      stderr += c;
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`natter backup did not finish within 15 s: ${stderr}`));
    }, 15_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

test('under umask 000, the data directory is created 0700 and the database, its WAL and SHM files and a backup 0600', async () => {
  const data = join(root, 'fresh', 'data');
  const server = ServeProcess.spawn(['--port', '0', '--tcp-port', '0', '--data', data], { umask: '000' });
  running.push(server);
  const { port } = await server.listening();
  // A write, so that the WAL certainly holds something.
  const c = await NatterClient.connect(`ws://127.0.0.1:${port}`);
  await c.request('register', { username: 'modes', password: PASSWORD });
  c.close();

  assert.equal(mode(data), '0700');
  for (const name of ['natter.db', 'natter.db-wal', 'natter.db-shm']) {
    assert.ok(existsSync(join(data, name)), `${name} exists while the server runs`);
    assert.equal(mode(join(data, name)), '0600', name);
  }
  assert.doesNotMatch(server.stderr, /"level":"warn"/, 'nothing to warn about in a directory natter made');

  const copy = join(root, 'fresh', 'copy.db');
  const r = await backup(copy, data);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(mode(copy), '0600');
  assert.equal(await server.stop(), 0);
});

test('an existing data directory keeps its mode, and a directory open to others is named in a warning', async () => {
  const data = join(root, 'existing');
  mkdirSync(data);
  chmodSync(data, 0o755);
  const server = ServeProcess.spawn(['--port', '0', '--tcp-port', '0', '--data', data], { umask: '000' });
  running.push(server);
  await server.listening();
  assert.equal(mode(data), '0755');
  assert.equal(mode(join(data, 'natter.db')), '0600', 'the database natter created in it is still 0600');
  assert.match(
    server.stderr,
    /"level":"warn".*"msg":"the data directory .*existing is open to other users \(mode 0755\); natter expects 0700: chmod 700 /,
  );
  assert.equal(await server.stop(), 0);
});
