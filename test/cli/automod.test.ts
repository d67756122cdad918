import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { HttpApi, PASSWORD, uniqueName } from '../helpers/api.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { Listener, natter, type Result, removeTempDirs, tempDir } from './helpers.js';

// Automatic moderation from the command line: bin/natter runs dist/ (npm run build first).

let t: TestServer;
before(async () => {
  t = await startTestServer();
});
after(async () => {
  await t.destroy();
  removeTempDirs();
});

function ok(r: Result, what: string): Result {
  assert.equal(r.code, 0, `${what} failed (${r.code}): ${r.stderr}`);
  return r;
}

async function person(prefix: string): Promise<{ name: string; env: Record<string, string> }> {
  const name = uniqueName(prefix);
  await new HttpApi(t.httpUrl).call('register', { username: name, password: PASSWORD });
  const env = { NATTER_HOME: tempDir(), NATTER_SERVER: t.wsUrl };
  ok(await natter(['login', name], { ...env, NATTER_PASSWORD: PASSWORD }), `login ${name}`);
  return { name, env };
}

async function community() {
  const [owner, member] = await Promise.all([person('ao'), person('ax')]);
  const server = uniqueName('guard');
  ok(await natter(['server', 'create', server], owner.env), 'server create');
  const invite = (
    JSON.parse(ok(await natter(['invite', 'create', server, '--json'], owner.env), 'invite').stdout) as {
      invite: { code: string };
    }
  ).invite.code;
  ok(await natter(['join', invite], member.env), 'join');
  return { owner, member, server };
}

test('automod add blocks in the words given; list shows the rules; disable, enable and remove take effect at once', async () => {
  const { owner, member, server } = await community();
  const added = ok(
    await natter(
      ['automod', 'add', server, '--keyword', 'spam*,scam', '--action', 'block', '--message', 'no spam here'],
      owner.env,
    ),
    'automod add',
  );
  assert.match(
    added.stdout,
    new RegExp(`^added rule "keywords" to ${server}: keywords spam\\*, scam → block \\("no spam here"\\)$`, 'm'),
  );
  const blocked = await natter(['send', `${server}/general`, 'cheap sp4m here'], member.env);
  assert.equal(blocked.code, 1);
  assert.match(blocked.stderr, /^error: blocked: no spam here$/m);
  ok(
    await natter(
      ['automod', 'add', server, '--flood', '5/10s', '--action', 'block', '--exempt-role', 'owner'],
      owner.env,
    ),
    'automod add --flood',
  );
  const listed = ok(await natter(['automod', 'list', server], owner.env), 'list').stdout;
  const lines = listed.trim().split('\n');
  assert.match(lines[0] ?? '', /^NAME\s+KIND\s+ON\s+MATCHES AND DOES\s+EXEMPT$/);
  assert.match(lines[1] ?? '', /^keywords\s+keyword\s+yes\s+keywords spam\*, scam → block \("no spam here"\)$/);
  assert.match(lines[2] ?? '', /^flood\s+flood\s+yes\s+more than 5 messages in 10 s → block\s+owner$/);
  const byMember = await natter(['automod', 'list', server], member.env);
  assert.equal(byMember.code, 1);
  assert.match(byMember.stderr, /^error: forbidden: only server moderators can do this/m);

  ok(await natter(['automod', 'disable', server, 'keywords'], owner.env), 'disable');
  const again = ok(await natter(['automod', 'disable', server, 'keywords'], owner.env), 'disable again');
  assert.match(again.stdout, /rule "keywords" was already off in .*; nothing changed/);
  const updates = ok(await natter(['audit', server, '--action', 'automod.update'], owner.env), 'audit').stdout;
  assert.equal(updates.trim().split('\n').length, 2, 'one entry: the second disable changed nothing');
  assert.match(updates, /rule "keywords": on → off/);
  ok(await natter(['send', `${server}/general`, 'cheap sp4m here'], member.env), 'send while disabled');
  assert.match(ok(await natter(['automod', 'enable', server, 'keywords'], owner.env), 'enable').stdout, /is on/);
  assert.equal((await natter(['send', `${server}/general`, 'scam'], member.env)).code, 1);
  ok(await natter(['automod', 'remove', server, 'keywords', '--reason', 'too broad'], owner.env), 'remove');
  const removal = JSON.parse(
    ok(await natter(['audit', server, '--action', 'automod.delete', '--json'], owner.env), 'audit').stdout,
  ) as { entries: { reason: string; details: { name: string } }[] };
  assert.deepEqual(
    removal.entries.map((e) => [e.details.name, e.reason]),
    [['keywords', 'too broad']],
  );
  ok(await natter(['send', `${server}/general`, 'scam'], member.env), 'send after removal');
  const gone = await natter(['automod', 'remove', server, 'keywords'], owner.env);
  assert.equal(gone.code, 1);
  assert.match(gone.stderr, /no rule named "keywords"/);
});

test('a bad rule is refused naming the option; options that do not go together are usage errors', async () => {
  const { owner, server } = await community();
  const regex = await natter(['automod', 'add', server, '--regex', '(unclosed', '--action', 'hold'], owner.env);
  assert.equal(regex.code, 1);
  assert.match(regex.stderr, /^error: bad_request: regex 1 does not compile: .* \(--regex\)$/m);
  const backref = await natter(['automod', 'add', server, '--regex', '(a)\\1', '--action', 'hold'], owner.env);
  assert.match(backref.stderr, /backreference .* \(--regex\)/);
  for (const [args, words] of [
    [['--action', 'block'], /say what the rule matches: --keyword, --regex, --preset, --mentions or --flood/],
    [['--keyword', 'x1'], /say what happens to a matching message/],
    [['--keyword', 'x1', '--regex', 'y', '--action', 'hold'], /a rule matches one way: --keyword or --regex, not both/],
    [['--keyword', 'x1', '--action', 'alert'], /--action alert needs --alert-channel CHANNEL/],
    [['--keyword', 'x1', '--action', 'hold', '--message', 'hi'], /--message goes with --action block/],
    [['--mentions', '3', '--action', 'hold', '--allow', 'x'], /--allow goes with --keyword or --preset/],
    [['--flood', 'lots', '--action', 'block'], /expected messages\/time, such as 5\/10s or 10\/1m/],
    [['--preset', 'rude', '--action', 'block'], /rude/],
    [['--keyword', 'x1', '--action', 'explode'], /"explode" is not one of block, hold, alert, timeout/],
    [
      ['--keyword', 'x1', '--action', 'block', '--exempt-role', 'boss'],
      /"boss" is not one of member, moderator, admin, owner/,
    ],
  ] as const) {
    const r = await natter(['automod', 'add', server, ...args], owner.env);
    assert.equal(r.code, 2, args.join(' '));
    assert.match(r.stderr, words);
  }
  const tooMany = await natter(['automod', 'add', server, '--mentions', '99', '--action', 'block'], owner.env);
  assert.equal(tooMany.code, 1);
  assert.match(tooMany.stderr, /the most mentions allowed must be a whole number from 1 to 50 \(--mentions\)/);
});

test('held messages: the sender is told, moderators see them listed and live, approve posts and reject throws away', async () => {
  const { owner, member, server } = await community();
  ok(await natter(['channel', 'create', server, 'mod-log'], owner.env), 'channel create');
  ok(
    await natter(
      [
        'automod',
        'add',
        server,
        '--name',
        'links',
        '--regex',
        'https?://',
        '--action',
        'hold',
        '--action',
        'alert',
        '--alert-channel',
        'mod-log',
      ],
      owner.env,
    ),
    'automod add links',
  );
  const listening = await Listener.start([], owner.env, 'owner listen');
  const held = await natter(['send', `${server}/general`, 'see https://example.com'], member.env);
  assert.equal(held.code, 1);
  assert.match(
    held.stderr,
    /^error: held: your message is held for review by the server's moderators \(rule "links"\)/m,
  );
  await listening.until(
    () =>
      listening.lines.some((l) =>
        l.includes(`held for review (links): ${member.name} in #general: see https://example.com`),
      ),
    'the held line',
  );
  await listening.until(
    () => listening.lines.some((l) => l.includes(`automod hold, alert: ${member.name} in #general matched "links"`)),
    'the flag line',
  );
  await listening.stop();
  const log = ok(await natter(['history', `${server}/mod-log`], owner.env), 'history mod-log').stdout;
  assert.match(
    log,
    new RegExp(`⚑ automod: a message by @${member.name} in #general matched "links" \\(held for review\\)`),
  );
  assert.doesNotMatch(log, /example\.com/, 'the channel does not quote what was held');

  const table = ok(await natter(['hold', 'list', server], owner.env), 'hold list')
    .stdout.trim()
    .split('\n');
  assert.match(table[0] ?? '', /^ID\s+WHEN\s+BY\s+CHANNEL\s+HELD BY\s+MESSAGE$/);
  const id = (table[1] ?? '').split(/\s+/)[0] ?? '';
  assert.equal(id.length, 6);
  assert.match(table[1] ?? '', new RegExp(`${member.name}\\s+#general\\s+links\\s+see https://example.com$`));
  const approved = ok(await natter(['hold', 'approve', server, id, '--reason', 'fine site'], owner.env), 'approve');
  assert.match(approved.stdout, new RegExp(`posted ${member.name}'s message in ${server}/#general as #1`));
  assert.match(
    ok(await natter(['history', `${server}/general`], member.env), 'history').stdout,
    /see https:\/\/example\.com/,
  );

  assert.equal((await natter(['send', `${server}/general`, 'and http://spam.example'], member.env)).code, 1);
  const second = ok(await natter(['hold', 'list', server, '--json'], owner.env), 'hold list --json').stdout;
  const [waiting] = (JSON.parse(second) as { messages: { id: string }[] }).messages;
  ok(await natter(['hold', 'reject', server, waiting?.id ?? '', '--reason', 'spam'], owner.env), 'reject');
  assert.match(ok(await natter(['hold', 'list', server], owner.env), 'hold list').stdout, /nothing is held/);
  // The list names the channels a rule uses, and says when one was deleted since.
  assert.match(
    ok(await natter(['automod', 'list', server], owner.env), 'list').stdout,
    /links\s+regex\s+yes\s+regex https\?:\/\/ → hold \+ alert #mod-log/,
  );
  ok(await natter(['channel', 'delete', server, 'mod-log'], owner.env), 'channel delete');
  assert.match(ok(await natter(['automod', 'list', server], owner.env), 'list').stdout, /alert #\? \(deleted\)/);
  const unknown = await natter(['hold', 'approve', server, 'zzzzzz'], owner.env);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /no held message zzzzzz/);
});
