import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { OpName, ParamsIn, ResultOf } from '../../src/protocol/index.js';
import {
  COMMANDS,
  type CommandContext,
  findCommand,
  type Intent,
  parseCommand,
  parseDuration,
  REPORT_REASONS,
  type Requester,
  type RequestIntent,
  runRequest,
  whoisText,
} from '../../src/tui/commands.js';
import type { ConversationEntry } from '../../src/tui/state.js';

function entry(over: Partial<ConversationEntry>): ConversationEntry {
  return {
    id: 'conv1',
    kind: 'channel',
    serverId: 'srv1',
    name: 'general',
    topic: null,
    peer: null,
    lastSeq: 0,
    lastReadSeq: 0,
    unread: 0,
    mentions: 0,
    ...over,
  };
}

const channel = entry({});
const group = entry({ id: 'grp1', kind: 'group', serverId: null, name: 'climbing' });
const dm = entry({ id: 'dm1', kind: 'dm', serverId: null, name: 'bob' });

function ctx(
  active: ConversationEntry | null = channel,
  invitations: CommandContext['invitations'] = [],
): CommandContext {
  return { active, serverName: (id) => (id === 'srv1' ? 'acme' : null), servers: [], groups: [], invitations };
}

/** The intent, which must be a request: its op, params and (fixed) success text. */
function req(intent: Intent): { op: string; params: unknown; success: RequestIntent['success'] } {
  assert.equal(intent.type, 'request', JSON.stringify(intent));
  const r = intent as RequestIntent;
  return { op: r.op, params: r.params, success: r.success };
}

function successOf(intent: Intent, result: unknown): string {
  const { success } = req(intent);
  return typeof success === 'string' ? success : (success as (r: unknown) => string)(result);
}

function error(intent: Intent): string {
  assert.equal(intent.type, 'error', JSON.stringify(intent));
  return (intent as { message: string }).message;
}

const bob = { id: 'usr_bob', username: 'Bob' };

describe('parseCommand: messages', () => {
  test('text without a slash is a message, kept exactly', () => {
    assert.deepEqual(parseCommand('hello  world\nsecond line', ctx()), {
      type: 'send',
      body: 'hello  world\nsecond line',
    });
    assert.deepEqual(parseCommand(' /not a command', ctx()), { type: 'send', body: ' /not a command' });
  });

  test('// sends a literal slash', () => {
    assert.deepEqual(parseCommand('//join is a command', ctx()), { type: 'send', body: '/join is a command' });
    assert.deepEqual(parseCommand('//', ctx()), { type: 'send', body: '/' });
  });

  test('blank input does nothing', () => {
    assert.deepEqual(parseCommand('', ctx()), { type: 'none' });
    assert.deepEqual(parseCommand('  \n ', ctx()), { type: 'none' });
    assert.deepEqual(parseCommand('\u2800 \u2800', ctx()), { type: 'none' }, 'blank braille cells show nothing');
  });

  test('unknown commands and a lone slash are errors that point at help and //', () => {
    assert.match(error(parseCommand('/frobnicate now', ctx())), /unknown command \/frobnicate.*\/help/);
    assert.match(error(parseCommand('/ hi', ctx())), /\/\//);
  });

  test('command names are case-insensitive and aliases work', () => {
    assert.deepEqual(parseCommand('/QUIT', ctx()), { type: 'quit' });
    assert.deepEqual(parseCommand('/exit', ctx()), { type: 'quit' });
    assert.deepEqual(parseCommand('/msg bob', ctx()), { type: 'open-dm', username: 'bob', body: null });
  });
});

describe('parseCommand: servers', () => {
  test('/join CODE', () => {
    const i = parseCommand('/join k7Hq2XpL9mZt', ctx(null));
    assert.deepEqual(req(i).op, 'invites.join');
    assert.deepEqual(req(i).params, { code: 'k7Hq2XpL9mZt' });
    assert.equal(successOf(i, { server: { name: 'acme' }, alreadyMember: false }), 'joined acme');
    assert.equal(successOf(i, { server: { name: 'acme' }, alreadyMember: true }), 'already a member of acme');
    assert.equal(error(parseCommand('/join', ctx())), 'usage: /join CODE');
    assert.equal(error(parseCommand('/join a b', ctx())), 'usage: /join CODE');
  });

  test('/create-server NAME takes the rest of the line', () => {
    const i = parseCommand('/create-server  Acme Corp ', ctx(null));
    assert.equal(req(i).op, 'servers.create');
    assert.deepEqual(req(i).params, { name: 'Acme Corp' });
    assert.equal(successOf(i, { server: { name: 'Acme Corp' } }), 'created server Acme Corp with #general');
    assert.equal(error(parseCommand('/create-server', ctx())), 'usage: /create-server NAME');
  });

  test('/invite for the open server, with options', () => {
    const plain = parseCommand('/invite', ctx());
    assert.equal(req(plain).op, 'invites.create');
    assert.deepEqual(req(plain).params, { serverId: 'srv1' });
    const invite = { code: 'k7Hq', maxUses: null };
    assert.equal(successOf(plain, { invite }), 'invite code for acme: k7Hq');

    const limited = parseCommand('/invite --max-uses 5 --expires 7d', ctx());
    assert.deepEqual(req(limited).params, { serverId: 'srv1', maxUses: 5, expiresInSeconds: 7 * 86_400 });
    assert.equal(
      successOf(limited, { invite: { code: 'k7Hq', maxUses: 5 } }),
      'invite code for acme: k7Hq (5 uses, expires in 7d)',
    );
    assert.deepEqual(req(parseCommand('/invite --expires=30m --max-uses=1', ctx())).params, {
      serverId: 'srv1',
      maxUses: 1,
      expiresInSeconds: 1800,
    });
  });

  test('/invite usage errors', () => {
    assert.match(error(parseCommand('/invite --max-uses', ctx())), /--max-uses takes a number/);
    assert.match(error(parseCommand('/invite --max-uses 0', ctx())), /--max-uses takes a number/);
    assert.match(error(parseCommand('/invite --expires soon', ctx())), /--expires takes a duration/);
    assert.match(error(parseCommand('/invite --expires 30s', ctx())), /between 1 minute and 365 days/);
    assert.match(error(parseCommand('/invite --expires 400d', ctx())), /between 1 minute and 365 days/);
    assert.equal(error(parseCommand('/invite 5', ctx())), 'usage: /invite [--max-uses N] [--expires 1h|7d|30m]');
  });

  test('server commands need a channel of a server', () => {
    for (const text of ['/invite', '/channel create dev', '/kick bob', '/ban bob']) {
      assert.equal(error(parseCommand(text, ctx(null))), 'open a channel of the server first', text);
      assert.equal(error(parseCommand(text, ctx(group))), 'open a channel of the server first', text);
      assert.equal(error(parseCommand(text, ctx(dm))), 'open a channel of the server first', text);
    }
  });

  test('/leave leaves the server of a channel, or the group', () => {
    const s = parseCommand('/leave', ctx());
    assert.equal(req(s).op, 'servers.leave');
    assert.deepEqual(req(s).params, { serverId: 'srv1' });
    assert.equal(req(s).success, 'left acme');
    const g = parseCommand('/leave', ctx(group));
    assert.equal(req(g).op, 'groups.leave');
    assert.deepEqual(req(g).params, { groupId: 'grp1' });
    assert.equal(req(g).success, 'left +climbing');
    assert.equal(error(parseCommand('/leave', ctx(dm))), 'a direct conversation cannot be left');
    assert.equal(error(parseCommand('/leave', ctx(null))), 'open a channel or group first');
    assert.equal(error(parseCommand('/leave now', ctx())), 'usage: /leave');
  });

  test('an unknown server name reads as "the server"', () => {
    const other = entry({ serverId: 'srv2' });
    assert.equal(req(parseCommand('/leave', ctx(other))).success, 'left the server');
  });
});

describe('parseCommand: channels', () => {
  test('/channel create NAME in the open server', () => {
    const i = parseCommand('/channel create Dev Talk', ctx());
    assert.equal(req(i).op, 'channels.create');
    assert.deepEqual(req(i).params, { serverId: 'srv1', name: 'Dev Talk' });
    assert.equal(successOf(i, { channel: { name: 'dev-talk' } }), 'created #dev-talk in acme');
    assert.equal(error(parseCommand('/channel create', ctx())), 'usage: /channel create NAME');
  });

  test('/channel rename NEWNAME renames the open channel', () => {
    const i = parseCommand('/channel rename lobby', ctx());
    assert.equal(req(i).op, 'channels.update');
    assert.deepEqual(req(i).params, { channelId: 'conv1', name: 'lobby' });
    assert.equal(successOf(i, { channel: { name: 'lobby' } }), 'renamed #general to #lobby');
    assert.equal(error(parseCommand('/channel rename', ctx())), 'usage: /channel rename NEWNAME');
    assert.equal(error(parseCommand('/channel rename x', ctx(group))), 'open the channel first');
  });

  test('/channel delete needs the open channel named as confirmation', () => {
    const i = parseCommand('/channel delete #General', ctx());
    assert.equal(req(i).op, 'channels.delete');
    assert.deepEqual(req(i).params, { channelId: 'conv1' });
    assert.equal(req(i).success, 'deleted #general');
    assert.match(error(parseCommand('/channel delete', ctx())), /type \/channel delete general/);
    assert.match(error(parseCommand('/channel delete random', ctx())), /type \/channel delete general/);
  });

  test('/channel topic sets, clears or shows the topic', () => {
    const set = parseCommand('/channel topic  builds and   deploys', ctx());
    assert.equal(req(set).op, 'channels.update');
    assert.deepEqual(req(set).params, { channelId: 'conv1', topic: 'builds and   deploys' });
    assert.equal(req(set).success, 'set the topic of #general');
    assert.deepEqual(req(parseCommand('/channel topic --clear', ctx())).params, { channelId: 'conv1', topic: null });
    assert.deepEqual(parseCommand('/channel topic', ctx()), { type: 'info', message: '#general has no topic' });
    assert.deepEqual(parseCommand('/channel topic', ctx(entry({ topic: 'hi' }))), {
      type: 'info',
      message: 'topic of #general: hi',
    });
  });

  test('/channel without a known subcommand shows its usage', () => {
    assert.match(error(parseCommand('/channel', ctx())), /^usage: \/channel create NAME/);
    assert.match(error(parseCommand('/channel list', ctx())), /^usage: \/channel/);
  });
});

describe('parseCommand: groups and DMs', () => {
  test('/group NAME USER...', () => {
    const i = parseCommand('/group climbing @bob carol', ctx(null));
    assert.equal(req(i).op, 'groups.create');
    assert.deepEqual(req(i).params, { name: 'climbing', usernames: ['bob', 'carol'] });
    const ref = (username: string) => ({ id: `u-${username}`, username, displayName: null });
    assert.equal(
      successOf(i, { group: { name: 'climbing', members: [ref('me'), ref('bob')], invited: [ref('carol')] } }),
      'created group +climbing; invited carol (waiting for their answer)',
    );
    assert.equal(
      successOf(i, { group: { name: 'climbing', members: [ref('me'), ref('bob'), ref('carol')], invited: [] } }),
      'created group +climbing',
    );
    assert.equal(error(parseCommand('/group climbing', ctx())), 'usage: /group NAME USER...');
    assert.equal(error(parseCommand('/group', ctx())), 'usage: /group NAME USER...');
  });

  test('/add USER... adds to the open group', () => {
    const i = parseCommand('/add dave @erin', ctx(group));
    assert.equal(req(i).op, 'groups.add');
    assert.deepEqual(req(i).params, { groupId: 'grp1', usernames: ['dave', 'erin'] });
    const ref = (username: string) => ({ id: `u-${username}`, username, displayName: null });
    assert.equal(
      successOf(i, { group: { name: 'climbing', members: [ref('me'), ref('dave')], invited: [ref('erin')] } }),
      '+climbing: me, dave; invited erin (waiting for their answer)',
    );
    assert.equal(error(parseCommand('/add dave', ctx())), 'open the group first');
    assert.equal(error(parseCommand('/add', ctx(group))), 'usage: /add USER...');
  });

  test('/dm USER opens the DM; /dm USER MESSAGE sends the message there, spacing kept', () => {
    assert.deepEqual(parseCommand('/dm @bob', ctx(null)), { type: 'open-dm', username: 'bob', body: null });
    assert.deepEqual(parseCommand('/dm bob   ', ctx(null)), { type: 'open-dm', username: 'bob', body: null });
    assert.equal(error(parseCommand('/dm', ctx())), 'usage: /dm USER [MESSAGE]');
    assert.deepEqual(parseCommand('/query bob see  you @carol', ctx()), {
      type: 'open-dm',
      username: 'bob',
      body: 'see  you @carol',
    });
    assert.equal(error(parseCommand('/dm @', ctx())), 'usage: /dm USER [MESSAGE]');
  });
});

describe('parseCommand: moderation by username', () => {
  test('/kick USER resolves the user, then kicks by id', () => {
    const i = parseCommand('/kick @bob', ctx());
    assert.equal(i.type, 'request-user');
    if (i.type !== 'request-user') return;
    assert.equal(i.username, 'bob');
    const next = i.withUser(bob);
    assert.equal(req(next).op, 'members.kick');
    assert.deepEqual(req(next).params, { serverId: 'srv1', userId: 'usr_bob' });
    assert.equal(req(next).success, 'removed Bob from acme');
    assert.equal(error(parseCommand('/kick', ctx())), 'usage: /kick USER [REASON]');
    const because = parseCommand('/kick bob spam links', ctx());
    if (because.type !== 'request-user') return assert.fail(because.type);
    assert.deepEqual(req(because.withUser(bob)).params, { serverId: 'srv1', userId: 'usr_bob', reason: 'spam links' });
  });

  test('/ban USER [reason]', () => {
    const i = parseCommand('/ban bob spamming  links', ctx());
    assert.equal(i.type, 'request-user');
    if (i.type !== 'request-user') return;
    const next = i.withUser(bob);
    assert.equal(req(next).op, 'bans.add');
    assert.deepEqual(req(next).params, { serverId: 'srv1', userId: 'usr_bob', reason: 'spamming  links' });
    assert.equal(req(next).success, 'banned Bob from acme');
    const plain = parseCommand('/ban bob', ctx());
    if (plain.type !== 'request-user') return assert.fail(plain.type);
    assert.deepEqual(req(plain.withUser(bob)).params, { serverId: 'srv1', userId: 'usr_bob' });
    assert.equal(error(parseCommand('/ban', ctx())), 'usage: /ban USER [REASON]');
  });
});

describe('parseCommand: timeouts and slow mode', () => {
  test('/timeout USER DURATION [REASON] times out by id for that many seconds; /untimeout lifts it', () => {
    const i = parseCommand('/timeout @bob 10m heated words', ctx());
    if (i.type !== 'request-user') return assert.fail(i.type);
    assert.equal(i.username, 'bob');
    const next = i.withUser(bob);
    assert.equal(req(next).op, 'members.timeout');
    assert.deepEqual(req(next).params, { serverId: 'srv1', userId: 'usr_bob', seconds: 600, reason: 'heated words' });
    assert.equal(req(next).success, 'timed out Bob in acme for 10m');
    const week = parseCommand('/mute bob 1w', ctx());
    if (week.type !== 'request-user') return assert.fail(week.type);
    assert.deepEqual(req(week.withUser(bob)).params, { serverId: 'srv1', userId: 'usr_bob', seconds: 604_800 });
    assert.equal(error(parseCommand('/timeout bob', ctx())), 'usage: /timeout USER DURATION [REASON]');
    assert.equal(error(parseCommand('/timeout bob soon', ctx())), 'the duration is like 10m, 1h or 7d');
    assert.equal(error(parseCommand('/timeout bob 29d', ctx())), 'a timeout lasts from 1s to 28d');
    assert.equal(error(parseCommand('/timeout bob 0', ctx())), 'a timeout lasts from 1s to 28d');
    assert.equal(error(parseCommand('/timeout bob 1h', ctx(dm))), 'open a channel of the server first');
    const lift = parseCommand('/untimeout bob said sorry', ctx());
    if (lift.type !== 'request-user') return assert.fail(lift.type);
    assert.equal(req(lift.withUser(bob)).op, 'members.untimeout');
    assert.deepEqual(req(lift.withUser(bob)).params, { serverId: 'srv1', userId: 'usr_bob', reason: 'said sorry' });
    assert.equal(req(lift.withUser(bob)).success, 'Bob may write in acme again');
    assert.equal(error(parseCommand('/untimeout', ctx())), 'usage: /untimeout USER [REASON]');
  });

  test('/slowmode shows, sets and turns off the open channel’s slow mode', () => {
    assert.deepEqual(parseCommand('/slowmode', ctx()), { type: 'info', message: '#general: slow mode is off' });
    assert.deepEqual(parseCommand('/slowmode', ctx(entry({ slowmode: 30 }))), {
      type: 'info',
      message: '#general: one message every 30 s per member',
    });
    const set = parseCommand('/slowmode 5m', ctx());
    assert.equal(req(set).op, 'channels.slowmode');
    assert.deepEqual(req(set).params, { channelId: 'conv1', seconds: 300 });
    assert.equal(req(set).success, 'slow mode in #general: one message every 5m');
    assert.deepEqual(req(parseCommand('/slowmode 45', ctx())).params, { channelId: 'conv1', seconds: 45 });
    assert.deepEqual(req(parseCommand('/slowmode off', ctx())).params, { channelId: 'conv1', seconds: 0 });
    assert.equal(req(parseCommand('/slowmode off', ctx())).success, 'slow mode is off in #general');
    assert.equal(error(parseCommand('/slowmode 7h', ctx())), 'slow mode is at most 6h between two messages');
    assert.equal(error(parseCommand('/slowmode fast', ctx())), 'slow mode is like 30, 30s, 5m or off');
    assert.equal(error(parseCommand('/slowmode 5 m', ctx())), 'usage: /slowmode [SECONDS|off]');
    assert.equal(error(parseCommand('/slowmode 30', ctx(group))), 'open the channel first');
  });
});

describe('parseCommand: profile', () => {
  test('/nick sets or clears the display name', () => {
    const i = parseCommand('/nick Alice Liddell', ctx(null));
    assert.equal(req(i).op, 'profile.update');
    assert.deepEqual(req(i).params, { displayName: 'Alice Liddell' });
    assert.equal(req(i).success, 'display name set to Alice Liddell');
    assert.deepEqual(req(parseCommand('/nick', ctx())).params, { displayName: null });
  });

  test('/email, /verify and /resend ask for, confirm and resend a mailed code', () => {
    const set = parseCommand('/email ada@example.org', ctx());
    assert.equal(req(set).op, 'email.set');
    assert.deepEqual(req(set).params, { address: 'ada@example.org' });
    const verify = parseCommand('/verify abcd-efgh', ctx());
    assert.deepEqual([req(verify).op, req(verify).params], ['email.verify', { code: 'abcd-efgh' }]);
    assert.equal(req(parseCommand('/resend', ctx())).op, 'email.resend');
    assert.deepEqual(parseCommand('/email', ctx()), { type: 'error', message: 'usage: /email ADDRESS' });
    assert.deepEqual(parseCommand('/verify', ctx()), { type: 'error', message: 'usage: /verify CODE' });
  });

  test('/status sets or clears the status', () => {
    assert.deepEqual(req(parseCommand('/status out climbing', ctx())).params, { status: 'out climbing' });
    assert.deepEqual(req(parseCommand('/status', ctx())).params, { status: null });
  });

  test('/rename NEWNAME changes the username', () => {
    const i = parseCommand('/rename alice2', ctx());
    assert.equal(req(i).op, 'username.change');
    assert.deepEqual(req(i).params, { username: 'alice2' });
    assert.equal(successOf(i, { user: { username: 'alice2' } }), 'you are now alice2');
    assert.equal(error(parseCommand('/rename', ctx())), 'usage: /rename NEWNAME');
    assert.equal(error(parseCommand('/rename a b', ctx())), 'usage: /rename NEWNAME');
  });
});

describe('parseCommand: messages by number', () => {
  test('/edit SEQ TEXT edits in the open conversation; /edit alone edits the last', () => {
    assert.deepEqual(parseCommand('/edit 12 fixed  typo\nand more', ctx()), {
      type: 'edit',
      conversationId: 'conv1',
      seq: 12,
      body: 'fixed  typo\nand more',
    });
    assert.deepEqual(parseCommand('/edit #3 x', ctx(dm)), { type: 'edit', conversationId: 'dm1', seq: 3, body: 'x' });
    assert.deepEqual(parseCommand('/edit', ctx()), { type: 'edit-last' });
    assert.equal(error(parseCommand('/edit 12', ctx())), 'usage: /edit [SEQ TEXT]');
    assert.equal(error(parseCommand('/edit twelve text', ctx())), 'usage: /edit [SEQ TEXT]');
    assert.equal(error(parseCommand('/edit 12 text', ctx(null))), 'open a conversation first');
  });

  test('/delete SEQ', () => {
    assert.deepEqual(parseCommand('/delete #7', ctx(group)), { type: 'delete', conversationId: 'grp1', seq: 7 });
    assert.equal(error(parseCommand('/delete', ctx())), 'usage: /delete SEQ');
    assert.equal(error(parseCommand('/delete 7 8', ctx())), 'usage: /delete SEQ');
    assert.equal(error(parseCommand('/delete -1', ctx())), 'usage: /delete SEQ');
    assert.equal(error(parseCommand('/delete 7', ctx(null))), 'open a conversation first');
  });

  test('/me ACTION sends an action, its text as typed; /me alone says how to use it', () => {
    assert.deepEqual(parseCommand('/me waves  hello', ctx()), { type: 'send', body: 'waves  hello', kind: 'action' });
    assert.deepEqual(parseCommand('/me   stretches\nand yawns ', ctx()), {
      type: 'send',
      body: 'stretches\nand yawns',
      kind: 'action',
    });
    // Only the command: text that merely holds "/me" is said as it is, and so is "//me".
    assert.deepEqual(parseCommand('hello /me', ctx()), { type: 'send', body: 'hello /me' });
    assert.deepEqual(parseCommand('//me waves', ctx()), { type: 'send', body: '/me waves' });
    assert.equal(error(parseCommand('/me', ctx())), 'usage: /me ACTION');
    assert.equal(error(parseCommand('/me   ', ctx())), 'usage: /me ACTION');
  });
});

describe('parseCommand: reports', () => {
  test('/report [#SEQ] REASON [DETAILS] reports a message of the open conversation; the app finds it', () => {
    assert.deepEqual(parseCommand('/report #12 spam the same  link\neverywhere', ctx()), {
      type: 'report',
      conversationId: 'conv1',
      seq: 12,
      reason: 'spam',
      details: 'the same  link\neverywhere',
      to: 'the moderators of acme',
    });
    assert.deepEqual(parseCommand('/report 3 Harassment', ctx(dm)), {
      type: 'report',
      conversationId: 'dm1',
      seq: 3,
      reason: 'harassment',
      details: null,
      to: "the instance's operators",
    });
    // Without a number: the newest message of someone else here (the app picks it).
    assert.deepEqual(parseCommand('/report illegal', ctx(group)), {
      type: 'report',
      conversationId: 'grp1',
      seq: null,
      reason: 'illegal',
      details: null,
      to: "the instance's operators",
    });
    assert.equal(error(parseCommand('/report', ctx())), 'usage: /report [#SEQ|@USER] REASON [DETAILS]');
    assert.equal(error(parseCommand('/report #12', ctx())), 'usage: /report [#SEQ|@USER] REASON [DETAILS]');
    assert.equal(
      error(parseCommand('/report #12 rude', ctx())),
      'the reason is spam, harassment, inappropriate, illegal or other',
    );
    assert.equal(
      error(parseCommand('/report because it is rude', ctx())),
      'the reason is spam, harassment, inappropriate, illegal or other',
    );
    assert.equal(error(parseCommand('/report spam', ctx(null))), 'open a conversation first');
  });

  test("/report @USER REASON [DETAILS] reports a person: to the open channel's server, elsewhere to the operators", () => {
    const i = parseCommand('/report @bob harassment follows me around', ctx());
    if (i.type !== 'request-user') return assert.fail(i.type);
    assert.equal(i.username, 'bob');
    const next = i.withUser(bob);
    assert.equal(req(next).op, 'reports.create');
    assert.deepEqual(req(next).params, {
      userId: 'usr_bob',
      serverId: 'srv1',
      reason: 'harassment',
      details: 'follows me around',
    });
    assert.equal(
      successOf(next, { report: { id: 7 } }),
      'reported Bob to the moderators of acme (harassment): report #7',
    );
    for (const where of [dm, group, null]) {
      const elsewhere = parseCommand('/report @bob spam', ctx(where));
      if (elsewhere.type !== 'request-user') return assert.fail(elsewhere.type);
      const made = elsewhere.withUser(bob);
      assert.deepEqual(req(made).params, { userId: 'usr_bob', reason: 'spam' });
      assert.equal(
        successOf(made, { report: { id: 8 } }),
        "reported Bob to the instance's operators (spam): report #8",
      );
    }
    assert.equal(error(parseCommand('/report @bob', ctx())), 'usage: /report [#SEQ|@USER] REASON [DETAILS]');
    assert.equal(error(parseCommand('/report @ spam', ctx())), 'usage: /report [#SEQ|@USER] REASON [DETAILS]');
  });

  test("the reasons are the protocol's", async () => {
    const { ReportReason } = await import('../../src/protocol/index.js');
    assert.deepEqual([...REPORT_REASONS], [...ReportReason.options]);
  });
});

describe('parseCommand: help and quit', () => {
  test('/help opens the overlay; /help CMD shows its usage', () => {
    assert.deepEqual(parseCommand('/help', ctx(null)), { type: 'help' });
    assert.deepEqual(parseCommand('/help /kick', ctx()), {
      type: 'info',
      message: "/kick USER [REASON]: Remove someone from the open channel's server (they may rejoin with an invite).",
    });
    assert.match(error(parseCommand('/help nope', ctx())), /unknown command \/nope/);
  });

  test('/quit', () => {
    assert.deepEqual(parseCommand('/quit', ctx(null)), { type: 'quit' });
  });
});

describe('COMMANDS', () => {
  test('every command has a usage starting with its name and a description', () => {
    const names = new Set<string>();
    for (const c of COMMANDS) {
      assert.ok(c.usage.startsWith(`/${c.name}`), c.name);
      assert.ok(c.description.length > 0, c.name);
      for (const n of [c.name, ...c.aliases]) {
        assert.ok(!names.has(n), `duplicate ${n}`);
        names.add(n);
        assert.equal(findCommand(n.toUpperCase()), c);
      }
    }
    for (const required of ['join', 'create-server', 'invite', 'channel', 'group', 'add', 'dm', 'leave', 'kick']) {
      assert.ok(names.has(required), required);
    }
    for (const required of ['ban', 'nick', 'rename', 'status', 'edit', 'delete', 'me', 'help', 'quit']) {
      assert.ok(names.has(required), required);
    }
  });
});

describe('parseDuration', () => {
  test('units s m h d w', () => {
    assert.equal(parseDuration('90s'), 90);
    assert.equal(parseDuration('30m'), 1800);
    assert.equal(parseDuration('1H'), 3600);
    assert.equal(parseDuration('2w'), 1_209_600);
    assert.equal(parseDuration('7'), null);
    assert.equal(parseDuration('1.5h'), null);
  });
});

describe('group invitations and blocks', () => {
  const book = { groupId: 'g-book', name: 'book club', from: 'alice' };
  const chess = { groupId: 'g-chess', name: 'chess', from: 'bob' };

  test('/accept and /decline name the group, or take the only invitation waiting', () => {
    assert.deepEqual(req(parseCommand('/accept book club', ctx(channel, [book, chess]))), {
      op: 'groups.accept',
      params: { groupId: 'g-book' },
      success: 'joined +book club',
    });
    assert.deepEqual(req(parseCommand('/decline +CHESS', ctx(channel, [book, chess]))).params, { groupId: 'g-chess' });
    assert.deepEqual(req(parseCommand('/accept', ctx(channel, [chess]))).params, { groupId: 'g-chess' });
  });

  test('/accept with nothing waiting, an unknown name, or several waiting and no name is a usage error in words', () => {
    const none = parseCommand('/accept', ctx(channel, []));
    assert.deepEqual(none, { type: 'error', message: 'no group invitation is waiting for you' });
    const unknown = parseCommand('/accept poker', ctx(channel, [book]));
    assert.equal(unknown.type, 'error');
    assert.match((unknown as { message: string }).message, /no invitation to a group named "poker"/);
    const several = parseCommand('/decline', ctx(channel, [book, chess]));
    assert.equal(several.type, 'error');
    assert.match((several as { message: string }).message, /\+book club \(by alice\), \+chess \(by bob\)/);
  });

  test('/invitations lists them; /block and /unblock look the user up, then act on the id', () => {
    const listed = parseCommand('/invitations', ctx(channel, [book]));
    assert.deepEqual(listed, {
      type: 'info',
      message: 'invited to +book club (by alice): /accept NAME or /decline NAME',
    });
    const block = parseCommand('/block @mallory', ctx());
    assert.equal(block.type, 'request-user');
    const then = (block as { withUser: (u: { id: string; username: string }) => Intent }).withUser({
      id: 'u-m',
      username: 'mallory',
    });
    assert.deepEqual(req(then), { op: 'blocks.add', params: { userId: 'u-m' }, success: 'blocked mallory' });
    const unblock = parseCommand('/unblock mallory', ctx());
    const undo = (unblock as { withUser: (u: { id: string; username: string }) => Intent }).withUser({
      id: 'u-m',
      username: 'mallory',
    });
    assert.equal(req(undo).op, 'blocks.remove');
    assert.deepEqual(parseCommand('/block', ctx()), { type: 'error', message: 'usage: /block USER' });
  });
});

describe('moderation and group commands people type', () => {
  function fake(results: Partial<Record<OpName, unknown>>, calls: [string, unknown][]): Requester {
    return (<N extends OpName>(op: N, params: ParamsIn<N>) => {
      calls.push([op, params]);
      return op in results
        ? Promise.resolve(results[op] as ResultOf<N>)
        : Promise.reject(new Error(`not_found: ${op}`));
    }) as Requester;
  }
  const bobUser = {
    user: {
      id: 'usr_bob',
      username: 'bob',
      displayName: 'Bob',
      status: 'away: lunch',
      bio: null,
      createdAt: Date.UTC(2026, 10, 2),
    },
  };

  test('/unban, /role and /transfer look the name up, then act on the open server', async () => {
    const cases: [string, OpName, unknown, string][] = [
      ['/unban @bob', 'bans.remove', { serverId: 'srv1', userId: 'usr_bob' }, "lifted bob's ban from acme"],
      [
        '/role bob admin',
        'members.role',
        { serverId: 'srv1', userId: 'usr_bob', role: 'admin' },
        'bob is now an admin of acme',
      ],
      ['/transfer bob', 'servers.transfer', { serverId: 'srv1', userId: 'usr_bob' }, 'bob now owns acme'],
    ];
    for (const [text, op, params, notice] of cases) {
      const calls: [string, unknown][] = [];
      const parsed = parseCommand(text, ctx());
      // /transfer cannot be undone: it asks first, then does the same.
      const intent = parsed.type === 'confirm' ? parsed.yes : parsed;
      if (intent.type !== 'request-user') return assert.fail(`${text}: ${intent.type}`);
      const done = await runRequest(intent, fake({ 'users.get': bobUser, [op]: {} }, calls));
      assert.equal(done.notice, notice, text);
      assert.deepEqual(
        calls,
        [
          ['users.get', { username: 'bob' }],
          [op, params],
        ],
        text,
      );
    }
    assert.equal(error(parseCommand('/role bob king', ctx())), 'the role is admin, moderator or member');
    assert.equal(error(parseCommand('/unban', ctx())), 'usage: /unban USER [REASON]');
    const appeal = parseCommand('/unban bob appeal accepted', ctx());
    if (appeal.type !== 'request-user') return assert.fail(appeal.type);
    assert.deepEqual(req(appeal.withUser(bob)).params, {
      serverId: 'srv1',
      userId: 'usr_bob',
      reason: 'appeal accepted',
    });
    assert.equal(error(parseCommand('/transfer bob', ctx(null))), 'open a channel of the server first');
    assert.equal(error(parseCommand('/transfer', ctx())), 'usage: /transfer USER');
    const asked = parseCommand('/transfer @bob', ctx());
    assert.equal(asked.type, 'confirm');
    if (asked.type === 'confirm') {
      assert.equal(asked.question, 'give acme to bob? You will no longer own it. y: yes, any other key: no');
      assert.equal(asked.no, 'acme is still yours');
    }
  });

  test('/whois shows a profile in one line; /topic is /channel topic; /rename-group renames the open group', () => {
    // The app looks the name up and shows the line, with the profile picture when there is one.
    assert.deepEqual(parseCommand('/whois @bob', ctx()), { type: 'whois', username: 'bob' });
    assert.equal(whoisText(bobUser.user), 'bob (Bob) · away: lunch · here since 2026-11-02');
    assert.deepEqual(parseCommand('/topic', ctx()), parseCommand('/channel topic', ctx()));
    assert.deepEqual(req(parseCommand('/topic ship it', ctx())), req(parseCommand('/channel topic ship it', ctx())));
    assert.equal(error(parseCommand('/rename-group book club', ctx())), 'open the group first');
    assert.deepEqual(req(parseCommand('/rename-group book club', ctx(group))), {
      op: 'groups.rename',
      params: { groupId: 'grp1', name: 'book club' },
      success: 'renamed the group +book club',
    });
  });
});

describe('/names, /away, /back', () => {
  test('/names needs a channel or a group; /away sets the status, /back clears it', () => {
    assert.deepEqual(parseCommand('/names', ctx()), { type: 'names' });
    assert.deepEqual(parseCommand('/who', ctx(group)), { type: 'names' });
    assert.equal(error(parseCommand('/names', ctx(dm))), 'open a channel or a group first');
    assert.deepEqual(req(parseCommand('/away lunch, back at 2', ctx())), {
      op: 'profile.update',
      params: { status: 'away: lunch, back at 2' },
      success: 'status set to away: lunch, back at 2',
    });
    assert.deepEqual(req(parseCommand('/away', ctx())).params, { status: 'away' });
    assert.deepEqual(req(parseCommand('/back', ctx())).params, { status: null });
  });
});

describe('/search', () => {
  test('/search WORDS opens the search with the words as typed; bare /search opens it empty', () => {
    assert.deepEqual(parseCommand('/search  deploy  friday', ctx()), { type: 'search', query: 'deploy  friday' });
    assert.deepEqual(parseCommand('/find', ctx()), { type: 'search', query: '' });
  });
});

describe('runRequest', () => {
  function fakeRequester(results: Partial<Record<OpName, unknown>>, calls: [string, unknown][]): Requester {
    return (<N extends OpName>(op: N, params: ParamsIn<N>) => {
      calls.push([op, params]);
      if (!(op in results)) return Promise.reject(new Error(`not_found: ${op}`));
      return Promise.resolve(results[op] as ResultOf<N>);
    }) as Requester;
  }

  test('a request: sends it and returns the success text built from the result', async () => {
    const calls: [string, unknown][] = [];
    const intent = parseCommand('/invite --max-uses 2', ctx());
    if (intent.type !== 'request') return assert.fail(intent.type);
    const done = await runRequest(
      intent,
      fakeRequester({ 'invites.create': { invite: { code: 'C0DE', maxUses: 2 } } }, calls),
    );
    assert.deepEqual(done, { notice: 'invite code for acme: C0DE (2 uses)', open: null });
    assert.deepEqual(calls, [['invites.create', { serverId: 'srv1', maxUses: 2 }]]);
  });

  test('a request-user: looks the user up first, then acts on the id', async () => {
    const calls: [string, unknown][] = [];
    const intent = parseCommand('/kick bob', ctx());
    if (intent.type !== 'request-user') return assert.fail(intent.type);
    const done = await runRequest(
      intent,
      fakeRequester({ 'users.get': { user: { ...bob, displayName: null } }, 'members.kick': {} }, calls),
    );
    assert.deepEqual(done, { notice: 'removed Bob from acme', open: null });
    assert.deepEqual(calls, [
      ['users.get', { username: 'bob' }],
      ['members.kick', { serverId: 'srv1', userId: 'usr_bob' }],
    ]);
  });

  test('what is created or joined is the conversation to open: a server’s #general, a channel, a group', async () => {
    const cases: [string, Partial<Record<OpName, unknown>>, string][] = [
      ['/create-server Acme', { 'servers.create': { server: { name: 'Acme' }, channels: [{ id: 'gen1' }] } }, 'gen1'],
      ['/channel create dev', { 'channels.create': { channel: { id: 'dev1', name: 'dev' } } }, 'dev1'],
      ['/group book bob', { 'groups.create': { group: { id: 'grp1', name: 'book', invited: [] } } }, 'grp1'],
      [
        '/join k7Hq2XpL9mZt',
        { 'invites.join': { server: { name: 'x' }, channels: [{ id: 'c9' }], alreadyMember: false } },
        'c9',
      ],
    ];
    for (const [text, results, open] of cases) {
      const intent = parseCommand(text, ctx());
      if (intent.type !== 'request') return assert.fail(`${text}: ${intent.type}`);
      assert.equal((await runRequest(intent, fakeRequester(results, []))).open, open, text);
    }
  });

  test('params the protocol refuses (a name too long) reject in words, and nothing is sent', async () => {
    const calls: [string, unknown][] = [];
    const intent = parseCommand(`/create-server ${'x'.repeat(200)}`, ctx());
    if (intent.type !== 'request') return assert.fail(intent.type);
    await assert.rejects(runRequest(intent, fakeRequester({ 'servers.create': {} }, calls)), /64|long|characters/i);
    assert.deepEqual(calls, []);
  });

  test('a name the protocol refuses after a lookup rejects in words, and only the lookup is sent', async () => {
    const calls: [string, unknown][] = [];
    const intent = parseCommand(`/ban bob ${'because '.repeat(100)}`, ctx());
    if (intent.type !== 'request-user') return assert.fail(intent.type);
    const results = { 'users.get': { user: { ...bob, displayName: null } }, 'bans.add': {} };
    await assert.rejects(runRequest(intent, fakeRequester(results, calls)), /characters|long|at most/i);
    assert.deepEqual(calls, [['users.get', { username: 'bob' }]]);
  });

  test('a failed lookup rejects and nothing else is sent', async () => {
    const calls: [string, unknown][] = [];
    const intent = parseCommand('/ban nobody', ctx());
    if (intent.type !== 'request-user') return assert.fail(intent.type);
    await assert.rejects(runRequest(intent, fakeRequester({}, calls)), /not_found/);
    assert.deepEqual(calls, [['users.get', { username: 'nobody' }]]);
  });
});

describe('servers and groups of the same name', () => {
  const acme = { id: '2f9kQw0LhT5bVn3mZx7Ra', name: 'acme' };
  const climbing = { id: 'Nnfe0000000000000000a', name: 'climbing' };
  const named = (over: Partial<CommandContext>): CommandContext => ({ ...ctx(null), ...over });

  test('/create-server under a name I already have succeeds, and its notice says which is which', () => {
    const i = parseCommand('/create-server ACME', named({ servers: [acme, { id: 'lab0000', name: 'lab' }] }));
    assert.deepEqual(req(i).params, { name: 'ACME' });
    const made = { server: { id: 'n0Zc1e65UNPXOD5hZwTVd', name: 'ACME' }, channels: [{ id: 'gen' }] };
    assert.equal(successOf(i, made), 'created server ACME·n0Zc with #general; you already have acme·2f9k');
    const fresh = parseCommand('/create-server widgets', named({ servers: [acme] }));
    assert.equal(
      successOf(fresh, { server: { id: 'w1', name: 'widgets' }, channels: [] }),
      'created server widgets with #general',
    );
  });

  test('/group under a name I already have: the notice names the new group with its fragment, and warns', () => {
    const i = parseCommand('/group Climbing bob', named({ groups: [climbing] }));
    const group = { id: 'l0XT3I5jOtr76WpPq-KDi', name: 'Climbing', members: [], invited: [{ username: 'bob' }] };
    assert.equal(
      successOf(i, { group }),
      'created group +Climbing·l0XT; invited bob (waiting for their answer); you already have +climbing·Nnfe',
    );
  });

  test('/leave and /add name the open group with its fragment when another of mine has its name', () => {
    const open = entry({ id: climbing.id, kind: 'group', serverId: null, name: 'climbing' });
    const other = { id: 'l0XT3I5jOtr76WpPq-KDi', name: 'Climbing' };
    const c = named({ active: open, groups: [climbing, other] });
    assert.equal(req(parseCommand('/leave', c)).success, 'left +climbing·Nnfe');
    const add = parseCommand('/add carol', c);
    assert.equal(
      successOf(add, { group: { ...climbing, members: [{ username: 'alice' }], invited: [] } }),
      '+climbing·Nnfe: alice',
    );
    assert.equal(req(parseCommand('/leave', named({ active: open, groups: [climbing] }))).success, 'left +climbing');
  });

  test('/accept and /decline take the shown (·) or typed (~) form; the invitations list and the error show it', () => {
    const one = { groupId: 'g1bcZZZZ', name: 'book club', from: 'alice' };
    const two = { groupId: 'g2xyZZZZ', name: 'Book Club', from: 'alice' };
    const c = ctx(channel, [one, two]);
    assert.deepEqual(parseCommand('/invitations', c), {
      type: 'info',
      message: 'invited to +book club·g1bc (by alice), +Book Club·g2xy (by alice): /accept NAME or /decline NAME',
    });
    assert.equal(
      error(parseCommand('/accept book club', c)),
      'several invitations match; name one: +book club·g1bc (by alice), +Book Club·g2xy (by alice)',
    );
    assert.deepEqual(req(parseCommand('/accept +book club·g2xy', c)), {
      op: 'groups.accept',
      params: { groupId: 'g2xyZZZZ' },
      success: 'joined +Book Club·g2xy',
    });
    assert.deepEqual(req(parseCommand('/decline BOOK CLUB~g1bc', c)).params, { groupId: 'g1bcZZZZ' });
    assert.match(error(parseCommand('/accept book club~zzzz', c)), /no invitation to a group named "book club~zzzz"/);
  });
});
