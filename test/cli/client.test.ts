import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { PASSWORD } from '../helpers/api.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { Listener, natter, type Result, removeTempDirs, tempDir } from './helpers.js';

// The client commands of bin/natter, end to end against a real server started in this process.

let t: TestServer;
const home = { alice: '', bob: '', carol: '' };
const listeners: Listener[] = [];

before(async () => {
  t = await startTestServer();
  home.alice = join(tempDir(), 'alice'); // created by the CLI, so its mode can be checked
  home.bob = tempDir();
  home.carol = tempDir();
});

after(async () => {
  for (const l of listeners) l.child.kill('SIGKILL');
  await t.destroy();
  removeTempDirs();
});

/** Runs natter as one of the users. */
function as(user: keyof typeof home, args: string[], input = '', extra: Record<string, string> = {}): Promise<Result> {
  return natter(args, { NATTER_SERVER: t.wsUrl, NATTER_HOME: home[user], ...extra }, input);
}

/** Runs natter with --json, asserts success and returns the parsed document. */
async function json<T = Record<string, unknown>>(user: keyof typeof home, args: string[], input = ''): Promise<T> {
  const r = await as(user, ['--json', ...args], input);
  assert.equal(r.code, 0, `natter ${args.join(' ')} failed: ${r.stderr}`);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, 1, `exactly one JSON document: ${r.stdout}`);
  return JSON.parse(lines[0] ?? '') as T;
}

function ok(r: Result, what: string): Result {
  assert.equal(r.code, 0, `${what} failed (${r.code}): ${r.stderr}`);
  return r;
}

function noStack(r: Result): void {
  assert.doesNotMatch(r.stderr, /\n\s+at .+:\d+:\d+/, `no stack trace: ${r.stderr}`);
}

describe('natter CLI: the seed flows', () => {
  let bobListen: Listener;
  let aliceGeneral: Listener;
  let invite = '';

  test('alice and bob register from their own config dirs; credentials are 0600 in a 0700 dir', async () => {
    const a = await as('alice', ['register', 'alice'], '', { NATTER_PASSWORD: PASSWORD });
    ok(a, 'register alice');
    assert.match(a.stdout, /registered and logged in as alice/);
    const b = await json<{ user: { username: string }; server: string }>(
      'bob',
      ['register', 'bob', '--password-stdin'],
      `${PASSWORD}\n`,
    );
    assert.equal(b.user.username, 'bob');
    assert.equal(b.server, t.wsUrl);
    // carol talks over TCP.
    ok(
      await natter(['register', 'carol'], {
        NATTER_SERVER: t.tcpUrl,
        NATTER_HOME: home.carol,
        NATTER_PASSWORD: PASSWORD,
      }),
      'register carol',
    );
    const file = join(home.alice, 'credentials.json');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(statSync(home.alice).mode & 0o777, 0o700);
    const who = await json<{ user: { username: string }; session: { id: string } | null }>('alice', ['whoami']);
    assert.equal(who.user.username, 'alice');
    assert.ok(who.session);
    assert.match(ok(await as('alice', ['whoami']), 'whoami').stdout, /alice/);
  });

  test('bob starts an unfiltered listener: it says where it listens and as whom', async () => {
    bobListen = await Listener.start(['--json'], { NATTER_SERVER: t.wsUrl, NATTER_HOME: home.bob }, 'bob');
    listeners.push(bobListen);
    assert.match(bobListen.stderr, new RegExp(`listening on ${t.wsUrl} as bob `));
    assert.deepEqual(bobListen.lines, [], 'nothing has happened yet');
  });

  test('alice creates a server and an invite; bob joins with the code', async () => {
    const created = await json<{ server: { id: string; name: string }; channels: { name: string }[] }>('alice', [
      'server',
      'create',
      'acme',
      '--description',
      'Widgets',
    ]);
    assert.equal(created.server.name, 'acme');
    assert.deepEqual(
      created.channels.map((c) => c.name),
      ['general'],
    );
    aliceGeneral = await Listener.start(
      ['--json', 'acme/general'],
      { NATTER_SERVER: t.wsUrl, NATTER_HOME: home.alice },
      'alice',
    );
    listeners.push(aliceGeneral);

    const inv = await as('alice', ['invite', 'create', 'acme', '--max-uses', '5', '--expires', '7d']);
    ok(inv, 'invite create');
    invite = inv.stdout.trim();
    assert.match(invite, /^[A-Za-z0-9]{12}$/);
    const list = await json<{ invites: { code: string; maxUses: number; expiresAt: number }[] }>('alice', [
      'invite',
      'list',
      'acme',
    ]);
    assert.equal(list.invites[0]?.code, invite);
    assert.equal(list.invites[0]?.maxUses, 5);
    assert.ok((list.invites[0]?.expiresAt ?? 0) > Date.now() + 6 * 86_400_000);

    const joined = await json<{ server: { name: string }; alreadyMember: boolean }>('bob', ['join', invite]);
    assert.equal(joined.server.name, 'acme');
    assert.equal(joined.alreadyMember, false);
    await bobListen.event((e) => e.event === 'server.joined', 'server.joined');
    const members = await json<{ members: { user: { username: string }; role: string }[] }>('bob', ['members', 'acme']);
    assert.deepEqual(
      members.members.map((m) => [m.user.username, m.role]),
      [
        ['alice', 'owner'],
        ['bob', 'member'],
      ],
    );
    const human = ok(await as('bob', ['members', 'acme']), 'members');
    assert.match(human.stdout, /^USERNAME\s+DISPLAY NAME\s+ROLE\s+ONLINE\s+JOINED$/m);
    assert.match(human.stdout, /^alice\s+owner\s+(yes|no)/m);
    const online = await json<{ users: { username: string }[] }>('alice', ['online', 'acme']);
    assert.ok(
      online.users.some((u) => u.username === 'bob'),
      'bob is listening, so online',
    );
  });

  test('they talk in acme/general; text from arguments and from stdin; listeners hear it live', async () => {
    const sent = await json<{ message: { seq: number; body: string }; target: { label: string } }>('alice', [
      'send',
      'acme/general',
      'hello',
      'bob',
    ]);
    assert.equal(sent.message.body, 'hello bob');
    assert.equal(sent.target.label, 'acme/general');
    const ev = await bobListen.event(
      (e) => e.event === 'message.created' && (e.data.message as { body: string }).body === 'hello bob',
      'alice message at bob',
    );
    assert.equal(ev?.target, 'acme/general');
    assert.ok(ev?.cursor);

    const r = ok(await as('bob', ['send', 'ACME/General'], 'hi alice\nhow are you?\n'), 'send from stdin');
    assert.match(r.stdout, /sent #2 to acme\/general/);
    await aliceGeneral.event(
      (e) => e.event === 'message.created' && (e.data.message as { body: string }).body === 'hi alice\nhow are you?',
      'bob message at alice',
    );

    const hist = await json<{
      messages: { seq: number; body: string; author: { username: string } }[];
      hasMore: boolean;
    }>('alice', ['history', 'acme/general']);
    assert.deepEqual(
      hist.messages.map((m) => [m.seq, m.author.username, m.body]),
      [
        [1, 'alice', 'hello bob'],
        [2, 'bob', 'hi alice\nhow are you?'],
      ],
    );
    const human = ok(await as('alice', ['history', 'acme/general', '--after', '1']), 'history').stdout;
    assert.match(human, /#2 {2}\d{4}-\d\d-\d\d \d\d:\d\d {2}bob: hi alice\n {4}how are you\?/);
    assert.doesNotMatch(human, /hello bob/);

    const edited = await json<{ message: { body: string; editedAt: number | null } }>('alice', [
      'edit',
      'acme/general',
      '1',
      'hello bob, welcome',
    ]);
    assert.equal(edited.message.body, 'hello bob, welcome');
    assert.ok(edited.message.editedAt);
    await bobListen.event((e) => e.event === 'message.updated', 'message.updated');
    const del = await json<{ message: { deletedAt: number | null } }>('alice', ['delete', 'acme/general', '1']);
    assert.ok(del.message.deletedAt);
    const missing = await as('alice', ['edit', 'acme/general', '9', 'nope']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^error: not_found: no message #9 in acme\/general$/m);
    const read = await json<{ lastReadSeq: number; unread: number }>('alice', ['read', 'acme/general']);
    assert.equal(read.lastReadSeq, 2);
    assert.equal(read.unread, 0);
  });

  test('alice creates a group with bob and carol; bob hears the invitation; both accept; bob hears its messages; groups lists it', async () => {
    const g = await json<{
      group: { name: string; members: { username: string }[]; invited: { username: string }[] };
    }>('alice', ['group', 'create', 'climbing', 'bob', '@carol']);
    // By default an add is an invitation.
    assert.deepEqual(
      g.group.members.map((m) => m.username),
      ['alice'],
    );
    assert.deepEqual(g.group.invited.map((m) => m.username).sort(), ['bob', 'carol']);
    await bobListen.event(
      (e) =>
        e.event === 'group.invited' && (e.data.invitation as { group: { name: string } }).group.name === 'climbing',
      'group.invited',
    );
    assert.match(ok(await as('bob', ['group', 'invitations']), 'invitations').stdout, /\+climbing\s+alice\s+1\s/);
    assert.match(
      ok(await as('bob', ['group', 'accept', 'climbing']), 'bob accepts').stdout,
      /^joined \+climbing: alice, bob; invited carol/m,
    );
    ok(await as('carol', ['group', 'accept', '+Climbing'], '', { NATTER_SERVER: t.tcpUrl }), 'carol accepts');
    await bobListen.event(
      (e) =>
        e.event === 'group.updated' &&
        (e.data.group as { name: string; members: unknown[] }).name === 'climbing' &&
        (e.data.group as { members: unknown[] }).members.length === 3,
      'group.updated with carol in',
    );
    ok(await as('carol', ['send', '+Climbing', 'on the wall'], '', { NATTER_SERVER: t.tcpUrl }), 'carol sends');
    const ev = await bobListen.event(
      (e) => e.event === 'message.created' && (e.data.message as { body: string }).body === 'on the wall',
      'group message',
    );
    assert.equal(ev?.target, '+climbing');
    const groups = await json<{ groups: { name: string }[] }>('bob', ['groups']);
    assert.deepEqual(
      groups.groups.map((x) => x.name),
      ['climbing'],
    );
    assert.match(ok(await as('bob', ['groups']), 'groups').stdout, /\+climbing\s+alice, bob, carol/);
  });

  test('bob DMs alice; both DM lists show it', async () => {
    const sent = await json<{ message: { conversationId: string } }>('bob', ['send', '@alice', 'psst']);
    await bobListen.event((e) => e.event === 'dm.opened', 'dm.opened');
    const ev = await bobListen.event(
      (e) => e.event === 'message.created' && (e.data.message as { body: string }).body === 'psst',
      'dm message',
    );
    assert.equal(ev?.target, '@alice');
    assert.equal(
      (ev?.data.message as { conversationId: string } | undefined)?.conversationId,
      sent.message.conversationId,
    );
    const dms = await json<{ dms: { peer: { username: string }; unread: number }[] }>('alice', ['dms']);
    assert.equal(dms.dms[0]?.peer.username, 'bob');
    assert.equal(dms.dms[0]?.unread, 1);
    const bobs = await json<{ dms: { id: string; peer: { username: string }; unread: number }[] }>('bob', ['dms']);
    assert.deepEqual(
      bobs.dms.map((d) => [d.id, d.peer.username, d.unread]),
      [[sent.message.conversationId, 'alice', 0]],
      "bob's own message is not unread for him",
    );
    const hist = await json<{ messages: { body: string }[] }>('alice', ['history', '@bob']);
    assert.deepEqual(
      hist.messages.map((m) => m.body),
      ['psst'],
    );
  });

  test("the listeners: bob's heard the channel, the group and the DM; alice's (acme/general) only the channel", async () => {
    const bobTargets = new Set(bobListen.events.filter((e) => e.event === 'message.created').map((e) => e.target));
    assert.deepEqual([...bobTargets].sort(), ['+climbing', '@alice', 'acme/general']);
    const events = aliceGeneral.events;
    const bodies = events
      .filter((e) => e.event === 'message.created')
      .map((e) => (e.data.message as { body: string }).body);
    assert.deepEqual(bodies, ['hello bob', 'hi alice\nhow are you?'], 'both messages of acme/general, nothing else');
    for (const e of events) assert.equal(e.target, 'acme/general', JSON.stringify(e));
  });

  test('channels, servers and profile commands', async () => {
    ok(await as('alice', ['channel', 'create', 'acme', 'Dev Talk', '--topic', 'code']), 'channel create');
    const chans = await json<{ channels: { name: string; topic: string | null }[] }>('bob', ['channels', 'acme']);
    assert.deepEqual(
      chans.channels.map((c) => [c.name, c.topic]),
      [
        ['dev-talk', 'code'],
        ['general', null],
      ],
    );
    const topic = await json<{ channel: { topic: string } }>('alice', [
      'channel',
      'topic',
      'acme',
      'dev-talk',
      'all',
      'code',
    ]);
    assert.equal(topic.channel.topic, 'all code');
    ok(await as('alice', ['channel', 'rename', 'acme', 'dev-talk', 'dev']), 'channel rename');
    ok(await as('alice', ['channel', 'delete', 'acme', 'dev']), 'channel delete');
    const servers = await json<{ servers: { name: string; role: string }[] }>('bob', ['servers']);
    assert.deepEqual(
      servers.servers.map((x) => [x.name, x.role]),
      [['acme', 'member']],
    );
    const edited = await json<{ server: { description: string | null } }>('alice', [
      'server',
      'edit',
      'acme',
      '--description',
      '',
    ]);
    assert.equal(edited.server.description, null);
    const p = await json<{ user: { displayName: string; status: string | null } }>('bob', [
      'profile',
      '--display-name',
      'Bob B.',
      '--status',
      'climbing',
    ]);
    assert.equal(p.user.displayName, 'Bob B.');
    assert.equal(p.user.status, 'climbing');
    const denied = await as('bob', ['channel', 'create', 'acme', 'mine']);
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /^error: forbidden: /m);
  });

  test('bob leaves acme; his next send there fails with exit 1', async () => {
    const left = await json<{ ok: boolean }>('bob', ['leave', 'acme']);
    assert.equal(left.ok, true);
    await bobListen.event((e) => e.event === 'server.removed', 'server.removed');
    const r = await as('bob', ['send', 'acme/general', 'still here?']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: not_found: no server named "acme"$/m);
    noStack(r);
    const j = await as('bob', ['--json', 'send', 'acme/general', 'still here?']);
    assert.equal(j.code, 1);
    assert.deepEqual(JSON.parse(j.stdout), {
      error: { code: 'not_found', message: 'no server named "acme"', exitCode: 1 },
    });
  });

  test('the invite still works for a rejoin; kick, ban, unban and role resolve usernames', async () => {
    ok(await as('bob', ['join', invite]), 'rejoin');
    const role = await json<{ member: { role: string } }>('alice', ['role', 'acme', 'bob', 'admin']);
    assert.equal(role.member.role, 'admin');
    const badRole = await as('alice', ['role', 'acme', 'bob', 'owner']);
    assert.equal(badRole.code, 2);
    ok(await as('alice', ['kick', 'acme', 'bob']), 'kick');
    ok(await as('alice', ['ban', 'acme', '@bob', '--reason', 'testing']), 'ban');
    const bans = await json<{ bans: { user: { username: string }; reason: string }[] }>('alice', ['bans', 'acme']);
    assert.deepEqual(
      bans.bans.map((b) => [b.user.username, b.reason]),
      [['bob', 'testing']],
    );
    const refused = await as('bob', ['join', invite]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^error: forbidden: /m);
    ok(await as('alice', ['unban', 'acme', 'bob']), 'unban');
    const nobody = await as('alice', ['kick', 'acme', 'nosuchuser']);
    assert.equal(nobody.code, 1);
    assert.match(nobody.stderr, /not_found/);
  });

  test('listen stops on SIGINT with exit 0', async () => {
    assert.equal(await aliceGeneral.stop(), 0);
    assert.equal(await bobListen.stop(), 0);
  });
});

describe('natter CLI: names, tokens and exit codes', () => {
  test('an ambiguous server name is an error listing the candidates; the id works', async () => {
    const a = await json<{ server: { id: string } }>('alice', ['server', 'create', 'Twin']);
    const b = await json<{ server: { id: string } }>('alice', ['server', 'create', 'twin']);
    const r = await as('alice', ['channels', 'twin']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: ambiguous: server "twin" is ambiguous/m);
    assert.ok(r.stderr.includes(a.server.id) && r.stderr.includes(b.server.id), r.stderr);
    noStack(r);
    ok(await as('alice', ['channels', a.server.id]), 'by id');
    ok(await as('alice', ['send', `${b.server.id}/general`, 'by id']), 'send by server id');
    ok(await as('alice', ['server', 'delete', b.server.id, '--yes']), 'delete');
    ok(await as('alice', ['channels', 'TWIN']), 'no longer ambiguous');
  });

  test('NATTER_TOKEN overrides the stored credentials (a bot token from token create)', async () => {
    const created = await json<{ token: string; botToken: { id: string; name: string } }>('alice', [
      'token',
      'create',
      'ci bot',
    ]);
    assert.match(created.token, /^ntb_/);
    const empty = tempDir();
    const env = { NATTER_SERVER: t.wsUrl, NATTER_HOME: empty, NATTER_TOKEN: created.token };
    const who = await natter(['--json', 'whoami'], env);
    assert.equal(who.code, 0, who.stderr);
    const doc = JSON.parse(who.stdout) as { user: { username: string }; botToken: { name: string } };
    assert.equal(doc.user.username, 'alice');
    assert.equal(doc.botToken.name, 'ci bot');
    // bob's stored credentials lose to the environment too.
    const asBob = await as('bob', ['--json', 'whoami'], '', { NATTER_TOKEN: created.token });
    assert.equal((JSON.parse(asBob.stdout) as { user: { username: string } }).user.username, 'alice');
    const list = await json<{ tokens: { name: string }[] }>('alice', ['token', 'list']);
    assert.deepEqual(
      list.tokens.map((x) => x.name),
      ['ci bot'],
    );
    ok(await as('alice', ['token', 'revoke', 'ci bot']), 'token revoke');
    const revoked = await natter(['whoami'], env);
    assert.equal(revoked.code, 3);
    assert.match(revoked.stderr, /^error: unauthenticated: NATTER_TOKEN was refused/m);
    // The first request goes out right behind auth; with auth refused, it is refused too and nothing is stored.
    for (const target of ['acme/general', '@bob']) {
      const sent = await natter(['send', target, 'from a revoked token'], env);
      assert.equal(sent.code, 3, sent.stderr);
      assert.match(sent.stderr, /^error: unauthenticated: NATTER_TOKEN was refused/m);
      noStack(sent);
      assert.doesNotMatch(ok(await as('alice', ['history', target]), 'history').stdout, /from a revoked token/);
    }
  });

  test('exit 2: usage errors', async () => {
    for (const args of [
      ['frobnicate'],
      ['send'],
      ['history', 'acme/general', '--limit', 'lots'],
      ['invite', 'create', 'acme', '--expires', 'soon'],
      ['--server', 'http://127.0.0.1:1', 'whoami'],
      ['server', 'edit', 'acme'],
    ]) {
      const r = await as('alice', args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      noStack(r);
    }
    // No password and no terminal.
    const r = await natter(['login', 'alice'], { NATTER_SERVER: t.wsUrl, NATTER_HOME: tempDir() });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--password-stdin/);
    const empty = await as('alice', ['send', 'acme/general'], '\n');
    assert.equal(empty.code, 2);
    // Blank braille cells show nothing: the same usage error, before anything is sent.
    const blank = await as('alice', ['send', 'acme/general', '\u2800\u2800']);
    assert.equal(blank.code, 2);
    assert.match(blank.stderr, /the message is empty/);
  });

  test('exit 3: not logged in, a wrong password', async () => {
    const fresh = tempDir();
    const r = await natter(['servers'], { NATTER_SERVER: t.wsUrl, NATTER_HOME: fresh });
    assert.equal(r.code, 3);
    assert.match(r.stderr, /^error: unauthenticated: not logged in to ws:\/\/127\.0\.0\.1:\d+/m);
    const bad = await natter(
      ['login', 'alice', '--password-stdin'],
      { NATTER_SERVER: t.wsUrl, NATTER_HOME: fresh },
      'wrong password\n',
    );
    assert.equal(bad.code, 3);
    assert.match(bad.stderr, /^error: invalid_credentials: /m);
    noStack(bad);
  });

  test('exit 4: the server cannot be reached, and the message names the URL', async () => {
    const url = 'ws://127.0.0.1:9';
    const r = await natter(['servers'], { NATTER_SERVER: url, NATTER_HOME: home.alice, NATTER_TOKEN: 'nts_x' });
    assert.equal(r.code, 4);
    assert.match(r.stderr, /^error: unreachable: cannot reach the server at ws:\/\/127\.0\.0\.1:9/m);
    noStack(r);
    const login = await natter(['login', 'alice'], {
      NATTER_SERVER: url,
      NATTER_HOME: tempDir(),
      NATTER_PASSWORD: PASSWORD,
    });
    assert.equal(login.code, 4);
  });

  test('login, sessions, logout', async () => {
    const dir = tempDir();
    const env = { NATTER_SERVER: t.wsUrl, NATTER_HOME: dir };
    ok(await natter(['login', 'ALICE', '--password-stdin'], env, `${PASSWORD}\n`), 'login');
    const s = await natter(['--json', 'sessions'], env);
    const sessions = (JSON.parse(s.stdout) as { sessions: { current: boolean; client: string }[] }).sessions;
    assert.ok(sessions.length >= 2);
    assert.equal(sessions.filter((x) => x.current).length, 1);
    assert.equal(sessions.find((x) => x.current)?.client, 'natter-cli');
    ok(await natter(['logout'], env), 'logout');
    assert.equal((await natter(['whoami'], env)).code, 3);
  });
});

describe('natter CLI: more account and group commands', () => {
  test('group add, decline, settings and leave; --json after the command', async () => {
    const g = await json<{ group: { id: string } }>('alice', ['group', 'create', 'Book Club', 'carol']);
    const declinedRun = await as('carol', ['--json', 'group', 'decline', 'book club'], '', { NATTER_SERVER: t.tcpUrl });
    assert.equal(declinedRun.code, 0, declinedRun.stderr);
    const declined = JSON.parse(declinedRun.stdout) as { ok: boolean; groupId: string };
    assert.equal(declined.groupId, g.group.id);
    // Bob lets anyone add him: alice's add makes him a member at once.
    const settings = await json<{ settings: { groupAdds: string } }>('bob', ['settings', '--group-adds', 'everyone']);
    assert.equal(settings.settings.groupAdds, 'everyone');
    const added = await as('alice', ['group', 'add', 'book club', 'bob', '--json']);
    assert.equal(added.code, 0, added.stderr);
    const doc = JSON.parse(added.stdout) as {
      group: { id: string; members: { username: string }[]; invited: unknown[] };
    };
    assert.equal(doc.group.id, g.group.id);
    assert.deepEqual(doc.group.members.map((m) => m.username).sort(), ['alice', 'bob']);
    assert.deepEqual(doc.group.invited, []);
    const again = await as('carol', ['group', 'accept', 'book club'], '', { NATTER_SERVER: t.tcpUrl });
    assert.equal(again.code, 1);
    assert.match(again.stderr, /^error: not_found: no invitation to a group named "book club" is waiting for you/m);
    const left = await json<{ ok: boolean; groupId: string }>('bob', ['group', 'leave', '+book club']);
    assert.equal(left.groupId, g.group.id);
    const r = await as('bob', ['history', '+book club']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: not_found: no group named "book club"$/m);
  });

  test('passwd and rename; the stored credentials follow', async () => {
    const dir = tempDir();
    const env = { NATTER_SERVER: t.wsUrl, NATTER_HOME: dir };
    ok(await natter(['register', 'dave', '--password-stdin'], env, `${PASSWORD}\n`), 'register dave');
    const other = tempDir();
    ok(
      await natter(['login', 'dave'], { NATTER_SERVER: t.wsUrl, NATTER_HOME: other, NATTER_PASSWORD: PASSWORD }),
      'second login',
    );
    const changed = await natter(
      ['--json', 'passwd', '--password-stdin'],
      env,
      `${PASSWORD}\nan even longer passphrase\n`,
    );
    assert.equal(changed.code, 0, changed.stderr);
    const result = JSON.parse(changed.stdout) as {
      revokedSessions: number;
      revokedBotTokens: number;
      revoked: unknown[];
    };
    assert.equal(result.revokedSessions, 1);
    assert.equal(result.revokedBotTokens, 0);
    assert.equal(result.revoked.length, 1);
    // The other config dir's session was revoked.
    assert.equal((await natter(['whoami'], { NATTER_SERVER: t.wsUrl, NATTER_HOME: other })).code, 3);
    const renamed = await natter(['--json', 'rename', 'david'], env);
    assert.equal(renamed.code, 0, renamed.stderr);
    const creds = JSON.parse(readFileSync(join(dir, 'credentials.json'), 'utf8')) as {
      servers: Record<string, { username: string }>;
    };
    assert.equal(creds.servers[t.wsUrl]?.username, 'david');
    const old = await natter(
      ['login', 'david', '--password-stdin'],
      { ...env, NATTER_HOME: tempDir() },
      `${PASSWORD}\n`,
    );
    assert.equal(old.code, 3, 'the old password is gone');
  });
});
