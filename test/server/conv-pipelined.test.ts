import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Message } from '../../src/protocol/index.js';
import { HttpApi, PASSWORD, uniqueName } from '../helpers/api.js';
import { RawTcp } from '../helpers/raw.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * Writes of one connection sent together, in one TCP segment, so that they
 * reach the store in one write batch, with other writes between them: each
 * send sees what the writes queued before it did (a leave, a retried nonce,
 * a mention, the day's write budget), a send that fails gives its number
 * back, and the numbers that commit have no holes. On PostgreSQL the sends of
 * a batch are read ahead together; these are the cases where reading ahead
 * could get it wrong.
 */

let t: TestServer;
before(async () => {
  t = await startTestServer();
});
after(() => t.destroy());

type Reply = { id: string; result?: { message?: Message; duplicate?: boolean }; error?: { code: string } };

/** A user with a token, registered over HTTP. */
async function register(
  prefix: string,
  base = t.httpUrl,
): Promise<{ api: HttpApi; id: string; username: string; token: string }> {
  const api = new HttpApi(base);
  const reg = await api.call('register', { username: uniqueName(prefix), password: PASSWORD });
  api.token = reg.token;
  return { api, id: reg.user.id, username: reg.user.username, token: reg.token };
}

/** A raw TCP connection authenticated with `token`. */
async function tcpAs(token: string, url = t.tcpUrl): Promise<RawTcp> {
  const tcp = await RawTcp.open(url);
  tcp.write(`${JSON.stringify({ id: 'auth', op: 'auth', params: { token } })}\n`);
  assert.ok(((await tcp.reply('auth')) as Reply).result, 'authenticated');
  return tcp;
}

/** Writes `requests` in one segment and returns their replies, in order. */
async function together(tcp: RawTcp, requests: { op: string; params: unknown }[]): Promise<Reply[]> {
  const base = `r${Math.random().toString(36).slice(2)}`;
  tcp.write(requests.map((r, i) => `${JSON.stringify({ id: `${base}-${i}`, ...r })}\n`).join(''));
  const replies: Reply[] = [];
  for (let i = 0; i < requests.length; i++) replies.push((await tcp.reply(`${base}-${i}`)) as Reply);
  return replies;
}

function send(conversationId: string, body: string, nonce: string) {
  return { op: 'messages.send', params: { conversationId, body, nonce } };
}

/** What each reply was: the message's number, or the error code. */
function outcomes(replies: Reply[]): (number | string)[] {
  return replies.map((r) => r.result?.message?.seq ?? r.error?.code ?? 'no answer');
}

async function history(api: HttpApi, conversationId: string): Promise<Message[]> {
  return (await api.call('messages.history', { conversationId, limit: 100 })).messages;
}

describe('writes sent together', () => {
  test('a send after leaving the server, in the same segment, is refused; the one before it is stored', async () => {
    const owner = await register('pl-owner');
    const { server, channels } = await owner.api.call('servers.create', { name: 'pipelined leave' });
    const channel = channels[0]?.id ?? '';
    const { code } = (await owner.api.call('invites.create', { serverId: server.id })).invite;
    const member = await register('pl-member');
    await member.api.call('invites.join', { code });
    const tcp = await tcpAs(member.token);
    const replies = await together(tcp, [
      send(channel, 'before leaving', 'pl-1'),
      { op: 'servers.leave', params: { serverId: server.id } },
      send(channel, 'after leaving', 'pl-2'),
    ]);
    assert.equal(replies[0]?.result?.message?.seq, 1);
    assert.ok(replies[1]?.result, 'left');
    assert.equal(replies[2]?.error?.code, 'not_found', 'no longer a member: the channel is not found');
    assert.deepEqual(
      (await history(owner.api, channel)).map((m) => m.body),
      ['before leaving'],
      'only the send before the leave is stored',
    );
    tcp.close();
  });

  test('a send retried with its nonce in the same segment is answered with the original, stored once', async () => {
    const owner = await register('pl-nonce');
    const { channels } = await owner.api.call('servers.create', { name: 'pipelined nonce' });
    const channel = channels[0]?.id ?? '';
    const tcp = await tcpAs(owner.token);
    const replies = await together(tcp, [
      send(channel, 'first', 'pn-1'),
      send(channel, 'first', 'pn-1'),
      send(channel, 'second', 'pn-2'),
      send(channel, 'second', 'pn-2'),
    ]);
    assert.deepEqual(outcomes(replies), [1, 1, 2, 2]);
    assert.deepEqual(
      replies.map((r) => r.result?.duplicate),
      [false, true, false, true],
    );
    assert.equal(replies[1]?.result?.message?.id, replies[0]?.result?.message?.id, 'the retry got the original');
    assert.deepEqual(
      (await history(owner.api, channel)).map((m) => [m.seq, m.body]),
      [
        [1, 'first'],
        [2, 'second'],
      ],
    );
    tcp.close();
  });

  test('sends that fail among sends that succeed give their numbers back: the stored ones have no holes', async () => {
    const owner = await register('pl-holes');
    const { channels } = await owner.api.call('servers.create', { name: 'pipelined holes' });
    const channel = channels[0]?.id ?? '';
    const other = await register('pl-other');
    const { channels: theirs } = await other.api.call('servers.create', { name: 'not yours' });
    const foreign = theirs[0]?.id ?? '';
    const tcp = await tcpAs(owner.token);
    const replies = await together(tcp, [
      send(channel, 'one', 'ph-1'),
      send(foreign, 'not my server', 'ph-2'),
      send('no-such-conversation', 'nowhere', 'ph-3'),
      send(channel, 'two', 'ph-4'),
      send(foreign, 'still not', 'ph-5'),
      send(channel, 'three', 'ph-6'),
    ]);
    assert.deepEqual(outcomes(replies), [1, 'not_found', 'not_found', 2, 'not_found', 3]);
    assert.deepEqual(
      (await history(owner.api, channel)).map((m) => [m.seq, m.body]),
      [
        [1, 'one'],
        [2, 'two'],
        [3, 'three'],
      ],
    );
    assert.deepEqual(await history(other.api, foreign), [], "nothing reached the other server's channel");
    tcp.close();
  });

  test('mentions among plain sends are recorded for the sends that make them, and every send is stored in order', async () => {
    const owner = await register('pl-mention');
    const { server, channels } = await owner.api.call('servers.create', { name: 'pipelined mentions' });
    const channel = channels[0]?.id ?? '';
    const { code } = (await owner.api.call('invites.create', { serverId: server.id })).invite;
    const bob = await register('pl-bob');
    await bob.api.call('invites.join', { code });
    const bobName = bob.username;
    const outsiderName = (await register('pl-outsider')).username;
    const tcp = await tcpAs(owner.token);
    const replies = await together(tcp, [
      send(channel, 'plain one', 'pm-1'),
      send(channel, `hey @${bobName}`, 'pm-2'),
      send(channel, 'plain two', 'pm-3'),
      send(channel, `@${outsiderName} cannot read this`, 'pm-4'),
      send(channel, `again @${bobName} and @${bobName}`, 'pm-5'),
      send(channel, 'plain three', 'pm-6'),
    ]);
    assert.deepEqual(outcomes(replies), [1, 2, 3, 4, 5, 6]);
    assert.deepEqual(
      replies.map((r) => r.result?.message?.mentions),
      [[], [bob.id], [], [], [bob.id], []],
      'bob is mentioned where named; the outsider cannot read the channel, so is not',
    );
    const unread = await bob.api.call('conversations.list', {});
    const here = unread.conversations.find((c) => c.id === channel);
    assert.equal(here?.mentions, 2, "bob's two mentions count");
    assert.deepEqual(
      (await history(owner.api, channel)).map((m) => m.seq),
      [1, 2, 3, 4, 5, 6],
    );
    tcp.close();
  });

  test('the daily write budget counts each send of a segment: the sends past it are refused and store nothing', async () => {
    const s = await startTestServer({ quotas: { writeBytesPerDay: 3_000 } });
    try {
      const owner = await register('pl-budget', s.httpUrl);
      const { channels } = await owner.api.call('servers.create', { name: 'pipelined budget' });
      const channel = channels[0]?.id ?? '';
      const tcp = await tcpAs(owner.token, s.tcpUrl);
      const body = 'x'.repeat(300);
      const replies = await together(
        tcp,
        Array.from({ length: 9 }, (_, i) => send(channel, body, `pb-${i}`)),
      );
      const stored = replies.filter((r) => r.result).length;
      assert.ok(stored >= 1 && stored < replies.length, `some sends fit the budget, not all: ${outcomes(replies)}`);
      assert.deepEqual(
        outcomes(replies),
        [
          ...Array.from({ length: stored }, (_, i) => i + 1),
          ...Array.from({ length: replies.length - stored }, () => 'limit_reached'),
        ],
        'the sends within the budget, then none',
      );
      assert.equal((await history(owner.api, channel)).length, stored, 'a refused send stored nothing');
      tcp.close();
    } finally {
      await s.destroy();
    }
  });
});
