/**
 * Automatic moderation rules as a server's admins write them: their shape
 * (zod schemas), their limits, and validation whose every problem names the
 * field (`config.keywords.2`) and says, in the words people type, what is
 * wrong with it (`keyword 3 (`**`) has no letters or digits`). Pure: no I/O.
 * The `automod_rules` table stores `config`, `actions`, `exemptRoles` and
 * `exemptChannels` as the JSON of these shapes (see {@link ruleColumns}).
 */
import { RE2JS, RE2JSSyntaxException } from 're2js';
import { z } from 'zod';
import { codePoints, isBlank, lineTextProblem } from '../../protocol/text.js';
import type { AutomodRuleRow } from '../db/schema.js';
import { isWordChar, normalise } from './normalise.js';

/** The limits of a rule. A server may have at most `rulesPerServer` rules: its caller counts them. */
export const AUTOMOD_LIMITS = {
  rulesPerServer: 20,
  nameMax: 32,
  keywordsPerRule: 500,
  keywordMax: 60,
  allowedPerRule: 100,
  regexesPerRule: 10,
  regexMax: 300,
  /** RE2's own measure of a compiled regex's cost; past it a pattern is refused as too complex. */
  regexProgramMax: 4000,
  blockMessageMax: 150,
  mentionsMin: 1,
  mentionsMax: 50,
  floodMessagesMin: 2,
  floodMessagesMax: 50,
  floodSecondsMin: 1,
  floodSecondsMax: 300,
  timeoutSecondsMax: 28 * 24 * 3600,
  exemptChannelsMax: 50,
} as const;

/** The most rules one server may have. */
export const MAX_RULES_PER_SERVER = AUTOMOD_LIMITS.rulesPerServer;

const L = AUTOMOD_LIMITS;

export const RuleKind = z.enum(['keyword', 'regex', 'preset', 'mentions', 'flood'], {
  error: 'rule kind must be "keyword", "regex", "preset", "mentions" or "flood"',
});
export type RuleKind = z.infer<typeof RuleKind>;

/** The roles of a server's members, any of which a rule may leave alone. */
export const MemberRole = z.enum(['owner', 'admin', 'moderator', 'member'], {
  error: 'an exempt role must be "owner", "admin", "moderator" or "member"',
});
export type MemberRole = z.infer<typeof MemberRole>;

/** `s` in backquotes, shortened, for a message. */
function quote(s: string): string {
  const cps = [...s];
  return `\`${cps.length > 40 ? `${cps.slice(0, 40).join('')}…` : s}\``;
}

/**
 * A keyword as matched: its normalised text and where it must sit in a word.
 * Written as Discord does: `cat` is a whole word, `cat*` starts a word
 * (`catalog`), `*cat` ends one (`bobcat`), `*cat*` is anywhere (`concatenate`).
 */
export type Keyword = {
  /** As the admin wrote it (trimmed), to show moderators. */
  written: string;
  /** The text between the stars, normalised (see normalise.ts). */
  text: string;
  /** No letter or digit may come right before it (no leading `*`). */
  wordStart: boolean;
  /** No letter or digit may come right after it (no trailing `*`). */
  wordEnd: boolean;
};

/** `written` as a keyword, or what is wrong with it (a sentence without a subject: `has no letters or digits`). */
export function parseKeyword(written: string): Keyword | string {
  const trimmed = written.trim();
  if (trimmed === '') return 'is empty';
  if (codePoints(trimmed) > L.keywordMax) return `is longer than ${L.keywordMax} characters`;
  const character = lineTextProblem(trimmed, L.keywordMax, 'it');
  if (character) return character.replace(/^it /, '');
  const wordStart = !trimmed.startsWith('*');
  const wordEnd = !trimmed.endsWith('*');
  const text = normalise(trimmed.replace(/^\*+|\*+$/g, '')).trim();
  if (![...text].some(isWordChar)) return 'has no letters or digits';
  return { written: trimmed, text, wordStart, wordEnd };
}

/** Why RE2 refuses `pattern`, in words, or null when it compiles. */
export function regexProblem(pattern: string): string | null {
  if (pattern === '') return 'is empty';
  if (codePoints(pattern) > L.regexMax) return `is longer than ${L.regexMax} characters`;
  let compiled: RE2JS;
  try {
    compiled = RE2JS.compile(pattern);
  } catch (err) {
    const look = /\(\?<?[=!]/.exec(pattern)?.[0];
    if (look) {
      return `uses lookaround (${quote(look)}), which natter's regexes do not have: they run in linear time, so a message cannot make them slow`;
    }
    const backref = /\\(?:[1-9]|k<)/.exec(pattern)?.[0];
    if (backref) {
      return `uses a backreference (${quote(backref)}), which natter's regexes do not have: they run in linear time, so a message cannot make them slow`;
    }
    if (err instanceof RE2JSSyntaxException) {
      const at = err.getPattern();
      return `does not compile: ${err.getDescription()}${at && at !== pattern ? ` at ${quote(at)}` : ''}`;
    }
    return `does not compile: ${err instanceof Error ? err.message : String(err)}`;
  }
  if (compiled.programSize() > L.regexProgramMax) return 'is too complex: split it, or use fewer repetitions';
  if (compiled.test('')) return 'matches empty text, so it would match every message';
  return null;
}

/** A list of words with a count limit; each item is checked by the rule's own refinement. */
function wordList(what: string, max: number) {
  return z
    .array(z.string({ error: `each of the ${what} must be text` }), { error: `${what} must be a list of words` })
    .max(max, `at most ${max} ${what} per rule`);
}

/** A strict object whose unknown fields are named in the message. */
function fields<T extends z.ZodRawShape>(shape: T, what: string) {
  return z.strictObject(shape, {
    error: (iss) =>
      iss.code === 'unrecognized_keys'
        ? `${what} has no field ${iss.keys.map((k) => `"${k}"`).join(' or ')}`
        : `${what} must be an object`,
  });
}

function wholeNumber(what: string, min: number, max: number, unit = '') {
  const range = `${what} must be a whole number from ${min} to ${max}${unit}`;
  return z.number({ error: range }).int(range).min(min, range).max(max, range);
}

/** Checks each entry of a list of keywords or allowed words, naming it by its place and text. */
function checkWords(list: readonly string[], what: string, key: string, ctx: z.RefinementCtx): void {
  list.forEach((written, i) => {
    const parsed = parseKeyword(written);
    if (typeof parsed === 'string') {
      const shown = written.trim() === '' ? '' : ` (${quote(written.trim())})`;
      ctx.addIssue({ code: 'custom', path: [key, i], message: `${what} ${i + 1}${shown} ${parsed}` });
    }
  });
}

/** `keyword`: any of up to 500 keywords, with an optional list of words that never match. */
export const KeywordConfig = fields(
  {
    keywords: wordList('keywords', L.keywordsPerRule).min(1, 'a keyword rule needs at least one keyword'),
    allow: wordList('allowed words', L.allowedPerRule).default([]),
  },
  'a keyword rule',
).superRefine((c, ctx) => {
  checkWords(c.keywords, 'keyword', 'keywords', ctx);
  checkWords(c.allow, 'allowed word', 'allow', ctx);
});
export type KeywordConfig = z.infer<typeof KeywordConfig>;

/** `regex`: up to 10 RE2 patterns, matched case-insensitively against the message as written. */
export const RegexConfig = fields(
  {
    patterns: z
      .array(z.string({ error: 'each regex must be text' }), { error: 'patterns must be a list of regexes' })
      .min(1, 'a regex rule needs at least one regex')
      .max(L.regexesPerRule, `at most ${L.regexesPerRule} regexes per rule`),
  },
  'a regex rule',
).superRefine((c, ctx) => {
  c.patterns.forEach((pattern, i) => {
    const problem = regexProblem(pattern);
    if (problem) ctx.addIssue({ code: 'custom', path: ['patterns', i], message: `regex ${i + 1} ${problem}` });
  });
});
export type RegexConfig = z.infer<typeof RegexConfig>;

/** `preset`: a built-in word list (English profanity), with an optional list of words that never match. */
export const PresetConfig = fields(
  {
    preset: z.literal('profanity', { error: 'the preset must be "profanity"' }),
    allow: wordList('allowed words', L.allowedPerRule).default([]),
  },
  'a preset rule',
).superRefine((c, ctx) => checkWords(c.allow, 'allowed word', 'allow', ctx));
export type PresetConfig = z.infer<typeof PresetConfig>;

/** `mentions`: a message that mentions more than `max` different people. */
export const MentionsConfig = fields(
  { max: wholeNumber('the most mentions allowed', L.mentionsMin, L.mentionsMax) },
  'a mentions rule',
);
export type MentionsConfig = z.infer<typeof MentionsConfig>;

/** `flood`: more than `messages` messages from one person within `seconds` (counted by the caller). */
export const FloodConfig = fields(
  {
    messages: wholeNumber('the most messages allowed', L.floodMessagesMin, L.floodMessagesMax),
    seconds: wholeNumber('the time they are counted over', L.floodSecondsMin, L.floodSecondsMax, ' seconds'),
  },
  'a flood rule',
);
export type FloodConfig = z.infer<typeof FloodConfig>;

/** What a rule does to a message it matches. Block and hold exclude each other; the rest combine. */
export type Action =
  | { block: { message?: string } }
  | 'hold'
  | { alert: { channelId: string } }
  | { timeout: { seconds: number } };

const ChannelId = z
  .string({ error: 'a channel id must be text' })
  .min(1, 'a channel id must not be empty')
  .max(64, 'a channel id must be at most 64 characters');

const BlockAction = fields(
  {
    block: fields(
      {
        message: z
          .string({ error: 'the block message must be text' })
          .refine((m) => !isBlank(m), 'the block message must not be blank')
          .superRefine((m, ctx) => {
            const problem = lineTextProblem(m, L.blockMessageMax, 'the block message');
            if (problem) ctx.addIssue({ code: 'custom', message: problem });
          })
          .optional(),
      },
      'block',
    ),
  },
  'a block action',
);
const AlertAction = fields({ alert: fields({ channelId: ChannelId }, 'alert') }, 'an alert action');
const TimeoutAction = fields(
  {
    timeout: fields(
      {
        seconds: wholeNumber('the timeout', 1, L.timeoutSecondsMax, ' seconds (28 days)'),
      },
      'timeout',
    ),
  },
  'a timeout action',
);

const ACTION_FORMS = '"hold", {"block": {"message": …}}, {"alert": {"channelId": …}} or {"timeout": {"seconds": …}}';

/** One action; the object's single key decides which schema checks it, so problems point inside it. */
export const ActionSchema: z.ZodType<Action> = z.unknown().transform((value, ctx): Action => {
  if (value === 'hold') return 'hold';
  const key = value && typeof value === 'object' && !Array.isArray(value) ? Object.keys(value)[0] : undefined;
  const schema =
    key === 'block' ? BlockAction : key === 'alert' ? AlertAction : key === 'timeout' ? TimeoutAction : null;
  if (!schema) {
    ctx.addIssue({ code: 'custom', message: `an action must be ${ACTION_FORMS}` });
    return z.NEVER;
  }
  const r = schema.safeParse(value);
  if (!r.success) {
    for (const issue of r.error.issues) ctx.addIssue({ code: 'custom', message: issue.message, path: issue.path });
    return z.NEVER;
  }
  return r.data;
});

/** The kind of an action, by its form. */
export function actionKind(action: Action): 'block' | 'hold' | 'alert' | 'timeout' {
  if (action === 'hold') return 'hold';
  if ('block' in action) return 'block';
  if ('alert' in action) return 'alert';
  return 'timeout';
}

export const Actions = z
  .array(ActionSchema, { error: 'actions must be a list' })
  .min(1, 'a rule needs at least one action: block, hold, alert or timeout')
  .superRefine((actions, ctx) => {
    const seen = new Set<string>();
    actions.forEach((action, i) => {
      const kind = actionKind(action);
      if (seen.has(kind)) ctx.addIssue({ code: 'custom', path: [i], message: `action ${i + 1} repeats "${kind}"` });
      seen.add(kind);
    });
    if (seen.has('block') && seen.has('hold')) {
      ctx.addIssue({
        code: 'custom',
        message: 'a rule cannot both block and hold: a blocked message is not kept, so there is nothing to hold',
      });
    }
  });

const RuleName = z.string({ error: 'the rule name must be text' }).superRefine((name, ctx) => {
  const n = codePoints(name);
  if (isBlank(name) || n > L.nameMax) {
    ctx.addIssue({ code: 'custom', message: `the rule name must be 1 to ${L.nameMax} characters` });
    return;
  }
  const problem = lineTextProblem(name, L.nameMax, 'the rule name');
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

const ExemptRoles = z.array(MemberRole, { error: 'exempt roles must be a list of roles' }).default([]);
const ExemptChannels = z
  .array(ChannelId, { error: 'exempt channels must be a list of channel ids' })
  .max(L.exemptChannelsMax, `at most ${L.exemptChannelsMax} exempt channels per rule`)
  .default([]);

const common = { name: RuleName, actions: Actions, exemptRoles: ExemptRoles, exemptChannels: ExemptChannels };

/** A rule as admins define it; `kind` decides the shape of `config`. */
export const RuleDefinition = z.discriminatedUnion(
  'kind',
  [
    fields({ kind: z.literal('keyword'), config: KeywordConfig, ...common }, 'a rule'),
    fields({ kind: z.literal('regex'), config: RegexConfig, ...common }, 'a rule'),
    fields({ kind: z.literal('preset'), config: PresetConfig, ...common }, 'a rule'),
    fields({ kind: z.literal('mentions'), config: MentionsConfig, ...common }, 'a rule'),
    fields({ kind: z.literal('flood'), config: FloodConfig, ...common }, 'a rule'),
  ],
  { error: 'rule kind must be "keyword", "regex", "preset", "mentions" or "flood"' },
);
export type RuleDefinition = z.infer<typeof RuleDefinition>;

/** One problem with a rule: where (`config.keywords.2`) and what, in words. */
export type RuleProblem = { path: string; message: string };

export type RuleResult = { ok: true; rule: RuleDefinition } | { ok: false; problems: RuleProblem[] };

/** Checks a rule definition; every problem found is reported, in the order of the fields. */
export function parseRule(input: unknown): RuleResult {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    return {
      ok: false,
      problems: [{ path: '', message: 'a rule must be an object with a name, kind, config and actions' }],
    };
  }
  const r = RuleDefinition.safeParse(input);
  if (r.success) return { ok: true, rule: r.data };
  return {
    ok: false,
    problems: r.error.issues.map((issue) => ({ path: issue.path.map(String).join('.'), message: issue.message })),
  };
}

/** The stored columns of a rule that {@link parseRuleRow} reads back. */
export type RuleColumns = Pick<
  AutomodRuleRow,
  'name' | 'kind' | 'config' | 'actions' | 'exemptRoles' | 'exemptChannels'
>;

/** A checked rule as the `automod_rules` columns store it. */
export function ruleColumns(rule: RuleDefinition): RuleColumns {
  return {
    name: rule.name,
    kind: rule.kind,
    config: JSON.stringify(rule.config),
    actions: JSON.stringify(rule.actions),
    exemptRoles: JSON.stringify(rule.exemptRoles),
    exemptChannels: JSON.stringify(rule.exemptChannels),
  };
}

/** Reads a stored rule back, checking it again: a row written by hand or by another version may not hold. */
export function parseRuleRow(row: RuleColumns): RuleResult {
  const problems: RuleProblem[] = [];
  const json = (text: string, path: string): unknown => {
    try {
      return JSON.parse(text);
    } catch {
      problems.push({ path, message: `the stored ${path} is not valid JSON` });
      return undefined;
    }
  };
  const input = {
    name: row.name,
    kind: row.kind,
    config: json(row.config, 'config'),
    actions: json(row.actions, 'actions'),
    exemptRoles: json(row.exemptRoles, 'exemptRoles'),
    exemptChannels: json(row.exemptChannels, 'exemptChannels'),
  };
  if (problems.length > 0) return { ok: false, problems };
  return parseRule(input);
}
