import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decodeJson, NatterError, parseRequest } from '../../src/protocol/index.js';

describe('parseRequest', () => {
  test('accepts a valid request and normalizes its params', () => {
    const r = parseRequest({ id: 7, op: 'register', params: { username: 'jose\u0301', password: 'long enough' } });
    assert.ok(r.ok);
    assert.equal(r.request.op, 'register');
    assert.equal((r.request.params as { username: string }).username, 'josé', 'NFC-normalized');
  });

  test('params may be omitted for operations without fields', () => {
    const r = parseRequest({ id: 'a', op: 'ping' });
    assert.ok(r.ok);
  });

  test('keeps the request id in errors when it could be read', () => {
    const r = parseRequest({ id: 'x', op: 'nope' });
    assert.ok(!r.ok);
    assert.equal(r.id, 'x');
    assert.equal(r.error.code, 'unknown_op');
  });

  test('names the offending field', () => {
    const r = parseRequest({ id: 1, op: 'profile.update', params: { bio: 5 } });
    assert.ok(!r.ok);
    assert.equal(r.error.field, 'params.bio');
    const own = JSON.parse('{"id":1,"op":"ping","params":{"__proto__":{"x":1}}}');
    const p = parseRequest(own);
    assert.ok(!p.ok);
    assert.equal(p.error.field, 'params.__proto__');
  });

  test('never throws on any JSON value', () => {
    for (const v of [null, 1, 'x', [], true, { id: null }, { op: 1 }, { id: 1, op: 'ping', params: 'x' }]) {
      const r = parseRequest(v);
      assert.equal(r.ok, false);
    }
  });
});

describe('decodeJson and NatterError', () => {
  test('bad JSON is an error value, not an exception', () => {
    const r = decodeJson('{');
    assert.ok(!r.ok);
    assert.equal(r.error.code, 'bad_json');
  });

  test('errors round-trip through their wire form', () => {
    const e = new NatterError('rate_limited', 'slow down', { retryAfterMs: 1500 });
    const back = NatterError.fromBody(JSON.parse(JSON.stringify(e.toBody())));
    assert.equal(back.code, 'rate_limited');
    assert.equal(back.retryAfterMs, 1500);
    assert.equal(back.message, 'slow down');
  });
});
