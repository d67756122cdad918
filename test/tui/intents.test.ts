import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { DEFAULT_CONFIG } from '../../src/tui/config.js';
import { Controller } from '../../src/tui/controller.js';
import { type Editor, editorOf } from '../../src/tui/editor.js';
import { type AppKey, ChatIntents, queryKey, switcherMatches } from '../../src/tui/intents.js';
import { initialState } from '../../src/tui/reducer.js';
import { Store } from '../../src/tui/store.js';
import { connectAs, createNatter, HttpApi, PASSWORD, uniqueName } from '../helpers/api.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';

let t: TestServer;
before(async () => {
  t = await startTestServer();
});
after(() => t.destroy());

const NO_KEY: AppKey = {
  upArrow: false,
  downArrow: false,
  leftArrow: false,
  rightArrow: false,
  pageUp: false,
  pageDown: false,
  return: false,
  escape: false,
  ctrl: false,
  meta: false,
  tab: false,
  shift: false,
  backspace: false,
  delete: false,
};

/** A key as Ink reports it: `press('k')`, `press('', { upArrow: true, ctrl: true })`. */
function press(intents: ChatIntents, input: string, key: Partial<AppKey> = {}): void {
  intents.key(input, { ...NO_KEY, ...key });
}

/** The chat screen's logic for `token`, on a real client, with what it writes to the terminal collected. */
async function chat(ctx: { after(fn: () => void): void }, token: string) {
  const store = new Store(initialState(t.wsUrl));
  const client = createNatter({ url: t.wsUrl, token });
  const controller = new Controller(client, store.dispatch, store.get);
  const written: string[] = [];
  let quit = false;
  const intents = new ChatIntents({
    store,
    controller,
    config: DEFAULT_CONFIG,
    onQuit: () => {
      quit = true;
    },
    write: (data) => written.push(data),
  });
  intents.layout = { columns: 120, rows: 39, sidebarWidth: 26, listTop: 1, listWidth: 90, listHeight: 20 };
  ctx.after(() => client.close());
  await client.start();
  await waitFor(() => store.get().connection.status === 'connected' && store.get().me !== null, {
    what: 'connected',
  });
  await controller.reload();
  return { store, controller, intents, written, quitted: () => quit };
}

/** alice owns a server where bob is a member; both have written in #general. */
async function acme(lines: { by: 'alice' | 'bob'; body: string }[]) {
  const api = new HttpApi(t.httpUrl);
  const alice = await api.call('register', { username: uniqueName('sa'), password: PASSWORD });
  const bob = await api.call('register', { username: uniqueName('sb'), password: PASSWORD });
  const a = await connectAs(t.wsUrl, alice.token);
  const b = await connectAs(t.wsUrl, bob.token);
  const { server, channels } = await a.request('servers.create', { name: uniqueName('acme') });
  const general = channels[0]?.id ?? '';
  const { invite } = await a.request('invites.create', { serverId: server.id });
  await b.request('invites.join', { code: invite.code });
  let n = 0;
  for (const line of lines) {
    await (line.by === 'alice' ? a : b).request('messages.send', {
      conversationId: general,
      body: line.body,
      nonce: `sel-${n++}`,
    });
  }
  a.close();
  b.close();
  return { alice, bob, general };
}

test('selection mode: Ctrl-Up selects the newest message, Up/Down (and k/j) move, Esc ends', async (ctx) => {
  const { alice, general } = await acme([
    { by: 'alice', body: 'one' },
    { by: 'bob', body: 'two' },
    { by: 'alice', body: 'three' },
  ]);
  const { store, controller, intents } = await chat(ctx, alice.token);
  await controller.open(general);
  await waitFor(() => store.get().views[general]?.lines.length === 3, { what: 'the history' });

  press(intents, '', { upArrow: true, ctrl: true });
  assert.deepEqual(store.get().selected, { conversationId: general, seq: 3 });
  press(intents, '', { upArrow: true });
  assert.equal(store.get().selected?.seq, 2);
  press(intents, 'k');
  assert.equal(store.get().selected?.seq, 1);
  press(intents, '', { upArrow: true });
  assert.equal(store.get().selected?.seq, 1, 'the first message stays selected at the top');
  press(intents, 'j');
  assert.equal(store.get().selected?.seq, 2);
  // Keys of one read go one by one ("kk" from a held key).
  press(intents, 'kk');
  assert.equal(store.get().selected?.seq, 1);
  press(intents, 'j');
  // A letter that is not the selection's ends it and is typed: nothing typed is lost.
  press(intents, 'x');
  assert.equal(store.get().selected, null);
  assert.equal(intents.text, 'x');
  press(intents, '', { backspace: true });
  press(intents, '', { upArrow: true, ctrl: true });
  press(intents, '', { escape: true, meta: true });
  assert.equal(store.get().selected, null);
  // Alt-K enters it too.
  press(intents, 'k', { meta: true });
  assert.equal(store.get().selected?.seq, 3);
});

test('selection mode: an info line (someone left) is never selected, by keys or by a click', async (ctx) => {
  const { alice, bob, general } = await acme([
    { by: 'alice', body: 'one' },
    { by: 'bob', body: 'two' },
  ]);
  const { store, controller, intents } = await chat(ctx, alice.token);
  await controller.open(general);
  await waitFor(() => store.get().views[general]?.lines.length === 2, { what: 'the history' });
  await waitFor(() => (store.get().members[store.get().conversations[general]?.serverId ?? ''] ?? []).length === 2, {
    what: 'the member list',
  });
  const b = await connectAs(t.wsUrl, bob.token);
  await b.request('servers.leave', { serverId: store.get().conversations[general]?.serverId ?? '' });
  b.close();
  const info = await waitFor(() => store.get().views[general]?.lines.find((l) => l.kind === 'info'), {
    what: 'the info line',
  });
  assert.equal(info.body, `${bob.user.username} left`);
  assert.equal(store.get().views[general]?.lines.at(-1), info, 'below the messages');

  // The newest message is selected, not the line below it; j stays on it.
  press(intents, '', { upArrow: true, ctrl: true });
  assert.equal(store.get().selected?.seq, 2);
  press(intents, 'j');
  assert.equal(store.get().selected?.seq, 2);
  press(intents, '', { escape: true });
  assert.equal(store.get().selected, null);
  // The info line is the bottom row of the list; message 2 the row above it.
  const bottom = intents.layout.listTop + intents.layout.listHeight - 1;
  intents.mouse({ button: 'left', x: 60, y: bottom, press: true });
  assert.equal(store.get().selected, null, 'a click on the info line selects nothing');
  intents.mouse({ button: 'left', x: 60, y: bottom - 1, press: true });
  assert.equal(store.get().selected?.seq, 2, 'a click on the message above selects it');
});

test('selection mode: e edits my message through the composer; on another’s it says why not; r quotes and mentions; c copies with OSC 52', async (ctx) => {
  const { alice, general } = await acme([
    { by: 'bob', body: 'first line of bob\nsecond line' },
    { by: 'alice', body: 'my own words' },
  ]);
  const { store, controller, intents, written } = await chat(ctx, alice.token);
  await controller.open(general);
  await waitFor(() => store.get().views[general]?.lines.length === 2, { what: 'the history' });
  const bobName = store.get().views[general]?.lines[0]?.author.username ?? '';

  press(intents, '', { upArrow: true, ctrl: true });
  press(intents, 'e');
  assert.equal(store.get().selected, null);
  assert.equal(intents.text, '/edit 2 my own words');
  // Enter sends the edit; the server has it.
  intents.setText('/edit 2 my better words');
  press(intents, '\r', { return: true });
  await waitFor(() => store.get().views[general]?.lines[1]?.body === 'my better words', { what: 'the edit' });

  press(intents, '', { upArrow: true, ctrl: true });
  press(intents, '', { upArrow: true });
  press(intents, 'e');
  assert.match(store.get().notice?.text ?? '', /only its author can edit it/);
  assert.equal(intents.text, '');

  press(intents, 'c');
  const osc = written.at(-1) ?? '';
  assert.equal(osc, `\u001b]52;c;${Buffer.from('first line of bob\nsecond line').toString('base64')}\u0007`);
  assert.match(store.get().notice?.text ?? '', /copied message #1/);

  press(intents, 'r');
  assert.equal(store.get().selected, null);
  assert.equal(intents.text, `> ${bobName}: first line of bob…\n@${bobName} `);
});

test('selection mode: d asks first; any other key keeps the message, y deletes it — the owner deletes a member’s message', async (ctx) => {
  const { alice, general } = await acme([
    { by: 'bob', body: 'spam from bob' },
    { by: 'alice', body: 'fine' },
  ]);
  const { store, controller, intents } = await chat(ctx, alice.token);
  await controller.open(general);
  await waitFor(() => store.get().views[general]?.lines.length === 2, { what: 'the history' });

  press(intents, '', { upArrow: true, ctrl: true });
  press(intents, '', { upArrow: true });
  press(intents, 'd');
  assert.match(store.get().notice?.text ?? '', /delete message #1 by .*\? y deletes it/);
  press(intents, 'n');
  assert.match(store.get().notice?.text ?? '', /kept message #1/);
  assert.equal(store.get().views[general]?.lines[0]?.deletedAt, null);

  press(intents, 'd');
  press(intents, 'y');
  await waitFor(() => store.get().views[general]?.lines[0]?.deletedAt !== null, { what: 'bob’s message deleted' });
  assert.match(store.get().notice?.text ?? '', /deleted message #1/);
});

test('selection mode: a member cannot delete someone else’s message; the server’s refusal is shown in words', async (ctx) => {
  const { bob, general } = await acme([
    { by: 'alice', body: 'from the owner' },
    { by: 'bob', body: 'from bob' },
  ]);
  const { store, controller, intents } = await chat(ctx, bob.token);
  await controller.open(general);
  await waitFor(() => store.get().views[general]?.lines.length === 2, { what: 'the history' });
  press(intents, '', { upArrow: true, ctrl: true });
  press(intents, '', { upArrow: true });
  press(intents, 'd');
  press(intents, 'y');
  await waitFor(() => /only delete your own/.test(store.get().notice?.text ?? ''), { what: 'the refusal' });
  assert.equal(store.get().notice?.level, 'error');
  assert.equal(store.get().views[general]?.lines[0]?.deletedAt, null);
});

test('selection mode: Up past the oldest loaded message loads older ones and goes on into them', async (ctx) => {
  const lines = Array.from({ length: 60 }, (_, i) => ({ by: 'bob' as const, body: `m${i + 1}` }));
  const { alice, general } = await acme(lines);
  const { store, controller, intents } = await chat(ctx, alice.token);
  await controller.open(general);
  await waitFor(() => (store.get().views[general]?.lines.length ?? 0) >= 50, { what: 'the latest page' });
  const oldest = store.get().views[general]?.lines[0]?.seq ?? 0;
  assert.ok(oldest > 1, 'only the latest page is loaded');
  press(intents, '', { upArrow: true, ctrl: true });
  press(intents, '', { home: true });
  assert.equal(store.get().selected?.seq, oldest);
  press(intents, '', { upArrow: true });
  await waitFor(() => store.get().views[general]?.lines[0]?.seq === 1, { what: 'the older page' });
  press(intents, '', { upArrow: true });
  assert.equal(store.get().selected?.seq, oldest - 1);
  // The window follows the selection: the selected message is within the rows scrolled back.
  assert.ok((store.get().views[general]?.scrollBack ?? 0) > 0);
});

test('what is typed goes to the open conversation, @name first included; a draft stays with its conversation', async (ctx) => {
  const { alice, bob, general } = await acme([{ by: 'bob', body: 'hi' }]);
  const { store, controller, intents } = await chat(ctx, alice.token);
  await controller.open(general);
  const bobName = bob.user.username;
  press(intents, `@${bobName} over here`);
  press(intents, '\r', { return: true });
  await waitFor(
    () => store.get().views[general]?.lines.some((l) => l.body === `@${bobName} over here` && l.seq !== null),
    { what: 'the message in #general' },
  );
  const dms = await controller.client.request('dms.list', {});
  assert.equal(dms.dms.length, 0, 'no DM was opened');

  // A DM opened with /dm starts empty; a draft in #general stays there across switches.
  press(intents, `/dm ${bobName} private words`);
  press(intents, '\r', { return: true });
  // The first message starts the DM, which then opens.
  const dm = await waitFor(
    () => {
      const open = store.get().active ? store.get().conversations[store.get().active ?? ''] : undefined;
      return open?.kind === 'dm' && store.get().views[open.id]?.lines.some((l) => l.body === 'private words')
        ? open
        : undefined;
    },
    { what: 'the DM open with the first message' },
  );
  intents.followActive();
  assert.equal(intents.text, '', 'the DM has no draft');
  assert.equal(dm.name, bobName);
  await controller.open(general);
  intents.followActive();
  assert.equal(intents.text, '', 'nor does #general: the command went');
  press(intents, 'half a thought');
  await controller.open(dm.id);
  intents.followActive();
  assert.equal(intents.text, '');
  await controller.open(general);
  intents.followActive();
  assert.equal(intents.text, 'half a thought');
});

test('search: Down past the last hit of a page brings the next page, until every match is listed once', async (ctx) => {
  const lines = Array.from({ length: 75 }, (_, i) => ({ by: 'bob' as const, body: `needle number ${i + 1}` }));
  const { alice } = await acme(lines);
  const { store, intents } = await chat(ctx, alice.token);
  intents.openSearch('needle');
  const overlay = () => {
    const o = store.get().overlay;
    return o?.kind === 'search' ? o : null;
  };
  await waitFor(() => (overlay()?.hits?.length ?? 0) > 0 && !overlay()?.loading, { what: 'the first page' });
  const first = overlay()?.hits?.length ?? 0;
  assert.ok(first < 75, `a first page (${first} hits), not everything`);
  for (let step = 0; step < 200 && overlay()?.next !== null; step++) {
    const before = overlay()?.hits?.length ?? 0;
    press(intents, '', { downArrow: true });
    await waitFor(() => !overlay()?.loading, { what: 'the next page, if one was asked for' });
    assert.ok((overlay()?.hits?.length ?? 0) >= before);
  }
  const bodies = overlay()?.hits?.map((h) => h.message.body) ?? [];
  assert.equal(bodies.length, 75);
  assert.equal(new Set(bodies).size, 75, 'each match once');
  for (let i = 0; i < 80; i++) press(intents, '', { downArrow: true });
  assert.equal(overlay()?.selected, 74, 'Down stops at the last one');
  assert.equal(overlay()?.hits?.length, 75, 'and asks for nothing more');
});

test('Alt-E, then Enter: the edit goes and the draft it set aside comes back; the edit is in the history', async (ctx) => {
  const { alice, general } = await acme([{ by: 'alice', body: 'first try' }]);
  const { store, controller, intents } = await chat(ctx, alice.token);
  await controller.open(general);
  await waitFor(() => store.get().views[general]?.lines.length === 1, { what: 'the history' });
  press(intents, 'my unsent draft');
  press(intents, 'e', { meta: true });
  assert.equal(intents.text, '/edit 1 first try');
  press(intents, ' (fixed)');
  press(intents, '\r', { return: true });
  assert.equal(intents.text, 'my unsent draft', 'the draft is back at once');
  await waitFor(() => store.get().views[general]?.lines[0]?.body === 'first try (fixed)', { what: 'the edit stored' });
  assert.equal(intents.text, 'my unsent draft');
  assert.deepEqual(intents.composer().history.entries.at(-1), '/edit 1 first try (fixed)');
});

test('a command that works leaves nothing behind in the conversation it was typed in; one refused comes back to be fixed', async (ctx) => {
  const { alice, bob, general } = await acme([{ by: 'bob', body: 'hello' }]);
  const { store, controller, intents } = await chat(ctx, alice.token);
  await controller.open(general);
  press(intents, `/dm ${bob.user.username} quick question`);
  press(intents, '\r', { return: true });
  await waitFor(() => store.get().conversations[store.get().active ?? '']?.kind === 'dm', { what: 'the DM open' });
  await controller.open(general);
  intents.followActive();
  assert.equal(intents.text, '', 'no "/dm …" left in #general');
  assert.equal(intents.composer().history.entries.at(-1), `/dm ${bob.user.username} quick question`);
  // Refused by the server: the line is back, to be fixed.
  press(intents, '/role nobody-at-all admin');
  press(intents, '\r', { return: true });
  await waitFor(() => store.get().notice?.level === 'error', { what: 'the refusal' });
  assert.equal(intents.text, '/role nobody-at-all admin');
});

test('after the selected message is deleted, the selection is on its neighbour and k and j go on from there', async (ctx) => {
  const lines = Array.from({ length: 12 }, (_, i) => ({ by: 'alice' as const, body: `s${i + 1}` }));
  const { alice, general } = await acme(lines);
  const { store, controller, intents } = await chat(ctx, alice.token);
  await controller.open(general);
  await waitFor(() => store.get().views[general]?.lines.length === 12, { what: 'the history' });
  press(intents, '', { upArrow: true, ctrl: true });
  press(intents, 'k');
  assert.equal(store.get().selected?.seq, 11);
  press(intents, 'd');
  press(intents, 'y');
  await waitFor(() => store.get().selected?.seq === 10, { what: 'the selection on message 10' });
  press(intents, 'j');
  assert.equal(store.get().selected?.seq, 12, 'j skips the deleted one');
  // Deleted under the selection by someone else: k goes to the one before it, not to the oldest.
  const line = store.get().views[general]?.lines.find((l) => l.seq === 12);
  await controller.client.request('messages.delete', { messageId: line?.id ?? '' });
  await waitFor(() => store.get().views[general]?.lines.find((l) => l.seq === 12)?.deletedAt !== null, {
    what: 'message 12 deleted',
  });
  press(intents, 'k');
  assert.equal(store.get().selected?.seq, 10);
});

test('/delete and /edit reach a message that is not loaded, by its number', async (ctx) => {
  const lines = Array.from({ length: 70 }, (_, i) => ({ by: 'alice' as const, body: `old ${i + 1}` }));
  const { alice, general } = await acme(lines);
  const { store, controller, intents } = await chat(ctx, alice.token);
  await controller.open(general);
  await waitFor(() => (store.get().views[general]?.lines[0]?.seq ?? 0) > 3, { what: 'only the latest page' });
  intents.setText('/edit 3 old 3, fixed');
  intents.submit();
  await waitFor(() => /edited #3/.test(store.get().notice?.text ?? ''), { what: 'edited' });
  intents.setText('/delete 2');
  intents.submit();
  await waitFor(() => /deleted #2/.test(store.get().notice?.text ?? ''), { what: 'deleted' });
  const page = await controller.client.request('messages.history', { conversationId: general, after: 1, limit: 2 });
  assert.deepEqual(
    page.messages.map((m) => [m.seq, m.body, m.deletedAt !== null]),
    [
      [2, '', true],
      [3, 'old 3, fixed', false],
    ],
  );
  intents.setText('/delete 999');
  intents.submit();
  await waitFor(() => /there is no message #999 here/.test(store.get().notice?.text ?? ''), { what: 'no such' });
});

test('the switcher’s and search’s query edit as the composer does, at the cursor', () => {
  const key = (k: Partial<AppKey>) => ({ ...NO_KEY, ...k });
  /** `text` with the cursor at `|`. */
  const q = (text: string) => editorOf(text.replace('|', ''), text.indexOf('|'));
  const shown = (e: Editor | null) => (e === null ? null : `${e.text.slice(0, e.cursor)}|${e.text.slice(e.cursor)}`);
  assert.equal(shown(queryKey(q('acme gen|'), 'u', key({ ctrl: true }))), '|');
  assert.equal(shown(queryKey(q('acme gen|'), 'w', key({ ctrl: true }))), 'acme |');
  assert.equal(shown(queryKey(q('acme gen |'), 'w', key({ ctrl: true }))), 'acme |');
  assert.equal(shown(queryKey(q('ab👍🏽|'), '', key({ delete: true }))), 'ab|', 'Backspace takes a whole character');
  // Mid-line: the moves, and every edit where the cursor is.
  assert.equal(shown(queryKey(q('acme gen|'), '', key({ leftArrow: true }))), 'acme ge|n');
  assert.equal(shown(queryKey(q('acme| gen'), '', key({ rightArrow: true }))), 'acme |gen');
  assert.equal(shown(queryKey(q('acme gen|'), 'b', key({ meta: true }))), 'acme |gen');
  assert.equal(shown(queryKey(q('|acme gen'), 'f', key({ meta: true }))), 'acme| gen');
  assert.equal(shown(queryKey(q('acme gen|'), '', key({ leftArrow: true, ctrl: true }))), 'acme |gen');
  assert.equal(shown(queryKey(q('acme g|en'), 'a', key({ ctrl: true }))), '|acme gen');
  assert.equal(shown(queryKey(q('acme g|en'), 'e', key({ ctrl: true }))), 'acme gen|');
  assert.equal(shown(queryKey(q('acme g|en'), '', key({ home: true }))), '|acme gen');
  assert.equal(shown(queryKey(q('acme g|en'), '', key({ end: true }))), 'acme gen|');
  assert.equal(shown(queryKey(q('acme g|en'), '', key({ backspace: true }))), 'acme |en');
  assert.equal(shown(queryKey(q('acme g|en'), 'd', key({ ctrl: true }))), 'acme g|n');
  assert.equal(shown(queryKey(q('acme g|en'), 'w', key({ ctrl: true }))), 'acme |en');
  assert.equal(shown(queryKey(q('acme g|en'), 'u', key({ ctrl: true }))), '|en');
  assert.equal(shown(queryKey(q('acme g|en'), 'k', key({ ctrl: true }))), 'acme g|');
  assert.equal(queryKey(q('gen|'), 'x', key({})), null, 'typing is not an edit');
  assert.equal(queryKey(q('gen|'), '', key({ upArrow: true })), null, 'Up chooses, it does not edit');
});

test('the switcher’s and search’s query: typing goes where the cursor is, and the search is for what is shown', async (ctx) => {
  const { alice, general } = await acme([{ by: 'bob', body: 'the haystack has one needle' }]);
  const { store, intents } = await chat(ctx, alice.token);
  const overlay = () => store.get().overlay;

  press(intents, 'k', { ctrl: true });
  press(intents, 'genral');
  for (let i = 0; i < 3; i++) press(intents, '', { leftArrow: true });
  press(intents, 'e');
  assert.deepEqual(overlay(), { kind: 'switcher', query: 'general', cursor: 4, selected: 0 });
  press(intents, '\r', { return: true });
  await waitFor(() => store.get().active === general, { what: '#general open' });

  press(intents, 'f', { ctrl: true });
  press(intents, 'hay needle');
  press(intents, 'a', { ctrl: true });
  press(intents, 'f', { meta: true });
  press(intents, 'stack');
  const typed = overlay();
  assert.equal(typed?.kind === 'search' ? `${typed.query}@${typed.cursor}` : null, 'haystack needle@8');
  press(intents, '\r', { return: true });
  await waitFor(
    () => {
      const o = overlay();
      return o?.kind === 'search' && o.searched === 'haystack needle' && o.hits?.length === 1;
    },
    { what: 'the search for "haystack needle", as edited' },
  );
});

test('Tab never offers my own name', async (ctx) => {
  const { alice, general } = await acme([{ by: 'bob', body: 'hi' }]);
  const { store, controller, intents } = await chat(ctx, alice.token);
  await controller.open(general);
  await waitFor(() => (store.get().members[store.get().conversations[general]?.serverId ?? '']?.length ?? 0) === 2, {
    what: 'the members',
  });
  const me = alice.user.username;
  press(intents, me.slice(0, 3));
  press(intents, '\t', { tab: true });
  assert.notEqual(intents.text, `${me}: `);
  assert.equal(intents.text.startsWith(me), false);
});

test('Ctrl-K offers people I share a server with but have not written to, and a typed name; choosing one starts /dm', async (ctx) => {
  const { alice, bob, general } = await acme([{ by: 'bob', body: 'hi' }]);
  const { store, controller, intents } = await chat(ctx, alice.token);
  await controller.open(general);
  await waitFor(() => (store.get().members[store.get().conversations[general]?.serverId ?? '']?.length ?? 0) === 2, {
    what: 'the members',
  });
  const bobName = bob.user.username;
  const offered = switcherMatches(store.get(), bobName.slice(0, 4));
  assert.deepEqual(
    offered.map((i) => [i.label, i.kind]),
    [[`${bobName}  (no conversation yet)`, 'dm']],
  );
  assert.equal(switcherMatches(store.get(), alice.user.username).length, 0, 'never myself');
  press(intents, 'k', { ctrl: true });
  press(intents, bobName);
  press(intents, '\r', { return: true });
  await waitFor(() => intents.text === `/dm ${bobName} `, { what: '/dm in the composer' });
  assert.match(store.get().notice?.text ?? '', new RegExp(`no conversation with ${bobName} yet`));
  // Someone I share nothing with: the typed name is offered.
  assert.deepEqual(
    switcherMatches(store.get(), 'zora').map((i) => i.label),
    ['zora  (start a conversation)'],
  );
});

test('scrolled up, new messages are not read until the window comes back down; a mention there rings', async (ctx) => {
  const lines = Array.from({ length: 40 }, (_, i) => ({ by: 'bob' as const, body: `line ${i + 1}` }));
  const { alice, bob, general } = await acme(lines);
  const { store, controller, intents } = await chat(ctx, alice.token);
  await controller.open(general);
  await waitFor(() => (store.get().views[general]?.lines.length ?? 0) >= 40, { what: 'the history' });
  press(intents, '', { pageUp: true });
  assert.ok((store.get().views[general]?.scrollBack ?? 0) > 0, 'scrolled up');
  const bell = store.get().bell;
  const b = await connectAs(t.wsUrl, bob.token);
  ctx.after(() => b.close());
  await b.request('messages.send', {
    conversationId: general,
    body: `unseen @${alice.user.username}`,
    nonce: 'unseen-1',
  });
  await waitFor(() => store.get().conversations[general]?.unread === 1, { what: 'counted as unread' });
  assert.equal(store.get().conversations[general]?.mentions, 1);
  assert.equal(store.get().bell, bell + 1, 'the mention rings');
  const onServer = async () =>
    (await controller.client.request('conversations.list', {})).conversations.find((c) => c.id === general);
  assert.equal((await onServer())?.unread, 1, 'the server has it unread too');
  press(intents, '', { end: true });
  assert.equal(store.get().conversations[general]?.unread, 0);
  await waitFor(async () => (await onServer())?.unread === 0, { what: 'read on the server once seen' });
});

test('a paste goes where typing goes: whole into the composer (ending a selection first), on one line into a search', async (ctx) => {
  const { alice, general } = await acme([{ by: 'bob', body: 'hello' }]);
  const { store, controller, intents } = await chat(ctx, alice.token);
  await controller.open(general);
  await waitFor(() => store.get().views[general]?.lines.length === 1, { what: 'the history' });
  press(intents, '', { upArrow: true, ctrl: true });
  assert.equal(store.get().selected?.seq, 1);
  // Letters of a paste are not selection keys: "deploy" would otherwise delete (d) and edit (e).
  intents.paste('deploy\r\nnotes');
  assert.equal(store.get().selected, null);
  assert.equal(intents.text, 'deploy\nnotes');
  assert.equal(store.get().views[general]?.lines.length, 1, 'nothing sent');

  intents.runKey('search');
  intents.paste('two\nwords\n');
  const overlay = store.get().overlay;
  assert.equal(overlay?.kind === 'search' ? overlay.query : null, 'two words');
  assert.equal(intents.text, 'deploy\nnotes', 'the draft untouched');
});

test('the member list on a narrow terminal: turning it on says why it does not show; turning it off, or widening, ends that', async (ctx) => {
  const { alice, general } = await acme([{ by: 'bob', body: 'hello' }]);
  const { store, controller, intents } = await chat(ctx, alice.token);
  await controller.open(general);
  intents.layout = { ...intents.layout, columns: 80 };
  const shown = store.get().showMembers;
  intents.runKey('toggleMembers');
  if (shown) intents.runKey('toggleMembers');
  assert.equal(store.get().showMembers, true);
  assert.match(store.get().notice?.text ?? '', /needs a terminal at least 90 columns wide \(this one has 80\)/);
  intents.runKey('toggleMembers');
  assert.equal(store.get().showMembers, false);
  assert.equal(store.get().notice, null, 'off: nothing to explain');
  intents.runKey('toggleMembers');
  assert.match(store.get().notice?.text ?? '', /needs a terminal/);
  // The terminal widened (the app dispatches this when the columns change).
  store.dispatch({ type: 'notice', text: 'sent', level: 'info' });
  store.dispatch({ type: 'settled', about: 'members-width' });
  assert.equal(store.get().notice?.text, 'sent', 'another notice is left alone');
  intents.runKey('toggleMembers');
  intents.runKey('toggleMembers');
  store.dispatch({ type: 'settled', about: 'members-width' });
  assert.equal(store.get().notice, null);
});

test('/transfer asks first: n or Esc keeps the server, another key also does what it does, y gives it away', async (ctx) => {
  const { alice, bob, general } = await acme([{ by: 'bob', body: 'hi' }]);
  const { store, controller, intents } = await chat(ctx, alice.token);
  await controller.open(general);
  const serverId = store.get().conversations[general]?.serverId ?? '';
  const place = store.get().servers[serverId]?.name ?? '';
  const myRole = async () => (await controller.client.request('servers.get', { serverId })).server.role;
  const transfer = () => {
    press(intents, `/transfer ${bob.user.username}`);
    press(intents, '\r', { return: true });
    assert.equal(
      store.get().notice?.text,
      `give ${place} to ${bob.user.username}? You will no longer own it. y: yes, any other key: no`,
    );
  };

  transfer();
  press(intents, 'n');
  assert.equal(store.get().notice?.text, `${place} is still yours`);
  assert.equal(intents.text, '', 'the answer is not typed');
  transfer();
  press(intents, '', { escape: true, meta: true });
  assert.equal(store.get().notice?.text, `${place} is still yours`);
  transfer();
  press(intents, '1');
  assert.equal(store.get().notice?.text, `${place} is still yours`);
  assert.equal(intents.text, '1', 'a key that is not an answer is typed too');
  press(intents, '', { backspace: true });
  assert.equal(await myRole(), 'owner');

  // A question that left the notice line (its time ran out, another notice came) is not answered.
  transfer();
  store.dispatch({ type: 'notice', text: 'something else happened', level: 'info' });
  press(intents, 'y');
  assert.equal(intents.text, 'y', 'y is typed, not taken as yes');
  press(intents, '', { backspace: true });
  assert.equal(await myRole(), 'owner');

  transfer();
  press(intents, 'y');
  await waitFor(() => store.get().notice?.text === `${bob.user.username} now owns ${place}`, { what: 'the transfer' });
  assert.equal(await myRole(), 'admin');
});

test('the switcher: PageDown and PageUp move the choice a page of its list at a time, within the matches', async (ctx) => {
  const { alice } = await acme([{ by: 'bob', body: 'hello' }]);
  const a = await connectAs(t.wsUrl, alice.token);
  const { server } = await a.request('servers.create', { name: uniqueName('many') });
  for (let i = 0; i < 24; i++) await a.request('channels.create', { serverId: server.id, name: `room-${i}` });
  a.close();
  const { store, intents } = await chat(ctx, alice.token);
  intents.layout = { ...intents.layout, rows: 24 };
  intents.runKey('switcher');
  const chosen = () => {
    const o = store.get().overlay;
    return o?.kind === 'switcher' ? o.selected : -1;
  };
  const total = switcherMatches(store.get(), '').length;
  assert.ok(total > 20, `${total} matches`);
  press(intents, '', { pageDown: true });
  assert.equal(chosen(), 16, 'a page of the 16 rows the switcher shows at 24 rows');
  press(intents, '', { pageDown: true });
  press(intents, '', { pageDown: true });
  assert.equal(chosen(), total - 1, 'no further than the last');
  press(intents, '', { pageUp: true });
  assert.equal(chosen(), total - 17);
  press(intents, '', { pageUp: true });
  press(intents, '', { pageUp: true });
  assert.equal(chosen(), 0);
});

test('reports: ! on a selected message writes /report #N, Enter with a reason reports it; without a number, the newest of someone else', async (ctx) => {
  const { bob, general } = await acme([
    { by: 'alice', body: 'hello all' },
    { by: 'bob', body: 'buy cheap watches' },
    { by: 'bob', body: 'and more watches' },
    { by: 'alice', body: 'please stop' },
  ]);
  const { store, controller, intents } = await chat(ctx, bob.token);
  await controller.open(general);
  await waitFor(() => store.get().views[general]?.lines.length === 4, { what: 'the history' });

  // bob's own message is not his to report.
  press(intents, '', { upArrow: true, ctrl: true });
  press(intents, '', { upArrow: true });
  press(intents, '!');
  assert.match(store.get().notice?.text ?? '', /that message is yours: there is nothing to report/);
  // alice's first message, selected: ! brings the command, the reason is typed, Enter reports.
  press(intents, 'g');
  press(intents, '!');
  assert.equal(store.get().selected, null);
  assert.equal(intents.text, '/report #1 ');
  press(intents, 'harassment rude');
  press(intents, '\r', { return: true });
  await waitFor(
    () => /reported #1 to the moderators of .* \(harassment\): report #\d+/.test(store.get().notice?.text ?? ''),
    {
      what: 'the report confirmed',
    },
  );
  // Without a number: alice's "please stop", the newest message of someone else.
  intents.setText('/report spam');
  intents.submit();
  await waitFor(() => /reported #4 to the moderators/.test(store.get().notice?.text ?? ''), {
    what: 'the second report',
  });
  // A second report of it is refused in the server's words, and the line comes back to be fixed.
  intents.setText('/report #4 other');
  intents.submit();
  await waitFor(() => /you already reported this message/.test(store.get().notice?.text ?? ''), {
    what: 'the refusal',
  });
  assert.equal(intents.text, '/report #4 other');

  const stored = await t.sql.all<{ message_seq: number; reason: string; details: string | null; snapshot: string }>(
    'SELECT message_seq, reason, details, snapshot FROM reports WHERE reporter_id = ? ORDER BY id',
    bob.user.id,
  );
  assert.deepEqual(
    stored.map((r) => [Number(r.message_seq), r.reason, r.details, r.snapshot]),
    [
      [1, 'harassment', 'rude', 'hello all'],
      [4, 'spam', null, 'please stop'],
    ],
  );
});
