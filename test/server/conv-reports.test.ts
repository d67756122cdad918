import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { AuditEntry, Message, NatterError, Report } from '../../src/protocol/index.js';
import type { TxStores } from '../../src/server/store/port.js';
import { PostgresReports } from '../../src/server/store/postgres/reports.js';
import { HttpApi, PASSWORD, rejection, uniqueName } from '../helpers/api.js';
import { RawTcp, RawWs } from '../helpers/raw.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { deadline } from '../helpers/wait.js';

/**
 * Reports: anyone reports a message they can read or a user they share a
 * place with; a server's reports go to its moderators, admins and owner, and
 * those from DMs and groups to the instance's operators; the person reported
 * never learns who reported them. Resolving one takes the path its action
 * always takes (delete, timeout, kick, ban), with the same rights, in one
 * write with its audit entry, and tells the reporter what was done.
 */

let t: TestServer;
before(async () => {
  t = await startTestServer();
});
after(() => t.destroy());

type User = { api: HttpApi; id: string; username: string; token: string };

async function newUser(prefix: string, server: TestServer = t): Promise<User> {
  const api = new HttpApi(server.httpUrl);
  const username = uniqueName(prefix);
  const reg = await api.call('register', { username, password: PASSWORD });
  api.token = reg.token;
  return { api, id: reg.user.id, username, token: reg.token };
}

async function serverWith(owner: User, people: User[]): Promise<{ serverId: string; channelId: string }> {
  const { server, channels } = await owner.api.call('servers.create', { name: uniqueName('Rep') });
  const { code } = (await owner.api.call('invites.create', { serverId: server.id })).invite;
  for (const p of people) await p.api.call('invites.join', { code });
  return { serverId: server.id, channelId: channels[0]?.id ?? '' };
}

/** A server with its owner, an admin, a moderator and two members. */
async function staffedServer(prefix: string) {
  const [owner, admin, mod, bob, mallory] = await Promise.all([
    newUser(`${prefix}o`),
    newUser(`${prefix}a`),
    newUser(`${prefix}m`),
    newUser(`${prefix}b`),
    newUser(`${prefix}x`),
  ]);
  const { serverId, channelId } = await serverWith(owner, [admin, mod, bob, mallory]);
  await owner.api.call('members.role', { serverId, userId: admin.id, role: 'admin' });
  await owner.api.call('members.role', { serverId, userId: mod.id, role: 'moderator' });
  return { owner, admin, mod, bob, mallory, serverId, channelId };
}

let n = 0;
function say(u: User, conversationId: string, body = 'hello'): Promise<{ message: Message }> {
  return u.api.call('messages.send', { conversationId, body, nonce: `rp-${++n}-${Date.now()}` });
}

function dm(u: User, to: User, body: string): Promise<{ message: Message }> {
  return u.api.call('messages.send', { to: to.username, body, nonce: `rp-${++n}-${Date.now()}` });
}

async function makeOperator(u: User): Promise<void> {
  await t.server.services.store.write((tx) => tx.users.setOperator(u.id, true));
}

async function log(u: User, serverId: string, action: AuditEntry['action']) {
  return (await u.api.call('audit.list', { serverId, action })).entries;
}

/** Makes the stores' look-up of an open report find nothing (as a racing natter's would) until undone. */
function blindOpenFor(): () => void {
  const store = t.server.services.store;
  if (store.backend === 'postgres') {
    const proto = PostgresReports.prototype;
    const original = proto.openFor;
    proto.openFor = async () => undefined;
    return () => {
      proto.openFor = original;
    };
  }
  // The SQLite store's write jobs use one set of stores, kept in its private `tx`.
  const tx = (store as unknown as { tx: TxStores }).tx;
  const original = tx.reports.openFor;
  tx.reports.openFor = async () => undefined;
  return () => {
    tx.reports.openFor = original;
  };
}

type Frame = { id?: unknown; event?: string; data?: Record<string, unknown>; cursor?: string; result?: unknown };

/** A raw connection, TCP or WebSocket, logged in with `token` (and resuming from `cursor` when given). */
type Raw = {
  messages: unknown[];
  close(): void;
  waitFor(pred: (m: unknown) => boolean, ms?: number, what?: string): Promise<unknown>;
  reply(id: unknown): Promise<unknown>;
};

async function rawAs(kind: 'tcp' | 'ws', token: string, cursor?: string): Promise<Raw> {
  const raw = kind === 'tcp' ? await RawTcp.open(t.tcpUrl) : await RawWs.open(t.wsUrl);
  const line = JSON.stringify({ id: 'auth', op: 'auth', params: cursor ? { token, cursor } : { token } });
  if (raw instanceof RawTcp) raw.write(`${line}\n`);
  else raw.send(line);
  await raw.reply('auth');
  return raw;
}

let pings = 0;
/** Everything the server sent `raw` before it read this ping has arrived. */
async function barrier(raw: Raw): Promise<void> {
  const id = `barrier-${++pings}`;
  const line = JSON.stringify({ id, op: 'ping' });
  if (raw instanceof RawTcp) raw.write(`${line}\n`);
  else (raw as RawWs).send(line);
  await raw.reply(id);
}

const isEvent = (name: string, reportId?: number) => (m: unknown) => {
  const f = m as Frame;
  if (f.event !== name) return false;
  if (reportId === undefined) return true;
  const d = f.data as { report?: { id: number }; reportId?: number };
  return d.report?.id === reportId || d.reportId === reportId;
};

const reportEvents = (raw: Raw) => raw.messages.filter((m) => ((m as Frame).event ?? '').startsWith('report.'));

describe('making a report', () => {
  test('a message in a channel, by number or by id: the moderators get it, the reporter gets it back, the text is kept', async () => {
    const s = await staffedServer('rc');
    const sent = (await say(s.mallory, s.channelId, 'buy cheap watches')).message;
    const { report } = await s.bob.api.call('reports.create', {
      conversationId: s.channelId,
      seq: sent.seq,
      reason: 'spam',
      details: 'posted in every channel',
    });
    assert.equal(report.serverId, s.serverId);
    assert.deepEqual(report.conversation, { id: s.channelId, kind: 'channel', name: 'general' });
    assert.equal(report.messageId, sent.id);
    assert.equal(report.seq, sent.seq);
    assert.equal(report.targetUser?.id, s.mallory.id);
    assert.equal(report.reporter?.id, s.bob.id);
    assert.equal(report.reason, 'spam');
    assert.equal(report.details, 'posted in every channel');
    assert.equal(report.snapshot, 'buy cheap watches');
    assert.equal(report.status, 'open');
    assert.equal(report.resolution, null);
    assert.equal(report.resolvedBy, null);

    const other = (await say(s.mallory, s.channelId, 'and another')).message;
    const byId = (await s.bob.api.call('reports.create', { messageId: other.id, reason: 'harassment' })).report;
    assert.equal(byId.seq, other.seq);
    assert.equal(byId.details, null);

    for (const u of [s.owner, s.admin, s.mod]) {
      const { reports } = await u.api.call('reports.list', { serverId: s.serverId });
      assert.deepEqual(
        reports.map((r) => r.id),
        [byId.id, report.id],
        `${u.username} sees both, newest first`,
      );
    }
  });

  test('a user in a server, and a user to the operators: only someone the reporter shares a place with', async () => {
    const s = await staffedServer('ru');
    const { report } = await s.bob.api.call('reports.create', {
      userId: s.mallory.id,
      serverId: s.serverId,
      reason: 'harassment',
      details: 'follows me around',
    });
    assert.equal(report.serverId, s.serverId);
    assert.equal(report.conversation, null);
    assert.equal(report.messageId, null);
    assert.equal(report.snapshot, null);
    assert.equal(report.targetUser?.id, s.mallory.id);
    // Without a server: someone bob shares a server with, for the operators.
    const instance = (await s.bob.api.call('reports.create', { userId: s.mallory.id, reason: 'other' })).report;
    assert.equal(instance.serverId, null);
    // A DM is a shared place too.
    const [carol, dave] = await Promise.all([newUser('ruc'), newUser('rud')]);
    await dm(dave, carol, 'hi carol');
    assert.equal(
      (await carol.api.call('reports.create', { userId: dave.id, reason: 'spam' })).report.targetUser?.id,
      dave.id,
    );
  });

  test('messages in a DM and in a group go to the instance operators, not to anyone else', async () => {
    const [alice, bob, carol, op] = await Promise.all([newUser('rda'), newUser('rdb'), newUser('rdc'), newUser('rdo')]);
    await makeOperator(op);
    const opLive = await rawAs('tcp', op.token);
    const carolLive = await rawAs('tcp', carol.token);
    try {
      const insult = (await dm(bob, alice, 'you are an idiot')).message;
      const inDm = (await alice.api.call('reports.create', { messageId: insult.id, reason: 'harassment' })).report;
      assert.equal(inDm.serverId, null);
      assert.deepEqual(inDm.conversation, { id: insult.conversationId, kind: 'dm', name: null });

      await carol.api.call('settings.update', { groupAdds: 'everyone' });
      const { group } = await bob.api.call('groups.create', { name: 'crag', usernames: [carol.username] });
      const junk = (await say(bob, group.id, 'click this link')).message;
      const inGroup = (
        await carol.api.call('reports.create', { conversationId: group.id, seq: junk.seq, reason: 'spam' })
      ).report;
      assert.deepEqual(inGroup.conversation, { id: group.id, kind: 'group', name: 'crag' });

      for (const id of [inDm.id, inGroup.id]) {
        const seen = (await opLive.waitFor(isEvent('report.created', id), undefined, `report #${id}`)) as Frame;
        assert.equal((seen.data as { report: Report }).report.reporter !== null, true);
      }
      const queue = (await op.api.call('reports.list', {})).reports;
      assert.ok(queue.some((r) => r.id === inDm.id) && queue.some((r) => r.id === inGroup.id));
      // Carol made a report and gets no report.created (she is no operator); bob, reported, none either.
      await barrier(carolLive);
      assert.deepEqual(reportEvents(carolLive), []);
      const notOperator = await rejection(alice.api.call('reports.list', {}));
      assert.equal(notOperator.code, 'forbidden');
    } finally {
      opLive.close();
      carolLive.close();
    }
  });

  test('the text reported is kept as it was: a later edit or deletion does not change it', async () => {
    const s = await staffedServer('rs');
    const sent = (await say(s.mallory, s.channelId, 'the original insult')).message;
    const { report } = await s.bob.api.call('reports.create', { messageId: sent.id, reason: 'harassment' });
    await s.mallory.api.call('messages.edit', { messageId: sent.id, body: 'nothing to see here' });
    const [edited] = (await s.mod.api.call('reports.list', { serverId: s.serverId })).reports;
    assert.equal(edited?.id, report.id);
    assert.equal(edited?.snapshot, 'the original insult');
    await s.mallory.api.call('messages.delete', { messageId: sent.id });
    const [deleted] = (await s.mod.api.call('reports.list', { serverId: s.serverId })).reports;
    assert.equal(deleted?.snapshot, 'the original insult');
    // A deleted message itself cannot be reported any more; its author can.
    const late = await rejection(s.owner.api.call('reports.create', { messageId: sent.id, reason: 'spam' }));
    assert.equal(late.code, 'not_found');
    assert.match(late.message, /was deleted: there is nothing left to report \(you can report its author\)/);
  });

  test('one open report per reporter and target: a second is a conflict, allowed again once the first is resolved', async () => {
    const s = await staffedServer('rd');
    const sent = (await say(s.mallory, s.channelId, 'spam spam')).message;
    const { report } = await s.bob.api.call('reports.create', { messageId: sent.id, reason: 'spam' });
    const twice = await rejection(
      s.bob.api.call('reports.create', { conversationId: s.channelId, seq: sent.seq, reason: 'other' }),
    );
    assert.equal(twice.code, 'conflict');
    assert.match(
      twice.message,
      new RegExp(`you already reported this message, and your report #${report.id} is still open`),
    );
    // Someone else may report it too; and bob may report its author.
    await s.admin.api.call('reports.create', { messageId: sent.id, reason: 'spam' });
    const user = await s.bob.api.call('reports.create', { userId: s.mallory.id, serverId: s.serverId, reason: 'spam' });
    const userTwice = await rejection(
      s.bob.api.call('reports.create', { userId: s.mallory.id, serverId: s.serverId, reason: 'spam' }),
    );
    assert.equal(userTwice.code, 'conflict');
    assert.match(userTwice.message, /you already reported this user/);
    // The same user to the operators is another target.
    await s.bob.api.call('reports.create', { userId: s.mallory.id, reason: 'spam' });
    await s.mod.api.call('reports.resolve', { reportId: report.id, action: 'none' });
    await s.mod.api.call('reports.resolve', { reportId: user.report.id, action: 'none' });
    const again = await s.bob.api.call('reports.create', { messageId: sent.id, reason: 'spam' });
    assert.notEqual(again.report.id, report.id);
    assert.equal(
      (await s.bob.api.call('reports.create', { userId: s.mallory.id, serverId: s.serverId, reason: 'spam' })).report
        .status,
      'open',
    );
  });

  test('a duplicate no check saw (two natters racing) is refused by the unique index as conflict, not as an error', async () => {
    const s = await staffedServer('ri');
    const sent = (await say(s.mallory, s.channelId, 'twice')).message;
    await s.bob.api.call('reports.create', { messageId: sent.id, reason: 'spam' });
    // What a report racing on another natter sees: no open report yet.
    const restore = blindOpenFor();
    try {
      const race = await rejection(s.bob.api.call('reports.create', { messageId: sent.id, reason: 'spam' }));
      assert.equal(race.code, 'conflict');
      assert.match(race.message, /you already reported this message, and your report of it is still open/);
    } finally {
      restore();
    }
    assert.equal((await s.mod.api.call('reports.list', { serverId: s.serverId })).reports.length, 1);
  });

  test('nobody reports themself', async () => {
    const s = await staffedServer('rf');
    const mine = (await say(s.bob, s.channelId, 'my own words')).message;
    const own = await rejection(s.bob.api.call('reports.create', { messageId: mine.id, reason: 'spam' }));
    assert.equal(own.code, 'bad_request');
    assert.match(own.message, /you cannot report your own message/);
    assert.equal(own.field, 'params.messageId');
    const bySeq = await rejection(
      s.bob.api.call('reports.create', { conversationId: s.channelId, seq: mine.seq, reason: 'spam' }),
    );
    assert.equal(bySeq.field, 'params.seq');
    for (const serverId of [s.serverId, undefined]) {
      const me = await rejection(
        s.bob.api.call('reports.create', { userId: s.bob.id, ...(serverId ? { serverId } : {}), reason: 'other' }),
      );
      assert.equal(me.code, 'bad_request');
      assert.match(me.message, /you cannot report yourself/);
    }
  });

  test('what the reporter cannot read is not_found, worded as what does not exist', async () => {
    const s = await staffedServer('rn');
    const [outsider, loner] = await Promise.all([newUser('rno'), newUser('rnl')]);
    const sent = (await say(s.mallory, s.channelId, 'members only')).message;
    // Each call made once the one before has been answered.
    const same = async (a: () => Promise<unknown>, b: () => Promise<unknown>, what: string) => {
      const x = await rejection(a());
      const y = await rejection(b());
      assert.equal(x.code, 'not_found', what);
      assert.deepEqual([x.code, x.message, x.field], [y.code, y.message, y.field], what);
    };
    await same(
      () => outsider.api.call('reports.create', { messageId: sent.id, reason: 'spam' }),
      () => outsider.api.call('reports.create', { messageId: 'no-such-message-id', reason: 'spam' }),
      'a message in a server one is not in',
    );
    await same(
      () => outsider.api.call('reports.create', { conversationId: s.channelId, seq: sent.seq, reason: 'spam' }),
      () => outsider.api.call('reports.create', { conversationId: 'no-such-conversation', seq: 1, reason: 'spam' }),
      'a channel one is not in',
    );
    const secret = (await dm(s.mallory, s.bob, 'just between us')).message;
    await same(
      () => outsider.api.call('reports.create', { messageId: secret.id, reason: 'spam' }),
      () => outsider.api.call('reports.create', { messageId: 'nope-nope', reason: 'spam' }),
      "someone else's DM",
    );
    await same(
      () => outsider.api.call('reports.create', { userId: s.mallory.id, serverId: s.serverId, reason: 'spam' }),
      () => outsider.api.call('reports.create', { userId: s.mallory.id, serverId: 'no-such-server', reason: 'spam' }),
      'a server one is not in',
    );
    await same(
      () => loner.api.call('reports.create', { userId: s.mallory.id, reason: 'spam' }),
      () => loner.api.call('reports.create', { userId: 'no-such-user', reason: 'spam' }),
      'a user one shares nothing with',
    );
    await same(
      () => s.bob.api.call('reports.create', { userId: outsider.id, serverId: s.serverId, reason: 'spam' }),
      () => s.bob.api.call('reports.create', { userId: 'no-such-user', serverId: s.serverId, reason: 'spam' }),
      'a user who is not a member of the server',
    );
    const noSeq = await rejection(
      s.bob.api.call('reports.create', { conversationId: s.channelId, seq: 999, reason: 'spam' }),
    );
    assert.equal(noSeq.code, 'not_found');
    assert.equal(
      (await s.mod.api.call('reports.list', { serverId: s.serverId })).reports.length,
      0,
      'nothing was stored',
    );
  });

  test('reasons, details and notes are checked: a known reason, at most 1,000 characters', async () => {
    const s = await staffedServer('rv');
    const sent = (await say(s.mallory, s.channelId, 'meh')).message;
    const badReason = await rejection(
      s.bob.api.call('reports.create', { messageId: sent.id, reason: 'rude' as 'spam' }),
    );
    assert.equal(badReason.code, 'bad_request');
    const long = await rejection(
      s.bob.api.call('reports.create', { messageId: sent.id, reason: 'other', details: 'x'.repeat(1001) }),
    );
    assert.equal(long.code, 'bad_request');
    assert.equal(long.field, 'params.details');
    assert.match(long.message, /details must be at most 1000 characters/);
    const { report } = await s.bob.api.call('reports.create', {
      messageId: sent.id,
      reason: 'other',
      details: 'y'.repeat(1000),
    });
    const note = await rejection(
      s.mod.api.call('reports.resolve', { reportId: report.id, action: 'none', note: 'z'.repeat(1001) }),
    );
    assert.equal(note.code, 'bad_request');
    assert.equal(note.field, 'params.note');
    const noSeconds = await rejection(s.mod.api.call('reports.resolve', { reportId: report.id, action: 'timeout' }));
    assert.equal(noSeconds.code, 'bad_request');
    assert.equal(noSeconds.field, 'params.seconds');
    const stray = await rejection(
      s.mod.api.call('reports.resolve', { reportId: report.id, action: 'kick', seconds: 60 }),
    );
    assert.equal(stray.field, 'params.seconds');
    assert.equal((await s.mod.api.call('reports.list', { serverId: s.serverId })).reports[0]?.status, 'open');
  });
});

describe('who hears of a report', () => {
  test('the moderators get report.created live over TCP and WebSocket and on resume; members never do; the reported moderator neither', async () => {
    const s = await staffedServer('rl');
    const modTcp = await rawAs('tcp', s.mod.token);
    const ownerWs = await rawAs('ws', s.owner.token);
    const bobTcp = await rawAs('tcp', s.bob.token);
    const malloryWs = await rawAs('ws', s.mallory.token);
    // The admin is away: they resume from their cursor later.
    const away = await rawAs('tcp', s.admin.token);
    await barrier(away);
    const cursor = (away.messages.find((m) => (m as Frame).id === 'auth') as { result: { cursor: string } }).result
      .cursor;
    away.close();
    try {
      const sent = (await say(s.mallory, s.channelId, 'rude words')).message;
      const { report } = await s.bob.api.call('reports.create', { messageId: sent.id, reason: 'harassment' });
      for (const [who, raw] of [
        ['the moderator (TCP)', modTcp],
        ['the owner (WebSocket)', ownerWs],
      ] as const) {
        const seen = (await raw.waitFor(isEvent('report.created', report.id), undefined, who)) as Frame;
        const r = (seen.data as { report: Report }).report;
        assert.equal(r.reporter?.id, s.bob.id, who);
        assert.equal(r.snapshot, 'rude words', who);
        assert.match(seen.cursor ?? '', /^\d+$/, `${who}: a stream event`);
      }
      const resumed = await rawAs('tcp', s.admin.token, cursor);
      try {
        await resumed.waitFor(isEvent('report.created', report.id), undefined, 'the admin, on resume');
      } finally {
        resumed.close();
      }
      // Members, the reporter and the one reported among them, are told nothing.
      await barrier(bobTcp);
      await barrier(malloryWs);
      assert.deepEqual(reportEvents(bobTcp), []);
      assert.deepEqual(reportEvents(malloryWs), []);

      // A report about the moderator goes to the others, never to them.
      const modSaid = (await say(s.mod, s.channelId, 'power trip')).message;
      const aboutMod = (await s.bob.api.call('reports.create', { messageId: modSaid.id, reason: 'other' })).report;
      await ownerWs.waitFor(
        isEvent('report.created', aboutMod.id),
        undefined,
        'the owner hears of the report on the moderator',
      );
      await barrier(modTcp);
      assert.equal(modTcp.messages.filter(isEvent('report.created', aboutMod.id)).length, 0);
      const modList = (await s.mod.api.call('reports.list', { serverId: s.serverId, status: 'all' })).reports;
      assert.deepEqual(
        modList.map((r) => r.id),
        [report.id],
        'the moderator does not see the report about them',
      );
      const handle = await rejection(s.mod.api.call('reports.resolve', { reportId: aboutMod.id, action: 'none' }));
      assert.equal(handle.code, 'not_found');
      const nothing = await rejection(s.mod.api.call('reports.resolve', { reportId: 987_654, action: 'none' }));
      assert.deepEqual([handle.message, handle.field], [nothing.message, nothing.field]);
    } finally {
      for (const raw of [modTcp, ownerWs, bobTcp, malloryWs]) raw.close();
    }
  });

  test('members cannot read the reports, outsiders do not find the server', async () => {
    const s = await staffedServer('rr');
    const outsider = await newUser('rro');
    assert.equal((await rejection(s.bob.api.call('reports.list', { serverId: s.serverId }))).code, 'forbidden');
    assert.equal((await rejection(outsider.api.call('reports.list', { serverId: s.serverId }))).code, 'not_found');
    const sent = (await say(s.mallory, s.channelId, 'x')).message;
    const { report } = await s.bob.api.call('reports.create', { messageId: sent.id, reason: 'spam' });
    // Neither a member (the reporter included) nor an outsider may resolve it: it is not theirs to find.
    for (const u of [s.bob, outsider]) {
      assert.equal(
        (await rejection(u.api.call('reports.resolve', { reportId: report.id, action: 'none' }))).code,
        'not_found',
      );
    }
  });
});

describe('the queue', () => {
  test('filters by status and pages newest first', async () => {
    const s = await staffedServer('rq');
    const ids: number[] = [];
    for (let i = 0; i < 5; i++) {
      const sent = (await say(s.mallory, s.channelId, `junk ${i}`)).message;
      ids.push((await s.bob.api.call('reports.create', { messageId: sent.id, reason: 'spam' })).report.id);
    }
    await s.mod.api.call('reports.resolve', { reportId: ids[1] ?? 0, action: 'none' });
    await s.mod.api.call('reports.resolve', { reportId: ids[3] ?? 0, action: 'none', note: 'fine' });
    const list = async (status?: 'open' | 'resolved' | 'all') =>
      (await s.mod.api.call('reports.list', { serverId: s.serverId, ...(status ? { status } : {}) })).reports.map(
        (r) => r.id,
      );
    assert.deepEqual(await list(), [ids[4], ids[2], ids[0]], 'open by default');
    assert.deepEqual(await list('open'), [ids[4], ids[2], ids[0]]);
    assert.deepEqual(await list('resolved'), [ids[3], ids[1]]);
    assert.deepEqual(await list('all'), [...ids].reverse());
    const pages: number[][] = [];
    let next: string | undefined;
    do {
      const page = await s.mod.api.call('reports.list', {
        serverId: s.serverId,
        status: 'all',
        limit: 2,
        ...(next ? { after: next } : {}),
      });
      pages.push(page.reports.map((r) => r.id));
      next = page.next ?? undefined;
    } while (next);
    assert.deepEqual(pages, [[ids[4], ids[3]], [ids[2], ids[1]], [ids[0]]]);
    const resolved = (await s.mod.api.call('reports.list', { serverId: s.serverId, status: 'resolved' })).reports[0];
    assert.equal(resolved?.resolution, 'none');
    assert.equal(resolved?.resolvedBy?.id, s.mod.id);
    assert.equal(resolved?.note, 'fine');
    assert.ok(resolved?.resolvedAt !== null);
    const wrong = await rejection(s.mod.api.call('reports.list', { serverId: s.serverId, after: 'bm9wZQ' }));
    assert.equal(wrong.field, 'params.after');
  });
});

describe('resolving a report', () => {
  test('delete: the message goes for everyone, the log keeps the deletion and the resolution, the reporter is told', async () => {
    const s = await staffedServer('rx');
    const bobLive = await rawAs('tcp', s.bob.token);
    const ownerLive = await rawAs('ws', s.owner.token);
    try {
      const sent = (await say(s.mallory, s.channelId, 'slur')).message;
      const { report } = await s.bob.api.call('reports.create', { messageId: sent.id, reason: 'harassment' });
      const { report: done } = await s.mod.api.call('reports.resolve', {
        reportId: report.id,
        action: 'delete',
        note: 'second offence, watch them',
      });
      assert.equal(done.status, 'resolved');
      assert.equal(done.resolution, 'delete');
      assert.equal(done.resolvedBy?.id, s.mod.id);
      assert.equal(done.note, 'second offence, watch them');
      assert.equal(done.snapshot, 'slur');
      const { messages } = await s.bob.api.call('messages.history', { conversationId: s.channelId });
      const gone = messages.find((m) => m.id === sent.id);
      assert.ok(gone?.deletedAt !== null && gone?.body === '', 'a tombstone');
      const [deletion] = await log(s.owner, s.serverId, 'message.delete');
      assert.equal(deletion?.actor?.id, s.mod.id);
      assert.equal(deletion?.targetId, sent.id);
      assert.equal(deletion?.reason, `report #${report.id}: harassment`);
      const [resolution] = await log(s.owner, s.serverId, 'report.resolve');
      assert.equal(resolution?.actor?.id, s.mod.id);
      assert.equal(resolution?.targetUser?.id, s.mallory.id);
      assert.equal(resolution?.reason, 'second offence, watch them');
      assert.deepEqual(resolution?.details, {
        report: report.id,
        action: 'delete',
        reason: 'harassment',
        seq: sent.seq,
        channel: 'general',
      });

      const handled = (await bobLive.waitFor(
        isEvent('report.handled', report.id),
        undefined,
        'the reporter told',
      )) as Frame;
      assert.deepEqual(handled.data, {
        reportId: report.id,
        serverId: s.serverId,
        conversationId: s.channelId,
        seq: sent.seq,
        targetUser: { id: s.mallory.id, username: s.mallory.username, displayName: null },
        reason: 'harassment',
        outcome: 'delete',
        resolvedAt: done.resolvedAt,
      });
      assert.ok(!JSON.stringify(handled.data).includes('watch them'), 'the note stays with the moderators');
      assert.ok(!JSON.stringify(handled.data).includes(s.mod.id), 'nor is the reporter told who handled it');
      const resolved = (await ownerLive.waitFor(
        isEvent('report.resolved', report.id),
        undefined,
        'the owner told',
      )) as Frame;
      assert.equal((resolved.data as { report: Report }).report.status, 'resolved');
      await barrier(bobLive);
      assert.equal(
        bobLive.messages.filter(isEvent('report.resolved')).length,
        0,
        'the reporter, a member, gets no report.resolved',
      );

      const twice = await rejection(s.admin.api.call('reports.resolve', { reportId: report.id, action: 'none' }));
      assert.equal(twice.code, 'conflict');
      assert.match(twice.message, /was already resolved \(delete\)/);
      assert.equal((await log(s.owner, s.serverId, 'report.resolve')).length, 1);
    } finally {
      bobLive.close();
      ownerLive.close();
    }
  });

  test('timeout, kick and ban take the paths they always take, each logged with the resolution', async () => {
    const s = await staffedServer('ra');
    const [carol, dave] = await Promise.all([newUser('rac'), newUser('rad')]);
    const { code } = (await s.owner.api.call('invites.create', { serverId: s.serverId })).invite;
    await carol.api.call('invites.join', { code });
    await dave.api.call('invites.join', { code });
    const report = async (who: User) =>
      (await s.bob.api.call('reports.create', { userId: who.id, serverId: s.serverId, reason: 'harassment' })).report;

    const r1 = await report(s.mallory);
    const before = t.server.services.clock();
    await s.mod.api.call('reports.resolve', { reportId: r1.id, action: 'timeout', seconds: 600 });
    const { members } = await s.owner.api.call('members.list', { serverId: s.serverId });
    const timed = members.find((m) => m.user.id === s.mallory.id);
    assert.ok(timed?.timeoutUntil !== undefined && timed.timeoutUntil >= before + 600_000);
    assert.equal((await rejection(say(s.mallory, s.channelId, 'let me speak'))).code, 'timed_out');
    const [timeout] = await log(s.owner, s.serverId, 'member.timeout');
    assert.equal(timeout?.reason, `report #${r1.id}: harassment`);

    const r2 = await report(carol);
    await s.mod.api.call('reports.resolve', { reportId: r2.id, action: 'kick' });
    assert.equal((await rejection(carol.api.call('servers.get', { serverId: s.serverId }))).code, 'not_found');
    assert.equal((await log(s.owner, s.serverId, 'member.kick'))[0]?.targetUser?.id, carol.id);

    const r3 = await report(dave);
    await s.mod.api.call('reports.resolve', { reportId: r3.id, action: 'ban', note: 'spam bot' });
    const { bans } = await s.owner.api.call('bans.list', { serverId: s.serverId });
    assert.deepEqual(
      bans.map((b) => [b.user.id, b.reason]),
      [[dave.id, `report #${r3.id}: harassment`]],
    );
    assert.equal((await rejection(dave.api.call('invites.join', { code }))).code, 'forbidden');

    const resolutions = await log(s.owner, s.serverId, 'report.resolve');
    assert.deepEqual(
      resolutions.map((e) => [e.details?.report, e.details?.action, e.details?.seconds, e.reason]),
      [
        [r3.id, 'ban', undefined, 'spam bot'],
        [r2.id, 'kick', undefined, null],
        [r1.id, 'timeout', 600, null],
      ],
    );
  });

  test('the resolver needs the rights the action needs: a moderator cannot ban an admin through a report', async () => {
    const s = await staffedServer('rk');
    const said = (await say(s.admin, s.channelId, 'admin being rude')).message;
    const { report } = await s.bob.api.call('reports.create', { messageId: said.id, reason: 'harassment' });
    for (const action of ['ban', 'kick', 'delete'] as const) {
      const refused = await rejection(s.mod.api.call('reports.resolve', { reportId: report.id, action }));
      assert.equal(refused.code, 'forbidden', action);
    }
    const timeout = await rejection(
      s.mod.api.call('reports.resolve', { reportId: report.id, action: 'timeout', seconds: 60 }),
    );
    assert.equal(timeout.code, 'forbidden');
    // Nothing happened: the report is open, nothing was logged, the admin is still there and their message too.
    const [still] = (await s.owner.api.call('reports.list', { serverId: s.serverId })).reports;
    assert.equal(still?.status, 'open');
    assert.deepEqual(await log(s.owner, s.serverId, 'report.resolve'), []);
    assert.deepEqual(await log(s.owner, s.serverId, 'member.ban'), []);
    assert.equal((await s.owner.api.call('bans.list', { serverId: s.serverId })).bans.length, 0);
    // The owner may.
    await s.owner.api.call('reports.resolve', { reportId: report.id, action: 'delete' });
    const { messages } = await s.owner.api.call('messages.history', { conversationId: s.channelId });
    assert.notEqual(messages.find((m) => m.id === said.id)?.deletedAt, null);
  });

  test('operators: delete removes a DM or group message for everyone; a server action makes no sense there', async () => {
    const [alice, bob, op, notOp] = await Promise.all([newUser('roa'), newUser('rob'), newUser('roo'), newUser('ron')]);
    await makeOperator(op);
    const aliceLive = await rawAs('tcp', alice.token);
    try {
      const insult = (await dm(bob, alice, 'a threat')).message;
      const { report } = await alice.api.call('reports.create', { messageId: insult.id, reason: 'illegal' });
      for (const action of ['kick', 'ban'] as const) {
        const refused = await rejection(op.api.call('reports.resolve', { reportId: report.id, action }));
        assert.equal(refused.code, 'bad_request', action);
        assert.equal(refused.field, 'params.action');
        assert.match(refused.message, /comes from a DM or a group: there is no server/);
      }
      assert.equal(
        (await rejection(op.api.call('reports.resolve', { reportId: report.id, action: 'timeout', seconds: 60 }))).code,
        'bad_request',
      );
      // Only operators find the instance's reports.
      assert.equal(
        (await rejection(notOp.api.call('reports.resolve', { reportId: report.id, action: 'none' }))).code,
        'not_found',
      );
      await op.api.call('reports.resolve', { reportId: report.id, action: 'delete', note: 'threat removed' });
      const deleted = (await aliceLive.waitFor(
        (m) => (m as Frame).event === 'message.deleted',
        undefined,
        'the deletion in the DM',
      )) as Frame;
      assert.equal((deleted.data as { message: Message }).message.id, insult.id);
      const { messages } = await bob.api.call('messages.history', { conversationId: insult.conversationId });
      assert.equal(messages.find((m) => m.id === insult.id)?.body, '', 'gone for its author too');
      const handled = (await aliceLive.waitFor(isEvent('report.handled', report.id), undefined, 'alice told')) as Frame;
      assert.equal((handled.data as { outcome: string }).outcome, 'delete');

      const user = (await alice.api.call('reports.create', { userId: bob.id, reason: 'harassment' })).report;
      const nothing = await rejection(op.api.call('reports.resolve', { reportId: user.id, action: 'delete' }));
      assert.equal(nothing.code, 'bad_request');
      assert.match(nothing.message, /is about a user, not a message: there is nothing to delete/);
      assert.equal(
        (await op.api.call('reports.resolve', { reportId: user.id, action: 'none' })).report.resolution,
        'none',
      );
      const done = (await op.api.call('reports.list', { status: 'resolved' })).reports.map((r) => r.id);
      assert.ok(done.includes(report.id) && done.includes(user.id));
    } finally {
      aliceLive.close();
    }
  });
});

describe('reports about the staff', () => {
  test('a report about an admin is for the owner to resolve, not a moderator; one about a moderator, for an admin', async () => {
    const s = await staffedServer('rs');
    const byAdmin = await say(s.admin, s.channelId, 'admin says something');
    const byMod = await say(s.mod, s.channelId, 'mod says something');
    const aboutAdmin = (
      await s.bob.api.call('reports.create', { conversationId: s.channelId, seq: byAdmin.message.seq, reason: 'other' })
    ).report;
    const aboutMod = (
      await s.bob.api.call('reports.create', { conversationId: s.channelId, seq: byMod.message.seq, reason: 'other' })
    ).report;
    const refused = await rejection(s.mod.api.call('reports.resolve', { reportId: aboutAdmin.id, action: 'none' }));
    assert.equal(refused.code, 'forbidden');
    assert.match(refused.message, /a report about an admin is for someone above them to resolve/);
    assert.equal(
      (await rejection(s.mod.api.call('reports.resolve', { reportId: aboutMod.id, action: 'none' }))).code,
      'not_found',
      'the moderator reported does not see it',
    );
    assert.equal(
      (await s.admin.api.call('reports.resolve', { reportId: aboutMod.id, action: 'none' })).report.status,
      'resolved',
    );
    assert.equal(
      (await s.owner.api.call('reports.resolve', { reportId: aboutAdmin.id, action: 'none' })).report.status,
      'resolved',
    );
    assert.deepEqual(
      (await log(s.owner, s.serverId, 'report.resolve')).map((e) => e.actor?.id),
      [s.owner.id, s.admin.id],
    );
  });

  test('a report about the owner goes to the instance operators, who may delete the message', async () => {
    const s = await staffedServer('ro');
    const operator = await newUser('ro-op');
    await makeOperator(operator);
    const byOwner = await say(s.owner, s.channelId, 'owner says something awful');
    const { report } = await s.bob.api.call('reports.create', {
      conversationId: s.channelId,
      seq: byOwner.message.seq,
      reason: 'harassment',
    });
    assert.equal(report.serverId, null);
    assert.deepEqual((await s.admin.api.call('reports.list', { serverId: s.serverId })).reports, []);
    const queue = (await operator.api.call('reports.list', {})).reports;
    assert.equal(queue[0]?.id, report.id, 'the newest in the operators’ queue');
    const kick = await rejection(operator.api.call('reports.resolve', { reportId: report.id, action: 'kick' }));
    assert.equal(kick.code, 'bad_request');
    assert.match(kick.message, /about a server's owner/);
    await operator.api.call('reports.resolve', { reportId: report.id, action: 'delete' });
    const { messages } = await s.admin.api.call('messages.history', { conversationId: s.channelId });
    assert.notEqual(messages.find((m) => m.id === byOwner.message.id)?.deletedAt, null);
  });
});

describe('abuse', () => {
  test('reports are rate limited per user', async () => {
    const s2 = await startTestServer({ limits: { reportPerUser: { capacity: 3, refillMs: 3_600_000 } } });
    try {
      const [owner, bob] = [await newUser('rlo', s2), await newUser('rlb', s2)];
      const { server, channels } = await owner.api.call('servers.create', { name: 'limits' });
      const { code } = (await owner.api.call('invites.create', { serverId: server.id })).invite;
      await bob.api.call('invites.join', { code });
      const channelId = channels[0]?.id ?? '';
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) {
        ids.push(
          (await owner.api.call('messages.send', { conversationId: channelId, body: `m${i}`, nonce: `rl-${i}` }))
            .message.id,
        );
      }
      for (const id of ids.slice(0, 2)) await bob.api.call('reports.create', { messageId: id, reason: 'spam' });
      // Refusals count too: a probe for what does not exist costs as much as a report.
      const probe = await rejection(bob.api.call('reports.create', { messageId: 'nothing-here', reason: 'spam' }));
      assert.equal(probe.code, 'not_found');
      const limited = await rejection(bob.api.call('reports.create', { messageId: ids[2] ?? '', reason: 'spam' }));
      assert.equal(limited.code, 'rate_limited');
      assert.ok(
        limited.retryAfterMs !== undefined && limited.retryAfterMs > 0 && limited.retryAfterMs <= 3_600_000,
        `${limited.retryAfterMs}`,
      );
      assert.match(limited.message, /too many reports; you can report again later; try again in \d+ min/);
      // Another user has a bucket of their own.
      const carol = await newUser('rlc', s2);
      await carol.api.call('invites.join', { code });
      await carol.api.call('reports.create', { messageId: ids[2] ?? '', reason: 'spam' });
      // (Reports about the owner's messages: the owner never sees them.)
      const stored = await s2.sql.get<{ n: number }>('SELECT count(*) AS n FROM reports');
      assert.equal(Number(stored?.n), 3);
    } finally {
      await s2.destroy();
    }
  });

  test("a day's write budget spent does not stop anyone reporting", async () => {
    const s2 = await startTestServer({ quotas: { writeBytesPerDay: 4000 } });
    try {
      const [alice, bob, op] = [await newUser('rwa', s2), await newUser('rwb', s2), await newUser('rwo', s2)];
      // An operator to tell: the report then stores an event, which a write budget would count.
      await s2.server.services.store.write((tx) => tx.users.setOperator(op.id, true));
      const insult = (await bob.api.call('messages.send', { to: alice.username, body: 'get lost', nonce: 'rw-0' }))
        .message;
      // Sends, shorter and shorter, until not even a one-character message fits.
      const check = deadline('alice to spend her write budget');
      let n = 0;
      for (const size of [500, 50, 1]) {
        for (;;) {
          check();
          const refused = await alice.api
            .call('messages.send', { to: bob.username, body: 'x'.repeat(size), nonce: `rw-${++n}` })
            .then(
              () => null,
              (err: NatterError) => err,
            );
          if (refused === null) continue;
          assert.equal(refused.code, 'limit_reached');
          break;
        }
      }
      const { report } = await alice.api.call('reports.create', { messageId: insult.id, reason: 'harassment' });
      assert.equal(report.snapshot, 'get lost');
    } finally {
      await s2.destroy();
    }
  });

  test('a reporter has at most so many reports open at once', async () => {
    const s2 = await startTestServer({ quotas: { openReportsPerUser: 2 } });
    try {
      const [owner, bob, carol] = [await newUser('rco', s2), await newUser('rcb', s2), await newUser('rcc', s2)];
      const { server, channels } = await owner.api.call('servers.create', { name: 'caps' });
      const { code } = (await owner.api.call('invites.create', { serverId: server.id })).invite;
      await bob.api.call('invites.join', { code });
      await carol.api.call('invites.join', { code });
      const channelId = channels[0]?.id ?? '';
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) {
        ids.push(
          (await carol.api.call('messages.send', { conversationId: channelId, body: `c${i}`, nonce: `rc-${i}` }))
            .message.id,
        );
      }
      const first = (await bob.api.call('reports.create', { messageId: ids[0] ?? '', reason: 'spam' })).report;
      await bob.api.call('reports.create', { messageId: ids[1] ?? '', reason: 'spam' });
      const capped = await rejection(bob.api.call('reports.create', { messageId: ids[2] ?? '', reason: 'spam' }));
      assert.equal(capped.code, 'limit_reached');
      assert.match(capped.message, /you have 2 open reports, the most allowed/);
      // The owner handles one: bob may report again.
      await owner.api.call('reports.resolve', { reportId: first.id, action: 'none' });
      await bob.api.call('reports.create', { messageId: ids[2] ?? '', reason: 'spam' });
    } finally {
      await s2.destroy();
    }
  });
});
