/**
 * The crash drill of `npm test` (case 43), for longer: N rounds of a burst of
 * sends with the server SIGKILLed partway, then every send retried and the
 * database checked (see test/helpers/crash.ts).
 *
 *   npm run build && node --import tsx bench/crash-loop.ts [--rounds 200]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { children, crashDrill } from '../test/helpers/crash.js';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '200' } } });
const dir = mkdtempSync(join(tmpdir(), 'natter-crash-loop-'));
const started = Date.now();
try {
  const r = await crashDrill(dir, Number(values.rounds));
  console.log(JSON.stringify({ ...r, seconds: Math.round((Date.now() - started) / 1000), result: 'ok' }));
} catch (err) {
  console.log(JSON.stringify({ result: 'FAILED', error: err instanceof Error ? err.message : String(err) }));
  process.exitCode = 1;
} finally {
  for (const c of children) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
}
