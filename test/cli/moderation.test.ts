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
