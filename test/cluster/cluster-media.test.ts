import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Attachment } from '../../src/protocol/index.js';
import { HttpApi, PASSWORD, rejection, uniqueName } from '../helpers/api.js';
import { type TestNats, testNats } from '../helpers/nats.js';
import { freshDatabase, type TestDatabase } from '../helpers/postgres.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * Two natter nodes on one PostgreSQL database and one shared media
 * directory: a file's slot asked for on one node is uploaded through the
 * other and downloaded through either; identical bytes uploaded through both
 * at once are stored once; a server's file total holds when members of it
 * attach files through both nodes at the same moment.
 */

let db: TestDatabase;
let bus: TestNats;
let east: TestServer;
let west: TestServer;
let media: string;
before(async () => {
  db = await freshDatabase();
  bus = await testNats({ started: true });
  media = mkdtempSync(join(tmpdir(), 'natter-media-'));
  const shared = {
    database: db.url,
    bus: bus.url,
    cluster: 'media',
    mediaDir: media,
    quotas: { serverMediaBytes: 1500 },
  };
  east = await startTestServer(shared);
  west = await startTestServer(shared);
});
after(async () => {
  await west?.destroy();
  await east?.destroy();
  await bus.dispose();
  await db.drop();
  rmSync(media, { recursive: true, force: true });
});

type User = { id: string; token: string; on(t: TestServer): HttpApi };

async function user(prefix: string): Promise<User> {
  const api = new HttpApi(east.httpUrl);
  const reg = await api.call('register', { username: uniqueName(prefix), password: PASSWORD });
  return {
    id: reg.user.id,
    token: reg.token,
    on(t) {
      const a = new HttpApi(t.httpUrl);
      a.token = reg.token;
      return a;
    },
  };
}

/** Asks for a slot through `slotNode` and PUTs the bytes through `putNode`; returns the stored file. */
async function upload(u: User, slotNode: TestServer, putNode: TestServer, bytes: Buffer, name = 'data.bin') {
  const { upload } = await u.on(slotNode).call('attachments.create', { name, size: bytes.length });
  const res = await fetch(new URL(upload.url, putNode.httpUrl), {
    method: 'PUT',
    headers: { authorization: `Bearer ${upload.token}` },
    body: bytes,
  });
  const body = (await res.json()) as { attachment: Attachment };
  assert.equal(res.status, 200, JSON.stringify(body));
  return body.attachment;
}

async function download(u: User, node: TestServer, url: string): Promise<{ status: number; bytes: Buffer }> {
  const res = await fetch(new URL(url, node.httpUrl), { headers: { authorization: `Bearer ${u.token}` } });
  return { status: res.status, bytes: Buffer.from(await res.arrayBuffer()) };
}

/** Every blob file under the media directory (temporary files aside). */
function blobs(): string[] {
  return readdirSync(media, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && /^[0-9a-f]{64}$/.test(e.name))
    .map((e) => e.name);
}

test('a slot asked for on one node is uploaded through the other and read back, byte for byte, through both', async () => {
  const ann = await user('cm-ann');
  const bob = await user('cm-bob');
  const eve = await user('cm-eve');
  const bytes = randomBytes(300_000);
  const file = await upload(ann, east, west, bytes, 'report.bin');
  const sent = await ann.on(west).call('messages.send', {
    to: (await bob.on(east).call('whoami', {})).user.username,
    nonce: 'cm-1',
    attachments: [file.id],
  });
  const posted = sent.message.attachments?.[0];
  assert.ok(posted);
  for (const node of [east, west]) {
    const got = await download(bob, node, posted.url);
    assert.equal(got.status, 200);
    assert.ok(got.bytes.equals(bytes), 'byte-exact through either node');
    assert.equal((await download(eve, node, posted.url)).status, 404, 'a third user gets not_found on every node');
  }
});

test('identical bytes uploaded through both nodes at once are stored once, and both uploads complete', async () => {
  const ann = await user('cm-dup');
  const bob = await user('cm-dup');
  const bytes = randomBytes(200_000);
  const before = new Set(blobs());
  const [a, b] = await Promise.all([upload(ann, east, east, bytes), upload(bob, west, west, bytes)]);
  assert.notEqual(a.id, b.id);
  assert.deepEqual({ ...a, id: '', url: '' }, { ...b, id: '', url: '' }, 'the same answer for both');
  const added = blobs().filter((s) => !before.has(s));
  assert.equal(added.length, 1, 'one blob for both');
});

test("members attaching files through both nodes at once cannot pass the server's total together", async () => {
  const owner = await user('cm-own');
  const bob = await user('cm-bob');
  const { server, channels } = await owner.on(east).call('servers.create', { name: 'tight' });
  const channelId = channels[0]?.id ?? '';
  const { code } = (await owner.on(east).call('invites.create', { serverId: server.id })).invite;
  await bob.on(west).call('invites.join', { code });
  const [f1, f2] = await Promise.all([
    upload(owner, east, east, randomBytes(1000)),
    upload(bob, west, west, randomBytes(1000)),
  ]);
  const results = await Promise.allSettled([
    owner.on(east).call('messages.send', { conversationId: channelId, nonce: 'cm-t1', attachments: [f1.id] }),
    bob.on(west).call('messages.send', { conversationId: channelId, nonce: 'cm-t2', attachments: [f2.id] }),
  ]);
  const ok = results.filter((r) => r.status === 'fulfilled');
  assert.equal(ok.length, 1, 'exactly one of two 1000-byte files fits under 1500 bytes');
  const refused = results.find((r) => r.status === 'rejected');
  assert.ok(refused && refused.status === 'rejected');
  const err = await rejection(Promise.reject(refused.reason));
  assert.equal(err.code, 'quota_exceeded');
  const { messages } = await owner.on(west).call('messages.history', { conversationId: channelId });
  assert.equal(messages.length, 1);
});

test('a file refused by both nodes at once gives its bytes back to the day once', async () => {
  const ann = await user('cm-ref');
  const usage = async () => {
    const rows = await east.sql.all<{ bytes: number }>('SELECT bytes FROM upload_usage WHERE user_id = $1', ann.id);
    return rows.reduce((n, r) => n + Number(r.bytes), 0);
  };
  await ann.on(east).call('attachments.create', { name: 'kept.bin', size: 5000 });
  const bytes = Buffer.alloc(1000, 'a');
  const { upload } = await ann.on(east).call('attachments.create', { name: 'x.png', size: bytes.length });
  assert.equal(await usage(), 6000);
  const answers = await Promise.all(
    [east, west].map((node) =>
      fetch(new URL(upload.url, node.httpUrl), {
        method: 'PUT',
        headers: { authorization: `Bearer ${upload.token}` },
        body: bytes,
      }).then((r) => r.status),
    ),
  );
  assert.ok(answers.includes(422), `one node refused it as invalid_file (${answers.join(', ')})`);
  assert.equal(await usage(), 5000, 'the 1000 bytes came back once, not twice');
});
