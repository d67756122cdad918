import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { NatterClient } from '../../src/client/index.js';
import { CloseCode } from '../../src/protocol/index.js';
import {
  deleteAccount as adminDelete,
  resetPassword,
  revokeSessions,
  setDisabled,
} from '../../src/server/instance-accounts.js';
import { type InstanceDatabase, openInstanceDatabase } from '../../src/server/operators.js';
import { closeCodeOf, connectAs, HttpApi, PASSWORD, rejection, uniqueName } from '../helpers/api.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { within } from '../helpers/wait.js';

// Whole accounts, on either backend (NATTER_TEST_DATABASE=postgres): deleting
// one (its messages kept as "deleted user", or removed), exporting one, and
// the operators' changes from outside the server (natter admin's code) that
// close live connections.

const servers: TestServer[] = [];
const clients: NatterClient[] = [];
let keep: TestServer;
let removing: TestServer;

before(async () => {
  keep = await startTestServer();
  removing = await startTestServer({ deletedMessages: 'remove' });
  servers.push(keep, removing);
});
after(async () => {
  for (const c of clients) c.close();
  for (const s of servers) await s.destroy();
});

type User = { id: string; username: string; token: string; c: NatterClient; http: HttpApi };

async function newUser(on: TestServer, prefix = 'ac'): Promise<User> {
  const username = uniqueName(prefix);
  const http = new HttpApi(on.httpUrl);
  const reg = await http.call('register', { username, password: PASSWORD });
  const c = await connectAs(on.wsUrl, reg.token);
  clients.push(c);
  return { id: reg.user.id, username, token: reg.token, c, http };
}

async function connection(on: TestServer, u: User, transport: 'ws' | 'tcp' = 'tcp'): Promise<NatterClient> {
  const c = await connectAs(transport === 'ws' ? on.wsUrl : on.tcpUrl, u.token);
  clients.push(c);
  return c;
}

/** An HTTP API that presents `token`. */
function withToken(on: TestServer, token: string): HttpApi {
  const api = new HttpApi(on.httpUrl);
  api.token = token;
  return api;
}

let nonces = 0;
const nonce = () => `n${++nonces}`;

/** A server of `owner` that `members` joined; its general channel. */
async function community(owner: User, members: User[]): Promise<{ serverId: string; name: string; channelId: string }> {
  const name = uniqueName('Srv');
  const created = await owner.c.request('servers.create', { name });
  const general = created.channels.find((ch) => ch.name === 'general');
  assert.ok(general);
  const { invite } = await owner.c.request('invites.create', { serverId: created.server.id });
  for (const m of members) await m.c.request('invites.join', { code: invite.code });
  return { serverId: created.server.id, name, channelId: general.id };
}

/** The server's database opened as natter admin opens it. */
async function adminDb(t: TestServer): Promise<InstanceDatabase> {
  return openInstanceDatabase({ dataDir: t.dataDir, database: t.database?.url ?? null });
}

describe('account.delete', () => {
  test('keep: a wrong password changes nothing; then every connection closes, the messages stay as "deleted user" in history, search and DMs, and the name is free again', async () => {
    const ann = await newUser(keep);
    const bob = await newUser(keep);
    const { serverId, channelId } = await community(ann, [bob]);
    const word = uniqueName('zebra');
    await bob.c.request('messages.send', {
      conversationId: channelId,
      body: `a ${word} in the channel`,
      nonce: nonce(),
    });
    const dm = await bob.c.request('messages.send', { to: ann.username, body: 'hello ann', nonce: nonce() });
    await bob.c.request('settings.update', { groupAdds: 'everyone' });
    const { group } = await ann.c.request('groups.create', { name: 'trio', usernames: [bob.username] });
    assert.deepEqual(group.members.map((m) => m.id).sort(), [ann.id, bob.id].sort());

    // What the mail side keeps of the person: a confirmed email, a code to a new address, mail to both.
    const sql = keep.sql;
    await sql.run(
      'UPDATE users SET email = ?, email_verified_at = ? WHERE id = ?',
      `${bob.username}@example.com`,
      1,
      bob.id,
    );
    await sql.run(
      "INSERT INTO account_codes (id, user_id, purpose, address, code_hash, created_at, expires_at) VALUES (?, ?, 'verify', ?, 'h', 1, 2)",
      `code-${bob.id}`,
      bob.id,
      `new-${bob.username}@example.com`,
    );
    for (const to of [`${bob.username}@example.com`, `new-${bob.username}@example.com`, 'someone@example.com']) {
      await sql.run(
        "INSERT INTO mail_outbox (kind, to_address, subject, body, created_at) VALUES ('verify', ?, 's', 'b', 1)",
        to,
      );
    }
    const wrong = await rejection(bob.http.call('account.delete', { password: 'not the password' }));
    assert.equal(wrong.code, 'invalid_credentials');
    assert.match(wrong.message, /nothing was deleted/);
    assert.equal((await bob.c.request('whoami', {})).user.username, bob.username, 'still there after a wrong password');

    const other = await connection(keep, bob);
    const closed = closeCodeOf(other, "the deleted account's other connection to close");
    const res = await bob.http.call('account.delete', { password: PASSWORD });
    assert.deepEqual(res, { deletedMessages: 'keep', messagesRemoved: 0, uploadsRemoved: 0 });
    assert.equal(await within(closed, 'the close of the other connection'), CloseCode.accountClosed);

    // The token is gone, on every transport.
    assert.equal((await rejection(withToken(keep, bob.token).call('whoami', {}))).code, 'unauthenticated');
    assert.equal((await rejection(connectAs(keep.wsUrl, bob.token))).code, 'unauthenticated');

    // Others' history, search, members, DMs and look-ups show a deleted user.
    const history = await ann.c.request('messages.history', { conversationId: channelId });
    const kept = history.messages.find((m) => m.body.includes(word));
    assert.ok(kept, 'the message stays');
    assert.equal(kept.author.id, bob.id);
    assert.equal(kept.author.username, 'deleted user');
    assert.equal(kept.author.displayName, null);
    const hits = await ann.c.request('messages.search', { query: word });
    assert.equal(hits.hits.length, 1);
    assert.equal(hits.hits[0]?.message.author.username, 'deleted user');
    const members = await ann.c.request('members.list', { serverId });
    assert.deepEqual(
      members.members.map((m) => m.user.id),
      [ann.id],
      'the deleted account left the server',
    );
    const groups = await ann.c.request('groups.list', {});
    assert.deepEqual(
      groups.groups.find((g) => g.id === group.id)?.members.map((m) => m.id),
      [ann.id],
    );
    const dms = await ann.c.request('dms.list', {});
    const withBob = dms.dms.find((d) => d.id === dm.message.conversationId);
    assert.ok(withBob, "the DM stays in the other person's list");
    assert.equal(withBob.peer?.username, 'deleted user');
    assert.equal(withBob.peer?.deleted, true);
    const looked = await ann.c.request('users.get', { userId: bob.id });
    assert.deepEqual(looked.user, {
      id: bob.id,
      username: 'deleted user',
      displayName: null,
      status: null,
      bio: null,
      createdAt: looked.user.createdAt,
      deleted: true,
    });
    assert.equal((await rejection(ann.c.request('users.get', { username: bob.username }))).code, 'not_found');
    const refused = await rejection(
      ann.c.request('messages.send', { conversationId: dm.message.conversationId, body: 'hello?', nonce: nonce() }),
    );
    assert.equal(refused.code, 'forbidden');
    assert.match(refused.message, /deleted/);

    // Nothing of the person is left in the row; the name can be registered again.
    const row = await keep.sql.get<Record<string, unknown>>('SELECT * FROM users WHERE id = ?', bob.id);
    assert.ok(row);
    assert.equal(row.username, 'deleted user');
    assert.equal(row.email, null);
    assert.equal(row.display_name, null);
    assert.notEqual(row.deleted_at, null);
    assert.ok(!String(row.password_hash).startsWith('$2'), 'no password opens it');
    assert.deepEqual(await sql.all('SELECT id FROM account_codes WHERE user_id = ?', bob.id), []);
    const mail = await sql.all<{ to_address: string }>(
      'SELECT to_address FROM mail_outbox WHERE to_address LIKE ?',
      '%example.com',
    );
    assert.deepEqual(
      mail.map((m) => m.to_address),
      ['someone@example.com'],
      "only others' mail stays",
    );
    const again = await new HttpApi(keep.httpUrl).call('register', { username: bob.username, password: PASSWORD });
    assert.notEqual(again.user.id, bob.id, 'a new account under the old name');
  });

  test('remove: the messages are deleted for everyone and the readers are told nothing more is there', async () => {
    const ann = await newUser(removing);
    const bob = await newUser(removing);
    const { channelId } = await community(ann, [bob]);
    await bob.c.request('messages.send', { conversationId: channelId, body: 'first', nonce: nonce() });
    await bob.c.request('messages.send', { conversationId: channelId, body: 'second', nonce: nonce() });
    await ann.c.request('messages.send', { conversationId: channelId, body: 'ann stays', nonce: nonce() });
    const told: string[] = [];
    ann.c.on('event', (m) => {
      if (m.event === 'message.deleted') {
        const data = m.data as { message: { author: { username: string }; body: string } };
        told.push(`${data.message.author.username}: ${data.message.body}`);
      }
    });
    const res = await bob.http.call('account.delete', { password: PASSWORD });
    assert.deepEqual(res, { deletedMessages: 'remove', messagesRemoved: 2, uploadsRemoved: 0 });
    const history = await ann.c.request('messages.history', { conversationId: channelId });
    const bobs = history.messages.filter((m) => m.author.id === bob.id);
    assert.equal(bobs.length, 2, 'their places stay as tombstones');
    for (const m of bobs) {
      assert.equal(m.body, '');
      assert.notEqual(m.deletedAt, null);
    }
    assert.equal(history.messages.find((m) => m.author.id === ann.id)?.body, 'ann stays');
    assert.equal((await ann.c.request('messages.search', { query: 'second' })).hits.length, 0);
    // The readers were told, as for a moderator's deletion (the ping's reply comes after the events).
    await ann.c.request('ping', {});
    assert.deepEqual(told, ['deleted user: ', 'deleted user: ']);
  });

  test('an owner of servers is refused with their names and what to do; nothing is deleted', async () => {
    const ann = await newUser(keep);
    const a = await community(ann, []);
    const b = await community(ann, []);
    const err = await rejection(ann.http.call('account.delete', { password: PASSWORD }));
    assert.equal(err.code, 'conflict');
    assert.match(err.message, new RegExp(`you own (${a.name}, ${b.name}|${b.name}, ${a.name})`));
    assert.match(err.message, /natter server transfer/);
    assert.equal((await ann.c.request('whoami', {})).user.username, ann.username);
    assert.equal((await ann.c.request('servers.list', {})).servers.length, 2);
  });
});

describe('account.export', () => {
  test('the profile, then every message in pages, then uploads and reports', async () => {
    const ann = await newUser(keep);
    const bob = await newUser(keep);
    const { channelId } = await community(ann, [bob]);
    const sent: string[] = [];
    for (let i = 0; i < 250; i++) {
      const r = await ann.c.request('messages.send', {
        conversationId: channelId,
        body: `message ${i}`,
        nonce: nonce(),
      });
      sent.push(r.message.id);
    }
    await ann.c.request('messages.send', { to: bob.username, body: 'a dm', nonce: nonce() });
    const bobs = await bob.c.request('messages.send', { conversationId: channelId, body: 'not ann', nonce: nonce() });
    await ann.c.request('reports.create', { messageId: bobs.message.id, reason: 'spam' });

    const profile = await ann.c.request('account.export', { part: 'profile' });
    assert.equal(profile.format, 1);
    assert.equal(profile.profile?.user.username, ann.username);
    assert.equal(profile.profile?.email, null);
    assert.equal(profile.profile?.groupAdds, 'invite');

    const ids: string[] = [];
    let after: string | undefined;
    let pages = 0;
    for (;;) {
      const page = await ann.c.request('account.export', { part: 'messages', limit: 40, after });
      pages++;
      assert.ok(page.messages.length <= 40);
      ids.push(...page.messages.map((m) => m.id));
      if (page.next === null) break;
      after = page.next;
    }
    assert.equal(pages, 7, '251 messages in pages of 40');
    assert.equal(ids.length, 251);
    assert.equal(new Set(ids).size, 251, 'no message twice');
    assert.deepEqual(ids.slice(0, 250), sent, 'oldest first');
    assert.ok(!ids.includes(bobs.message.id), "only the caller's own messages");

    const reports = await ann.c.request('account.export', { part: 'reports' });
    assert.equal(reports.reports.length, 1);
    assert.equal(reports.reports[0]?.messageId, bobs.message.id);
    const uploads = await ann.c.request('account.export', { part: 'uploads' });
    assert.deepEqual(uploads.uploads, []);
    const bad = await rejection(ann.c.request('account.export', { part: 'messages', after: 'bm9wZQ' }));
    assert.equal(bad.code, 'bad_request');
  });
});

describe("operators' changes from outside the server", () => {
  test('disable closes the live connections at once (4012) and refuses logins and tokens; enable lets them in again', async () => {
    const eve = await newUser(keep);
    const ws = eve.c;
    const tcp = await connection(keep, eve);
    const closes = [closeCodeOf(ws, 'the WebSocket to close'), closeCodeOf(tcp, 'the TCP connection to close')];
    const db = await adminDb(keep);
    try {
      const { changed } = await setDisabled(db, eve.username, true, Date.now());
      assert.equal(changed, true);
      assert.deepEqual(await within(Promise.all(closes), "the disabled account's connections to close", 10_000), [
        CloseCode.accountClosed,
        CloseCode.accountClosed,
      ]);
      const login = await rejection(
        new HttpApi(keep.httpUrl).call('login', { username: eve.username, password: PASSWORD }),
      );
      assert.equal(login.code, 'account_disabled');
      const wrongPassword = await rejection(
        new HttpApi(keep.httpUrl).call('login', { username: eve.username, password: 'wrong one' }),
      );
      assert.equal(wrongPassword.code, 'invalid_credentials', 'a stranger learns nothing');
      assert.equal((await rejection(withToken(keep, eve.token).call('whoami', {}))).code, 'account_disabled');
      assert.equal((await setDisabled(db, eve.username, true, Date.now())).changed, false);
      assert.equal((await setDisabled(db, eve.username, false, Date.now())).changed, true);
      // The token was not revoked: it works again.
      assert.equal((await withToken(keep, eve.token).call('whoami', {})).user.id, eve.id);
    } finally {
      await db.close();
    }
  });

  test('ending a session, resetting the password and deleting from outside close the connections they end', async () => {
    const fay = await newUser(keep);
    const second = await new HttpApi(keep.httpUrl).call('login', { username: fay.username, password: PASSWORD });
    const other = await connectAs(keep.tcpUrl, second.token);
    clients.push(other);
    const db = await adminDb(keep);
    try {
      const firstClosed = closeCodeOf(other, 'the ended session to close');
      const { ended } = await revokeSessions(db, fay.username, second.session.id);
      assert.deepEqual(ended, [second.session.id]);
      assert.equal(await within(firstClosed, 'the ended session to close', 10_000), CloseCode.sessionRevoked);
      assert.equal(fay.c.closed, false, 'the other session goes on');

      const mainClosed = closeCodeOf(fay.c, 'the reset account to close');
      const reset = await resetPassword(db, fay.username, Date.now());
      assert.equal(reset.ended, 1);
      assert.equal(await within(mainClosed, 'the reset account to close', 10_000), CloseCode.sessionRevoked);
      const old = await rejection(
        new HttpApi(keep.httpUrl).call('login', { username: fay.username, password: PASSWORD }),
      );
      assert.equal(old.code, 'invalid_credentials');
      const fresh = await new HttpApi(keep.httpUrl).call('login', { username: fay.username, password: reset.password });
      const c = await connectAs(keep.wsUrl, fresh.token);
      clients.push(c);

      const gone = closeCodeOf(c, 'the deleted account to close');
      const { counts } = await adminDelete(db, fay.username, 'keep', Date.now());
      assert.equal(counts.sessions, 1);
      assert.equal(await within(gone, 'the deleted account to close', 10_000), CloseCode.accountClosed);
      const missing = (await setDisabled(db, fay.username, true, Date.now()).then(
        () => assert.fail('found a deleted account by its old name'),
        (e: unknown) => e,
      )) as { code: string };
      assert.equal(missing.code, 'not_found');
    } finally {
      await db.close();
    }
  });

  test('an operator cannot delete an owner of servers: refused, with the servers named', async () => {
    const gil = await newUser(keep);
    const s = await community(gil, []);
    const db = await adminDb(keep);
    try {
      const err = (await adminDelete(db, gil.username, 'keep', Date.now()).then(
        () => assert.fail('deleted an owner'),
        (e: unknown) => e,
      )) as { code: string; message: string };
      assert.equal(err.code, 'refused');
      assert.match(err.message, new RegExp(`${gil.username} owns ${s.name}`));
      assert.equal((await gil.c.request('whoami', {})).user.id, gil.id);
    } finally {
      await db.close();
    }
  });
});
