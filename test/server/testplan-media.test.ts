import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, utimesSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { crc32, gzipSync } from 'node:zlib';
import Database from 'better-sqlite3';
import sharp from 'sharp';
import { connectAs, HttpApi, PASSWORD, rejection, uniqueName } from '../helpers/api.js';
import { postgresSql, sqliteSql, TEST_BACKEND } from '../helpers/backend.js';
import { children, serveProcess } from '../helpers/crash.js';
import { download, errorOf, put, slotFor, upload } from '../helpers/media.js';
import { freshDatabase, type TestDatabase } from '../helpers/postgres.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { waitFor, within } from '../helpers/wait.js';

/**
 * The test plan's file cases: names (31), refusals (32), a crash during an
 * upload (44), and what the server finds in and does with files: types,
 * images, pictures, durations, identical files.
 */

let t: TestServer;
before(async () => {
  t = await startTestServer({ quotas: { uploadBytesPerDay: 64 * 1024 * 1024, serverMediaBytes: 300_000 } });
});
after(async () => {
  await t.destroy();
});

type User = { id: string; username: string; token: string; api: HttpApi };

async function newUser(prefix = 'tm'): Promise<User> {
  const username = uniqueName(prefix);
  const api = new HttpApi(t.httpUrl);
  const reg = await api.call('register', { username, password: PASSWORD });
  return { id: reg.user.id, username, token: reg.token, api };
}

let nonces = 0;
const nonce = () => `tm${process.pid}-${++nonces}`;

const mediaDir = () => join(t.dataDir, 'media');
const temps = () => (existsSync(join(mediaDir(), 'tmp')) ? readdirSync(join(mediaDir(), 'tmp')) : []);
const blobPath = (sha: string) => join(mediaDir(), sha.slice(0, 2), sha.slice(2, 4), sha);
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Every file under `dir`, as paths relative to it. */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((p) => statSync(join(dir, p)).isFile());
}

/** A PNG of the given size in pixels, made by sharp. */
function png(width: number, height: number): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r: 10, g: 120, b: 200 } } })
    .png()
    .toBuffer();
}

/** A JPEG with EXIF holding where it was taken (a GPS block). */
function jpegWithGps(): Promise<Buffer> {
  return sharp({ create: { width: 800, height: 600, channels: 3, background: { r: 200, g: 30, b: 30 } } })
    .jpeg()
    .withExif({
      IFD0: { Make: 'TestCam' },
      IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '51/1 30/1 0/1', GPSLongitudeRef: 'W', GPSLongitude: '0/1 7/1 0/1' },
    })
    .toBuffer();
}

/** Whether EXIF holds the pointer to a GPS block (tag 0x8825, either byte order). */
function hasGps(exif: Buffer | undefined): boolean {
  return exif !== undefined && (exif.includes(Buffer.from([0x88, 0x25])) || exif.includes(Buffer.from([0x25, 0x88])));
}

/** A PNG whose header says 100 000 × 100 000 pixels: a few dozen bytes that would decode to 40 GB. */
function bombPng(): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(100_000, 0);
  ihdr.writeUInt32BE(100_000, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', Buffer.from([0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01])),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** A WAV of `ms` milliseconds of silence, 8 kHz mono 16-bit. */
function wav(ms: number): Buffer {
  const samples = (8000 * ms) / 1000;
  const data = Buffer.alloc(samples * 2);
  const h = Buffer.alloc(44);
  h.write('RIFF', 0, 'latin1');
  h.writeUInt32LE(36 + data.length, 4);
  h.write('WAVE', 8, 'latin1');
  h.write('fmt ', 12, 'latin1');
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20);
  h.writeUInt16LE(1, 22);
  h.writeUInt32LE(8000, 24);
  h.writeUInt32LE(16000, 28);
  h.writeUInt16LE(2, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36, 'latin1');
  h.writeUInt32LE(data.length, 40);
  return Buffer.concat([h, data]);
}

/** The day's upload total of a user, as stored. */
async function usageOf(userId: string): Promise<number> {
  const rows = await t.sql.all<{ bytes: number }>('SELECT bytes FROM upload_usage WHERE user_id = ?', userId);
  return rows.reduce((n, r) => n + Number(r.bytes), 0);
}

describe('what the server finds in a file', () => {
  test('an HTML file is a download: application/octet-stream, attachment, nosniff, a sandboxing CSP', async () => {
    const alice = await newUser();
    const html = Buffer.from('<!doctype html><script>alert(document.cookie)</script>');
    const file = await upload(alice.api, t.httpUrl, 'page.html', html);
    assert.equal(file.type, 'text/html');
    const got = await download(t.httpUrl, file.url, alice.token);
    assert.equal(got.status, 200);
    assert.equal(got.headers['content-type'], 'application/octet-stream');
    assert.match(String(got.headers['content-disposition']), /^attachment; filename="page\.html"/);
    assert.equal(got.headers['x-content-type-options'], 'nosniff');
    assert.equal(got.headers['content-security-policy'], "default-src 'none'; sandbox");
    assert.deepEqual(got.body, html);
  });

  test('a name of a page or script on content of another kind is refused (a GIF that is also a script)', async () => {
    const alice = await newUser();
    const poly = Buffer.from('GIF89a\x01\x00\x01\x00\x00\x00\x00;<script>alert(1)</script>', 'latin1');
    for (const name of ['poly.html', 'poly.svg', 'poly.js']) {
      const slot = await slotFor(alice.api, name, poly);
      const a = await put(t.httpUrl, slot, poly);
      assert.equal(a.status, 422, name);
      const err = errorOf(a);
      assert.equal(err.code, 'invalid_file');
      assert.match(err.message, /is named \.(html|svg|js) \(a page or script\) but its content is image\/gif/);
    }
    // The same bytes under an image's name are a GIF, shown as one.
    assert.equal((await upload(alice.api, t.httpUrl, 'poly.gif', poly)).type, 'image/gif');
  });

  test('an empty file under an image name is refused as empty', async () => {
    const alice = await newUser();
    const slot = await slotFor(alice.api, 'e.png', Buffer.alloc(0));
    const a = await put(t.httpUrl, slot, Buffer.alloc(0));
    assert.equal(a.status, 422);
    assert.equal(errorOf(a).message, 'e.png is empty: there is no .png file in it');
  });

  test('an SVG is not shown inline', async () => {
    const alice = await newUser();
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>');
    const file = await upload(alice.api, t.httpUrl, 'logo.svg', svg);
    assert.equal(file.type, 'image/svg+xml');
    assert.equal(file.thumbnailUrl, null);
    const got = await download(t.httpUrl, file.url, alice.token);
    assert.equal(got.headers['content-type'], 'application/octet-stream');
    assert.match(String(got.headers['content-disposition']), /^attachment;/);
  });

  test('a PNG gets its size and a WebP thumbnail; the original is kept byte for byte', async () => {
    const alice = await newUser();
    const bytes = await png(1200, 300);
    const file = await upload(alice.api, t.httpUrl, 'wide.png', bytes, { type: 'image/png' });
    assert.equal(file.type, 'image/png');
    assert.equal(file.width, 1200);
    assert.equal(file.height, 300);
    assert.ok(file.thumbnailUrl);
    const original = await download(t.httpUrl, file.url, alice.token);
    assert.deepEqual(original.body, bytes);
    assert.match(String(original.headers['content-disposition']), /^inline;/);
    const thumb = await download(t.httpUrl, file.thumbnailUrl ?? '', alice.token);
    assert.equal(thumb.status, 200);
    assert.equal(thumb.headers['content-type'], 'image/webp');
    const meta = await sharp(thumb.body).metadata();
    assert.equal(meta.format, 'webp');
    assert.equal(meta.width, 512);
    assert.equal(meta.height, 128);
  });

  test('a decompression bomb (a PNG whose header says 100000 × 100000) is refused before decoding; its bytes come back', async () => {
    const alice = await newUser();
    const bytes = bombPng();
    assert.ok(bytes.length < 100, `${bytes.length} bytes`);
    const before = await usageOf(alice.id);
    const slot = await slotFor(alice.api, 'bomb.png', bytes);
    assert.equal(await usageOf(alice.id), before + bytes.length);
    const a = await put(t.httpUrl, slot, bytes);
    assert.equal(a.status, 422);
    const err = errorOf(a);
    assert.equal(err.code, 'invalid_file');
    assert.match(err.message, /100000 × 100000 pixels.*40 megapixels/);
    assert.equal(await usageOf(alice.id), before, 'the refused file gives its bytes back');
    assert.equal(await t.sql.get('SELECT id FROM attachments WHERE id = ?', slot.attachment.id), undefined);
    assert.deepEqual(temps(), []);
  });

  test('EXIF with GPS is stripped from thumbnails and profile pictures', async () => {
    const alice = await newUser();
    const bytes = await jpegWithGps();
    assert.ok(hasGps((await sharp(bytes).metadata()).exif), 'the upload carries GPS');
    const file = await upload(alice.api, t.httpUrl, 'holiday.jpg', bytes);
    assert.equal(file.type, 'image/jpeg');
    const thumb = await download(t.httpUrl, file.thumbnailUrl ?? '', alice.token);
    const meta = await sharp(thumb.body).metadata();
    assert.equal(meta.exif, undefined);
    assert.equal(meta.xmp, undefined);

    const avatar = await upload(alice.api, t.httpUrl, 'me.jpg', bytes, { purpose: 'avatar' });
    assert.equal(avatar.type, 'image/webp');
    assert.equal(avatar.name, 'picture.webp');
    assert.equal(avatar.width, 256);
    const { user } = await alice.api.call('profile.update', { avatar: avatar.id });
    const pic = await download(t.httpUrl, user.avatar?.url ?? '', alice.token);
    assert.equal(pic.status, 200);
    const pmeta = await sharp(pic.body).metadata();
    assert.equal(pmeta.format, 'webp');
    assert.equal(pmeta.width, 256);
    assert.equal(pmeta.height, 256);
    assert.equal(pmeta.exif, undefined);
    assert.equal(Number(pic.headers['content-length']), pic.body.length);
  });

  test('a profile picture is on the user, told to those who share a server, and anyone logged in may fetch it', async () => {
    const [alice, bob] = await Promise.all([newUser(), newUser()]);
    const { server } = await alice.api.call('servers.create', { name: 'pics' });
    const { invite } = await alice.api.call('invites.create', { serverId: server.id });
    await bob.api.call('invites.join', { code: invite.code });
    const watcher = await connectAs(t.wsUrl, bob.token);
    try {
      const updated = watcher.nextEvent('user.updated');
      const avatar = await upload(alice.api, t.httpUrl, 'face.png', await png(300, 200), { purpose: 'avatar' });
      await alice.api.call('profile.update', { avatar: avatar.id });
      const ev = await updated;
      assert.equal(ev.data.user.id, alice.id);
      assert.equal(ev.data.user.avatar?.id, avatar.id);
      const stranger = await newUser();
      const got = await download(t.httpUrl, ev.data.user.avatar?.url ?? '', stranger.token);
      assert.equal(got.status, 200);
      assert.equal(got.headers['content-type'], 'image/webp');
      const seen = await stranger.api.call('users.get', { userId: alice.id });
      assert.equal(seen.user.avatar?.id, avatar.id);
    } finally {
      watcher.close();
    }
  });

  test('a profile picture must be an image; a text file is invalid_file', async () => {
    const alice = await newUser();
    const slot = await slotFor(alice.api, 'me.png', Buffer.from('not a picture'), { purpose: 'avatar' });
    const a = await put(t.httpUrl, slot, Buffer.from('not a picture'));
    assert.equal(a.status, 422);
    assert.equal(errorOf(a).code, 'invalid_file');
  });

  test('a server icon: a 256-pixel WebP on the server, counted in its total', async () => {
    const alice = await newUser();
    const { server } = await alice.api.call('servers.create', { name: 'iconic' });
    const icon = await upload(
      alice.api,
      t.httpUrl,
      'logo.gif',
      await png(64, 64).then((b) => sharp(b).gif().toBuffer()),
      {
        purpose: 'server-icon',
      },
    );
    const { server: updated } = await alice.api.call('servers.update', { serverId: server.id, icon: icon.id });
    assert.equal(updated.icon?.id, icon.id);
    const got = await download(t.httpUrl, updated.icon?.url ?? '', alice.token);
    const meta = await sharp(got.body).metadata();
    assert.equal(meta.format, 'webp');
    assert.equal(meta.width, 256);
    const row = await t.sql.get<{ size: number; server_id: string }>(
      'SELECT size, server_id FROM attachments WHERE id = ?',
      icon.id,
    );
    assert.equal(row?.server_id, server.id);
    assert.equal(Number(row?.size), got.body.length, 'the icon counts what is stored');
  });

  test('audio gets its duration', async () => {
    const alice = await newUser();
    const file = await upload(alice.api, t.httpUrl, 'note.wav', wav(1500));
    assert.match(file.type, /^audio\/(wav|x-wav|vnd\.wave)$/);
    assert.equal(file.durationMs, 1500);
    const got = await download(t.httpUrl, file.url, alice.token, { Range: 'bytes=0-43' });
    assert.equal(got.status, 206);
    assert.match(String(got.headers['content-disposition']), /^inline;/);
  });

  test('two people upload the same bytes: one blob, the same answer for both', async () => {
    const [alice, bob] = await Promise.all([newUser(), newUser()]);
    const bytes = randomBytes(5000);
    const a = await upload(alice.api, t.httpUrl, 'same.bin', bytes);
    const b = await upload(bob.api, t.httpUrl, 'same.bin', bytes);
    const strip = (f: typeof a) => ({ ...f, id: '', url: '' });
    assert.deepEqual(strip(a), strip(b));
    assert.notEqual(a.id, b.id);
    assert.ok(existsSync(blobPath(sha(bytes))));
    assert.equal(filesUnder(mediaDir()).filter((p) => p.endsWith(sha(bytes))).length, 1, 'stored once');
    assert.deepEqual((await download(t.httpUrl, b.url, bob.token)).body, bytes);
  });
});

describe('case 31: file names', () => {
  test('path tricks, NULs and long names are made safe; files are stored by id and hash, nothing outside the store', async () => {
    const alice = await newUser();
    const outside = mkdtempSync(join(tmpdir(), 'natter-outside-'));
    try {
      const cases: [string, string][] = [
        ['../../etc/passwd', 'passwd'],
        ['a\0.png', 'a.png'],
        ['..\\x', 'x'],
        [`${'n'.repeat(296)}.txt`, `${'n'.repeat(196)}.txt`],
        [`${outside}/escape.txt`, 'escape.txt'],
      ];
      for (const [raw, expected] of cases) {
        const bytes = raw === 'a\0.png' ? await png(4, 4) : Buffer.from(`content of ${expected}`);
        const file = await upload(alice.api, t.httpUrl, raw, bytes);
        assert.equal(file.name, expected, JSON.stringify(raw));
        assert.ok(Buffer.byteLength(file.name) <= 200);
        assert.match(file.url, new RegExp(`^/media/v1/${file.id}/`));
        const got = await download(t.httpUrl, file.url, alice.token);
        assert.equal(got.status, 200);
        assert.deepEqual(got.body, bytes);
        assert.ok(
          String(got.headers['content-disposition']).includes(`filename*=UTF-8''${encodeURIComponent(expected)}`),
        );
      }
      assert.deepEqual(readdirSync(outside), [], 'nothing written outside the media store');
      assert.equal(existsSync(join(t.dataDir, 'etc')), false);
      assert.equal(existsSync(join(mediaDir(), '..', '..', 'etc', 'passwd')), false);
      for (const p of filesUnder(mediaDir())) assert.match(p, /^[0-9a-f]{2}\/[0-9a-f]{2}\/[0-9a-f]{64}$/, p);
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });

  test('the store is private to natter: directories 0700, files 0600', async () => {
    const alice = await newUser();
    const bytes = randomBytes(100);
    await upload(alice.api, t.httpUrl, 'private.bin', bytes);
    const mode = (p: string) => statSync(p).mode & 0o777;
    assert.equal(mode(mediaDir()), 0o700);
    assert.equal(mode(join(mediaDir(), 'tmp')), 0o700);
    assert.equal(mode(join(blobPath(sha(bytes)), '..')), 0o700);
    assert.equal(mode(blobPath(sha(bytes))), 0o600);
  });
});

describe('case 32: refusals', () => {
  test('a file over the per-file limit is refused when the slot is asked for', async () => {
    const alice = await newUser();
    const err = await rejection(alice.api.call('attachments.create', { name: 'huge.iso', size: 10 * 1024 * 1024 + 1 }));
    assert.equal(err.code, 'too_large');
    assert.match(err.message, /at most 10,485,760 bytes; this one is 10,485,761 bytes/);
  });

  test('a name claiming a type the content is not is invalid_file, and the partial file is removed', async () => {
    const alice = await newUser();
    const gz = gzipSync(randomBytes(2000));
    const before = await usageOf(alice.id);
    const slot = await slotFor(alice.api, 'photo.png', gz);
    const a = await put(t.httpUrl, slot, gz);
    assert.equal(a.status, 422);
    const err = errorOf(a);
    assert.equal(err.code, 'invalid_file');
    assert.match(err.message, /photo\.png is named \.png but its content is application\/gzip/);
    assert.deepEqual(temps(), []);
    assert.equal(existsSync(blobPath(sha(gz))), false, 'refused bytes never enter the store');
    assert.equal(await usageOf(alice.id), before);

    const stated = await slotFor(alice.api, 'notes', Buffer.from('just text'), { type: 'image/png' });
    const b = await put(t.httpUrl, stated, Buffer.from('just text'));
    assert.equal(b.status, 422);
    assert.match(errorOf(b).message, /said to be image\/png but its content is text/);
  });

  test('over the daily allowance: quota_exceeded with retryAfterMs until midnight UTC', async () => {
    const alice = await newUser();
    const max = t.server.services.config.quotas.uploadBytesPerDay;
    const first = await slotFor(alice.api, 'a.bin', 10 * 1024 * 1024);
    assert.ok(first.upload.token);
    for (let used = 10 * 1024 * 1024; used + 10 * 1024 * 1024 <= max; used += 10 * 1024 * 1024) {
      await slotFor(alice.api, 'more.bin', 10 * 1024 * 1024);
    }
    const err = await rejection(alice.api.call('attachments.create', { name: 'over.bin', size: 10 * 1024 * 1024 }));
    assert.equal(err.code, 'quota_exceeded');
    const now = Date.now();
    const midnight = (Math.floor(now / 86_400_000) + 1) * 86_400_000;
    assert.ok(err.retryAfterMs !== undefined && err.retryAfterMs > 0 && err.retryAfterMs <= midnight - now + 60_000);
    assert.match(err.message, /00:00 UTC/);
  });

  test("over the server's total of files: quota_exceeded", async () => {
    const alice = await newUser();
    const { channels } = await alice.api.call('servers.create', { name: 'full' });
    const conversationId = channels[0]?.id ?? '';
    const big = await upload(alice.api, t.httpUrl, 'big.bin', randomBytes(200_000));
    await alice.api.call('messages.send', { conversationId, nonce: nonce(), attachments: [big.id] });
    const more = await upload(alice.api, t.httpUrl, 'more.bin', randomBytes(200_000));
    const err = await rejection(
      alice.api.call('messages.send', { conversationId, nonce: nonce(), attachments: [more.id] }),
    );
    assert.equal(err.code, 'quota_exceeded');
    assert.match(err.message, /this server holds/);
  });
});

describe('case 44: SIGKILL during an upload', () => {
  const dir = mkdtempSync(join(tmpdir(), 'natter-media-crash-'));
  let database: TestDatabase | null = null;
  before(async () => {
    if (TEST_BACKEND === 'postgres') database = await freshDatabase();
  });
  after(async () => {
    for (const c of children) c.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    await database?.drop();
  });

  test(`no row is completed, and the temporary file is swept (${TEST_BACKEND})`, async () => {
    let { child, url } = await serveProcess(dir, database?.url);
    const base = url.replace('ws://', 'http://');
    const api = new HttpApi(base);
    await api.call('register', { username: uniqueName('crash'), password: PASSWORD });
    const size = 4 * 1024 * 1024;
    const slot = await slotFor(api, 'cut.bin', size);
    const tmp = join(dir, 'media', 'tmp');
    const req = request(new URL(slot.upload.url, base), {
      method: 'PUT',
      headers: { Authorization: `Bearer ${slot.upload.token}`, 'Content-Length': String(size) },
      agent: false,
    });
    req.on('error', () => {});
    req.write(randomBytes(size / 2));
    // Half the file is on the server's disk when it dies.
    await waitFor(() => existsSync(tmp) && readdirSync(tmp).some((f) => statSync(join(tmp, f)).size >= size / 2), {
      what: 'half the upload in a temporary file',
    });
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await within(exited, 'the server to die');
    req.destroy();
    const left = readdirSync(tmp);
    assert.equal(left.length, 1, 'the cut upload left its temporary file');
    // Long ago, as the hourly sweep would find it after an hour.
    const old = new Date(Date.now() - 2 * 3_600_000);
    for (const f of left) utimesSync(join(tmp, f), old, old);

    ({ child, url } = await serveProcess(dir, database?.url));
    // The sweep runs as the server starts.
    await waitFor(() => readdirSync(tmp).length === 0, { what: 'the sweep to remove the temporary file' });
    const sqlite = database ? null : new Database(join(dir, 'natter.db'), { readonly: true });
    const sql = sqlite ? sqliteSql(sqlite) : postgresSql(database?.url ?? '');
    try {
      const row = await sql.get<{ sha256: string | null; uploaded_at: number | null }>(
        'SELECT sha256, uploaded_at FROM attachments WHERE id = ?',
        slot.attachment.id,
      );
      assert.ok(row, 'the slot is still there (it expires within the hour)');
      assert.equal(row.sha256, null);
      assert.equal(row.uploaded_at, null);
    } finally {
      await sql.close();
      sqlite?.close();
    }
    // The slot takes the whole file now.
    const bytes = randomBytes(size);
    const done = await put(url.replace('ws://', 'http://'), slot, bytes);
    assert.equal(done.status, 200, done.body.toString('utf8'));
    const exited2 = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await within(exited2, 'the server to stop');
  });
});
