import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { connectAs, HttpApi, PASSWORD } from '../helpers/api.js';
import { Screen, saveLogin } from '../helpers/screen.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';

// Pastes and Enter in the real terminal app, end to end: bin/natter runs dist/ (npm run build first).

const PASTE_START = '\u001b[200~';
const PASTE_END = '\u001b[201~';

let t: TestServer;
let dir: string;
before(async () => {
  t = await startTestServer();
  dir = mkdtempSync(join(tmpdir(), 'natter-tui-'));
});
after(async () => {
  await t.destroy();
  rmSync(dir, { recursive: true, force: true });
});

test('bracketed paste: a pasted multi-line text is one message; lines typed fast with their Enters are one message each', async () => {
  const api = new HttpApi(t.httpUrl);
  const alice = await api.call('register', { username: 'pasta', password: PASSWORD });
  const a = await connectAs(t.wsUrl, alice.token);
  const { server, channels } = await a.request('servers.create', { name: 'kitchen' });
  const general = channels[0]?.id ?? '';
  await a.request('channels.create', { serverId: server.id, name: 'pantry' });
  await a.request('messages.send', { conversationId: general, body: 'water is boiling', nonce: 'p-0' });
  const home = join(dir, 'pasta');
  saveLogin(home, t.wsUrl, alice);
  const bodies = async () =>
    (await a.request('messages.history', { conversationId: general })).messages.map((m) => m.body);
  const screen = new Screen({ NATTER_HOME: home, NATTER_SERVER: t.wsUrl });
  try {
    await screen.waitFor(/water is boiling/, "kitchen's #general, open");
    await screen.waitFor(/connected/, 'the status line');
    assert.ok(Buffer.concat(screen.output).includes('\u001b[?2004h'), 'bracketed paste asked of the terminal');

    // Two lines and their Enters in one write, as a script or a fast typist sends them: two messages.
    await screen.type('salt\rpepper\r', /pasta pepper/, 'both lines sent');
    await waitFor(async () => ((await bodies()).join('|').endsWith('salt|pepper') ? true : undefined), {
      what: 'two messages on the server',
    });

    // A paste with line breaks (CRLF from another system too) waits in the composer, whole; Enter sends one message.
    await screen.type(
      `${PASTE_START}step one\r\nstep two\rstep three${PASTE_END}`,
      (s) => /> step one/.test(s) && /step three/.test(s),
      'the paste in the composer, on three lines',
    );
    const before = await bodies();
    assert.equal(before.includes('step one'), false, 'nothing sent by the paste itself');
    await screen.type('\r', /pasta step one/, 'sent');
    await waitFor(async () => ((await bodies()).at(-1) === 'step one\nstep two\nstep three' ? true : undefined), {
      what: 'one message of three lines',
    });

    // A paste in two reads (a long one arrives in pieces), with a Tab: still one paste, inserted at the cursor.
    await screen.type('[]', /> \[\]/, 'typed');
    await screen.type('\u001b[D', /> \[\]/, 'the cursor between the brackets');
    await screen.type(`${PASTE_START}a\t`, /> \[\]/, 'half a paste: nothing shown yet');
    await screen.type(`b${PASTE_END}`, /> \[a {1,8}b\]/, 'the paste inside the brackets');

    // Esc and Alt-2 pressed together arrive in one read (ESC ESC 2): Esc, then Alt-2 (the second channel).
    await screen.type('\u001b\u001b2', /#pantry {2}kitchen/, '#pantry open');
    assert.doesNotMatch(await screen.text(), /> .*2/, 'no 2 typed');
  } finally {
    assert.equal(await screen.quit(), 0);
  }
  assert.ok(Buffer.concat(screen.output).includes('\u001b[?2004l'), 'bracketed paste given back to the terminal');
  a.close();
});

test('the login screen: a wrong password is cleared for typing again, a pasted password is not Enter', async () => {
  await new HttpApi(t.httpUrl).call('register', { username: 'forgetful', password: PASSWORD });
  const screen = new Screen({ NATTER_HOME: join(dir, 'forgetful'), NATTER_SERVER: t.wsUrl });
  try {
    await screen.waitFor(/log in/, 'the login screen');
    await screen.type('forgetful\rnot-the-password\r', /wrong username or password|invalid/i, 'refused');
    const refused = await screen.text();
    assert.doesNotMatch(refused, /•/, 'the password field emptied');
    assert.match(refused, /forgetful/, 'the username kept');
    // The right password, pasted with a line break after it (as copied from a password manager's line).
    await screen.type(`${PASTE_START}${PASSWORD}\n${PASTE_END}`, /•{4}/, 'the password, masked, not yet sent');
    assert.doesNotMatch(await screen.text(), /connected/);
    await screen.type('\r', /connected/, 'the chat screen');
  } finally {
    assert.equal(await screen.quit(), 0);
  }
});
