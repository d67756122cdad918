import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Uploads } from '../../../src/server/media/upload.js';

/**
 * The natter's upload rate: every upload's bytes are counted together, and
 * past the rate an upload is told to wait before it reads on.
 */

test('within a quarter second of the rate, uploads read on; past it they wait about what the excess takes', () => {
  const uploads = new Uploads(4000);
  assert.equal(uploads.pace(1000), 0, 'a quarter second of 4,000 bytes/s is 1,000 bytes');
  const wait = uploads.pace(2000);
  // 2,000 bytes over: half a second at 4,000 bytes/s, less what refilled since the first call.
  assert.ok(wait > 0 && wait <= 500, `waited ${wait} ms`);
  assert.ok(uploads.pace(2000) > 0, 'the next upload waits too: the rate is shared');
});

test('a rate of 0 never holds an upload back', () => {
  const uploads = new Uploads(0);
  for (let i = 0; i < 10; i++) assert.equal(uploads.pace(64 * 1024 * 1024), 0);
});
