import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { idFragments } from '../../src/client/names.js';
import { HttpApi, PASSWORD } from '../helpers/api.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { Listener, natter, type Result, removeTempDirs, tempDir } from './helpers.js';

// Servers and groups that share a name, on the command line: bin/natter against a real server.

let t: TestServer;
const listeners: Listener[] = [];
before(async () => {
  t = await startTestServer();
});
after(async () => {
  for (const l of listeners) l.child.kill('SIGKILL');
  await t.destroy();
  removeTempDirs();
});

async function register(username: string): Promise<{ api: HttpApi; env: Record<string, string>; id: string }> {
  const api = new HttpApi(t.httpUrl);
  const reg = await api.call('register', { username, password: PASSWORD });
  return { api, id: reg.user.id, env: { NATTER_SERVER: t.wsUrl, NATTER_HOME: tempDir(), NATTER_TOKEN: reg.token } };
}

function ok(r: Result, what: string): Result {
  assert.equal(r.code, 0, `${what} failed (${r.code}): ${r.stderr}`);
  return r;
}

/** The start of `id` written after a name it shares with the others: four characters, unless two ids begin alike. */
function fragment(id: string, ...others: string[]): string {
  return idFragments([id, ...others].map((x) => ({ id: x, name: 'same' }))).get(id) ?? '';
}

/** The candidates an `ambiguous` error lists: the name to type, and the rest of the line. */
function candidates(r: Result): { name: string; rest: string }[] {
  return r.stderr
    .split('\n')
    .flatMap((line) => {
      const m = /^ {2}(.+?) {2}(.+)$/.exec(line);
      return m?.[1] && m[2] ? [{ name: m[1], rest: m[2] }] : [];
    })
    .sort((a, b) => a.name.localeCompare(b.name));
}

describe('two servers of the same name', () => {
  let alice: Awaited<ReturnType<typeof register>>;
  let bob: Awaited<ReturnType<typeof register>>;
  const ids = { alices: '', bobs: '', bobsGeneral: '', alicesGeneral: '' };

  before(async () => {
    alice = await register('alice');
    bob = await register('bob');
    const mine = await alice.api.call('servers.create', { name: 'acme' });
    const his = await bob.api.call('servers.create', { name: 'Acme' });
    const { invite } = await bob.api.call('invites.create', { serverId: his.server.id });
    await alice.api.call('invites.join', { code: invite.code });
    ids.alices = mine.server.id;
    ids.bobs = his.server.id;
    ids.alicesGeneral = mine.channels[0]?.id ?? '';
    ids.bobsGeneral = his.channels[0]?.id ?? '';
  });

  test('the name alone is ambiguous: each candidate is listed as a name to type, with its owner, creation and id', async () => {
    const r = await natter(['send', 'acme/general', 'hello?'], alice.env);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: ambiguous: server "acme" is ambiguous; it matches:$/m);
    assert.match(r.stderr, /^\(use one of these names, or the id\)$/m);
    const listed = candidates(r);
    assert.deepEqual(
      listed.map((c) => c.name),
      [`acme~${fragment(ids.alices, ids.bobs)}`, `Acme~${fragment(ids.bobs, ids.alices)}`].sort((a, b) =>
        a.localeCompare(b),
      ),
    );
    const mine = listed.find((c) => c.name.startsWith('acme~'));
    const his = listed.find((c) => c.name.startsWith('Acme~'));
    assert.match(mine?.rest ?? '', /^owned by you, created \d{4}-\d\d-\d\d \d\d:\d\d, 1 member, id /);
    assert.ok(mine?.rest.endsWith(`id ${ids.alices}`), mine?.rest);
    assert.match(his?.rest ?? '', /^owned by bob, created \d{4}-\d\d-\d\d \d\d:\d\d, 2 members, id /);
    assert.ok(his?.rest.endsWith(`id ${ids.bobs}`), his?.rest);
    assert.doesNotMatch(r.stderr, /\n\s+at .+:\d+:\d+/, 'no stack trace');
  });

  test('each listed name, typed back, reaches that server; the · form the terminal app shows works too', async () => {
    const first = await natter(['send', 'acme/general', 'hello?'], alice.env);
    for (const c of candidates(first)) {
      const target = `${c.name}/general`;
      const sent = ok(await natter(['--json', 'send', target, `to ${c.name}`], alice.env), `send ${target}`);
      const doc = JSON.parse(sent.stdout) as { target: { id: string; label: string } };
      const server = c.name.startsWith('acme~') ? 'alices' : 'bobs';
      assert.equal(doc.target.id, server === 'alices' ? ids.alicesGeneral : ids.bobsGeneral);
      assert.equal(doc.target.label, `${c.name}/general`, 'the label is the name to type');
    }
    const shown = ok(
      await natter(['send', `ACME·${fragment(ids.bobs, ids.alices)}/#general`, 'dotted'], alice.env),
      'send with the shown form',
    );
    assert.equal(shown.stdout.trim(), `sent #2 to Acme~${fragment(ids.bobs, ids.alices)}/general`);
    const history = await bob.api.call('messages.history', { conversationId: ids.bobsGeneral });
    assert.deepEqual(
      history.messages.map((m) => m.body),
      [`to Acme~${fragment(ids.bobs, ids.alices)}`, 'dotted'],
    );
  });

  test('a fragment that names none of them is not_found; commands that take a server take the form too', async () => {
    const none = await natter(['channels', 'acme~zzzz'], alice.env);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /^error: not_found: no server named "acme~zzzz"$/m);
    const members = ok(
      await natter(['--json', 'members', `acme~${fragment(ids.bobs, ids.alices)}`], alice.env),
      'members',
    );
    assert.equal((JSON.parse(members.stdout) as { serverId: string }).serverId, ids.bobs);
  });

  test('natter servers and natter unread write each of them as it is typed', async () => {
    const list = ok(await natter(['servers'], alice.env), 'servers');
    assert.match(list.stdout, new RegExp(`^acme~${fragment(ids.alices, ids.bobs)} +owner +1 +${ids.alices}`, 'm'));
    assert.match(list.stdout, new RegExp(`^Acme~${fragment(ids.bobs, ids.alices)} +member +2 +${ids.bobs}`, 'm'));
    await bob.api.call('messages.send', { conversationId: ids.bobsGeneral, body: 'news', nonce: 'n1' });
    const unread = ok(await natter(['unread'], alice.env), 'unread');
    assert.match(unread.stdout, new RegExp(`^Acme~${fragment(ids.bobs, ids.alices)}/general +1 unread$`, 'm'));
  });

  test('natter listen names the conversation as it is typed', async () => {
    const l = await Listener.start(['--json'], alice.env, 'alice listen');
    listeners.push(l);
    await bob.api.call('messages.send', { conversationId: ids.bobsGeneral, body: 'live', nonce: 'n2' });
    const ev = await l.event(
      (e) => e.event === 'message.created' && (e.data.message as { body?: string }).body === 'live',
      'the message',
    );
    assert.equal(ev?.target, `Acme~${fragment(ids.bobs, ids.alices)}/general`);
    assert.equal(await l.stop(), 0);
  });

  test('creating a server under a name I already have succeeds, and warns on stderr with its name to type', async () => {
    const r = ok(await natter(['--json', 'server', 'create', 'ACME'], alice.env), 'server create');
    const made = (JSON.parse(r.stdout) as { server: { id: string; name: string } }).server;
    assert.equal(made.name, 'ACME');
    const warning =
      /^natter: warning: you already have 2 servers named "ACME" \((.+), (.+)\); this one is (\S+)\n$/.exec(r.stderr);
    assert.ok(warning, r.stderr);
    assert.deepEqual(
      [warning[1], warning[2]].sort(),
      [`acme~${fragment(ids.alices, ids.bobs, made.id)}`, `Acme~${fragment(ids.bobs, ids.alices, made.id)}`].sort(),
    );
    assert.equal(warning[3], `ACME~${fragment(made.id, ids.alices, ids.bobs)}`);
    const fresh = ok(await natter(['server', 'create', 'fresh'], alice.env), 'server create fresh');
    assert.equal(fresh.stderr, '', 'no warning for a name of its own');
    ok(
      await natter(['server', 'delete', `acme~${fragment(made.id, ids.alices, ids.bobs)}`, '--yes'], alice.env),
      'delete by its name',
    );
    const left = await alice.api.call('servers.list', {});
    assert.equal(
      left.servers.some((s) => s.id === made.id),
      false,
    );
  });

  test('natter search writes where each hit is as it is typed, and each can be pasted back', async () => {
    await alice.api.call('messages.send', { conversationId: ids.alicesGeneral, body: 'findme in mine', nonce: 'fm-1' });
    await bob.api.call('messages.send', { conversationId: ids.bobsGeneral, body: 'findme in his', nonce: 'fm-2' });
    const r = ok(await natter(['search', 'findme'], alice.env), 'search');
    const labels = r.stdout
      .trim()
      .split('\n')
      .map((line) => line.split('  ')[0] ?? '');
    assert.deepEqual(
      [...labels].sort((a, b) => a.localeCompare(b)),
      [`acme~${fragment(ids.alices, ids.bobs)}/general`, `Acme~${fragment(ids.bobs, ids.alices)}/general`].sort(
        (a, b) => a.localeCompare(b),
      ),
    );
    for (const label of labels) ok(await natter(['history', label, '--limit', '1'], alice.env), `history ${label}`);
  });
});

describe('two groups of the same name', () => {
  test('creating warns; the name alone is ambiguous with members and creation listed; each listed name works', async () => {
    const cy = await register('cy');
    const dee = await register('dee');
    await register('gus');
    await dee.api.call('settings.update', { groupAdds: 'everyone' });
    const first = ok(await natter(['--json', 'group', 'create', 'climbing', 'dee'], cy.env), 'group create');
    assert.equal(first.stderr, '');
    const a = (JSON.parse(first.stdout) as { group: { id: string } }).group.id;
    const second = ok(await natter(['--json', 'group', 'create', 'Climbing', 'gus'], cy.env), 'group create again');
    const b = (JSON.parse(second.stdout) as { group: { id: string } }).group.id;
    assert.equal(
      second.stderr,
      `natter: warning: you already have a group named "Climbing" (+climbing~${fragment(a, b)}); this one is +Climbing~${fragment(b, a)}\n`,
    );

    const r = await natter(['send', '+climbing', 'hi'], cy.env);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: ambiguous: group "climbing" is ambiguous; it matches:$/m);
    const listed = candidates(r);
    assert.deepEqual(
      listed.map((c) => c.name),
      [`+climbing~${fragment(a, b)}`, `+Climbing~${fragment(b, a)}`].sort((x, y) => x.localeCompare(y)),
    );
    const withDee = listed.find((c) => c.name.startsWith('+climbing~'));
    assert.match(withDee?.rest ?? '', /^created \d{4}-\d\d-\d\d \d\d:\d\d, members: cy, dee, id /);
    const alone = listed.find((c) => c.name.startsWith('+Climbing~'));
    assert.match(alone?.rest ?? '', /^created .*, members: cy; invited gus, id /);

    const sent = ok(await natter(['--json', 'send', withDee?.name ?? '', 'up?'], cy.env), 'send to the listed name');
    assert.equal((JSON.parse(sent.stdout) as { target: { id: string } }).target.id, a);
    const groups = ok(await natter(['groups'], cy.env), 'groups');
    assert.match(groups.stdout, new RegExp(`^\\+climbing~${fragment(a, b)} +cy, dee +${a}$`, 'm'));
    const left = ok(await natter(['group', 'leave', `Climbing~${fragment(b, a)}`], cy.env), 'leave by its name');
    assert.equal(left.stdout.trim(), `left +Climbing~${fragment(b, a)}`);
    ok(await natter(['send', '+climbing', 'no longer ambiguous'], cy.env), 'one left');
  });

  test('two invitations to groups of the same name: accept takes the listed name', async () => {
    const eve = await register('eve');
    const fay = await register('fay');
    const g1 = await eve.api.call('groups.create', { name: 'book club', usernames: ['fay'] });
    const g2 = await eve.api.call('groups.create', { name: 'book club', usernames: ['fay'] });
    const table = ok(await natter(['group', 'invitations'], fay.env), 'invitations');
    assert.match(table.stdout, new RegExp(`^\\+book club~${fragment(g1.group.id, g2.group.id)} +eve +1 `, 'm'));
    assert.match(table.stdout, new RegExp(`^\\+book club~${fragment(g2.group.id, g1.group.id)} +eve +1 `, 'm'));

    const r = await natter(['group', 'accept', 'book club'], fay.env);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: ambiguous: group invitation "book club" is ambiguous; it matches:$/m);
    const listed = candidates(r);
    assert.equal(listed.length, 2);
    for (const c of listed) assert.match(c.rest, /^from eve, invited \d{4}-\d\d-\d\d \d\d:\d\d, 1 member, id /);
    const second = listed.find((c) => c.rest.endsWith(g2.group.id));
    assert.equal(second?.name, `+book club~${fragment(g2.group.id, g1.group.id)}`);
    const accepted = ok(await natter(['--json', 'group', 'accept', second?.name ?? ''], fay.env), 'accept');
    assert.equal((JSON.parse(accepted.stdout) as { group: { id: string } }).group.id, g2.group.id);
    const { invitations } = await fay.api.call('groups.invitations', {});
    assert.deepEqual(
      invitations.map((i) => i.group.id),
      [g1.group.id],
    );
  });
});
