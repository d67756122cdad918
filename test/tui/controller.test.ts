import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Controller } from '../../src/tui/controller.js';
import { initialState, reduce } from '../../src/tui/reducer.js';
import { type Action, KEPT_LINES, type State } from '../../src/tui/state.js';
import { pageScroll, scrollView } from '../../src/tui/view/message-layout.js';
import { connectAs, createNatter, HttpApi, PASSWORD, uniqueName } from '../helpers/api.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';

let t: TestServer;
before(async () => {
  t = await startTestServer();
});
after(() => t.destroy());

function until(cond: () => boolean, what: string): Promise<true> {
  return waitFor(() => cond(), { what });
}

test('the controller keeps the app state in step with the server', async (ctx) => {
  const alice = await new HttpApi(t.httpUrl).call('register', { username: uniqueName('ta'), password: PASSWORD });
  const bob = await new HttpApi(t.httpUrl).call('register', { username: uniqueName('tb'), password: PASSWORD });
  const a = await connectAs(t.wsUrl, alice.token);
  const { server, channels } = await a.request('servers.create', { name: 'tui' });
  const general = channels[0]?.id ?? '';
  const { channel: random } = await a.request('channels.create', { serverId: server.id, name: 'random' });
  const { invite } = await a.request('invites.create', { serverId: server.id });
  await a.request('messages.send', { conversationId: general, body: 'before bob', nonce: 'tui-0' });

  let state: State = initialState(t.wsUrl);
  const dispatch = (action: Action) => {
    state = reduce(state, action);
  };
  const client = createNatter({ url: t.wsUrl, token: bob.token });
  // Closed even when an assertion fails, so the test process can end.
  ctx.after(() => {
    client.close();
    a.close();
  });
  const controller = new Controller(client, dispatch, () => state);
  await client.start();
  await until(() => state.connection.status === 'connected' && state.me !== null, 'connected');

  await controller.request('invites.join', { code: invite.code }, 'joined');
  await until(() => state.servers[server.id] !== undefined, 'the server in the sidebar');
  assert.equal(state.notice?.text, 'joined');

  await controller.open(general);
  assert.deepEqual(
    state.views[general]?.lines.map((l) => l.body),
    ['before bob'],
  );

  // A message elsewhere is unread; one here is read, on the server too.
  await a.request('messages.send', { conversationId: random.id, body: `hey @${bob.user.username}`, nonce: 'tui-1' });
  await until(() => state.conversations[random.id]?.mentions === 1, 'a mention badge');
  await a.request('messages.send', { conversationId: general, body: 'in view', nonce: 'tui-2' });
  await until(() => state.views[general]?.lines.length === 2, 'the live line');
  await until(() => state.conversations[general]?.lastReadSeq === 2, 'read position');

  await controller.open(random.id);
  assert.deepEqual([state.conversations[random.id]?.unread, state.conversations[random.id]?.mentions], [0, 0]);
  // The read mark goes out without waiting; the server has it once it commits.
  const check = await connectAs(t.tcpUrl, bob.token);
  await waitFor(
    async () => {
      const { conversations } = await check.request('conversations.list', {});
      return conversations.find((c) => c.id === random.id)?.unread === 0;
    },
    { what: 'the server to have #random read (opening it marks it read)', intervalMs: 50 },
  );
  check.close();

  // Sending shows a pending line that becomes the stored message.
  controller.send(random.id, 'from the tui');
  assert.equal(state.views[random.id]?.lines.at(-1)?.pending, true);
  await until(() => state.views[random.id]?.lines.at(-1)?.pending === false, 'acknowledged');
  assert.equal(state.views[random.id]?.lines.at(-1)?.body, 'from the tui');

  // A refusal shows in words.
  await controller.request('channels.delete', { channelId: random.id });
  assert.match(state.notice?.text ?? '', /admins/);
  client.close();
  a.close();
});

test('scrolling past the top loads older pages until the first message', async () => {
  const me = await new HttpApi(t.httpUrl).call('register', { username: uniqueName('tc'), password: PASSWORD });
  const c = await connectAs(t.wsUrl, me.token);
  const { channels } = await c.request('servers.create', { name: 'long' });
  const channelId = channels[0]?.id ?? '';
  for (let i = 1; i <= 120; i++)
    await c.request('messages.send', { conversationId: channelId, body: `line ${i}`, nonce: `long-${i}` });
  c.close();

  let state: State = initialState(t.wsUrl);
  const client = createNatter({ url: t.wsUrl, token: me.token });
  const controller = new Controller(
    client,
    (a: Action) => {
      state = reduce(state, a);
    },
    () => state,
  );
  await client.start();
  await until(() => state.conversations[channelId] !== undefined, 'the channel');
  await controller.open(channelId);
  assert.equal(state.views[channelId]?.lines.length, 50);
  assert.equal(state.views[channelId]?.hasMoreBefore, true);
  await controller.loadOlder(channelId);
  await controller.loadOlder(channelId);
  const seqs = state.views[channelId]?.lines.map((l) => l.seq) ?? [];
  assert.deepEqual(
    seqs,
    Array.from({ length: 120 }, (_, i) => i + 1),
    'every message once, in order',
  );
  assert.equal(state.views[channelId]?.hasMoreBefore, false);
  await controller.loadOlder(channelId);
  assert.equal(state.views[channelId]?.lines.length, 120, 'nothing more to load');
  client.close();
});

test('a PageUp on a tall screen that owes more rows than one older page holds: page after page is fetched until it is paid', async (ctx) => {
  const me = await new HttpApi(t.httpUrl).call('register', { username: uniqueName('td'), password: PASSWORD });
  const c = await connectAs(t.wsUrl, me.token);
  const { channels } = await c.request('servers.create', { name: 'tall' });
  const channelId = channels[0]?.id ?? '';
  for (let i = 1; i <= 300; i++)
    await c.request('messages.send', { conversationId: channelId, body: `line ${i}`, nonce: `tall-${i}` });
  c.close();

  let state: State = initialState(t.wsUrl);
  const client = createNatter({ url: t.wsUrl, token: me.token });
  ctx.after(() => client.close());
  const controller = new Controller(
    client,
    (a: Action) => {
      state = reduce(state, a);
    },
    () => state,
  );
  await client.start();
  await until(() => state.conversations[channelId] !== undefined, 'the channel');
  // An 80-row message list: the latest page (50 one-line messages) does not fill it.
  state = reduce(state, { type: 'layout', width: 60, timeFormat: '24h', height: 80 });
  await controller.open(channelId);
  const view = state.views[channelId];
  if (!view) return assert.fail('no view');
  const geometry = {
    meId: me.user.id,
    meUsername: me.user.username,
    width: 60,
    height: 80,
    timeFormat: '24h' as const,
  };
  const to = scrollView(view, pageScroll(0, 80, false, 'up'), geometry, true);
  assert.deepEqual(to, { scrollBack: 0, owed: 79, fetch: true }, 'nothing to go up into yet: all 79 rows owed');
  state = reduce(state, { type: 'scroll', conversationId: channelId, scrollBack: to.scrollBack, owed: to.owed });
  await controller.loadOlder(channelId);
  const after = state.views[channelId];
  assert.equal(after?.scrollBack, 79, 'a whole page up');
  assert.equal(after?.owed, 0);
  // 79 rows needed 150 more messages (three pages), and not one page more.
  assert.equal(after?.lines[0]?.seq, 101);
  assert.equal(after?.hasMoreBefore, true);
});

test('a long conversation: the newest KEPT_LINES stay at the bottom, and scrolling back refetches down to message 1 exactly', async (ctx) => {
  const me = await new HttpApi(t.httpUrl).call('register', { username: uniqueName('tk'), password: PASSWORD });
  const c = await connectAs(t.wsUrl, me.token);
  ctx.after(() => c.close());
  const { channels } = await c.request('servers.create', { name: 'longer' });
  const channelId = channels[0]?.id ?? '';
  const total = KEPT_LINES + 120;
  for (let i = 1; i <= total; i += 60) {
    const batch = [];
    for (let k = i; k < Math.min(total + 1, i + 60); k++)
      batch.push(c.request('messages.send', { conversationId: channelId, body: `line ${k}`, nonce: `longer-${k}` }));
    await Promise.all(batch);
  }

  let state: State = initialState(t.wsUrl);
  const client = createNatter({ url: t.wsUrl, token: me.token });
  ctx.after(() => client.close());
  const controller = new Controller(
    client,
    (a: Action) => {
      state = reduce(state, a);
    },
    () => state,
  );
  const seqs = () => state.views[channelId]?.lines.map((l) => l.seq) ?? [];
  const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
  /** Scrolled up, older pages until the first message (as PageUp at the top does). */
  const scrollToFirst = async () => {
    state = reduce(state, { type: 'scroll', conversationId: channelId, scrollBack: 100_000 });
    for (let pages = 0; state.views[channelId]?.hasMoreBefore && pages < 100; pages++)
      await controller.loadOlder(channelId);
  };
  await client.start();
  // It opens by itself: the first conversation of the sidebar.
  await until(() => state.active === channelId && seqs().length === 50, 'the channel open with its latest page');

  await scrollToFirst();
  assert.deepEqual(seqs(), range(1, total), 'every message once, in order');
  // End: only the newest stay.
  state = reduce(state, { type: 'scroll', conversationId: channelId, scrollBack: 0 });
  assert.deepEqual(seqs(), range(total - KEPT_LINES + 1, total));
  assert.equal(state.views[channelId]?.hasMoreBefore, true);
  // One more arrives, live; the oldest one kept goes.
  await c.request('messages.send', { conversationId: channelId, body: 'one more', nonce: 'longer-more' });
  await until(() => seqs().at(-1) === total + 1, 'the new message');
  assert.deepEqual(seqs(), range(total - KEPT_LINES + 2, total + 1));
  // Scrolling back fetches the dropped pages again, down to message 1, each message once.
  await scrollToFirst();
  assert.deepEqual(seqs(), range(1, total + 1));
  assert.equal(state.views[channelId]?.hasMoreBefore, false);
  assert.equal(state.views[channelId]?.lines[0]?.body, 'line 1');
});

test('at the start the first conversation opens with the lists, in one go, a message sent meanwhile included', async (ctx) => {
  const me = await new HttpApi(t.httpUrl).call('register', { username: uniqueName('ts'), password: PASSWORD });
  const c = await connectAs(t.wsUrl, me.token);
  ctx.after(() => c.close());
  const { channels } = await c.request('servers.create', { name: 'first' });
  const channelId = channels[0]?.id ?? '';
  for (let i = 1; i <= 60; i++)
    await c.request('messages.send', { conversationId: channelId, body: `before ${i}`, nonce: `first-${i}` });

  let state: State = initialState(t.wsUrl);
  let sent: Promise<unknown> | null = null;
  // The actions dispatched in the same run of code as the lists (the store makes them one change, one frame).
  let withLists: string[] | null = null;
  const client = createNatter({ url: t.wsUrl, token: me.token });
  ctx.after(() => client.close());
  new Controller(
    client,
    (a: Action) => {
      // The lists are about to be asked for: a message now lands before or after the first page is read.
      if (a.type === 'authenticated' && !sent)
        sent = c.request('messages.send', { conversationId: channelId, body: 'during the start', nonce: 'first-x' });
      if (a.type === 'loaded' && !withLists) {
        const burst: string[] = [];
        withLists = burst;
        queueMicrotask(() => {
          withLists = [...burst, 'end'];
        });
      }
      if (withLists && withLists.at(-1) !== 'end') withLists.push(a.type);
      state = reduce(state, a);
    },
    () => state,
  );
  await client.start();
  await until(() => state.views[channelId]?.lines.at(-1)?.body === 'during the start', 'the message sent meanwhile');
  await sent;
  assert.equal(state.active, channelId);
  assert.deepEqual(
    (withLists ?? []).filter((t) => t !== 'event'),
    ['loaded', 'moderation-loaded', 'open', 'history', 'end'],
    'the lists, what waits for review in the server I own, the opening and the first page in one go',
  );
  // Each message once, in order, down to the newest.
  const seqs = state.views[channelId]?.lines.map((l) => l.seq) ?? [];
  assert.ok(seqs.length >= 50);
  assert.deepEqual(
    seqs,
    Array.from({ length: seqs.length }, (_, i) => 62 - seqs.length + i),
  );
});

test('at the start the conversation open last time opens again; one deleted since, or none, opens the first', async (ctx) => {
  const me = await new HttpApi(t.httpUrl).call('register', { username: uniqueName('tl'), password: PASSWORD });
  const c = await connectAs(t.wsUrl, me.token);
  ctx.after(() => c.close());
  const { server, channels } = await c.request('servers.create', { name: 'last' });
  const general = channels[0]?.id ?? '';
  const { channel: random } = await c.request('channels.create', { serverId: server.id, name: 'random' });
  const { channel: gone } = await c.request('channels.create', { serverId: server.id, name: 'gone' });
  await c.request('messages.send', { conversationId: general, body: 'in general', nonce: 'last-0' });
  await c.request('messages.send', { conversationId: random.id, body: 'in random', nonce: 'last-1' });
  await c.request('channels.delete', { channelId: gone.id });

  /** A controller starting as the app does, told to open `open`; resolves with the state once something is open. */
  async function start(open: string | null): Promise<State> {
    let state: State = initialState(t.wsUrl);
    const client = createNatter({ url: t.wsUrl, token: me.token });
    ctx.after(() => client.close());
    new Controller(
      client,
      (a: Action) => {
        state = reduce(state, a);
      },
      () => state,
      { open },
    );
    await client.start();
    await until(
      () => state.active !== null && (state.views[state.active]?.lines.length ?? 0) > 0,
      'a conversation open',
    );
    return state;
  }

  const again = await start(random.id);
  assert.equal(again.active, random.id, '#random, open last time, opens again');
  assert.deepEqual(
    again.views[random.id]?.lines.map((l) => l.body),
    ['in random'],
  );
  assert.equal((await start(gone.id)).active, general, 'a deleted channel: the first of the sidebar');
  assert.equal((await start(null)).active, general, 'nothing saved: the first of the sidebar');
});

test('case 42: a seq that jumps ahead live makes the client fetch what it missed', async () => {
  const me = await new HttpApi(t.httpUrl).call('register', { username: uniqueName('gap'), password: PASSWORD });
  const other = await new HttpApi(t.httpUrl).call('register', { username: uniqueName('gapb'), password: PASSWORD });
  const owner = await connectAs(t.wsUrl, me.token);
  const { server, channels } = await owner.request('servers.create', { name: 'gappy' });
  const channelId = channels[0]?.id ?? '';
  const { invite } = await owner.request('invites.create', { serverId: server.id });
  owner.close();
  const sender = await connectAs(t.wsUrl, other.token);
  await sender.request('invites.join', { code: invite.code });
  await sender.request('messages.send', { conversationId: channelId, body: 'one', nonce: 'gap-1' });

  let state: State = initialState(t.wsUrl);
  let dropped = 0;
  const client = createNatter({ url: t.wsUrl, token: me.token });
  const controller = new Controller(
    client,
    (a: Action) => {
      // A fan-out frame lost on the way: the event for "two" never reaches the app.
      if (a.type === 'event' && a.event.event === 'message.created') {
        const body = (a.event.data as { message: { body: string } }).message.body;
        if (body === 'two') {
          dropped++;
          return;
        }
      }
      state = reduce(state, a);
    },
    () => state,
  );
  await client.start();
  await until(() => state.conversations[channelId] !== undefined, 'the channel');
  await controller.open(channelId);
  await sender.request('messages.send', { conversationId: channelId, body: 'two', nonce: 'gap-2' });
  await sender.request('messages.send', { conversationId: channelId, body: 'three', nonce: 'gap-3' });
  await until(() => state.views[channelId]?.lines.length === 3, 'the gap filled');
  assert.equal(dropped, 1);
  assert.deepEqual(
    state.views[channelId]?.lines.map((l) => l.body),
    ['one', 'two', 'three'],
  );
  client.close();
  sender.close();
});

test('opening a group after a start lists its members (for the member panel and @-completion)', async (ctx) => {
  const api = new HttpApi(t.httpUrl);
  const ann = await api.call('register', { username: uniqueName('ga'), password: PASSWORD });
  const ben = await new HttpApi(t.httpUrl).call('register', { username: uniqueName('gb'), password: PASSWORD });
  const b = await connectAs(t.wsUrl, ben.token);
  await b.request('settings.update', { groupAdds: 'everyone' });
  const a = await connectAs(t.wsUrl, ann.token);
  const { group } = await a.request('groups.create', { name: 'pals', usernames: [ben.user.username] });
  // A server of ann's: its channel comes first in the sidebar, so it is what opens at the start.
  const { channels } = await a.request('servers.create', { name: 'home' });
  a.close();
  b.close();
  // A fresh start: nothing of the group has been seen live.
  let state: State = initialState(t.wsUrl);
  const client = createNatter({ url: t.wsUrl, token: ann.token });
  ctx.after(() => client.close());
  const controller = new Controller(
    client,
    (action) => {
      state = reduce(state, action);
    },
    () => state,
  );
  await client.start();
  await until(() => state.conversations[group.id] !== undefined, 'the group in the sidebar');
  await until(() => state.active === channels[0]?.id, 'the first channel opened');
  assert.equal(state.members[group.id], undefined);
  await controller.open(group.id);
  assert.deepEqual(
    (state.members[group.id] ?? []).map((m) => m.user.username).sort(),
    [ann.user.username, ben.user.username].sort(),
  );
});

/** A server whose read budget is `capacity` reads, one back every `refillMs`; alice's channel holds 80 messages. */
async function readBudgetServer(ctx: { after(fn: () => Promise<void> | void): void }, refillMs: number) {
  // Enough for the start (lists, the first page, the queues of the server I own, members); the rest is spent below.
  const own = await startTestServer({ limits: { readPerUser: { capacity: 12, refillMs } } });
  ctx.after(() => own.destroy());
  const me = await new HttpApi(own.httpUrl).call('register', { username: uniqueName('rb'), password: PASSWORD });
  const c = await connectAs(own.wsUrl, me.token);
  const { channels } = await c.request('servers.create', { name: 'budget' });
  const channelId = channels[0]?.id ?? '';
  for (let i = 1; i <= 80; i++)
    await c.request('messages.send', { conversationId: channelId, body: `b${i}`, nonce: `budget-${i}` });
  let state: State = initialState(own.wsUrl);
  const client = createNatter({ url: own.wsUrl, token: me.token });
  ctx.after(() => {
    client.close();
    c.close();
  });
  const controller = new Controller(
    client,
    (a: Action) => {
      state = reduce(state, a);
    },
    () => state,
  );
  await client.start();
  await until(() => state.conversations[channelId] !== undefined, 'the channel');
  await controller.open(channelId);
  await until(() => (state.views[channelId]?.lines.length ?? 0) === 50, 'the latest page');
  // Spend the rest of the budget from another connection of the same person.
  await waitFor(
    async () => {
      try {
        await c.request('servers.list', {});
        return false;
      } catch (err) {
        return (err as { code?: string }).code === 'rate_limited';
      }
    },
    { what: 'the read budget to run out' },
  );
  return { controller, channelId, state: () => state };
}

test('older messages refused for a short while (rate_limited): the controller waits as asked and loads them', async (ctx) => {
  const { controller, channelId, state } = await readBudgetServer(ctx, 300);
  await controller.loadOlder(channelId);
  assert.equal(state().views[channelId]?.lines[0]?.seq, 1, 'every older message came in');
  assert.equal(state().views[channelId]?.loading, false);
  assert.equal(state().notice, null);
});

test('older messages refused for long: the view stops saying "loading", says why, and the next PageUp asks again', async (ctx) => {
  const { controller, channelId, state } = await readBudgetServer(ctx, 120_000);
  await controller.loadOlder(channelId);
  const v = state().views[channelId];
  assert.equal(v?.loading, false, 'not stuck on "loading older messages…"');
  assert.equal(v?.lines[0]?.seq, 31, 'nothing older came in');
  assert.match(state().notice?.text ?? '', /older messages could not be loaded: .*\(PageUp tries again\)/);
  assert.equal(state().notice?.level, 'error');
});
