import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import type { NatterClient } from '../../src/client/client.js';
import {
  downloadFile,
  FileError,
  fetchMedia,
  formatBytes,
  formatDuration,
  httpBase,
  localFileName,
  streamFile,
  uploadFile,
} from '../../src/client/media.js';
import type { NatterError } from '../../src/protocol/index.js';
import { connectAs, connectNatter, HttpApi, PASSWORD, rejection, uniqueName } from '../helpers/api.js';
import { relay } from '../helpers/relay.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { within } from '../helpers/wait.js';

// The client library's files (src/client/media.ts) against a real server:
// uploads streamed with PUT, downloads to a .part that resumes, previews.

const FILE_MAX = 4 * 1024 * 1024;
const DAY_MAX = 64 * 1024 * 1024;

let t: TestServer;
let dir: string;
const clients: { close(): void }[] = [];

before(async () => {
  t = await startTestServer({ quotas: { fileBytesMax: FILE_MAX, uploadBytesPerDay: DAY_MAX } });
  dir = mkdtempSync(join(tmpdir(), 'natter-media-'));
});

after(async () => {
  for (const c of clients) c.close();
  await t.destroy();
  rmSync(dir, { recursive: true, force: true });
});

async function account(): Promise<{ token: string; id: string }> {
  const reg = await new HttpApi(t.httpUrl).call('register', { username: uniqueName('med'), password: PASSWORD });
  return { token: reg.token, id: reg.user.id };
}

async function as(url: string, token: string): Promise<NatterClient> {
  const c = await connectAs(url, token);
  clients.push(c);
  return c;
}

/** A file of `n` random bytes in the test's directory. */
function fileOf(name: string, n: number): { path: string; bytes: Buffer } {
  const bytes = randomBytes(n);
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return { path, bytes };
}

/** A fresh directory to download into. */
function into(): string {
  const d = mkdtempSync(join(dir, 'down-'));
  return d;
}

describe('client library: files', () => {
  test('httpBase: the origin of a WebSocket URL; over TCP, hello.media (httpUrl first, else the port)', async () => {
    const { token } = await account();
    const ws = await as(t.wsUrl, token);
    assert.equal(httpBase(ws), t.httpUrl.replace(/\/$/, ''));
    const tcp = await as(t.tcpUrl, token);
    assert.equal(tcp.hello.media?.httpPort, t.server.port);
    assert.equal(httpBase(tcp), `http://127.0.0.1:${t.server.port}`);
    const hello = { ...tcp.hello, media: { httpPort: 8443, maxFileBytes: 1 } };
    assert.equal(httpBase({ url: 'tls://chat.example.org:7778', hello }), 'https://chat.example.org:8443');
    assert.equal(httpBase({ url: 'wss://chat.example.org', hello }), 'https://chat.example.org');
    const told = { ...hello, media: { httpUrl: 'https://files.example.org/', maxFileBytes: 1 } };
    assert.equal(httpBase({ url: 'tcp://10.0.0.1:7778', hello: told }), 'https://files.example.org');
    const older = { ...hello, media: undefined };
    const err = (() => {
      try {
        httpBase({ url: 'tcp://10.0.0.1:7778', hello: older });
      } catch (e) {
        return e as NatterError;
      }
      return null;
    })();
    assert.equal(err?.code, 'unknown_op');
  });

  test('a file goes up streamed, with progress, over WebSocket and TCP, and comes down byte for byte', async () => {
    const { token } = await account();
    const src = fileOf('big.bin', 3 * 1024 * 1024 + 17);
    for (const url of [t.wsUrl, t.tcpUrl]) {
      const c = await as(url, token);
      const sent: number[] = [];
      const file = await uploadFile(c, src.path, { onProgress: (n, total) => sent.push(n, total) });
      assert.equal(file.size, src.bytes.length);
      assert.equal(file.name, 'big.bin');
      assert.equal(file.type, 'application/octet-stream');
      assert.ok(sent.length >= 4, 'progress was reported more than once');
      assert.deepEqual(sent.slice(-2), [src.bytes.length, src.bytes.length]);
      const got: number[] = [];
      const saved = await downloadFile(c, file.id, into(), { onProgress: (n) => got.push(n) });
      assert.equal(saved.bytes, src.bytes.length);
      assert.match(saved.path, /big\.bin$/);
      assert.ok(readFileSync(saved.path).equals(src.bytes), `the same bytes over ${url}`);
      assert.equal(got.at(-1), src.bytes.length);
      assert.equal(existsSync(`${saved.path}.part`), false);
    }
  });

  test('a reconnecting client (Natter) works as well: its hello, token and connection', async () => {
    const { token } = await account();
    const n = await connectNatter({ url: t.wsUrl, token });
    clients.push(n);
    const src = fileOf('natter.txt', 100);
    const file = await uploadFile(n, src.path, { name: 'renamed.txt' });
    assert.equal(file.name, 'renamed.txt');
    const sink: Buffer[] = [];
    const { Writable } = await import('node:stream');
    const out = new Writable({
      write(chunk: Buffer, _enc, done) {
        sink.push(chunk);
        done();
      },
    });
    const res = await streamFile(n, file, out);
    assert.equal(res.bytes, 100);
    assert.ok(Buffer.concat(sink).equals(src.bytes));
  });

  test('a file over hello.media.maxFileBytes is refused before a slot is asked for', async () => {
    const { token, id } = await account();
    const c = await as(t.wsUrl, token);
    assert.equal(c.hello.media?.maxFileBytes, FILE_MAX);
    const src = fileOf('huge.bin', FILE_MAX + 1);
    const err = await rejection(uploadFile(c, src.path));
    assert.equal(err.code, 'too_large');
    assert.match(err.message, /at most 4 MiB/);
    const rows = await t.sql.all('SELECT id FROM attachments WHERE owner_id = ?', id);
    assert.equal(rows.length, 0, 'no slot was made');
  });

  test('local problems are FileErrors in words: missing, a directory', async () => {
    const { token } = await account();
    const c = await as(t.wsUrl, token);
    await assert.rejects(uploadFile(c, join(dir, 'nothing-here')), (e: FileError) => {
      assert.ok(e instanceof FileError);
      assert.equal(e.code, 'ENOENT');
      assert.match(e.message, /there is no such file/);
      return true;
    });
    await assert.rejects(uploadFile(c, dir), (e: FileError) => e instanceof FileError && e.code === 'EISDIR');
  });

  test("the server's refusals are NatterErrors with its code and words (quota_exceeded, with when it starts again)", async () => {
    const small = await startTestServer({ quotas: { uploadBytesPerDay: 1000 } });
    try {
      const reg = await new HttpApi(small.httpUrl).call('register', { username: uniqueName('q'), password: PASSWORD });
      const c = await as(small.wsUrl, reg.token);
      const src = fileOf('quota.bin', 2000);
      const err = await rejection(uploadFile(c, src.path));
      assert.equal(err.code, 'quota_exceeded');
      assert.match(err.message, /00:00 UTC/);
      assert.ok((err.retryAfterMs ?? 0) > 0);
    } finally {
      await small.destroy();
    }
  });

  test('downloads: an existing file is kept unless forced; a .part resumes with Range; one of another file is fetched again', async () => {
    const { token } = await account();
    const up = await as(t.wsUrl, token);
    const src = fileOf('resume.bin', 1024 * 1024 + 5);
    const file = await uploadFile(up, src.path);
    const r = await relay(t.server.port);
    try {
      const c = await as(r.url, token);
      const d = into();
      const target = join(d, 'resume.bin');
      writeFileSync(`${target}.part`, src.bytes.subarray(0, 300_000));
      const saved = await downloadFile(c, file, d);
      assert.equal(saved.path, target);
      assert.ok(readFileSync(target).equals(src.bytes));
      assert.match(r.seen(), /\r\nRange: bytes=300000-\r\n/i, 'the download asked for the rest only');
      assert.equal(existsSync(`${target}.part`), false);

      await assert.rejects(downloadFile(c, file, d), (e: FileError) => e instanceof FileError && e.code === 'EEXIST');
      writeFileSync(target, 'something else');
      await assert.rejects(downloadFile(c, file, target), (e: FileError) => e.code === 'EEXIST');
      assert.equal(readFileSync(target, 'utf8'), 'something else', 'not replaced');
      await downloadFile(c, file, target, { force: true });
      assert.ok(readFileSync(target).equals(src.bytes), 'replaced with force');

      // A .part of another file of that name: the check against the server's SHA-256 fetches it whole.
      const other = join(d, 'other.bin');
      writeFileSync(`${other}.part`, randomBytes(1000));
      await downloadFile(c, file, other);
      assert.ok(readFileSync(other).equals(src.bytes));
    } finally {
      await r.close();
    }
  });

  test('downloads go into a directory under the cleaned name; a missing directory is a FileError', async () => {
    const { token } = await account();
    const c = await as(t.wsUrl, token);
    const src = fileOf('plain.txt', 10);
    const file = await uploadFile(c, src.path, { name: '..\\../.hidden name.txt' });
    assert.equal(localFileName(file), 'hidden name.txt');
    assert.equal(localFileName({ id: 'abc', name: '...' }), 'file-abc');
    const d = into();
    mkdirSync(join(d, 'sub'));
    const saved = await downloadFile(c, file, join(d, 'sub'));
    assert.equal(saved.path, join(d, 'sub', localFileName(file)));
    await assert.rejects(
      downloadFile(c, file, `${join(d, 'missing')}/`),
      (e: FileError) => e instanceof FileError && e.code === 'ENOENT',
    );
  });

  test('someone who cannot read the file gets not_found, as for an id that does not exist', async () => {
    const alice = await account();
    const eve = await account();
    const a = await as(t.wsUrl, alice.token);
    const e = await as(t.wsUrl, eve.token);
    const file = await uploadFile(a, fileOf('private.txt', 20).path);
    assert.equal((await rejection(downloadFile(e, file.id, into()))).code, 'not_found');
    // With the attachment in hand (its URL), the HTTP side says the same.
    assert.equal((await rejection(downloadFile(e, file, into()))).code, 'not_found');
    assert.equal((await rejection(downloadFile(e, 'no-such-id', into()))).code, 'not_found');
  });

  test('fetchMedia: a thumbnail or picture, bounded; more than maxBytes is refused', async () => {
    const { token } = await account();
    const c = await as(t.wsUrl, token);
    const png = await sharp({ create: { width: 800, height: 600, channels: 3, background: '#3366cc' } })
      .png()
      .toBuffer();
    const path = join(dir, 'photo.png');
    writeFileSync(path, png);
    const file = await uploadFile(c, path);
    assert.equal(file.type, 'image/png');
    assert.equal(file.width, 800);
    assert.ok(file.thumbnailUrl);
    const thumb = await fetchMedia(c, file.thumbnailUrl, { maxBytes: 1024 * 1024 });
    const meta = await sharp(thumb).metadata();
    assert.equal(meta.format, 'webp');
    assert.equal(Math.max(meta.width ?? 0, meta.height ?? 0), 512);
    const whole = await fetchMedia(c, file.url, { maxBytes: png.length });
    assert.ok(whole.equals(png));
    assert.equal((await rejection(fetchMedia(c, file.url, { maxBytes: png.length - 1 }))).code, 'too_large');
  });

  test('an aborted upload stops; words for sizes and lengths', async () => {
    const { token } = await account();
    const c = await as(t.wsUrl, token);
    const controller = new AbortController();
    controller.abort();
    await assert.rejects(
      within(uploadFile(c, fileOf('abort.bin', 10).path, { signal: controller.signal }), 'the abort'),
      (e: Error) => e.name === 'AbortError',
    );
    assert.equal(formatBytes(1), '1 byte');
    assert.equal(formatBytes(2048), '2 KiB');
    assert.equal(formatBytes(217_088), '212 KiB');
    assert.equal(formatBytes(10 * 1024 * 1024), '10 MiB');
    assert.equal(formatDuration(42_000), '0:42');
    assert.equal(formatDuration(3_729_000), '1:02:09');
  });
});
