import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { HttpApi, PASSWORD } from '../helpers/api.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { natter, removeTempDirs, tempDir } from './helpers.js';

// `natter unread`, end to end: bin/natter against a real server started in this process.

let t: TestServer;
before(async () => {
  t = await startTestServer();
});
after(async () => {
  await t.destroy();
  removeTempDirs();
});

test('natter unread lists the conversations with unread messages, mentions first, as targets other commands take', async () => {
  const ada = new HttpApi(t.httpUrl);
  await ada.call('register', { username: 'ada', password: PASSWORD });
  const cy = new HttpApi(t.httpUrl);
  const cyReg = await cy.call('register', { username: 'cy', password: PASSWORD });
  const { server, channels } = await ada.call('servers.create', { name: 'lab' });
  const { channel: ops } = await ada.call('channels.create', { serverId: server.id, name: 'ops' });
  const { invite } = await ada.call('invites.create', { serverId: server.id });
  await cy.call('invites.join', { code: invite.code });
  const general = channels[0]?.id ?? '';
  const send = (params: { conversationId: string } | { to: string }, body: string, nonce: string) =>
    ada.call('messages.send', { ...params, body, nonce });
  await send({ conversationId: ops.id }, 'deploy done', 'u1');
  await send({ to: 'cy' }, 'got a minute?', 'u2');
  await send({ conversationId: general }, 'hello all', 'u3');
  await send({ conversationId: general }, 'cy, look: @cy', 'u4');
  const env = { NATTER_SERVER: t.wsUrl, NATTER_HOME: tempDir(), NATTER_TOKEN: cyReg.token };

  const doc = await natter(['--json', 'unread'], env);
  assert.equal(doc.code, 0, doc.stderr);
  const rows = (JSON.parse(doc.stdout) as { conversations: { label: string; unread: number; mentions: number }[] })
    .conversations;
  assert.deepEqual(
    rows.map((r) => [r.label, r.unread, r.mentions]),
    [
      ['lab/general', 2, 1],
      ['@ada', 1, 0],
      ['lab/ops', 1, 0],
    ],
  );
  const human = await natter(['unread'], env);
  assert.equal(human.code, 0, human.stderr);
  assert.match(human.stdout, /^lab\/general\s+2 unread, 1 mention$/m);
  assert.match(human.stdout, /^@ada\s+1 unread$/m);

  // Read, it is gone from the list.
  await cy.call('read.mark', { conversationId: general, seq: 2 });
  await cy.call('read.mark', { conversationId: ops.id, seq: 1 });
  const left = await natter(['unread'], env);
  assert.match(left.stdout, /^@ada\s+1 unread$/m);
  assert.doesNotMatch(left.stdout, /lab\//);
});
