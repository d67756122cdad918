import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import type { NatterClient } from '../../src/client/index.js';
import { connectAs, HttpApi, PASSWORD } from '../helpers/api.js';
import { Screen, saveLogin } from '../helpers/screen.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';

// Files in the real terminal app, end to end: bin/natter runs dist/ (npm run build first).

const PASTE_START = '\u001b[200~';
const PASTE_END = '\u001b[201~';
const CTRL_UP = '\u001b[1;5A';

let t: TestServer;
let dir: string;
before(async () => {
  // Small files only, so that one over the limit is quick to make.
  t = await startTestServer({ quotas: { fileBytesMax: 256 * 1024 } });
  dir = mkdtempSync(join(tmpdir(), 'natter-tui-files-'));
});
after(async () => {
  await t.destroy();
  rmSync(dir, { recursive: true, force: true });
});

test('the terminal app sends a file with /upload, others get it with its attachment, s saves a byte-exact copy (then a numbered one), and a picture shows a preview', async () => {
  const api = new HttpApi(t.httpUrl);
  const alice = await api.call('register', { username: 'alice', password: PASSWORD });
  const bob = await api.call('register', { username: 'bob', password: PASSWORD });
  const a = await connectAs(t.wsUrl, alice.token);
  const { server, channels } = await a.request('servers.create', { name: 'acme' });
  const general = channels[0]?.id ?? '';
  const { invite } = await a.request('invites.create', { serverId: server.id });
  a.close();
  const b: NatterClient = await connectAs(t.wsUrl, bob.token);
  await b.request('invites.join', { code: invite.code });
  await b.request('messages.send', { conversationId: general, body: 'send me the notes', nonce: 'f-0' });

  // A file with a space in its name, of bytes no text encoding would keep.
  const files = join(dir, 'files');
  mkdirSync(files);
  const bytes = Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 7919) % 256));
  const notes = join(files, 'meeting notes.bin');
  writeFileSync(notes, bytes);
  writeFileSync(join(files, 'too big.bin'), Buffer.alloc(300 * 1024, 1));

  const home = join(dir, 'alice');
  const downloads = join(dir, 'saved');
  mkdirSync(downloads);
  mkdirSync(home);
  writeFileSync(join(home, 'config.json'), JSON.stringify({ downloadDir: downloads, previewRows: 6 }));
  saveLogin(home, t.wsUrl, alice);
  const screen = new Screen({ NATTER_HOME: home, NATTER_SERVER: t.wsUrl, COLORTERM: 'truecolor' });
  try {
    await screen.waitFor(/send me the notes/, "acme's #general, open");
    await screen.waitFor(/connected/, 'the status line');

    // Too large for this server: refused before anything is sent, in words, and the command comes back.
    await screen.type(`/upload ${join(files, 'too\\ big.bin')}`, /too\\ big\.bin/, 'the command typed');
    // The notice wraps where the temporary directory's name puts it: the words, with any row break between.
    const refusal = new RegExp(
      'big.bin was not uploaded: it is 300 KB, and this server takes files of up to 256 KB'.replace(/ /g, '[\\s│]+'),
    );
    await screen.type('\r', refusal, 'the refusal');
    await screen.waitFor(/> \/upload .*too\\ big\.bin/, 'the command back in the composer');
    await screen.type('\u0015', /> {2}message #general/, 'the composer cleared (Ctrl-U)');

    // Sent with a caption; bob's client gets the message with its attachment.
    const received = b.nextEvent('message.created', (d) => d.message.author.id === alice.user.id);
    await screen.type(`/upload "${notes}" the notes, as promised`, /as promised/, 'the command typed, to its end');
    await screen.type('\r', /alice the notes, as promised/, 'the message on screen');
    await screen.waitFor(/📎 meeting notes\.bin · 68 KB/, 'its file row');
    const { message } = (await received).data;
    assert.equal(message.body, 'the notes, as promised');
    const [attachment] = message.attachments ?? [];
    assert.equal(attachment?.name, 'meeting notes.bin');
    assert.equal(attachment?.size, bytes.length);

    // Selected, `s` saves it: the same bytes; again, beside it with a number.
    await screen.type(CTRL_UP, /o open · s save/, 'the selection hint names the file keys');
    await screen.type('s', /saved meeting notes\.bin to .*meeting notes\.bin \(68 KB\)/, 'where it went');
    assert.deepEqual(readFileSync(join(downloads, 'meeting notes.bin')), bytes);
    await screen.type('s', /saved meeting notes\.bin to .*meeting notes \(1\)\.bin/, 'the second copy, numbered');
    assert.deepEqual(readFileSync(join(downloads, 'meeting notes (1).bin')), bytes);
    await screen.type('\u001b', (s) => !/o open · s save/.test(s), 'Esc ends the selection');

    // A picture: its row, then its preview in half blocks, in the rows kept for it.
    const png = await sharp({
      create: { width: 60, height: 30, channels: 3, background: { r: 220, g: 40, b: 40 } },
    })
      .png()
      .toBuffer();
    const picture = join(dir, 'red.png');
    writeFileSync(picture, png);
    await screen.type(`/upload ${picture}`, /red\.png/, 'the command typed, to its end');
    await screen.type('\r', /alice 📷 red\.png · 60×30 · /, "the picture's row");
    const shown = await screen.waitFor(/▀{24}/, 'its preview, drawn');
    const rows = shown.split('\n');
    const at = rows.findIndex((r) => /📷 red\.png/.test(r));
    // Six rows high (previewRows), two pixels a cell: 24 columns for a picture twice as wide as high.
    for (let i = 1; i <= 6; i++) assert.match(rows[at + i] ?? '', /│ {15}▀{24}\s*$/, `preview row ${i}`);
    assert.doesNotMatch(rows[at + 7] ?? '', /▀/, 'and no more');
    const { coloured } = await screen.styles();
    assert.ok(coloured >= 6 * 24, 'the preview is in colour');
  } finally {
    assert.equal(await screen.quit(), 0);
    b.close();
  }
});

test('a path pasted alone is offered for upload: Enter sends it with the draft as its message; Esc pastes it as text', async () => {
  const api = new HttpApi(t.httpUrl);
  const carol = await api.call('register', { username: 'carol', password: PASSWORD });
  const c = await connectAs(t.wsUrl, carol.token);
  await c.request('servers.create', { name: 'studio' });
  const file = join(dir, 'drop me.txt');
  writeFileSync(file, 'dragged in\n');
  const home = join(dir, 'carol');
  saveLogin(home, t.wsUrl, carol);
  const screen = new Screen({ NATTER_HOME: home, NATTER_SERVER: t.wsUrl });
  try {
    await screen.waitFor(/connected/, 'the status line');
    await screen.waitFor(/#general/, 'the channel open');
    await screen.type('look:', /> look:/, 'a draft');
    const url = `file://${file.replace(/ /g, '%20')}`;
    await screen.type(
      `${PASTE_START}${url}${PASTE_END}`,
      /upload .*drop me\.txt\? Enter: upload · Esc: paste it as text/,
      'the offer',
    );
    await screen.type('\r', /carol look: ?$|carol look:\s/m, 'the draft sent as its message');
    await screen.waitFor(/📎 drop me\.txt · 11 B/, 'its file row');
    const { messages } = await c.request('messages.history', {
      conversationId: (await c.request('conversations.list', {})).conversations[0]?.id ?? '',
    });
    const last = messages.at(-1);
    assert.equal(last?.body, 'look:');
    assert.equal(last?.attachments?.[0]?.name, 'drop me.txt');

    // Esc: the path is pasted as text instead.
    await screen.type(`${PASTE_START}'${file}'${PASTE_END}`, /Esc: paste it as text/, 'the offer again');
    await screen.type('\u001b', new RegExp(`> '${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}'`), 'the path as text');
    await waitFor(async () => ((await screen.text()).includes('Enter: upload') ? undefined : true), {
      what: 'the offer gone',
    });
  } finally {
    assert.equal(await screen.quit(), 0);
    c.close();
  }
});
