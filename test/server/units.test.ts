import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { searchTerms } from '../../src/protocol/index.js';
import { matchExpression } from '../../src/server/db/fts.js';
import { closeDb, openDb } from '../../src/server/db/index.js';
import { newId } from '../../src/server/ids.js';
import { RateLimiter } from '../../src/server/rate-limit.js';
import { MARK_CLOSE, MARK_OPEN, matchRanges } from '../../src/server/search.js';
import { LineReader } from '../../src/server/transports/tcp.js';

describe('RateLimiter', () => {
  test('allows a burst of `capacity`, then refills one per interval', async () => {
    let now = 0;
    const l = new RateLimiter(3, 1000, () => now);
    assert.deepEqual(await Promise.all([l.take('k'), l.take('k'), l.take('k')]), [0, 0, 0]);
    assert.equal(await l.take('k'), 1000);
    now = 400;
    assert.equal(await l.retryAfter('k'), 600);
    now = 1000;
    assert.equal(await l.take('k'), 0);
    assert.equal(await l.take('other'), 0, 'keys are independent');
  });

  test('a refund gives one token back, never past the capacity', async () => {
    let now = 0;
    const l = new RateLimiter(2, 1000, () => now);
    await l.take('k');
    await l.take('k');
    assert.equal(await l.take('k'), 1000);
    await l.refund('k');
    assert.equal(await l.take('k'), 0, 'the refunded token');
    now = 5000;
    await l.refund('k');
    assert.deepEqual(await Promise.all([l.take('k'), l.take('k'), l.take('k')]), [0, 0, 1000], 'still 2 at most');
  });

  test('takes made in one turn are counted in the order they were made', () => {
    const l = new RateLimiter(1, 1000, () => 0);
    assert.equal(l.takeNow('k'), 0);
    assert.equal(l.takeNow('k'), 1000);
  });
});

describe('LineReader', () => {
  test('joins split lines and splits joined ones, dropping a trailing CR', () => {
    const r = new LineReader(100);
    assert.deepEqual(r.push(Buffer.from('{"a"')).lines, []);
    assert.deepEqual(r.push(Buffer.from(':1}\r\n{"b":2}\n{"c"')).lines, ['{"a":1}', '{"b":2}']);
    assert.deepEqual(r.push(Buffer.from(':3}\n')).lines, ['{"c":3}']);
  });

  test('a multi-byte character split across chunks survives', () => {
    const r = new LineReader(100);
    const bytes = Buffer.from('"é"\n');
    assert.deepEqual(r.push(bytes.subarray(0, 2)).lines, []);
    assert.deepEqual(r.push(bytes.subarray(2)).lines, ['"é"']);
  });

  test('invalid UTF-8 yields null for that line only', () => {
    const r = new LineReader(100);
    assert.deepEqual(r.push(Buffer.from([0xff, 0x0a, 0x31, 0x0a])).lines, [null, '1']);
  });

  test('reports overflow once a pending line passes the limit', () => {
    const r = new LineReader(8);
    assert.equal(r.push(Buffer.from('12345')).overflow, false);
    assert.equal(r.push(Buffer.from('6789')).overflow, true);
    assert.equal(new LineReader(8).push(Buffer.from('123456789\n')).overflow, true);
  });
});

describe('ids', () => {
  test('are 21 URL-safe characters and never start with "-" (a command line would read it as an option)', () => {
    // nanoid starts one id in 64 with "-": 20,000 draws would give about 300.
    const ids = Array.from({ length: 20_000 }, () => newId());
    for (const id of ids) assert.match(id, /^[A-Za-z0-9_][A-Za-z0-9_-]{20}$/);
    assert.equal(new Set(ids).size, ids.length);
  });
});

describe('search: the FTS5 query and its highlights', () => {
  test('words are quoted phrases in the body column, the last one a prefix when it may be; filters are id tokens', () => {
    assert.equal(matchExpression(searchTerms('deploy the app')), 'body : ("deploy" AND "the" AND "app" *)');
    assert.equal(matchExpression(searchTerms('say "hi" ')), 'body : ("say" AND """hi""")');
    assert.equal(
      matchExpression(searchTerms('x'), { conversationId: 'Ab-_1', authorId: 'u', scopes: ['s:1', 'c:2'] }),
      'body : ("x") AND conversation : "41622d5f31" AND author : "75" AND scope : ("733a31" OR "633a32")',
    );
  });

  test('no text a person can type is an FTS5 syntax error', () => {
    const dir = mkdtempSync(join(tmpdir(), 'natter-fts-'));
    const db = openDb(dir);
    try {
      const query = db.$client.prepare('SELECT rowid FROM message_search WHERE message_search MATCH ?');
      const printable = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i));
      const samples = [
        ...printable.map((c) => `${c}word`),
        ...printable.map((c) => `word${c}`),
        ...printable.flatMap((a) => printable.slice(0, 20).map((b) => `x${a}${b}y z`)),
        'NEAR(a b, 2)',
        'a AND (b OR NOT c)',
        '"unbalanced',
        '{body author} : x*',
        '^start',
        'body:x + y',
        '\\" OR 1=1 --',
        'ÉTÉ naïve façade',
        '中文 搜索',
        '🙂 emoji 👩‍💻',
      ];
      for (const text of samples) {
        const terms = searchTerms(text);
        if (terms.words.length === 0) continue;
        for (const filter of [{}, { conversationId: 'c"1', authorId: 'a b', scopes: ['s:"x"'] }]) {
          assert.doesNotThrow(() => query.all(matchExpression(terms, filter)), JSON.stringify(text));
        }
      }
    } finally {
      closeDb(db);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('highlight marks become character ranges into the body', () => {
    const m = (s: string) => s.replaceAll('[', MARK_OPEN).replaceAll(']', MARK_CLOSE);
    assert.deepEqual(matchRanges(m('Un [CAFÉ] crème'), 'Un CAFÉ crème'), [[3, 7]]);
    assert.deepEqual(matchRanges(m('[a] 🙂 [b]'), 'a 🙂 b'), [
      [0, 1],
      [4, 5],
    ]);
    assert.deepEqual(matchRanges(m('no marks'), 'no marks'), []);
    assert.deepEqual(matchRanges(m('[stale]'), 'other text'), [], 'marks over another text mean nothing');
  });
});
