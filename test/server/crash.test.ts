import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { children, crashDrill } from '../helpers/crash.js';

const dir = mkdtempSync(join(tmpdir(), 'natter-crash-'));
after(() => {
  for (const c of children) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

test('case 43: SIGKILL during a burst of sends, 20 times: every acknowledged message survives exactly once', async () => {
  const result = await crashDrill(dir, 20);
  assert.ok(result.acked >= 20 * 5, `${result.acked} sends were acknowledged before the kills`);
});
