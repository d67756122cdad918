import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { NatterClient } from '../../src/client/index.js';
import type { ConversationSummary, GroupInfo, Message } from '../../src/protocol/index.js';
import { closeDb, openDb } from '../../src/server/db/index.js';
import { connectAs, HttpApi, PASSWORD, uniqueName } from '../helpers/api.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';

// The lists that summarize many rows (conversations.list, dms.list, groups.list, members.online,
// messages.search) read each page in a fixed number of statements: the statements the real server
// runs for a page are counted (ServerConfig.onStatement) with a few rows, and again with many.

/** The statements the server's database runs, while a test records them. */
let recording: string[] | null = null;
let t: TestServer;
before(async () => {
  t = await startTestServer({ onStatement: (sql) => recording?.push(sql) });
});
after(() => t.destroy());

/** What `run` returns, and every statement the server ran until it did. */
async function statementsOf<T>(run: () => Promise<T>): Promise<{ result: T; statements: string[] }> {
  recording = [];
  try {
    const result = await run();
    // The accounts watch reads its one row every 250 ms whatever the request does (account-watch.ts).
    return { result, statements: recording.filter((sql) => !/^SELECT value FROM meta WHERE key = /.test(sql)) };
  } finally {
    recording = null;
  }
}

type Account = { id: string; username: string; token: string; c: NatterClient };

const connected: NatterClient[] = [];
after(() => {
  for (const c of connected) c.close();
});

async function account(prefix: string): Promise<Account> {
  const username = uniqueName(prefix);
  const reg = await new HttpApi(t.httpUrl).call('register', { username, password: PASSWORD });
  const c = await connectAs(t.wsUrl, reg.token);
  connected.push(c);
  return { id: reg.user.id, username, token: reg.token, c };
}

function send(a: Account, conversationId: string, body: string): Promise<Message> {
  return a.c.request('messages.send', { conversationId, body, nonce: randomUUID() }).then((r) => r.message);
}

/** What alice's summary of a conversation must say. */
type Expected = {
  id: string;
  kind: ConversationSummary['kind'];
  name: string;
  peerId: string | null;
  lastSeq: number;
  lastReadSeq: number;
  unread: number;
  mentions: number;
  last: Message;
};

describe('lists read a page in the same number of statements however long it is', () => {
  let alice: Account;
  let bob: Account;
  let carol: Account;
  let dave: Account;
  let serverId: string;
  let inviteCode: string;
  const expected = new Map<string, Expected>();
  const partners: Account[] = [];
  /** Each group as groups.create answered (members and invitations). */
  const created = new Map<string, GroupInfo>();
  let channels = 0;
  let groups = 0;

  /**
   * Someone else writes in the conversation, and alice reads some of it, in
   * one of three ways by `i`: an unread mention, a plain message and a
   * deleted one (2 unread, 1 mention, the tombstone last); the same but
   * alice read up to the mention (1 unread, no mention); or alice answered
   * the mention (read to her answer: nothing unread).
   */
  async function script(
    conv: Omit<Expected, 'lastSeq' | 'lastReadSeq' | 'unread' | 'mentions' | 'last'>,
    other: Account,
    i: number,
  ) {
    const mention = await send(other, conv.id, `zebra for @${alice.username}`);
    if (i % 3 === 2) {
      const answer = await send(alice, conv.id, 'zebra back');
      expected.set(conv.id, { ...conv, lastSeq: 2, lastReadSeq: 2, unread: 0, mentions: 0, last: answer });
      return;
    }
    const plain = await send(other, conv.id, 'zebra crossing');
    if (i % 3 === 1) {
      await alice.c.request('read.mark', { conversationId: conv.id, seq: mention.seq });
      expected.set(conv.id, { ...conv, lastSeq: 2, lastReadSeq: 1, unread: 1, mentions: 0, last: plain });
      return;
    }
    const gone = await send(other, conv.id, 'zebra oops');
    const tombstone = (await other.c.request('messages.delete', { messageId: gone.id })).message;
    expected.set(conv.id, { ...conv, lastSeq: 3, lastReadSeq: 0, unread: 2, mentions: 1, last: tombstone });
  }

  /** Gives alice more channels, groups and DMs, each with messages by others, one of each kind in turn. */
  async function grow(toChannels: number, toGroups: number, toDms: number) {
    while (channels < toChannels || groups < toGroups || partners.length < toDms) {
      if (channels < toChannels) await addChannel();
      if (groups < toGroups) await addGroup();
      if (partners.length < toDms) await addDm();
    }
  }

  async function addChannel() {
    const id =
      channels === 0
        ? (await alice.c.request('channels.list', { serverId })).channels[0]?.id
        : (await alice.c.request('channels.create', { serverId, name: `room-${channels}` })).channel.id;
    assert.ok(id);
    await script(
      { id, kind: 'channel', name: channels === 0 ? 'general' : `room-${channels}`, peerId: null },
      bob,
      channels,
    );
    channels++;
  }

  async function addGroup() {
    const name = `crew ${groups}`;
    // dave is invited (he accepts no adds): the group lists him as invited.
    const { group } = await bob.c.request('groups.create', { name, usernames: [alice.username, dave.username] });
    created.set(group.id, group);
    await script({ id: group.id, kind: 'group', name, peerId: null }, bob, groups);
    groups++;
  }

  async function addDm() {
    const partner = await account('lqp');
    await partner.c.request('invites.join', { code: inviteCode });
    const opened = await partner.c.request('messages.send', { to: alice.username, body: 'hi', nonce: randomUUID() });
    partners.push(partner);
    // The opening message is read by alice, so the script's counts hold.
    const id = opened.message.conversationId;
    await alice.c.request('read.mark', { conversationId: id, seq: 1 });
    await script({ id, kind: 'dm', name: partner.username, peerId: partner.id }, partner, partners.length - 1);
    const e = expected.get(id);
    assert.ok(e);
    // One more message than the script's: the opening one.
    expected.set(id, { ...e, lastSeq: e.lastSeq + 1, lastReadSeq: e.lastReadSeq === 0 ? 1 : e.lastReadSeq + 1 });
  }

  before(async () => {
    alice = await account('lqa');
    bob = await account('lqb');
    carol = await account('lqc');
    dave = await account('lqd');
    await alice.c.request('settings.update', { groupAdds: 'everyone' });
    const created = await alice.c.request('servers.create', { name: 'home' });
    serverId = created.server.id;
    inviteCode = (await alice.c.request('invites.create', { serverId })).invite.code;
    for (const a of [bob, carol]) await a.c.request('invites.join', { code: inviteCode });
    await alice.c.request('blocks.add', { userId: carol.id });
  });

  /** Checks what alice's summaries say against what her conversations hold. */
  function checkSummaries(list: readonly ConversationSummary[], kinds: readonly ConversationSummary['kind'][]) {
    const want = [...expected.values()].filter((e) => kinds.includes(e.kind));
    assert.equal(list.length, want.length);
    for (const s of list) {
      const e = expected.get(s.id);
      assert.ok(e, `a summary of a conversation alice is in: ${s.id}`);
      assert.deepEqual(
        {
          kind: s.kind,
          name: s.name,
          peer: s.peer?.id ?? null,
          lastSeq: s.lastSeq,
          lastReadSeq: s.lastReadSeq,
          unread: s.unread,
          mentions: s.mentions,
          last: s.lastMessage,
        },
        {
          kind: e.kind,
          name: e.name,
          peer: e.peerId,
          lastSeq: e.lastSeq,
          lastReadSeq: e.lastReadSeq,
          unread: e.unread,
          mentions: e.mentions,
          last: e.last,
        },
        `${e.kind} ${e.name}`,
      );
    }
  }

  /** The statements of one page of each list, with their results checked. */
  async function measure(): Promise<{ statements: Record<string, number>; searchConversations: number }> {
    const conversations = await statementsOf(() => alice.c.request('conversations.list', { limit: 100 }));
    assert.equal(conversations.result.next, null);
    checkSummaries(conversations.result.conversations, ['channel', 'group', 'dm']);

    const dms = await statementsOf(() => alice.c.request('dms.list', { limit: 100 }));
    checkSummaries(dms.result.dms, ['dm']);
    // Most recent message first.
    const times = dms.result.dms.map((d) => d.lastMessage?.createdAt ?? 0);
    assert.deepEqual(
      times,
      [...times].sort((a, b) => b - a),
    );

    const groupList = await statementsOf(() => alice.c.request('groups.list', { limit: 100 }));
    assert.equal(groupList.result.groups.length, groups);
    for (const g of groupList.result.groups) {
      // The same members and invitations, in the same order, as the group's own reply said.
      const group = created.get(g.id);
      assert.ok(group);
      assert.deepEqual(g, { ...group, lastSeq: expected.get(g.id)?.lastSeq });
      assert.deepEqual(
        g.invited.map((u) => u.username),
        [dave.username],
      );
    }

    // alice, bob, carol, dave (not in the server) and every DM partner are connected.
    const online = [alice, bob, carol, ...partners].map((a) => a.username).sort();
    await waitFor(
      async () => (await alice.c.request('members.online', { serverId, limit: 200 })).users.length === online.length,
      { what: 'every member online' },
    );
    const members = await statementsOf(() => alice.c.request('members.online', { serverId, limit: 200 }));
    assert.deepEqual(members.result.users.map((u) => u.username).sort(), online);

    const search = await statementsOf(() => alice.c.request('messages.search', { query: 'zebra', limit: 50 }));
    const hits = search.result.hits;
    assert.ok(hits.length > 0);
    for (const h of hits) {
      const e = expected.get(h.message.conversationId);
      assert.ok(e, 'a hit in a conversation of alice');
      assert.equal(h.conversation.kind, e.kind);
      assert.equal(h.conversation.name, e.name);
      assert.equal(h.conversation.serverName, e.kind === 'channel' ? 'home' : null);
    }

    return {
      statements: {
        'conversations.list': conversations.statements.length,
        'dms.list': dms.statements.length,
        'groups.list': groupList.statements.length,
        'members.online': members.statements.length,
        'messages.search': search.statements.length,
      },
      searchConversations: new Set(hits.map((h) => h.conversation.id)).size,
    };
  }

  test('a page of each list costs as many statements with 5 conversations as with 60, and says what each holds', async () => {
    // #general, a group and 3 DMs: each way of being read (see script) among the DMs and among them all.
    await grow(1, 1, 3);
    const few = await measure();
    // 20 of each.
    await grow(20, 20, 20);
    const many = await measure();
    assert.ok(many.searchConversations > few.searchConversations * 4, 'the search page spans many more conversations');
    for (const [op, n] of Object.entries(few.statements)) {
      assert.equal(many.statements[op], n, `${op}: ${n} statements for a few rows, ${many.statements[op]} for many`);
    }
  });

  test('a blocked member still counts as unread but does not mention', async () => {
    const general = [...expected.values()].find((e) => e.name === 'general');
    assert.ok(general);
    const before = (await alice.c.request('conversations.list', { limit: 100 })).conversations.find(
      (c) => c.id === general.id,
    );
    assert.ok(before);
    const sent = await send(carol, general.id, `hey @${alice.username}`);
    const now = (await alice.c.request('conversations.list', { limit: 100 })).conversations.find(
      (c) => c.id === general.id,
    );
    assert.ok(now);
    assert.equal(now.unread, before.unread + 1);
    assert.equal(now.mentions, before.mentions);
    assert.equal(now.lastMessage?.id, sent.id);
    assert.deepEqual(now.lastMessage?.mentions, []);
  });
});

describe('unread and mention counts stop at 9,999', () => {
  test('a conversation with 10,001 unread mentions shows 9,999 of each', async () => {
    const own = await startTestServer();
    try {
      let base = own.httpUrl;
      const api = (token: string | null) => {
        const h = new HttpApi(base);
        h.token = token;
        return h;
      };
      const alice = await api(null).call('register', { username: uniqueName('lqa'), password: PASSWORD });
      const bob = await api(null).call('register', { username: uniqueName('lqb'), password: PASSWORD });
      const { message } = await api(bob.token).call('messages.send', {
        to: alice.user.username,
        body: `@${alice.user.username}`,
        nonce: 'first',
      });
      const dm = message.conversationId;
      await own.stop();
      // 10,000 more, written straight into the stopped server's database: sending them would take minutes.
      const db = openDb(own.dataDir);
      try {
        const sqlite = db.$client;
        const insert = sqlite.prepare(
          'INSERT INTO messages (id, conversation_id, seq, author_id, body, created_at) VALUES (?, ?, ?, ?, ?, ?)',
        );
        const mention = sqlite.prepare(
          'INSERT INTO mentions (message_id, user_id, conversation_id, seq) VALUES (?, ?, ?, ?)',
        );
        sqlite.transaction(() => {
          for (let seq = 2; seq <= 10_001; seq++) {
            const id = `seeded-${seq}`;
            insert.run(id, dm, seq, bob.user.id, `@${alice.user.username}`, message.createdAt + seq);
            mention.run(id, alice.user.id, dm, seq);
          }
          sqlite
            .prepare('UPDATE conversations SET last_seq = ?, last_message_at = ? WHERE id = ?')
            .run(10_001, message.createdAt + 10_001, dm);
        })();
      } finally {
        closeDb(db);
      }
      const again = await startTestServer({}, own.dataDir);
      base = again.httpUrl;
      try {
        for (const list of [
          (await api(alice.token).call('conversations.list', {})).conversations,
          (await api(alice.token).call('dms.list', {})).dms,
        ]) {
          const s = list.find((c) => c.id === dm);
          assert.ok(s);
          assert.equal(s.lastSeq, 10_001);
          assert.equal(s.unread, 9_999);
          assert.equal(s.mentions, 9_999);
        }
        // Read up to 2 before the end: counted exactly again.
        const mark = await api(alice.token).call('read.mark', { conversationId: dm, seq: 9_999 });
        assert.deepEqual([mark.unread, mark.mentions], [2, 2]);
      } finally {
        await again.destroy();
      }
    } finally {
      await own.destroy();
    }
  });
});
