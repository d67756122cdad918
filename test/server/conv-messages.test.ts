import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, afterEach, before, describe, test } from 'node:test';
import type { NatterClient } from '../../src/client/index.js';
import type {
  EventData,
  EventMessage,
  EventName,
  Message,
  OpName,
  ParamsIn,
  ReadState,
  ResultOf,
} from '../../src/protocol/index.js';
import {
  connectClient,
  HttpApi,
  httpPost,
  PASSWORD,
  rejection,
  settled,
  TRANSPORTS,
  type TransportName,
  uniqueName,
} from '../helpers/api.js';
import { LOOSE_LIMITS, startTestServer, type TestServer } from '../helpers/server.js';
import { DEADLINE_MS, waitFor, waitUntil } from '../helpers/wait.js';

let t: TestServer;
before(async () => {
  t = await startTestServer();
});
after(() => t.destroy());

// ---------------------------------------------------------------------------
// Helpers

type Account = { username: string; token: string; id: string };
type Caller = <N extends OpName>(op: N, params: ParamsIn<N>) => Promise<ResultOf<N>>;

/** Every socket client a test opened; closed after each test. */
const opened: NatterClient[] = [];
afterEach(() => {
  for (const c of opened.splice(0)) c.close();
});

async function newUser(prefix = 'cm', base = t.httpUrl): Promise<Account> {
  const username = uniqueName(prefix);
  const reg = await new HttpApi(base).call('register', { username, password: PASSWORD });
  return { username, token: reg.token, id: reg.user.id };
}

function http(token: string, base = t.httpUrl): HttpApi {
  const api = new HttpApi(base);
  api.token = token;
  return api;
}

/** Calls operations over HTTP as `token`. */
function hc(token: string, base = t.httpUrl): Caller {
  const api = http(token, base);
  return (op, params) => api.call(op, params);
}

function nonce(): string {
  return `n-${randomUUID()}`;
}

/** A live connection that records every event it receives, in order. */
class Recorder {
  readonly events: EventMessage[] = [];
  private waiters: (() => void)[] = [];

  constructor(
    readonly client: NatterClient,
    readonly label: string,
  ) {
    client.on('event', (e) => {
      this.events.push(e);
      const w = this.waiters;
      this.waiters = [];
      for (const fn of w) fn();
    });
  }

  request<N extends OpName>(op: N, params: ParamsIn<N>): Promise<ResultOf<N>> {
    return this.client.request(op, params);
  }

  readonly call: Caller = (op, params) => this.client.request(op, params);

  all<N extends EventName>(name: N, filter: (d: EventData<N>) => boolean = () => true): EventMessage<N>[] {
    return this.events.filter((e): e is EventMessage<N> => e.event === name && filter((e as EventMessage<N>).data));
  }

  /** The first recorded event (past or future) named `name` that matches `filter`. */
  waitFor<N extends EventName>(
    name: N,
    filter: (d: EventData<N>) => boolean = () => true,
    timeoutMs = DEADLINE_MS,
  ): Promise<EventMessage<N>> {
    return waitUntil(
      () => this.all(name, filter)[0],
      (wake) => this.waiters.push(wake),
      {
        what: `a matching "${name}" event at ${this.label}`,
        timeoutMs,
        detail: () => `events so far: ${this.events.map((e) => e.event).join(', ')}`,
      },
    );
  }
}

function urlOf(transport: 'ws' | 'tcp', server = t): string {
  return transport === 'ws' ? server.wsUrl : server.tcpUrl;
}

/** Connects, starts recording, then authenticates. */
async function live(url: string, token: string, label = url): Promise<Recorder> {
  const client = await connectClient(url);
  opened.push(client);
  const rec = new Recorder(client, label);
  await client.request('auth', { token });
  return rec;
}

/** A way to call operations as `token` over `transport`; for sockets, also the sending connection's recorder. */
async function callerFor(transport: TransportName, token: string): Promise<{ call: Caller; rec: Recorder | null }> {
  if (transport === 'http') {
    const api = http(token);
    return { call: (op, params) => api.call(op, params), rec: null };
  }
  const rec = await live(urlOf(transport), token, `sender/${transport}`);
  return { call: (op, params) => rec.request(op, params), rec };
}

/** `owner` creates a server; `members` join it by invite. Returns the server and its `general` channel. */
async function shareServer(owner: Account, members: Account[], base = t.httpUrl) {
  const o = http(owner.token, base);
  const created = await o.call('servers.create', { name: 'Test Server' });
  const general = created.channels.find((c) => c.name === 'general');
  assert.ok(general, 'a new server has a general channel');
  if (members.length > 0) {
    const { invite } = await o.call('invites.create', { serverId: created.server.id });
    for (const m of members) await http(m.token, base).call('invites.join', { code: invite.code });
  }
  return { serverId: created.server.id, channelId: general.id };
}

function send(call: Caller, conversationId: string, body: string, n = nonce()) {
  return call('messages.send', { conversationId, body, nonce: n });
}

function ids(users: { id: string }[]): string[] {
  return users.map((u) => u.id).sort();
}

function summaryOf(list: ResultOf<'conversations.list'>, id: string) {
  const s = list.conversations.find((c) => c.id === id);
  assert.ok(s, `conversation ${id} is listed`);
  return s;
}

const DECIMAL = /^\d+$/;

function readState(r: ReadState): ReadState {
  return { conversationId: r.conversationId, lastReadSeq: r.lastReadSeq, unread: r.unread, mentions: r.mentions };
}

// ---------------------------------------------------------------------------

describe('channel chat', () => {
  for (const transport of TRANSPORTS) {
    test(`two users chat in a channel, sending over ${transport}`, async () => {
      const alice = await newUser('ca');
      const bob = await newUser('cb');
      const { channelId } = await shareServer(alice, [bob]);
      const aliceOther = await live(t.wsUrl, alice.token, 'alice/other');
      const bobLive = await live(t.tcpUrl, bob.token, 'bob/live');
      const aSend = await callerFor(transport, alice.token);
      const bSend = await callerFor(transport, bob.token);

      const n1 = nonce();
      const sentAt = Date.now();
      const r1 = await send(aSend.call, channelId, 'hello bob', n1);
      const answeredAt = Date.now();
      assert.equal(r1.duplicate, false);
      const m1 = r1.message;
      assert.equal(m1.seq, 1);
      assert.equal(m1.conversationId, channelId);
      assert.equal(m1.author.id, alice.id);
      assert.equal(m1.author.username, alice.username);
      assert.equal(m1.body, 'hello bob');
      assert.equal(m1.editedAt, null);
      assert.equal(m1.deletedAt, null);
      assert.equal(m1.nonce, n1);
      assert.deepEqual(m1.mentions, []);
      assert.ok(m1.createdAt >= sentAt && m1.createdAt <= answeredAt, 'createdAt is the epoch-ms time of the send');

      const m2 = (await send(bSend.call, channelId, 'hi alice')).message;
      const m3 = (await send(aSend.call, channelId, 'how are you?')).message;
      assert.deepEqual([m1.seq, m2.seq, m3.seq], [1, 2, 3]);
      assert.equal(m2.author.id, bob.id);

      const watchers = [bobLive, aliceOther, ...(aSend.rec ? [aSend.rec] : []), ...(bSend.rec ? [bSend.rec] : [])];
      for (const rec of watchers) {
        for (const m of [m1, m2, m3]) {
          const ev = await rec.waitFor('message.created', (d) => d.message.id === m.id);
          assert.equal(ev.data.message.body, m.body, rec.label);
          assert.equal(ev.data.message.seq, m.seq, rec.label);
          assert.match(ev.cursor ?? '', DECIMAL, 'message.created is a stream event with a cursor');
        }
        const seqs = rec
          .all('message.created', (d) => d.message.conversationId === channelId)
          .map((e) => e.data.message.seq);
        assert.deepEqual(seqs, [1, 2, 3], `${rec.label} sees each message once, in order`);
      }

      const history = await bSend.call('messages.history', { conversationId: channelId });
      assert.deepEqual(
        history.messages.map((m) => [m.seq, m.id, m.body]),
        [m1, m2, m3].map((m) => [m.seq, m.id, m.body]),
      );
      assert.equal(history.hasMore, false);
    });
  }

  test('a non-member cannot read or write a channel (not_found, never forbidden)', async () => {
    const alice = await newUser('cn');
    const eve = await newUser('ce');
    const { channelId, serverId } = await shareServer(alice, []);
    const m = (await send(hc(alice.token), channelId, 'private')).message;
    const e = http(eve.token);
    for (const p of [
      () => e.call('messages.history', { conversationId: channelId }),
      () => e.call('messages.send', { conversationId: channelId, body: 'intrude', nonce: nonce() }),
      () => e.call('messages.edit', { messageId: m.id, body: 'x' }),
      () => e.call('messages.delete', { messageId: m.id }),
      () => e.call('read.mark', { conversationId: channelId, seq: 1 }),
      () => e.call('typing.start', { conversationId: channelId }),
      () => e.call('members.list', { serverId }),
    ]) {
      assert.equal((await rejection(p())).code, 'not_found');
    }
  });
});

describe('groups', () => {
  test('a group of three: create, add, rename, messages reach everyone, leave; the last leaver deletes it', async () => {
    const alice = await newUser('ga');
    const bob = await newUser('gb');
    const carol = await newUser('gc');
    const dave = await newUser('gd');
    const a1 = await live(t.wsUrl, alice.token, 'alice/1');
    const a2 = await live(t.tcpUrl, alice.token, 'alice/2');
    const b1 = await live(t.tcpUrl, bob.token, 'bob/1');
    const b2 = await live(t.wsUrl, bob.token, 'bob/2');
    const c1 = await live(t.wsUrl, carol.token, 'carol');
    // These two let anyone add them to groups (invitations have tests of their own).
    for (const u of [bob, carol]) await http(u.token).call('settings.update', { groupAdds: 'everyone' });

    const unknown = `nobody${Date.now() % 100000}`;
    const missing = await rejection(a1.request('groups.create', { name: 'Nope', usernames: [bob.username, unknown] }));
    assert.equal(missing.code, 'not_found');
    assert.ok(missing.message.includes(unknown), `the error names the unknown user: ${missing.message}`);

    // The creator's own name and duplicates (case-insensitive) are ignored.
    const { group } = await a1.request('groups.create', {
      name: 'Trio',
      usernames: [bob.username.toUpperCase(), alice.username, bob.username],
    });
    const gid = group.id;
    assert.equal(group.name, 'Trio');
    assert.deepEqual(ids(group.members), [alice.id, bob.id].sort());
    assert.equal(group.lastSeq, 0);
    for (const rec of [a2, b1, b2]) {
      const ev = await rec.waitFor('group.updated', (d) => d.group.id === gid);
      assert.deepEqual(ids(ev.data.group.members), [alice.id, bob.id].sort(), rec.label);
    }

    // Anyone in the group may add.
    const added = await b1.request('groups.add', { groupId: gid, usernames: [carol.username] });
    assert.deepEqual(ids(added.group.members), [alice.id, bob.id, carol.id].sort());
    for (const rec of [a1, a2, b2, c1]) {
      const ev = await rec.waitFor('group.updated', (d) => d.group.id === gid && d.group.members.length === 3);
      assert.deepEqual(ids(ev.data.group.members), [alice.id, bob.id, carol.id].sort(), rec.label);
    }

    // Anyone in the group may rename.
    const renamed = await c1.request('groups.rename', { groupId: gid, name: 'Three of us' });
    assert.equal(renamed.group.name, 'Three of us');
    for (const rec of [a1, a2, b1, b2, c1]) {
      await rec.waitFor('group.updated', (d) => d.group.id === gid && d.group.name === 'Three of us');
    }
    assert.ok((await c1.request('groups.list', {})).groups.some((g) => g.id === gid && g.name === 'Three of us'));

    const m = (await send(c1.call, gid, 'hello group')).message;
    assert.equal(m.seq, 1);
    for (const rec of [a1, a2, b1, b2, c1]) {
      const ev = await rec.waitFor('message.created', (d) => d.message.id === m.id);
      assert.equal(ev.data.message.body, 'hello group');
    }
    const m2 = (await send(a2.call, gid, 'hello carol')).message;
    assert.equal(m2.seq, 2);
    await c1.waitFor('message.created', (d) => d.message.id === m2.id);

    // An outsider sees nothing of it.
    for (const p of [
      () => http(dave.token).call('messages.history', { conversationId: gid }),
      () => http(dave.token).call('messages.send', { conversationId: gid, body: 'let me in', nonce: nonce() }),
      () => http(dave.token).call('groups.rename', { groupId: gid, name: 'Mine' }),
      () => http(dave.token).call('groups.add', { groupId: gid, usernames: [dave.username] }),
      () => http(dave.token).call('messages.delete', { messageId: m.id }),
    ]) {
      assert.equal((await rejection(p())).code, 'not_found');
    }
    // A group member who is not the author cannot delete.
    assert.equal((await rejection(b1.request('messages.delete', { messageId: m.id }))).code, 'forbidden');

    // Bob leaves: his other connection is told; the others get the new member list.
    await b1.request('groups.leave', { groupId: gid });
    await b2.waitFor('group.removed', (d) => d.groupId === gid);
    for (const rec of [a1, c1]) {
      const ev = await rec.waitFor(
        'group.updated',
        (d) => d.group.id === gid && !d.group.members.some((u) => u.id === bob.id),
      );
      assert.deepEqual(ids(ev.data.group.members), [alice.id, carol.id].sort(), rec.label);
    }
    assert.equal((await rejection(b1.request('messages.history', { conversationId: gid }))).code, 'not_found');
    assert.ok(!(await b1.request('groups.list', {})).groups.some((g) => g.id === gid));

    // Messages after bob left do not reach him.
    const m3 = (await send(a1.call, gid, 'bob is gone')).message;
    await c1.waitFor('message.created', (d) => d.message.id === m3.id);
    await settled(b1.client);
    await settled(b2.client);
    assert.equal(b1.all('message.created', (d) => d.message.id === m3.id).length, 0);
    assert.equal(b2.all('message.created', (d) => d.message.id === m3.id).length, 0);

    await a1.request('groups.leave', { groupId: gid });
    await c1.waitFor('group.updated', (d) => d.group.id === gid && d.group.members.length === 1);
    // Carol is still in it and can read it.
    const still = await c1.request('messages.history', { conversationId: gid });
    assert.deepEqual(
      still.messages.map((x) => x.seq),
      [1, 2, 3],
    );

    // The last leaver deletes the group with its messages.
    await c1.request('groups.leave', { groupId: gid });
    for (const who of [alice, bob, carol]) {
      assert.equal(
        (await rejection(http(who.token).call('messages.history', { conversationId: gid }))).code,
        'not_found',
      );
      assert.ok(!(await http(who.token).call('groups.list', {})).groups.some((g) => g.id === gid));
    }
    assert.equal(
      (await rejection(http(carol.token).call('groups.rename', { groupId: gid, name: 'Back' }))).code,
      'not_found',
    );
  });
});

describe('direct messages', () => {
  test('the first message opens the DM: dm.opened to both, then message.created', async () => {
    const alice = await newUser('da');
    const bob = await newUser('db');
    const carol = await newUser('dc');
    const eve = await newUser('de');
    const a1 = await live(t.wsUrl, alice.token, 'alice/1');
    const a2 = await live(t.tcpUrl, alice.token, 'alice/2');
    const b1 = await live(t.tcpUrl, bob.token, 'bob');

    const first = await a1.request('messages.send', { to: bob.username, body: 'hi bob, just us', nonce: nonce() });
    assert.equal(first.duplicate, false);
    const dmId = first.message.conversationId;
    assert.equal(first.message.seq, 1);

    for (const [rec, peer] of [
      [a1, bob],
      [a2, bob],
      [b1, alice],
    ] as const) {
      const opened = await rec.waitFor('dm.opened', (d) => d.conversationId === dmId);
      assert.equal(opened.data.peer.id, peer.id, rec.label);
      assert.equal(opened.data.peer.username, peer.username, rec.label);
      const created = await rec.waitFor('message.created', (d) => d.message.id === first.message.id);
      assert.ok(
        rec.events.indexOf(opened) < rec.events.indexOf(created),
        `${rec.label}: dm.opened comes before the message`,
      );
    }

    // Later sends: by conversation id, or by username again; same conversation, no second dm.opened.
    const second = await b1.request('messages.send', { conversationId: dmId, body: 'hi alice', nonce: nonce() });
    assert.equal(second.message.conversationId, dmId);
    assert.equal(second.message.seq, 2);
    const third = await a2.request('messages.send', { to: bob.username, body: 'third', nonce: nonce() });
    assert.equal(third.message.conversationId, dmId);
    assert.equal(third.message.seq, 3);
    for (const rec of [a1, a2, b1]) {
      await rec.waitFor('message.created', (d) => d.message.id === third.message.id);
      assert.equal(rec.all('dm.opened', (d) => d.conversationId === dmId).length, 1, `${rec.label}: dm.opened once`);
    }

    // A DM with carol, opened later, is listed first.
    const toCarol = await http(alice.token).call('messages.send', {
      to: carol.username,
      body: 'hello carol',
      nonce: nonce(),
    });
    const dms = (await a1.request('dms.list', {})).dms;
    assert.deepEqual(
      dms.map((d) => d.id),
      [toCarol.message.conversationId, dmId],
      'most recent first',
    );
    const [withCarol, withBob] = dms;
    assert.ok(withCarol && withBob);
    assert.equal(withCarol.kind, 'dm');
    assert.equal(withCarol.peer?.id, carol.id);
    assert.equal(withCarol.name, carol.username);
    assert.equal(withCarol.serverId, null);
    assert.equal(withCarol.lastMessage?.body, 'hello carol');
    assert.equal(withBob.peer?.id, bob.id);
    assert.equal(withBob.lastSeq, 3);
    assert.equal(withBob.lastMessage?.id, third.message.id);
    const bobDms = (await b1.request('dms.list', {})).dms;
    assert.deepEqual(
      bobDms.map((d) => [d.id, d.peer?.id]),
      [[dmId, alice.id]],
    );
    assert.ok((await b1.request('conversations.list', {})).conversations.some((c) => c.id === dmId && c.kind === 'dm'));

    // Bad targets.
    const self = await rejection(a1.request('messages.send', { to: alice.username, body: 'me', nonce: nonce() }));
    assert.equal(self.code, 'bad_request');
    const nobody = await rejection(
      a1.request('messages.send', { to: `ghost${Date.now() % 100000}`, body: 'boo', nonce: nonce() }),
    );
    assert.equal(nobody.code, 'not_found');

    // The peer cannot edit or delete my message; an outsider cannot see it at all.
    assert.equal(
      (await rejection(b1.request('messages.edit', { messageId: first.message.id, body: 'hacked' }))).code,
      'forbidden',
    );
    assert.equal((await rejection(b1.request('messages.delete', { messageId: first.message.id }))).code, 'forbidden');
    const e = http(eve.token);
    for (const attempt of [
      () => e.call('messages.history', { conversationId: dmId }),
      () => e.call('messages.send', { conversationId: dmId, body: 'hi', nonce: nonce() }),
      () => e.call('messages.edit', { messageId: first.message.id, body: 'x' }),
      () => e.call('read.mark', { conversationId: dmId, seq: 1 }),
    ]) {
      assert.equal((await rejection(attempt())).code, 'not_found');
    }
    assert.deepEqual((await e.call('dms.list', {})).dms, []);
  });
});

describe('idempotent sends', () => {
  test('case 38: a resend with the same nonce returns the original, even with another body or on another transport', async () => {
    const alice = await newUser('ia');
    const bob = await newUser('ib');
    const { channelId } = await shareServer(alice, [bob]);
    const a1 = await live(t.wsUrl, alice.token, 'alice/ws');
    const bobLive = await live(t.wsUrl, bob.token, 'bob');

    const n = nonce();
    const original = await send(a1.call, channelId, 'the original', n);
    assert.equal(original.duplicate, false);
    const again = await send(a1.call, channelId, 'a different body', n);
    assert.equal(again.duplicate, true);
    assert.equal(again.message.id, original.message.id);
    assert.equal(again.message.seq, original.message.seq);
    assert.equal(again.message.body, 'the original');
    const overHttp = await send(hc(alice.token), channelId, 'retry over http', n);
    assert.equal(overHttp.duplicate, true);
    assert.equal(overHttp.message.id, original.message.id);

    const next = await send(a1.call, channelId, 'next one');
    assert.equal(next.message.seq, original.message.seq + 1, 'the duplicates consumed no sequence number');
    await bobLive.waitFor('message.created', (d) => d.message.id === next.message.id);
    assert.equal(bobLive.all('message.created', (d) => d.message.id === original.message.id).length, 1);
    const history = await a1.request('messages.history', { conversationId: channelId });
    assert.equal(history.messages.filter((m) => m.nonce === n).length, 1);
    assert.equal(history.messages.length, 2);
  });

  test('case 37: the same nonce sent concurrently on two connections of one user creates one message', async () => {
    const alice = await newUser('ic');
    const bob = await newUser('id');
    const { channelId } = await shareServer(alice, [bob]);
    const a1 = await live(t.wsUrl, alice.token, 'alice/ws');
    const a2 = await live(t.tcpUrl, alice.token, 'alice/tcp');
    const bobLive = await live(t.tcpUrl, bob.token, 'bob');

    for (let round = 0; round < 5; round++) {
      const n = nonce();
      const results = await Promise.all([
        a1.request('messages.send', { conversationId: channelId, body: `ws ${round}`, nonce: n }),
        a2.request('messages.send', { conversationId: channelId, body: `tcp ${round}`, nonce: n }),
        http(alice.token).call('messages.send', { conversationId: channelId, body: `http ${round}`, nonce: n }),
      ]);
      const [first, ...rest] = results;
      assert.ok(first);
      for (const r of rest) {
        assert.equal(r.message.id, first.message.id, `round ${round}: one message`);
        assert.equal(r.message.seq, first.message.seq);
        assert.equal(r.message.body, first.message.body);
      }
      assert.equal(results.filter((r) => !r.duplicate).length, 1, `round ${round}: exactly one original`);
      assert.equal(first.message.seq, round + 1, 'no sequence number was consumed by a duplicate');
    }
    const history = await a1.request('messages.history', { conversationId: channelId });
    assert.deepEqual(
      history.messages.map((m) => m.seq),
      [1, 2, 3, 4, 5],
    );
    const last = history.messages.at(-1);
    assert.ok(last);
    await bobLive.waitFor('message.created', (d) => d.message.id === last.id);
    await settled(bobLive.client);
    assert.deepEqual(
      bobLive.all('message.created', (d) => d.message.conversationId === channelId).map((e) => e.data.message.seq),
      [1, 2, 3, 4, 5],
      'one message.created per message',
    );
  });

  test('a DM opened twice with one nonce opens one conversation', async () => {
    const alice = await newUser('ie');
    const bob = await newUser('if');
    const bobLive = await live(t.wsUrl, bob.token, 'bob');
    const n = nonce();
    const [r1, r2] = await Promise.all([
      http(alice.token).call('messages.send', { to: bob.username, body: 'once', nonce: n }),
      http(alice.token).call('messages.send', { to: bob.username, body: 'once', nonce: n }),
    ]);
    assert.equal(r1.message.id, r2.message.id);
    assert.deepEqual([r1.duplicate, r2.duplicate].sort(), [false, true]);
    await bobLive.waitFor('message.created', (d) => d.message.id === r1.message.id);
    await settled(bobLive.client);
    assert.equal(bobLive.all('dm.opened').length, 1);
    assert.equal(bobLive.all('message.created').length, 1);
    assert.equal((await http(bob.token).call('dms.list', {})).dms.length, 1);
  });
});

describe('message bodies', () => {
  test('1 to 4000 characters, not blank, no control characters but newline and tab', async () => {
    const alice = await newUser('ba');
    const { channelId } = await shareServer(alice, []);
    const a = await live(t.tcpUrl, alice.token, 'alice');
    const call = a.call;

    const max = await send(call, channelId, 'x'.repeat(4000));
    assert.equal(max.message.body.length, 4000);
    const emoji = await send(call, channelId, '😀'.repeat(4000));
    assert.equal([...emoji.message.body].length, 4000, 'the limit counts characters, not UTF-16 units');
    const multi = await send(call, channelId, 'line one\n\tindented line two');
    assert.equal(multi.message.body, 'line one\n\tindented line two');

    for (const body of ['x'.repeat(4001), '', '   ', ' \n\t\n ', '\u001b[2J', 'bell\u0007', 'nul\u0000', 'cr\rlf']) {
      const err = await rejection(send(call, channelId, body));
      assert.equal(err.code, 'bad_request', JSON.stringify(body.slice(0, 20)));
      assert.equal(err.field, 'params.body', JSON.stringify(body.slice(0, 20)));
    }
    const overHttp = await httpPost(
      t.httpUrl,
      'messages.send',
      { conversationId: channelId, body: '\u001b[2J', nonce: nonce() },
      alice.token,
    );
    assert.equal(overHttp.status, 400);
    assert.equal(overHttp.body.error?.code, 'bad_request');
    // An edit follows the same rules.
    assert.equal(
      (await rejection(call('messages.edit', { messageId: multi.message.id, body: '\u001b[31mred' }))).code,
      'bad_request',
    );
    assert.equal(
      (await rejection(call('messages.edit', { messageId: multi.message.id, body: 'y'.repeat(4001) }))).code,
      'bad_request',
    );

    const history = await call('messages.history', { conversationId: channelId });
    assert.deepEqual(
      history.messages.map((m) => m.seq),
      [1, 2, 3],
      'refused messages were not stored',
    );
    assert.equal(history.messages[2]?.body, 'line one\n\tindented line two');
  });
});

describe('edits and deletes', () => {
  test('author edits; author, owner or admin deletes; others are refused; everyone sees the result', async () => {
    const alice = await newUser('ea'); // owner
    const bob = await newUser('eb'); // author
    const carol = await newUser('ec'); // member, later admin
    const dave = await newUser('ed'); // outsider
    const { serverId, channelId } = await shareServer(alice, [bob, carol]);
    const a = await live(t.wsUrl, alice.token, 'alice');
    const b = await live(t.tcpUrl, bob.token, 'bob');
    const c = await live(t.wsUrl, carol.token, 'carol');
    const bcall = b.call;

    const [m1, m2, m3, m4] = [
      (await send(bcall, channelId, 'first draft')).message,
      (await send(bcall, channelId, 'oops, wrong channel')).message,
      (await send(bcall, channelId, 'spam')).message,
      (await send(bcall, channelId, 'regret')).message,
    ];

    assert.equal(
      (await rejection(c.request('messages.edit', { messageId: m1.id, body: 'not mine' }))).code,
      'forbidden',
    );
    assert.equal((await rejection(c.request('messages.delete', { messageId: m1.id }))).code, 'forbidden');
    assert.equal(
      (await rejection(a.request('messages.edit', { messageId: m1.id, body: 'owner edit' }))).code,
      'forbidden',
      'not even the owner may edit another person’s message',
    );
    assert.equal(
      (await rejection(http(dave.token).call('messages.edit', { messageId: m1.id, body: 'x' }))).code,
      'not_found',
    );
    assert.equal((await rejection(http(dave.token).call('messages.delete', { messageId: m1.id }))).code, 'not_found');
    assert.equal(
      (await rejection(b.request('messages.edit', { messageId: 'no-such-message-id', body: 'x' }))).code,
      'not_found',
    );

    const edited = (await b.request('messages.edit', { messageId: m1.id, body: 'final version' })).message;
    assert.equal(edited.id, m1.id);
    assert.equal(edited.seq, m1.seq);
    assert.equal(edited.body, 'final version');
    assert.equal(typeof edited.editedAt, 'number');
    assert.equal(edited.deletedAt, null);
    for (const rec of [a, b, c]) {
      const ev = await rec.waitFor('message.updated', (d) => d.message.id === m1.id);
      assert.equal(ev.data.message.body, 'final version', rec.label);
      assert.equal(ev.data.message.editedAt, edited.editedAt, rec.label);
    }

    // The owner deletes bob's message.
    const tomb = (await a.request('messages.delete', { messageId: m2.id })).message;
    assertTombstone(tomb, m2);
    for (const rec of [a, b, c]) {
      const ev = await rec.waitFor('message.deleted', (d) => d.message.id === m2.id);
      assertTombstone(ev.data.message, m2);
    }
    assert.equal(
      (await rejection(b.request('messages.edit', { messageId: m2.id, body: 'resurrect' }))).code,
      'not_found',
      'a deleted message cannot be edited',
    );

    // An admin may delete too.
    await a.request('members.role', { serverId, userId: carol.id, role: 'admin' });
    assertTombstone((await c.request('messages.delete', { messageId: m3.id })).message, m3);
    // And the author.
    assertTombstone((await b.request('messages.delete', { messageId: m4.id })).message, m4);
    for (const rec of [a, b, c]) {
      await rec.waitFor('message.deleted', (d) => d.message.id === m3.id);
      await rec.waitFor('message.deleted', (d) => d.message.id === m4.id);
    }
    // An admin still may not edit someone else's message.
    assert.equal((await rejection(c.request('messages.edit', { messageId: m1.id, body: 'admin' }))).code, 'forbidden');

    const history = (await c.request('messages.history', { conversationId: channelId })).messages;
    assert.deepEqual(
      history.map((m) => m.seq),
      [1, 2, 3, 4],
      'tombstones stay in place',
    );
    const [h1, h2, h3, h4] = history;
    assert.ok(h1 && h2 && h3 && h4);
    assert.equal(h1.body, 'final version');
    assert.equal(h1.editedAt, edited.editedAt);
    assertTombstone(h2, m2);
    assertTombstone(h3, m3);
    assertTombstone(h4, m4);
  });
});

function assertTombstone(m: Message, original: Message): void {
  assert.equal(m.id, original.id);
  assert.equal(m.seq, original.seq);
  assert.equal(m.body, '');
  assert.equal(typeof m.deletedAt, 'number');
  assert.deepEqual(m.mentions, []);
}

describe('history', () => {
  let channelId: string;
  let reader: HttpApi;
  const sent: Message[] = [];

  before(async () => {
    const alice = await newUser('ha');
    ({ channelId } = await shareServer(alice, []));
    reader = http(alice.token);
    const c = await connectClient(t.wsUrl);
    await c.request('auth', { token: alice.token });
    for (let i = 1; i <= 250; i++) {
      sent.push(
        (await c.request('messages.send', { conversationId: channelId, body: `seed ${i}`, nonce: nonce() })).message,
      );
    }
    c.close();
  });

  const seqs = (r: ResultOf<'messages.history'>) => r.messages.map((m) => m.seq);
  const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

  test('the seeded messages have seq 1..250', () => {
    assert.deepEqual(
      sent.map((m) => m.seq),
      range(1, 250),
    );
  });

  test('without before/after: the latest page, ascending, default 50', async () => {
    const page = await reader.call('messages.history', { conversationId: channelId });
    assert.deepEqual(seqs(page), range(201, 250));
    assert.equal(page.hasMore, true);
    for (const m of page.messages) assert.equal(m.body, `seed ${m.seq}`);
    const ten = await reader.call('messages.history', { conversationId: channelId, limit: 10 });
    assert.deepEqual(seqs(ten), range(241, 250));
    assert.equal(ten.hasMore, true);
  });

  test('before and after, with hasMore in that direction', async () => {
    const b = await reader.call('messages.history', { conversationId: channelId, before: 51, limit: 10 });
    assert.deepEqual(seqs(b), range(41, 50));
    assert.equal(b.hasMore, true);
    const oldest = await reader.call('messages.history', { conversationId: channelId, before: 11, limit: 10 });
    assert.deepEqual(seqs(oldest), range(1, 10));
    assert.equal(oldest.hasMore, false);
    const none = await reader.call('messages.history', { conversationId: channelId, before: 1 });
    assert.deepEqual(seqs(none), []);
    assert.equal(none.hasMore, false);

    const a = await reader.call('messages.history', { conversationId: channelId, after: 0, limit: 3 });
    assert.deepEqual(seqs(a), [1, 2, 3]);
    assert.equal(a.hasMore, true);
    const tail = await reader.call('messages.history', { conversationId: channelId, after: 200, limit: 100 });
    assert.deepEqual(seqs(tail), range(201, 250));
    assert.equal(tail.hasMore, false);
    const exact = await reader.call('messages.history', { conversationId: channelId, after: 240, limit: 10 });
    assert.deepEqual(seqs(exact), range(241, 250));
    assert.equal(exact.hasMore, false);
    const past = await reader.call('messages.history', { conversationId: channelId, after: 250 });
    assert.deepEqual(seqs(past), []);
    assert.equal(past.hasMore, false);
  });

  test('pages hold at most 100', async () => {
    const page = await reader.call('messages.history', { conversationId: channelId, limit: 100 });
    assert.deepEqual(seqs(page), range(151, 250));
    for (const limit of [0, 101, 1000]) {
      const err = await rejection(reader.call('messages.history', { conversationId: channelId, limit }));
      assert.equal(err.code, 'bad_request', `limit ${limit}`);
    }
  });

  test('paging back to the start and forward to the end: no gaps, no duplicates', async () => {
    for (const limit of [100, 50, 33]) {
      const back: Message[] = [];
      let beforeSeq: number | undefined;
      let more = true;
      let pages = 0;
      while (more) {
        const page = await reader.call('messages.history', {
          conversationId: channelId,
          limit,
          ...(beforeSeq === undefined ? {} : { before: beforeSeq }),
        });
        pages++;
        assert.ok(pages < 20, 'paging terminates');
        const s = seqs(page);
        assert.deepEqual(
          s,
          [...s].sort((x, y) => x - y),
          'each page is ascending',
        );
        back.unshift(...page.messages);
        more = page.hasMore;
        beforeSeq = page.messages[0]?.seq;
        if (beforeSeq === undefined) break;
      }
      assert.equal(pages, Math.ceil(250 / limit), `limit ${limit}: page count`);
      assert.deepEqual(
        back.map((m) => m.seq),
        range(1, 250),
        `limit ${limit}: every seq once`,
      );
      assert.deepEqual(
        back.map((m) => m.id),
        sent.map((m) => m.id),
      );

      const forward: Message[] = [];
      let afterSeq = 0;
      for (;;) {
        const page = await reader.call('messages.history', { conversationId: channelId, limit, after: afterSeq });
        forward.push(...page.messages);
        const last = page.messages.at(-1);
        if (!page.hasMore || !last) break;
        afterSeq = last.seq;
      }
      assert.deepEqual(
        forward.map((m) => m.id),
        sent.map((m) => m.id),
        `limit ${limit}: forward paging`,
      );
    }
  });
});

describe('mentions', () => {
  test('@name (any case) of a reader is recorded and counted', async () => {
    const alice = await newUser('ma');
    const bob = await newUser('mb');
    const carol = await newUser('mc');
    const dave = await newUser('md'); // not in the server
    const { channelId } = await shareServer(alice, [bob, carol]);
    const b = await live(t.wsUrl, bob.token, 'bob');

    const body = `hey @${bob.username.toUpperCase()} and @${carol.username}, not @${dave.username} nor @nosuchuser${Date.now() % 1000}`;
    const m = (await http(alice.token).call('messages.send', { conversationId: channelId, body, nonce: nonce() }))
      .message;
    assert.deepEqual([...m.mentions].sort(), [bob.id, carol.id].sort());
    const ev = await b.waitFor('message.created', (d) => d.message.id === m.id);
    assert.deepEqual([...ev.data.message.mentions].sort(), [bob.id, carol.id].sort());
    const plain = (await send(hc(alice.token), channelId, 'no mention here')).message;
    assert.deepEqual(plain.mentions, []);
    const emailish = (await send(hc(alice.token), channelId, `mail x@${bob.username}`)).message;
    assert.deepEqual(emailish.mentions, [], 'an @ inside a word is not a mention');
    const linked = (await send(hc(alice.token), channelId, `see https://x.com/@${bob.username}/status`)).message;
    assert.deepEqual(linked.mentions, [], 'an @ inside an address is not a mention');
    // Addressed IRC style at the start of the message (what Tab completion writes): a mention.
    const addressed = (await send(hc(alice.token), channelId, `${carol.username}: the build is green`)).message;
    assert.deepEqual(addressed.mentions, [carol.id]);
    const later = (await send(hc(alice.token), channelId, `ask ${carol.username}: later`)).message;
    assert.deepEqual(later.mentions, [], 'a name with a colon later in the text is not an address');

    let s = summaryOf(await b.request('conversations.list', {}), channelId);
    assert.equal(s.unread, 6);
    assert.equal(s.mentions, 1);
    const marked = await b.request('read.mark', { conversationId: channelId, seq: m.seq });
    assert.equal(marked.unread, 5);
    assert.equal(marked.mentions, 0);
    s = summaryOf(await b.request('conversations.list', {}), channelId);
    assert.equal(s.mentions, 0);

    // In a DM.
    const dm = (
      await http(alice.token).call('messages.send', {
        to: bob.username,
        body: `@${bob.username} and @${dave.username}`,
        nonce: nonce(),
      })
    ).message;
    assert.deepEqual(dm.mentions, [bob.id], 'only readers of the conversation are mentioned');
    s = summaryOf(await b.request('conversations.list', {}), dm.conversationId);
    assert.equal(s.mentions, 1);
    assert.equal(s.unread, 1);
  });
});

describe('read state', () => {
  test('read.mark never moves back, clamps, reaches my other connections; unread skips deleted messages', async () => {
    const alice = await newUser('ra');
    const bob = await newUser('rb');
    const { channelId } = await shareServer(alice, [bob]);
    const a1 = await live(t.wsUrl, alice.token, 'alice/1');
    const a2 = await live(t.tcpUrl, alice.token, 'alice/2');
    const b = await live(t.wsUrl, bob.token, 'bob');
    const bcall = b.call;

    let s = summaryOf(await a1.request('conversations.list', {}), channelId);
    assert.deepEqual(
      [s.kind, s.lastSeq, s.lastReadSeq, s.unread, s.mentions, s.lastMessage],
      ['channel', 0, 0, 0, 0, null],
    );

    await send(bcall, channelId, 'one');
    const two = (await send(bcall, channelId, 'two')).message;
    await send(bcall, channelId, 'three');
    await b.request('messages.delete', { messageId: two.id });
    s = summaryOf(await a1.request('conversations.list', {}), channelId);
    assert.equal(s.lastSeq, 3);
    assert.equal(s.lastReadSeq, 0);
    assert.equal(s.unread, 2, 'the deleted message is not unread');
    assert.equal(s.mentions, 0);
    assert.equal(s.lastMessage?.seq, 3);

    await send(bcall, channelId, `ping @${alice.username}`);
    s = summaryOf(await a1.request('conversations.list', {}), channelId);
    assert.equal(s.unread, 3);
    assert.equal(s.mentions, 1);

    const r1 = await a1.request('read.mark', { conversationId: channelId, seq: 1 });
    assert.deepEqual(readState(r1), { conversationId: channelId, lastReadSeq: 1, unread: 2, mentions: 1 });
    const ev1 = await a2.waitFor('read.updated', (d) => d.conversationId === channelId && d.lastReadSeq === 1);
    assert.deepEqual(readState(ev1.data), readState(r1));
    assert.match(ev1.cursor ?? '', DECIMAL);

    const back = await a1.request('read.mark', { conversationId: channelId, seq: 0 });
    assert.equal(back.lastReadSeq, 1, 'never backwards');
    assert.equal(back.unread, 2);

    const clamped = await a2.request('read.mark', { conversationId: channelId, seq: 999 });
    assert.deepEqual(readState(clamped), { conversationId: channelId, lastReadSeq: 4, unread: 0, mentions: 0 });
    await a1.waitFor('read.updated', (d) => d.conversationId === channelId && d.lastReadSeq === 4);
    s = summaryOf(await a1.request('conversations.list', {}), channelId);
    assert.deepEqual([s.lastReadSeq, s.unread, s.mentions], [4, 0, 0]);

    // My read state is mine: bob never gets alice's read.updated.
    await settled(b.client);
    assert.equal(b.all('read.updated', (d) => d.conversationId === channelId && d.lastReadSeq === 1).length, 0);

    // Bob's new message is unread for alice; alice's reply moves her own read position.
    await send(bcall, channelId, 'five');
    s = summaryOf(await a1.request('conversations.list', {}), channelId);
    assert.deepEqual([s.lastReadSeq, s.unread], [4, 1]);
    const mine = (await send(hc(alice.token), channelId, 'six, by alice')).message;
    assert.equal(mine.seq, 6);
    s = summaryOf(await a1.request('conversations.list', {}), channelId);
    assert.deepEqual([s.lastSeq, s.lastReadSeq, s.unread], [6, 6, 0]);
    const sb = summaryOf(await b.request('conversations.list', {}), channelId);
    assert.deepEqual(
      [sb.lastSeq, sb.lastReadSeq, sb.unread, sb.mentions],
      [6, 5, 1, 0],
      'only alice’s message is unread for bob',
    );

    // My own messages never count as unread.
    const own = await b.request('read.mark', { conversationId: channelId, seq: 0 });
    assert.equal(own.lastReadSeq, 5);
    assert.equal(own.unread, 1);
  });

  test('conversations.list covers channels, groups and DMs', async () => {
    const alice = await newUser('rl');
    const bob = await newUser('rm');
    const { channelId, serverId } = await shareServer(alice, [bob]);
    const extra = await http(alice.token).call('channels.create', { serverId, name: 'Dev Talk' });
    assert.equal(extra.channel.name, 'dev-talk');
    const { group } = await http(bob.token).call('groups.create', { name: 'pair', usernames: [alice.username] });
    await http(alice.token).call('groups.accept', { groupId: group.id });
    const dm = (await http(bob.token).call('messages.send', { to: alice.username, body: 'psst', nonce: nonce() }))
      .message;
    await http(bob.token).call('messages.send', { conversationId: group.id, body: 'in the group', nonce: nonce() });
    const list = (await http(alice.token).call('conversations.list', {})).conversations;
    const byId = new Map(list.map((c) => [c.id, c]));
    assert.equal(byId.get(channelId)?.kind, 'channel');
    assert.equal(byId.get(channelId)?.serverId, serverId);
    assert.equal(byId.get(extra.channel.id)?.name, 'dev-talk');
    assert.equal(byId.get(group.id)?.kind, 'group');
    assert.equal(byId.get(group.id)?.unread, 1);
    assert.equal(byId.get(dm.conversationId)?.kind, 'dm');
    assert.equal(byId.get(dm.conversationId)?.peer?.id, bob.id);
    assert.equal(byId.get(dm.conversationId)?.unread, 1);
    assert.equal(byId.get(dm.conversationId)?.lastMessage?.body, 'psst');
  });
});

describe('typing', () => {
  test('other readers get typing; my own connections do not; repeats within 3 s are not re-sent', async () => {
    const alice = await newUser('ta');
    const bob = await newUser('tb');
    const eve = await newUser('te');
    const { channelId } = await shareServer(alice, [bob]);
    const a1 = await live(t.wsUrl, alice.token, 'alice/1');
    const a2 = await live(t.tcpUrl, alice.token, 'alice/2');
    const b = await live(t.tcpUrl, bob.token, 'bob');
    const e = await live(t.wsUrl, eve.token, 'eve');

    const startedAt = Date.now();
    await a1.request('typing.start', { conversationId: channelId });
    const ev = await b.waitFor('typing', (d) => d.conversationId === channelId);
    // The server noted alice typing no later than this.
    const firstNoticeBy = Date.now();
    assert.equal(ev.data.user.id, alice.id);
    assert.equal(ev.data.user.username, alice.username);
    assert.ok(ev.data.expiresAt > startedAt, 'expiresAt is after the notice was sent');
    assert.ok(ev.data.expiresAt < firstNoticeBy + 60_000, 'expiresAt is epoch ms, soon');
    assert.equal(ev.cursor, undefined, 'typing is ephemeral: no cursor');

    await a2.request('typing.start', { conversationId: channelId });
    await a1.request('typing.start', { conversationId: channelId });
    // Whatever the repeats sent went out before they were answered.
    for (const rec of [b, a1, a2, e]) await settled(rec.client);
    assert.equal(b.all('typing').length, 1, 'repeats within 3 s are not re-sent');
    assert.equal(a1.all('typing').length + a2.all('typing').length, 0, 'the typist’s own connections get nothing');
    assert.equal(e.all('typing').length, 0, 'a non-reader gets nothing');

    // Bob typing reaches alice's connections.
    await b.request('typing.start', { conversationId: channelId });
    await a1.waitFor('typing', (d) => d.user.id === bob.id);
    await a2.waitFor('typing', (d) => d.user.id === bob.id);

    // After the quiet period (3 s after the first notice, by the server's clock, which is this process's), alice
    // typing is sent again.
    await waitFor(() => Date.now() > firstNoticeBy + 3000, { what: 'the 3 s repeat window to pass', intervalMs: 50 });
    await a1.request('typing.start', { conversationId: channelId });
    await b.waitFor('typing', () => b.all('typing').length >= 2);

    assert.equal((await rejection(e.request('typing.start', { conversationId: channelId }))).code, 'not_found');
    // Never stored: history is empty.
    assert.deepEqual((await a1.request('messages.history', { conversationId: channelId })).messages, []);
  });
});

describe('presence and profiles', () => {
  test('presence online/offline reaches a co-member; members.list shows who is online', async () => {
    const alice = await newUser('pa');
    const bob = await newUser('pb');
    const eve = await newUser('pe');
    const { serverId } = await shareServer(alice, [bob]);
    const a = await live(t.wsUrl, alice.token, 'alice');
    const e = await live(t.wsUrl, eve.token, 'eve');

    const onlineOf = async (userId: string) =>
      (await a.request('members.list', { serverId })).members.find((m) => m.user.id === userId)?.online;
    assert.equal(await onlineOf(bob.id), false);
    assert.equal(await onlineOf(alice.id), true);

    const b1 = await live(t.tcpUrl, bob.token, 'bob/1');
    const on = await a.waitFor('presence', (d) => d.userId === bob.id);
    assert.equal(on.data.online, true);
    assert.equal(await onlineOf(bob.id), true);
    assert.ok((await a.request('members.online', { serverId })).users.some((u) => u.id === bob.id));

    // A second connection is not news; closing one of two is not either.
    const b2 = await live(t.wsUrl, bob.token, 'bob/2');
    b1.client.close();
    await waitFor(() => t.server.services.hub.userConnections(bob.id).size === 1, {
      what: "the server to see bob's first connection close",
    });
    // A presence event for either change would be ahead of this reply.
    await settled(a.client);
    assert.equal(a.all('presence', (d) => d.userId === bob.id).length, 1);
    assert.equal(await onlineOf(bob.id), true);

    b2.client.close();
    const off = await a.waitFor('presence', (d) => d.userId === bob.id && !d.online);
    assert.equal(off.data.online, false);
    assert.equal(await onlineOf(bob.id), false);
    assert.ok(!(await a.request('members.online', { serverId })).users.some((u) => u.id === bob.id));
    await settled(e.client);
    assert.equal(e.all('presence', (d) => d.userId === bob.id).length, 0, 'strangers get no presence');
  });

  test('user.updated reaches co-members (server, group, DM) and nobody else', async () => {
    const alice = await newUser('ua');
    const bob = await newUser('ub');
    const carol = await newUser('uc');
    const dan = await newUser('ud');
    const eve = await newUser('ue');
    await shareServer(alice, [bob]);
    const { group } = await http(carol.token).call('groups.create', { name: 'g', usernames: [bob.username] });
    await http(bob.token).call('groups.accept', { groupId: group.id });
    await http(dan.token).call('messages.send', { to: bob.username, body: 'hey', nonce: nonce() });
    const recs = [
      await live(t.wsUrl, alice.token, 'alice (server)'),
      await live(t.tcpUrl, carol.token, 'carol (group)'),
      await live(t.wsUrl, dan.token, 'dan (dm)'),
    ];
    const e = await live(t.tcpUrl, eve.token, 'eve');
    await http(bob.token).call('profile.update', { displayName: 'Bob the Builder' });
    for (const rec of recs) {
      const ev = await rec.waitFor('user.updated', (d) => d.user.id === bob.id);
      assert.equal(ev.data.user.displayName, 'Bob the Builder', rec.label);
      assert.match(ev.cursor ?? '', DECIMAL);
    }
    const renamed = uniqueName('ubx');
    await http(bob.token).call('username.change', { username: renamed });
    for (const rec of recs)
      await rec.waitFor('user.updated', (d) => d.user.id === bob.id && d.user.username === renamed);
    await settled(e.client);
    assert.equal(e.all('user.updated', (d) => d.user.id === bob.id).length, 0);
  });
});

describe('send rate limit', () => {
  let rt: TestServer;
  before(async () => {
    rt = await startTestServer({ limits: { ...LOOSE_LIMITS, sendPerUser: { capacity: 3, refillMs: 60_000 } } });
  });
  after(() => rt.destroy());

  test('the 4th send is rate_limited; over HTTP 429 with Retry-After; other users are unaffected', async () => {
    const alice = await newUser('la', rt.httpUrl);
    const bob = await newUser('lb', rt.httpUrl);
    const { channelId } = await shareServer(alice, [bob], rt.httpUrl);
    const a = await live(rt.wsUrl, alice.token, 'alice');
    for (let i = 0; i < 3; i++) await send(a.call, channelId, `ok ${i}`);
    const err = await rejection(send(a.call, channelId, 'one too many'));
    assert.equal(err.code, 'rate_limited');
    assert.ok((err.retryAfterMs ?? 0) > 0, `retryAfterMs ${err.retryAfterMs}`);
    assert.ok((err.retryAfterMs ?? 0) <= 60_000);

    const r = await httpPost(
      rt.httpUrl,
      'messages.send',
      { conversationId: channelId, body: 'over http', nonce: nonce() },
      alice.token,
    );
    assert.equal(r.status, 429);
    assert.equal(r.body.error?.code, 'rate_limited');
    assert.ok((r.body.error?.retryAfterMs ?? 0) > 0);
    assert.ok(Number(r.headers.get('retry-after')) >= 1);

    // Bob has his own budget.
    await send(hc(bob.token, rt.httpUrl), channelId, 'bob is fine');
    const history = await a.request('messages.history', { conversationId: channelId });
    assert.deepEqual(
      history.messages.map((m) => m.body),
      ['ok 0', 'ok 1', 'ok 2', 'bob is fine'],
    );
  });

  test('over HTTP alone: 3 sends, then 429', async () => {
    const carol = await newUser('lc', rt.httpUrl);
    const { channelId } = await shareServer(carol, [], rt.httpUrl);
    for (let i = 0; i < 3; i++) {
      const ok = await httpPost(
        rt.httpUrl,
        'messages.send',
        { conversationId: channelId, body: `m${i}`, nonce: nonce() },
        carol.token,
      );
      assert.equal(ok.status, 200);
    }
    const r = await httpPost(
      rt.httpUrl,
      'messages.send',
      { conversationId: channelId, body: 'm3', nonce: nonce() },
      carol.token,
    );
    assert.equal(r.status, 429);
    assert.ok(Number(r.headers.get('retry-after')) >= 1);
  });
});
