import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import bcrypt from 'bcryptjs';
import type { NatterClient } from '../../src/client/index.js';
import { type Message, type OpName, type ParamsIn, type ResultOf, usernameKey } from '../../src/protocol/index.js';
import {
  connectAs,
  connectClient,
  HttpApi,
  PASSWORD,
  rejection,
  TRANSPORTS,
  type TransportName,
  uniqueName,
} from '../helpers/api.js';
import { databaseAt } from '../helpers/old-database.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * Two things a message says about itself besides its text: its `kind` (`text`,
 * or `action`: IRC's `/me`, shown as `* alice waves`) and `bot` (sent over a
 * bot token). Both are stored, and every way a message reaches a client
 * carries them: the reply, `message.created` and `message.updated` on every
 * transport, history, search hits and conversation summaries. The test
 * clients check every reply and event against the protocol's schemas.
 */

let t: TestServer;
before(async () => {
  t = await startTestServer();
});
after(() => t.destroy());

/** Socket clients a test opened; closed after each test. */
const opened: NatterClient[] = [];
afterEach(() => {
  for (const c of opened.splice(0)) c.close();
});

type Account = { username: string; token: string; id: string };
type Caller = <N extends OpName>(op: N, params: ParamsIn<N>) => Promise<ResultOf<N>>;

async function newUser(prefix = 'mk'): Promise<Account> {
  const username = uniqueName(prefix);
  const reg = await new HttpApi(t.httpUrl).call('register', { username, password: PASSWORD });
  return { username, token: reg.token, id: reg.user.id };
}

/** Calls operations as `token` over HTTP. */
function hc(token: string): Caller {
  const api = new HttpApi(t.httpUrl);
  api.token = token;
  return (op, params) => api.call(op, params);
}

/** Calls operations as `token` over `transport`. */
async function callerFor(transport: TransportName, token: string): Promise<Caller> {
  if (transport === 'http') return hc(token);
  const client = await connectAs(transport === 'ws' ? t.wsUrl : t.tcpUrl, token);
  opened.push(client);
  return (op, params) => client.request(op, params);
}

/** A live connection of `token` over WebSocket and one over TCP. */
async function listeners(token: string): Promise<NatterClient[]> {
  const clients = [await connectAs(t.wsUrl, token), await connectAs(t.tcpUrl, token)];
  opened.push(...clients);
  return clients;
}

/** `owner` creates a server and `members` join it; returns its general channel. */
async function shareServer(owner: Account, members: Account[]): Promise<string> {
  const o = hc(owner.token);
  const created = await o('servers.create', { name: 'Kinds' });
  const general = created.channels[0];
  assert.ok(general, 'a new server has a general channel');
  const { invite } = await o('invites.create', { serverId: created.server.id });
  for (const m of members) await hc(m.token)('invites.join', { code: invite.code });
  return general.id;
}

function nonce(): string {
  return `n-${randomUUID()}`;
}

/** What these tests look at in a message. */
function shape(m: Message) {
  return { body: m.body, kind: m.kind, bot: m.bot };
}

describe('actions', () => {
  for (const transport of TRANSPORTS) {
    test(`an action sent over ${transport} is one in the reply, the events over ws and tcp, history, search and the summary; an edit keeps it`, async () => {
      const alice = await newUser();
      const bob = await newUser();
      const channelId = await shareServer(alice, [bob]);
      const bobs = await listeners(bob.token);
      const call = await callerFor(transport, alice.token);

      const said = await call('messages.send', { conversationId: channelId, body: 'morning all', nonce: nonce() });
      assert.deepEqual(shape(said.message), { body: 'morning all', kind: 'text', bot: false }, 'text by default');
      const n = nonce();
      const created = bobs.map((c) => c.nextEvent('message.created', (d) => d.message.nonce === n));
      const sent = await call('messages.send', {
        conversationId: channelId,
        body: `waves at @${bob.username}`,
        nonce: n,
        kind: 'action',
      });
      assert.equal(sent.duplicate, false);
      assert.deepEqual(shape(sent.message), { body: `waves at @${bob.username}`, kind: 'action', bot: false });
      assert.deepEqual(sent.message.mentions, [bob.id], 'an action mentions as text does');
      for (const ev of await Promise.all(created)) assert.deepEqual(shape(ev.data.message), shape(sent.message));

      const bobCalls = hc(bob.token);
      const { messages } = await bobCalls('messages.history', { conversationId: channelId });
      assert.deepEqual(messages.map(shape), [shape(said.message), shape(sent.message)]);
      const { hits } = await bobCalls('messages.search', { query: 'waves' });
      assert.deepEqual(
        hits.map((h) => shape(h.message)),
        [shape(sent.message)],
      );
      const { conversations } = await bobCalls('conversations.list', {});
      const summary = conversations.find((c) => c.id === channelId);
      assert.deepEqual(summary?.lastMessage && shape(summary.lastMessage), shape(sent.message));

      const updated = bobs.map((c) => c.nextEvent('message.updated', (d) => d.message.id === sent.message.id));
      const edited = await call('messages.edit', { messageId: sent.message.id, body: 'waves again' });
      assert.deepEqual(shape(edited.message), { body: 'waves again', kind: 'action', bot: false });
      for (const ev of await Promise.all(updated)) assert.deepEqual(shape(ev.data.message), shape(edited.message));
      const again = await bobCalls('messages.history', { conversationId: channelId });
      assert.deepEqual(again.messages.map(shape).at(-1), { body: 'waves again', kind: 'action', bot: false });
    });
  }

  test('a first message to a username can be an action: it opens the DM as one', async () => {
    const alice = await newUser();
    const bob = await newUser();
    const [bobWs] = await listeners(bob.token);
    assert.ok(bobWs);
    const created = bobWs.nextEvent('message.created');
    const { message } = await hc(alice.token)('messages.send', {
      to: bob.username,
      body: 'knocks',
      nonce: nonce(),
      kind: 'action',
    });
    assert.equal(message.kind, 'action');
    assert.deepEqual(shape((await created).data.message), { body: 'knocks', kind: 'action', bot: false });
    const { dms } = await hc(bob.token)('dms.list', {});
    assert.equal(dms[0]?.lastMessage?.kind, 'action');
  });

  test('a retry with a used nonce returns the original, whatever kind it names', async () => {
    const alice = await newUser();
    const channelId = await shareServer(alice, []);
    const n = nonce();
    const call = hc(alice.token);
    const first = await call('messages.send', { conversationId: channelId, body: 'shrugs', nonce: n, kind: 'action' });
    const retry = await call('messages.send', { conversationId: channelId, body: 'shrugs', nonce: n, kind: 'text' });
    assert.equal(retry.duplicate, true);
    assert.deepEqual(retry.message, first.message);
  });

  for (const transport of TRANSPORTS) {
    test(`over ${transport}, a kind other than text or action is refused on params.kind, and nothing is stored`, async () => {
      const alice = await newUser();
      const channelId = await shareServer(alice, []);
      const call = await callerFor(transport, alice.token);
      const params = { conversationId: channelId, body: 'shouts', nonce: nonce(), kind: 'shout' };
      const err = await rejection(call('messages.send', params as unknown as ParamsIn<'messages.send'>));
      assert.equal(err.code, 'bad_request');
      assert.equal(err.field, 'params.kind');
      assert.equal(err.message, 'message kind must be "text" or "action"');
      const { messages } = await call('messages.history', { conversationId: channelId });
      assert.deepEqual(messages, []);
    });
  }
});

describe('messages sent with a bot token', () => {
  for (const transport of TRANSPORTS) {
    test(`over ${transport}, a bot token's messages are marked bot everywhere; the same account's login session's are not, and an edit keeps the mark`, async () => {
      const alice = await newUser();
      const bob = await newUser();
      const channelId = await shareServer(alice, [bob]);
      const { token: botToken } = await hc(alice.token)('tokens.create', { name: 'deploy-notifier' });
      const bobs = await listeners(bob.token);
      const asBot = await callerFor(transport, botToken);
      const asPerson = await callerFor(transport, alice.token);

      const person = await asPerson('messages.send', { conversationId: channelId, body: 'deploying', nonce: nonce() });
      assert.deepEqual(shape(person.message), { body: 'deploying', kind: 'text', bot: false });
      const n = nonce();
      const created = bobs.map((c) => c.nextEvent('message.created', (d) => d.message.nonce === n));
      const bot = await asBot('messages.send', { conversationId: channelId, body: 'deploy finished', nonce: n });
      assert.deepEqual(shape(bot.message), { body: 'deploy finished', kind: 'text', bot: true });
      assert.equal(bot.message.author.id, alice.id, 'the author is the account the token belongs to');
      for (const ev of await Promise.all(created)) assert.deepEqual(shape(ev.data.message), shape(bot.message));
      const act = await asBot('messages.send', {
        conversationId: channelId,
        body: 'beeps',
        nonce: nonce(),
        kind: 'action',
      });
      assert.deepEqual(shape(act.message), { body: 'beeps', kind: 'action', bot: true });

      const bobCalls = hc(bob.token);
      const { messages } = await bobCalls('messages.history', { conversationId: channelId });
      assert.deepEqual(messages.map(shape), [person.message, bot.message, act.message].map(shape));
      const { hits } = await bobCalls('messages.search', { query: 'deploy' });
      assert.deepEqual(
        hits.map((h) => shape(h.message)),
        [shape(bot.message), shape(person.message)],
      );
      const { conversations } = await bobCalls('conversations.list', {});
      const summary = conversations.find((c) => c.id === channelId);
      assert.deepEqual(summary?.lastMessage && shape(summary.lastMessage), shape(act.message));

      // The person fixes the bot's message: it was still written by a program.
      const updated = bobs.map((c) => c.nextEvent('message.updated', (d) => d.message.id === bot.message.id));
      const edited = await asPerson('messages.edit', { messageId: bot.message.id, body: 'deploy finished (v2)' });
      assert.equal(edited.message.bot, true);
      for (const ev of await Promise.all(updated)) assert.equal(ev.data.message.bot, true);
    });
  }
});

describe('migration 0008', () => {
  test('messages and stored events from before it read as text and not from a bot; the terminal app’s old "/me waves" become actions', async () => {
    const root = mkdtempSync(join(tmpdir(), 'natter-migrate-'));
    try {
      // A database as the previous release left it: migrations 0000-0007, rows written in that schema.
      const { sqlite, dataDir } = databaseAt(root, 7);
      const alice = { id: 'aliceOldId', username: uniqueName('old') };
      sqlite
        .prepare(
          `INSERT INTO users (id, username, username_key, password_hash, created_at, updated_at) VALUES (?, ?, ?, ?, 0, 0)`,
        )
        .run(alice.id, alice.username, usernameKey(alice.username), bcrypt.hashSync(PASSWORD, 4));
      const old = {
        id: 'old1',
        conversationId: 'chanOld',
        seq: 1,
        author: { id: alice.id, username: alice.username, displayName: null },
        body: '/me waves',
        createdAt: 1000,
        editedAt: null,
        deletedAt: null,
        nonce: 'o1',
        mentions: [],
      };
      sqlite.exec(`
        INSERT INTO servers (id, name, owner_id, created_at, updated_at) VALUES ('srvOld', 'Old Town', 'aliceOldId', 0, 0);
        INSERT INTO members (server_id, user_id, role, joined_at) VALUES ('srvOld', 'aliceOldId', 'owner', 0);
        INSERT INTO conversations (id, kind, server_id, name, last_seq, created_at) VALUES ('chanOld', 'channel', 'srvOld', 'general', 1, 0);
        INSERT INTO messages (id, conversation_id, seq, author_id, body, created_at, nonce) VALUES ('old1', 'chanOld', 1, 'aliceOldId', '/me waves', 1000, 'o1');
        INSERT INTO messages (id, conversation_id, seq, author_id, body, created_at, nonce) VALUES ('old2', 'chanOld', 2, 'aliceOldId', 'plain words', 1001, 'o2');
        UPDATE conversations SET last_seq = 2 WHERE id = 'chanOld';
      `);
      const plain = { ...old, id: 'old2', seq: 2, body: 'plain words', createdAt: 1001, nonce: 'o2' };
      // The event the previous release stored for it, as it wrote it.
      sqlite
        .prepare('INSERT INTO events (payload, created_at, scope) VALUES (?, ?, ?)')
        .run(JSON.stringify({ event: 'message.created', data: { message: old } }), Date.now(), 's:srvOld');
      sqlite
        .prepare('INSERT INTO events (payload, created_at, scope) VALUES (?, ?, ?)')
        .run(JSON.stringify({ event: 'message.created', data: { message: plain } }), Date.now(), 's:srvOld');
      sqlite.close();
      const action = { ...old, body: 'waves', kind: 'action', bot: false };

      const s = await startTestServer({}, dataDir);
      try {
        const login = await new HttpApi(s.httpUrl).call('login', { username: alice.username, password: PASSWORD });
        const api = new HttpApi(s.httpUrl);
        api.token = login.token;
        const { messages } = await api.call('messages.history', { conversationId: 'chanOld' });
        assert.deepEqual(messages, [action, { ...plain, kind: 'text', bot: false }]);
        // The search index follows: the action is found by its words.
        const found = await api.call('messages.search', { query: 'waves' });
        assert.deepEqual(
          found.hits.map((h) => [h.message.body, h.message.kind]),
          [['waves', 'action']],
        );
        for (const url of [s.wsUrl, s.tcpUrl]) {
          const c = await connectClient(url);
          opened.push(c);
          const replayed = c.nextEvent('message.created');
          const second = c.nextEvent('message.created', (d) => d.message.id === 'old2');
          await c.request('auth', { token: login.token, cursor: '0' });
          const ev = await replayed;
          assert.deepEqual(ev.data.message, action, `replayed over ${url}`);
          assert.deepEqual((await second).data.message, { ...plain, kind: 'text', bot: false });
        }
      } finally {
        await s.stop();
      }
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
