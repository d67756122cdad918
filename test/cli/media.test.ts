import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import { fileLine } from '../../src/cli/message-line.js';
import { PASSWORD } from '../helpers/api.js';
import { relay } from '../helpers/relay.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { Listener, natter, type Result, removeTempDirs, tempDir } from './helpers.js';

// Files from the command line: send --file, upload, download, profile
// --avatar, server icon, and how history and listen show them.

const FILE_MAX = 2 * 1024 * 1024;

let t: TestServer;
const home = { alice: '', bob: '', carol: '' };
type Who = keyof typeof home;
/** Each user's working directory (downloads land there). */
const cwd = { alice: '', bob: '', carol: '' };
const listeners: Listener[] = [];
/** alice's files. */
const files = { notes: '', big: '', photo: '', huge: '' };
let big: Buffer;

before(async () => {
  t = await startTestServer({ quotas: { fileBytesMax: FILE_MAX } });
  for (const who of ['alice', 'bob', 'carol'] as const) {
    home[who] = tempDir();
    cwd[who] = tempDir();
  }
  files.notes = join(cwd.alice, 'notes.txt');
  writeFileSync(files.notes, 'shopping: milk, tea\n');
  files.big = join(cwd.alice, 'big.bin');
  big = randomBytes(1536 * 1024);
  writeFileSync(files.big, big);
  files.photo = join(cwd.alice, 'photo.png');
  writeFileSync(
    files.photo,
    await sharp({ create: { width: 320, height: 200, channels: 3, background: '#cc6633' } })
      .png()
      .toBuffer(),
  );
  files.huge = join(cwd.alice, 'huge.bin');
  writeFileSync(files.huge, Buffer.alloc(3 * 1024 * 1024));
});

after(async () => {
  for (const l of listeners) l.child.kill('SIGKILL');
  await t.destroy();
  removeTempDirs();
});

const env = (who: Who, server = t.wsUrl) => ({ NATTER_SERVER: server, NATTER_HOME: home[who] });

function run(who: Who, args: string[], extra: Record<string, string> = {}): Promise<Result> {
  return natter(args, { ...env(who), NATTER_PASSWORD: PASSWORD, ...extra }, '', cwd[who]);
}

async function ok(who: Who, args: string[], extra: Record<string, string> = {}): Promise<string> {
  const r = await run(who, args, extra);
  assert.equal(r.code, 0, `natter ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** The stored session token of `who` (for a connection through a relay, whose URL has no credentials). */
function tokenOf(who: Who): string {
  const file = JSON.parse(readFileSync(join(home[who], 'credentials.json'), 'utf8')) as {
    servers: Record<string, { token: string }>;
  };
  const [cred] = Object.values(file.servers);
  assert.ok(cred);
  return cred.token;
}

type JsonFile = { id: string; name: string; size: number; type: string; width?: number; height?: number };
type JsonMessage = { seq: number; body: string; attachments?: JsonFile[] };

/** The files of message `seq` of `target`, as `history --json` has them. */
async function filesOf(who: Who, target: string, seq: number): Promise<JsonFile[]> {
  const doc = JSON.parse(await ok(who, ['--json', 'history', target])) as { messages: JsonMessage[] };
  const m = doc.messages.find((x) => x.seq === seq);
  assert.ok(m, `message #${seq} in ${target}`);
  return m.attachments ?? [];
}

const ID = '[A-Za-z0-9_-]{21}';

describe('natter: files', () => {
  let human: Listener;
  let json: Listener;

  test('setup: alice owns acme, bob is a member and listens; carol is in neither', async () => {
    for (const who of ['alice', 'bob', 'carol'] as const) await ok(who, ['register', who]);
    await ok('alice', ['server', 'create', 'acme']);
    const code = (await ok('alice', ['invite', 'create', 'acme'])).trim();
    await ok('bob', ['join', code]);
    human = await Listener.start([], env('bob'), 'bob human');
    json = await Listener.start(['--json', 'acme/general'], env('bob'), 'bob json');
    listeners.push(human, json);
  });

  test('send --file: text and three files in one message, no progress noise off a terminal; bob downloads them byte for byte', async () => {
    const r = await run('alice', [
      'send',
      'acme/general',
      'here',
      'they',
      'are',
      '--file',
      'notes.txt',
      '--file',
      'big.bin',
      '--file',
      'photo.png',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout.trim(), /^sent #1 to acme\/general \(3 files, 1\.5 MiB\)$/);
    assert.equal(r.stderr, '', 'nothing on stderr when it is not a terminal');
    const [notes, bigFile, photo] = await filesOf('bob', 'acme/general', 1);
    assert.deepEqual(
      [notes?.name, notes?.type, bigFile?.name, bigFile?.size, photo?.type, photo?.width, photo?.height],
      ['notes.txt', 'text/plain', 'big.bin', big.length, 'image/png', 320, 200],
    );
    const saved = await ok('bob', ['download', bigFile?.id ?? '']);
    assert.equal(saved.trim(), 'saved big.bin (1.5 MiB, application/octet-stream) as big.bin');
    assert.ok(readFileSync(join(cwd.bob, 'big.bin')).equals(big));
    assert.equal(existsSync(join(cwd.bob, 'big.bin.part')), false);
  });

  test('history: a line per file under the message; a message of files alone says so; --json carries them', async () => {
    assert.match(
      await ok('alice', ['upload', 'notes.txt', '--to', 'acme/general']),
      /^sent #2 to acme\/general \(notes\.txt, 20 bytes\)\n$/,
    );
    const lines = (await ok('bob', ['history', 'acme/general'])).trimEnd().split('\n');
    const at = '\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d';
    assert.equal(lines.length, 6, lines.join('\n'));
    assert.match(lines[0] ?? '', new RegExp(`^#1  ${at}  alice: here they are$`));
    assert.match(lines[1] ?? '', new RegExp(`^    \\[file\\] notes\\.txt · 20 bytes · text/plain · id ${ID}$`));
    assert.match(
      lines[2] ?? '',
      new RegExp(`^    \\[file\\] big\\.bin · 1\\.5 MiB · application/octet-stream · id ${ID}$`),
    );
    assert.match(
      lines[3] ?? '',
      new RegExp(`^    \\[file\\] photo\\.png · 320×200 · [\\d.]+ (bytes|KiB) · image/png · id ${ID}$`),
    );
    assert.match(lines[4] ?? '', new RegExp(`^#2  ${at}  alice sent a file:$`));
    assert.match(lines[5] ?? '', new RegExp(`^    \\[file\\] notes\\.txt · 20 bytes · text/plain · id ${ID}$`));
    const [only] = await filesOf('alice', 'acme/general', 2);
    assert.equal(only?.name, 'notes.txt');
    assert.ok(lines[5]?.endsWith(`id ${only?.id}`), 'the id shown is the one to download');
  });

  test('listen prints the files; its --json carries them', async () => {
    await human.until(
      () => human.lines.some((l) => / acme\/general {2}alice: here they are$/.test(l)),
      'the message with files',
    );
    const at = human.lines.findIndex((l) => / acme\/general {2}alice: here they are$/.test(l));
    assert.match(
      human.lines[at + 1] ?? '',
      new RegExp(`^    \\[file\\] notes\\.txt · 20 bytes · text/plain · id ${ID}$`),
    );
    assert.match(human.lines[at + 3] ?? '', /^ {4}\[file\] photo\.png · 320×200 · /);
    await human.until(() => human.lines.some((l) => / acme\/general {2}alice sent a file:$/.test(l)), 'files alone');
    await json.until(() => json.events.filter((e) => e.event === 'message.created').length === 2, 'two messages');
    const sent = json.events
      .filter((e) => e.event === 'message.created')
      .map((e) => (e.data.message as JsonMessage).attachments?.map((a) => a.name));
    assert.deepEqual(sent, [['notes.txt', 'big.bin', 'photo.png'], ['notes.txt']]);
  });

  test('download never replaces a file without --force; -o into a directory; -o - to stdout', async () => {
    const [notes] = await filesOf('bob', 'acme/general', 1);
    const id = notes?.id ?? '';
    writeFileSync(join(cwd.bob, 'notes.txt'), 'mine');
    const refused = await run('bob', ['download', id]);
    assert.equal(refused.code, 2, refused.stderr);
    assert.equal(
      refused.stderr,
      'error: exists: notes.txt exists already: add --force to replace it, or -o PATH to save it elsewhere\n',
    );
    assert.equal(readFileSync(join(cwd.bob, 'notes.txt'), 'utf8'), 'mine', 'left as it was');
    await ok('bob', ['download', id, '--force']);
    assert.equal(readFileSync(join(cwd.bob, 'notes.txt'), 'utf8'), 'shopping: milk, tea\n');

    mkdirSync(join(cwd.bob, 'inbox'));
    assert.equal(
      (await ok('bob', ['download', id, '-o', 'inbox'])).trim(),
      'saved notes.txt (20 bytes, text/plain) as inbox/notes.txt',
    );
    assert.equal(readFileSync(join(cwd.bob, 'inbox', 'notes.txt'), 'utf8'), 'shopping: milk, tea\n');
    await ok('bob', ['download', id, '-o', 'renamed.txt']);
    assert.equal(readFileSync(join(cwd.bob, 'renamed.txt'), 'utf8'), 'shopping: milk, tea\n');
    const missing = await run('bob', ['download', id, '-o', 'nowhere/']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /^error: usage: cannot save into nowhere\/: there is no such directory\n$/);
    assert.equal(await ok('bob', ['download', id, '-o', '-']), 'shopping: milk, tea\n');
    const doc = JSON.parse(await ok('bob', ['--json', 'download', id, '-o', 'inbox/json.txt'])) as {
      path: string;
      bytes: number;
      attachment: JsonFile;
    };
    assert.deepEqual([doc.path, doc.bytes, doc.attachment.id], ['inbox/json.txt', 20, id]);
  });

  test('download resumes a .part, asking only for the rest', async () => {
    const [, bigFile] = await filesOf('bob', 'acme/general', 1);
    const dir = join(cwd.bob, 'resume');
    mkdirSync(dir);
    writeFileSync(join(dir, 'big.bin.part'), big.subarray(0, 500_000));
    const r = await relay(t.server.port);
    try {
      const out = await natter(
        ['download', bigFile?.id ?? '', '-o', 'resume/'],
        { NATTER_SERVER: r.url, NATTER_TOKEN: tokenOf('bob'), NATTER_HOME: home.bob },
        '',
        cwd.bob,
      );
      assert.equal(out.code, 0, out.stderr);
      assert.ok(readFileSync(join(dir, 'big.bin')).equals(big));
      assert.equal(existsSync(join(dir, 'big.bin.part')), false);
      assert.match(r.seen(), /\r\nRange: bytes=500000-\r\n/i);
    } finally {
      await r.close();
    }
  });

  test('a download cut off on the way exits 4, keeps what came, and the same command then finishes it', async () => {
    const [, bigFile] = await filesOf('bob', 'acme/general', 1);
    const dir = join(cwd.bob, 'cut');
    mkdirSync(dir);
    const args = ['download', bigFile?.id ?? '', '-o', 'cut/'];
    const cutting = await relay(t.server.port, { cutAfterBytes: 400_000 });
    try {
      const env = { NATTER_SERVER: cutting.url, NATTER_TOKEN: tokenOf('bob'), NATTER_HOME: home.bob };
      const cut = await natter(args, env, '', cwd.bob);
      assert.equal(cut.code, 4, cut.stderr);
      assert.match(
        cut.stderr,
        /^error: unreachable: downloading big\.bin: .+; run the same command again to resume\n$/,
      );
      assert.equal(existsSync(join(dir, 'big.bin')), false);
      const part = readFileSync(join(dir, 'big.bin.part'));
      assert.ok(part.length > 0 && part.length < big.length, `part of it came (${part.length} bytes)`);
      assert.ok(part.equals(big.subarray(0, part.length)));
    } finally {
      await cutting.close();
    }
    await ok('bob', args);
    assert.ok(readFileSync(join(dir, 'big.bin')).equals(big));
    assert.equal(existsSync(join(dir, 'big.bin.part')), false);
  });

  test('upload --to a DM; bob downloads it; carol, who is not in it, gets not_found in words', async () => {
    assert.equal(
      (await ok('alice', ['upload', files.notes, '--to', '@bob'])).trim(),
      'sent #1 to @bob (notes.txt, 20 bytes)',
    );
    const [file] = await filesOf('bob', '@alice', 1);
    assert.ok(file);
    await ok('bob', ['download', file.id, '-o', 'dm.txt']);
    assert.equal(readFileSync(join(cwd.bob, 'dm.txt'), 'utf8'), 'shopping: milk, tea\n');
    const r = await run('carol', ['download', file.id]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, `error: not_found: there is no file ${file.id}, or none you can see\n`);
    assert.equal(existsSync(join(cwd.carol, 'notes.txt')), false);
    const none = await run('carol', ['download', 'no-such-file']);
    assert.equal(none.stderr, 'error: not_found: there is no file no-such-file, or none you can see\n');
  });

  test('profile --avatar sets the picture (profile and whoami show it, listen says so); none removes it', async () => {
    const set = await ok('alice', ['profile', '--avatar', 'photo.png']);
    const id = new RegExp(`^picture +id (${ID}) \\(natter download \\1\\)$`, 'm').exec(set)?.[1];
    assert.ok(id, set);
    assert.match(await ok('alice', ['whoami']), new RegExp(`^picture +id ${id} `, 'm'));
    const doc = JSON.parse(await ok('alice', ['--json', 'profile'])) as { user: { avatar?: { id: string } } };
    assert.equal(doc.user.avatar?.id, id);
    await human.until(
      () => human.lines.some((l) => l.endsWith(` alice has a new profile picture (id ${id})`)),
      'the new picture',
    );
    // Anyone logged in may fetch it: a 256-pixel WebP.
    await ok('carol', ['download', id, '-o', 'alice.webp']);
    const meta = await sharp(readFileSync(join(cwd.carol, 'alice.webp'))).metadata();
    assert.deepEqual([meta.format, meta.width, meta.height], ['webp', 256, 256]);

    assert.match(await ok('alice', ['profile', '--avatar', 'none']), /^picture +-$/m);
    assert.doesNotMatch(await ok('alice', ['whoami']), /^picture/m);
    await human.until(() => human.lines.some((l) => l.endsWith(' alice removed their profile picture')), 'removed');

    const text = await run('alice', ['profile', '--avatar', 'notes.txt']);
    assert.equal(text.code, 1, text.stderr);
    assert.match(text.stderr, /^error: invalid_file: /);
  });

  test('server icon sets and removes the icon (owner and admins); listen says so', async () => {
    const set = (await ok('alice', ['server', 'icon', 'acme', 'photo.png'])).trim();
    const id = new RegExp(`^acme has a new icon \\(id (${ID})\\)$`).exec(set)?.[1];
    assert.ok(id, set);
    const doc = JSON.parse(await ok('bob', ['--json', 'servers'])) as {
      servers: { name: string; icon?: { id: string } }[];
    };
    assert.equal(doc.servers.find((s) => s.name === 'acme')?.icon?.id, id);
    await human.until(() => human.lines.some((l) => l.endsWith(` acme has a new icon (id ${id})`)), 'the icon');
    const member = await run('bob', ['server', 'icon', 'acme', join(cwd.alice, 'photo.png')]);
    assert.equal(member.code, 1);
    assert.equal(member.stderr, 'error: forbidden: only the owner and admins of acme can change its icon\n');
    assert.equal((await ok('alice', ['server', 'icon', 'acme', 'none'])).trim(), 'acme has no icon now');
    await human.until(() => human.lines.some((l) => l.endsWith(' acme no longer has an icon')), 'no icon');
  });

  test('a held message keeps its files: hold list names them', async () => {
    await ok('alice', ['automod', 'add', 'acme', '--name', 'review', '--keyword', 'review', '--action', 'hold']);
    const held = await run('bob', ['send', 'acme/general', 'please', 'review', '--file', join(cwd.alice, 'notes.txt')]);
    assert.equal(held.code, 1);
    assert.match(held.stderr, /^error: held: /);
    const list = await ok('alice', ['hold', 'list', 'acme']);
    assert.match(list, /please review \(file: notes\.txt\)$/m);
    await ok('alice', ['automod', 'remove', 'acme', 'review']);
  });

  test('a file over the limit is refused before it is uploaded, with the limit; nothing is sent', async () => {
    const before = await t.sql.all('SELECT id FROM attachments');
    const r = await run('alice', ['send', 'acme/general', 'too', 'big', '--file', 'notes.txt', '--file', 'huge.bin']);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'error: too_large: huge.bin is 3 MiB; the server takes files of at most 2 MiB (--file)\n');
    const up = await run('alice', ['upload', 'huge.bin', '--to', 'acme/general']);
    assert.equal(up.stderr, 'error: too_large: huge.bin is 3 MiB; the server takes files of at most 2 MiB\n');
    assert.equal((await t.sql.all('SELECT id FROM attachments')).length, before.length, 'no slot was asked for');
    const doc = JSON.parse(await ok('alice', ['--json', 'history', 'acme/general'])) as { messages: JsonMessage[] };
    assert.equal(doc.messages.length, 2, 'nothing was sent');
  });

  test('a missing file, a directory, too many files: usage errors in words, nothing sent', async () => {
    const missing = await run('alice', ['send', 'acme/general', 'hi', '--file', 'nope.png']);
    assert.equal(missing.code, 2);
    assert.equal(missing.stderr, 'error: usage: cannot read nope.png: there is no such file (--file)\n');
    // Said before anything goes to the server: no server needs to answer.
    const offline = await natter(
      ['send', 'acme/general', '--file', 'nope.png'],
      { NATTER_SERVER: 'ws://127.0.0.1:9' },
      '',
      cwd.alice,
    );
    assert.equal(offline.code, 2);
    assert.equal(offline.stderr, missing.stderr);
    const upload = await run('alice', ['upload', 'nope.png', '--to', 'acme/general']);
    assert.equal(upload.code, 2);
    assert.equal(upload.stderr, 'error: usage: cannot read nope.png: there is no such file\n');
    const dir = await run('alice', ['send', 'acme/general', '--file', '.']);
    assert.equal(dir.code, 2);
    assert.equal(dir.stderr, 'error: usage: . is a directory, not a file (--file)\n');
    const many = await run('alice', [
      'send',
      'acme/general',
      ...Array.from({ length: 11 }, () => ['--file', 'notes.txt']).flat(),
    ]);
    assert.equal(many.code, 2);
    assert.equal(many.stderr, 'error: usage: a message carries at most 10 files; this one has 11 (--file)\n');
    const avatar = await run('alice', ['profile', '--avatar', 'nope.png']);
    assert.equal(avatar.stderr, 'error: usage: cannot read nope.png: there is no such file (--avatar)\n');
    const noTo = await run('alice', ['upload', 'notes.txt']);
    assert.equal(noTo.code, 2);
    const doc = JSON.parse(await ok('alice', ['--json', 'history', 'acme/general'])) as { messages: JsonMessage[] };
    assert.equal(doc.messages.length, 2, 'nothing was sent');
  });

  test('on a terminal a file reads 📎; in a pipe, [file]', () => {
    const file = {
      id: 'x'.repeat(21),
      name: 'voice.ogg',
      size: 217_088,
      type: 'audio/ogg',
      url: '/m',
      thumbnailUrl: null,
    };
    assert.equal(
      fileLine({ ...file, durationMs: 42_000 }, false),
      `📎 voice.ogg · 0:42 · 212 KiB · audio/ogg · id ${file.id}`,
    );
    assert.equal(fileLine(file, true), `[file] voice.ogg · 212 KiB · audio/ogg · id ${file.id}`);
  });
});

describe('natter: the daily upload allowance', () => {
  let small: TestServer;
  const dave = { home: '', cwd: '' };

  before(async () => {
    small = await startTestServer({ quotas: { uploadBytesPerDay: 1000 } });
    dave.home = tempDir();
    dave.cwd = tempDir();
    writeFileSync(join(dave.cwd, 'report.bin'), randomBytes(2000));
  });
  after(() => small.destroy());

  test('an upload over it is refused with when it starts again', async () => {
    const e = { NATTER_SERVER: small.wsUrl, NATTER_HOME: dave.home, NATTER_PASSWORD: PASSWORD };
    assert.equal((await natter(['register', 'dave'], e)).code, 0);
    assert.equal((await natter(['server', 'create', 'home'], e)).code, 0);
    const r = await natter(['upload', 'report.bin', '--to', 'home/general'], e, '', dave.cwd);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /^error: quota_exceeded: you may upload 1000 bytes a day and have 1000 bytes left today; this file is 2 KiB\. The allowance starts again at 00:00 UTC \(in [^)]+\)\n$/,
    );
  });
});
