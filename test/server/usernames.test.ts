import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import bcrypt from 'bcryptjs';
import Database from 'better-sqlite3';
import { USERNAME_KEY_VERSION, usernameCapitalKey, usernameKey } from '../../src/protocol/index.js';
import { DB_FILE } from '../../src/server/db/index.js';
import { runMaintenance } from '../../src/server/maintenance.js';
import { openApi, PASSWORD, rejection, TRANSPORTS, uniqueName } from '../helpers/api.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/** Waits until `check` returns something other than undefined, or fails after `ms`. */
async function eventually<T>(what: string, check: () => Promise<T | undefined> | T | undefined, ms = 10_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setImmediate(r));
  }
}

let t: TestServer;
before(async () => {
  t = await startTestServer();
});
after(async () => {
  await t.destroy();
});

describe('look-alike usernames', () => {
  // Each transport registers its own originals (one database): alice, admin, paypal with a suffix
  // made of letters that have no look-alike trouble of their own.
  const suffix = { ws: 'qw', tcp: 'qt', http: 'qh' } as const;
  for (const transport of TRANSPORTS) {
    test(`the review's look-alikes of alice, admin and paypal are taken (${transport})`, async () => {
      const s = suffix[transport];
      const api = await openApi(t, transport);
      for (const name of ['alice', 'admin', 'paypal']) {
        await (await openApi(t, 'http')).call('register', { username: `${name}${s}`, password: PASSWORD });
      }
      const twins = ['ɑlice', 'alıce', 'aǀice', 'ᴀlice', 'aIice', 'Alice', 'ALICE', 'admın', 'раүраӏ'];
      // The Cyrillic twin needs a Cyrillic suffix (one script per name): qw -> ԛԝ, qt -> ԛт, qh -> ԛһ.
      const cyrillic = { qw: 'ԛԝ', qt: 'ԛт', qh: 'ԛһ' }[s];
      const other = await openApi(t, 'http');
      await other.call('register', { username: uniqueName('renamer'), password: PASSWORD });
      for (const twin of twins) {
        const username = twin === 'раүраӏ' ? `${twin}${cyrillic}` : `${twin}${s}`;
        const reg = await rejection(api.call('register', { username, password: PASSWORD }));
        assert.equal(reg.code, 'conflict', `register ${username}: ${reg.message}`);
        assert.equal(reg.field, 'params.username');
        assert.match(reg.message, /is taken/);
        const ren = await rejection(other.call('username.change', { username }));
        assert.equal(ren.code, 'conflict', `rename to ${username}: ${ren.message}`);
      }
      api.close();
    });

    test(`capitals that look like Latin ones are taken both ways: ΗΑΝΚΥ beside HANKY, TOKYOX beside ΤΟΚΥΟΧ (${transport})`, async () => {
      // Greek capitals with Latin twins; one suffix letter per transport (Α, Β, Ζ) keeps the names apart.
      const g = { ws: 'Α', tcp: 'Β', http: 'Ζ' }[transport];
      const l = { ws: 'A', tcp: 'B', http: 'Z' }[transport];
      const api = await openApi(t, transport);
      const first = await openApi(t, 'http');
      // Latin first: the Greek capitals Eta, Nu, Upsilon and Chi look like H, N, Y and X, though
      // their small letters (η ν υ χ) look like n, v, u and x.
      await first.call('register', { username: `HANKY${l}`, password: PASSWORD });
      for (const twin of [`ΗΑΝΚΥ${g}`, `ΗΆΝΚΎ${g}`]) {
        const err = await rejection(api.call('register', { username: twin, password: PASSWORD }));
        assert.equal(err.code, 'conflict', `register ${twin}: ${err.message}`);
        assert.match(err.message, /is taken/);
      }
      // Greek first: the Latin name that looks like it, in any case, is taken.
      const greek = await openApi(t, 'http');
      await greek.call('register', { username: `ΤΟΚΥΟΧ${g}`, password: PASSWORD });
      for (const twin of [`TOKYOX${l}`, `tokyox${l.toLowerCase()}`, `Tokyox${l}`]) {
        const err = await rejection(api.call('register', { username: twin, password: PASSWORD }));
        assert.equal(err.code, 'conflict', `register ${twin}: ${err.message}`);
      }
      // A Greek name that looks like no Latin one is fine.
      const fine = `ΘΕΩΡΙΑ${g}`;
      assert.equal((await api.call('register', { username: fine, password: PASSWORD })).user.username, fine);
      // Looking a name up goes by what was typed: HANKY finds the Latin account.
      const found = await greek.call('users.get', { username: `hanky${l.toLowerCase()}` });
      assert.equal(found.user.username, `HANKY${l}`);
      api.close();
      first.close();
      greek.close();
    });

    test(`invisible usernames are refused: Hangul fillers, format characters (${transport})`, async () => {
      const api = await openApi(t, transport);
      for (const [username, named] of [
        ['ㅤㅤ', 'U+3164 HANGUL FILLER'],
        ['ᅟᅟ', 'U+115F HANGUL CHOSEONG FILLER'],
        ['bob\u00ad', 'U+00AD SOFT HYPHEN'],
        ['bo\u2060b', 'U+2060 WORD JOINER'],
      ] as const) {
        const err = await rejection(api.call('register', { username, password: PASSWORD }));
        assert.equal(err.code, 'bad_request', username);
        assert.equal(err.field, 'params.username');
        assert.ok(err.message.includes(`username contains an invisible character (${named}) at position`), err.message);
      }
      api.close();
    });
  }
});

describe('a username released by a rename', () => {
  for (const transport of TRANSPORTS) {
    test(`is held for its previous owner: nobody else gets it in any form, DMs to it find nobody, the owner takes it back (${transport})`, async () => {
      const s = { ws: 'w', tcp: 't', http: 'h' }[transport];
      const alice = await openApi(t, transport);
      const bob = await openApi(t, transport);
      await alice.call('register', { username: `alice${s}`, password: PASSWORD });
      await bob.call('register', { username: `bob${s}`, password: PASSWORD });
      await alice.call('username.change', { username: `alicia${s}` });

      for (const form of [`alice${s}`, `ALICE${s.toUpperCase()}`, `aIice${s}`, `ɑlice${s}`]) {
        const reg = await rejection(
          (await openApi(t, transport)).call('register', { username: form, password: PASSWORD }),
        );
        assert.equal(reg.code, 'conflict', form);
        assert.equal(reg.field, 'params.username');
        assert.match(
          reg.message,
          /was released recently and is kept for its previous owner until \d{4}-\d\d-\d\d \d\d:\d\d UTC/,
        );
        const ren = await rejection(bob.call('username.change', { username: form }));
        assert.equal(ren.code, 'conflict', form);
      }
      const dm = await rejection(bob.call('messages.send', { to: `@alice${s}`, body: 'hi', nonce: 'n1' }));
      assert.equal(dm.code, 'not_found');
      assert.equal((await rejection(bob.call('users.get', { username: `alice${s}` }))).code, 'not_found');

      // Alice takes it back (in another case), and the hold is gone.
      const back = await alice.call('username.change', { username: `Alice${s}` });
      assert.equal(back.user.username, `Alice${s}`);
      assert.equal(await t.server.services.users.hold(usernameKey(`alice${s}`)), undefined);
      // Now alicia is the held one.
      const held = await rejection(bob.call('username.change', { username: `alicia${s}` }));
      assert.match(held.message, /released recently/);
      const found = await bob.call('users.get', { username: `alice${s}` });
      assert.equal(found.user.username, `Alice${s}`);
      alice.close();
      bob.close();
    });
  }

  test('an account holds at most 5 released names: a sixth rename frees the oldest (and its look-alike key)', async () => {
    const renamer = await openApi(t, 'http');
    const other = await openApi(t, 'ws');
    await other.call('register', { username: uniqueName('taker'), password: PASSWORD });
    // The first name is Greek capitals that look like Latin ones: it is held under both its keys.
    const names = ['ΗΟΚΥΕΙ', ...Array.from({ length: 6 }, (_, i) => uniqueName(`step${i}`))];
    await renamer.call('register', { username: names[0] as string, password: PASSWORD });
    for (const [i, name] of names.slice(1).entries()) {
      await renamer.call('username.change', { username: name });
      // While the Greek name is held, its Latin look-alike is held too.
      if (i === 0)
        assert.match(
          (await rejection(other.call('username.change', { username: 'HOKYEI' }))).message,
          /released recently/,
        );
    }
    const me = await t.server.services.users.byId((await renamer.call('whoami', {})).user.id);
    assert.ok(me);
    const held = (
      t.server
        .sqlite()
        .$client.prepare('SELECT username_key AS key FROM username_holds WHERE user_id = ? ORDER BY released_at, rowid')
        .all(me.id) as { key: string }[]
    ).map((r) => r.key);
    assert.deepEqual(
      held,
      names.slice(1, 6).map((n) => usernameKey(n)),
    );
    // The oldest name is free again, in its Latin look-alike form too; the others are still held.
    assert.equal((await other.call('username.change', { username: 'HOKYEI' })).user.username, 'HOKYEI');
    const still = await rejection(other.call('username.change', { username: names[1] as string }));
    assert.match(still.message, /released recently/);
    renamer.close();
    other.close();
  });

  test('is free for anyone once the hold time is over (a server with a 1 ms hold)', async () => {
    const short = await startTestServer({ usernameHoldMs: 1 });
    try {
      const alice = await openApi(short, 'http');
      const bob = await openApi(short, 'ws');
      await alice.call('register', { username: 'carol', password: PASSWORD });
      await bob.call('register', { username: 'dave', password: PASSWORD });
      await alice.call('username.change', { username: 'caroline' });
      // The hold was recorded...
      const hold = await short.server.services.users.hold(usernameKey('carol'));
      assert.ok(hold, 'a hold on the old name');
      // ...and once it is over, bob can take the name.
      const renamed = await eventually('the hold to end', async () => {
        try {
          return await bob.call('username.change', { username: 'Carol' });
        } catch (err) {
          assert.match((err as Error).message, /released recently/);
          return undefined;
        }
      });
      assert.equal(renamed.user.username, 'Carol');
      bob.close();
    } finally {
      await short.destroy();
    }
  });

  test('expired holds are removed by the hourly maintenance in batches; current ones stay', async () => {
    const db = t.server.sqlite();
    const sqlite = db.$client;
    const owner = await (await openApi(t, 'http')).call('register', {
      username: uniqueName('holder'),
      password: PASSWORD,
    });
    const insert = sqlite.prepare('INSERT INTO username_holds (username_key, user_id, released_at) VALUES (?, ?, ?)');
    sqlite.transaction(() => {
      for (let i = 0; i < 1234; i++) insert.run(`expired-${i}`, owner.user.id, 1000 + i);
      insert.run('current-hold', owner.user.id, Date.now());
    })();
    // The hourly maintenance deletes them through the writer, a batch per job.
    const report = await runMaintenance(t.server.services);
    const count = () =>
      (
        sqlite.prepare("SELECT count(*) AS n FROM username_holds WHERE username_key LIKE 'expired-%'").get() as {
          n: number;
        }
      ).n;
    assert.equal(count(), 0);
    assert.ok(report.holds >= 1234, `${report.holds} holds removed`);
    assert.ok(await t.server.services.users.hold('current-hold'), 'the current hold is kept');
    sqlite.prepare("DELETE FROM username_holds WHERE username_key = 'current-hold'").run();
  });
});

describe('username keys of an existing database', () => {
  test('are recomputed once at start; two accounts whose new keys meet both keep working', async () => {
    // A database as an older natter left it: keys by the old rules, no version recorded.
    const first = await startTestServer();
    const dir = first.dataDir;
    await first.stop();
    const sqlite = new Database(`${dir}/${DB_FILE}`);
    const hash = bcrypt.hashSync(PASSWORD, 4);
    const insert = sqlite.prepare(
      `INSERT INTO users (id, username, username_key, password_hash, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?)`,
    );
    // Old keys: lower case, accents off, a few Cyrillic letters mapped. alice and aIice were two names.
    insert.run('old-alice', 'alice', 'alice', hash, 1000, 1000);
    insert.run('old-aIice', 'aIice', 'aiice', hash, 2000, 2000);
    insert.run('old-bob', 'bob', 'bob', hash, 3000, 3000);
    insert.run('old-hanoi', 'ΗΑΝΟΙ', 'ηανοι', hash, 4000, 4000);
    sqlite.prepare("DELETE FROM meta WHERE key = 'username_key_version'").run();
    sqlite.close();

    const t2 = await startTestServer({}, dir);
    try {
      const rows = t2.server
        .sqlite()
        .$client.prepare('SELECT id, username_key AS key FROM users ORDER BY created_at')
        .all() as { id: string; key: string }[];
      // The second key is filled in where it differs from the first.
      const capitals = t2.server
        .sqlite()
        .$client.prepare('SELECT username, username_capital_key AS capital FROM users ORDER BY created_at')
        .all() as { username: string; capital: string | null }[];
      assert.deepEqual(capitals, [
        { username: 'alice', capital: null },
        { username: 'aIice', capital: null },
        { username: 'bob', capital: null },
        { username: 'ΗΑΝΟΙ', capital: usernameCapitalKey('HANOI') },
      ]);
      assert.deepEqual(rows, [
        { id: 'old-alice', key: usernameKey('alice') },
        { id: 'old-aIice', key: `${usernameKey('alice')}#old-aIice` },
        { id: 'old-bob', key: usernameKey('bob') },
        { id: 'old-hanoi', key: usernameKey('ΗΑΝΟΙ') },
      ]);
      const version = t2.server
        .sqlite()
        .$client.prepare("SELECT value FROM meta WHERE key = 'username_key_version'")
        .get() as { value: string };
      assert.equal(version.value, USERNAME_KEY_VERSION);

      for (const transport of TRANSPORTS) {
        // Both log in by their own name.
        for (const [username, id] of [
          ['alice', 'old-alice'],
          ['aIice', 'old-aIice'],
        ]) {
          const api = await openApi(t2, transport);
          const res = await api.call('login', { username: username as string, password: PASSWORD });
          assert.equal(res.user.id, id, `${username} over ${transport}`);
          api.close();
        }
        // Nobody new gets either name, in any form.
        const api = await openApi(t2, transport);
        for (const username of ['alice', 'aIice', 'ALICE', 'ɑlice', 'HANOI', 'hanoi']) {
          const err = await rejection(api.call('register', { username, password: PASSWORD }));
          assert.equal(err.code, 'conflict', username);
        }
        api.close();
      }
      // A DM by exact name reaches each of them.
      const bob = await openApi(t2, 'http');
      await bob.call('login', { username: 'bob', password: PASSWORD });
      const toAIice = await bob.call('messages.send', { to: '@aIice', body: 'for aIice', nonce: 'm1' });
      const toAlice = await bob.call('messages.send', { to: '@alice', body: 'for alice', nonce: 'm2' });
      assert.notEqual(toAIice.message.conversationId, toAlice.message.conversationId);
      const dms = await bob.call('dms.list', {});
      const peers = dms.dms.map((c) => c.peer?.id).sort();
      assert.deepEqual(peers, ['old-aIice', 'old-alice']);
      await t2.stop();

      // A second start leaves the keys alone.
      const t3 = await startTestServer({}, dir);
      const again = t3.server
        .sqlite()
        .$client.prepare("SELECT username_key AS key FROM users WHERE id = 'old-aIice'")
        .get();
      assert.deepEqual(again, { key: `${usernameKey('alice')}#old-aIice` });
      await t3.destroy();
    } finally {
      await t2.stop();
    }
  });
});
