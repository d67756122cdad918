import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { newId } from '../../src/server/ids.js';
import { RateLimiter } from '../../src/server/rate-limit.js';
import { LineReader } from '../../src/server/transports/tcp.js';

describe('RateLimiter', () => {
  test('allows a burst of `capacity`, then refills one per interval', () => {
    let now = 0;
    const l = new RateLimiter(3, 1000, () => now);
    assert.deepEqual([l.take('k'), l.take('k'), l.take('k')], [0, 0, 0]);
    assert.equal(l.take('k'), 1000);
    now = 400;
    assert.equal(l.retryAfter('k'), 600);
    now = 1000;
    assert.equal(l.take('k'), 0);
    assert.equal(l.take('other'), 0, 'keys are independent');
    l.reset('k');
    assert.equal(l.retryAfter('k'), 0);
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
