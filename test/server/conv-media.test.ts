import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ConfigError } from '../../src/server/config.js';
import { startServer } from '../../src/server/server.js';
import { connectClient, HttpApi, PASSWORD, rejection, uniqueName } from '../helpers/api.js';
import { download, errorOf, mediaRequest, put, slotFor, upload } from '../helpers/media.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';

/**
 * Files over real HTTP: uploads to the slots `attachments.create` makes,
 * downloads with ranges and caching, and who may download what. Runs on
 * both backends (`npm run test:postgres`).
 */

let t: TestServer;
before(async () => {
  t = await startTestServer();
});
after(async () => {
  await t.destroy();
});

type User = { id: string; username: string; token: string; api: HttpApi };

async function newUser(prefix = 'md'): Promise<User> {
  const username = uniqueName(prefix);
  const api = new HttpApi(t.httpUrl);
  const reg = await api.call('register', { username, password: PASSWORD });
  return { id: reg.user.id, username, token: reg.token, api };
}

let nonces = 0;
const nonce = () => `md${process.pid}-${++nonces}`;

/** The temporary files of the media store (uploads under way or left behind). */
function temps(): string[] {
  try {
    return readdirSync(join(t.dataDir, 'media', 'tmp'));
  } catch {
    return [];
  }
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('uploads and downloads', () => {
  test('a small file goes up and comes down byte for byte, with HEAD, ETag, 304 and the safety headers', async () => {
    const alice = await newUser();
    const bytes = Buffer.from('hello, files\n');
    const file = await upload(alice.api, t.httpUrl, 'hello.txt', bytes);
    assert.equal(file.type, 'text/plain');
    assert.equal(file.size, bytes.length);
    assert.equal(file.name, 'hello.txt');
    assert.equal(file.purpose, 'message');
    assert.equal(file.thumbnailUrl, null);
    const got = await download(t.httpUrl, file.url, alice.token);
    assert.equal(got.status, 200);
    assert.deepEqual(got.body, bytes);
    assert.equal(got.headers['content-type'], 'text/plain; charset=utf-8');
    assert.equal(got.headers['content-length'], String(bytes.length));
    assert.equal(got.headers['accept-ranges'], 'bytes');
    assert.equal(got.headers.etag, `"${sha(bytes)}"`);
    assert.equal(got.headers['cache-control'], 'private, max-age=86400');
    assert.equal(got.headers['x-content-type-options'], 'nosniff');
    assert.equal(got.headers['content-security-policy'], "default-src 'none'; sandbox");
    assert.equal(got.headers['cross-origin-resource-policy'], 'same-origin');
    assert.equal(got.headers['content-disposition'], `inline; filename="hello.txt"; filename*=UTF-8''hello.txt`);

    const head = await download(t.httpUrl, file.url, alice.token, {}, 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.headers['content-length'], String(bytes.length));
    assert.equal(head.body.length, 0);

    const cached = await download(t.httpUrl, file.url, alice.token, { 'If-None-Match': `"${sha(bytes)}"` });
    assert.equal(cached.status, 304);
    assert.equal(cached.body.length, 0);
  });

  test('a 10 MiB file round-trips exactly, and an interrupted download resumes with Range', async () => {
    const alice = await newUser();
    const bytes = randomBytes(10 * 1024 * 1024);
    const file = await upload(alice.api, t.httpUrl, 'noise.bin', bytes);
    assert.equal(file.type, 'application/octet-stream');
    const whole = await download(t.httpUrl, file.url, alice.token);
    assert.equal(whole.status, 200);
    assert.equal(sha(whole.body), sha(bytes));
    assert.equal(whole.headers['content-type'], 'application/octet-stream');
    assert.match(String(whole.headers['content-disposition']), /^attachment; /);

    // The first 3 MiB arrived before the connection broke: the rest is asked for.
    const cut = 3 * 1024 * 1024;
    const rest = await download(t.httpUrl, file.url, alice.token, { Range: `bytes=${cut}-` });
    assert.equal(rest.status, 206);
    assert.equal(rest.headers['content-range'], `bytes ${cut}-${bytes.length - 1}/${bytes.length}`);
    assert.equal(rest.headers['content-length'], String(bytes.length - cut));
    assert.equal(sha(Buffer.concat([bytes.subarray(0, cut), rest.body])), sha(bytes));

    const middle = await download(t.httpUrl, file.url, alice.token, { Range: 'bytes=10-19' });
    assert.equal(middle.status, 206);
    assert.deepEqual(middle.body, bytes.subarray(10, 20));
    const tail = await download(t.httpUrl, file.url, alice.token, { Range: 'bytes=-5' });
    assert.deepEqual(tail.body, bytes.subarray(bytes.length - 5));
    const past = await download(t.httpUrl, file.url, alice.token, { Range: `bytes=${bytes.length}-` });
    assert.equal(past.status, 416);
    assert.equal(past.headers['content-range'], `bytes */${bytes.length}`);
    const several = await download(t.httpUrl, file.url, alice.token, { Range: 'bytes=0-1,5-6' });
    assert.equal(several.status, 200, 'several ranges: the whole file');
    assert.equal(several.body.length, bytes.length);
  });

  test('Content-Length other than the slot size is refused with both numbers, before the body is read', async () => {
    const alice = await newUser();
    const slot = await slotFor(alice.api, 'a.bin', 100);
    const a = await mediaRequest(t.httpUrl, slot.upload.url, {
      method: 'PUT',
      headers: { Authorization: `Bearer ${slot.upload.token}`, 'Content-Length': '99' },
      body: randomBytes(99),
    });
    assert.equal(a.status, 400);
    const err = errorOf(a);
    assert.equal(err.code, 'bad_request');
    assert.match(err.message, /100 bytes.*Content-Length: 99/);
    // The slot still works.
    const ok = await put(t.httpUrl, slot, randomBytes(100));
    assert.equal(ok.status, 200);
  });

  test('a chunked body is cut off with 413 the moment it passes the slot size, and leaves no temporary file', async () => {
    const alice = await newUser();
    const slot = await slotFor(alice.api, 'big.bin', 1000);
    const a = await mediaRequest(t.httpUrl, slot.upload.url, {
      method: 'PUT',
      headers: { Authorization: `Bearer ${slot.upload.token}`, 'Transfer-Encoding': 'chunked' },
      // More than the slot, and the request never ends: the answer must not wait for its end.
      body: [randomBytes(600), randomBytes(600)],
    });
    assert.equal(a.status, 413);
    assert.equal(errorOf(a).code, 'too_large');
    await waitFor(() => temps().length === 0, {
      what: 'the temporary file to be deleted',
      detail: () => temps().join(),
    });
    assert.equal(t.server.services.uploads.active, 0);
  });

  test('a chunked body that ends short is refused and leaves no temporary file; the slot can be used again', async () => {
    const alice = await newUser();
    const bytes = randomBytes(1000);
    const slot = await slotFor(alice.api, 'short.bin', bytes);
    const short = await mediaRequest(t.httpUrl, slot.upload.url, {
      method: 'PUT',
      headers: { Authorization: `Bearer ${slot.upload.token}`, 'Transfer-Encoding': 'chunked' },
      body: Buffer.from(bytes.subarray(0, 400)),
    });
    assert.equal(short.status, 400);
    const err = errorOf(short);
    assert.equal(err.code, 'bad_request');
    assert.match(err.message, /ended after 400 bytes.*1,000 bytes/);
    assert.deepEqual(temps(), []);
    const ok = await put(t.httpUrl, slot, bytes);
    assert.equal(ok.status, 200);
  });

  test('a wrong token, an unknown slot and no token are refused; a second PUT to a used slot is a conflict', async () => {
    const alice = await newUser();
    const bytes = randomBytes(10);
    const slot = await slotFor(alice.api, 'x.bin', bytes);
    const wrong = await put(t.httpUrl, { ...slot, upload: { ...slot.upload, token: 'ntu_nope' } }, bytes);
    assert.equal(wrong.status, 404);
    assert.equal(errorOf(wrong).code, 'not_found');
    const unknown = await put(
      t.httpUrl,
      { ...slot, upload: { ...slot.upload, url: '/media/v1/uploads/AAAAAAAAAAAAAAAAAAAAA' } },
      bytes,
    );
    assert.equal(unknown.status, 404);
    assert.equal(errorOf(wrong).message, errorOf(unknown).message, 'a wrong token reads as an unknown slot');
    const none = await mediaRequest(t.httpUrl, slot.upload.url, { method: 'PUT', body: bytes });
    assert.equal(none.status, 401);
    assert.equal(errorOf(none).code, 'unauthenticated');
    assert.equal((await put(t.httpUrl, slot, bytes)).status, 200);
    const again = await put(t.httpUrl, slot, bytes);
    assert.equal(again.status, 409);
    assert.equal(errorOf(again).code, 'conflict');
    // Without its token, a used slot reads as one that does not exist: nothing is told about it.
    const probe = await put(t.httpUrl, { ...slot, upload: { ...slot.upload, token: 'ntu_nope' } }, bytes);
    assert.equal(probe.status, 404);
    assert.deepEqual(errorOf(probe), errorOf(unknown));
  });

  test('an empty file is served whole, whatever range is asked', async () => {
    const alice = await newUser();
    const file = await upload(alice.api, t.httpUrl, 'empty.txt', Buffer.alloc(0));
    for (const range of ['bytes=-5', 'bytes=0-', 'bytes=0-0']) {
      const got = await download(t.httpUrl, file.url, alice.token, { Range: range });
      assert.equal(got.status, 200, range);
      assert.equal(got.headers['content-length'], '0');
      assert.equal(got.headers['content-range'], undefined);
    }
  });

  test('an expired slot says so and asks for a new one', async () => {
    const alice = await newUser();
    const bytes = randomBytes(10);
    const slot = await slotFor(alice.api, 'late.bin', bytes);
    const services = t.server.services;
    const real = services.clock;
    services.clock = () => real() + services.config.uploadSlotMs + 1000;
    try {
      const late = await put(t.httpUrl, slot, bytes);
      assert.equal(late.status, 409);
      const err = errorOf(late);
      assert.equal(err.code, 'conflict');
      assert.match(err.message, /expired .*; start the upload again$/);
    } finally {
      services.clock = real;
    }
  });

  test('downloads need a token; a file nobody may see is not_found like one that does not exist', async () => {
    const alice = await newUser();
    const file = await upload(alice.api, t.httpUrl, 'mine.txt', Buffer.from('mine'));
    assert.equal((await download(t.httpUrl, file.url, null)).status, 401);
    const bob = await newUser();
    const theirs = await download(t.httpUrl, file.url, bob.token);
    assert.equal(theirs.status, 404);
    const missing = await download(t.httpUrl, '/media/v1/AAAAAAAAAAAAAAAAAAAAA/x.txt', bob.token);
    assert.equal(missing.status, 404);
    assert.deepEqual(errorOf(theirs), errorOf(missing));
  });
});

describe('where files go', () => {
  test('hello.media: the HTTP port and the largest file; with --public-url, that address instead', async () => {
    for (const url of [t.wsUrl, t.tcpUrl]) {
      const c = await connectClient(url);
      assert.deepEqual(c.hello.media, { httpPort: t.server.port, maxFileBytes: 10 * 1024 * 1024 });
      c.close();
    }
    const other = await startTestServer({ publicUrl: 'https://chat.example.org/', quotas: { fileBytesMax: 1000 } });
    try {
      const c = await connectClient(other.tcpUrl);
      assert.deepEqual(c.hello.media, { httpUrl: 'https://chat.example.org', maxFileBytes: 1000 });
      c.close();
    } finally {
      await other.destroy();
    }
  });

  test('a --public-url that is not an http(s) address stops the start with words', async () => {
    for (const bad of ['ftp://example.org', 'chat.example.org', 'https://example.org/?x=1']) {
      await assert.rejects(
        startServer({ port: 0, tcpPort: null, dataDir: t.dataDir, publicUrl: bad, log: false }),
        (err) => {
          assert.ok(err instanceof ConfigError);
          assert.match(err.message, /--public-url takes the address clients reach/);
          return true;
        },
      );
    }
  });
});

describe('uploads under way', () => {
  test('at most 4 uploads of one account at once; a fifth is rate_limited; cut-off uploads leave nothing', async () => {
    const alice = await newUser();
    const services = t.server.services;
    const slots = await Promise.all([1, 2, 3, 4, 5].map((i) => slotFor(alice.api, `part${i}.bin`, 100_000)));
    const open = slots.slice(0, 4).map((slot) => {
      const req = request(new URL(slot.upload.url, t.httpUrl), {
        method: 'PUT',
        headers: { Authorization: `Bearer ${slot.upload.token}`, 'Content-Length': '100000' },
        agent: false,
      });
      req.on('error', () => {});
      req.write(randomBytes(1000));
      return req;
    });
    await waitFor(() => services.uploads.active === 4, { what: 'four uploads under way' });
    const fifth = slots[4];
    assert.ok(fifth);
    const refused = await put(t.httpUrl, fifth, randomBytes(100_000));
    assert.equal(refused.status, 429);
    const err = errorOf(refused);
    assert.equal(err.code, 'rate_limited');
    assert.match(err.message, /at most 4 uploads/);
    assert.equal(refused.headers['retry-after'], '1');
    // Another account is not held up by alice's.
    const bob = await newUser();
    await upload(bob.api, t.httpUrl, 'bob.bin', randomBytes(100));
    for (const req of open) req.destroy();
    await waitFor(() => services.uploads.active === 0 && temps().length === 0, {
      what: 'the cut uploads to end and their temporary files to go',
      detail: () => `${services.uploads.active} under way, temporary files: ${temps().join(', ')}`,
    });
    assert.equal((await put(t.httpUrl, fifth, randomBytes(100_000))).status, 200);
  });
});

describe('who may download', () => {
  test('a channel file: members may, a non-member may not, and a member who left loses access', async () => {
    const [owner, member, outsider] = await Promise.all([newUser(), newUser(), newUser()]);
    const { server, channels } = await owner.api.call('servers.create', { name: 'files' });
    const conversationId = channels[0]?.id ?? '';
    const { invite } = await owner.api.call('invites.create', { serverId: server.id });
    await member.api.call('invites.join', { code: invite.code });
    const file = await upload(owner.api, t.httpUrl, 'plan.txt', Buffer.from('the plan'));
    const { message } = await owner.api.call('messages.send', {
      conversationId,
      nonce: nonce(),
      attachments: [file.id],
    });
    assert.equal(message.attachments?.[0]?.id, file.id);
    assert.equal((await download(t.httpUrl, file.url, member.token)).status, 200);
    const out = await download(t.httpUrl, file.url, outsider.token);
    assert.equal(out.status, 404);
    assert.equal(errorOf(out).code, 'not_found');
    await member.api.call('servers.leave', { serverId: server.id });
    assert.equal((await download(t.httpUrl, file.url, member.token)).status, 404);
  });

  test("a DM's file: the two may, a third user gets not_found", async () => {
    const [alice, bob, carol] = await Promise.all([newUser(), newUser(), newUser()]);
    const file = await upload(alice.api, t.httpUrl, 'secret.txt', Buffer.from('between us'));
    await alice.api.call('messages.send', { to: bob.username, nonce: nonce(), attachments: [file.id] });
    assert.equal((await download(t.httpUrl, file.url, bob.token)).status, 200);
    assert.equal((await download(t.httpUrl, file.url, alice.token)).status, 200);
    const third = await download(t.httpUrl, file.url, carol.token);
    assert.equal(third.status, 404);
    assert.equal(errorOf(third).code, 'not_found');
    const err = await rejection(carol.api.call('attachments.get', { attachmentId: file.id }));
    assert.equal(err.code, 'not_found');
  });
});
