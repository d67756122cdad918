import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ReportAction, ReportReason } from '../../src/protocol/index.js';
import { HttpApi, PASSWORD, uniqueName } from '../helpers/api.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { Listener, natter, type Result, removeTempDirs, tempDir } from './helpers.js';

// natter report, natter reports (and resolve) and what natter listen prints of
// reports, end to end: bin/natter runs dist/ (npm run build first).

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

type Person = { name: string; id: string; env: Record<string, string> };

/** A registered user with their own NATTER_HOME, logged in. */
async function person(prefix: string): Promise<Person> {
  const name = uniqueName(prefix);
  const { user } = await new HttpApi(t.httpUrl).call('register', { username: name, password: PASSWORD });
  const env = { NATTER_HOME: tempDir(), NATTER_SERVER: t.wsUrl };
  ok(await natter(['login', name], { ...env, NATTER_PASSWORD: PASSWORD }), `login ${name}`);
  return { name, id: user.id, env };
}

async function refused(args: string[], env: Record<string, string>, exit: number, words: RegExp): Promise<void> {
  const r = await natter(args, env);
  assert.equal(r.code, exit, `natter ${args.join(' ')}: ${r.stderr}`);
  assert.match(r.stderr, words, `natter ${args.join(' ')}`);
}

test('a member reports a message and a user; moderators list and resolve; listen tells both sides', async () => {
  const [owner, mod, bob, mallory] = await Promise.all([person('po'), person('pm'), person('pb'), person('px')]);
  const server = uniqueName('watch');
  ok(await natter(['server', 'create', server], owner.env), 'server create');
  const invite = (
    JSON.parse(ok(await natter(['invite', 'create', server, '--json'], owner.env), 'invite').stdout) as {
      invite: { code: string };
    }
  ).invite.code;
  for (const p of [mod, bob, mallory]) ok(await natter(['join', invite], p.env), `join ${p.name}`);
  ok(await natter(['role', server, mod.name, 'moderator'], owner.env), 'role');
  ok(await natter(['send', `${server}/general`, 'cheap watches, click here'], mallory.env), 'send');

  const modListens = await Listener.start([], mod.env, 'moderator listen');
  const bobListens = await Listener.start([], bob.env, 'reporter listen');
  try {
    const made = ok(
      await natter(['report', `${server}/general`, '1', '--reason', 'spam', '--details', 'in every channel'], bob.env),
      'report a message',
    );
    const id = Number(/report #(\d+)$/m.exec(made.stdout)?.[1]);
    assert.match(
      made.stdout,
      new RegExp(
        `^reported #1 in ${server}/general by ${mallory.name} to the moderators of ${server} \\(spam\\): report #${id}$`,
        'm',
      ),
    );
    await modListens.until(
      () =>
        modListens.lines.some((l) =>
          l.endsWith(`${server}: new report #${id} by ${bob.name} on #general #1 (${mallory.name}): spam`),
        ),
      'the new report line',
    );

    const again = await natter(['report', `${server}/general`, '#1', '--reason', 'other'], bob.env);
    assert.equal(again.code, 1);
    assert.match(
      again.stderr,
      new RegExp(`^error: conflict: you already reported this message, and your report #${id} is still open`, 'm'),
    );

    const table = ok(await natter(['reports', server], mod.env), 'reports')
      .stdout.trim()
      .split('\n');
    assert.match(table[0] ?? '', /^ID\s+WHEN\s+BY\s+REASON\s+ABOUT\s+WHERE\s+STATUS\s+TEXT$/);
    assert.match(
      table[1] ?? '',
      new RegExp(
        `^${id}\\s+\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d\\s+${bob.name}\\s+spam\\s+${mallory.name}\\s+#general #1\\s+open\\s+"cheap watches, click here"; details: in every channel$`,
      ),
    );
    assert.equal(table.length, 2);

    const resolved = ok(
      await natter(['reports', 'resolve', String(id), '--action', 'delete', '--note', 'known spammer'], mod.env),
      'resolve',
    );
    assert.match(resolved.stdout, new RegExp(`^report #${id} resolved: the message was deleted$`, 'm'));
    await bobListens.until(
      () => bobListens.lines.some((l) => l.endsWith(`your report #${id} (spam) was handled: the message was deleted`)),
      'the handled line',
    );
    await modListens.until(
      () =>
        modListens.lines.some((l) =>
          l.endsWith(`${server}: report #${id} resolved by ${mod.name}: the message was deleted`),
        ),
      'the resolved line',
    );
    assert.ok(!bobListens.lines.some((l) => l.includes('known spammer')), 'the note is for the moderators');
    assert.ok(!bobListens.lines.some((l) => l.includes('new report')), 'a member is not told of reports');
    const history = ok(await natter(['history', `${server}/general`], bob.env), 'history').stdout;
    assert.ok(!history.includes('cheap watches'), 'the message is gone');

    const closed = ok(await natter(['reports', server, '--status', 'resolved'], mod.env), 'resolved').stdout;
    assert.match(closed, new RegExp(`delete by ${mod.name} \\(known spammer\\)`));
    assert.match(
      ok(await natter(['reports', server], mod.env), 'open').stdout,
      new RegExp(`^no open reports in ${server}$`, 'm'),
    );

    const user = ok(
      await natter(['report', `@${mallory.name}`, '--reason', 'harassment', '--in', server], bob.env),
      'report a user',
    );
    const userId = Number(/report #(\d+)$/m.exec(user.stdout)?.[1]);
    assert.match(
      user.stdout,
      new RegExp(`^reported ${mallory.name} to the moderators of ${server} \\(harassment\\)`, 'm'),
    );
    const timed = ok(
      await natter(['reports', 'resolve', `#${userId}`, '--action', 'timeout', '--duration', '10m'], mod.env),
      'resolve with a timeout',
    );
    assert.match(
      timed.stdout,
      new RegExp(`^report #${userId} resolved: ${mallory.name} was timed out for 10 min$`, 'm'),
    );
    await bobListens.until(
      () =>
        bobListens.lines.some((l) =>
          l.endsWith(`your report #${userId} (harassment) was handled: ${mallory.name} was timed out`),
        ),
      'the second handled line',
    );

    const json = JSON.parse(
      ok(await natter(['reports', server, '--status', 'all', '--json'], mod.env), 'json').stdout,
    ) as {
      reports: { id: number; resolution: string; reporter: { username: string } }[];
      more: boolean;
    };
    assert.deepEqual(
      json.reports.map((r) => [r.id, r.resolution, r.reporter.username]),
      [
        [userId, 'timeout', bob.name],
        [id, 'delete', bob.name],
      ],
    );
    assert.equal(json.more, false);
    const audit = ok(await natter(['audit', server, '--action', 'report.resolve'], owner.env), 'audit').stdout;
    assert.match(
      audit,
      new RegExp(`${mod.name}\\s+report\\.resolve\\s+${mallory.name}\\s+report #${userId} harassment: timeout 600 s`),
    );
    assert.match(
      audit,
      new RegExp(
        `${mod.name}\\s+report\\.resolve\\s+${mallory.name}\\s+report #${id} spam: delete\\s+known spammer$`,
        'm',
      ),
    );

    // A member may neither read nor resolve the reports; resolving twice is refused.
    await refused(['reports', server], bob.env, 1, /^error: forbidden: only server moderators can do this/m);
    await refused(
      ['reports', 'resolve', String(id), '--action', 'none'],
      bob.env,
      1,
      /^error: not_found: no such report/m,
    );
    await refused(
      ['reports', 'resolve', String(id), '--action', 'none'],
      mod.env,
      1,
      new RegExp(`^error: conflict: report #${id} was already resolved \\(delete\\)`, 'm'),
    );
    await refused(
      ['report', `${server}/general`, '1', '--reason', 'other', '--details', 'x'.repeat(1001)],
      owner.env,
      1,
      /^error: bad_request: details must be at most 1000 characters \(--details\)$/m,
    );
  } finally {
    await modListens.stop();
    await bobListens.stop();
  }
});

test('reports from a DM go to the operators, who delete or do nothing, and nothing else', async () => {
  const [alice, bob, op] = await Promise.all([person('qa'), person('qb'), person('qo')]);
  await t.server.services.store.write((tx) => tx.users.setOperator(op.id, true));
  ok(await natter(['send', `@${alice.name}`, 'a threat'], bob.env), 'dm');
  const opListens = await Listener.start([], op.env, 'operator listen');
  try {
    const made = ok(await natter(['report', `@${bob.name}`, '1', '--reason', 'illegal'], alice.env), 'report a DM');
    const id = Number(/report #(\d+)$/m.exec(made.stdout)?.[1]);
    assert.match(made.stdout, new RegExp(`to the instance's operators \\(illegal\\): report #${id}$`, 'm'));
    await opListens.until(
      () =>
        opListens.lines.some((l) =>
          l.endsWith(`operators: new report #${id} by ${alice.name} on a DM #1 (${bob.name}): illegal`),
        ),
      'the operator told',
    );
    const queue = ok(await natter(['reports', '--instance'], op.env), 'the queue').stdout;
    assert.match(
      queue,
      new RegExp(`^${id}\\s+.*${alice.name}\\s+illegal\\s+${bob.name}\\s+a DM #1\\s+open\\s+"a threat"$`, 'm'),
    );
    await refused(
      ['reports', 'resolve', String(id), '--action', 'ban'],
      op.env,
      1,
      /^error: bad_request: report #\d+ comes from a DM or a group: there is no server to ban them from; resolve it with delete or none \(--action\)$/m,
    );
    ok(await natter(['reports', 'resolve', String(id), '--action', 'delete'], op.env), 'delete');
    await refused(['reports', '--instance'], alice.env, 1, /^error: forbidden: only the instance's operators/m);
  } finally {
    await opListens.stop();
  }
});

test('bad input is a usage error naming what to change', async () => {
  const env = { NATTER_HOME: tempDir(), NATTER_SERVER: t.wsUrl };
  await refused(['report', 'acme/general', '3'], env, 2, /required option '--reason <reason>' not specified/);
  await refused(['report', 'acme/general', '3', '--reason', 'rude'], env, 2, /--reason <reason>.*rude|rude.*--reason/);
  const me = await person('qu');
  await refused(['report', 'acme/general', '--reason', 'spam'], me.env, 2, /name the message by its number/);
  await refused(
    ['report', '@someone', '3', '--reason', 'spam', '--in', 'acme'],
    me.env,
    2,
    /--in goes with a report of a user/,
  );
  await refused(['report', 'acme/general', 'first', '--reason', 'spam'], me.env, 2, /"first" is not a message number/);
  await refused(['reports'], me.env, 2, /name a server \(natter reports acme\), or give --instance/);
  await refused(['reports', 'acme', '--instance'], me.env, 2, /not both/);
  await refused(['reports', 'acme', '--status', 'closed'], me.env, 2, /--status <status>.*closed|closed.*--status/);
  await refused(
    ['reports', 'resolve', 'twelve', '--action', 'none'],
    me.env,
    2,
    /expected a report number, such as 12/,
  );
  await refused(['reports', 'resolve', '12'], me.env, 2, /required option '--action <action>' not specified/);
  await refused(['reports', 'resolve', '12', '--action', 'timeout'], me.env, 2, /--action timeout needs --duration/);
  await refused(
    ['reports', 'resolve', '12', '--action', 'kick', '--duration', '1h'],
    me.env,
    2,
    /--duration goes with --action timeout only/,
  );
  await refused(
    ['reports', 'resolve', '12', '--action', 'timeout', '--duration', '29d'],
    me.env,
    2,
    /a timeout lasts at most 28d/,
  );
});

test('--reason and --action offer exactly what the protocol takes', async () => {
  const choices = (help: string) =>
    [...(/choices: ([^)]*)\)/.exec(help.replace(/\s+/g, ' '))?.[1] ?? '').matchAll(/"([^"]+)"/g)].map((m) => m[1]);
  const env = { NATTER_HOME: tempDir() };
  assert.deepEqual(choices(ok(await natter(['report', '--help'], env), 'report --help').stdout), [
    ...ReportReason.options,
  ]);
  assert.deepEqual(choices(ok(await natter(['reports', 'resolve', '--help'], env), 'resolve --help').stdout), [
    ...ReportAction.options,
  ]);
});
