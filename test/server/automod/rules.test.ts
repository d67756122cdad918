import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  AUTOMOD_LIMITS,
  MAX_RULES_PER_SERVER,
  parseKeyword,
  parseRule,
  parseRuleRow,
  type RuleProblem,
  ruleColumns,
} from '../../../src/server/automod/rules.js';

const block = [{ block: {} }];

/** The problems of a rule that must be refused. */
function problems(input: unknown): RuleProblem[] {
  const r = parseRule(input);
  assert.equal(r.ok, false, `expected ${JSON.stringify(input).slice(0, 200)} to be refused`);
  return r.ok ? [] : r.problems;
}

/** The one problem of a rule refused for one reason. */
function problem(input: unknown): RuleProblem {
  const found = problems(input);
  assert.equal(found.length, 1, JSON.stringify(found));
  return found[0] ?? { path: '', message: '' };
}

describe('rule validation', () => {
  test('a valid rule of each kind is accepted, with defaults filled in', () => {
    const rules = [
      { name: 'swears', kind: 'keyword', config: { keywords: ['cat', 'dog*'] }, actions: block },
      { name: 'links', kind: 'regex', config: { patterns: ['discord\\.gg/\\w+'] }, actions: ['hold'] },
      { name: 'clean', kind: 'preset', config: { preset: 'profanity', allow: ['scunthorpe'] }, actions: block },
      { name: 'pings', kind: 'mentions', config: { max: 5 }, actions: [{ timeout: { seconds: 600 } }] },
      { name: 'spam', kind: 'flood', config: { messages: 5, seconds: 10 }, actions: [{ alert: { channelId: 'c1' } }] },
    ];
    for (const input of rules) {
      const r = parseRule(input);
      assert.ok(r.ok, `${input.kind}: ${JSON.stringify(r)}`);
      assert.deepEqual(r.rule.exemptRoles, []);
      assert.deepEqual(r.rule.exemptChannels, []);
    }
    const kw = parseRule(rules[0]);
    assert.ok(kw.ok && kw.rule.kind === 'keyword');
    assert.deepEqual(kw.rule.config.allow, []);
  });

  test('a keyword without letters or digits is refused, by its place and text', () => {
    const p = problem({ name: 'r', kind: 'keyword', config: { keywords: ['ok', 'fine', '**'] }, actions: block });
    assert.equal(p.path, 'config.keywords.2');
    assert.equal(p.message, 'keyword 3 (`**`) has no letters or digits');
  });

  test('keyword and allowed word problems each point at their entry', () => {
    const found = problems({
      name: 'r',
      kind: 'keyword',
      config: { keywords: ['  ', 'x'.repeat(61), 'two\nlines'], allow: ['!!!'] },
      actions: block,
    });
    assert.deepEqual(
      found.map((p) => p.path),
      ['config.keywords.0', 'config.keywords.1', 'config.keywords.2', 'config.allow.0'],
    );
    assert.equal(found[0]?.message, 'keyword 1 is empty');
    assert.match(found[1]?.message ?? '', /^keyword 2 \(`x+…`\) is longer than 60 characters$/);
    assert.match(found[2]?.message ?? '', /^keyword 3 \(`two\nlines`\) must be one line/);
    assert.equal(found[3]?.message, 'allowed word 1 (`!!!`) has no letters or digits');
  });

  test('counts and sizes have limits', () => {
    const many = Array.from({ length: AUTOMOD_LIMITS.keywordsPerRule + 1 }, (_, i) => `word${i}x`);
    assert.equal(
      problem({ name: 'r', kind: 'keyword', config: { keywords: many }, actions: block }).message,
      'at most 500 keywords per rule',
    );
    const fine = Array.from({ length: AUTOMOD_LIMITS.keywordsPerRule }, (_, i) => `word${i}x`);
    assert.ok(parseRule({ name: 'r', kind: 'keyword', config: { keywords: fine }, actions: block }).ok);
    const patterns = Array.from({ length: 11 }, (_, i) => `p${i}`);
    assert.equal(
      problem({ name: 'r', kind: 'regex', config: { patterns }, actions: block }).message,
      'at most 10 regexes per rule',
    );
    assert.equal(
      problem({ name: 'r', kind: 'regex', config: { patterns: [`a${'b'.repeat(300)}`] }, actions: block }).message,
      'regex 1 is longer than 300 characters',
    );
    assert.equal(
      problem({ name: 'x'.repeat(33), kind: 'mentions', config: { max: 5 }, actions: block }).message,
      'the rule name must be 1 to 32 characters',
    );
    assert.equal(
      problem({ name: '  ', kind: 'mentions', config: { max: 5 }, actions: block }).message,
      'the rule name must be 1 to 32 characters',
    );
    const long = problem({
      name: 'r',
      kind: 'mentions',
      config: { max: 5 },
      actions: [{ block: { message: 'm'.repeat(151) } }],
    });
    assert.equal(long.path, 'actions.0.block.message');
    assert.equal(long.message, 'the block message must be at most 150 characters');
    assert.equal(MAX_RULES_PER_SERVER, 20);
  });

  test('a regex RE2 cannot compile is refused with what is wrong', () => {
    const found = problems({
      name: 'r',
      kind: 'regex',
      config: { patterns: ['fine', '(abc', '(\\w+)\\s+\\1', 'foo(?=bar)', '(?<!x)y', 'a{2,1}', 'x*'] },
      actions: block,
    });
    const byPath = Object.fromEntries(found.map((p) => [p.path, p.message]));
    assert.deepEqual(Object.keys(byPath), [
      'config.patterns.1',
      'config.patterns.2',
      'config.patterns.3',
      'config.patterns.4',
      'config.patterns.5',
      'config.patterns.6',
    ]);
    assert.equal(byPath['config.patterns.1'], 'regex 2 does not compile: missing closing )');
    assert.match(byPath['config.patterns.2'] ?? '', /^regex 3 uses a backreference \(`\\1`\)/);
    assert.match(byPath['config.patterns.3'] ?? '', /^regex 4 uses lookaround \(`\(\?=`\)/);
    assert.match(byPath['config.patterns.4'] ?? '', /^regex 5 uses lookaround \(`\(\?<!`\)/);
    assert.equal(byPath['config.patterns.5'], 'regex 6 does not compile: invalid repeat count at `{2,1}`');
    assert.equal(byPath['config.patterns.6'], 'regex 7 matches empty text, so it would match every message');
  });

  test('numbers of mentions, flood limits and timeouts have ranges', () => {
    assert.equal(
      problem({ name: 'r', kind: 'mentions', config: { max: 51 }, actions: block }).message,
      'the most mentions allowed must be a whole number from 1 to 50',
    );
    assert.equal(problem({ name: 'r', kind: 'mentions', config: { max: 2.5 }, actions: block }).path, 'config.max');
    const flood = problems({ name: 'r', kind: 'flood', config: { messages: 1, seconds: 301 }, actions: block });
    assert.deepEqual(
      flood.map((p) => [p.path, p.message]),
      [
        ['config.messages', 'the most messages allowed must be a whole number from 2 to 50'],
        ['config.seconds', 'the time they are counted over must be a whole number from 1 to 300 seconds'],
      ],
    );
    const timeout = problem({
      name: 'r',
      kind: 'mentions',
      config: { max: 5 },
      actions: [{ timeout: { seconds: AUTOMOD_LIMITS.timeoutSecondsMax + 1 } }],
    });
    assert.equal(timeout.path, 'actions.0.timeout.seconds');
    assert.match(timeout.message, /1 to 2419200 seconds \(28 days\)/);
    assert.ok(
      parseRule({
        name: 'r',
        kind: 'mentions',
        config: { max: 5 },
        actions: [{ timeout: { seconds: AUTOMOD_LIMITS.timeoutSecondsMax } }],
      }).ok,
    );
  });

  test('actions: at least one, block and hold exclude each other, each at most once, known forms only', () => {
    const base = { name: 'r', kind: 'mentions', config: { max: 5 } };
    assert.equal(
      problem({ ...base, actions: [] }).message,
      'a rule needs at least one action: block, hold, alert or timeout',
    );
    const both = problem({ ...base, actions: ['hold', { block: { message: 'no' } }] });
    assert.equal(both.path, 'actions');
    assert.match(both.message, /^a rule cannot both block and hold/);
    assert.equal(problem({ ...base, actions: ['hold', 'hold'] }).message, 'action 2 repeats "hold"');
    const unknown = problem({ ...base, actions: [{ ban: {} }] });
    assert.equal(unknown.path, 'actions.0');
    assert.match(unknown.message, /^an action must be "hold", \{"block"/);
    assert.equal(problem({ ...base, actions: [{ alert: {} }] }).path, 'actions.0.alert.channelId');
    assert.ok(
      parseRule({ ...base, actions: ['hold', { alert: { channelId: 'mods' } }, { timeout: { seconds: 60 } }] }).ok,
    );
  });

  test('unknown kinds, fields and roles are named', () => {
    assert.equal(
      problem({ name: 'r', kind: 'spam', config: {}, actions: block }).message,
      'rule kind must be "keyword", "regex", "preset", "mentions" or "flood"',
    );
    assert.equal(
      problem({ name: 'r', kind: 'keyword', config: { keywords: ['a'], words: [] }, actions: block }).message,
      'a keyword rule has no field "words"',
    );
    const role = problem({ name: 'r', kind: 'mentions', config: { max: 5 }, actions: block, exemptRoles: ['king'] });
    assert.equal(role.path, 'exemptRoles.0');
    assert.equal(role.message, 'an exempt role must be "owner", "admin", "moderator" or "member"');
    assert.equal(problem('keyword').message, 'a rule must be an object with a name, kind, config and actions');
  });

  test('a rule survives being stored and read back; a broken row is reported, not guessed at', () => {
    const r = parseRule({
      name: 'links',
      kind: 'regex',
      config: { patterns: ['t\\.me/\\w+'] },
      actions: ['hold', { alert: { channelId: 'mods' } }],
      exemptRoles: ['moderator'],
      exemptChannels: ['c9'],
    });
    assert.ok(r.ok);
    const back = parseRuleRow(ruleColumns(r.rule));
    assert.deepEqual(back, r);
    const broken = parseRuleRow({ ...ruleColumns(r.rule), config: '{"patterns": [' });
    assert.deepEqual(broken, {
      ok: false,
      problems: [{ path: 'config', message: 'the stored config is not valid JSON' }],
    });
  });
});

describe('keyword syntax', () => {
  test('stars at the ends say where in a word the keyword may sit', () => {
    assert.deepEqual(parseKeyword('cat'), { written: 'cat', text: 'cat', wordStart: true, wordEnd: true });
    assert.deepEqual(parseKeyword('cat*'), { written: 'cat*', text: 'cat', wordStart: true, wordEnd: false });
    assert.deepEqual(parseKeyword('*cat'), { written: '*cat', text: 'cat', wordStart: false, wordEnd: true });
    assert.deepEqual(parseKeyword(' *cat* '), { written: '*cat*', text: 'cat', wordStart: false, wordEnd: false });
  });

  test('keywords are normalised as messages are', () => {
    const k = parseKeyword('NaTTeRBäD');
    assert.ok(typeof k !== 'string');
    assert.equal(k.text, 'naterbad');
  });
});
