import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { durationOf } from '../../../src/server/media/images.js';

/**
 * The length of an audio file is read in a worker thread that is stopped
 * when its time is up: a file crafted to make the parser scan for minutes
 * costs the server that time at most, and is stored without a length.
 */

const dir = mkdtempSync(join(tmpdir(), 'natter-probe-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A mono 16-bit PCM WAV of `seconds` of silence at 8 kHz. */
function wav(seconds: number): Buffer {
  const rate = 8000;
  const data = Buffer.alloc(rate * seconds * 2);
  const h = Buffer.alloc(44);
  h.write('RIFF', 0);
  h.writeUInt32LE(36 + data.length, 4);
  h.write('WAVE', 8);
  h.write('fmt ', 12);
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20);
  h.writeUInt16LE(1, 22);
  h.writeUInt32LE(rate, 24);
  h.writeUInt32LE(rate * 2, 28);
  h.writeUInt16LE(2, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36);
  h.writeUInt32LE(data.length, 40);
  return Buffer.concat([h, data]);
}

test('a real recording has its length', async () => {
  const path = join(dir, 'a.wav');
  writeFileSync(path, wav(3));
  assert.equal(await durationOf(path), 3000);
});

test('an MP3 of nothing but frame syncs is given up when its time is up, and the next file is read as usual', async () => {
  const syncs = Buffer.alloc(4_000_000);
  for (let i = 0; i < syncs.length; i += 2) {
    syncs[i] = 0xff;
    syncs[i + 1] = 0xfb;
  }
  const path = join(dir, 'sync.mp3');
  writeFileSync(path, Buffer.concat([Buffer.from('ID3\x03\0\0\0\0\0\0', 'latin1'), syncs]));
  // Unbounded, this file keeps the parser busy for minutes (400 KB of it took 18 s here); given 200 ms, it has no length.
  assert.equal(await durationOf(path, 200), null);
  const next = join(dir, 'b.wav');
  writeFileSync(next, wav(2));
  assert.equal(await durationOf(next), 2000);
});

test('a file that is not audio at all has no length', async () => {
  const path = join(dir, 'noise.bin');
  writeFileSync(path, Buffer.from('not audio, only words'));
  assert.equal(await durationOf(path), null);
});
