import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import bcrypt from 'bcryptjs';
import Database from 'better-sqlite3';
import type { NatterClient } from '../../src/client/index.js';
import {
  LIMITS,
  type Message,
  type OpName,
  type ParamsIn,
  type ResultOf,
  type SearchHit,
  usernameKey,
} from '../../src/protocol/index.js';
import { DB_FILE } from '../../src/server/db/index.js';
import { SCAN_MAX, SCOPES_IN_QUERY } from '../../src/server/handlers/search.js';
import { connectAs, HttpApi, PASSWORD, rejection, TRANSPORTS, type TransportName, uniqueName } from '../helpers/api.js';
import { databaseAt } from '../helpers/old-database.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * `messages.search`: full-text search over the messages the caller can read
 * now, newest first, on every transport. Every reply is checked against the
 * protocol's result schema by the test clients.
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

async function newUser(prefix = 'sr', server = t): Promise<Account> {
  const username = uniqueName(prefix);
  const reg = await new HttpApi(server.httpUrl).call('register', { username, password: PASSWORD });
  return { username, token: reg.token, id: reg.user.id };
}

/** Calls operations as `token` over HTTP (set-up goes this way: it is the quickest). */
function hc(token: string, server = t): Caller {
  const api = new HttpApi(server.httpUrl);
  api.token = token;
  return (op, params) => api.call(op, params);
}

/** Calls operations as `token` over `transport`. */
async function callerFor(transport: TransportName, token: string, server = t): Promise<Caller> {
  if (transport === 'http') return hc(token, server);
  const client = await connectAs(transport === 'ws' ? server.wsUrl : server.tcpUrl, token);
  opened.push(client);
  return (op, params) => client.request(op, params);
}

async function send(call: Caller, conversationId: string, body: string): Promise<Message> {
  return (await call('messages.send', { conversationId, body, nonce: `n-${randomUUID()}` })).message;
}

/** `owner` creates a server; `members` join it by invite. */
async function shareServer(owner: Account, members: Account[], name = 'Search Test', server = t) {
  const o = hc(owner.token, server);
  const created = await o('servers.create', { name });
  const general = created.channels[0];
  assert.ok(general, 'a new server has a general channel');
  if (members.length > 0) {
    const { invite } = await o('invites.create', { serverId: created.server.id });
    for (const m of members) await hc(m.token, server)('invites.join', { code: invite.code });
  }
  return { serverId: created.server.id, channelId: general.id };
}

/** A group of `owner` with `members`, each of whom accepts the invitation. */
async function shareGroup(owner: Account, members: Account[], name = 'Search Group') {
  const { group } = await hc(owner.token)('groups.create', { name, usernames: members.map((m) => m.username) });
  for (const m of members) await hc(m.token)('groups.accept', { groupId: group.id });
  return group.id;
}

/** The DM between two people, opened by a first message from `a`. */
async function dm(a: Account, b: Account, body: string, server = t): Promise<Message> {
  return (await hc(a.token, server)('messages.send', { to: b.username, body, nonce: `n-${randomUUID()}` })).message;
}

/** The ids of the hits of one search (one page). */
async function found(call: Caller, params: ParamsIn<'messages.search'>): Promise<string[]> {
  const r = await call('messages.search', params);
  return r.hits.map((h) => h.message.id);
}

/** Every hit of a search, page by page; no message may come twice. */
async function allHits(
  call: Caller,
  params: ParamsIn<'messages.search'>,
): Promise<{ hits: SearchHit[]; pages: number }> {
  const hits: SearchHit[] = [];
  let afterCursor: string | undefined;
  for (let pages = 1; pages <= 1000; pages++) {
    const r = await call('messages.search', { ...params, ...(afterCursor ? { after: afterCursor } : {}) });
    assert.ok(r.hits.length <= (params.limit ?? LIMITS.searchPageMax), 'a page holds at most `limit` hits');
    hits.push(...r.hits);
    if (r.next === null) {
      const ids = hits.map((h) => h.message.id);
      assert.equal(new Set(ids).size, ids.length, `no hit comes twice: ${ids.join(' ')}`);
      return { hits, pages };
    }
    afterCursor = r.next;
  }
  throw new Error('the search did not end after 1000 pages');
}

/** A hit's body with its matches in brackets. */
function marked(hit: SearchHit): string {
  const chars = Array.from(hit.message.body);
  for (const [start, end] of [...hit.matches].reverse()) {
    chars.splice(end, 0, ']');
    chars.splice(start, 0, '[');
  }
  return chars.join('');
}

/** The error of a request expected to be refused (made on its own, awaited at once). */
async function refused(p: Promise<unknown>): Promise<{ code: string; message: string; field: string | undefined }> {
  const err = await rejection(p);
  return { code: err.code, message: err.message, field: err.field };
}

/** An id in the server's alphabet that names nothing. */
function randomId(): string {
  return randomBytes(16).toString('base64url');
}

for (const transport of TRANSPORTS) {
  describe(`messages.search over ${transport}`, () => {
    test('finds a word whatever its case and accents; the hit is the message, its conversation and where it matched', async () => {
      const alice = await newUser('sa');
      const { serverId, channelId } = await shareServer(alice, []);
      const call = await callerFor(transport, alice.token);
      const m1 = await send(call, channelId, 'Un CAFÉ crème, s’il vous plaît');
      const m2 = await send(call, channelId, 'cafe au lait');
      await send(call, channelId, 'tea only');
      for (const query of ['cafe', 'CAFE', 'café', 'Café', 'CAFÉ', 'caFÉ ']) {
        const r = await call('messages.search', { query });
        assert.deepEqual(
          r.hits.map((h) => h.message.id),
          [m2.id, m1.id],
          `"${query}" finds both, newest first`,
        );
        assert.equal(r.next, null);
      }
      const r = await call('messages.search', { query: 'CREME' });
      assert.equal(r.hits.length, 1);
      const hit = r.hits[0] as SearchHit;
      assert.deepEqual(hit.message, m1, 'the message as history has it');
      assert.equal(hit.message.seq, 1);
      assert.deepEqual(hit.conversation, {
        id: channelId,
        kind: 'channel',
        serverId,
        serverName: 'Search Test',
        name: 'general',
      });
      assert.equal(marked(hit), 'Un CAFÉ [crème], s’il vous plaît');
      const both = await call('messages.search', { query: 'plait cafe' });
      assert.deepEqual(
        both.hits.map(marked),
        ['Un [CAFÉ] crème, s’il vous [plaît]'],
        'every word must be in the message',
      );
      assert.deepEqual(await found(call, { query: 'coffee' }), []);
    });

    test('the last word is a prefix from three characters on, unless a space ends the query', async () => {
      const alice = await newUser('sp');
      const { channelId } = await shareServer(alice, []);
      const call = await callerFor(transport, alice.token);
      const deployment = await send(call, channelId, 'the deployment went fine');
      const deploy = await send(call, channelId, 'we deploy on Fridays');
      const facto = await send(call, channelId, 'de facto standard');
      await send(call, channelId, 'we redeploy later');
      assert.deepEqual(await found(call, { query: 'deplo' }), [deploy.id, deployment.id]);
      assert.deepEqual(await found(call, { query: 'DEPLO' }), [deploy.id, deployment.id]);
      assert.deepEqual(await found(call, { query: 'deplo ' }), [], 'a finished word is whole');
      assert.deepEqual(await found(call, { query: 'deploy ' }), [deploy.id]);
      assert.deepEqual(await found(call, { query: 'deployment' }), [deployment.id]);
      assert.deepEqual(await found(call, { query: 'de' }), [facto.id], 'two characters are a whole word');
      assert.deepEqual(await found(call, { query: 'fine deplo' }), [deployment.id]);
      assert.deepEqual(await found(call, { query: 'went deployment' }), [deployment.id]);
      assert.deepEqual(await found(call, { query: 'deplo fine' }), [], 'only the last word is a prefix');
      const r = await call('messages.search', { query: 'fri' });
      assert.deepEqual(r.hits.map(marked), ['we deploy on [Fridays]']);
    });

    test('quotes, stars, colons, brackets and operators are plain text: never a syntax error, never an operator', async () => {
      const alice = await newUser('sq');
      const bob = await newUser('sq');
      const carol = await newUser('sq');
      const { channelId } = await shareServer(alice, []);
      const call = await callerFor(transport, alice.token);
      const aOrB = await send(call, channelId, 'a or b');
      await send(call, channelId, 'plan a, then b');
      const near = await send(call, channelId, 'meet near the station');
      const and = await send(call, channelId, 'x AND y');
      const quote = await send(call, channelId, 'say "hi" now');
      const colon = await send(call, channelId, 'col:val pair');
      const minus = await send(call, channelId, 'minus -sign');
      // Someone else's DM: no query may reach it.
      await dm(bob, carol, 'secret plans');
      const cases: [string, string[]][] = [
        ['"', []],
        ['""', []],
        ['*', []],
        ['(', []],
        [')', []],
        ['-', []],
        [':', []],
        ['^', []],
        ['a OR b', [aOrB.id]],
        ['OR', [aOrB.id]],
        ['NEAR(', [near.id]],
        ['NEAR(a b, 2)', []],
        ['x AND y', [and.id]],
        ['AND', [and.id]],
        ['NOT', []],
        ['"hi"', [quote.id]],
        ['"hi', [quote.id]],
        ['say "hi', [quote.id]],
        ['col:val', [colon.id]],
        ['col : val', [colon.id]],
        ['-sign', [minus.id]],
        ['body:secret', []],
        ['secret', []],
        ['secret*', []],
        ['x" OR "secret', []],
        ['secret") OR scope:("', []],
        ['{body author} : secret', []],
        ['secret OR a', []],
      ];
      for (const [query, expected] of cases) {
        assert.deepEqual(await found(call, { query }), expected, `query ${JSON.stringify(query)}`);
      }
    });

    test('a blank query is refused with bad_request, and so are overlong ones and too many words', async () => {
      const alice = await newUser('sb');
      const call = await callerFor(transport, alice.token);
      for (const query of ['', ' ', '\t\n ', '\u2800\u2800']) {
        const err = await refused(call('messages.search', { query }));
        assert.equal(err.code, 'bad_request', JSON.stringify(query));
        assert.equal(err.field, 'params.query');
        assert.match(err.message, /the search query is empty; give at least one word to look for/);
      }
      const long = await refused(call('messages.search', { query: 'x'.repeat(LIMITS.searchQueryMax + 1) }));
      assert.equal(long.code, 'bad_request');
      assert.match(long.message, /at most 256 characters/);
      const words = Array.from({ length: LIMITS.searchWordsMax + 1 }, (_, i) => `w${i}`);
      const many = await refused(call('messages.search', { query: words.join(' ') }));
      assert.equal(many.code, 'bad_request');
      assert.match(many.message, /at most 16 different words/);
      // Sixteen words, or a word repeated in any case, are fine.
      assert.deepEqual(await found(call, { query: words.slice(1).join(' ') }), []);
      assert.deepEqual(await found(call, { query: Array(12).fill('Again again').join(' ') }), []);
      const limit = await refused(call('messages.search', { query: 'x', limit: LIMITS.searchPageMax + 1 }));
      assert.equal(limit.code, 'bad_request');
      assert.equal(limit.field, 'params.limit');
      const cursor = await refused(call('messages.search', { query: 'x', after: 'bm90IGEgY3Vyc29y' }));
      assert.equal(cursor.code, 'bad_request');
      assert.equal(cursor.field, 'params.after');
      await hc(alice.token)('servers.create', { name: 'one' });
      await hc(alice.token)('servers.create', { name: 'two' });
      const list = await hc(alice.token)('servers.list', { limit: 1 });
      assert.ok(list.next);
      const foreign = await refused(call('messages.search', { query: 'x', after: list.next }));
      assert.equal(foreign.code, 'bad_request', "another list's cursor");
      assert.equal(foreign.field, 'params.after');
    });

    test('only messages the caller can read now: not others’ DMs, not servers they are not in, left, were kicked or banned from, not groups they left or were only invited to', async () => {
      await readableOnly(transport, 0);
    });

    test('conversationId keeps to one conversation; one the caller cannot read is not_found, like one that does not exist', async () => {
      const alice = await newUser('sc');
      const bob = await newUser('sc');
      const carol = await newUser('sc');
      const { serverId, channelId } = await shareServer(alice, [bob]);
      const dev = (await hc(alice.token)('channels.create', { serverId, name: 'dev' })).channel.id;
      const groupId = await shareGroup(alice, [bob]);
      const call = await callerFor(transport, alice.token);
      const inGeneral = await send(call, channelId, 'kiwi in general');
      const inDev = await send(call, dev, 'kiwi in dev');
      const inGroup = await send(call, groupId, 'kiwi in the group');
      const inDm = await dm(bob, alice, 'kiwi between us');
      const other = await shareServer(carol, [], 'Elsewhere');
      await send(hc(carol.token), other.channelId, 'kiwi elsewhere');
      assert.deepEqual(await found(call, { query: 'kiwi' }), [inDm.id, inGroup.id, inDev.id, inGeneral.id]);
      assert.deepEqual(await found(call, { query: 'kiwi', conversationId: channelId }), [inGeneral.id]);
      assert.deepEqual(await found(call, { query: 'kiwi', conversationId: dev }), [inDev.id]);
      assert.deepEqual(await found(call, { query: 'kiwi', conversationId: groupId }), [inGroup.id]);
      assert.deepEqual(await found(call, { query: 'kiwi', conversationId: inDm.conversationId }), [inDm.id]);
      const r = await call('messages.search', { query: 'kiwi', conversationId: inDm.conversationId });
      assert.deepEqual(r.hits[0]?.conversation, {
        id: inDm.conversationId,
        kind: 'dm',
        serverId: null,
        serverName: null,
        name: bob.username,
      });
      const g = await call('messages.search', { query: 'kiwi', conversationId: groupId });
      assert.deepEqual(g.hits[0]?.conversation, {
        id: groupId,
        kind: 'group',
        serverId: null,
        serverName: null,
        name: 'Search Group',
      });
      const hidden = await refused(call('messages.search', { query: 'kiwi', conversationId: other.channelId }));
      const missing = await refused(call('messages.search', { query: 'kiwi', conversationId: randomId() }));
      assert.equal(hidden.code, 'not_found');
      assert.deepEqual(hidden, missing, 'a conversation the caller cannot read looks like one that does not exist');
      await hc(alice.token)('groups.leave', { groupId });
      const left = await refused(call('messages.search', { query: 'kiwi', conversationId: groupId }));
      assert.deepEqual(left, missing, 'a group left is not_found too');
    });

    test('from keeps to one author, named in any form; an unknown name is not_found on params.from', async () => {
      const alice = await newUser('sf');
      const bob = await newUser('sf');
      const carol = await newUser('sf');
      const { channelId } = await shareServer(alice, [bob, carol]);
      const call = await callerFor(transport, alice.token);
      const byBob = await send(hc(bob.token), channelId, 'mango season');
      const byCarol = await send(hc(carol.token), channelId, 'mango lassi');
      const bobDm = await dm(bob, alice, 'a mango for you');
      assert.deepEqual(await found(call, { query: 'mango' }), [bobDm.id, byCarol.id, byBob.id]);
      assert.deepEqual(await found(call, { query: 'mango', from: bob.username }), [bobDm.id, byBob.id]);
      assert.deepEqual(await found(call, { query: 'mango', from: `@${bob.username.toUpperCase()}` }), [
        bobDm.id,
        byBob.id,
      ]);
      assert.deepEqual(await found(call, { query: 'mango', from: carol.username }), [byCarol.id]);
      assert.deepEqual(await found(call, { query: 'mango', from: alice.username }), []);
      assert.deepEqual(await found(call, { query: 'mango', from: bob.username, conversationId: channelId }), [
        byBob.id,
      ]);
      const unknown = await refused(call('messages.search', { query: 'mango', from: 'nobody-at-all' }));
      assert.equal(unknown.code, 'not_found');
      assert.equal(unknown.field, 'params.from');
      assert.match(unknown.message, /no user named "nobody-at-all"/);
    });

    test('paging gives every hit exactly once, newest first, and a message sent meanwhile does not upset it', async () => {
      const alice = await newUser('sg');
      const bob = await newUser('sg');
      const { channelId } = await shareServer(alice, [bob]);
      const call = await callerFor(transport, alice.token);
      const sent: Message[] = [];
      for (let i = 0; i < 23; i++) {
        sent.push(await send(call, channelId, `papaya number ${i}`));
        if (i % 5 === 0) await send(call, channelId, `something else ${i}`);
        if (i % 7 === 0) sent.push(await dm(bob, alice, `papaya in a DM ${i}`));
      }
      const expected = sent.map((m) => m.id).reverse();
      const { hits, pages } = await allHits(call, { query: 'papaya', limit: 5 });
      assert.deepEqual(
        hits.map((h) => h.message.id),
        expected,
      );
      assert.equal(pages, Math.ceil(expected.length / 5));
      // Paging on while a new message arrives: it is newer than the first page, so it is not in the pages after it.
      const first = await call('messages.search', { query: 'papaya', limit: 10 });
      assert.ok(first.next);
      const newer = await send(call, channelId, 'papaya, late');
      const rest = await allHits(call, {
        query: 'papaya',
        limit: 10,
        after: first.next,
      } as ParamsIn<'messages.search'>);
      assert.deepEqual(
        [...first.hits, ...rest.hits].map((h) => h.message.id),
        expected,
      );
      assert.equal((await call('messages.search', { query: 'papaya', limit: 1 })).hits[0]?.message.id, newer.id);
      // The default page is the largest, 50.
      const whole = await call('messages.search', { query: 'papaya' });
      assert.equal(whole.hits.length, expected.length + 1);
      assert.equal(whole.next, null);
    });

    test('an edit is found by its new words and no longer by its old ones; a deleted message is never found', async () => {
      const alice = await newUser('se');
      const bob = await newUser('se');
      const { serverId, channelId } = await shareServer(alice, [bob]);
      const call = await callerFor(transport, alice.token);
      const m = await send(call, channelId, 'an old draft with typos');
      assert.deepEqual(await found(call, { query: 'draft' }), [m.id]);
      const edited = (await call('messages.edit', { messageId: m.id, body: 'a brand new text' })).message;
      assert.deepEqual(await found(call, { query: 'draft' }), [], 'the old words are gone');
      assert.deepEqual(await found(call, { query: 'typ' }), []);
      const r = await call('messages.search', { query: 'brand' });
      assert.deepEqual(r.hits[0]?.message, edited, 'found as edited');
      assert.equal(marked(r.hits[0] as SearchHit), 'a [brand] new text');
      // Deleted by its author.
      await call('messages.delete', { messageId: m.id });
      for (const query of ['brand', 'bra', 'new text', 'draft']) assert.deepEqual(await found(call, { query }), []);
      // Deleted by a moderator.
      const bobs = await send(hc(bob.token), channelId, 'unwelcome spam here');
      assert.deepEqual(await found(call, { query: 'spam' }), [bobs.id]);
      await call('messages.delete', { messageId: bobs.id });
      assert.deepEqual(await found(call, { query: 'spam' }), []);
      assert.deepEqual(await found(hc(bob.token), { query: 'spam' }), [], 'not for its author either');
      // Gone with their channel, and with their server.
      const dev = (await call('channels.create', { serverId, name: 'doomed' })).channel.id;
      await send(call, dev, 'doomed words');
      assert.equal((await found(call, { query: 'doomed' })).length, 1);
      await call('channels.delete', { channelId: dev });
      assert.deepEqual(await found(call, { query: 'doomed' }), []);
      await send(call, channelId, 'server words');
      assert.equal((await found(call, { query: 'server words' })).length, 1);
      await call('servers.delete', { serverId });
      assert.deepEqual(await found(call, { query: 'server words' }), []);
    });
  });
}

/**
 * Alice searches for "zebra" among messages she can read and others she cannot
 * (any more). With `extraServers`, she first creates that many servers of her
 * own, so her scopes no longer fit in the index query and each match is
 * checked apart.
 */
async function readableOnly(transport: TransportName, extraServers: number): Promise<void> {
  const alice = await newUser('so');
  const bob = await newUser('so');
  const carol = await newUser('so');
  for (let i = 0; i < extraServers; i++) await hc(alice.token)('servers.create', { name: `pad ${i}` });
  const call = await callerFor(transport, alice.token);
  const mine = await shareServer(alice, []);
  const inMine = await send(call, mine.channelId, 'zebra in my server');
  const ours = await dm(bob, alice, 'zebra between us');
  const theirs = await dm(bob, carol, 'zebra in their DM');
  const elsewhere = await shareServer(carol, [bob], 'Elsewhere');
  await send(hc(carol.token), elsewhere.channelId, 'zebra where alice never was');
  const left = await shareServer(bob, [alice], 'Left');
  const inLeft = await send(hc(bob.token), left.channelId, 'zebra in a server alice leaves');
  const kicked = await shareServer(bob, [alice], 'Kicked');
  const inKicked = await send(hc(bob.token), kicked.channelId, 'zebra in a server alice is kicked from');
  const banned = await shareServer(bob, [alice], 'Banned');
  const inBanned = await send(hc(bob.token), banned.channelId, 'zebra in a server alice is banned from');
  const groupId = await shareGroup(bob, [alice]);
  const inGroup = await send(hc(bob.token), groupId, 'zebra in a group alice leaves');
  const invited = (await hc(carol.token)('groups.create', { name: 'Invited', usernames: [alice.username] })).group;
  await send(hc(carol.token), invited.id, 'zebra in a group alice was only invited to');

  const before = [inBanned, inKicked, inLeft, inGroup, ours, inMine];
  assert.deepEqual(
    (await found(call, { query: 'zebra' })).sort(),
    before.map((m) => m.id).sort(),
    'alice finds what she can read',
  );
  await hc(alice.token)('servers.leave', { serverId: left.serverId });
  await hc(bob.token)('members.kick', { serverId: kicked.serverId, userId: alice.id });
  await hc(bob.token)('bans.add', { serverId: banned.serverId, userId: alice.id });
  await hc(alice.token)('groups.leave', { groupId });
  assert.deepEqual(await found(call, { query: 'zebra' }), [ours.id, inMine.id], 'only her server and her DM are left');
  assert.deepEqual(await found(call, { query: 'zebra', from: bob.username }), [ours.id]);
  // Bob and carol still find theirs.
  assert.ok((await found(hc(carol.token), { query: 'zebra' })).includes(theirs.id));
  assert.ok((await found(hc(bob.token), { query: 'zebra' })).includes(inLeft.id));
  // Back in a server: its messages are found again.
  const { invite } = await hc(bob.token)('invites.create', { serverId: left.serverId });
  await hc(alice.token)('invites.join', { code: invite.code });
  assert.deepEqual(await found(call, { query: 'zebra' }), [inLeft.id, ours.id, inMine.id]);
}

describe('a caller in more servers, groups and DMs than the index query takes', () => {
  for (const transport of TRANSPORTS) {
    test(`over ${transport}, still only what they can read`, async () => {
      await readableOnly(transport, SCOPES_IN_QUERY + 1);
    });
  }
});

describe('a word that is mostly where the caller cannot read', () => {
  /**
   * More matches than a page looks at, nearly all in a server the caller is
   * not in, written straight into the database (the triggers index them as
   * any write): pages end early, some empty, and still every hit comes once.
   */
  let own: TestServer;
  let eve: Account;
  const readable: string[] = [];

  before(async () => {
    own = await startTestServer();
    const mallory = await newUser('sm', own);
    eve = await newUser('sm', own);
    const hidden = await shareServer(mallory, [], 'Hidden', own);
    const shared = await shareServer(mallory, [eve], 'Shared', own);
    for (let i = 0; i < SCOPES_IN_QUERY + 1; i++) await hc(eve.token, own)('servers.create', { name: `pad ${i}` });
    await own.stop();
    const sqlite = new Database(join(own.dataDir, DB_FILE));
    const insert = sqlite.prepare(
      `INSERT INTO messages (id, conversation_id, seq, author_id, body, created_at, nonce) VALUES (?, ?, ?, ?, ?, ?, ?)`,
    );
    const total = SCAN_MAX * 2 + 500;
    const seqs = new Map<string, number>();
    sqlite.transaction(() => {
      for (let i = 0; i < total; i++) {
        const visible = i === 10 || i === SCAN_MAX + 100 || i === total - 1;
        const conv = visible ? shared.channelId : hidden.channelId;
        const seq = (seqs.get(conv) ?? 0) + 1;
        seqs.set(conv, seq);
        const id = `bulk${i}`;
        insert.run(id, conv, seq, mallory.id, `needle number ${i}`, 1_700_000_000_000 + i, id);
        if (visible) readable.unshift(id);
      }
      const setSeq = sqlite.prepare('UPDATE conversations SET last_seq = ? WHERE id = ?');
      for (const [conv, seq] of seqs) setSeq.run(seq, conv);
    })();
    sqlite.close();
    own = await startTestServer({}, own.dataDir);
  });
  after(() => own.destroy());

  for (const transport of TRANSPORTS) {
    test(`over ${transport}, pages stop early and go on from where they stopped`, async () => {
      const call = await callerFor(transport, eve.token, own);
      const first = await call('messages.search', { query: 'needle' });
      assert.deepEqual(
        first.hits.map((h) => h.message.id),
        [readable[0]],
        'the first page looked at a bounded number of matches',
      );
      assert.ok(first.next, 'and says where to go on');
      const { hits, pages } = await allHits(call, { query: 'needle' });
      assert.deepEqual(
        hits.map((h) => h.message.id),
        readable,
      );
      assert.ok(pages >= 3, `${pages} pages`);
      assert.deepEqual(
        hits.map(marked),
        readable.map((id) => `[needle] number ${id.slice(4)}`),
      );
    });
  }
});

describe('the index on disk', () => {
  test('survives a restart and a VACUUM, and stays consistent with the messages', async () => {
    const own = await startTestServer();
    try {
      const alice = await newUser('sd', own);
      const bob = await newUser('sd', own);
      const { serverId, channelId } = await shareServer(alice, [bob], 'Durable', own);
      const call = hc(alice.token, own);
      const kept: Message[] = [];
      for (let i = 0; i < 5; i++) kept.push(await send(call, channelId, `durable words ${i}`));
      const gone = await send(call, channelId, 'durable but deleted');
      await call('messages.delete', { messageId: gone.id });
      const edited = await send(call, channelId, 'soon rewritten');
      kept.push((await call('messages.edit', { messageId: edited.id, body: 'durable after all' })).message);
      const fromBob = await dm(bob, alice, 'durable in a DM', own);
      kept.push(fromBob);
      // Messages that go with their channel and their group leave the index by cascade.
      const doomed = (await call('channels.create', { serverId, name: 'doomed' })).channel.id;
      await send(call, doomed, 'durable till the channel goes');
      await call('channels.delete', { channelId: doomed });
      const groupId = (await call('groups.create', { name: 'brief', usernames: [bob.username] })).group.id;
      await send(call, groupId, 'durable till the group goes');
      await call('groups.leave', { groupId });
      const expected = kept.map((m) => m.id).reverse();
      const before = await call('messages.search', { query: 'durable' });
      assert.deepEqual(
        before.hits.map((h) => h.message.id),
        expected,
      );
      await own.stop();

      const sqlite = new Database(join(own.dataDir, DB_FILE));
      const keys = () => sqlite.prepare('SELECT key, message_id FROM message_search_rows ORDER BY key').all();
      const keysBefore = keys();
      sqlite.exec('VACUUM');
      assert.deepEqual(keys(), keysBefore, 'VACUUM keeps the index keys');
      // FTS5's own check: the index holds exactly what the content view says (rank 1: compare with the content).
      sqlite.exec(`INSERT INTO message_search (message_search, rank) VALUES ('integrity-check', 1)`);
      sqlite.close();

      const again = await startTestServer({}, own.dataDir);
      try {
        for (const transport of TRANSPORTS) {
          const c = await callerFor(transport, alice.token, again);
          const after = await c('messages.search', { query: 'durable' });
          assert.deepEqual(after, before, `the same hits over ${transport} after the restart`);
        }
        const late = await send(hc(alice.token, again), channelId, 'durable, late');
        assert.deepEqual(await found(hc(alice.token, again), { query: 'durable' }), [late.id, ...expected]);
      } finally {
        for (const c of opened.splice(0)) c.close();
        await again.stop();
      }
      const check = new Database(join(own.dataDir, DB_FILE));
      check.exec(`INSERT INTO message_search (message_search, rank) VALUES ('integrity-check', 1)`);
      check.close();
    } finally {
      await own.destroy();
    }
  });

  test('migration 0007 indexes the messages stored before it, oldest first, deleted ones left out', async () => {
    const root = mkdtempSync(join(tmpdir(), 'natter-migrate-'));
    try {
      // A database as the previous release left it: migrations 0000-0006, rows written in that schema.
      const { sqlite, dataDir } = databaseAt(root, 6);
      const index = sqlite.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name LIKE 'message_search%'");
      assert.deepEqual(index.get(), { n: 0 }, 'no index before 0007');
      const hash = bcrypt.hashSync(PASSWORD, 4);
      const addUser = sqlite.prepare(
        `INSERT INTO users (id, username, username_key, password_hash, created_at, updated_at) VALUES (?, ?, ?, ?, 0, 0)`,
      );
      const alice = { id: 'aliceOldId', username: uniqueName('old') };
      const bob = { id: 'bobOldId', username: uniqueName('old') };
      for (const u of [alice, bob]) addUser.run(u.id, u.username, usernameKey(u.username), hash);
      sqlite.exec(`
        INSERT INTO servers (id, name, owner_id, created_at, updated_at) VALUES ('srvOld', 'Old Town', 'aliceOldId', 0, 0);
        INSERT INTO members (server_id, user_id, role, joined_at) VALUES ('srvOld', 'aliceOldId', 'owner', 0);
        INSERT INTO conversations (id, kind, server_id, name, last_seq, created_at) VALUES ('chanOld', 'channel', 'srvOld', 'general', 3, 0);
        INSERT INTO conversations (id, kind, dm_key, last_seq, created_at) VALUES ('dmOld', 'dm', 'aliceOldId:bobOldId', 1, 0);
        INSERT INTO conversation_members (conversation_id, user_id, joined_at) VALUES ('dmOld', 'aliceOldId', 0), ('dmOld', 'bobOldId', 0);
        INSERT INTO messages (id, conversation_id, seq, author_id, body, created_at, edited_at, deleted_at, nonce) VALUES
          ('old1', 'chanOld', 1, 'aliceOldId', 'Ancient café notes', 1000, NULL, NULL, 'o1'),
          ('old2', 'chanOld', 2, 'aliceOldId', '', 2000, NULL, 2500, 'o2'),
          ('old3', 'dmOld', 1, 'bobOldId', 'ancient history, edited', 3000, 3500, NULL, 'o3'),
          ('old4', 'chanOld', 3, 'aliceOldId', 'nothing to see', 4000, NULL, NULL, 'o4');
      `);
      sqlite.close();

      const s = await startTestServer({}, dataDir);
      try {
        const login = await new HttpApi(s.httpUrl).call('login', { username: alice.username, password: PASSWORD });
        for (const transport of TRANSPORTS) {
          const call = await callerFor(transport, login.token, s);
          const r = await call('messages.search', { query: 'ancient' });
          assert.deepEqual(
            r.hits.map((h) => [h.message.id, marked(h), h.conversation.kind, h.conversation.name]),
            [
              ['old3', '[ancient] history, edited', 'dm', bob.username],
              ['old1', '[Ancient] café notes', 'channel', 'general'],
            ],
            `over ${transport}: newest first`,
          );
          assert.deepEqual(await found(call, { query: 'cafe' }), ['old1']);
          assert.deepEqual(await found(call, { query: 'see' }), ['old4']);
        }
        // And what is written after the migration is indexed as it is written.
        const fresh = await send(hc(login.token, s), 'chanOld', 'ancient and new');
        assert.deepEqual(await found(hc(login.token, s), { query: 'ancient' }), [fresh.id, 'old3', 'old1']);
      } finally {
        await s.stop();
      }
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('text written without spaces between words', () => {
  test('a run of Chinese or Japanese characters is found anywhere in a message and marked where it is; Korean too; edits follow', async () => {
    const ann = await newUser('cjk');
    const { channelId } = await shareServer(ann, []);
    const call = hc(ann.token);
    const jp = await send(call, channelId, '日本語のテキストです');
    const ko = await send(call, channelId, '안녕하세요 여러분');
    const mixed = await send(call, channelId, 'natter は速いです');
    const hit = async (query: string) => (await call('messages.search', { query })).hits.map((h) => marked(h));
    assert.deepEqual(await hit('テキスト'), ['日本語の[テキスト]です'], 'in the middle, marked there');
    assert.deepEqual(await hit('日本語'), ['[日本語]のテキストです'], 'at the start');
    assert.deepEqual(await hit('テスト'), [], 'the characters in another order are not it');
    assert.deepEqual(await hit('日本語 です'), ['[日本語]のテキスト[です]'], 'every word, each marked');
    assert.deepEqual(await hit('하세'), ['안녕[하세]요 여러분']);
    assert.deepEqual(await hit('NATTER 速い'), ['[natter] は[速い]です']);
    await call('messages.edit', { messageId: jp.id, body: '別の文章' });
    assert.deepEqual(await hit('テキスト'), [], 'the old text is gone');
    assert.deepEqual(await hit('文章'), ['別の[文章]']);
    await call('messages.delete', { messageId: ko.id });
    assert.deepEqual(await hit('하세'), []);
    assert.ok(mixed.id);
  });

  test('migration 0009 re-indexes what was stored before it: a word inside a run of characters is found', async () => {
    const root = mkdtempSync(join(tmpdir(), 'natter-migrate-'));
    try {
      const { sqlite, dataDir } = databaseAt(root, 8);
      const alice = { id: 'cjkOldId', username: uniqueName('old') };
      sqlite
        .prepare(
          `INSERT INTO users (id, username, username_key, password_hash, created_at, updated_at) VALUES (?, ?, ?, ?, 0, 0)`,
        )
        .run(alice.id, alice.username, usernameKey(alice.username), bcrypt.hashSync(PASSWORD, 4));
      sqlite.exec(`
        INSERT INTO servers (id, name, owner_id, created_at, updated_at) VALUES ('srvCjk', 'Old Town', 'cjkOldId', 0, 0);
        INSERT INTO members (server_id, user_id, role, joined_at) VALUES ('srvCjk', 'cjkOldId', 'owner', 0);
        INSERT INTO conversations (id, kind, server_id, name, last_seq, created_at) VALUES ('chanCjk', 'channel', 'srvCjk', 'general', 1, 0);
        INSERT INTO messages (id, conversation_id, seq, author_id, body, created_at, nonce) VALUES
          ('cjk1', 'chanCjk', 1, 'cjkOldId', '日本語のテキストです', 1000, 'c1');
      `);
      // Before 0009 only the start of the run is a word.
      const before = sqlite
        .prepare(`SELECT count(*) AS n FROM message_search WHERE message_search MATCH 'body : "テキスト"'`)
        .get();
      assert.deepEqual(before, { n: 0 });
      sqlite.close();
      const s = await startTestServer({}, dataDir);
      try {
        const login = await new HttpApi(s.httpUrl).call('login', { username: alice.username, password: PASSWORD });
        const r = await hc(login.token, s)('messages.search', { query: 'テキスト' });
        assert.deepEqual(
          r.hits.map((h) => marked(h)),
          ['日本語の[テキスト]です'],
        );
      } finally {
        await s.stop();
      }
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('limits', () => {
  test('each page costs one read; a search by author also costs a user look-up', async () => {
    const own = await startTestServer({
      limits: {
        readPerUser: { capacity: 3, refillMs: 600_000 },
        lookupPerUser: { capacity: 1, refillMs: 600_000 },
      },
    });
    try {
      const alice = await newUser('sl', own);
      const call = hc(alice.token, own);
      await call('messages.search', { query: 'one', from: alice.username });
      const lookup = await refused(call('messages.search', { query: 'two', from: alice.username }));
      assert.equal(lookup.code, 'rate_limited', 'the second look-up');
      assert.match(lookup.message, /user look-ups/);
      await call('messages.search', { query: 'three' });
      const read = await refused(call('messages.search', { query: 'four' }));
      assert.equal(read.code, 'rate_limited', 'the read budget is spent');
      assert.match(read.message, /reads/);
    } finally {
      await own.destroy();
    }
  });
});
