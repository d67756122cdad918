import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { AuditAction } from '../../src/protocol/index.js';
import { HttpApi, PASSWORD, uniqueName } from '../helpers/api.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { Listener, natter, type Result, removeTempDirs, tempDir } from './helpers.js';

// Moderator commands end to end: bin/natter runs dist/ (npm run build first).

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

/** A registered user with their own NATTER_HOME, logged in. */
async function person(prefix: string): Promise<{ name: string; env: Record<string, string> }> {
  const name = uniqueName(prefix);
  await new HttpApi(t.httpUrl).call('register', { username: name, password: PASSWORD });
  const env = { NATTER_HOME: tempDir(), NATTER_SERVER: t.wsUrl };
  ok(await natter(['login', name], { ...env, NATTER_PASSWORD: PASSWORD }), `login ${name}`);
  return { name, env };
}

test('role moderator, kick and delete with reasons, then audit as a table and as JSON; a member is refused in words', async () => {
  const [owner, mod, member] = await Promise.all([person('co'), person('cm'), person('cx')]);
  const server = uniqueName('guild');
  ok(await natter(['server', 'create', server], owner.env), 'server create');
  const code = ok(await natter(['invite', 'create', server, '--json'], owner.env), 'invite').stdout;
  const invite = (JSON.parse(code) as { invite: { code: string } }).invite.code;
  for (const p of [mod, member]) ok(await natter(['join', invite], p.env), `join ${p.name}`);

  const made = ok(await natter(['role', server, mod.name, 'moderator', '--reason', 'trusted'], owner.env), 'role');
  assert.match(made.stdout, new RegExp(`${mod.name} is now moderator of ${server}`));
  ok(await natter(['send', `${server}/general`, 'buy cheap stuff'], member.env), 'send');
  const del = ok(await natter(['delete', `${server}/general`, '1', '--reason', 'spam'], mod.env), 'delete');
  assert.match(del.stdout, /deleted #1/);
  // The owner listens from after the member joined: the line names them, who kicked them, and why.
  const listening = await Listener.start([], owner.env, 'owner listen');
  ok(await natter(['kick', server, member.name, '--reason', 'spam again'], mod.env), 'kick');
  await listening.until(
    () => listening.lines.some((l) => l.includes(`${server}: ${member.name} was kicked by ${mod.name}: spam again`)),
    'the kick line',
  );
  await listening.stop();

  const table = ok(await natter(['audit', server], mod.env), 'audit').stdout;
  const lines = table.trim().split('\n');
  assert.match(lines[0] ?? '', /^WHEN\s+BY\s+ACTION\s+TARGET\s+CHANGE\s+REASON$/);
  assert.match(lines[1] ?? '', new RegExp(`${mod.name}\\s+member\\.kick\\s+${member.name}\\s+spam again$`));
  assert.match(lines[2] ?? '', new RegExp(`${mod.name}\\s+message\\.delete\\s+${member.name}\\s+#general #1\\s+spam$`));
  assert.match(
    lines[3] ?? '',
    new RegExp(`${owner.name}\\s+member\\.role\\s+${mod.name}\\s+member → moderator\\s+trusted$`),
  );

  const json = JSON.parse(
    ok(await natter(['audit', server, '--action', 'member.kick', '--json'], owner.env), 'audit --json').stdout,
  ) as { entries: { action: string; reason: string; actor: { username: string } }[]; more: boolean };
  assert.deepEqual(
    json.entries.map((e) => [e.action, e.actor.username, e.reason]),
    [['member.kick', mod.name, 'spam again']],
  );
  assert.equal(json.more, false);
  const byOwner = ok(
    await natter(['audit', server, '--actor', owner.name, '--limit', '1'], owner.env),
    'audit --actor',
  );
  assert.equal(byOwner.stdout.trim().split('\n').length, 2, 'a heading and one entry');
  assert.match(byOwner.stderr, /showing the newest 1 entries; there are older ones/, 'the owner also made the invite');
  const limited = JSON.parse(
    ok(await natter(['audit', server, '--limit', '1', '--json'], owner.env), 'audit --limit --json').stdout,
  ) as { entries: unknown[]; more: boolean };
  assert.deepEqual([limited.entries.length, limited.more], [1, true]);

  // The kicked member rejoins and is refused the log, in words.
  ok(await natter(['join', invite], member.env), 'rejoin');
  const refused = await natter(['audit', server], member.env);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /^error: forbidden: only server moderators can do this/m);
  const badAction = await natter(['audit', server, '--action', 'member.hug'], owner.env);
  assert.equal(badAction.code, 2);
  assert.match(badAction.stderr, /member\.hug/);
});

test('audit --action offers exactly the actions the audit log records', async () => {
  const help = ok(await natter(['audit', '--help'], { NATTER_HOME: tempDir() }), 'audit --help').stdout;
  const choices = /choices: ([^)]*)\)/.exec(help.replace(/\s+/g, ' '))?.[1] ?? '';
  assert.deepEqual(
    [...choices.matchAll(/"([^"]+)"/g)].map((m) => m[1]),
    [...AuditAction.options],
  );
});

test('timeout, untimeout and slowmode: the member is refused in words that say when, listeners see it, members and audit show it', async () => {
  const [owner, mod, member] = await Promise.all([person('to'), person('tm'), person('tx')]);
  const server = uniqueName('calm');
  ok(await natter(['server', 'create', server], owner.env), 'server create');
  const invite = (
    JSON.parse(ok(await natter(['invite', 'create', server, '--json'], owner.env), 'invite').stdout) as {
      invite: { code: string };
    }
  ).invite.code;
  for (const p of [mod, member]) ok(await natter(['join', invite], p.env), `join ${p.name}`);
  ok(await natter(['role', server, mod.name, 'moderator'], owner.env), 'role');

  const listening = await Listener.start([], owner.env, 'owner listen');
  const put = ok(await natter(['timeout', server, member.name, '10m', '--reason', 'heated'], mod.env), 'timeout');
  assert.match(
    put.stdout,
    new RegExp(`^${member.name} is timed out in ${server} for 10 min, until \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d$`, 'm'),
  );
  await listening.until(
    () =>
      listening.lines.some(
        (l) => l.includes(`${server}: ${member.name} was timed out until`) && l.endsWith(`by ${mod.name}: heated`),
      ),
    'the timeout line',
  );
  const refused = await natter(['send', `${server}/general`, 'but why'], member.env);
  assert.equal(refused.code, 1);
  assert.match(
    refused.stderr,
    /^error: timed_out: you are timed out in this server until .* UTC; you can write again in 10 min/m,
  );
  const listed = ok(await natter(['members', server], owner.env), 'members').stdout;
  assert.match(listed, new RegExp(`${member.name}\\s+member, timed out until \\d{4}-`));
  const lifted = ok(await natter(['untimeout', server, member.name, '--reason', 'calmer now'], mod.env), 'untimeout');
  assert.match(lifted.stdout, new RegExp(`${member.name} may write in ${server} again`));
  await listening.until(
    () =>
      listening.lines.some((l) =>
        l.includes(`${member.name} may write again (timeout lifted by ${mod.name}): calmer now`),
      ),
    'the lift line',
  );
  await listening.stop();
  ok(await natter(['send', `${server}/general`, 'sorry'], member.env), 'send after the lift');
  const notTimed = await natter(['untimeout', server, member.name], mod.env);
  assert.equal(notTimed.code, 1);
  assert.match(notTimed.stderr, /^error: conflict: that member is not timed out/m);

  for (const [value, words] of [
    ['0s', /a timeout lasts at least 1s/],
    ['29d', /a timeout lasts at most 28d/],
    ['soon', /expected a duration such as 10m, 1h or 7d/],
  ] as const) {
    const bad = await natter(['timeout', server, member.name, value], mod.env);
    assert.equal(bad.code, 2, value);
    assert.match(bad.stderr, words);
  }

  assert.match(
    ok(await natter(['slowmode', `${server}/general`], mod.env), 'show').stdout,
    /slow mode in .*\/#general is off/,
  );
  const set = ok(await natter(['slowmode', `${server}/general`, '5m', '--reason', 'raid'], mod.env), 'slowmode 5m');
  assert.match(set.stdout, new RegExp(`slow mode in ${server}/#general: one message every 5 min per member`));
  // "sorry", a moment ago, was their message of these five minutes.
  const slowed = await natter(['send', `${server}/general`, 'two'], member.env);
  assert.equal(slowed.code, 1);
  assert.match(
    slowed.stderr,
    /^error: slow_mode: #general is in slow mode \(one message every 5 min\); you can send again in 5 min/m,
  );
  assert.match(ok(await natter(['slowmode', `${server}/general`, 'off'], mod.env), 'off').stdout, /is off/);
  ok(await natter(['send', `${server}/general`, 'two'], member.env), 'send with slow mode off');
  const tooSlow = await natter(['slowmode', `${server}/general`, '7h'], mod.env);
  assert.equal(tooSlow.code, 2);
  assert.match(tooSlow.stderr, /slow mode is at most 6h/);
  const noChannel = await natter(['slowmode', server, '30'], mod.env);
  assert.equal(noChannel.code, 2);
  assert.match(noChannel.stderr, /expected SERVER\/CHANNEL, such as acme\/general/);
  const byMember = await natter(['slowmode', `${server}/general`, '30'], member.env);
  assert.equal(byMember.code, 1);
  assert.match(byMember.stderr, /^error: forbidden: only server moderators can do this/m);

  const audit = ok(await natter(['audit', server], owner.env), 'audit')
    .stdout.trim()
    .split('\n');
  assert.match(audit[1] ?? '', new RegExp(`${mod.name}\\s+channel\\.slowmode\\s+#general slow mode 300 s → off$`));
  assert.match(
    audit[2] ?? '',
    new RegExp(`${mod.name}\\s+channel\\.slowmode\\s+#general slow mode off → 300 s\\s+raid$`),
  );
  assert.match(audit[3] ?? '', new RegExp(`${mod.name}\\s+member\\.untimeout\\s+${member.name}\\s+calmer now$`));
  assert.match(
    audit[4] ?? '',
    new RegExp(
      `${mod.name}\\s+member\\.timeout\\s+${member.name}\\s+until \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d\\s+heated$`,
    ),
  );
});
