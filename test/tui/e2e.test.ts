import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type NatterClient, patiently } from '../../src/client/index.js';
import { connectAs, HttpApi, PASSWORD } from '../helpers/api.js';
import { COLS, type Registered, Screen, saveLogin } from '../helpers/screen.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';

let t: TestServer;
let dir: string;

/** A config directory holding `reg`'s session for `url` (the test server's), as `natter login` leaves it. */
function savedLogin(name: string, reg: Registered, url = t.wsUrl): string {
  return saveLogin(join(dir, name), url, reg);
}
before(async () => {
  t = await startTestServer();
  dir = mkdtempSync(join(tmpdir(), 'natter-tui-'));
});
after(async () => {
  await t.destroy();
  rmSync(dir, { recursive: true, force: true });
});

test('the terminal app: open a channel, send and receive, switch with Ctrl-K, unread badges appear and clear', async () => {
  const alice = await new HttpApi(t.httpUrl).call('register', { username: 'alice', password: PASSWORD });
  const bob = await new HttpApi(t.httpUrl).call('register', { username: 'bob', password: PASSWORD });
  const a = await connectAs(t.wsUrl, alice.token);
  const { server, channels } = await a.request('servers.create', { name: 'acme' });
  const general = channels[0]?.id ?? '';
  const { channel: random } = await a.request('channels.create', { serverId: server.id, name: 'random' });
  const { invite } = await a.request('invites.create', { serverId: server.id });
  a.close();
  const b: NatterClient = await connectAs(t.wsUrl, bob.token);
  await b.request('invites.join', { code: invite.code });
  await b.request('messages.send', { conversationId: general, body: 'welcome to acme, alice', nonce: 'e2e-0' });

  const home = savedLogin('alice', alice);
  const screen = new Screen({ NATTER_HOME: home, NATTER_SERVER: t.wsUrl });
  try {
    // It opens on the first channel, with the history and the status line.
    await screen.waitFor(/acme/, 'the sidebar');
    await screen.waitFor(/welcome to acme, alice/, 'the latest messages');
    await screen.waitFor(/connected/, 'the status line');

    // Alice sends; Bob receives.
    const received = b.nextEvent('message.created', (d) => d.message.body === 'hello from the terminal');
    await screen.type('hello from the terminal', /> hello from the terminal/, 'the text in the composer');
    await screen.type('\r', /\d\d:\d\d alice hello from the terminal/, 'my own line');
    assert.equal((await received).data.message.author.username, 'alice');

    // Bob answers; Alice sees it live.
    await b.request('messages.send', { conversationId: general, body: 'got it, alice!', nonce: 'e2e-1' });
    await screen.waitFor(/got it, alice!/, "bob's reply");

    // A mention in another channel shows a badge in the sidebar…
    await b.request('messages.send', { conversationId: random.id, body: 'look here @alice', nonce: 'e2e-2' });
    await screen.waitFor(/random\s+1\s/, 'the mention badge on #random');

    // …which clears when Ctrl-K opens that channel.
    await screen.type('\u000b', /Go to:/, 'the quick switcher');
    await screen.type('rand', /Go to: rand/, 'the query in the switcher');
    await screen.type(
      '\r',
      (s) => /look here @alice/.test(s) && !/Go to:/.test(s),
      'the #random history, the switcher closed',
    );
    await screen.waitFor((s) => !/random\s+1\s/.test(s), 'the badge on #random to clear');
    // And the server knows it was read, so alice's other clients clear too.
    const elsewhere = await connectAs(t.tcpUrl, alice.token);
    try {
      await waitFor(
        async () => {
          const { conversations } = await elsewhere.request('conversations.list', {});
          const r = conversations.find((c) => c.id === random.id);
          return r?.unread === 0 && r.mentions === 0;
        },
        { what: 'the server to have #random read for alice (no unread, no mention)', intervalMs: 50 },
      );
    } finally {
      elsewhere.close();
    }

    // The composer edits mid-line: "helo world", Left ×7, "l" is "hello world".
    await screen.type('helo world', /> helo world/, 'the typo in the composer');
    await screen.type('\u001b[D'.repeat(7), /> helo world/, 'the cursor moved left');
    await screen.type('l', /> hello world/, 'the letter inserted where the cursor is');
    // Ctrl-E, Ctrl-W: the last word goes.
    await screen.type('\u0005\u0017', (s) => /> hello *$/m.test(s), 'the last word killed');
    // The draft stays in #random when another conversation opens, and comes back.
    await screen.type('\u0007', /Go to:/, 'the switcher (Ctrl-G, whatever the composer holds)');
    await screen.type('gen', /Go to: gen/, 'the query');
    await screen.type('\r', (s) => /got it, alice!/.test(s) && !/Go to:/.test(s), '#general open');
    await screen.waitFor((s) => !/> hello/.test(s), 'an empty composer in #general');
    await screen.type('\u0007', /Go to:/, 'the switcher again');
    await screen.type('rand\r', (s) => /> hello /.test(s) && /look here @alice/.test(s), 'the draft back in #random');
    await screen.type('\u0015', (s) => !/> hello/.test(s), 'Ctrl-U clears it');

    // A message that starts with @name goes to the open channel, not to a DM with that person.
    const inChannel = b.nextEvent('message.created', (d) => d.message.body === '@bob are you there?');
    await screen.type('@bob are you there?', /> @bob are you there\?/, 'the text in the composer');
    await screen.type('\r', /\d\d:\d\d alice @bob are you there\?/, 'my line in #random');
    assert.equal((await inChannel).data.message.conversationId, random.id);
    const dms = await b.request('dms.list', {});
    assert.equal(dms.dms.length, 0, 'no DM was opened');

    // A DM is opened on purpose: /dm bob MESSAGE starts it and shows it.
    const direct = b.nextEvent('message.created', (d) => d.message.body === 'just us now');
    await screen.type('/dm bob just us now', /> \/dm bob just us now/, 'the command in the composer');
    await screen.type('\r', (s) => /@bob/.test(s) && /alice just us now/.test(s), 'the new DM, open');
    const dm = (await direct).data.message;
    assert.notEqual(dm.conversationId, random.id);
    assert.equal((await b.request('dms.list', {})).dms[0]?.id, dm.conversationId);

    // A server made here opens at its #general, and the next message goes there.
    await screen.type('/create-server widgets', /> \/create-server widgets/, 'the command');
    await screen.type('\r', /created server widgets/, 'the server made');
    await screen.type('first words in widgets\r', /alice first words in widgets/, 'the message, in the open view');
    const mine = await connectAs(t.wsUrl, alice.token);
    try {
      const { servers } = await mine.request('servers.list', {});
      const widgets = servers.find((s) => s.name === 'widgets');
      assert.ok(widgets, 'the server exists');
      const { channels } = await mine.request('channels.list', { serverId: widgets.id });
      const page = await mine.request('messages.history', { conversationId: channels[0]?.id ?? '' });
      assert.deepEqual(
        page.messages.map((m) => m.body),
        ['first words in widgets'],
      );
    } finally {
      mine.close();
    }

    // Alt-1 goes to the sidebar's first conversation (acme's #general), as in weechat.
    await screen.type(
      '\u001b1',
      (s) => /#general\s+acme/.test(s) && /got it, alice!/.test(s),
      'the first conversation',
    );
  } finally {
    assert.equal(await screen.quit(), 0);
    b.close();
  }
});

test('first run: the login screen logs in, keeps the session, and refuses a wrong password in words', async () => {
  await new HttpApi(t.httpUrl).call('register', { username: 'carol', password: PASSWORD });
  const home = join(dir, 'carol');
  const screen = new Screen({ NATTER_HOME: home, NATTER_SERVER: t.wsUrl });
  try {
    await screen.waitFor(/log ?in/i, 'the login screen');
    /** The password field showing exactly `n` dots. */
    const dots = (n: number) => new RegExp(`› Password  •{${n}}(?!•)`);
    await screen.type('carol', /› Username {2}carol/, 'the username typed');
    await screen.type('\r', /› Password/, 'the password field focused');
    const wrong = 'not the password';
    await screen.type(wrong, dots(wrong.length), 'the wrong password typed');
    const refused = await screen.type('\r', /wrong username or password/, 'the error in words');
    // The wrong password is emptied, the cursor on it, for typing again.
    assert.match(refused, /› Password {2}(?!•)/, 'the password field empty and focused');
    assert.match(refused, /Username {2}carol/, 'the username kept');
    await screen.type(PASSWORD, dots(PASSWORD.length), 'the right password typed');
    await screen.type('\r', /connected/, 'the chat screen');
  } finally {
    assert.equal(await screen.quit(), 0);
  }
  // The session was saved: the next start goes straight to the chat.
  const again = new Screen({ NATTER_HOME: home, NATTER_SERVER: t.wsUrl });
  try {
    await again.waitFor(/connected/, 'the chat screen without logging in');
  } finally {
    assert.equal(await again.quit(), 0);
  }
});

test('the login screen: keys that arrive in one chunk are fields and Enters; an ended session says so; register asks for the password twice', async () => {
  const api = new HttpApi(t.httpUrl);
  const dave = await api.call('register', { username: 'dave', password: PASSWORD });
  const home = savedLogin('dave', dave);
  // The saved session ends before the app starts (logged out elsewhere).
  await api.call('logout', {});
  const screen = new Screen({ NATTER_HOME: home, NATTER_SERVER: t.wsUrl });
  try {
    await screen.waitFor(/saved session .* has ended/, 'why the login screen is back');
    // Username, Enter, password, Enter: all in one write, as a fast typist or a script sends them.
    await screen.type(`dave\r${PASSWORD}\r`, /connected/, 'the chat screen');
  } finally {
    assert.equal(await screen.quit(), 0);
  }

  const erin = new Screen({ NATTER_HOME: join(dir, 'erin'), NATTER_SERVER: t.wsUrl });
  try {
    await erin.waitFor(/log in/, 'the login screen');
    await erin.type('\u0012', /create an account/, 'register mode');
    await erin.type(`erin\r${PASSWORD}\rsomething else\r`, /two passwords differ/, 'the mismatch, in words');
    await erin.type(`${PASSWORD}\r`, /connected/, 'the chat screen, registered');
  } finally {
    assert.equal(await erin.quit(), 0);
  }
  const who = await new HttpApi(t.httpUrl).call('login', { username: 'erin', password: PASSWORD });
  assert.equal(who.user.username, 'erin');
});

test('the screen: drawn in the alternate screen and left on exit, never cleared whole, and nothing written while idle', async () => {
  const api = new HttpApi(t.httpUrl);
  const frank = await api.call('register', { username: 'frank', password: PASSWORD });
  const f = await connectAs(t.wsUrl, frank.token);
  const { channels } = await f.request('servers.create', { name: 'quiet' });
  const general = channels[0]?.id ?? '';
  await f.request('messages.send', { conversationId: general, body: 'first words', nonce: 'idle-0' });
  const home = savedLogin('frank', frank);
  const screen = new Screen({ NATTER_HOME: home, NATTER_SERVER: t.wsUrl });
  let exitCode: number | null = null;
  try {
    await screen.waitFor((s) => /first words/.test(s) && /connected/.test(s), 'the chat screen');
    // Let the start-up renders finish: the output stops growing (checked every 500 ms).
    let last = -1;
    await waitFor(
      async () => {
        const now = screen.bytes;
        const quiet = now === last;
        last = now;
        await new Promise((r) => setTimeout(r, 500));
        return quiet;
      },
      { what: 'the start-up renders to finish' },
    );
    // Idle for three ticks of the app's one-second clock: not one byte.
    const before = screen.bytes;
    await new Promise((r) => setTimeout(r, 3500));
    assert.equal(screen.bytes - before, 0, 'bytes written while idle');
    // A new message is drawn without clearing the screen.
    await f.request('messages.send', { conversationId: general, body: 'second words', nonce: 'idle-1' });
    await screen.waitFor(/second words/, 'the new message');
  } finally {
    exitCode = await screen.quit();
    f.close();
  }
  assert.equal(exitCode, 0);
  const all = Buffer.concat(screen.output).toString('latin1');
  assert.ok(all.includes('\u001b[?1049h'), 'the alternate screen is entered');
  assert.ok(
    all.lastIndexOf('\u001b[?1049l') > all.lastIndexOf('second words'),
    'and left at exit, after the last frame',
  );
  assert.ok(!all.includes('\u001b[2J'), 'the screen is never cleared whole (ESC[2J)');
  assert.ok(!all.includes('\u001b[3J'), 'the scrollback is never cleared (ESC[3J)');
});

test('with CI and NO_COLOR in the environment the cursor still shows (inverse video), and nothing is coloured', async () => {
  const api = new HttpApi(t.httpUrl);
  const ivan = await api.call('register', { username: 'ivan', password: PASSWORD });
  const v = await connectAs(t.wsUrl, ivan.token);
  await v.request('servers.create', { name: 'plain' });
  v.close();
  const home = savedLogin('ivan', ivan);
  // Terminal-style detection reads CI as "output goes to a log" and would drop inverse video with the colours.
  const screen = new Screen({ NATTER_HOME: home, NATTER_SERVER: t.wsUrl, CI: 'true', NO_COLOR: '1' });
  try {
    await screen.waitFor((s) => /#general/.test(s) && /connected/.test(s), 'the chat screen');
    await screen.type('abc', /> abc/, 'the text in the composer');
    let seen: unknown = null;
    const cursorOn = async (char: string, what: string) =>
      waitFor(
        async () => {
          // The composer's row: the one that holds "> abc" (the open channel's sidebar entry is inverse too).
          const row = (await screen.text()).split('\n').findIndex((line) => /> abc/.test(line));
          const inverse = (await screen.styles()).inverse.filter((c) => c.row === row);
          seen = inverse;
          return inverse.length === 1 && inverse[0]?.char === char ? inverse[0] : undefined;
        },
        { what, intervalMs: 50, detail: () => `inverse cells: ${JSON.stringify(seen)}` },
      );
    const atEnd = await cursorOn(' ', 'one inverse cell after "abc" (the cursor at the end)');
    await screen.type('\u001b[D', /> abc/, 'the cursor moved left');
    const onC = await cursorOn('c', 'the cursor on the "c"');
    assert.equal(onC.row, atEnd.row);
    assert.equal(onC.col, atEnd.col - 1, 'one column to the left');
    assert.equal((await screen.styles()).coloured, 0, 'no cell has a colour under NO_COLOR');
  } finally {
    assert.equal(await screen.quit(), 0);
  }
});

test('the search query has a cursor: an inverse cell where typing goes, which Left moves, and typing there edits mid-line', async () => {
  const api = new HttpApi(t.httpUrl);
  const omar = await api.call('register', { username: 'omar', password: PASSWORD });
  const o = await connectAs(t.wsUrl, omar.token);
  const { channels } = await o.request('servers.create', { name: 'finds' });
  await o.request('messages.send', { conversationId: channels[0]?.id ?? '', body: 'hello world', nonce: 'find-0' });
  o.close();
  const screen = new Screen({ NATTER_HOME: savedLogin('omar', omar), NATTER_SERVER: t.wsUrl });
  try {
    await screen.waitFor((s) => /hello world/.test(s) && /connected/.test(s), 'the chat screen');
    await screen.type('\u0006', /Search:/, 'the search overlay (Ctrl-F)');
    await screen.type('wrld', /Search: wrld/, 'the query');
    let seen: unknown = null;
    /** The one inverse cell of the query's row, once it is on `char`. */
    const cursorOn = async (query: RegExp, char: string, what: string) =>
      waitFor(
        async () => {
          const row = (await screen.text()).split('\n').findIndex((line) => query.test(line));
          const inverse = (await screen.styles()).inverse.filter((c) => c.row === row);
          seen = inverse;
          return row >= 0 && inverse.length === 1 && inverse[0]?.char === char ? inverse[0] : undefined;
        },
        { what, intervalMs: 50, detail: () => `inverse cells: ${JSON.stringify(seen)}` },
      );
    const atEnd = await cursorOn(/Search: wrld/, ' ', 'the cursor after "wrld"');
    await screen.type('\u001b[D'.repeat(3), /Search: wrld/, 'Left three times');
    const onR = await cursorOn(/Search: wrld/, 'r', 'the cursor on the "r"');
    assert.equal(onR.col, atEnd.col - 3);
    await screen.type('o', /Search: world/, 'the letter typed where the cursor is');
    const still = await cursorOn(/Search: world/, 'r', 'the cursor still on the "r", one column on');
    assert.equal(still.col, onR.col + 1);
    await screen.type('\r', (s) => /1 found/.test(s) && /omar: hello world/.test(s), 'the search for "world"');
  } finally {
    assert.equal(await screen.quit(), 0);
  }
});

test('selection mode in the terminal: Ctrl-Up marks the newest message and names it, Up moves, d then y deletes it', async () => {
  const api = new HttpApi(t.httpUrl);
  const judy = await api.call('register', { username: 'judy', password: PASSWORD });
  const j = await connectAs(t.wsUrl, judy.token);
  const { channels } = await j.request('servers.create', { name: 'picks' });
  const general = channels[0]?.id ?? '';
  await j.request('messages.send', { conversationId: general, body: 'keep this one', nonce: 'pick-0' });
  await j.request('messages.send', { conversationId: general, body: 'drop this one', nonce: 'pick-1' });
  await j.request('messages.send', { conversationId: general, body: 'and the last', nonce: 'pick-2' });
  const home = savedLogin('judy', judy);
  const screen = new Screen({ NATTER_HOME: home, NATTER_SERVER: t.wsUrl });
  const inverseRow = async (text: string) => {
    const rows = (await screen.text()).split('\n');
    const row = rows.findIndex((r) => r.includes(text));
    const { inverse } = await screen.styles();
    return row >= 0 && inverse.filter((c) => c.row === row).length >= text.length;
  };
  try {
    await screen.waitFor((s) => /and the last/.test(s) && /connected/.test(s), 'the chat screen');
    // Ctrl-Up as xterm sends it.
    await screen.type('\u001b[1;5A', /#3 judy · e edit · d delete/, 'the selection hint');
    await waitFor(() => inverseRow('and the last'), { what: 'the newest message in inverse video', intervalMs: 50 });
    await screen.type('\u001b[A', /#2 judy/, 'the selection moved up');
    await waitFor(() => inverseRow('drop this one'), { what: 'message 2 in inverse video', intervalMs: 50 });
    await screen.type('d', /delete message #2 by judy\? y deletes it/, 'the question');
    await screen.type('y', (s) => /message deleted/.test(s) && !/drop this one/.test(s), 'message 2 deleted');
    const history = await j.request('messages.history', { conversationId: general });
    assert.deepEqual(
      history.messages.map((m) => m.deletedAt !== null),
      [false, true, false],
    );
    await screen.type('\u001b', (s) => !/e edit · d delete/.test(s), 'Esc ends the selection');
  } finally {
    assert.equal(await screen.quit(), 0);
    j.close();
  }
});

test('the mouse: reporting is asked for and given back; the wheel scrolls, a click opens a conversation or selects a message, and nothing is typed', async () => {
  const api = new HttpApi(t.httpUrl);
  const kim = await api.call('register', { username: 'kim', password: PASSWORD });
  const k = await connectAs(t.wsUrl, kim.token);
  const { server, channels } = await k.request('servers.create', { name: 'clicks' });
  const general = channels[0]?.id ?? '';
  await k.request('channels.create', { serverId: server.id, name: 'zeta' });
  for (let i = 1; i <= 60; i++) {
    await k.request('messages.send', { conversationId: general, body: `line ${i}`, nonce: `mouse-${i}` });
  }
  const home = savedLogin('kim', kim);
  const screen = new Screen({ NATTER_HOME: home, NATTER_SERVER: t.wsUrl });
  const wheel = (up: boolean) => `\u001b[<${up ? 64 : 65};60;20M`;
  let exitCode: number | null = null;
  try {
    await screen.waitFor((s) => /line 60/.test(s) && /connected/.test(s), 'the chat screen');
    // Five turns up (three rows each): line 60 leaves the screen; nothing lands in the composer.
    await screen.type(
      wheel(true).repeat(5),
      (s) => !/line 60\b/.test(s) && /more below/.test(s),
      'scrolled up by the wheel',
    );
    assert.doesNotMatch(await screen.text(), /> .*\[</, 'no mouse report typed into the composer');
    await screen.type(wheel(false).repeat(5), (s) => /line 60\b/.test(s) && !/more below/.test(s), 'back down');
    // A click on a message selects it.
    const rows = (await screen.text()).split('\n');
    const y = rows.findIndex((r) => /line 58\b/.test(r));
    const x = (rows[y] ?? '').indexOf('line 58');
    await screen.type(
      `\u001b[<0;${x + 1};${y + 1}M\u001b[<0;${x + 1};${y + 1}m`,
      /#58 kim · e edit/,
      'message 58 selected',
    );
    // A click on #zeta in the sidebar opens it.
    const zetaRows = (await screen.text()).split('\n');
    const zy = zetaRows.findIndex((r) => /#zeta/.test(r));
    const zx = (zetaRows[zy] ?? '').indexOf('#zeta');
    await screen.type(`\u001b[<0;${zx + 2};${zy + 1}M\u001b[<0;${zx + 2};${zy + 1}m`, /zeta\s+clicks/, '#zeta open');
  } finally {
    exitCode = await screen.quit();
    k.close();
  }
  assert.equal(exitCode, 0);
  const all = Buffer.concat(screen.output).toString('latin1');
  assert.ok(all.includes('\u001b[?1000h\u001b[?1006h'), 'mouse reporting asked for');
  assert.ok(all.lastIndexOf('\u001b[?1006l\u001b[?1000l') > all.lastIndexOf('\u001b[?1000h'), 'and given back at exit');
});

test('a long URL wraps over rows and stays one link (OSC 8) on each piece; the screen shows only the address', async () => {
  const api = new HttpApi(t.httpUrl);
  const lee = await api.call('register', { username: 'lee', password: PASSWORD });
  const l = await connectAs(t.wsUrl, lee.token);
  const { channels } = await l.request('servers.create', { name: 'links' });
  const general = channels[0]?.id ?? '';
  const url = `https://example.com/${'x'.repeat(150)}/end`;
  await l.request('messages.send', { conversationId: general, body: `read ${url} please`, nonce: 'link-0' });
  const home = savedLogin('lee', lee);
  const screen = new Screen({ NATTER_HOME: home, NATTER_SERVER: t.wsUrl });
  try {
    const text = await screen.waitFor((s) => /please/.test(s) && /connected/.test(s), 'the message');
    // On screen: the address in pieces, no escape sequence debris.
    const flat = text.replace(/\n[^\n]*│ ?\s*/g, '').replace(/\s+/g, '');
    assert.ok(flat.includes(url), 'the address reads whole across its rows');
    assert.doesNotMatch(text, /8;;|\]8/);
    // Drawn once, inside the message list: each row ends at the list's edge, nothing spills or repeats,
    // and the frame keeps its height (the sidebar's first row is still the first row).
    assert.equal(text.split('/end').length - 1, 1, 'the end of the address shows once');
    assert.match(text.split('\n')[0] ?? '', /^ ▾ links\s+│/);
    for (const row of text.split('\n')) {
      const list = row.split('│')[1] ?? '';
      assert.ok(list.trimEnd().length <= COLS - 26, `within the list: "${row}"`);
      assert.ok(!/x{3,}.*│/.test(row.split('│').slice(1).join('│')), `no piece past the edge: "${row}"`);
    }
    const all = Buffer.concat(screen.output).toString('utf8');
    // Ended by BEL, as Ink's own links are: tmux 3.3 mangled the screen around ones ended by ESC \\.
    const opened = all.split(`\u001b]8;;${url}\u0007`).length - 1;
    assert.ok(opened >= 2, `the link is opened on each row of the address (${opened} times)`);
    assert.ok(all.includes('\u001b]8;;\u0007'), 'and closed');
  } finally {
    assert.equal(await screen.quit(), 0);
    l.close();
  }
});

test('F1 opens the help and it stays open until a key closes it; a message may start with "?"', async () => {
  const api = new HttpApi(t.httpUrl);
  const mia = await api.call('register', { username: 'mia', password: PASSWORD });
  const m = await connectAs(t.wsUrl, mia.token);
  const { channels } = await m.request('servers.create', { name: 'asks' });
  const general = channels[0]?.id ?? '';
  const home = savedLogin('mia', mia);
  const screen = new Screen({ NATTER_HOME: home, NATTER_SERVER: t.wsUrl });
  try {
    await screen.waitFor((s) => /#general/.test(s) && /connected/.test(s), 'the chat screen');
    // F1 as xterm sends it; the help is still there once the next frames are drawn (a later key closes it).
    await screen.type('\u001bOP', /General[\s\S]*Ctrl-C\s+Quit/, 'the help');
    const sent = m.nextEvent('message.created', (d) => d.message.body === 'x');
    await m.request('messages.send', { conversationId: general, body: 'x', nonce: 'help-0' });
    await sent;
    await screen.waitFor(/General[\s\S]*Ctrl-C\s+Quit/, 'the help, still open after a redraw');
    await screen.type('\u001b', (s) => !/Ctrl-C\s+Quit/.test(s) && /mia x/.test(s), 'Esc closes it');
    const asked = m.nextEvent('message.created', (d) => d.message.body === '? anyone here');
    await screen.type('? anyone here', /> \? anyone here/, 'a question mark typed first');
    await screen.type('\r', /mia \? anyone here/, 'sent');
    assert.equal((await asked).data.message.conversationId, general);
  } finally {
    assert.equal(await screen.quit(), 0);
    m.close();
  }
});

test('config.json problems: one notice that stays once the chat opens, and F1 lists every one', async () => {
  const api = new HttpApi(t.httpUrl);
  const nia = await api.call('register', { username: 'nia', password: PASSWORD });
  const n = await connectAs(t.wsUrl, nia.token);
  await n.request('servers.create', { name: 'configs' });
  n.close();
  const home = savedLogin('nia', nia);
  writeFileSync(
    join(home, 'config.json'),
    JSON.stringify({ theme: { mention: 'notacolor' }, bogus: 1, keys: { switcher: 'ctrl+m' } }),
  );
  const screen = new Screen({ NATTER_HOME: home, NATTER_SERVER: t.wsUrl });
  try {
    await screen.waitFor(
      (s) => /#general/.test(s) && /connected/.test(s) && /config\.json: .*\(and 2 more: F1 lists them\)/.test(s),
      'the chat open, the notice still there',
    );
    const help = await screen.type('\u001bOP', /config\.json problems/, 'the help, problems first');
    assert.match(help, /notacolor/);
    assert.match(help, /bogus/);
    assert.match(help, /ctrl\+m/);
  } finally {
    assert.equal(await screen.quit(), 0);
  }
});

test('search: Ctrl-F finds a message far up in any case and accent, and Enter opens it there, the match marked', async () => {
  const api = new HttpApi(t.httpUrl);
  const gina = await api.call('register', { username: 'gina', password: PASSWORD });
  const g = await connectAs(t.wsUrl, gina.token);
  const { channels } = await g.request('servers.create', { name: 'bakery' });
  const general = channels[0]?.id ?? '';
  for (let i = 1; i <= 120; i++) {
    const body = i === 10 ? 'the Café opens at nine' : `note ${i}`;
    await patiently(() => g.request('messages.send', { conversationId: general, body, nonce: `search-${i}` }));
  }
  g.close();
  const home = savedLogin('gina', gina);
  const screen = new Screen({ NATTER_HOME: home, NATTER_SERVER: t.wsUrl });
  try {
    await screen.waitFor((s) => /note 120/.test(s) && /connected/.test(s), 'the latest messages');
    assert.doesNotMatch(await screen.text(), /Café/, 'the message is far up');
    await screen.type('\u0006', /Search:/, 'the search overlay');
    await screen.type('CAFE\r', /1 found/, 'the hit');
    await screen.waitFor(/bakery\)? .*gina: the Café opens at nine/, 'where and what');
    await screen.type('\r', (s) => /gina the Café opens at nine/.test(s) && !/Search:/.test(s), 'the message, in view');
    await screen.waitFor(/more below · End/, 'scrolled up to it, with the way back down');
  } finally {
    assert.equal(await screen.quit(), 0);
  }
});

test('a server that is down at start: the app opens anyway, says it is reconnecting, and Ctrl-R connects as soon as it is back', async () => {
  const own = await startTestServer();
  const hana = await new HttpApi(own.httpUrl).call('register', { username: 'hana', password: PASSWORD });
  const port = own.server.port;
  const url = own.wsUrl;
  await own.stop();
  const home = savedLogin('hana', hana, url);
  const screen = new Screen({ NATTER_HOME: home, NATTER_SERVER: url });
  let again: TestServer | null = null;
  try {
    await screen.waitFor(/reconnecting in .*Ctrl-R: now/, 'the chat screen, waiting for the server');
    again = await startTestServer({ port }, own.dataDir);
    await screen.type('\u0012', /● connected/, 'connected at once on Ctrl-R');
  } finally {
    assert.equal(await screen.quit(), 0, 'it did connect: quitting is a success');
    await again?.destroy();
  }
});
