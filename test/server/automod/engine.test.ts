import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  type AutomodMatch,
  type CheckContext,
  combineActions,
  compileRules,
  floodMatch,
  mentionCount,
  type RuleRow,
} from '../../../src/server/automod/engine.js';

let ids = 0;

/** A stored rule row, as the `automod_rules` table holds it. */
function row(
  kind: RuleRow['kind'],
  config: unknown,
  more: { name?: string; actions?: unknown; exemptRoles?: string[]; exemptChannels?: string[]; enabled?: boolean } = {},
): RuleRow {
  ids++;
  return {
    id: `rule-${ids}`,
    name: more.name ?? `rule ${ids}`,
    kind,
    config: JSON.stringify(config),
    actions: JSON.stringify(more.actions ?? [{ block: {} }]),
    exemptRoles: JSON.stringify(more.exemptRoles ?? []),
    exemptChannels: JSON.stringify(more.exemptChannels ?? []),
    enabled: more.enabled ?? true,
  };
}

const ctx: CheckContext = { channelId: 'general', role: 'member', mentionCount: 0 };

/** The names of the rules `text` matches. */
const names = (matches: AutomodMatch[]) => matches.map((m) => m.name);

/** Does a single keyword rule with these keywords (and allowed words) match `text`? */
function keywordMatches(keywords: string[], text: string, allow: string[] = []): boolean {
  return compileRules([row('keyword', { keywords, allow })]).check(text, ctx).length > 0;
}

describe('keyword rules', () => {
  test('wildcards follow Discord: whole word, prefix, suffix, anywhere', () => {
    assert.equal(keywordMatches(['cat'], 'a cat sat'), true);
    assert.equal(keywordMatches(['cat'], 'concatenate'), false);
    assert.equal(keywordMatches(['cat'], 'catalog'), false);
    assert.equal(keywordMatches(['cat*'], 'the catalog'), true);
    assert.equal(keywordMatches(['cat*'], 'bobcat'), false);
    assert.equal(keywordMatches(['*cat'], 'a bobcat'), true);
    assert.equal(keywordMatches(['*cat'], 'catalog'), false);
    assert.equal(keywordMatches(['*cat*'], 'concatenate'), true);
    assert.equal(keywordMatches(['cat'], 'CAT!'), true);
    assert.equal(keywordMatches(['bad phrase'], 'such a bad   phrase.'), true);
  });

  test('custom keywords match through the same normalisation as messages', () => {
    assert.equal(keywordMatches(['natterbad'], 'this is NATTERBAD!'), true);
    assert.equal(keywordMatches(['natterbad'], 'n4tt3rb4d'), true);
    assert.equal(keywordMatches(['natterbad'], 'nаttеrbаd'), true); // Cyrillic а and е
    assert.equal(keywordMatches(['badword7'], 'a badword7 here'), true);
    assert.equal(keywordMatches(['badword7'], 'b@dw0rd7'), true);
    assert.equal(keywordMatches(['fuck'], 'fück'), true);
    assert.equal(keywordMatches(['fuck'], 'ｆｕｃｋ'), true);
    assert.equal(keywordMatches(['fuck'], 'ʃṳ𝒸𝗄'), true);
    assert.equal(keywordMatches(['fuck'], 'fuuuuck off'), true);
    assert.equal(keywordMatches(['shit'], 'ѕhit'), true);
    assert.equal(keywordMatches(['good'], 'gooood morning'), true);
  });

  test('an allowed word never matches, though the keyword inside it would', () => {
    assert.equal(keywordMatches(['*shit*'], 'shiitake soup'), true);
    assert.equal(keywordMatches(['*shit*'], 'shiitake soup', ['shiitake']), false);
    assert.equal(keywordMatches(['*shit*'], 'shiitake soup, shit', ['shiitake']), true);
    assert.equal(keywordMatches(['*cat*'], 'concatenate', ['concat*']), false);
    assert.equal(keywordMatches(['*cat*'], 'the scatter plot', ['concat*']), true);
  });

  test('keywords of several rules are all found, each rule reporting its own', () => {
    const rules = compileRules([
      row('keyword', { keywords: ['cat*'] }, { name: 'cats' }),
      row('keyword', { keywords: ['catalog'] }, { name: 'catalogs' }),
      row('keyword', { keywords: ['dog'] }, { name: 'dogs' }),
    ]);
    const matches = rules.check('see the Catalog', ctx);
    assert.deepEqual(names(matches), ['cats', 'catalogs']);
    assert.equal(matches[0]?.trigger, 'cat*');
    assert.equal(matches[0]?.excerpt, 'Cat');
    assert.equal(matches[1]?.trigger, 'catalog');
    assert.equal(matches[1]?.excerpt, 'Catalog');
    assert.deepEqual(names(rules.check('hot dog', ctx)), ['dogs']);
    assert.deepEqual(rules.check('nothing to see', ctx), []);
  });

  test('the excerpt is the text as written, stretched letters included', () => {
    const [m] = compileRules([row('keyword', { keywords: ['fuck'] })]).check('oh FUUUCK!', ctx);
    assert.equal(m?.excerpt, 'FUUUCK');
  });
});

describe('regex rules', () => {
  test('patterns match case-insensitively on the message as written', () => {
    const rules = compileRules([row('regex', { patterns: ['discord\\.gg/\\w+', 'free\\s+nitro'] })]);
    const [m] = rules.check('Join DISCORD.GG/abc now', ctx);
    assert.equal(m?.trigger, 'discord\\.gg/\\w+');
    assert.equal(m?.excerpt, 'DISCORD.GG/abc');
    assert.equal(rules.check('get FREE   Nitro', ctx)[0]?.trigger, 'free\\s+nitro');
    assert.deepEqual(rules.check('a free hug', ctx), []);
  });

  test('a pattern that backtracks catastrophically elsewhere completes on a long message', () => {
    const rules = compileRules([row('regex', { patterns: ['(a+)+$'] })]);
    assert.deepEqual(rules.check(`${'a'.repeat(4999)}!`, ctx), []);
    assert.equal(rules.check('a'.repeat(5000), ctx).length, 1);
  });

  test('patterns of several rules, named groups included, are all checked', () => {
    const rules = compileRules([
      row('regex', { patterns: ['(?P<id>t\\.me)/\\w+'] }, { name: 'telegram' }),
      row('regex', { patterns: ['(?P<id>bit\\.ly)/\\w+'] }, { name: 'short links' }),
    ]);
    assert.deepEqual(names(rules.check('see bit.ly/x', ctx)), ['short links']);
    assert.deepEqual(names(rules.check('t.me/x and bit.ly/y', ctx)), ['telegram', 'short links']);
  });
});

describe('the profanity preset', () => {
  const preset = compileRules([row('preset', { preset: 'profanity' })]);

  test('catches the obfuscated spellings', () => {
    for (const text of ['f4ck', 'fück', 'ｆｕｃｋ', 'ʃṳ𝒸𝗄', 'ѕhit', 'what the fuuuuck']) {
      const [m] = preset.check(text, ctx);
      assert.ok(m, text);
      assert.equal(m.kind, 'preset');
    }
    assert.equal(preset.check('ѕhit', ctx)[0]?.trigger, 'shit');
  });

  test('catches mathematical, Fraktur, double-struck and monospace letters, whole words or one letter', () => {
    for (const text of ['𝒻𝓊𝒸𝓀', '𝔣𝔲𝔠𝔨', '𝕗𝕦𝕔𝕜', '𝚏𝚞𝚌𝚔', '𝖋𝖚𝖈𝖐', '𝓈𝒽𝒾𝓉', '𝒻uck off']) {
      assert.equal(preset.check(text, ctx)[0]?.kind, 'preset', text);
    }
    assert.deepEqual(preset.check('𝒽𝑒𝓁𝓁𝑜 𝓉𝒽𝑒𝓇𝑒', ctx), [], 'fancy letters alone are not profanity');
  });

  test('leaves ordinary words alone, shiitake and cumin included', () => {
    for (const text of ['shiitake risotto', 'Shiitakes are mushrooms', 'a pinch of cumin', 'assassin', 'class']) {
      assert.deepEqual(preset.check(text, ctx), [], text);
    }
  });

  test("a rule's allowed words are added to the built-in ones", () => {
    assert.equal(preset.check('I live in Penistone', ctx).length, 1);
    const allowing = compileRules([row('preset', { preset: 'profanity', allow: ['penistone'] })]);
    assert.deepEqual(allowing.check('I live in Penistone', ctx), []);
    assert.equal(allowing.check('shiitake, then shit', ctx)[0]?.trigger, 'shit');
  });
});

describe('mentions and flood rules', () => {
  test('more than the allowed number of mentions matches', () => {
    const rules = compileRules([row('mentions', { max: 3 })]);
    assert.deepEqual(rules.check('hi', { ...ctx, mentionCount: 3 }), []);
    const [m] = rules.check('hi', { ...ctx, mentionCount: 4 });
    assert.equal(m?.trigger, '4 mentions (at most 3)');
  });

  test('mentionCount counts distinct people as the protocol reads mentions', () => {
    assert.equal(mentionCount('@ann @bob @ann hi'), 2);
    assert.equal(mentionCount('mail me at a@b.example'), 0);
    assert.equal(mentionCount('cid: @dora look'), 2);
  });

  test('flood rules are handed to the caller, with exemptions applied', () => {
    const rules = compileRules([
      row('flood', { messages: 5, seconds: 10 }, { name: 'spam', exemptRoles: ['moderator'] }),
    ]);
    assert.equal(rules.empty, false);
    assert.deepEqual(rules.check('hello', ctx), []);
    const [flood] = rules.floodRules(ctx);
    assert.deepEqual(flood && { name: flood.name, messages: flood.messages, seconds: flood.seconds }, {
      name: 'spam',
      messages: 5,
      seconds: 10,
    });
    assert.deepEqual(rules.floodRules({ channelId: 'general', role: 'moderator' }), []);
    assert.ok(flood);
    assert.equal(floodMatch(flood, 6).trigger, '6 messages in 10 s (at most 5)');
  });
});

describe('compiled rules', () => {
  test('no rules, or only disabled ones, is one shared empty object that matches nothing', () => {
    const none = compileRules([]);
    assert.equal(none.empty, true);
    assert.equal(compileRules([row('keyword', { keywords: ['cat'] }, { enabled: false })]), none);
    assert.deepEqual(none.check('cat', ctx), []);
    assert.deepEqual(none.floodRules(ctx), []);
  });

  test('exempt roles and channels skip a rule', () => {
    const rules = compileRules([
      row('keyword', { keywords: ['cat'] }, { name: 'roles', exemptRoles: ['moderator', 'admin'] }),
      row('keyword', { keywords: ['cat'] }, { name: 'channels', exemptChannels: ['pets'] }),
    ]);
    assert.deepEqual(names(rules.check('cat', ctx)), ['roles', 'channels']);
    assert.deepEqual(names(rules.check('cat', { ...ctx, role: 'moderator' })), ['channels']);
    assert.deepEqual(names(rules.check('cat', { ...ctx, channelId: 'pets' })), ['roles']);
    assert.deepEqual(rules.check('cat', { ...ctx, role: 'admin', channelId: 'pets' }), []);
  });

  test('exempting a role exempts the roles above it', () => {
    const rules = compileRules([row('keyword', { keywords: ['cat'] }, { name: 'staff', exemptRoles: ['moderator'] })]);
    assert.deepEqual(names(rules.check('cat', ctx)), ['staff']);
    for (const role of ['moderator', 'admin', 'owner'] as const) {
      assert.deepEqual(rules.check('cat', { ...ctx, role }), [], role);
    }
  });

  test('a stored row that no longer validates is left out and reported', () => {
    const bad = row('regex', { patterns: ['(unclosed'] }, { name: 'broken' });
    const rules = compileRules([bad, row('keyword', { keywords: ['cat'] }, { name: 'cats' })]);
    assert.deepEqual(names(rules.check('cat (unclosed', ctx)), ['cats']);
    assert.deepEqual(
      rules.skipped.map((s) => [s.ruleId, s.name, s.problems[0]?.message]),
      [[bad.id, 'broken', 'regex 1 does not compile: missing closing )']],
    );
    const onlyBad = compileRules([bad]);
    assert.equal(onlyBad.empty, true);
    assert.equal(onlyBad.skipped.length, 1);
  });
});

describe('combineActions', () => {
  const rules = compileRules([
    row('keyword', { keywords: ['cat'] }, { name: 'hold cats', actions: ['hold', { alert: { channelId: 'mods' } }] }),
    row(
      'keyword',
      { keywords: ['dog'] },
      {
        name: 'block dogs',
        actions: [
          { block: { message: 'no dogs here' } },
          { alert: { channelId: 'mods' } },
          { timeout: { seconds: 60 } },
        ],
      },
    ),
    row('keyword', { keywords: ['*o*'] }, { name: 'long timeout', actions: [{ timeout: { seconds: 600 } }] }),
  ]);

  test('a hold alone holds, and alerts its channel', () => {
    const v = combineActions(rules.check('a cat', ctx));
    assert.deepEqual(v.hold?.name, 'hold cats');
    assert.equal(v.block, null);
    assert.deepEqual(v.alerts, [{ channelId: 'mods', ruleIds: [rules.check('a cat', ctx)[0]?.ruleId] }]);
    assert.equal(v.timeoutSeconds, 0);
  });

  test('a block wins over a hold, each channel is alerted once, the longest timeout applies', () => {
    const v = combineActions(rules.check('a cat and a dog', ctx));
    assert.deepEqual(v.block && { name: v.block.name, message: v.block.message }, {
      name: 'block dogs',
      message: 'no dogs here',
    });
    assert.equal(v.hold, null);
    assert.equal(v.alerts.length, 1);
    assert.equal(v.alerts[0]?.ruleIds.length, 2);
    assert.equal(v.timeoutSeconds, 600);
  });

  test('nothing matched, nothing to do', () => {
    assert.deepEqual(combineActions([]), { block: null, hold: null, alerts: [], timeoutSeconds: 0 });
  });
});
