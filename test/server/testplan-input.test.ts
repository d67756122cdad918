/**
 * TESTPLAN section 4, cases 1-11 and 27-33: bad input on every transport it applies to.
 *
 * Each test asserts natter's documented error or close code (docs/protocol.md), that nothing
 * was written where the request would have written, and that the server carries on: another
 * user's WebSocket and TCP connections still answer, and a send by them is stored.
 *
 * Not here: cases 31 and 32 (attachments and uploads do not exist in natter yet).
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { deflateRawSync } from 'node:zlib';
import type { NatterClient } from '../../src/client/index.js';
import {
  connectAs,
  connectClient,
  HttpApi,
  PASSWORD,
  TRANSPORTS,
  type TransportName,
  uniqueName,
} from '../helpers/api.js';
import { assertFrame, assertReply, check } from '../helpers/contract.js';
import { RawTcp, RawWs } from '../helpers/raw.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { DEADLINE_MS, waitUntil, within } from '../helpers/wait.js';

type ErrorShape = { code: string; field?: string; message: string };
type Reply = { id: unknown; result?: unknown; error?: ErrorShape; status?: number };

let t: TestServer;

// ---------------------------------------------------------------------------------------------
// Callers: raw JSON requests, never checked on the client side, on any transport.

type Caller = {
  readonly transport: TransportName;
  /** Sends `params` as JSON and resolves with the reply. */
  call(op: string, params?: unknown): Promise<Reply>;
  /** Sends `paramsText` verbatim as the request's params (HTTP: as the body). */
  callRaw(op: string, paramsText?: string): Promise<Reply>;
  close(): void;
};

function isReply(m: unknown): boolean {
  return typeof m === 'object' && m !== null && !('event' in m);
}

/** A WebSocket or TCP connection that sends raw text and reads replies in order. */
class SocketCaller implements Caller {
  private pos = 0;
  private nextId = 1;

  private constructor(
    readonly transport: 'ws' | 'tcp',
    private readonly ws: RawWs | null,
    private readonly tcp: RawTcp | null,
  ) {}

  static async open(transport: 'ws' | 'tcp', token?: string): Promise<SocketCaller> {
    const c =
      transport === 'ws'
        ? new SocketCaller('ws', await RawWs.open(t.wsUrl), null)
        : new SocketCaller('tcp', null, await RawTcp.open(t.tcpUrl));
    if (token !== undefined) {
      const r = await c.call('auth', { token });
      assert.ok(r.result, `auth failed: ${JSON.stringify(r.error)}`);
    }
    return c;
  }

  get messages(): unknown[] {
    return (this.ws?.messages ?? this.tcp?.messages) as unknown[];
  }

  /** One text frame (WebSocket) or one line (TCP). */
  sendText(text: string): void {
    if (this.ws) this.ws.send(text);
    else this.tcp?.write(`${text}\n`);
  }

  /** Bytes as one text frame (WebSocket) or as one line (TCP), whatever they hold. */
  sendBytes(bytes: Buffer): void {
    if (this.ws) this.ws.send(bytes, false);
    else this.tcp?.write(Buffer.concat([bytes, Buffer.from('\n')]));
  }

  /** The next reply (not an event) after the last one read. */
  async next(timeoutMs = DEADLINE_MS): Promise<Reply> {
    const from = this.pos;
    const ready = () => this.messages.slice(from).some(isReply);
    if (this.ws) await this.ws.waitFor(ready, timeoutMs, 'the next reply');
    else await this.tcp?.waitFor(ready, timeoutMs, 'the next reply');
    const idx = this.messages.findIndex((m, i) => i >= from && isReply(m));
    this.pos = idx + 1;
    return this.messages[idx] as Reply;
  }

  call(op: string, params?: unknown): Promise<Reply> {
    return this.callRaw(op, params === undefined ? undefined : JSON.stringify(params));
  }

  async callRaw(op: string, paramsText?: string): Promise<Reply> {
    const id = this.nextId++;
    const params = paramsText === undefined ? '' : `,"params":${paramsText}`;
    this.sendText(`{"id":${id},"op":${JSON.stringify(op)}${params}}`);
    const r = await this.next();
    // A request that was read has its id echoed; one that could not be read at all gets null.
    assert.ok(r.id === id || r.id === null, `reply ${JSON.stringify(r)} is not for request ${id}`);
    return r;
  }

  /** The close code: the WebSocket close frame's, or on TCP the `closing` event's before the hang-up. */
  async closeCode(timeoutMs = DEADLINE_MS): Promise<number | 'no closing event'> {
    if (this.ws) return this.ws.closed(timeoutMs);
    const tcp = this.tcp as RawTcp;
    await tcp.closed(timeoutMs);
    const closing = tcp.messages.find((m) => (m as { event?: string }).event === 'closing') as
      | { data: { code: number } }
      | undefined;
    return closing ? closing.data.code : 'no closing event';
  }

  get isOpen(): boolean {
    return this.ws ? this.ws.closeCode === null : !(this.tcp as RawTcp).ended;
  }

  close(): void {
    this.ws?.close();
    this.tcp?.close();
  }
}

/** HTTP: one POST per call; remembers the token of `register`/`login`. */
class HttpCaller implements Caller {
  readonly transport = 'http';
  constructor(public token: string | null = null) {}

  call(op: string, params?: unknown): Promise<Reply> {
    return this.callRaw(op, params === undefined ? undefined : JSON.stringify(params));
  }

  async callRaw(op: string, paramsText?: string): Promise<Reply> {
    const r = await httpRaw(op, paramsText ?? '', this.token);
    const token = (r.result as { token?: unknown } | undefined)?.token;
    if ((op === 'register' || op === 'login') && typeof token === 'string') this.token = token;
    return r;
  }

  close(): void {}
}

/** A raw POST /api/v1/<op>; the body may be any bytes. */
async function httpRaw(op: string, body: string | Buffer, token: string | null = null): Promise<Reply> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(`${t.httpUrl}/api/v1/${op}`, {
    method: 'POST',
    headers,
    body: typeof body === 'string' ? body : new Uint8Array(body),
  });
  const reply = (await res.json()) as Reply;
  check(() => assertReply(op, reply));
  return { ...reply, status: res.status };
}

async function openCaller(transport: TransportName, token?: string): Promise<Caller> {
  if (transport === 'http') return new HttpCaller(token ?? null);
  return SocketCaller.open(transport, token);
}

/** Asserts an error reply with `code` (and `field`, when given); over HTTP, also the documented status. */
function assertError(r: Reply, code: string, field?: string, what = ''): void {
  assert.ok(r.error, `${what}: expected ${code}, got ${JSON.stringify(r).slice(0, 300)}`);
  assert.equal(r.error.code, code, `${what}: ${r.error.message}`);
  if (field !== undefined) assert.equal(r.error.field, field, `${what}: ${r.error.message}`);
  if (r.status !== undefined) {
    const status = { bad_json: 400, bad_request: 400, unknown_op: 404, conflict: 409, not_found: 404 }[code];
    if (status !== undefined) assert.equal(r.status, status, `${what}: HTTP status`);
  }
}

function resultOf<T>(r: Reply, what = ''): T {
  assert.ok(r.result !== undefined, `${what}: expected a result, got ${JSON.stringify(r.error)}`);
  return r.result as T;
}

// ---------------------------------------------------------------------------------------------
// Fixtures.

type Owner = {
  token: string;
  userId: string;
  username: string;
  serverId: string;
  channelId: string;
  http: HttpApi;
};

/** A new user who owns a new server; `channelId` is its `general` channel. */
async function owner(prefix = 'own'): Promise<Owner> {
  const http = new HttpApi(t.httpUrl);
  const username = uniqueName(prefix);
  const reg = await http.call('register', { username, password: PASSWORD, presence: false });
  const { server, channels } = await http.call('servers.create', { name: `${prefix} place` });
  return {
    token: reg.token,
    userId: reg.user.id,
    username,
    serverId: server.id,
    channelId: channels[0]?.id ?? '',
    http,
  };
}

/** Another user (for groups, bans, DMs). */
async function friend(): Promise<{ username: string; userId: string }> {
  const username = uniqueName('friend');
  const reg = await new HttpApi(t.httpUrl).call('register', { username, password: PASSWORD, presence: false });
  return { username, userId: reg.user.id };
}

/** The bodies of a channel's messages, oldest first (read over HTTP, as a second opinion). */
async function bodies(o: Owner): Promise<string[]> {
  const { messages } = await o.http.call('messages.history', { conversationId: o.channelId, limit: 100 });
  return messages.map((m) => m.body);
}

/** The owner's channel as listed: its name and topic. */
async function channelState(o: Owner): Promise<{ name: string; topic: string | null }> {
  const { channels } = await o.http.call('channels.list', { serverId: o.serverId });
  const ch = channels.find((c) => c.id === o.channelId);
  assert.ok(ch);
  return { name: ch.name, topic: ch.topic };
}

// ---------------------------------------------------------------------------------------------
// The bystander: another user whose connections must keep working through every abuse.

type Bystander = { ws: NatterClient; tcp: NatterClient; channelId: string };
let by: Bystander;
let bySends = 0;

async function startBystander(): Promise<Bystander> {
  const o = await owner('bystander');
  return {
    ws: await connectAs(t.wsUrl, o.token),
    tcp: await connectAs(t.tcpUrl, o.token),
    channelId: o.channelId,
  };
}

/** The server is up and other sessions are unaffected: pings, a send, its fan-out, a fresh connection. */
async function assertServerFine(): Promise<void> {
  const health = await fetch(`${t.httpUrl}/healthz`);
  assert.equal(health.status, 200);
  assert.equal(typeof (await by.ws.request('ping', {})).now, 'number');
  assert.equal(typeof (await by.tcp.request('ping', {})).now, 'number');
  const n = ++bySends;
  const seen = by.ws.nextEvent('message.created', (d) => d.message.nonce === `by-${n}`);
  const sent = await by.tcp.request('messages.send', {
    conversationId: by.channelId,
    body: `still here ${n}`,
    nonce: `by-${n}`,
  });
  assert.equal(sent.duplicate, false);
  await seen;
  const fresh = await connectClient(t.wsUrl);
  assert.equal(typeof (await fresh.request('ping', {})).now, 'number');
  fresh.close();
}

function rssMb(): number {
  return process.memoryUsage().rss / (1024 * 1024);
}

before(async () => {
  t = await startTestServer();
  by = await startBystander();
});
after(async () => {
  by.ws.close();
  by.tcp.close();
  await t.destroy();
});

// ---------------------------------------------------------------------------------------------
// Cases 1-4: malformed requests.

describe('case 1: frames, lines and bodies that are not a request', () => {
  for (const transport of ['ws', 'tcp'] as const) {
    test(`case 1: not JSON, a bare number, an array (${transport})`, async () => {
      const o = await owner('c1');
      const before = await bodies(o);
      const c = await SocketCaller.open(transport, o.token);

      c.sendText('{"op":');
      let r = await c.next();
      assert.equal(r.id, null);
      assertError(r, 'bad_json', undefined, 'truncated JSON');
      // A bare number and an array are JSON, but not a request object.
      c.sendText('42');
      assertError(await c.next(), 'bad_request', undefined, 'a bare number');
      const send = { id: 'inner', op: 'messages.send', params: { conversationId: o.channelId, body: 'x', nonce: 'a' } };
      c.sendText(JSON.stringify([send]));
      r = await c.next();
      assert.equal(r.id, null, 'an array is not answered as the request inside it');
      assertError(r, 'bad_request', undefined, 'an array');
      assert.ok(c.isOpen);

      // Up to two undecodable frames in a row leave the connection usable; a good one resets the count.
      c.sendText('nope');
      c.sendText('{nope');
      assertError(await c.next(), 'bad_json');
      assertError(await c.next(), 'bad_json');
      assert.ok(resultOf(await c.call('ping'), 'ping after two bad frames'));
      c.sendText('still not json');
      c.sendText('}');
      assertError(await c.next(), 'bad_json');
      assertError(await c.next(), 'bad_json');
      assert.ok(resultOf(await c.call('ping'), 'ping after the count was reset'));

      // The third in a row closes with 4002.
      for (let i = 0; i < 3; i++) c.sendText(`garbage ${i}`);
      for (let i = 0; i < 3; i++) assertError(await c.next(), 'bad_json');
      assert.equal(await c.closeCode(), 4002);

      assert.deepEqual(await bodies(o), before, 'nothing was stored');
      await assertServerFine();
    });
  }

  test('case 1: not JSON, a bare number, an array (http)', async () => {
    const o = await owner('c1h');
    const before = await bodies(o);
    assertError(await httpRaw('messages.send', '{"conversationId":', o.token), 'bad_json', undefined, 'truncated');
    assertError(await httpRaw('messages.send', '42', o.token), 'bad_request', 'params', 'a bare number');
    const params = { conversationId: o.channelId, body: 'x', nonce: 'a' };
    assertError(await httpRaw('messages.send', JSON.stringify([params]), o.token), 'bad_request', 'params', 'array');
    // HTTP has no connection to close: each bad body is answered alone, however many come.
    for (let i = 0; i < 4; i++) assertError(await httpRaw('ping', `garbage ${i}`), 'bad_json');
    assert.deepEqual(await bodies(o), before, 'nothing was stored');
    await assertServerFine();
  });
});

describe('case 2: unknown op, missing, extra and mistyped fields', () => {
  for (const transport of TRANSPORTS) {
    test(`case 2: unknown op, missing or extra fields, wrong types (${transport})`, async () => {
      const o = await owner('c2');
      const c = await openCaller(transport, o.token);
      const sent = resultOf<{ message: { id: string } }>(
        await c.call('messages.send', { conversationId: o.channelId, body: 'original', nonce: 'c2-orig' }),
      );
      const messageId = sent.message.id;
      const before = await bodies(o);

      const unknown = await c.call('messages.sendx', { conversationId: o.channelId, body: 'x', nonce: 'c2-a' });
      assertError(unknown, 'unknown_op', 'op', 'unknown op');

      // Missing fields.
      assertError(await c.call('messages.edit', { messageId }), 'bad_request', 'params.body', 'edit without body');
      assertError(await c.call('messages.history', {}), 'bad_request', 'params.conversationId', 'history, no id');
      assertError(await c.call('channels.update', { topic: 'x' }), 'bad_request', 'params.channelId', 'no channel');
      // Extra fields.
      const extra = { conversationId: o.channelId, body: 'x', nonce: 'c2-b', pinned: true };
      assertError(await c.call('messages.send', extra), 'bad_request', 'params.pinned', 'extra field');
      assertError(await c.call('profile.update', { isAdmin: true }), 'bad_request', 'params.isAdmin', 'extra field');
      // Wrong types.
      assertError(await c.call('messages.history', { conversationId: {} }), 'bad_request', 'params.conversationId');
      assertError(await c.call('messages.edit', { messageId: [], body: 'x' }), 'bad_request', 'params.messageId');
      assertError(await c.call('messages.edit', { messageId, body: 42 }), 'bad_request', 'params.body');
      assertError(await c.call('read.mark', { conversationId: o.channelId, seq: '1' }), 'bad_request', 'params.seq');
      assertError(await c.call('servers.update', { serverId: o.serverId, name: 5 }), 'bad_request', 'params.name');
      assertError(await c.call('channels.update', { channelId: o.channelId, topic: { x: 1 } }), 'bad_request');
      assertError(await c.call('messages.history', []), 'bad_request', 'params', 'params as an array');

      if (c instanceof SocketCaller) {
        // The envelope itself: an unknown top-level field, a missing op, a mistyped op.
        c.sendText('{"id":"e1","op":"ping","sneaky":1}');
        assertError(await c.next(), 'bad_request', 'sneaky');
        c.sendText('{"id":"e2"}');
        assertError(await c.next(), 'bad_request', 'op');
        c.sendText('{"id":"e3","op":{"name":"ping"}}');
        assertError(await c.next(), 'bad_request', 'op');
      }

      assert.deepEqual(await bodies(o), before, 'no message was written or changed');
      const state = await channelState(o);
      assert.deepEqual(state, { name: 'general', topic: null }, 'the channel is unchanged');
      const { servers } = await o.http.call('servers.list', {});
      assert.equal(servers.find((s) => s.id === o.serverId)?.name, 'c2 place');
      c.close();
      await assertServerFine();
    });

    // `messages.send` takes one of two shapes (to a conversation, or `to` a username); the
    // error must still name the field at fault, as docs/protocol.md promises for bad_request.
    test(`case 2: a wrong type or a missing field in messages.send names the field (${transport})`, async () => {
      const o = await owner('c2s');
      const c = await openCaller(transport, o.token);
      const wrongType = await c.call('messages.send', { conversationId: {}, body: 'x', nonce: 'c2s-a' });
      assertError(wrongType, 'bad_request', 'params.conversationId', 'conversationId: {}');
      const missing = await c.call('messages.send', { conversationId: o.channelId, nonce: 'c2s-b' });
      assertError(missing, 'bad_request', 'params.body', 'no body');
      assert.deepEqual(await bodies(o), [], 'nothing was stored');
      c.close();
      await assertServerFine();
    });
  }
});

describe('case 3: prototype keys', () => {
  for (const transport of TRANSPORTS) {
    test(`case 3: __proto__ and constructor keys in a payload (${transport})`, async () => {
      const o = await owner('c3');
      const c = await openCaller(transport, o.token);
      const cid = JSON.stringify(o.channelId);
      const payloads: [string, string][] = [
        ['messages.send', `{"conversationId":${cid},"body":"proto","nonce":"c3-a","__proto__":{"polluted":1}}`],
        [
          'messages.send',
          `{"conversationId":${cid},"body":"ctor","nonce":"c3-b","constructor":{"prototype":{"polluted":1}}}`,
        ],
        ['profile.update', '{"__proto__":{"isAdmin":true,"polluted":1}}'],
        ['profile.update', '{"displayName":"x","constructor":{"prototype":{"polluted":1}}}'],
        ['servers.update', `{"serverId":${JSON.stringify(o.serverId)},"__proto__":{"ownerId":"someone"}}`],
        ['groups.create', '{"name":"g","usernames":[{"__proto__":{"polluted":1}}]}'],
        ['messages.history', '{"__proto__":{"conversationId":"x"}}'],
      ];
      for (const [op, text] of payloads) {
        assertError(await c.callRaw(op, text), 'bad_request', undefined, `${op} ${text}`);
      }
      if (c instanceof SocketCaller) {
        c.sendText('{"id":"p1","op":"ping","__proto__":{"polluted":1}}');
        assertError(await c.next(), 'bad_request', '__proto__');
        c.sendText('{"__proto__":{"id":"p2","op":"whoami"}}');
        assertError(await c.next(), 'bad_request', undefined, 'an envelope hidden in __proto__');
      }
      // Nothing reached Object.prototype, and nothing was written.
      assert.equal(({} as { polluted?: unknown }).polluted, undefined);
      assert.equal(({} as { isAdmin?: unknown }).isAdmin, undefined);
      assert.equal(Object.hasOwn(Object.prototype, 'polluted'), false);
      assert.deepEqual(await bodies(o), []);
      const me = await o.http.call('whoami', {});
      assert.equal(me.user.displayName, null);
      assert.equal(Object.hasOwn(me.user, 'isAdmin'), false);
      const { server } = await o.http.call('servers.get', { serverId: o.serverId });
      assert.equal(server.ownerId, o.userId);
      // The same connection still works.
      resultOf(await c.call('messages.send', { conversationId: o.channelId, body: 'fine', nonce: 'c3-ok' }));
      assert.deepEqual(await bodies(o), ['fine']);
      c.close();
      await assertServerFine();
    });
  }
});

describe('case 4: numbers that are not safe non-negative integers', () => {
  for (const transport of TRANSPORTS) {
    test(`case 4: ids > 2^53, negative, float, "1e3", NaN and Infinity (${transport})`, async () => {
      const o = await owner('c4');
      const c = await openCaller(transport, o.token);
      for (let i = 0; i < 3; i++) {
        resultOf(await c.call('messages.send', { conversationId: o.channelId, body: `m${i}`, nonce: `c4-${i}` }));
      }
      const readBefore = await o.http.call('conversations.list', {});
      const cid = JSON.stringify(o.channelId);
      const sid = JSON.stringify(o.serverId);
      // Literals that JSON.parse reads as numbers (or as a string) but that are not valid here.
      const badNumbers = ['9007199254740993', '18446744073709551616', '-1', '1.5', '"1e3"', '1e400', '-1e400', '-0.5'];
      // NaN and Infinity are not JSON at all; they come back as bad_json (kept apart so that
      // no three undecodable frames follow each other).
      const notJson = ['NaN', 'Infinity', '-Infinity'];
      for (const n of badNumbers) {
        assertError(
          await c.callRaw('read.mark', `{"conversationId":${cid},"seq":${n}}`),
          'bad_request',
          'params.seq',
          n,
        );
        const field = 'params.before';
        assertError(
          await c.callRaw('messages.history', `{"conversationId":${cid},"before":${n}}`),
          'bad_request',
          field,
        );
        assertError(await c.callRaw('messages.history', `{"conversationId":${cid},"limit":${n}}`), 'bad_request');
        const inv = `{"serverId":${sid},"maxUses":${n},"expiresInSeconds":3600}`;
        assertError(await c.callRaw('invites.create', inv), 'bad_request', 'params.maxUses', `maxUses ${n}`);
      }
      for (const n of notJson) {
        assertError(await c.callRaw('read.mark', `{"conversationId":${cid},"seq":${n}}`), 'bad_json', undefined, n);
        resultOf(await c.call('ping'), 'a good request between undecodable ones');
      }
      if (c instanceof SocketCaller) {
        // The request id follows the same rules (errors.test.ts covers more of them).
        for (const id of ['9007199254740993', '-1', '1.5', '1e400']) {
          c.sendText(`{"id":${id},"op":"ping"}`);
          assertError(await c.next(), 'bad_request', 'id', `id ${id}`);
        }
      }
      // A number written with an exponent that is a safe integer is just a number.
      const page = resultOf<{ messages: unknown[] }>(
        await c.callRaw('messages.history', `{"conversationId":${cid},"limit":2e0}`),
      );
      assert.equal(page.messages.length, 2);

      const readAfter = await o.http.call('conversations.list', {});
      const before = readBefore.conversations.find((x) => x.id === o.channelId);
      const now = readAfter.conversations.find((x) => x.id === o.channelId);
      assert.equal(now?.lastReadSeq, before?.lastReadSeq, 'the read position did not move');
      const { invites } = await o.http.call('invites.list', { serverId: o.serverId });
      assert.deepEqual(invites, [], 'no invite was created');
      assert.deepEqual(await bodies(o), ['m0', 'm1', 'm2']);
      c.close();
      await assertServerFine();
    });
  }
});

// ---------------------------------------------------------------------------------------------
// Cases 5-10: transport framing.

describe('case 5: frames over the size limit', () => {
  test('case 5: a WebSocket frame over maxPayload (1 MiB) closes with 1009 (ws)', async () => {
    const o = await owner('c5');
    const rssBefore = rssMb();
    for (let i = 0; i < 10; i++) {
      const c = await SocketCaller.open('ws', o.token);
      const body = 'x'.repeat(1024 * 1024);
      c.sendText(
        JSON.stringify({ id: 1, op: 'messages.send', params: { conversationId: o.channelId, body, nonce: `c5-${i}` } }),
      );
      assert.equal(await c.closeCode(), 1009);
    }
    const growth = rssMb() - rssBefore;
    assert.ok(growth < 50, `RSS grew by ${growth.toFixed(1)} MB over ten 1 MiB frames`);
    assert.deepEqual(await bodies(o), [], 'nothing was stored');
    // A frame just under the limit is still fine.
    const c = await SocketCaller.open('ws', o.token);
    const pad = 'x'.repeat(60 * 1024);
    assertError(await c.call('profile.update', { bio: pad }), 'bad_request', 'params.bio', 'read and refused');
    assert.ok(c.isOpen);
    c.close();
    await assertServerFine();
  });

  test('case 5: a 1 MiB line gets payload_too_large and closes with 4010 (tcp)', async () => {
    const o = await owner('c5t');
    const c = await SocketCaller.open('tcp', o.token);
    const body = 'x'.repeat(1024 * 1024);
    c.sendText(
      JSON.stringify({ id: 1, op: 'messages.send', params: { conversationId: o.channelId, body, nonce: 'c5t' } }),
    );
    const r = await c.next();
    assert.equal(r.id, null);
    assertError(r, 'payload_too_large');
    assert.equal(await c.closeCode(), 4010);
    assert.deepEqual(await bodies(o), [], 'nothing was stored');
    await assertServerFine();
  });

  test('case 5: a 1 MiB body is 413 payload_too_large (http)', async () => {
    const o = await owner('c5h');
    const body = 'x'.repeat(1024 * 1024);
    const r = await httpRaw(
      'messages.send',
      JSON.stringify({ conversationId: o.channelId, body, nonce: 'c5h' }),
      o.token,
    );
    assert.equal(r.status, 413);
    assertError(r, 'payload_too_large');
    assert.deepEqual(await bodies(o), [], 'nothing was stored');
    await assertServerFine();
  });
});

/** A hand-made WebSocket connection (the ws client would never send these frames). */
class RawFrames {
  private buf = Buffer.alloc(0);
  private upgraded = false;
  status = '';
  readonly frames: { fin: boolean; opcode: number; payload: Buffer }[] = [];
  closed = false;
  private waiters: (() => void)[] = [];

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buf = Buffer.concat([this.buf, chunk]);
      this.parse();
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => {});
  }

  static async open(): Promise<RawFrames> {
    const socket = connect({ host: '127.0.0.1', port: t.server.port });
    await within(once(socket, 'connect'), 'a raw WebSocket connection');
    const raw = new RawFrames(socket);
    socket.write(
      'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
    );
    await raw.until(
      () => raw.frames.some((f) => f.opcode === 1 && f.payload.toString().includes('"hello"')),
      'the hello frame',
    );
    assert.match(raw.status, /^HTTP\/1\.1 101/);
    return raw;
  }

  /** A masked client frame. */
  static frame(opcode: number, payload: Buffer, opts: { fin?: boolean; rsv1?: boolean } = {}): Buffer {
    const b0 = (opts.fin === false ? 0 : 0x80) | (opts.rsv1 ? 0x40 : 0) | opcode;
    let head: Buffer;
    if (payload.length < 126) head = Buffer.from([b0, 0x80 | payload.length]);
    else if (payload.length < 65536) {
      head = Buffer.alloc(4);
      head[0] = b0;
      head[1] = 0x80 | 126;
      head.writeUInt16BE(payload.length, 2);
    } else {
      head = Buffer.alloc(10);
      head[0] = b0;
      head[1] = 0x80 | 127;
      head.writeBigUInt64BE(BigInt(payload.length), 2);
    }
    const mask = Buffer.from([0x12, 0x34, 0x56, 0x78]);
    const masked = Buffer.alloc(payload.length);
    for (let i = 0; i < payload.length; i++) masked[i] = (payload[i] ?? 0) ^ (mask[i % 4] ?? 0);
    return Buffer.concat([head, mask, masked]);
  }

  write(data: Buffer): void {
    if (!this.socket.destroyed) this.socket.write(data);
  }

  /** The code of the server's close frame, or null when the socket ended without one. */
  async closeFrameCode(timeoutMs = DEADLINE_MS): Promise<number | null> {
    await this.until(() => this.closed || this.frames.some((f) => f.opcode === 8), 'a close frame', timeoutMs);
    const close = this.frames.find((f) => f.opcode === 8);
    return close && close.payload.length >= 2 ? close.payload.readUInt16BE(0) : null;
  }

  /** Waits until `check` holds, looking again whenever bytes arrive or the socket closes. */
  async until(check: () => boolean, what: string, timeoutMs = DEADLINE_MS): Promise<void> {
    await waitUntil(
      () => (check() ? true : undefined),
      (wake) => this.waiters.push(wake),
      { what: `${what} on the hand-made WebSocket`, timeoutMs },
    );
  }

  close(): void {
    this.socket.destroy();
  }

  private parse(): void {
    if (!this.upgraded) {
      const end = this.buf.indexOf('\r\n\r\n');
      if (end === -1) return;
      this.status = this.buf.subarray(0, end).toString('latin1');
      this.buf = this.buf.subarray(end + 4);
      this.upgraded = true;
    }
    for (;;) {
      if (this.buf.length < 2) return;
      const b0 = this.buf[0] ?? 0;
      const b1 = this.buf[1] ?? 0;
      let len = b1 & 0x7f;
      let off = 2;
      if (len === 126) {
        if (this.buf.length < 4) return;
        len = this.buf.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (this.buf.length < 10) return;
        len = Number(this.buf.readBigUInt64BE(2));
        off = 10;
      }
      if (this.buf.length < off + len) return;
      const frame = { fin: (b0 & 0x80) !== 0, opcode: b0 & 0x0f, payload: this.buf.subarray(off, off + len) };
      // What the server says in text frames obeys the protocol too (the ops of hand-made requests are not tracked).
      if (frame.opcode === 1 && frame.fin)
        check(() => assertFrame(JSON.parse(frame.payload.toString()), () => undefined));
      this.frames.push(frame);
      this.buf = this.buf.subarray(off + len);
    }
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const fn of w) fn();
  }
}

describe('case 6: a compressed frame without permessage-deflate', () => {
  test('case 6: RSV1 set although deflate was not negotiated closes with 1002 (ws)', async () => {
    const raw = await RawFrames.open();
    // The framing itself is sound: a plain frame from this socket is answered.
    raw.write(RawFrames.frame(1, Buffer.from('{"id":"r1","op":"ping"}')));
    await raw.until(
      () => raw.frames.some((f) => f.opcode === 1 && f.payload.toString().includes('"r1"')),
      'the reply to a plain frame',
    );

    // A deflate bomb (8 MiB of "a" in a few KB) flagged as compressed: refused by its header.
    const rssBefore = rssMb();
    const bomb = deflateRawSync(Buffer.alloc(8 * 1024 * 1024, 'a'));
    raw.write(RawFrames.frame(1, bomb, { rsv1: true }));
    assert.equal(await raw.closeFrameCode(), 1002, 'protocol error (RFC 6455 5.2: RSV1 without an extension)');
    await raw.until(() => raw.closed, 'the socket to close');
    const growth = rssMb() - rssBefore;
    assert.ok(growth < 50, `RSS grew by ${growth.toFixed(1)} MB: nothing was inflated`);
    await assertServerFine();
  });
});

describe('case 7: a message of many empty fragments', () => {
  test('case 7: 200k empty fragments close with 1008 and RSS stays bounded (ws)', async () => {
    const raw = await RawFrames.open();
    const rssBefore = rssMb();
    const count = 200_000;
    const empty = Buffer.alloc(0);
    const parts: Buffer[] = [RawFrames.frame(1, empty, { fin: false })];
    const cont = RawFrames.frame(0, empty, { fin: false });
    for (let i = 1; i < count - 1; i++) parts.push(cont);
    parts.push(RawFrames.frame(0, empty, { fin: true }));
    raw.write(Buffer.concat(parts));
    // ws (>= 8.21) stops at maxFragments (16384) with 1008 "policy violation".
    assert.equal(await raw.closeFrameCode(), 1008);
    raw.close();
    const growth = rssMb() - rssBefore;
    assert.ok(growth < 50, `RSS grew by ${growth.toFixed(1)} MB`);
    await assertServerFine();
  });
});

describe('case 8: an endless TCP line', () => {
  test('case 8: 10 MiB with no newline gets payload_too_large, then close 4010; RSS bounded (tcp)', async () => {
    const tcp = await RawTcp.open(t.tcpUrl);
    const rssBefore = rssMb();
    const chunk = Buffer.alloc(64 * 1024, 'x');
    let written = 0;
    // Streamed as a real client would, stopping when the server hangs up.
    while (written < 10 * 1024 * 1024 && !tcp.ended && !tcp.socket.destroyed) {
      const ok = tcp.socket.write(chunk);
      written += chunk.length;
      if (!ok) {
        await within(
          new Promise<void>((resolve) => {
            tcp.socket.once('drain', resolve);
            tcp.socket.once('close', resolve);
          }),
          'the socket to drain or close',
        );
      }
    }
    const r = (await tcp.waitFor((m) => isReply(m))) as Reply;
    assert.equal(r.id, null);
    assertError(r, 'payload_too_large');
    await tcp.closed();
    const closing = tcp.messages.find((m) => (m as { event?: string }).event === 'closing') as
      | { data: { code: number } }
      | undefined;
    assert.equal(closing?.data.code, 4010);
    assert.ok(written < 10 * 1024 * 1024, `the server hung up before taking all 10 MiB (${written} bytes sent)`);
    const growth = rssMb() - rssBefore;
    assert.ok(growth < 50, `RSS grew by ${growth.toFixed(1)} MB`);
    await assertServerFine();
  });
});

describe('case 9: how lines and frames are cut', () => {
  test('case 9: a line split byte by byte, and two messages in one segment (tcp)', async () => {
    const o = await owner('c9');
    const tcp = await RawTcp.open(t.tcpUrl);
    tcp.write(`${JSON.stringify({ id: 'auth', op: 'auth', params: { token: o.token } })}\n`);
    assert.ok((await tcp.reply('auth')).result);
    // Multi-byte characters are cut between their bytes too.
    const line = Buffer.from(
      `${JSON.stringify({ id: 'slow', op: 'messages.send', params: { conversationId: o.channelId, body: 'héllo 👋 wörld', nonce: 'c9-slow' } })}\r\n`,
    );
    for (const byte of line) {
      tcp.write(Buffer.from([byte]));
      await new Promise((r) => setImmediate(r));
    }
    assert.ok((await tcp.reply('slow')).result);
    const two =
      `${JSON.stringify({ id: 'a', op: 'messages.send', params: { conversationId: o.channelId, body: 'first', nonce: 'c9-a' } })}\n` +
      `${JSON.stringify({ id: 'b', op: 'messages.send', params: { conversationId: o.channelId, body: 'second', nonce: 'c9-b' } })}\n`;
    tcp.write(two);
    assert.ok((await tcp.reply('a')).result);
    assert.ok((await tcp.reply('b')).result);
    assert.deepEqual(await bodies(o), ['héllo 👋 wörld', 'first', 'second'], 'each stored once, in order');
    tcp.close();
    await assertServerFine();
  });

  test('case 9: forty sends in one segment are stored in the order they were sent, each once (tcp)', async () => {
    const o = await owner('c9p');
    const tcp = await RawTcp.open(t.tcpUrl);
    tcp.write(`${JSON.stringify({ id: 'auth', op: 'auth', params: { token: o.token } })}\n`);
    assert.ok((await tcp.reply('auth')).result);
    const sent = Array.from({ length: 40 }, (_, i) => `pipelined ${i}`);
    tcp.write(
      sent
        .map(
          (body, i) =>
            `${JSON.stringify({ id: `p${i}`, op: 'messages.send', params: { conversationId: o.channelId, body, nonce: `c9p-${i}` } })}\n`,
        )
        .join(''),
    );
    for (let i = 0; i < sent.length; i++) assert.ok((await tcp.reply(`p${i}`)).result, `send ${i}`);
    assert.deepEqual(await bodies(o), sent);
    tcp.close();
  });

  test('case 9: a message in several fragments, cut inside a character (ws)', async () => {
    const o = await owner('c9w');
    const ws = await RawWs.open(t.wsUrl);
    ws.send(JSON.stringify({ id: 'auth', op: 'auth', params: { token: o.token } }));
    assert.ok((await ws.reply('auth')).result);
    const text = Buffer.from(
      JSON.stringify({
        id: 'frag',
        op: 'messages.send',
        params: { conversationId: o.channelId, body: 'naïve 🙂', nonce: 'c9w' },
      }),
    );
    const cut = text.indexOf(Buffer.from('🙂')) + 2;
    ws.ws.send(text.subarray(0, 5), { binary: false, fin: false });
    ws.ws.send(text.subarray(5, cut), { binary: false, fin: false });
    ws.ws.send(text.subarray(cut), { binary: false, fin: true });
    assert.ok((await ws.reply('frag')).result);
    assert.deepEqual(await bodies(o), ['naïve 🙂']);
    ws.close();
    await assertServerFine();
  });

  test('case 9: a body sent in one-byte chunks (http)', async () => {
    const o = await owner('c9h');
    const body = Buffer.from(JSON.stringify({ conversationId: o.channelId, body: 'über 🎉 alles', nonce: 'c9h' }));
    const status = await within(
      new Promise<number>((resolve, reject) => {
        const req = httpRequest(
          `${t.httpUrl}/api/v1/messages.send`,
          { method: 'POST', headers: { authorization: `Bearer ${o.token}`, 'content-type': 'application/json' } },
          (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          },
        );
        req.on('error', reject);
        void (async () => {
          for (const byte of body) {
            req.write(Buffer.from([byte]));
            await new Promise((r) => setImmediate(r));
          }
          req.end();
        })();
      }),
      'the reply to a body sent byte by byte',
    );
    assert.equal(status, 200);
    assert.deepEqual(await bodies(o), ['über 🎉 alles']);
    await assertServerFine();
  });
});

describe('case 10: invalid UTF-8', () => {
  const invalid: [string, Buffer][] = [
    ['a stray 0xff', Buffer.from([0xff])],
    ['an overlong "/"', Buffer.from([0xc0, 0xaf])],
    ['a lone surrogate', Buffer.from([0xed, 0xa0, 0x80])],
    ['a truncated sequence', Buffer.from([0xe2, 0x82])],
  ];
  const sendWith = (o: Owner, bad: Buffer, nonce: string) =>
    Buffer.concat([
      Buffer.from(
        `{"id":"u8","op":"messages.send","params":{"conversationId":"${o.channelId}","nonce":"${nonce}","body":"x`,
      ),
      bad,
      Buffer.from('y"}}'),
    ]);

  test('case 10: a text frame that is not UTF-8 closes with 1007 (ws)', async () => {
    const o = await owner('c10w');
    for (const [what, bad] of invalid) {
      const c = await SocketCaller.open('ws', o.token);
      c.sendBytes(sendWith(o, bad, 'c10w'));
      assert.equal(await c.closeCode(), 1007, what);
    }
    assert.deepEqual(await bodies(o), [], 'nothing was stored');
    await assertServerFine();
  });

  test('case 10: a line that is not UTF-8 gets bad_json; three in a row close with 4002 (tcp)', async () => {
    const o = await owner('c10t');
    const c = await SocketCaller.open('tcp', o.token);
    for (const [what, bad] of invalid) {
      c.sendBytes(sendWith(o, bad, `c10t-${what.length}`));
      const r = await c.next();
      assert.equal(r.id, null, what);
      assertError(r, 'bad_json', undefined, what);
      resultOf(await c.call('ping'), 'the connection stays usable');
    }
    for (let i = 0; i < 3; i++) c.sendBytes(Buffer.from([0x22, 0xff, 0x22]));
    for (let i = 0; i < 3; i++) assertError(await c.next(), 'bad_json');
    assert.equal(await c.closeCode(), 4002);
    assert.deepEqual(await bodies(o), [], 'nothing was stored');
    await assertServerFine();
  });

  test('case 10: a body that is not UTF-8 is 400 bad_json (http)', async () => {
    const o = await owner('c10h');
    for (const [what, bad] of invalid) {
      const body = Buffer.concat([
        Buffer.from(`{"conversationId":"${o.channelId}","nonce":"c10h","body":"x`),
        bad,
        Buffer.from('y"}'),
      ]);
      assertError(await httpRaw('messages.send', body, o.token), 'bad_json', undefined, what);
    }
    assert.deepEqual(await bodies(o), [], 'nothing was stored');
    await assertServerFine();
  });
});

// ---------------------------------------------------------------------------------------------
// Case 11: message bodies.

describe('case 11: message body limits', () => {
  for (const transport of TRANSPORTS) {
    test(`case 11: a body over 4000 characters, empty or whitespace-only (${transport})`, async () => {
      const o = await owner('c11');
      const c = await openCaller(transport, o.token);
      const send = (body: string, nonce: string) =>
        c.call('messages.send', { conversationId: o.channelId, body, nonce });

      const refused: [string, string][] = [
        ['4001 characters', 'x'.repeat(4001)],
        ['4001 emoji', '😀'.repeat(4001)],
        ['4000 characters and a newline', `${'y'.repeat(4000)}\n`],
        ['empty', ''],
        ['spaces', '     '],
        ['newlines and tabs only', ' \n\t \n\t'],
        ['no-break and ideographic spaces', '\u00a0\u3000\u2003'],
        ['blank braille cells, which show nothing', '\u2800\u2800 \u2800\n\u2800'],
      ];
      for (const [i, [what, body]] of refused.entries()) {
        assertError(await send(body, `c11-bad-${i}`), 'bad_request', 'params.body', what);
      }
      assert.deepEqual(await bodies(o), [], 'nothing was stored');

      // At the limit: stored whole, never truncated.
      const full = 'z'.repeat(4000);
      const emoji = '😀'.repeat(4000);
      const a = resultOf<{ message: { id: string; body: string } }>(await send(full, 'c11-full'));
      const b = resultOf<{ message: { body: string } }>(await send(emoji, 'c11-emoji'));
      assert.equal(a.message.body, full);
      assert.equal(b.message.body, emoji);
      assert.deepEqual(await bodies(o), [full, emoji]);

      // Editing to an over-long or empty body is refused too, and the message keeps its text.
      const edit = (body: string) => c.call('messages.edit', { messageId: a.message.id, body });
      assertError(await edit('x'.repeat(4001)), 'bad_request', 'params.body', 'edit to 4001');
      assertError(await edit('  '), 'bad_request', 'params.body', 'edit to blank');
      assert.deepEqual(await bodies(o), [full, emoji]);
      c.close();
      await assertServerFine();
    });
  }
});

// ---------------------------------------------------------------------------------------------
// Cases 27-28: usernames.

describe('case 27: hostile usernames', () => {
  const hostile: [string, string][] = [
    ['right-to-left override', 'evil\u202etxt'],
    ['zero-width space', 'zero\u200bwidth'],
    ['byte order mark', 'bom\ufeffname'],
    ['leading byte order mark', '\ufeffbomfirst'],
    ['left-to-right isolate', 'iso\u2066late'],
    ['bell', 'bell\u0007name'],
    ['escape sequence', 'esc\u001b[31mred'],
    ['NUL', 'nul\u0000name'],
    ['DEL', 'del\u007fname'],
    ['C1 next line', 'cone\u0085name'],
    ['newline', 'new\nline'],
    ['only spaces', '    '],
    ['one space', ' '],
    ['only no-break spaces', '\u00a0\u00a0\u00a0'],
    ['only ideographic spaces', '\u3000\u3000'],
    ['spaces around a name', '  padded  '],
  ];

  for (const transport of TRANSPORTS) {
    test(`case 27: usernames with U+202E, U+200B, U+FEFF, control characters or only spaces (${transport})`, async () => {
      const fresh = await openCaller(transport);
      for (const [what, username] of hostile) {
        const r = await fresh.call('register', { username, password: PASSWORD });
        assertError(r, 'bad_request', 'params.username', `register: ${what}`);
      }
      fresh.close();

      const o = await owner('c27');
      const c = await openCaller(transport, o.token);
      for (const [what, username] of hostile) {
        assertError(await c.call('username.change', { username }), 'bad_request', 'params.username', `change: ${what}`);
      }
      const me = await o.http.call('whoami', {});
      assert.equal(me.user.username, o.username, 'the username did not change');
      // None of them exists: looking each up finds nobody (or is refused as no possible name).
      for (const [what, username] of hostile) {
        const r = await c.call('users.get', { username });
        assert.ok(
          r.error?.code === 'not_found' || r.error?.code === 'bad_request',
          `${what}: ${JSON.stringify(r).slice(0, 200)}`,
        );
      }
      c.close();
      await assertServerFine();
    });
  }
});

describe('case 27: U+0000 in what is looked up', () => {
  // No stored text holds U+0000 (PostgreSQL's text cannot): a look-up by it finds nothing, on every backend.
  const nul = 'x\u0000y';
  const cursor = (key: unknown[]) => Buffer.from(JSON.stringify(key), 'utf8').toString('base64url');

  for (const transport of TRANSPORTS) {
    test(`case 27: a name, code, search or page cursor holding U+0000 finds nothing or is refused as bad input (${transport})`, async () => {
      const o = await owner('c27n');
      const c = await openCaller(transport, o.token);
      assertError(await c.call('users.get', { username: nul }), 'not_found', undefined, 'users.get');
      const dm = await c.call('messages.send', { to: nul, body: 'hi', nonce: `c27n-${transport}` });
      assertError(dm, 'not_found', undefined, 'dm');
      const grp = await c.call('groups.create', { name: 'g', usernames: [nul] });
      assertError(grp, 'not_found', undefined, 'groups.create');
      const from = await c.call('messages.search', { query: 'hello', from: nul });
      assertError(from, 'not_found', 'params.from', 'search from');
      assertError(await c.call('invites.join', { code: nul }), 'not_found', undefined, 'invites.join');
      const revoke = await c.call('invites.revoke', { serverId: o.serverId, code: nul });
      assertError(revoke, 'not_found', undefined, 'invites.revoke');
      // In a query, U+0000 separates words as a space does.
      await o.http.call('messages.send', {
        conversationId: o.channelId,
        body: 'nul split words',
        nonce: `c27n-m-${transport}`,
      });
      const found = resultOf<{ hits: { message: { body: string } }[] }>(
        await c.call('messages.search', { query: 'split\u0000words', conversationId: o.channelId }),
        'search',
      );
      assert.deepEqual(
        found.hits.map((h) => h.message.body),
        ['nul split words'],
      );
      const lists: [string, Record<string, unknown>, unknown[]][] = [
        ['servers.list', {}, ['servers', nul, nul]],
        ['members.list', { serverId: o.serverId }, ['members', 1, nul, nul]],
        ['invites.list', { serverId: o.serverId }, ['invites', 1, nul]],
      ];
      for (const [op, params, key] of lists) {
        assertError(await c.call(op, { ...params, after: cursor(key) }), 'bad_request', 'params.after', op);
      }
      c.close();
      await assertServerFine();
    });
  }
});

describe('case 28: look-alike usernames', () => {
  // Base names made only of letters that have Cyrillic twins, one per transport (one database).
  const bases: Record<TransportName, { base: string; accented: string }> = {
    ws: { base: 'escape', accented: 'zoëws' },
    tcp: { base: 'cameo', accented: 'zoëtcp' },
    http: { base: 'yacht', accented: 'zoëhttp' },
  };
  const twins: Record<string, string> = {
    a: '\u0430',
    c: '\u0441',
    e: '\u0435',
    h: '\u043d',
    m: '\u043c',
    o: '\u043e',
    p: '\u0440',
    s: '\u0455',
    t: '\u0442',
    y: '\u0443',
  };
  const cyrillic = (s: string) => [...s].map((ch) => twins[ch] ?? ch).join('');

  for (const transport of TRANSPORTS) {
    test(`case 28: Cyrillic look-alike, other case, NFD vs NFC of a taken name (${transport})`, async () => {
      const { base, accented } = bases[transport];
      const http = new HttpApi(t.httpUrl);
      await http.call('register', { username: base, password: PASSWORD });
      // Registered in NFD, stored in NFC.
      const nfd = accented.normalize('NFD');
      assert.notEqual(nfd, accented.normalize('NFC'));
      const first = await openCaller(transport);
      const reg = resultOf<{ user: { username: string } }>(
        await first.call('register', { username: nfd, password: PASSWORD }),
      );
      assert.equal(reg.user.username, accented.normalize('NFC'));
      first.close();

      const allCyrillic = cyrillic(base);
      assert.ok(/^[\u0400-\u04ff]+$/u.test(allCyrillic), allCyrillic);
      const clashes: [string, string][] = [
        ['all-Cyrillic twin', allCyrillic],
        ['upper case', base.toUpperCase()],
        ['capitalised', `${base.charAt(0).toUpperCase()}${base.slice(1)}`],
        ['accented (NFC)', base.replace('e', '\u00e9').replace('a', '\u00e1')],
        ['accented (NFD)', base.replace('e', 'e\u0301').replace('a', 'a\u0301')],
        ['NFC of a name taken in NFD', accented.normalize('NFC')],
        ['NFD of a name taken in NFD', nfd],
        ['upper-case NFD', nfd.toUpperCase()],
      ];
      for (const [what, username] of clashes) {
        const c = await openCaller(transport);
        assertError(await c.call('register', { username, password: PASSWORD }), 'conflict', undefined, what);
        c.close();
      }
      // One swapped letter mixes two scripts: refused as malformed (docs: letters all from one script).
      const oneSwap = base.replace('a', '\u0430');
      assert.notEqual(oneSwap, base);
      const c = await openCaller(transport);
      assertError(
        await c.call('register', { username: oneSwap, password: PASSWORD }),
        'bad_request',
        'params.username',
      );
      c.close();

      // Renaming onto a look-alike of someone else's name is refused the same way.
      const o = await owner('c28');
      const mine = await openCaller(transport, o.token);
      for (const [what, username] of clashes) {
        assertError(await mine.call('username.change', { username }), 'conflict', undefined, `rename: ${what}`);
      }
      const me = await o.http.call('whoami', {});
      assert.equal(me.user.username, o.username);
      mine.close();
      await assertServerFine();
    });
  }
});

// ---------------------------------------------------------------------------------------------
// Case 29: terminal escape sequences.

describe('case 29: escape sequences in text', () => {
  // The server half: natter refuses control characters other than newline and tab in bodies
  // and in every other text field (docs/protocol.md, Text rules). The TUI half (untrusted
  // text shown with visible placeholders, terminal title and clipboard untouched) is covered
  // by test/tui/sanitize.test.ts and test/tui/components (MessageList, Sidebar, HeaderStatus,
  // Panels, QuickSwitcher: "sanitized" / "shown as placeholders").
  const escapes: [string, string][] = [
    ['OSC 0 window title', 'hi \u001b]0;pwned\u0007 there'],
    ['CSI clear screen', '\u001b[2J'],
    ['C1 CSI', '\u009b31mred'],
    ['carriage return', 'safe\rpwned'],
    ['backspace', 'abc\b\b\bxyz'],
    ['OSC 52 clipboard write', '\u001b]52;c;cHduZWQ=\u0007'],
    ['OSC 8 hyperlink', '\u001b]8;;https://evil.example\u001b\\click\u001b]8;;\u001b\\'],
    ['NUL', 'a\u0000b'],
    ['DEL', 'a\u007fb'],
    ['bidi override', 'abc\u202edcb'],
  ];

  for (const transport of TRANSPORTS) {
    test(`case 29: bodies with escape sequences are refused (${transport})`, async () => {
      const o = await owner('c29');
      const f = await friend();
      const c = await openCaller(transport, o.token);
      const ok = resultOf<{ message: { id: string; body: string } }>(
        await c.call('messages.send', { conversationId: o.channelId, body: 'line one\n\tline two', nonce: 'c29-ok' }),
      );
      assert.equal(ok.message.body, 'line one\n\tline two', 'newline and tab are allowed and kept');

      for (const [i, [what, text]] of escapes.entries()) {
        const send = await c.call('messages.send', { conversationId: o.channelId, body: text, nonce: `c29-${i}` });
        assertError(send, 'bad_request', 'params.body', `send: ${what}`);
        const dm = await c.call('messages.send', { to: f.username, body: text, nonce: `c29-dm-${i}` });
        assertError(dm, 'bad_request', 'params.body', `dm: ${what}`);
        const edit = await c.call('messages.edit', { messageId: ok.message.id, body: text });
        assertError(edit, 'bad_request', 'params.body', `edit: ${what}`);
        // The other text fields follow the same rule.
        const fields: [string, unknown, string][] = [
          ['profile.update', { displayName: text }, 'params.displayName'],
          ['profile.update', { status: text }, 'params.status'],
          ['profile.update', { bio: text }, 'params.bio'],
          ['servers.update', { serverId: o.serverId, name: text }, 'params.name'],
          ['servers.update', { serverId: o.serverId, description: text }, 'params.description'],
          ['channels.update', { channelId: o.channelId, topic: text }, 'params.topic'],
          ['groups.create', { name: text, usernames: [f.username] }, 'params.name'],
          ['bans.add', { serverId: o.serverId, userId: f.userId, reason: text }, 'params.reason'],
        ];
        for (const [op, params, field] of fields) {
          assertError(await c.call(op, params), 'bad_request', field, `${op} ${field}: ${what}`);
        }
      }
      assert.deepEqual(await bodies(o), ['line one\n\tline two'], 'nothing else was stored, nothing changed');
      const me = await o.http.call('whoami', {});
      assert.deepEqual([me.user.displayName, me.user.status, me.user.bio], [null, null, null]);
      assert.deepEqual(await channelState(o), { name: 'general', topic: null });
      assert.deepEqual((await o.http.call('groups.list', {})).groups, []);
      assert.deepEqual((await o.http.call('dms.list', {})).dms, []);
      c.close();
      await assertServerFine();
    });
  }
});

// ---------------------------------------------------------------------------------------------
// Case 30: huge names and topics.

describe('case 30: combining-mark and emoji floods', () => {
  const marks10k = `a${'\u0301'.repeat(10_000)}`;
  // 60,000 bytes: fits in one 64 KiB frame, so the text rules (not the frame limit) refuse it.
  const emoji60k = '😀'.repeat(15_000);
  const emoji1m = '😀'.repeat(256 * 1024);

  for (const transport of TRANSPORTS) {
    test(`case 30: a channel name or topic of 10k combining marks or a 1 MB emoji run (${transport})`, async () => {
      const o = await owner('c30');
      const f = await friend();
      const c = await openCaller(transport, o.token);
      const refused: [string, unknown, string][] = [
        ['channels.create', { serverId: o.serverId, name: marks10k }, 'params.name'],
        ['channels.create', { serverId: o.serverId, name: 'fine', topic: marks10k }, 'params.topic'],
        ['channels.update', { channelId: o.channelId, name: marks10k }, 'params.name'],
        ['channels.update', { channelId: o.channelId, topic: marks10k }, 'params.topic'],
        ['channels.update', { channelId: o.channelId, topic: emoji60k }, 'params.topic'],
        ['channels.create', { serverId: o.serverId, name: emoji60k }, 'params.name'],
        ['servers.update', { serverId: o.serverId, name: marks10k }, 'params.name'],
        ['groups.create', { name: marks10k, usernames: [f.username] }, 'params.name'],
        ['profile.update', { displayName: marks10k }, 'params.displayName'],
        ['messages.send', { conversationId: o.channelId, body: marks10k, nonce: 'c30-m' }, 'params.body'],
      ];
      for (const [op, params, field] of refused) {
        assertError(await c.call(op, params), 'bad_request', field, `${op} ${field}`);
      }

      // 1 MB is over the 64 KiB frame, line and body limit: refused before it is parsed.
      const huge = JSON.stringify({ channelId: o.channelId, topic: emoji1m });
      if (c instanceof SocketCaller) {
        c.sendText(`{"id":"big","op":"channels.update","params":${huge}}`);
        if (transport === 'ws') {
          assert.equal(await c.closeCode(), 1009);
        } else {
          assertError(await c.next(), 'payload_too_large');
          assert.equal(await c.closeCode(), 4010);
        }
      } else {
        const r = await httpRaw('channels.update', huge, o.token);
        assert.equal(r.status, 413);
        assertError(r, 'payload_too_large');
      }

      assert.deepEqual(await channelState(o), { name: 'general', topic: null }, 'the channel is unchanged');
      const { channels } = await o.http.call('channels.list', { serverId: o.serverId });
      assert.equal(channels.length, 1, 'no channel was created');
      assert.deepEqual(await bodies(o), []);
      c.close();
      await assertServerFine();
    });
  }
});

// ---------------------------------------------------------------------------------------------
// Case 33: SQL metacharacters.

describe('case 33: SQL metacharacters are data', () => {
  const SQL = [
    "'; DROP TABLE users; --",
    "Robert'); DROP TABLE messages;--",
    '%',
    '_',
    '%_%',
    "' OR '1'='1",
    '"; DELETE FROM sessions; --',
    '\\',
    '\\%\\_',
  ];

  for (const transport of TRANSPORTS) {
    test(`case 33: SQL metacharacters in every string field are stored literally (${transport})`, async () => {
      const f = await friend();
      // Registering through the transport, with a hostile client name for the session.
      const c = await openCaller(transport);
      const username = uniqueName('c33');
      const reg = resultOf<{ token: string }>(
        await c.call('register', { username, password: PASSWORD, client: "'; DROP TABLE sessions; --" }),
      );
      const http = new HttpApi(t.httpUrl);
      http.token = reg.token;
      const { sessions } = await http.call('sessions.list', {});
      assert.equal(sessions[0]?.client, "'; DROP TABLE sessions; --");

      const created = resultOf<{ server: { id: string }; channels: { id: string }[] }>(
        await c.call('servers.create', { name: SQL[0], description: SQL[1] }),
      );
      const serverId = created.server.id;
      const channelId = created.channels[0]?.id ?? '';
      const group = resultOf<{ group: { id: string } }>(
        await c.call('groups.create', { name: SQL[0], usernames: [f.username] }),
      );

      for (const [i, s] of SQL.entries()) {
        const what = `${JSON.stringify(s)}`;
        const profile = resultOf<{ user: { displayName: string; status: string; bio: string } }>(
          await c.call('profile.update', { displayName: s, status: s, bio: `${s}\n${s}` }),
          what,
        );
        assert.deepEqual([profile.user.displayName, profile.user.status, profile.user.bio], [s, s, `${s}\n${s}`]);
        const me = await http.call('whoami', {});
        assert.deepEqual([me.user.displayName, me.user.status, me.user.bio], [s, s, `${s}\n${s}`], what);

        resultOf(await c.call('servers.update', { serverId, name: s, description: `${s} ${s}` }), what);
        const { server } = await http.call('servers.get', { serverId });
        assert.deepEqual([server.name, server.description], [s, `${s} ${s}`], what);

        resultOf(await c.call('channels.update', { channelId, topic: s }), what);
        const ch = (await http.call('channels.list', { serverId })).channels.find((x) => x.id === channelId);
        assert.equal(ch?.topic, s, what);

        resultOf(await c.call('groups.rename', { groupId: group.group.id, name: s }), what);
        const g = (await http.call('groups.list', {})).groups.find((x) => x.id === group.group.id);
        assert.equal(g?.name, s, what);

        const sent = resultOf<{ message: { id: string; body: string } }>(
          await c.call('messages.send', { conversationId: channelId, body: s, nonce: `c33-${i}` }),
          what,
        );
        assert.equal(sent.message.body, s);
        resultOf(await c.call('messages.edit', { messageId: sent.message.id, body: `${s} (edited)` }), what);
        resultOf(await c.call('messages.send', { conversationId: group.group.id, body: s, nonce: `c33-g-${i}` }), what);

        resultOf(await c.call('tokens.create', { name: `${s} ${i}` }), what);
        resultOf(await c.call('bans.add', { serverId, userId: f.userId, reason: s }), what);
        const { bans } = await http.call('bans.list', { serverId });
        assert.equal(bans[0]?.reason, s, what);
      }

      const { messages } = await http.call('messages.history', { conversationId: channelId, limit: 100 });
      assert.deepEqual(
        messages.map((m) => m.body),
        SQL.map((s) => `${s} (edited)`),
      );
      const inGroup = await http.call('messages.history', { conversationId: group.group.id, limit: 100 });
      assert.deepEqual(
        inGroup.messages.map((m) => m.body),
        SQL,
      );
      const { tokens } = await http.call('tokens.list', {});
      assert.deepEqual(tokens.map((x) => x.name).sort(), SQL.map((s, i) => `${s} ${i}`).sort());

      // Channel names may hold "_" and "-" only: "--" and "_" stay literal too.
      const made = resultOf<{ channel: { name: string } }>(
        await c.call('channels.create', { serverId, name: '_drop--table_' }),
      );
      assert.equal(made.channel.name, '_drop--table_');

      // "%" and "_" are not wildcards anywhere a name is looked up.
      for (const pattern of ['%', '_%', `${username.slice(0, 3)}%`, '__']) {
        assertError(await c.call('users.get', { username: pattern }), 'not_found', undefined, `users.get ${pattern}`);
        const dm = await c.call('messages.send', { to: pattern, body: 'hi', nonce: `c33-dm-${pattern}` });
        assertError(dm, 'not_found', undefined, `dm to ${pattern}`);
        const grp = await c.call('groups.create', { name: 'g', usernames: [pattern] });
        assertError(grp, 'not_found', undefined, `group with ${pattern}`);
      }
      c.close();

      // Every table is still there, and the database is sound.
      const tables = await t.sql.tables();
      for (const name of ['users', 'sessions', 'servers', 'members', 'bans', 'conversations', 'messages', 'events']) {
        assert.ok(tables.includes(name), `table ${name} is gone: ${tables.join(', ')}`);
      }
      const users = await t.sql.get<{ n: number }>('SELECT count(*) AS n FROM users');
      assert.ok(Number(users?.n) > 2);
      assert.equal(await t.sql.integrity(), 'ok');
      await assertServerFine();
    });
  }
});
