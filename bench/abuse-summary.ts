/**
 * Prints the medians of bench/abuse.ts runs, per version (label) and scenario.
 *
 *   node --import tsx bench/abuse-summary.ts [FILE]   (default bench/results/abuse/runs.jsonl)
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const file = process.argv[2] ?? join(dirname(new URL(import.meta.url).pathname), 'results', 'abuse', 'runs.jsonl');
type Run = Record<string, unknown> & { scenario: string; label: string };
const runs = readFileSync(file, 'utf8')
  .split('\n')
  .filter((l) => l.trim())
  .map((l) => JSON.parse(l) as Run);

/** The number at a dotted path of a run, or NaN. */
function at(run: Run, path: string): number {
  let v: unknown = run;
  for (const key of path.split('.')) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[key] : undefined;
  return typeof v === 'number' ? v : Number.NaN;
}

function median(xs: number[]): number {
  const s = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** What a read burst is judged by. */
const READ_BURST = [
  'rssRiseMiB',
  'bystanderPingMs.p50',
  'bystanderPingMs.p99',
  'bystanderPingMs.max',
  'attacker.answered',
  'attackSeconds',
];

/** The figures shown per scenario. */
const FIGURES: Record<string, string[]> = {
  'read-burst': READ_BURST,
  'read-burst-open': READ_BURST,
  'read-burst-unread': ['rssRiseMiB', 'bystanderPingMs.p99', 'bystanderPingMs.max', 'attacker.closed'],
  'conn-cap': [
    'attacker.kept',
    'attacker.closedByServer',
    'rssRiseMiB',
    'bystanderPingMs.p99',
    'newcomer.loggedIn',
    'newcomer.loginMs.p99',
  ],
  'conn-cap-ws': ['attacker.upgraded', 'attacker.kept', 'rssRiseMiB', 'bystanderPingMs.p99'],
  lockout: ['attacker.guesses', 'victim.loggedIn', 'victim.loginMs.p50', 'victim.loginMs.p99', 'bystanderPingMs.p99'],
  nat: ['attacker.guesses', 'victim.loggedIn', 'victim.loginMs.p50', 'victim.loginMs.p99', 'bystanderPingMs.p99'],
};

const groups = new Map<string, Run[]>();
for (const run of runs) {
  const key = `${run.scenario}\t${run.label}`;
  groups.set(key, [...(groups.get(key) ?? []), run]);
}
for (const [key, group] of [...groups].sort(([a], [b]) => a.localeCompare(b))) {
  const [scenario = '', label = ''] = key.split('\t');
  const figures = (FIGURES[scenario] ?? []).map((path) => `${path}=${median(group.map((r) => at(r, path)))}`);
  console.log(`${scenario.padEnd(18)} ${label.padEnd(14)} runs=${group.length} ${figures.join(' ')}`);
  // Answers are not numbers: show those of the last run.
  const last = group[group.length - 1] as Run;
  const answers = ['attacker.errors', 'attacker.reasons', 'attacker.answers', 'victim.refused', 'newcomer.refused']
    .map((path) => {
      let v: unknown = last;
      for (const k of path.split('.')) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined;
      return v === undefined ? null : `${path}=${JSON.stringify(v)}`;
    })
    .filter((x) => x !== null);
  if (answers.length > 0) console.log(`${''.padEnd(33)} last run: ${answers.join(' ')}`);
}
