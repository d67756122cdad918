/**
 * Automatic moderation: what checking one message costs, in µs of CPU on the
 * event loop, for a server's rules compiled once (src/server/automod/engine.ts).
 *
 *   node --import tsx bench/automod.ts [--rounds 7] [--messages 20000] [--results bench/results/automod/runs.jsonl]
 *
 * The messages are a fixed corpus of chat lines made from a seeded generator:
 * short and long, some with links, mentions, accents and emoji, about 2% with a
 * word one of the keyword rules catches. Configurations, each compiled once:
 *
 *   none          a server without rules (`compileRules([])`: the caller sees `empty` and skips)
 *   keywords      one rule of 500 keywords (whole words, prefixes, suffixes, anywhere)
 *   keywords+re   the same and a rule of 10 regexes as moderators write them (links, scams, phone numbers)
 *   preset        the profanity preset alone (obscenity's English list)
 *
 * For each, `messages` checks are timed `rounds` times after a warm-up; one
 * JSON line per configuration gives the median round's µs per message (wall
 * clock, and the process's CPU time, which other work on the machine disturbs
 * less), the fastest and slowest rounds, and how many messages matched. The target is
 * 20 µs per message for keywords+regexes. Timing is only meaningful on an
 * otherwise idle machine: each line records the load average.
 */
import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdirSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { type CheckContext, type CompiledRules, compileRules, type RuleRow } from '../src/server/automod/engine.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '7' },
    messages: { type: 'string', default: '20000' },
    results: { type: 'string', default: '' },
  },
});
const ROUNDS = Number(values.rounds);
const MESSAGES = Number(values.messages);
const TARGET_US = 20;

/** A seeded generator, so every run checks the same messages against the same rules. */
function random(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 48271) % 2147483647;
    return s / 2147483647;
  };
}
const rnd = random(20261201);
const pick = <T>(list: readonly T[]): T => list[Math.floor(rnd() * list.length)] as T;

// --- the rules -------------------------------------------------------------------

const SYLLABLES = ['ka', 'zu', 'mor', 'plin', 'trex', 'vo', 'sna', 'gid', 'qua', 'lom', 'fex', 'dru', 'wib', 'nox'];
/** 500 made-up words of 2-3 syllables: none is an English word, so only the planted ones match. */
const keywords: string[] = [];
while (keywords.length < 500) {
  let w = '';
  const n = 2 + Math.floor(rnd() * 2);
  for (let i = 0; i < n; i++) w += pick(SYLLABLES);
  const form = rnd();
  const written = form < 0.7 ? w : form < 0.8 ? `${w}*` : form < 0.9 ? `*${w}` : `*${w}*`;
  if (!keywords.includes(written)) keywords.push(written);
}
const planted = keywords.filter((k) => !k.includes('*')).slice(0, 20);

const regexes = [
  '(?:discord\\.gg|discord(?:app)?\\.com/invite)/\\w+',
  'free\\s+(?:discord\\s+)?nitro',
  'https?://(?:bit\\.ly|tinyurl\\.com|t\\.co|goo\\.gl)/\\S+',
  '\\b\\d{3}[-. ]\\d{3}[-. ]\\d{4}\\b',
  '(?:buy|cheap)\\s+(?:followers|likes|views)',
  '(?:crypto|bitcoin|eth)\\s+(?:giveaway|airdrop|doubler)',
  't\\.me/\\w+',
  'steam(?:community|powered)?\\.(?:ru|cn|xyz)',
  '(?:grabify|iplogger|2no)\\.\\w+',
  '[!?]{8,}',
];

let id = 0;
function row(kind: RuleRow['kind'], config: unknown): RuleRow {
  id++;
  return {
    id: `bench-${id}`,
    name: `bench ${id}`,
    kind,
    config: JSON.stringify(config),
    actions: JSON.stringify([{ block: {} }]),
    exemptRoles: '[]',
    exemptChannels: '[]',
    enabled: true,
  };
}

// --- the messages ----------------------------------------------------------------

const WORDS = (
  'the a to and is it you that of in for on this was just with have but not are be my so what can do ' +
  'build deploy test merge review branch release fix bug server client login timeout error log config ' +
  'tonight tomorrow morning lunch coffee meeting call weekend game movie music book train cat dog ' +
  'thanks great nice sure maybe really think know need want look good bad new old fast slow again ' +
  'anyone everyone someone here there now later today why how when where who which'
).split(' ');
const EXTRAS = [
  'https://example.com/pr/4821',
  '@ann',
  '@bob_the_builder',
  'café',
  'naïve',
  'Zürich',
  '👍',
  '🎉🎉',
  '¯\\_(ツ)_/¯',
  '42',
  '5pm',
  '2026-12-01',
  'v2.3.1',
  'CI',
  'lol',
  'ok!',
  '(brb)',
];

function message(): string {
  const length = rnd() < 0.6 ? 3 + Math.floor(rnd() * 10) : 12 + Math.floor(rnd() * 40);
  const parts: string[] = [];
  for (let i = 0; i < length; i++) parts.push(rnd() < 0.12 ? pick(EXTRAS) : pick(WORDS));
  if (rnd() < 0.02) parts.splice(Math.floor(rnd() * parts.length), 0, pick(planted));
  if (rnd() < 0.3) parts[0] = (parts[0] ?? '').replace(/^./, (c) => c.toUpperCase());
  return `${parts.join(' ')}${pick(['', '', '.', '?', '!'])}`;
}
const corpus = Array.from({ length: 1000 }, message);

// --- measuring -------------------------------------------------------------------

const ctx: CheckContext = { channelId: 'general', role: 'member', mentionCount: 0 };

/** What the send path does: nothing when the server has no rules, else one check. */
function checkAll(rules: CompiledRules, n: number): number {
  let matched = 0;
  for (let i = 0; i < n; i++) {
    if (rules.empty) continue;
    if (rules.check(corpus[i % corpus.length] ?? '', ctx).length > 0) matched++;
  }
  return matched;
}

function commit(): string {
  try {
    const sha = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src', 'bench', ':!bench/results'], {
      encoding: 'utf8',
    }).trim();
    return dirty ? `${sha}+dirty` : sha;
  } catch {
    return 'unknown';
  }
}

const configurations: [string, () => CompiledRules][] = [
  ['none', () => compileRules([])],
  ['keywords', () => compileRules([row('keyword', { keywords })])],
  ['keywords+regexes', () => compileRules([row('keyword', { keywords }), row('regex', { patterns: regexes })])],
  ['preset', () => compileRules([row('preset', { preset: 'profanity' })])],
];

const averageChars = corpus.reduce((n, m) => n + m.length, 0) / corpus.length;
for (const [name, build] of configurations) {
  const t0 = performance.now();
  const rules = build();
  const compileMs = performance.now() - t0;
  checkAll(rules, Math.min(MESSAGES, 5000)); // warm-up: the JIT, the regex caches
  const rounds: number[] = [];
  const cpuRounds: number[] = [];
  let matched = 0;
  for (let r = 0; r < ROUNDS; r++) {
    const cpu = process.cpuUsage();
    const start = performance.now();
    matched = checkAll(rules, MESSAGES);
    rounds.push(((performance.now() - start) * 1000) / MESSAGES);
    const used = process.cpuUsage(cpu);
    cpuRounds.push((used.user + used.system) / MESSAGES);
  }
  rounds.sort((a, b) => a - b);
  cpuRounds.sort((a, b) => a - b);
  const us = (x: number | undefined) => Math.round((x ?? Number.NaN) * 100) / 100;
  const line = {
    date: new Date().toISOString(),
    commit: commit(),
    machine: {
      cpu: cpus()[0]?.model ?? 'unknown',
      cores: cpus().length,
      node: process.version,
      load: loadavg().map((x) => Math.round(x * 100) / 100),
    },
    bench: 'automod',
    rules: name,
    params: { rounds: ROUNDS, messages: MESSAGES, corpus: corpus.length, averageChars: Math.round(averageChars) },
    compileMs: Math.round(compileMs * 10) / 10,
    usPerMessage: us(rounds[Math.floor(rounds.length / 2)]),
    cpuUsPerMessage: us(cpuRounds[Math.floor(cpuRounds.length / 2)]),
    fastestRound: us(rounds[0]),
    slowestRound: us(rounds[rounds.length - 1]),
    matchedPerCorpus: Math.round((matched / MESSAGES) * corpus.length),
    ...(name === 'keywords+regexes'
      ? { targetUs: TARGET_US, met: (rounds[Math.floor(rounds.length / 2)] ?? Number.POSITIVE_INFINITY) <= TARGET_US }
      : {}),
  };
  const text = JSON.stringify(line);
  console.log(text);
  if (values.results) {
    mkdirSync(dirname(values.results), { recursive: true });
    appendFileSync(values.results, `${text}\n`);
  }
}
