import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import type { NatterClient } from '../../src/client/index.js';
import { connectClient, PASSWORD } from '../helpers/api.js';
import { within } from '../helpers/wait.js';

const BIN = fileURLToPath(new URL('../../bin/natter', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'natter-term-'));
const limitsFile = join(dir, 'limits.json');
writeFileSync(limitsFile, JSON.stringify({ sendPerUser: { capacity: 1_000_000, refillMs: 1 } }));
let child: ChildProcess | null = null;
after(() => {
  child?.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function serve(): Promise<string> {
  const proc = spawn(
    BIN,
    ['serve', '--port', '0', '--tcp-port', '0', '--data', dir, '--bcrypt-cost', '4', '--limits', limitsFile],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  child = proc;
  let err = '';
  const listening = new Promise<string>((resolve, reject) => {
    proc.stderr?.setEncoding('utf8');
    proc.stderr?.on('data', (c: string) => {
      err += c;
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(err);
      if (m) resolve(`ws://127.0.0.1:${m[1]}`);
    });
    proc.on('exit', (code) => reject(new Error(`server exited (${code}): ${err}`)));
  });
  return within(listening, 'the server process to listen', undefined, () => `its stderr: ${err}`);
}

test('case 45: SIGTERM with 100 clients and sends in flight: acknowledged sends kept, every client told, exit 0, WAL folded in', async () => {
  const url = await serve();
  const first = await connectClient(url);
  const reg = await first.request('register', { username: 'stayer', password: PASSWORD });
  const conversationId = (await first.request('servers.create', { name: 'term' })).channels[0]?.id ?? '';
  first.close();

  const clients: NatterClient[] = [];
  for (let i = 0; i < 100; i++) {
    const c = await connectClient(url);
    await c.request('auth', { token: reg.token });
    clients.push(c);
  }
  const told = clients.map((c) => c.nextEvent('closing'));
  const acked: string[] = [];
  const refused: string[] = [];
  const sends: Promise<void>[] = [];
  for (let i = 0; i < 300; i++) {
    const c = clients[i % 20] as NatterClient;
    const nonce = `term-${i}`;
    sends.push(
      c.request('messages.send', { conversationId, body: `in flight ${i}`, nonce }).then(
        () => {
          acked.push(nonce);
        },
        () => {
          refused.push(nonce);
        },
      ),
    );
  }
  const exited = new Promise<number | null>((resolve) => child?.on('exit', (code) => resolve(code)));
  child?.kill('SIGTERM');
  await Promise.all(sends);
  const code = await within(exited, 'the server to exit after SIGTERM');
  assert.equal(code, 0);
  for (const ev of await Promise.all(told)) {
    assert.equal(ev.data.code, 1012);
    assert.ok((ev.data.reconnectAfterMs ?? 0) > 0);
  }
  assert.equal(acked.length + refused.length, 300);
  // The WAL was checkpointed into the database on the way out.
  const wal = join(dir, 'natter.db-wal');
  assert.ok(!existsSync(wal) || statSync(wal).size === 0, 'no WAL left un-checkpointed');
  const db = new Database(join(dir, 'natter.db'), { readonly: true });
  try {
    const stored = new Set((db.prepare('SELECT nonce FROM messages').all() as { nonce: string }[]).map((r) => r.nonce));
    for (const nonce of acked) assert.ok(stored.has(nonce), `acknowledged ${nonce} is stored`);
    assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
  } finally {
    db.close();
  }
  for (const c of clients) c.close();
});
