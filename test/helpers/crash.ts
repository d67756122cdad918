import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { connectClient, PASSWORD } from './api.js';
import { postgresSql, sqliteSql, type TestSql } from './backend.js';
import { within } from './wait.js';

const BIN = fileURLToPath(new URL('../../bin/natter', import.meta.url));

/** Live server processes, so a failing run can still kill them. */
export const children = new Set<ChildProcess>();

/**
 * Starts the real server process on `dir` (and on the PostgreSQL `database`
 * when given) with the send limit lifted; resolves with its WebSocket URL.
 */
export function serveProcess(dir: string, database?: string): Promise<{ child: ChildProcess; url: string }> {
  const limitsFile = join(dir, 'limits.json');
  writeFileSync(limitsFile, JSON.stringify({ sendPerUser: { capacity: 1_000_000, refillMs: 1 } }));
  const args = ['serve', '--port', '0', '--tcp-port', '0', '--data', dir, '--bcrypt-cost', '4', '--limits', limitsFile];
  if (database !== undefined) args.push('--database', database);
  const child = spawn(BIN, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  children.add(child);
  child.on('exit', () => children.delete(child));
  let err = '';
  const listening = new Promise<{ child: ChildProcess; url: string }>((resolve, reject) => {
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (c: string) => {
      err += c;
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(err);
      if (m) resolve({ child, url: `ws://127.0.0.1:${m[1]}` });
    });
    child.on('exit', (code) => reject(new Error(`server exited (${code}) before listening: ${err}`)));
  });
  return within(listening, 'the server process to listen', undefined, () => `its stderr: ${err}`);
}

function killHard(child: ChildProcess): Promise<void> {
  const exited = new Promise<void>((resolve) => {
    child.on('exit', () => resolve());
    child.kill('SIGKILL');
  });
  return within(exited, 'the server process to exit on SIGKILL');
}

/**
 * The crash drill: `rounds` times, a burst of 80 sends in flight and a SIGKILL
 * of the server partway through, then a restart. At the end every send is
 * retried with its nonce and the database is checked: every acknowledged
 * message present exactly once with its id and seq, sequence numbers 1..n
 * with no hole, no nonce twice, the backend's integrity check ok. The server
 * keeps its data in `dir` (SQLite), or in the PostgreSQL `database` when
 * given. Throws on any violation; returns what it did.
 */
export async function crashDrill(
  dir: string,
  rounds: number,
  database?: string,
): Promise<{ sent: number; acked: number; rounds: number }> {
  let { child, url } = await serveProcess(dir, database);
  let c = await connectClient(url);
  const reg = await c.request('register', { username: 'crashtest', password: PASSWORD });
  const { channels } = await c.request('servers.create', { name: 'crash' });
  const conversationId = channels[0]?.id ?? '';
  c.close();
  const acked = new Map<string, { id: string; seq: number }>();
  const sentNonces: string[] = [];

  for (let round = 0; round < rounds; round++) {
    c = await connectClient(url);
    await c.request('auth', { token: reg.token });
    const killAfter = 5 + ((round * 7) % 40);
    let acks = 0;
    let killing: Promise<void> | null = null;
    const sends = Array.from({ length: 80 }, (_, i) => {
      const nonce = `r${round}-${i}`;
      sentNonces.push(nonce);
      return c.request('messages.send', { conversationId, body: `round ${round} #${i}`, nonce }).then((r) => {
        acked.set(nonce, { id: r.message.id, seq: r.message.seq });
        acks++;
        if (acks === killAfter) killing = killHard(child);
      });
    });
    await Promise.allSettled(sends);
    if (!killing) killing = killHard(child);
    await killing;
    c.close();
    ({ child, url } = await serveProcess(dir, database));
  }

  c = await connectClient(url);
  await c.request('auth', { token: reg.token });
  for (const nonce of sentNonces) {
    const r = await c.request('messages.send', { conversationId, body: 'retry', nonce });
    const before = acked.get(nonce);
    if (before) {
      assert.equal(r.duplicate, true, `${nonce} was acknowledged, so the retry is a duplicate`);
      assert.deepEqual({ id: r.message.id, seq: r.message.seq }, before);
    }
  }
  c.close();
  const exited = new Promise((r) => child.on('exit', r));
  child.kill('SIGTERM');
  await within(exited, 'the server process to exit on SIGTERM');

  const sqlite = database === undefined ? new Database(join(dir, 'natter.db'), { readonly: true }) : null;
  const sql: TestSql = sqlite ? sqliteSql(sqlite) : postgresSql(database ?? '');
  try {
    assert.equal(await sql.integrity(), 'ok');
    const rows = await sql.all<{ id: string; seq: number; nonce: string }>(
      'SELECT id, seq, nonce FROM messages WHERE conversation_id = ? ORDER BY seq',
      conversationId,
    );
    assert.equal(new Set(rows.map((r) => r.nonce)).size, rows.length, 'no nonce stored twice');
    assert.equal(rows.length, sentNonces.length, 'after the retries every send is stored exactly once');
    assert.deepEqual(
      rows.map((r) => r.seq),
      Array.from({ length: rows.length }, (_, i) => i + 1),
      'sequence numbers strictly increasing, none reused or skipped',
    );
    const byNonce = new Map(rows.map((r) => [r.nonce, r]));
    for (const [nonce, ack] of acked) assert.equal(byNonce.get(nonce)?.id, ack.id, `acknowledged ${nonce} is there`);
  } finally {
    await sql.close();
    sqlite?.close();
  }
  return { sent: sentNonces.length, acked: acked.size, rounds };
}
