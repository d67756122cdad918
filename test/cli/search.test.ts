import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { operations, type ParamsIn, type ResultOf, type SearchHit } from '../../src/protocol/index.js';
import { HttpApi, PASSWORD } from '../helpers/api.js';
import { problems } from '../helpers/contract.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { within } from '../helpers/wait.js';
import { BIN, cleanEnv, natter, type Result, removeTempDirs, tempDir } from './helpers.js';

// `natter search`, end to end: bin/natter against a real server started in this process.

let t: TestServer;
type User = { username: string; id: string; token: string; home: string; api: HttpApi };
const users: Record<'alice' | 'bob' | 'carol', User> = {} as never;
let serverId = '';
let general = '';
let dev = '';
let groupId = '';

async function register(username: string): Promise<User> {
  const api = new HttpApi(t.httpUrl);
  const r = await api.call('register', { username, password: PASSWORD });
  return { username, id: r.user.id, token: r.token, home: tempDir(), api };
}

function send(u: User, params: { conversationId: string } | { to: string }, body: string) {
  return u.api.call('messages.send', { ...params, body, nonce: `n-${randomUUID()}` } as ParamsIn<'messages.send'>);
}

/** Runs natter as `user` (its token in NATTER_TOKEN), over WebSocket unless told otherwise. */
function as(user: keyof typeof users, args: string[], server = t.wsUrl): Promise<Result> {
  const u = users[user];
  return natter(args, { NATTER_SERVER: server, NATTER_HOME: u.home, NATTER_TOKEN: u.token });
}

function ok(r: Result, what: string): string {
  assert.equal(r.code, 0, `${what} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

type SearchDoc = {
  query: string;
  target: { kind: string; id: string; label: string } | null;
  from: string | null;
  hits: SearchHit[];
  more: boolean;
};

/** Runs `natter --json search ...` and checks that each hit is a protocol SearchHit. */
async function searchJson(user: keyof typeof users, args: string[]): Promise<SearchDoc> {
  const out = ok(await as(user, ['--json', 'search', ...args]), `search ${args.join(' ')}`);
  const lines = out.trim().split('\n');
  assert.equal(lines.length, 1, `exactly one JSON document: ${out}`);
  const doc = JSON.parse(lines[0] ?? '') as SearchDoc;
  const result: ResultOf<'messages.search'> = { hits: doc.hits, next: null };
  assert.deepEqual(problems(operations['messages.search'].result, result, 'hits'), []);
  return doc;
}

/** The bodies of a JSON search's hits. */
async function bodies(user: keyof typeof users, args: string[]): Promise<string[]> {
  return (await searchJson(user, args)).hits.map((h) => h.message.body);
}

before(async () => {
  t = await startTestServer();
  users.alice = await register('alice');
  users.bob = await register('bob');
  users.carol = await register('carol');
  const { alice, bob, carol } = users;
  const created = await alice.api.call('servers.create', { name: 'acme' });
  serverId = created.server.id;
  general = created.channels[0]?.id ?? '';
  dev = (await alice.api.call('channels.create', { serverId, name: 'dev' })).channel.id;
  const { invite } = await alice.api.call('invites.create', { serverId });
  await bob.api.call('invites.join', { code: invite.code });
  groupId = (await alice.api.call('groups.create', { name: 'climbing', usernames: [bob.username] })).group.id;
  await bob.api.call('groups.accept', { groupId });
  // Oldest first; search prints newest first.
  await send(alice, { conversationId: general }, 'the café opens at 8');
  await send(bob, { conversationId: general }, 'Cafe au lait for me');
  await send(alice, { conversationId: dev }, 'deploying the café website\nsecond line');
  await send(bob, { conversationId: groupId }, 'café after the climb?');
  await send(bob, { to: alice.username }, 'a private CAFÉ word');
  await send(carol, { to: bob.username }, 'café secrets between bob and carol');
  await send(alice, { conversationId: general }, 'a or b, then -sign and "quotes"');
});

after(async () => {
  await t.destroy();
  removeTempDirs();
});

describe('natter search', () => {
  test('prints each hit, newest first, with its conversation, number, time and author; plain text when piped', async () => {
    const out = ok(await as('alice', ['search', 'cafe']), 'search cafe');
    const lines = out.trimEnd().split('\n');
    const time = '\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d';
    const expected = [
      ['@bob', 1, 'bob', 'a private CAFÉ word'],
      ['\\+climbing', 1, 'bob', 'café after the climb\\?'],
      ['acme/dev', 1, 'alice', 'deploying the café website'],
      ['acme/general', 2, 'bob', 'Cafe au lait for me'],
      ['acme/general', 1, 'alice', 'the café opens at 8'],
    ] as const;
    const heads = lines.filter((l) => !l.startsWith('    '));
    assert.equal(heads.length, expected.length, out);
    expected.forEach(([label, seq, author, text], i) => {
      assert.match(heads[i] ?? '', new RegExp(`^${label}  #${seq}  ${time}  ${author}: ${text}$`), out);
    });
    assert.ok(lines.includes('    second line'), 'more lines of a message are indented');
    assert.doesNotMatch(out, /\x1b/, 'no escape sequences in a pipe');
    assert.doesNotMatch(out, /secrets/, "someone else's DM is not searched");
    // The same over TCP.
    assert.equal(ok(await as('alice', ['search', 'cafe'], t.tcpUrl), 'search over tcp'), out);
  });

  test('--json prints one document: the query, the target, the author and the protocol hits', async () => {
    const doc = await searchJson('alice', ['CAFÉ', 'word']);
    assert.equal(doc.query, 'CAFÉ word');
    assert.equal(doc.target, null);
    assert.equal(doc.from, null);
    assert.equal(doc.more, false);
    assert.equal(doc.hits.length, 1);
    const hit = doc.hits[0] as SearchHit;
    assert.equal(hit.message.body, 'a private CAFÉ word');
    assert.equal(hit.conversation.kind, 'dm');
    assert.equal(hit.conversation.name, 'bob');
    assert.deepEqual(hit.matches, [
      [10, 14],
      [15, 19],
    ]);
  });

  test('--in keeps to one conversation, --from to one author; both take names as other commands do', async () => {
    assert.deepEqual(await bodies('alice', ['cafe', '--in', 'acme/general']), [
      'Cafe au lait for me',
      'the café opens at 8',
    ]);
    assert.deepEqual(await bodies('alice', ['cafe', '--in', 'ACME/#dev']), ['deploying the café website\nsecond line']);
    assert.deepEqual(await bodies('alice', ['cafe', '--in', '+climbing']), ['café after the climb?']);
    assert.deepEqual(await bodies('alice', ['cafe', '--in', '@bob']), ['a private CAFÉ word']);
    assert.deepEqual(await bodies('alice', ['cafe', '--from', 'bob']), [
      'a private CAFÉ word',
      'café after the climb?',
      'Cafe au lait for me',
    ]);
    assert.deepEqual(await bodies('alice', ['cafe', '--from', '@Bob', '--in', 'acme/general']), [
      'Cafe au lait for me',
    ]);
    const doc = await searchJson('alice', ['cafe', '--in', 'acme/general', '--from', 'bob']);
    assert.deepEqual(doc.target, { kind: 'channel', id: general, label: 'acme/general' });
    assert.equal(doc.from, 'bob');
    const none = ok(await as('alice', ['search', 'tea', '--in', 'acme/general']), 'search tea');
    assert.equal(none, 'no messages in acme/general match "tea"\n');
  });

  test('quotes, dashes and operators are words like any other', async () => {
    assert.deepEqual(await bodies('alice', ['a', 'OR', 'b']), ['a or b, then -sign and "quotes"']);
    assert.deepEqual(await bodies('alice', ['--', '-sign']), ['a or b, then -sign and "quotes"']);
    assert.deepEqual(await bodies('alice', ['"quotes"']), ['a or b, then -sign and "quotes"']);
    assert.equal(ok(await as('alice', ['search', '"']), 'search "'), 'no messages match """\n');
    assert.equal(ok(await as('alice', ['search', 'NEAR(', '*']), 'search NEAR('), 'no messages match "NEAR( *"\n');
  });

  test('mistakes are said in the words of the command line, with the usual exit codes', async () => {
    const cases: [string[], number, RegExp][] = [
      [['search', ''], 2, /^error: usage: nothing to search for: give one or more words$/m],
      [['search', '  ', ' '], 2, /nothing to search for/],
      [['search'], 2, /missing required argument 'words'/],
      [['search', 'x', '--limit', '0'], 2, /--limit.*expected a positive whole number/],
      [['search', 'x', '--limit', '1001'], 2, /^error: usage: --limit is at most 1000$/m],
      [['search', 'x', '--from', '@'], 2, /--from needs a username/],
      [['search', 'x', '--in', 'nowhere/general'], 1, /^error: not_found: no server named "nowhere"$/m],
      [['search', 'x', '--in', '@carol'], 1, /no direct messages with @carol yet/],
      [['search', 'x', '--from', 'nobody'], 1, /^error: not_found: no user named "nobody" \(--from\)$/m],
      [['search', 'y'.repeat(257)], 1, /^error: bad_request: the search query must be at most 256 characters$/m],
    ];
    for (const [args, code, pattern] of cases) {
      const r = await as('alice', args);
      assert.equal(r.code, code, `natter ${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, pattern, `natter ${args.join(' ')}`);
      assert.doesNotMatch(r.stderr, /\n\s+at .+:\d+:\d+/, 'no stack trace');
    }
  });

  test('reads page after page, up to --limit (100 by default), and says when there may be more', async () => {
    const { alice } = users;
    for (let i = 0; i < 120; i++) await send(alice, { conversationId: dev }, `papaya ${i}`);
    const all = ok(await as('alice', ['search', 'papaya']), 'search papaya')
      .trimEnd()
      .split('\n');
    assert.equal(all.length, 100);
    assert.match(all[0] ?? '', /: papaya 119$/);
    assert.match(all[99] ?? '', /: papaya 20$/);
    const r = await as('alice', ['search', 'papaya']);
    assert.match(r.stderr, /showing the newest 100; there may be more/);
    const more = ok(await as('alice', ['search', 'papaya', '--limit', '1000']), 'search --limit 1000');
    assert.equal(more.trimEnd().split('\n').length, 120);
    const few = await searchJson('alice', ['papaya', '--limit', '7']);
    assert.deepEqual(
      few.hits.map((h) => h.message.body),
      Array.from({ length: 7 }, (_, i) => `papaya ${119 - i}`),
    );
    assert.equal(few.more, true);
  });

  test('on a terminal the matched words are bold', async () => {
    // util-linux `script` runs the command in a pseudo-terminal.
    const child = spawn('script', ['-qec', `${BIN} search private cafe`, '/dev/null'], {
      env: cleanEnv({ NATTER_SERVER: t.wsUrl, NATTER_HOME: users.alice.home, NATTER_TOKEN: users.alice.token }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      out += c;
    });
    const code = await within(
      new Promise<number | null>((resolve) => child.on('close', resolve)),
      'natter search on a terminal to exit',
    );
    assert.equal(code, 0, out);
    assert.match(out, /@bob {2}#1 {2}.*bob: a \x1b\[1mprivate\x1b\[22m \x1b\[1mCAFÉ\x1b\[22m word/);
  });
});
