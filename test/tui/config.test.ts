import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { DEFAULT_CONFIG, DEFAULT_THEME, loadConfig, parseConfig } from '../../src/tui/config.js';
import { DEFAULT_BINDINGS, matchKey } from '../../src/tui/keys.js';

const dir = mkdtempSync(join(tmpdir(), 'natter-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
function withFile(text: string): string {
  const d = join(dir, String(n++));
  mkdirSync(d);
  writeFileSync(join(d, 'config.json'), text);
  return d;
}

const ctrlKey = {
  upArrow: false,
  downArrow: false,
  pageUp: false,
  pageDown: false,
  return: false,
  escape: false,
  ctrl: true,
  meta: false,
  tab: false,
  shift: false,
  backspace: false,
  delete: false,
};

describe('loadConfig', () => {
  test('a missing file means the defaults, silently', () => {
    const loaded = loadConfig(join(dir, 'nowhere'), {});
    assert.deepEqual(loaded.config, DEFAULT_CONFIG);
    assert.deepEqual(loaded.warnings, []);
    assert.equal(loaded.path, join(dir, 'nowhere', 'config.json'));
  });

  test('settings from the file override the defaults', () => {
    const d = withFile(
      JSON.stringify({
        theme: { accent: 'magenta', self: '#88ccff' },
        timeFormat: '12h',
        notifications: {
          bell: false,
          highlights: ['deploy', 'outage'],
          command: 'notify-send natter',
          desktop: 'osc777',
        },
        keys: { switcher: 'ctrl+o', newline: ['ctrl+j', 'alt+enter'] },
        mouse: false,
      }),
    );
    const { config, warnings } = loadConfig(d, {});
    assert.deepEqual(warnings, []);
    assert.deepEqual(config.theme, { ...DEFAULT_THEME, accent: 'magenta', self: '#88ccff' });
    assert.equal(config.timeFormat, '12h');
    assert.deepEqual(config.notifications, {
      bell: false,
      onMention: true,
      onDirectMessage: true,
      onReview: true,
      highlights: ['deploy', 'outage'],
      command: 'notify-send natter',
      desktop: 'osc777',
    });
    assert.equal(config.color, true);
    assert.equal(config.mouse, false);
    assert.equal(matchKey('o', ctrlKey, config.keys), 'switcher');
    assert.equal(matchKey('k', ctrlKey, config.keys), null);
    assert.equal(config.keys.newline.length, 2);
    assert.equal(config.keys.quit, DEFAULT_BINDINGS.quit);
  });

  test('invalid JSON: defaults and one warning, no throw', () => {
    const { config, warnings } = loadConfig(withFile('{"theme": '), {});
    assert.deepEqual(config, DEFAULT_CONFIG);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0] ?? '', /not valid JSON/);
  });

  test('a file that is not an object', () => {
    for (const text of ['[1,2]', 'null', '"hi"', '3']) {
      const { config, warnings } = loadConfig(withFile(text), {});
      assert.deepEqual(config, DEFAULT_CONFIG, text);
      assert.match(warnings.join('\n'), /one JSON object/, text);
    }
  });

  test('wrong types: each bad setting is reported and keeps its default; the rest apply', () => {
    const d = withFile(
      JSON.stringify({
        theme: { accent: 'purple', mention: 42, muted: 'gray', sparkle: 'red' },
        timeFormat: 24,
        notifications: {
          bell: 'yes',
          onMention: false,
          loud: true,
          highlights: 'deploy',
          command: '',
          desktop: 'popup',
        },
        keys: { switcher: 'ctrl+m', help: 7, fly: 'ctrl+f', toggleMembers: 'ctrl+b' },
        extra: true,
        mouse: 'on',
      }),
    );
    const { config, warnings } = loadConfig(d, {});
    assert.deepEqual(config.theme, { ...DEFAULT_THEME, muted: 'gray' });
    assert.equal(config.timeFormat, '24h');
    assert.deepEqual(config.notifications, { ...DEFAULT_CONFIG.notifications, onMention: false });
    assert.equal(config.keys.switcher, DEFAULT_BINDINGS.switcher);
    assert.equal(config.keys.help, DEFAULT_BINDINGS.help);
    assert.equal(matchKey('b', ctrlKey, config.keys), 'toggleMembers');
    const text = warnings.join('\n');
    for (const expected of [
      /unknown setting "extra"/,
      /theme\.accent: "purple" is not a colour/,
      /theme\.mention: 42 is not a colour; expected a colour name \(black, /,
      /unknown setting "theme\.sparkle"/,
      /timeFormat: expected "24h" or "12h", not 24/,
      /notifications\.bell: expected true or false, not "yes"/,
      /unknown setting "notifications\.loud"/,
      /mouse: expected true or false, not "on"/,
      /notifications\.highlights: expected a list of up to 100 words, such as \["deploy", "outage"\], not "deploy"/,
      /notifications\.command: expected a shell command or null, not ""/,
      /notifications\.desktop: expected "off", "osc9" or "osc777", not "popup"/,
      /keys\.switcher: "ctrl\+m": terminals send that as Enter; keeping the default/,
      /keys\.help: expected a key/,
      /keys: unknown action "fly"/,
    ]) {
      assert.match(text, expected);
    }
    assert.equal(warnings.length, 14);
  });

  test('sections of the wrong shape', () => {
    const { config, warnings } = loadConfig(withFile('{"theme": [], "notifications": 1, "keys": "vim"}'), {});
    assert.deepEqual(config, DEFAULT_CONFIG);
    assert.equal(warnings.length, 3);
  });

  test('conflicting keys are reported', () => {
    const { warnings } = loadConfig(withFile('{"keys": {"toggleMembers": "ctrl+k"}}'), {});
    assert.deepEqual(warnings, ['keys: Ctrl-K is bound to switcher and toggleMembers; switcher wins']);
  });

  test('an unreadable path is a warning', () => {
    const d = join(dir, 'isdir');
    mkdirSync(join(d, 'config.json'), { recursive: true });
    const { config, warnings } = loadConfig(d, {});
    assert.deepEqual(config, DEFAULT_CONFIG);
    assert.match(warnings[0] ?? '', /cannot read .*config\.json \(EISDIR\)/);
  });
});

describe('colour', () => {
  test('NO_COLOR with any non-empty value turns colour off', () => {
    assert.equal(parseConfig(null, { NO_COLOR: '1' }).config.color, false);
    assert.equal(parseConfig(null, { NO_COLOR: 'false' }).config.color, false);
    assert.equal(parseConfig(null, { NO_COLOR: '' }).config.color, true);
    assert.equal(parseConfig(null, {}).config.color, true);
  });

  test('theme "none" turns colour off too, without a warning', () => {
    const { config, warnings } = parseConfig('{"theme": "none"}', {});
    assert.equal(config.color, false);
    assert.deepEqual(config.theme, DEFAULT_THEME);
    assert.deepEqual(warnings, []);
  });
});
