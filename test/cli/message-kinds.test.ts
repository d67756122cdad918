import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { PASSWORD } from '../helpers/api.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { Listener, natter, type Result, removeTempDirs, tempDir } from './helpers.js';

// Actions (`natter send --me`) and messages sent with a bot token, as the CLI sends and shows them.

let t: TestServer;
const home = { alice: '', bob: '' };
const listeners: Listener[] = [];
let botToken = '';

before(async () => {
  t = await startTestServer();
  home.alice = tempDir();
  home.bob = tempDir();
});

after(async () => {
  for (const l of listeners) l.child.kill('SIGKILL');
  await t.destroy();
  removeTempDirs();
});

const env = (user: keyof typeof home) => ({ NATTER_SERVER: t.wsUrl, NATTER_HOME: home[user] });

/** Runs natter as `user` (with a bot token instead of the stored login when `token` is given). */
function run(user: keyof typeof home, args: string[], input = '', token = ''): Promise<Result> {
  return natter(args, { ...env(user), NATTER_PASSWORD: PASSWORD, ...(token ? { NATTER_TOKEN: token } : {}) }, input);
}

async function ok(user: keyof typeof home, args: string[], token = ''): Promise<string> {
  const r = await run(user, args, '', token);
  assert.equal(r.code, 0, `natter ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

type JsonMessage = { seq: number; body: string; kind: string; bot: boolean; author: { username: string } };

describe('natter: actions and bot messages', () => {
  let human: Listener;
  let json: Listener;

  test('setup: alice and bob share a server; bob has a bot token; bob listens', async () => {
    await ok('alice', ['register', 'alice']);
    await ok('bob', ['register', 'bob']);
    await ok('alice', ['server', 'create', 'acme']);
    const code = (await ok('alice', ['invite', 'create', 'acme'])).trim();
    await ok('bob', ['join', code]);
    botToken = (await ok('bob', ['token', 'create', 'ci'])).trim();
    assert.match(botToken, /^ntb_/);
    human = await Listener.start([], env('bob'), 'bob human');
    json = await Listener.start(['--json', 'acme/general'], env('bob'), 'bob json');
    listeners.push(human, json);
  });

  test('send --me sends an action; history shows it as "* alice waves", a bot token\'s messages with [bot]', async () => {
    assert.equal(
      (await ok('alice', ['send', 'acme/general', '--me', 'waves', 'hello'])).trim(),
      'sent #1 to acme/general',
    );
    await ok('alice', ['send', 'acme/general', 'plain', 'words']);
    await ok('bob', ['send', 'acme/general', 'deploy', 'finished'], botToken);
    await ok('bob', ['send', 'acme/general', 'beeps', '--me'], botToken);

    const lines = (await ok('alice', ['history', 'acme/general'])).trimEnd().split('\n');
    const at = '\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d';
    assert.equal(lines.length, 4, lines.join('\n'));
    assert.match(lines[0] ?? '', new RegExp(`^#1  ${at}  \\* alice waves hello$`));
    assert.match(lines[1] ?? '', new RegExp(`^#2  ${at}  alice: plain words$`));
    assert.match(lines[2] ?? '', new RegExp(`^#3  ${at}  bob \\[bot\\]: deploy finished$`));
    assert.match(lines[3] ?? '', new RegExp(`^#4  ${at}  \\* bob \\[bot\\] beeps$`));

    const doc = JSON.parse(await ok('alice', ['--json', 'history', 'acme/general'])) as { messages: JsonMessage[] };
    assert.deepEqual(
      doc.messages.map((m) => [m.seq, m.kind, m.bot]),
      [
        [1, 'action', false],
        [2, 'text', false],
        [3, 'text', true],
        [4, 'action', true],
      ],
    );
  });

  test('listen prints them the same way; its JSON carries kind and bot', async () => {
    for (const pattern of [
      / acme\/general {2}\* alice waves hello$/,
      / acme\/general {2}alice: plain words$/,
      / acme\/general {2}bob \[bot\]: deploy finished$/,
      / acme\/general {2}\* bob \[bot\] beeps$/,
    ]) {
      await human.until(() => human.lines.some((l) => pattern.test(l)), `a line like ${pattern}`);
    }
    await json.until(() => json.events.filter((e) => e.event === 'message.created').length === 4, 'four messages');
    assert.deepEqual(
      json.events
        .filter((e) => e.event === 'message.created')
        .map((e) => {
          const m = e.data.message as JsonMessage;
          return [m.body, m.kind, m.bot];
        }),
      [
        ['waves hello', 'action', false],
        ['plain words', 'text', false],
        ['deploy finished', 'text', true],
        ['beeps', 'action', true],
      ],
    );
  });

  test('an edited action stays one: in listen, history and search', async () => {
    await ok('alice', ['edit', 'acme/general', '1', 'waves', 'goodbye']);
    await human.until(
      () => human.lines.some((l) => / acme\/general {2}alice edited #1: \* alice waves goodbye$/.test(l)),
      'the edit',
    );
    const [first] = (await ok('alice', ['history', 'acme/general', '--limit', '4'])).split('\n');
    assert.match(first ?? '', /^#1 {2}.+ {2}\* alice waves goodbye \(edited\)$/);
    const found = (await ok('bob', ['search', 'goodbye'])).trimEnd();
    assert.match(found, /^acme\/general {2}#1 {2}.+ {2}\* alice waves goodbye \(edited\)$/);
    const bot = (await ok('alice', ['search', 'deploy'])).trimEnd();
    assert.match(bot, /^acme\/general {2}#3 {2}.+ {2}bob \[bot\]: deploy finished$/);
  });

  test('send --me with nothing to send is a usage error, and sends nothing', async () => {
    const r = await run('alice', ['send', 'acme/general', '--me'], '  \n');
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /the message is empty/);
    const doc = JSON.parse(await ok('alice', ['--json', 'history', 'acme/general'])) as { messages: JsonMessage[] };
    assert.equal(doc.messages.length, 4);
  });
});
