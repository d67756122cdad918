import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, afterEach, before, describe, test } from 'node:test';
import type { NatterClient } from '../../src/client/index.js';
import {
  type ErrorBody,
  events as EVENTS,
  type EventData,
  type EventName,
  type OpName,
  type ParamsIn,
  type ResultOf,
} from '../../src/protocol/index.js';
import { connectAs, connectClient, HttpApi, PASSWORD, uniqueName } from '../helpers/api.js';
import { RawTcp, RawWs } from '../helpers/raw.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { DEADLINE_MS, deadline } from '../helpers/wait.js';

let t: TestServer;
before(async () => {
  t = await startTestServer();
});
after(() => t.destroy());

// ---------------------------------------------------------------------------
// Helpers

type Account = { username: string; token: string; id: string };
type Caller = <N extends OpName>(op: N, params: ParamsIn<N>) => Promise<ResultOf<N>>;

/** One message as it arrived on the wire: an event or a reply. */
type Wire = {
  id?: unknown;
  event?: string;
  data?: unknown;
  cursor?: string;
  result?: unknown;
  error?: ErrorBody;
};
type StreamEvent = Wire & { event: EventName; cursor: string };

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const fn of cleanups.splice(0)) fn();
});

async function newUser(prefix = 'rs', base = t.httpUrl): Promise<Account> {
  const username = uniqueName(prefix);
  const reg = await new HttpApi(base).call('register', { username, password: PASSWORD });
  assert.match(reg.cursor, /^\d+$/, 'register replies with the head cursor');
  return { username, token: reg.token, id: reg.user.id };
}

function hc(token: string, base = t.httpUrl): Caller {
  const api = new HttpApi(base);
  api.token = token;
  return (op, params) => api.call(op, params);
}

/** A socket client for the sending side. */
async function sender(url: string, token: string): Promise<NatterClient> {
  const c = await connectClient(url);
  cleanups.push(() => c.close());
  await c.request('auth', { token });
  return c;
}

function nonce(): string {
  return `n-${randomUUID()}`;
}

async function shareServer(owner: Account, members: Account[], base = t.httpUrl) {
  const o = hc(owner.token, base);
  const created = await o('servers.create', { name: 'Resume Test' });
  const general = created.channels.find((c) => c.name === 'general');
  assert.ok(general);
  if (members.length > 0) {
    const { invite } = await o('invites.create', { serverId: created.server.id });
    for (const m of members) await hc(m.token, base)('invites.join', { code: invite.code });
  }
  return { serverId: created.server.id, channelId: general.id };
}

function isStream(m: Wire): m is StreamEvent {
  return typeof m.event === 'string' && Object.hasOwn(EVENTS, m.event) && EVENTS[m.event as EventName].stream;
}

function dataOf<N extends EventName>(m: Wire, _name: N): EventData<N> {
  return m.data as EventData<N>;
}

/**
 * A raw WebSocket or TCP connection that keeps every message (events and
 * replies) in arrival order, so tests can check what came before a reply.
 */
class RawConn {
  private nextId = 1;
  private constructor(
    private readonly ws: RawWs | null,
    private readonly tcp: RawTcp | null,
    readonly transport: 'ws' | 'tcp',
  ) {}

  static async open(server: TestServer, transport: 'ws' | 'tcp'): Promise<RawConn> {
    const conn =
      transport === 'ws'
        ? new RawConn(await RawWs.open(server.wsUrl), null, 'ws')
        : new RawConn(null, await RawTcp.open(server.tcpUrl), 'tcp');
    cleanups.push(() => conn.close());
    return conn;
  }

  get messages(): Wire[] {
    return (this.ws?.messages ?? this.tcp?.messages ?? []) as Wire[];
  }

  /** Sends a request; resolves with its reply and the reply's index in {@link messages}. */
  async request(op: string, params: unknown): Promise<{ reply: Wire; index: number }> {
    const id = `q${this.nextId++}`;
    const text = JSON.stringify({ id, op, params });
    if (this.ws) this.ws.send(text);
    else this.tcp?.write(`${text}\n`);
    const reply = (await (this.ws ?? this.tcp)?.reply(id)) as Wire;
    return { reply, index: this.messages.indexOf(reply) };
  }

  waitFor(pred: (m: Wire) => boolean, timeoutMs = DEADLINE_MS): Promise<Wire> {
    const impl = this.ws ?? this.tcp;
    assert.ok(impl);
    return impl.waitFor((m) => pred(m as Wire), timeoutMs) as Promise<Wire>;
  }

  /** Drops the connection abruptly. */
  close(): void {
    this.ws?.close();
    this.tcp?.close();
  }
}

type Resumed = {
  conn: RawConn;
  reply: Wire;
  /** Stream events that arrived before caught_up. */
  replayed: StreamEvent[];
  caughtUp: EventData<'caught_up'>;
};

/**
 * Opens a connection and authenticates with `cursor`; checks the shape of the
 * replay (stream events, then caught_up, then the reply).
 */
async function resume(server: TestServer, transport: 'ws' | 'tcp', token: string, cursor: string): Promise<Resumed> {
  const conn = await RawConn.open(server, transport);
  const { reply, index } = await conn.request('auth', { token, cursor });
  assert.equal(reply.error, undefined, `auth with cursor ${cursor} failed: ${JSON.stringify(reply.error)}`);
  const before = conn.messages.slice(0, index);
  const cuIndex = before.findIndex((m) => m.event === 'caught_up');
  assert.ok(cuIndex >= 0, 'caught_up comes before the auth reply');
  assert.equal(
    before.slice(cuIndex + 1).filter(isStream).length,
    0,
    'no stream event between caught_up and the auth reply',
  );
  const caughtUp = dataOf(before[cuIndex] as Wire, 'caught_up');
  const replayed = before.slice(0, cuIndex).filter(isStream);
  assertIncreasing(
    replayed.map((e) => e.cursor),
    cursor,
  );
  const result = reply.result as ResultOf<'auth'>;
  assert.equal(result.cursor, caughtUp.cursor, 'the auth reply carries the same head as caught_up');
  const last = replayed.at(-1);
  if (last) assert.ok(BigInt(caughtUp.cursor) >= BigInt(last.cursor), 'caught_up.cursor is at or past the last event');
  return { conn, reply, replayed, caughtUp };
}

/** Asserts every cursor is a decimal string, strictly increasing, and after `after`. */
function assertIncreasing(cursors: string[], after: string): void {
  let prev = BigInt(after);
  for (const c of cursors) {
    assert.match(c, /^\d+$/, `cursor ${c} is a decimal string`);
    assert.ok(BigInt(c) > prev, `cursor ${c} comes after ${prev}`);
    prev = BigInt(c);
  }
}

/** The highest cursor among stream events in `msgs`, or `from` when there is none. */
function lastCursor(msgs: Wire[], from: string): string {
  let c = BigInt(from);
  for (const m of msgs) if (isStream(m) && BigInt(m.cursor) > c) c = BigInt(m.cursor);
  return c.toString();
}

/** Authenticates a fresh raw connection (no cursor) and returns it with the head cursor. */
async function connectFresh(server: TestServer, transport: 'ws' | 'tcp', token: string) {
  const conn = await RawConn.open(server, transport);
  const { reply } = await conn.request('auth', { token });
  const result = reply.result as ResultOf<'auth'> | undefined;
  assert.ok(result, `auth failed: ${JSON.stringify(reply.error)}`);
  assert.match(result.cursor, /^\d+$/, 'the auth reply carries the head cursor');
  return { conn, cursor: result.cursor };
}

function createdIds(events: Wire[], conversationId: string): string[] {
  return events
    .filter((e) => e.event === 'message.created')
    .map((e) => dataOf(e, 'message.created').message)
    .filter((m) => m.conversationId === conversationId)
    .map((m) => m.id);
}

// ---------------------------------------------------------------------------

describe('resume after a disconnect', () => {
  for (const transport of ['ws', 'tcp'] as const) {
    test(`case 39: over ${transport}: exactly the missed events, in order, then caught_up, then the reply`, async () => {
      const alice = await newUser('ra');
      const bob = await newUser('rb');
      const carol = await newUser('rc');
      const { channelId } = await shareServer(alice, [bob]);
      const bobConn = await sender(t.wsUrl, bob.token);

      // Alice is online and records every cursor.
      const { conn: first, cursor: head } = await connectFresh(t, transport, alice.token);
      const live1 = (
        await bobConn.request('messages.send', { conversationId: channelId, body: 'live 1', nonce: nonce() })
      ).message;
      const live2 = (
        await bobConn.request('messages.send', { conversationId: channelId, body: 'live 2', nonce: nonce() })
      ).message;
      await first.waitFor((m) => m.event === 'message.created' && dataOf(m, 'message.created').message.id === live2.id);
      const liveStream = first.messages.filter(isStream);
      for (const m of first.messages) {
        if (typeof m.event === 'string' && Object.hasOwn(EVENTS, m.event) && EVENTS[m.event as EventName].stream) {
          assert.match(m.cursor ?? '', /^\d+$/, `live stream event ${m.event} carries a cursor`);
        }
      }
      assertIncreasing(
        liveStream.map((e) => e.cursor),
        head,
      );
      assert.deepEqual(createdIds(liveStream, channelId), [live1.id, live2.id]);
      const cursor = lastCursor(first.messages, head);
      first.close();

      // While she is away: 30 messages, 3 edits, 2 deletes; and noise she must not see.
      const sent = [];
      for (let i = 1; i <= 30; i++) {
        sent.push(
          (await bobConn.request('messages.send', { conversationId: channelId, body: `missed ${i}`, nonce: nonce() }))
            .message,
        );
        if (i === 10) await bobConn.request('messages.send', { to: carol.username, body: 'private', nonce: nonce() });
      }
      const expected: [string, string][] = sent.map((m) => ['message.created', m.id]);
      for (const i of [4, 9, 14]) {
        const m = sent[i];
        assert.ok(m);
        await bobConn.request('messages.edit', { messageId: m.id, body: `edited ${i}` });
        expected.push(['message.updated', m.id]);
      }
      for (const i of [19, 24]) {
        const m = sent[i];
        assert.ok(m);
        await bobConn.request('messages.delete', { messageId: m.id });
        expected.push(['message.deleted', m.id]);
      }

      const r = await resume(t, transport, alice.token, cursor);
      assert.deepEqual(
        r.replayed.map((e) => [e.event, (e.data as { message?: { id: string } }).message?.id]),
        expected,
        'exactly the missed stream events, in commit order',
      );
      assert.equal(r.caughtUp.replayed, 35);
      assert.equal(r.caughtUp.limited, false);
      const updated = r.replayed.find((e) => e.event === 'message.updated');
      assert.equal(dataOf(updated ?? {}, 'message.updated').message.body, 'edited 4');
      const deleted = r.replayed.find((e) => e.event === 'message.deleted');
      assert.equal(dataOf(deleted ?? {}, 'message.deleted').message.body, '');

      // Compare with history: every message after what she had, none twice, none missing.
      const history = await hc(alice.token)('messages.history', {
        conversationId: channelId,
        after: live2.seq,
        limit: 100,
      });
      assert.deepEqual(
        createdIds(r.replayed, channelId),
        history.messages.map((m) => m.id),
      );

      // Afterwards events arrive live, with later cursors.
      const more = (
        await bobConn.request('messages.send', { conversationId: channelId, body: 'back live', nonce: nonce() })
      ).message;
      const ev = await r.conn.waitFor(
        (m) => m.event === 'message.created' && dataOf(m, 'message.created').message.id === more.id,
      );
      assert.ok(BigInt(ev.cursor ?? '0') > BigInt(r.caughtUp.cursor));
      // The session is usable.
      const who = await r.conn.request('whoami', {});
      assert.equal((who.reply.result as ResultOf<'whoami'>).user.id, alice.id);
    });
  }

  test('resuming with the head replays nothing', async () => {
    const alice = await newUser('rh');
    const { conn, cursor } = await connectFresh(t, 'ws', alice.token);
    conn.close();
    const r = await resume(t, 'tcp', alice.token, cursor);
    assert.deepEqual(r.replayed, []);
    assert.equal(r.caughtUp.replayed, 0);
    assert.equal(r.caughtUp.limited, false);
  });

  test('case 39: dropping the connection mid-stream, 6 times: every acknowledged message arrives exactly once', async () => {
    const alice = await newUser('rd');
    const bob = await newUser('re');
    const { channelId } = await shareServer(alice, [bob]);
    const bobConn = await sender(t.tcpUrl, bob.token);

    // Alice is online before the first message.
    const fresh = await connectFresh(t, 'ws', alice.token);
    const acked: { id: string; seq: number }[] = [];
    let running = true;
    const loop = (async () => {
      let i = 0;
      const overdue = deadline('the sends to be stopped', 4 * DEADLINE_MS);
      while (running) {
        overdue();
        const n = `drop-${i}-${randomUUID()}`;
        const { message } = await bobConn.request('messages.send', {
          conversationId: channelId,
          body: `stream ${i}`,
          nonce: n,
        });
        acked.push({ id: message.id, seq: message.seq });
        i++;
        // Let the connections being dropped and resumed have a turn now and then.
        if (i % 5 === 0) await new Promise((r) => setImmediate(r));
      }
    })();
    /** Messages of the channel that reached `conn` live (after its replay, if any). */
    const liveOn = (conn: RawConn, replayed: Wire[] = []) =>
      createdIds(conn.messages.filter(isStream), channelId).length - createdIds(replayed, channelId).length;

    let cursor = fresh.cursor;
    const received: string[] = [];
    const take = (msgs: Wire[]) => {
      const stream = msgs.filter(isStream);
      assertIncreasing(
        stream.map((e) => e.cursor),
        cursor,
      );
      received.push(...createdIds(stream, channelId));
      cursor = lastCursor(stream, cursor);
    };
    // Each connection is dropped while messages are flowing to it: after a few (3 to 5) arrived live.
    await fresh.conn.waitFor(() => liveOn(fresh.conn) >= 3);
    fresh.conn.close();
    take(fresh.conn.messages);

    const rounds = 6;
    for (let round = 0; round < rounds; round++) {
      const r = await resume(t, round % 2 === 0 ? 'tcp' : 'ws', alice.token, cursor);
      assert.equal(r.caughtUp.limited, false);
      assert.equal(r.caughtUp.replayed, r.replayed.length, `round ${round}: caught_up counts the replay`);
      await r.conn.waitFor(() => liveOn(r.conn, r.replayed) >= 3 + (round % 3));
      r.conn.close();
      take(r.conn.messages);
    }
    running = false;
    await loop;
    assert.ok(acked.length >= 21, `the sender kept sending (${acked.length} messages)`);

    const final = await resume(t, 'ws', alice.token, cursor);
    take(final.conn.messages);

    const counts = new Map<string, number>();
    for (const id of received) counts.set(id, (counts.get(id) ?? 0) + 1);
    const dupes = [...counts].filter(([, n]) => n > 1);
    assert.deepEqual(dupes, [], 'no message delivered twice');
    const missing = acked.filter((m) => !counts.has(m.id));
    assert.deepEqual(missing, [], 'no acknowledged message missing');
    assert.equal(received.length, acked.length);
    assert.deepEqual(
      received,
      acked.map((m) => m.id),
      'received in seq order',
    );
  });
});

describe('resume while messages keep coming', () => {
  test('events that commit while a resume is read come after the auth reply: none missed, none twice, 24 times', async () => {
    const alice = await newUser('rw');
    const bob = await newUser('rx');
    const { channelId } = await shareServer(alice, [bob]);
    const bobConn = await sender(t.tcpUrl, bob.token);
    const fresh = await connectFresh(t, 'tcp', alice.token);
    fresh.conn.close();
    // A long replay (400 events, 1 MB) keeps each resume reading while new sends commit.
    const long = 'word '.repeat(500);
    for (let i = 0; i < 400; i += 50) {
      await Promise.all(
        Array.from({ length: 50 }, (_, j) =>
          bobConn.request('messages.send', { conversationId: channelId, body: `${i + j} ${long}`, nonce: nonce() }),
        ),
      );
    }
    // One send after another: each commits in a batch of its own, so commits come often and some
    // land while a resume reads its replay (its events are then held and must follow the reply).
    let running = true;
    let sent = 400;
    const sendAll = async () => {
      const overdue = deadline('the sends to be stopped', 4 * DEADLINE_MS);
      while (running) {
        overdue();
        const n = sent++;
        await bobConn.request('messages.send', { conversationId: channelId, body: `flow ${n}`, nonce: nonce() });
      }
    };
    const sending = sendAll();
    try {
      for (let round = 0; round < 24; round++) {
        // resume() checks the order: the replay, caught_up, the reply, and no stream event in between.
        const r = await resume(t, round % 2 === 0 ? 'ws' : 'tcp', alice.token, fresh.cursor);
        const seen = r.replayed.length;
        // Then, live, at least a few more sends.
        await r.conn.waitFor(() => r.conn.messages.filter(isStream).length >= seen + 3);
        r.conn.close();
        const stream = r.conn.messages.filter(isStream);
        assertIncreasing(
          stream.map((e) => e.cursor),
          fresh.cursor,
        );
        const seqs = stream
          .filter((e) => e.event === 'message.created')
          .map((e) => dataOf(e, 'message.created').message.seq);
        assert.deepEqual(
          seqs,
          Array.from({ length: seqs.length }, (_, k) => k + 1),
          `round ${round}: every message from the first on, once each, in order`,
        );
      }
    } finally {
      running = false;
      await sending;
    }
  });
});

describe('resume across a restart', () => {
  test('zero loss, zero duplicates, and seqs continue after the restart', async () => {
    const own = await startTestServer();
    let again: TestServer | null = null;
    try {
      const alice = await newUser('ta', own.httpUrl);
      const bob = await newUser('tb', own.httpUrl);
      const { channelId } = await shareServer(alice, [bob], own.httpUrl);
      const bobSend = hc(bob.token, own.httpUrl);

      const { conn, cursor: head } = await connectFresh(own, 'ws', alice.token);
      const seen = [];
      for (let i = 1; i <= 5; i++) {
        seen.push(
          (await bobSend('messages.send', { conversationId: channelId, body: `before ${i}`, nonce: nonce() })).message,
        );
      }
      const lastSeen = seen.at(-1);
      assert.ok(lastSeen);
      await conn.waitFor(
        (m) => m.event === 'message.created' && dataOf(m, 'message.created').message.id === lastSeen.id,
      );
      const cursor = lastCursor(conn.messages, head);
      conn.close();

      const missedBefore = [];
      for (let i = 1; i <= 10; i++) {
        missedBefore.push(
          (await bobSend('messages.send', { conversationId: channelId, body: `missed ${i}`, nonce: nonce() })).message,
        );
      }
      await own.stop();
      again = await startTestServer({}, own.dataDir);
      const bobAgain = hc(bob.token, again.httpUrl);
      const missedAfter = [];
      for (let i = 1; i <= 10; i++) {
        missedAfter.push(
          (await bobAgain('messages.send', { conversationId: channelId, body: `after ${i}`, nonce: nonce() })).message,
        );
      }
      assert.deepEqual(
        [...seen, ...missedBefore, ...missedAfter].map((m) => m.seq),
        Array.from({ length: 25 }, (_, i) => i + 1),
        'seqs continue after the restart',
      );

      const r = await resume(again, 'tcp', alice.token, cursor);
      assert.deepEqual(
        createdIds(r.replayed, channelId),
        [...missedBefore, ...missedAfter].map((m) => m.id),
      );
      assert.equal(r.replayed.length, 20);
      assert.equal(r.caughtUp.replayed, 20);
      assert.equal(r.caughtUp.limited, false);

      // A cursor taken after the restart replays nothing more.
      const r2 = await resume(again, 'ws', alice.token, r.caughtUp.cursor);
      assert.equal(r2.replayed.length, 0);
      assert.equal(r2.caughtUp.replayed, 0);
    } finally {
      if (again) await again.destroy();
      else await own.destroy();
    }
  });
});

describe('gap too large', () => {
  let small: TestServer;
  before(async () => {
    small = await startTestServer({ replayCap: 20 });
  });
  after(() => small.destroy());

  test('case 40: more than replayCap missed: nothing replayed, caught_up limited; exactly replayCap still replays', async () => {
    const alice = await newUser('ga', small.httpUrl);
    const bob = await newUser('gb', small.httpUrl);
    const { channelId } = await shareServer(alice, [bob], small.httpUrl);
    const bobSend = hc(bob.token, small.httpUrl);
    const sendN = async (n: number) => {
      const out = [];
      for (let i = 0; i < n; i++) {
        out.push(
          (await bobSend('messages.send', { conversationId: channelId, body: `m${i}`, nonce: nonce() })).message,
        );
      }
      return out;
    };

    // 30 missed events: limited.
    const { conn, cursor } = await connectFresh(small, 'ws', alice.token);
    conn.close();
    await sendN(30);
    const r = await resume(small, 'ws', alice.token, cursor);
    assert.equal(r.caughtUp.limited, true);
    assert.equal(r.caughtUp.replayed, 0);
    assert.deepEqual(r.replayed, [], 'no events are replayed when the gap is too large');
    const who = await r.conn.request('whoami', {});
    assert.equal((who.reply.result as ResultOf<'whoami'>).user.id, alice.id, 'the connection is authenticated');

    // Exactly 20 missed events: replayed.
    const c2 = r.caughtUp.cursor;
    r.conn.close();
    const twenty = await sendN(20);
    const r2 = await resume(small, 'tcp', alice.token, c2);
    assert.equal(r2.caughtUp.limited, false);
    assert.equal(r2.caughtUp.replayed, 20);
    assert.deepEqual(
      createdIds(r2.replayed, channelId),
      twenty.map((m) => m.id),
    );

    // 21: limited again.
    const c3 = r2.caughtUp.cursor;
    r2.conn.close();
    await sendN(21);
    const r3 = await resume(small, 'tcp', alice.token, c3);
    assert.equal(r3.caughtUp.limited, true);
    assert.deepEqual(r3.replayed, []);
  });
});

describe('invalid cursors', () => {
  for (const transport of ['ws', 'tcp'] as const) {
    test(`case 41: over ${transport}: not a decimal string, or past the head -> invalid_cursor, still unauthenticated`, async () => {
      const alice = await newUser('ia');
      const { conn: probe, cursor: head } = await connectFresh(t, transport, alice.token);
      probe.close();
      const beyond = (BigInt(head) + 1_000_000n).toString();
      for (const bad of ['abc', '-1', '1.5', '1e3', ' 12', '0x10', beyond]) {
        const conn = await RawConn.open(t, transport);
        const { reply, index } = await conn.request('auth', { token: alice.token, cursor: bad });
        assert.equal(reply.error?.code, 'invalid_cursor', `cursor ${JSON.stringify(bad)}`);
        assert.equal(
          conn.messages.slice(0, index).filter(isStream).length,
          0,
          `cursor ${JSON.stringify(bad)}: nothing replayed`,
        );
        const who = await conn.request('whoami', {});
        assert.equal(who.reply.error?.code, 'unauthenticated', `cursor ${JSON.stringify(bad)}: still unauthenticated`);
        // The same connection can then authenticate properly.
        const ok = await conn.request('auth', { token: alice.token, cursor: head });
        assert.equal(ok.reply.error, undefined, `cursor ${JSON.stringify(bad)}: a good cursor then works`);
        conn.close();
      }
    });
  }
});

describe('replay respects visibility', () => {
  test("case 41: other people's DMs, groups and servers are never replayed; nor a server I was kicked from", async () => {
    const alice = await newUser('va');
    const bob = await newUser('vb');
    const carol = await newUser('vc');
    const dave = await newUser('vd');
    const shared = await shareServer(alice, [bob]);
    const theirs = await shareServer(bob, [carol]);
    const kickedFrom = await shareServer(bob, [alice, carol]);

    const { conn, cursor } = await connectFresh(t, 'ws', alice.token);
    conn.close();

    const b = hc(bob.token);
    const c = hc(carol.token);
    // Alice is kicked while away: that she may know.
    await b('members.kick', { serverId: kickedFrom.serverId, userId: alice.id });
    // Then a lot she must not see.
    await b('messages.send', { conversationId: kickedFrom.channelId, body: 'after alice left', nonce: nonce() });
    await b('channels.create', { serverId: kickedFrom.serverId, name: 'secret' });
    await b('messages.send', { to: carol.username, body: 'just between us', nonce: nonce() });
    await hc(dave.token)('messages.send', { to: carol.username, body: 'hi carol', nonce: nonce() });
    const { group } = await c('groups.create', { name: 'no alice', usernames: [bob.username] });
    await b('groups.accept', { groupId: group.id });
    await c('messages.send', { conversationId: group.id, body: 'group talk', nonce: nonce() });
    await c('groups.rename', { groupId: group.id, name: 'still no alice' });
    await c('messages.send', { conversationId: theirs.channelId, body: 'their server', nonce: nonce() });
    await b('channels.update', { channelId: theirs.channelId, topic: 'theirs' });
    await hc(dave.token)('profile.update', { displayName: 'Dave Stranger' });
    // And one message she may see.
    const visible = await b('messages.send', { conversationId: shared.channelId, body: 'for alice', nonce: nonce() });

    const r = await resume(t, 'tcp', alice.token, cursor);
    assert.deepEqual(
      r.replayed.map((e) => e.event),
      ['server.removed', 'message.created'],
      `replayed: ${JSON.stringify(r.replayed.map((e) => e.event))}`,
    );
    const [removed, created] = r.replayed;
    assert.ok(removed && created);
    assert.deepEqual(dataOf(removed, 'server.removed'), {
      serverId: kickedFrom.serverId,
      reason: 'kicked',
      by: { id: bob.id, username: bob.username, displayName: null },
      note: null,
    });
    assert.equal(dataOf(created, 'message.created').message.id, visible.message.id);
    assert.equal(r.caughtUp.replayed, 2);
    const text = JSON.stringify(r.conn.messages);
    for (const secret of [
      'just between us',
      'hi carol',
      'group talk',
      'their server',
      'after alice left',
      'Dave Stranger',
    ]) {
      assert.ok(!text.includes(secret), `"${secret}" was not replayed`);
    }
  });
});

describe('replay starts where membership starts', () => {
  test("joining a server elsewhere does not replay that server's earlier history on resume", async () => {
    const owner = await new HttpApi(t.httpUrl).call('register', {
      username: uniqueName('since-o'),
      password: PASSWORD,
    });
    const joiner = await new HttpApi(t.httpUrl).call('register', {
      username: uniqueName('since-j'),
      password: PASSWORD,
    });
    const o = await connectAs(t.wsUrl, owner.token);
    const { server, channels } = await o.request('servers.create', { name: 'since' });
    const general = channels[0]?.id ?? '';
    const { invite } = await o.request('invites.create', { serverId: server.id });

    // The joiner's client goes away with a cursor; meanwhile the server talks, then the joiner joins elsewhere.
    const first = await connectClient(t.wsUrl);
    const { cursor } = await first.request('auth', { token: joiner.token });
    first.close();
    for (let i = 0; i < 3; i++)
      await o.request('messages.send', { conversationId: general, body: `before ${i}`, nonce: `since-${i}` });
    const elsewhere = await connectAs(t.tcpUrl, joiner.token);
    await elsewhere.request('invites.join', { code: invite.code });
    elsewhere.close();
    await o.request('messages.send', { conversationId: general, body: 'after', nonce: 'since-after' });

    const back = await connectClient(t.wsUrl);
    const seen: { event: string; data: unknown }[] = [];
    back.on('event', (e) => seen.push(e));
    await back.request('auth', { token: joiner.token, cursor });
    const bodies = seen
      .filter((e) => e.event === 'message.created')
      .map((e) => (e.data as { message: { body: string } }).message.body);
    assert.deepEqual(bodies, ['after'], 'only what happened since joining');
    assert.ok(seen.some((e) => e.event === 'server.joined'));
    assert.ok(
      seen.some((e) => e.event === 'member.joined'),
      'the join itself, as it was sent live',
    );
    back.close();
    o.close();
  });
});
