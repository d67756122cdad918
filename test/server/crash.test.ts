import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { TEST_BACKEND } from '../helpers/backend.js';
import { children, crashDrill } from '../helpers/crash.js';
import { freshDatabase, type TestDatabase } from '../helpers/postgres.js';

const dir = mkdtempSync(join(tmpdir(), 'natter-crash-'));
// On PostgreSQL (NATTER_TEST_DATABASE=postgres) the killed process is `natter serve --database …`.
let database: TestDatabase | null = null;
before(async () => {
  if (TEST_BACKEND === 'postgres') database = await freshDatabase();
});
after(async () => {
  for (const c of children) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
  await database?.drop();
});

test(`case 43: SIGKILL during a burst of sends, 20 times, on ${TEST_BACKEND}: every acknowledged message survives exactly once`, async () => {
  const result = await crashDrill(dir, 20, database?.url);
  assert.ok(result.acked >= 20 * 5, `${result.acked} sends were acknowledged before the kills`);
});
