/**
 * A server's automatic moderation rules, compiled once and checked against
 * every message. Pure and synchronous: the caller reads the rules, keeps the
 * compiled form until they change (`servers.automod_rev`), counts messages for
 * flood rules, and carries out the actions.
 *
 *   const rules = compileRules(rows);          // once per change of the rules
 *   if (!rules.empty) {
 *     const matches = rules.check(body, { channelId, role, mentionCount: mentionCount(body) });
 *     const verdict = combineActions(matches);
 *   }
 *
 * Keywords of every keyword rule are looked for with one regular expression
 * over the normalised message (normalise.ts): a message that holds none of
 * them, nearly all of them, costs one scan whatever the number of rules. Only
 * when it finds something is each keyword rule asked which of its keywords
 * matched and whether an allowed word covers it. Regexes run on the message
 * as written, in RE2 (linear time), again all of them at once first.
 */
import { englishDataset, englishRecommendedTransformers, RegExpMatcher } from 'obscenity';
import { RE2JS } from 're2js';
import { mentionedNames } from '../../protocol/text.js';
import type { AutomodRuleRow } from '../db/schema.js';
import { normalise, normaliseWithMap, originalSpan } from './normalise.js';
import {
  type Action,
  type Keyword,
  type MemberRole,
  parseKeyword,
  parseRuleRow,
  type RuleDefinition,
  type RuleProblem,
} from './rules.js';

/** Where a message is sent and by whom, as far as the rules care. */
export type CheckContext = {
  channelId: string;
  /** The sender's role in the server. */
  role: MemberRole;
  /** How many different people the message mentions (see {@link mentionCount}). */
  mentionCount: number;
};

/** A rule that matched a message, with what matched, for the sender's reply and the moderators' alert. */
export type AutomodMatch = {
  ruleId: string;
  /** The rule's name, as its admins wrote it. */
  name: string;
  kind: 'keyword' | 'regex' | 'preset' | 'mentions' | 'flood';
  actions: readonly Action[];
  /** What matched: the keyword as written (`cat*`), the regex, the preset's word, `7 mentions (at most 5)`. */
  trigger: string;
  /** The part of the message that matched, as written. Absent for mentions and flood. */
  excerpt?: string;
};

/** A flood rule that applies to a sender: the caller counts their messages and, past the limit, acts. */
export type FloodRule = {
  ruleId: string;
  name: string;
  /** More than this many messages... */
  messages: number;
  /** ...within this many seconds matches. */
  seconds: number;
  actions: readonly Action[];
};

/** A rule row that no longer validates (edited by hand, or by another version): it is left out, not guessed at. */
export type SkippedRule = { ruleId: string; name: string; problems: readonly RuleProblem[] };

/** A server's rules, compiled. */
export type CompiledRules = {
  /** No enabled rule: the caller may skip the check entirely. */
  readonly empty: boolean;
  /** Every rule the message matches, in the order the rows were given; exempt roles and channels are skipped. */
  check(text: string, ctx: CheckContext): AutomodMatch[];
  /** The flood rules that apply to a sender in a channel (exemptions applied). */
  floodRules(ctx: Pick<CheckContext, 'channelId' | 'role'>): readonly FloodRule[];
  readonly skipped: readonly SkippedRule[];
};

/** The columns of an `automod_rules` row that compiling reads. */
export type RuleRow = Pick<
  AutomodRuleRow,
  'id' | 'name' | 'kind' | 'config' | 'actions' | 'exemptRoles' | 'exemptChannels' | 'enabled'
>;

const EMPTY: CompiledRules = Object.freeze({
  empty: true,
  check: () => [],
  floodRules: () => [],
  skipped: Object.freeze([]) as readonly SkippedRule[],
});

/** Distinct `@name` mentions in a message, as the protocol reads them (`mentionedNames`). */
export function mentionCount(body: string): number {
  return mentionedNames(body).length;
}

/** The message, and what is worked out from it only when a rule asks. */
class Subject {
  private normalisedText: string | null = null;
  private mapped: ReturnType<typeof normaliseWithMap> | null = null;
  constructor(
    readonly text: string,
    readonly ctx: CheckContext,
  ) {}
  get normalised(): string {
    this.normalisedText ??= normalise(this.text);
    return this.normalisedText;
  }
  /** The part of the message as written that gave normalised[start, end). */
  excerpt(start: number, end: number): string {
    this.mapped ??= normaliseWithMap(this.text);
    return shorten(originalSpan(this.text, this.mapped, start, end).trim());
  }
}

type Found = { trigger: string; excerpt?: string };

/** The longest excerpt reported, in characters: an alert shows where, not the whole message. */
const EXCERPT_MAX = 100;

function shorten(s: string): string {
  const cps = [...s];
  return cps.length > EXCERPT_MAX ? `${cps.slice(0, EXCERPT_MAX).join('')}…` : s;
}

type CompiledRule = {
  id: string;
  name: string;
  kind: AutomodMatch['kind'];
  actions: readonly Action[];
  exemptRoles: ReadonlySet<string>;
  exemptChannels: ReadonlySet<string>;
  find(subject: Subject): Found | null;
};

// --- keywords ------------------------------------------------------------------

const WORD = '[\\p{L}\\p{M}\\p{N}]';
const escapeRegExp = (s: string) => s.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&');

/** Keyword modes, in the order of the capture groups of {@link keywordRegExp}. */
const MODES = ['whole', 'start', 'end', 'anywhere'] as const;
type Mode = (typeof MODES)[number];
const modeOf = (k: Keyword): Mode => (k.wordStart ? (k.wordEnd ? 'whole' : 'start') : k.wordEnd ? 'end' : 'anywhere');

/**
 * One expression for a set of keywords: a capture group per mode, each an
 * alternation of the keywords' normalised texts, longest first.
 */
function keywordRegExp(keywords: readonly Keyword[], flags: string): RegExp {
  const byMode: Record<Mode, Set<string>> = { whole: new Set(), start: new Set(), end: new Set(), anywhere: new Set() };
  for (const k of keywords) byMode[modeOf(k)].add(k.text);
  const branch = (mode: Mode) => {
    const texts = [...byMode[mode]].sort((a, b) => b.length - a.length).map(escapeRegExp);
    // A mode without keywords keeps its (empty, never matching) group, so the groups stay numbered by mode.
    if (texts.length === 0) return '((?!))';
    const alt = `(${texts.join('|')})`;
    const before = mode === 'whole' || mode === 'start' ? `(?<!${WORD})` : '';
    const after = mode === 'whole' || mode === 'end' ? `(?!${WORD})` : '';
    return `${before}${alt}${after}`;
  };
  return new RegExp(MODES.map(branch).join('|'), flags);
}

/** The mode of a match of {@link keywordRegExp}: which group took part. */
function matchMode(m: RegExpExecArray): Mode {
  for (let g = 1; g <= MODES.length; g++) if (m[g] !== undefined) return MODES[g - 1] ?? 'anywhere';
  return 'anywhere';
}

/** Does an allowed word cover `word` (a whole word of the normalised message)? */
function allowed(word: string, allow: readonly Keyword[]): boolean {
  for (const a of allow) {
    const hit =
      a.wordStart && a.wordEnd
        ? word === a.text
        : a.wordStart
          ? word.startsWith(a.text)
          : a.wordEnd
            ? word.endsWith(a.text)
            : word.includes(a.text);
    if (hit) return true;
  }
  return false;
}

const WORD_BEFORE = new RegExp(`${WORD}*$`, 'u');
const WORD_AFTER = new RegExp(`^${WORD}*`, 'u');

/** The whole word(s) of `text` that `[start, end)` lies in. */
function wordAround(text: string, start: number, end: number): string {
  const left = WORD_BEFORE.exec(text.slice(0, start))?.[0] ?? '';
  const right = WORD_AFTER.exec(text.slice(end))?.[0] ?? '';
  return left + text.slice(start, end) + right;
}

function keywordFinder(keywords: readonly Keyword[], allow: readonly Keyword[]): (s: Subject) => Found | null {
  const re = keywordRegExp(keywords, 'gu');
  const byKey = new Map<string, Keyword>();
  for (const k of keywords) {
    const key = `${modeOf(k)}:${k.text}`;
    if (!byKey.has(key)) byKey.set(key, k);
  }
  return (subject) => {
    const text = subject.normalised;
    re.lastIndex = 0;
    for (let m = re.exec(text); m !== null; m = re.exec(text)) {
      const end = m.index + m[0].length;
      if (allow.length > 0 && allowed(wordAround(text, m.index, end), allow)) {
        // Another keyword may still start inside an allowed word's match.
        re.lastIndex = m.index + 1;
        continue;
      }
      const keyword = byKey.get(`${matchMode(m)}:${m[0]}`);
      return { trigger: keyword?.written ?? m[0], excerpt: subject.excerpt(m.index, end) };
    }
    return null;
  };
}

// --- regexes -------------------------------------------------------------------

/** One RE2 expression that matches where any of `patterns` does; null if they cannot share one (named groups). */
function unionOf(patterns: readonly string[]): RE2JS | null {
  try {
    return RE2JS.compile(patterns.map((p) => `(?:${p})`).join('|'), RE2JS.CASE_INSENSITIVE);
  } catch {
    return null;
  }
}

function regexFinder(patterns: readonly string[]): (s: Subject) => Found | null {
  const compiled = patterns.map((p) => RE2JS.compile(p, RE2JS.CASE_INSENSITIVE));
  const union = compiled.length > 1 ? unionOf(patterns) : null;
  return (subject) => {
    if (union && !union.test(subject.text)) return null;
    for (const re of compiled) {
      // `test` runs on RE2's DFA; `exec`, which finds where, costs more and runs only on a hit.
      if (!re.test(subject.text)) continue;
      const m = re.exec(subject.text);
      return { trigger: re.pattern(), excerpt: shorten(String(m?.[0] ?? '')) };
    }
    return null;
  };
}

// --- the profanity preset ------------------------------------------------------

/**
 * Words the preset's list flags though they are harmless, allowed on every
 * server (a server's rule adds its own): `shiitake` holds `shit` as the
 * preset reads it, and `cumin` holds `cum`.
 */
export const PRESET_ALLOWED: readonly string[] = ['shiitake*', 'cumin*'];

let profanity: RegExpMatcher | null = null;

/** The English profanity matcher, built on first use (a few milliseconds) and shared by every server. */
function profanityMatcher(): RegExpMatcher {
  profanity ??= new RegExpMatcher({ ...englishDataset.build(), ...englishRecommendedTransformers });
  return profanity;
}

const ORIGINAL_WORD_BEFORE = /[\p{L}\p{M}\p{N}]*$/u;
const ORIGINAL_WORD_AFTER = /^[\p{L}\p{M}\p{N}]*/u;

function presetFinder(allowWritten: readonly string[]): (s: Subject) => Found | null {
  const allow: Keyword[] = [];
  for (const w of [...PRESET_ALLOWED, ...allowWritten]) {
    const k = parseKeyword(w);
    if (typeof k !== 'string') allow.push(k);
  }
  const matcher = profanityMatcher();
  const scan = (text: string): Found | null => {
    for (const m of matcher.getAllMatches(text, true)) {
      // Obscenity's end index is inclusive, and may point at the first half of a surrogate pair.
      let end = m.endIndex + 1;
      if (end < text.length && /[\udc00-\udfff]/.test(text[end] ?? '')) end++;
      const left = ORIGINAL_WORD_BEFORE.exec(text.slice(0, m.startIndex))?.[0] ?? '';
      const right = ORIGINAL_WORD_AFTER.exec(text.slice(end))?.[0] ?? '';
      const word = normalise(left + text.slice(m.startIndex, end) + right);
      if (allowed(word, allow)) continue;
      const term = englishDataset.getPayloadWithPhraseMetadata(m).phraseMetadata?.originalWord;
      return { trigger: term ?? 'profanity', excerpt: shorten(text.slice(m.startIndex, end)) };
    }
    return null;
  };
  return (subject) => {
    const found = scan(subject.text);
    if (found) return found;
    // Letters the list's own handling does not know (mathematical script, Fraktur, double-struck,
    // monospace): their compatibility forms are plain letters.
    const plain = subject.text.normalize('NFKC');
    return plain === subject.text ? null : scan(plain);
  };
}

// --- compiling -----------------------------------------------------------------

function parseKeywords(list: readonly string[]): Keyword[] {
  const out: Keyword[] = [];
  for (const w of list) {
    const k = parseKeyword(w);
    if (typeof k !== 'string') out.push(k);
  }
  return out;
}

function finderOf(rule: RuleDefinition): CompiledRule['find'] | null {
  switch (rule.kind) {
    case 'keyword':
      return keywordFinder(parseKeywords(rule.config.keywords), parseKeywords(rule.config.allow));
    case 'regex':
      return regexFinder(rule.config.patterns);
    case 'preset':
      return presetFinder(rule.config.allow);
    case 'mentions': {
      const max = rule.config.max;
      return (s) => (s.ctx.mentionCount > max ? { trigger: `${s.ctx.mentionCount} mentions (at most ${max})` } : null);
    }
    case 'flood':
      return null;
  }
}

const RANK: Record<MemberRole, number> = { member: 0, moderator: 1, admin: 2, owner: 3 };

/** A rule that leaves a role alone leaves the roles above it alone too: exempting moderators exempts admins and the owner. */
const exempt = (
  r: Pick<CompiledRule, 'exemptRoles' | 'exemptChannels'>,
  ctx: Pick<CheckContext, 'channelId' | 'role'>,
) =>
  [...r.exemptRoles].some((role) => RANK[ctx.role] >= (RANK[role as MemberRole] ?? Number.POSITIVE_INFINITY)) ||
  r.exemptChannels.has(ctx.channelId);

/**
 * Compiles a server's rule rows. Disabled rows are left out; rows that no
 * longer validate are left out and listed in `skipped`. With nothing to check
 * the result is one shared object whose `empty` is true.
 */
export function compileRules(rows: readonly RuleRow[]): CompiledRules {
  const rules: CompiledRule[] = [];
  const floods: (FloodRule & Pick<CompiledRule, 'exemptRoles' | 'exemptChannels'>)[] = [];
  const skipped: SkippedRule[] = [];
  const keywords: Keyword[] = [];
  let regexes: string[] = [];
  for (const row of rows) {
    if (!row.enabled) continue;
    const parsed = parseRuleRow(row);
    if (!parsed.ok) {
      skipped.push({ ruleId: row.id, name: row.name, problems: parsed.problems });
      continue;
    }
    const rule = parsed.rule;
    const base = {
      id: row.id,
      name: rule.name,
      actions: rule.actions,
      exemptRoles: new Set<string>(rule.exemptRoles),
      exemptChannels: new Set(rule.exemptChannels),
    };
    if (rule.kind === 'flood') {
      floods.push({ ...base, ruleId: row.id, messages: rule.config.messages, seconds: rule.config.seconds });
      continue;
    }
    if (rule.kind === 'keyword') keywords.push(...parseKeywords(rule.config.keywords));
    if (rule.kind === 'regex') regexes = regexes.concat(rule.config.patterns);
    const find = finderOf(rule);
    if (find) rules.push({ ...base, kind: rule.kind, find });
  }
  if (rules.length === 0 && floods.length === 0) {
    return skipped.length === 0 ? EMPTY : Object.freeze({ ...EMPTY, skipped: Object.freeze(skipped) });
  }
  // One scan tells whether any keyword rule can match, and one RE2 run whether any regex can.
  const anyKeyword = keywords.length > 0 ? keywordRegExp(keywords, 'u') : null;
  const anyRegex = regexes.length > 1 ? unionOf(regexes) : null;
  return {
    empty: false,
    skipped,
    check(text, ctx) {
      const subject = new Subject(text, ctx);
      const keywordsMayMatch = anyKeyword === null || anyKeyword.test(subject.normalised);
      const regexesMayMatch = anyRegex === null || anyRegex.test(text);
      const matches: AutomodMatch[] = [];
      for (const r of rules) {
        if (r.kind === 'keyword' && !keywordsMayMatch) continue;
        if (r.kind === 'regex' && !regexesMayMatch) continue;
        if (exempt(r, ctx)) continue;
        const found = r.find(subject);
        if (found) matches.push({ ruleId: r.id, name: r.name, kind: r.kind, actions: r.actions, ...found });
      }
      return matches;
    },
    floodRules(ctx) {
      return floods
        .filter((f) => !exempt(f, ctx))
        .map(({ ruleId, name, messages, seconds, actions }) => ({ ruleId, name, messages, seconds, actions }));
    },
  };
}

/** A flood rule's match, once the caller has counted `count` messages within its window. */
export function floodMatch(rule: FloodRule, count: number): AutomodMatch {
  return {
    ruleId: rule.ruleId,
    name: rule.name,
    kind: 'flood',
    actions: rule.actions,
    trigger: `${count} messages in ${rule.seconds} s (at most ${rule.messages})`,
  };
}

/** What the matched rules ask for together. */
export type Verdict = {
  /** Refuse the message: the first blocking rule, and its message for the sender if it has one. */
  block: { ruleId: string; name: string; message: string | null } | null;
  /** Keep the message for review instead of posting it (never together with `block`: a refused message is not kept). */
  hold: { ruleId: string; name: string } | null;
  /** Channels to tell, each once, with the rules that asked. */
  alerts: { channelId: string; ruleIds: string[] }[];
  /** The longest timeout asked for, in seconds; 0 for none. */
  timeoutSeconds: number;
};

/**
 * Combines the actions of every matched rule: a block wins over a hold, every
 * alert channel is told once, and the longest timeout is the one applied.
 */
export function combineActions(matches: readonly AutomodMatch[]): Verdict {
  const verdict: Verdict = { block: null, hold: null, alerts: [], timeoutSeconds: 0 };
  const alerts = new Map<string, string[]>();
  for (const m of matches) {
    for (const a of m.actions) {
      if (a === 'hold') {
        verdict.hold ??= { ruleId: m.ruleId, name: m.name };
      } else if ('block' in a) {
        verdict.block ??= { ruleId: m.ruleId, name: m.name, message: a.block.message ?? null };
      } else if ('alert' in a) {
        const ids = alerts.get(a.alert.channelId) ?? [];
        if (!ids.includes(m.ruleId)) ids.push(m.ruleId);
        alerts.set(a.alert.channelId, ids);
      } else {
        verdict.timeoutSeconds = Math.max(verdict.timeoutSeconds, a.timeout.seconds);
      }
    }
  }
  if (verdict.block) verdict.hold = null;
  verdict.alerts = [...alerts].map(([channelId, ruleIds]) => ({ channelId, ruleIds }));
  return verdict;
}
