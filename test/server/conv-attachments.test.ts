import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ParamsIn } from '../../src/protocol/index.js';
import { HttpApi, PASSWORD, rejection, uniqueName } from '../helpers/api.js';
import { download, upload } from '../helpers/media.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * Upload slots (`attachments.create`) and what a message, a profile or a
 * server may be given, before any byte moves: sizes and quotas checked when
 * the slot is asked for, files that are not the caller's, not uploaded yet,
 * or uploaded for something else refused with words, and nothing changed.
 * (Uploads and downloads themselves: conv-media*.test.ts.)
 */

const MiB = 1024 * 1024;
let t: TestServer;
before(async () => {
  t = await startTestServer({
    quotas: { fileBytesMax: 4 * MiB, uploadBytesPerDay: 10 * MiB },
  });
});
after(() => t.destroy());

type User = { api: HttpApi; id: string; username: string; token: string };

async function newUser(prefix: string): Promise<User> {
  const api = new HttpApi(t.httpUrl);
  const username = uniqueName(prefix);
  const reg = await api.call('register', { username, password: PASSWORD });
  api.token = reg.token;
  return { api, id: reg.user.id, username, token: reg.token };
}

function slot(u: User, params: Partial<ParamsIn<'attachments.create'>> = {}) {
  return u.api.call('attachments.create', { name: 'notes.txt', size: 100, ...params });
}

let n = 0;
const nonce = () => `at-${process.pid}-${++n}`;

describe('asking for an upload slot', () => {
  test('answers the file as it will be known, an upload URL, a token and when it stops working', async () => {
    const ann = await newUser('ann');
    const before = Date.now();
    const { attachment, upload } = await slot(ann, { name: 'voice note.ogg', size: 2048, type: 'Audio/Ogg' });
    assert.equal(attachment.name, 'voice note.ogg');
    assert.equal(attachment.size, 2048);
    assert.equal(attachment.type, 'audio/ogg', 'what the uploader said, until the content says otherwise');
    assert.equal(attachment.purpose, 'message');
    assert.equal(attachment.url, `/media/v1/${attachment.id}/voice%20note.ogg`);
    assert.equal(attachment.thumbnailUrl, null);
    assert.equal(upload.url, `/media/v1/uploads/${attachment.id}`);
    assert.match(upload.token, /^ntu_[A-Za-z0-9_-]{43}$/);
    assert.ok(upload.expiresAt >= before + 15 * 60_000 && upload.expiresAt <= Date.now() + 15 * 60_000);
  });

  test('keeps only the last segment of a path and drops what a terminal or a file system cannot take', async () => {
    const ann = await newUser('ann');
    const names: [string, string][] = [
      ['../../etc/passwd', 'passwd'],
      ['..\\..\\boot.ini', 'boot.ini'],
      ['a\u0000.png', 'a.png'],
      ['\u202Egnp.exe', 'gnp.exe'],
      ['...hidden', 'hidden'],
      ['report?.pdf', 'report_.pdf'],
      ['dir/', 'file'],
      [`${'é'.repeat(150)}.tar.gz`, `${'é'.repeat(98)}.gz`],
    ];
    for (const [given, stored] of names) {
      const { attachment } = await slot(ann, { name: given });
      assert.equal(attachment.name, stored, JSON.stringify(given));
      assert.ok(Buffer.byteLength(attachment.name) <= 200);
    }
  });

  test('a file over the per-file limit is refused, saying the limit and its size', async () => {
    const ann = await newUser('ann');
    const err = await rejection(slot(ann, { size: 4 * MiB + 1 }));
    assert.equal(err.code, 'too_large');
    assert.equal(err.message, 'files may be at most 4,194,304 bytes; this one is 4,194,305 bytes');
    assert.equal(err.field, 'params.size');
    const ok = await slot(ann, { size: 4 * MiB });
    assert.equal(ok.attachment.size, 4 * MiB, 'exactly the limit is allowed');
  });

  test('the daily allowance counts every slot and says when it starts again', async () => {
    const ann = await newUser('ann');
    for (let i = 0; i < 2; i++) await slot(ann, { size: 4 * MiB });
    await slot(ann, { size: 2 * MiB });
    const err = await rejection(slot(ann, { size: 1 }));
    assert.equal(err.code, 'quota_exceeded');
    assert.match(
      err.message,
      /^you may upload 10 MiB a day and have 0 bytes left today; this file is 1 bytes\. The allowance starts again at 00:00 UTC \(in (\d+ (s|min)|\d+ h( \d+ min)?)\)$/,
    );
    const midnight = Math.ceil(Date.now() / 86_400_000) * 86_400_000;
    assert.ok(
      err.retryAfterMs !== undefined && err.retryAfterMs > 0 && err.retryAfterMs <= midnight - Date.now() + 1000,
    );
    // Someone else's allowance is their own.
    const bob = await newUser('bob');
    await slot(bob, { size: 4 * MiB });
  });

  test('a stated type must look like one, and a picture must be an image', async () => {
    const ann = await newUser('ann');
    const bad = await rejection(slot(ann, { type: 'not a type' }));
    assert.equal(bad.code, 'bad_request');
    assert.equal(bad.field, 'params.type');
    assert.match(bad.message, /"not a type" is not a file type such as image\/png/);
    const avatar = await rejection(slot(ann, { purpose: 'avatar', type: 'application/pdf', name: 'me.pdf' }));
    assert.equal(avatar.code, 'invalid_file');
    assert.match(avatar.message, /a profile picture must be an image/);
    const icon = await rejection(slot(ann, { purpose: 'server-icon', type: 'text/html' }));
    assert.equal(icon.code, 'invalid_file');
    assert.match(icon.message, /a server icon must be an image/);
  });

  test('an empty or missing name is refused in words', async () => {
    const ann = await newUser('ann');
    const err = await rejection(slot(ann, { name: '' }));
    assert.equal(err.code, 'bad_request');
    assert.equal(err.field, 'params.name');
  });
});

describe('what may be attached', () => {
  test('a message needs text or a file', async () => {
    const ann = await newUser('ann');
    const bob = await newUser('bob');
    const err = await rejection(ann.api.call('messages.send', { to: bob.username, nonce: nonce() }));
    assert.equal(err.code, 'bad_request');
    assert.equal(err.message, 'a message needs text, a file, or both');
  });

  test('a file not uploaded yet, someone else’s, one given twice or eleven are refused, and nothing is sent', async () => {
    const ann = await newUser('ann');
    const bob = await newUser('bob');
    const mine = (await slot(ann)).attachment.id;
    const theirs = (await slot(bob)).attachment.id;
    const send = (attachments: string[]) =>
      ann.api.call('messages.send', { to: bob.username, body: 'see attached', nonce: nonce(), attachments });

    const early = await rejection(send([mine]));
    assert.equal(early.code, 'conflict');
    assert.equal(early.message, 'notes.txt has not been uploaded yet: PUT its bytes to the upload URL first');
    assert.equal(early.field, 'params.attachments.0');

    const stolen = await rejection(send([theirs]));
    assert.equal(stolen.code, 'not_found', 'another person’s upload is not there for the caller');
    assert.equal(stolen.message, 'no such file');

    const twice = await rejection(send([mine, mine]));
    assert.equal(twice.code, 'bad_request');
    assert.equal(twice.message, 'the same file is attached twice');

    const many = await rejection(send(Array.from({ length: 11 }, () => mine)));
    assert.equal(many.code, 'bad_request');
    assert.equal(many.field, 'params.attachments');

    const { conversations } = await ann.api.call('conversations.list', {});
    assert.equal(conversations.length, 0, 'no DM was opened by a refused send');
  });

  test('an upload made for a message is not a profile picture or an icon, and the other way round', async () => {
    const ann = await newUser('ann');
    const forMessage = (await slot(ann)).attachment.id;
    const err = await rejection(ann.api.call('profile.update', { avatar: forMessage }));
    assert.equal(err.code, 'bad_request');
    assert.equal(err.message, 'that file was uploaded for a message; upload it again as a profile picture');
    const { server } = await ann.api.call('servers.create', { name: uniqueName('Ico') });
    const icon = await rejection(ann.api.call('servers.update', { serverId: server.id, icon: forMessage }));
    assert.equal(icon.message, 'that file was uploaded for a message; upload it again as a server icon');
    const avatarSlot = (await slot(ann, { purpose: 'avatar', name: 'me.png' })).attachment.id;
    const early = await rejection(ann.api.call('profile.update', { avatar: avatarSlot }));
    assert.equal(early.code, 'conflict');
    const bob = await newUser('bob');
    const notTheirs = await rejection(bob.api.call('profile.update', { avatar: avatarSlot }));
    assert.equal(notTheirs.code, 'not_found');
    const me = await ann.api.call('whoami', {});
    assert.equal(me.user.avatar, undefined, 'the profile did not change');
  });

  test('clearing a picture that is not there changes nothing and succeeds', async () => {
    const ann = await newUser('ann');
    const { user } = await ann.api.call('profile.update', { avatar: null });
    assert.equal(user.avatar, undefined);
  });
});

describe('attachments.get', () => {
  test('an upload not yet used is its owner’s alone', async () => {
    const ann = await newUser('ann');
    const bob = await newUser('bob');
    const { attachment } = await slot(ann, { name: 'draft.txt' });
    const seen = await ann.api.call('attachments.get', { attachmentId: attachment.id });
    assert.equal(seen.attachment.name, 'draft.txt');
    const hidden = await rejection(bob.api.call('attachments.get', { attachmentId: attachment.id }));
    assert.equal(hidden.code, 'not_found');
    assert.equal(hidden.message, 'no such file');
  });
});

describe('files of held and edited messages', () => {
  async function heldChannel() {
    const owner = await newUser('own');
    const bob = await newUser('bob');
    const { server, channels } = await owner.api.call('servers.create', { name: uniqueName('Held') });
    const channelId = channels[0]?.id ?? '';
    const { code } = (await owner.api.call('invites.create', { serverId: server.id })).invite;
    await bob.api.call('invites.join', { code });
    await owner.api.call('automod.create', {
      serverId: server.id,
      rule: { name: 'links', kind: 'keyword', config: { keywords: ['*example.com*'] }, actions: ['hold'] },
    });
    return { owner, bob, serverId: server.id, channelId };
  }

  test('a held message keeps its files for the moderators to see, and posts them when approved', async () => {
    const { owner, bob, serverId, channelId } = await heldChannel();
    const bytes = Buffer.from('the notes behind the link\n');
    const file = await upload(bob.api, t.httpUrl, 'notes.txt', bytes);
    const held = await rejection(
      bob.api.call('messages.send', {
        conversationId: channelId,
        body: 'see example.com',
        nonce: nonce(),
        attachments: [file.id],
      }),
    );
    assert.equal(held.code, 'held');
    const [waiting] = (await owner.api.call('held.list', { serverId })).messages;
    assert.ok(waiting);
    assert.deepEqual(
      waiting.attachments?.map((a) => [a.id, a.name, a.size, a.type]),
      [[file.id, 'notes.txt', bytes.length, 'text/plain']],
    );
    // Until it is approved, the sender and the moderators (who decide on it) may open it; other members may not.
    const review = await download(t.httpUrl, file.url, owner.token);
    assert.equal(review.status, 200);
    assert.deepEqual(review.body, bytes);
    const carol = await newUser('carol');
    const { code } = (await owner.api.call('invites.create', { serverId })).invite;
    await carol.api.call('invites.join', { code });
    assert.equal((await download(t.httpUrl, file.url, carol.token)).status, 404);
    assert.equal((await rejection(carol.api.call('attachments.get', { attachmentId: file.id }))).code, 'not_found');
    // Nor can the sender send it elsewhere meanwhile: it waits with the held message.
    const moved = await rejection(
      bob.api.call('messages.send', { to: carol.username, nonce: nonce(), attachments: [file.id] }),
    );
    assert.equal(moved.code, 'conflict');
    assert.equal(moved.message, "notes.txt waits with a held message for a moderator's decision");
    const { message } = await owner.api.call('held.approve', { heldId: waiting.id });
    assert.deepEqual(
      message.attachments?.map((a) => a.id),
      [file.id],
    );
    const got = await download(t.httpUrl, file.url, owner.token);
    assert.equal(got.status, 200);
    assert.deepEqual(got.body, bytes);
    const { messages } = await bob.api.call('messages.history', { conversationId: channelId });
    assert.deepEqual(
      messages.at(-1)?.attachments?.map((a) => a.id),
      [file.id],
    );
  });

  test('a rejected held message takes its files with it', async () => {
    const { owner, bob, serverId, channelId } = await heldChannel();
    const file = await upload(bob.api, t.httpUrl, 'spam.txt', Buffer.from('buy now\n'));
    await rejection(
      bob.api.call('messages.send', {
        conversationId: channelId,
        body: 'example.com deals',
        nonce: nonce(),
        attachments: [file.id],
      }),
    );
    const [waiting] = (await owner.api.call('held.list', { serverId })).messages;
    assert.ok(waiting);
    await owner.api.call('held.reject', { heldId: waiting.id });
    const gone = await rejection(bob.api.call('attachments.get', { attachmentId: file.id }));
    assert.equal(gone.code, 'not_found');
    assert.equal((await download(t.httpUrl, file.url, bob.token)).status, 404);
  });

  test('a blocked message leaves its files unused, to be sent again', async () => {
    const owner = await newUser('own');
    const { server, channels } = await owner.api.call('servers.create', { name: uniqueName('Blk') });
    const channelId = channels[0]?.id ?? '';
    await owner.api.call('automod.create', {
      serverId: server.id,
      rule: {
        name: 'words',
        kind: 'keyword',
        config: { keywords: ['forbidden'] },
        actions: [{ block: { message: 'not here' } }],
      },
    });
    const bob = await newUser('bob');
    const { code } = (await owner.api.call('invites.create', { serverId: server.id })).invite;
    await bob.api.call('invites.join', { code });
    const file = await upload(bob.api, t.httpUrl, 'a.txt', Buffer.from('a\n'));
    const blocked = await rejection(
      bob.api.call('messages.send', {
        conversationId: channelId,
        body: 'forbidden',
        nonce: nonce(),
        attachments: [file.id],
      }),
    );
    assert.equal(blocked.code, 'blocked');
    const { message } = await bob.api.call('messages.send', {
      conversationId: channelId,
      body: 'fine',
      nonce: nonce(),
      attachments: [file.id],
    });
    assert.deepEqual(
      message.attachments?.map((a) => a.id),
      [file.id],
    );
  });

  test('an edit keeps the files in what readers get; a file-only message has an empty body', async () => {
    const ann = await newUser('ann');
    const bob = await newUser('bob');
    const file = await upload(ann.api, t.httpUrl, 'plan.txt', Buffer.from('plan\n'));
    const sent = await ann.api.call('messages.send', { to: bob.username, nonce: nonce(), attachments: [file.id] });
    assert.equal(sent.message.body, '');
    const { message } = await ann.api.call('messages.edit', { messageId: sent.message.id, body: 'the plan' });
    assert.deepEqual(
      message.attachments?.map((a) => a.name),
      ['plan.txt'],
    );
    const again = await rejection(
      ann.api.call('messages.send', { to: bob.username, nonce: nonce(), attachments: [file.id] }),
    );
    assert.equal(again.code, 'conflict');
    assert.equal(again.message, 'plan.txt is attached to another message already; upload it again');
  });
});
