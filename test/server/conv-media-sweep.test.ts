import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runMaintenance } from '../../src/server/maintenance.js';
import { BLOB_GRACE_MS, sweepBlobs } from '../../src/server/media/sweep.js';
import type { MediaStore } from '../../src/server/store/port.js';
import { HttpApi, PASSWORD, uniqueName } from '../helpers/api.js';
import { download, errorOf, slotFor, upload } from '../helpers/media.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * The hourly sweep of files, on both backends: unused uploads' rows go, then
 * the blobs no row names, and never a blob whose row commits while the
 * sweep looks at it. Time moves by the server's clock, not by waiting.
 */

let t: TestServer;
before(async () => {
  t = await startTestServer();
});
after(async () => {
  await t.destroy();
});

type User = { id: string; token: string; api: HttpApi };

async function newUser(): Promise<User> {
  const api = new HttpApi(t.httpUrl);
  const reg = await api.call('register', { username: uniqueName('sw'), password: PASSWORD });
  return { id: reg.user.id, token: reg.token, api };
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const blobPath = (hash: string) => join(t.dataDir, 'media', hash.slice(0, 2), hash.slice(2, 4), hash);

/** Runs `fn` with the server's clock `ms` ahead. */
async function later<T>(ms: number, fn: () => Promise<T>): Promise<T> {
  const services = t.server.services;
  const real = services.clock;
  services.clock = () => real() + ms;
  try {
    return await fn();
  } finally {
    services.clock = real;
  }
}

/** Makes a blob look as if it was stored long ago. */
function age(hash: string): void {
  const old = new Date(Date.now() - 2 * BLOB_GRACE_MS);
  utimesSync(blobPath(hash), old, old);
}

describe('the hourly sweep of files', () => {
  test('unused uploads and never-used slots go after their hour, with their blobs; files in use stay', async () => {
    const alice = await newUser();
    const { channels } = await alice.api.call('servers.create', { name: 'sweep' });
    const conversationId = channels[0]?.id ?? '';
    const kept = randomBytes(300);
    const unused = randomBytes(400);
    const used = await upload(alice.api, t.httpUrl, 'kept.bin', kept);
    await alice.api.call('messages.send', {
      conversationId,
      nonce: `sw-${randomBytes(4).toString('hex')}`,
      attachments: [used.id],
    });
    const orphan = await upload(alice.api, t.httpUrl, 'unused.bin', unused);
    const slot = await slotFor(alice.api, 'never.bin', 10);
    const report = await later(2 * 3_600_000, () => runMaintenance(t.server.services));
    assert.ok(report.files >= 2, `${report.files} rows of unused uploads removed`);
    assert.ok(report.blobs >= 1, `${report.blobs} blobs removed`);
    assert.equal(await t.sql.get('SELECT id FROM attachments WHERE id = ?', orphan.id), undefined);
    assert.equal(await t.sql.get('SELECT id FROM attachments WHERE id = ?', slot.attachment.id), undefined);
    assert.equal(existsSync(blobPath(sha(unused))), false, 'the blob no row names is gone');
    assert.ok(existsSync(blobPath(sha(kept))), 'the blob of a file in a message stays');
    const got = await download(t.httpUrl, used.url, alice.token);
    assert.deepEqual(got.body, kept);
    assert.equal((await download(t.httpUrl, orphan.url, alice.token)).status, 404);
  });

  test('a deleted message takes its file at once (404), and its blob with the next sweep', async () => {
    const alice = await newUser();
    const { channels } = await alice.api.call('servers.create', { name: 'gone' });
    const conversationId = channels[0]?.id ?? '';
    const bytes = randomBytes(700);
    const file = await upload(alice.api, t.httpUrl, 'gone.bin', bytes);
    const { message } = await alice.api.call('messages.send', {
      conversationId,
      nonce: `sw-${randomBytes(4).toString('hex')}`,
      attachments: [file.id],
    });
    assert.equal((await download(t.httpUrl, file.url, alice.token)).status, 200);
    await alice.api.call('messages.delete', { messageId: message.id });
    const after = await download(t.httpUrl, file.url, alice.token);
    assert.equal(after.status, 404);
    assert.equal(errorOf(after).code, 'not_found');
    assert.ok(existsSync(blobPath(sha(bytes))), 'bytes stay until the sweep');
    await later(2 * 3_600_000, () => runMaintenance(t.server.services));
    assert.equal(existsSync(blobPath(sha(bytes))), false);
  });

  test('a young blob no row names yet (an upload finishing) is left alone', async () => {
    const { blobs, media } = t.server.services;
    const staged = await blobs.stage(randomBytes(64));
    await blobs.commit(staged);
    assert.equal(await sweepBlobs(blobs, media, Date.now() - BLOB_GRACE_MS), 0);
    assert.ok(existsSync(blobPath(staged.sha256)));
    await blobs.discard(staged);
  });

  test('a blob whose row commits between the sweep’s two looks is put back', async () => {
    const alice = await newUser();
    const { blobs, media, store } = t.server.services;
    const bytes = randomBytes(900);
    const slot = await slotFor(alice.api, 'race.bin', bytes);
    const staged = await blobs.stage(bytes);
    await blobs.commit(staged);
    age(staged.sha256);
    // The real store, with the upload's commit made to land right before the sweep's second look.
    let looks = 0;
    const racing: MediaStore = Object.create(media);
    racing.referenced = async (shas) => {
      looks++;
      if (looks === 2) {
        await store.write((tx) =>
          tx.media.complete(slot.attachment.id, {
            sha256: staged.sha256,
            thumbSha256: null,
            type: 'application/octet-stream',
            width: null,
            height: null,
            durationMs: null,
            uploadedAt: Date.now(),
          }),
        );
      }
      return media.referenced(shas);
    };
    const removed = await sweepBlobs(blobs, racing, Date.now() - BLOB_GRACE_MS);
    assert.equal(looks, 2, 'the sweep looked twice');
    assert.equal(removed, 0);
    assert.ok(existsSync(blobPath(staged.sha256)), 'restored');
    await blobs.settle(staged);
    assert.deepEqual((await download(t.httpUrl, slot.attachment.url, alice.token)).body, bytes);
  });

  test('a blob swept before its row commits is linked again by the upload once the row is in', async () => {
    const alice = await newUser();
    const { blobs, media, store } = t.server.services;
    const bytes = randomBytes(1100);
    const slot = await slotFor(alice.api, 'late.bin', bytes);
    const staged = await blobs.stage(bytes);
    await blobs.commit(staged);
    age(staged.sha256);
    // The sweep finds no row (none has committed) and deletes the blob.
    assert.equal(await sweepBlobs(blobs, media, Date.now() - BLOB_GRACE_MS), 1);
    assert.equal(existsSync(blobPath(staged.sha256)), false);
    await store.write((tx) =>
      tx.media.complete(slot.attachment.id, {
        sha256: staged.sha256,
        thumbSha256: null,
        type: 'application/octet-stream',
        width: null,
        height: null,
        durationMs: null,
        uploadedAt: Date.now(),
      }),
    );
    // What receiveUpload does after its commit.
    await blobs.settle(staged);
    assert.ok(existsSync(blobPath(staged.sha256)));
    assert.equal(existsSync(staged.path), false, 'the temporary file is gone');
    assert.deepEqual((await download(t.httpUrl, slot.attachment.url, alice.token)).body, bytes);
  });

  test('upload totals of days before yesterday are pruned', async () => {
    const alice = await newUser();
    await slotFor(alice.api, 'today.bin', 1234);
    const report = await later(3 * 86_400_000, () => runMaintenance(t.server.services));
    assert.ok(report.uploadUsage >= 1);
    assert.equal(await t.sql.get('SELECT bytes FROM upload_usage WHERE user_id = ?', alice.id), undefined);
  });
});
