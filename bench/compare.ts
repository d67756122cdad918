/**
 * Prints the medians of the last 3 valid runs of each workload, per target,
 * and the ratios natter/ngircd and natter/relay.
 *
 *   node --import tsx bench/compare.ts [workload...]
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

type Line = {
  date: string;
  commit: string;
  workload: string;
  target: string;
  params: Record<string, unknown>;
  valid: boolean;
  result: Result;
};

const RESULTS = join(dirname(new URL(import.meta.url).pathname), 'results');
const wanted = process.argv.slice(2);
const lines: Line[] = [];
if (existsSync(RESULTS)) {
  for (const file of readdirSync(RESULTS)
    .filter((f) => f.endsWith('.jsonl'))
    .sort()) {
    for (const text of readFileSync(join(RESULTS, file), 'utf8').split('\n')) {
      if (text.trim()) lines.push(JSON.parse(text) as Line);
    }
  }
}

type Latency = { p50: number; p99: number };
/** The fields of a generator result that are compared (see bench/load/generator.ts). */
type Result = {
  rssPerConnKiB?: number;
  connected?: number;
  reconnectsPerS?: number;
  serverCpuMsPerReconnect?: number;
  skipped?: number;
  latencyMs?: Latency;
  deliveryRatio?: number;
  deliveriesPerS?: number;
  serverCpuMsPer1000?: number;
  serverCpu?: number;
  logins?: { perS: number; latencyMs: Latency };
  historyMs?: Latency[];
  windows?: Latency[];
  serverRssKiB?: { start: number; end: number };
};

/** The figures worth comparing, by workload mode. */
const METRICS: Record<string, { name: string; get: (r: Result) => number | undefined }[]> = {
  idle: [
    { name: 'RSS/conn KiB', get: (r) => r.rssPerConnKiB },
    { name: 'connected', get: (r) => r.connected },
  ],
  reconnect: [
    { name: 'reconnects/s', get: (r) => r.reconnectsPerS },
    { name: 'p99 ms', get: (r) => r.latencyMs?.p99 },
    { name: 'CPU ms/reconnect', get: (r) => r.serverCpuMsPerReconnect },
    { name: 'server CPU', get: (r) => r.serverCpu },
    { name: 'skipped (16 already in flight)', get: (r) => r.skipped },
  ],
  fanout: [
    { name: 'delivered %', get: (r) => (r.deliveryRatio === undefined ? undefined : r.deliveryRatio * 100) },
    { name: 'deliveries/s', get: (r) => r.deliveriesPerS },
    { name: 'p50 ms', get: (r) => r.latencyMs?.p50 },
    { name: 'p99 ms', get: (r) => r.latencyMs?.p99 },
    { name: 'CPU ms/1000 deliveries', get: (r) => r.serverCpuMsPer1000 },
    { name: 'server CPU', get: (r) => r.serverCpu },
    { name: 'logins/s', get: (r) => r.logins?.perS },
    { name: 'login p99 ms', get: (r) => r.logins?.latencyMs.p99 },
    { name: 'history last-50 p99 ms', get: (r) => r.historyMs?.[0]?.p99 },
    { name: 'history 5 pages back p99 ms', get: (r) => r.historyMs?.[5]?.p99 },
    { name: 'first window p99 ms', get: (r) => r.windows?.[0]?.p99 },
    { name: 'last window p99 ms', get: (r) => r.windows?.at(-1)?.p99 },
    { name: 'RSS start MiB', get: (r) => (r.serverRssKiB?.start ?? Number.NaN) / 1024 },
    { name: 'RSS end MiB', get: (r) => (r.serverRssKiB?.end ?? Number.NaN) / 1024 },
  ],
};

function median(xs: (number | undefined)[]): number {
  const s = xs.filter((x): x is number => x !== undefined && Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

function fmt(n: number): string {
  if (!Number.isFinite(n)) return '';
  if (Math.abs(n) >= 1000) return Math.round(n).toLocaleString('en-US');
  if (Math.abs(n) >= 10) return n.toFixed(1);
  return n
    .toFixed(n === Math.round(n) ? 0 : 3)
    .replace(/0+$/, '')
    .replace(/\.$/, '');
}

const groups = new Map<string, Line[]>();
for (const l of lines) {
  if (wanted.length && !wanted.includes(l.workload)) continue;
  const { target: _target, ...params } = l.params;
  const key = `${l.workload} ${JSON.stringify(params)}`;
  groups.set(key, [...(groups.get(key) ?? []), l]);
}

for (const [key, group] of groups) {
  const mode = String(group[0]?.params.mode ?? '');
  const metrics = METRICS[mode] ?? [];
  const byTarget = new Map<string, Line[]>();
  for (const l of group) byTarget.set(l.target, [...(byTarget.get(l.target) ?? []), l]);
  const targets = [...byTarget.keys()].sort((a, b) => order(a) - order(b));
  console.log(`\n## ${key}`);
  const cols = ['metric', ...targets];
  if (byTarget.has('natter') && byTarget.has('ngircd')) cols.push('natter/ngircd');
  if (byTarget.has('natter') && byTarget.has('relay')) cols.push('natter/relay');
  const rows: string[][] = [];
  const med = new Map<string, Map<string, number>>();
  const runsNote: string[] = [];
  for (const t of targets) {
    const all = byTarget.get(t) ?? [];
    const valid = all.filter((l) => l.valid).slice(-3);
    runsNote.push(
      `${t}: ${valid.length} valid of ${all.length} (${[...new Set(valid.map((l) => l.commit))].join(', ')}; ${valid.at(-1)?.date.slice(0, 10) ?? '-'})`,
    );
    const m = new Map<string, number>();
    for (const metric of metrics) m.set(metric.name, median(valid.map((l) => metric.get(l.result))));
    med.set(t, m);
  }
  for (const metric of metrics) {
    const values = targets.map((t) => med.get(t)?.get(metric.name) ?? Number.NaN);
    if (values.every((v) => !Number.isFinite(v))) continue;
    // A delivery ratio is shown to the thousandth of a percent: 100.000 means not one lost.
    const show = metric.name === 'delivered %' ? (v: number) => (Number.isFinite(v) ? v.toFixed(3) : '') : fmt;
    const row = [metric.name, ...values.map(show)];
    const n = med.get('natter')?.get(metric.name) ?? Number.NaN;
    if (cols.includes('natter/ngircd')) row.push(ratio(n, med.get('ngircd')?.get(metric.name)));
    if (cols.includes('natter/relay')) row.push(ratio(n, med.get('relay')?.get(metric.name)));
    rows.push(row);
  }
  const widths = cols.map((c, i) => Math.max(c.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  console.log(line(cols));
  console.log(line(widths.map((w) => '-'.repeat(w))));
  for (const r of rows) console.log(line(r));
  console.log(`runs: ${runsNote.join('; ')}`);
}

function ratio(a: number, b: number | undefined): string {
  if (b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b === 0) return '';
  return `${(a / b).toFixed(2)}x`;
}

function order(t: string): number {
  return ['natter', 'ngircd', 'relay'].indexOf(t);
}
