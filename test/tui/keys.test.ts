import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  type Bindings,
  bindingConflicts,
  DEFAULT_BINDINGS,
  describeBindings,
  formatBinding,
  functionKey,
  type InkKey,
  KEY_ACTIONS,
  keyHelp,
  matchKey,
  matchRawInput,
  parseBinding,
} from '../../src/tui/keys.js';

/** A key as Ink's useInput reports it; the flags below were recorded from ink 6 with ink-testing-library. */
function k(flags: Partial<InkKey> = {}): InkKey {
  return {
    upArrow: false,
    downArrow: false,
    pageUp: false,
    pageDown: false,
    return: false,
    escape: false,
    ctrl: false,
    meta: false,
    tab: false,
    shift: false,
    backspace: false,
    delete: false,
    ...flags,
  };
}

const empty = { composerEmpty: true };
const typing = { composerEmpty: false };

function binding(text: string) {
  const r = parseBinding(text);
  if (!r.ok) throw new Error(r.message);
  return r.binding;
}

describe('matchKey with the default bindings', () => {
  test('Ctrl letters; the line editor keeps its own (Ctrl-K opens the switcher when there is nothing after the cursor to cut)', () => {
    assert.equal(matchKey('c', k({ ctrl: true }), DEFAULT_BINDINGS, typing), 'quit');
    assert.equal(matchKey('k', k({ ctrl: true }), DEFAULT_BINDINGS, empty), 'switcher');
    assert.equal(matchKey('k', k({ ctrl: true }), DEFAULT_BINDINGS, typing), null, 'kills to the end of the line');
    // With a draft and the cursor at its end, there is nothing to cut: Ctrl-K is the switcher, never an edit.
    assert.equal(
      matchKey('k', k({ ctrl: true }), DEFAULT_BINDINGS, { composerEmpty: false, cursorAtEnd: true }),
      'switcher',
    );
    assert.equal(
      matchKey('f', k({ ctrl: true }), DEFAULT_BINDINGS, { composerEmpty: false, cursorAtEnd: true }),
      null,
      'only Ctrl-K: Ctrl-F at the end still moves (nowhere)',
    );
    assert.equal(matchKey('g', k({ ctrl: true }), DEFAULT_BINDINGS, typing), 'switcher');
    assert.equal(matchKey('p', k({ ctrl: true }), DEFAULT_BINDINGS, empty), null, 'the input history');
    assert.equal(matchKey('n', k({ ctrl: true }), DEFAULT_BINDINGS, empty), null, 'the input history');
    assert.equal(matchKey('t', k({ ctrl: true }), DEFAULT_BINDINGS, typing), 'toggleMembers');
    assert.equal(matchKey('f', k({ ctrl: true }), DEFAULT_BINDINGS, empty), 'search');
    assert.equal(matchKey('f', k({ ctrl: true }), DEFAULT_BINDINGS, typing), null, 'moves the cursor right');
    assert.equal(matchKey('s', k({ meta: true }), DEFAULT_BINDINGS, typing), 'search');
  });

  test('Alt (meta) arrows and letters', () => {
    // "\u001b\u001b[A" and "\u001b[1;3A" both arrive as upArrow + meta.
    assert.equal(matchKey('', k({ upArrow: true, meta: true })), 'prevConversation');
    assert.equal(matchKey('', k({ downArrow: true, meta: true })), 'nextConversation');
    assert.equal(matchKey('u', k({ meta: true })), 'nextUnread');
    assert.equal(matchKey('m', k({ meta: true })), 'nextMention');
    assert.equal(matchKey('U', k({ meta: true, shift: true })), null, 'Alt-Shift-U is another key');
    assert.equal(matchKey('u', k()), null, 'a plain u is typed');
  });

  test('Alt-F folds the server from an empty composer and is readline’s word move in a written one', () => {
    assert.equal(matchKey('f', k({ meta: true }), undefined, { composerEmpty: true }), 'toggleServer');
    assert.equal(matchKey('f', k({ meta: true }), undefined, { composerEmpty: false }), null);
    assert.equal(matchKey('b', k({ meta: true }), undefined, { composerEmpty: false }), null);
  });

  test('Ctrl-Up and Alt-K select a message, whatever the composer holds', () => {
    assert.equal(matchKey('', k({ upArrow: true, ctrl: true }), undefined, { composerEmpty: false }), 'select');
    assert.equal(matchKey('k', k({ meta: true }), undefined, { composerEmpty: false }), 'select');
    assert.equal(matchKey('', k({ upArrow: true }), undefined, { composerEmpty: true }), null, 'Up is the composer’s');
  });

  test('Enter sends; Alt-Enter and Ctrl-J insert a newline', () => {
    assert.equal(matchKey('\r', k({ return: true })), 'send');
    assert.equal(matchKey('\r', k({ return: true, meta: true })), 'newline');
    // Ctrl-J is a bare "\n" with no flag.
    assert.equal(matchKey('\n', k()), 'newline');
    // Under the kitty protocol it is "j" with ctrl.
    assert.equal(matchKey('j', k({ ctrl: true })), 'newline');
  });

  test('? is typed, even first in the composer; F1 is help', () => {
    assert.equal(matchKey('?', k(), DEFAULT_BINDINGS, empty), null);
    assert.equal(matchKey('?', k(), DEFAULT_BINDINGS, typing), null);
    assert.equal(matchKey('\u001bOP', k()), 'help');
    assert.equal(matchKey('\u001b[11~', k()), 'help');
    assert.equal(matchKey('OP', k()), 'help', 'with the ESC stripped');
    assert.equal(matchKey('[[A', k()), 'help', 'Linux console');
  });

  test('F1 from raw terminal data (Ink 6 hands useInput an empty input)', () => {
    assert.equal(matchKey('', k()), null);
    assert.equal(matchRawInput('\u001bOP'), 'help');
    assert.equal(matchRawInput('\u001b[11~'), 'help');
    assert.equal(matchRawInput('\u001bOQ'), null, 'F2 is unbound');
    assert.equal(matchRawInput('?'), null, 'only function keys');
    assert.equal(matchRawInput('\u000b'), null);
  });

  test('Up and Down are the composer’s (lines, then the input history); Alt-E edits the last message', () => {
    assert.equal(matchKey('', k({ upArrow: true }), DEFAULT_BINDINGS, empty), null);
    assert.equal(matchKey('', k({ downArrow: true }), DEFAULT_BINDINGS, empty), null);
    assert.equal(matchKey('e', k({ meta: true }), DEFAULT_BINDINGS, empty), 'editLast');
    assert.equal(matchKey('e', k({ meta: true }), DEFAULT_BINDINGS, typing), 'editLast');
  });

  test('PageUp, PageDown, Tab, Esc', () => {
    assert.equal(matchKey('', k({ pageUp: true })), 'pageUp');
    assert.equal(matchKey('', k({ pageDown: true })), 'pageDown');
    assert.equal(matchKey('', k({ tab: true })), 'complete');
    assert.equal(matchKey('', k({ tab: true, shift: true })), null, 'Shift-Tab is not Tab');
    // Ink reports Esc with meta set.
    assert.equal(matchKey('', k({ escape: true, meta: true })), 'close');
  });

  test('typed text and pastes are the composer’s', () => {
    assert.equal(matchKey('a', k(), DEFAULT_BINDINGS, empty), null);
    assert.equal(matchKey('hello', k()), null);
    assert.equal(matchKey('', k({ delete: true })), null);
    assert.equal(matchKey('a\nb', k()), null);
  });
});

describe('overrides', () => {
  test('a parsed binding replaces the action’s keys', () => {
    const bindings: Bindings = { ...DEFAULT_BINDINGS, switcher: [binding('ctrl+o')], help: [binding('f2')] };
    assert.equal(matchKey('o', k({ ctrl: true }), bindings), 'switcher');
    assert.equal(matchKey('k', k({ ctrl: true }), bindings), null);
    assert.equal(matchRawInput('\u001bOQ', bindings), 'help');
    assert.equal(matchKey('?', k(), bindings, empty), null);
  });

  test('the first action wins a shared key, and the conflict is reported', () => {
    const bindings: Bindings = { ...DEFAULT_BINDINGS, toggleMembers: [binding('ctrl+g')] };
    assert.equal(matchKey('g', k({ ctrl: true }), bindings), 'switcher');
    assert.deepEqual(bindingConflicts(bindings), ['Ctrl-G is bound to switcher and toggleMembers; switcher wins']);
    assert.deepEqual(bindingConflicts(DEFAULT_BINDINGS), []);
  });

  test('a bare printable key acts only in an empty composer', () => {
    const bindings: Bindings = { ...DEFAULT_BINDINGS, nextUnread: [binding('n')] };
    assert.equal(matchKey('n', k(), bindings, empty), 'nextUnread');
    assert.equal(matchKey('n', k(), bindings, typing), null);
  });
});

describe('parseBinding', () => {
  test('modifiers and keys, in several spellings', () => {
    assert.deepEqual(binding('ctrl+k'), { key: 'k', ctrl: true, meta: false, shift: false });
    assert.deepEqual(binding('Ctrl-K'), { key: 'k', ctrl: true, meta: false, shift: false });
    assert.deepEqual(binding('alt+up'), { key: 'up', ctrl: false, meta: true, shift: false });
    assert.deepEqual(binding('meta+Down'), { key: 'down', ctrl: false, meta: true, shift: false });
    assert.deepEqual(binding('option+enter'), { key: 'return', ctrl: false, meta: true, shift: false });
    assert.deepEqual(binding('shift+tab'), { key: 'tab', ctrl: false, meta: false, shift: true });
    assert.deepEqual(binding('F1'), { key: 'f1', ctrl: false, meta: false, shift: false });
    assert.deepEqual(binding('pgup'), { key: 'pageup', ctrl: false, meta: false, shift: false });
    assert.deepEqual(binding('esc'), { key: 'escape', ctrl: false, meta: false, shift: false });
    assert.deepEqual(binding('?'), { key: '?', ctrl: false, meta: false, shift: false });
    assert.deepEqual(binding('alt++'), { key: '+', ctrl: false, meta: true, shift: false });
  });

  test('what terminals cannot send is refused in words', () => {
    const refused = (text: string) => {
      const r = parseBinding(text);
      assert.equal(r.ok, false, text);
      return r.ok ? '' : r.message;
    };
    assert.match(refused('ctrl+m'), /as Enter/);
    assert.match(refused('ctrl+i'), /as Tab/);
    assert.match(refused('ctrl+1'), /letters and named keys/);
    assert.match(refused('shift+/'), /shifted character itself/);
    assert.match(refused('hyper+k'), /not a key/);
    assert.match(refused('ctrl+'), /not a key/);
    assert.match(refused(''), /not a key/);
  });
});

describe('describeBindings', () => {
  test('every action, in order, with its keys in words', () => {
    const help = describeBindings();
    assert.deepEqual(
      help.map((h) => h.action),
      [...KEY_ACTIONS],
    );
    const keysOf = (action: string) => help.find((h) => h.action === action)?.keys;
    assert.deepEqual(keysOf('help'), ['F1']);
    assert.deepEqual(keysOf('switcher'), ['Ctrl-K (nothing after the cursor)', 'Ctrl-G']);
    assert.deepEqual(keysOf('prevConversation'), ['Alt-Up']);
    assert.deepEqual(keysOf('newline'), ['Alt-Enter', 'Ctrl-J']);
    assert.deepEqual(keysOf('editLast'), ['Alt-E']);
    assert.deepEqual(keysOf('pageDown'), ['PageDown']);
    assert.ok(help.every((h) => h.description.length > 0));
  });

  test('formatBinding and functionKey', () => {
    assert.equal(formatBinding(binding('shift+tab')), 'Shift-Tab');
    assert.equal(formatBinding(binding('ctrl+alt+x')), 'Ctrl-Alt-X');
    assert.equal(functionKey('\u001b[24~'), 'f12');
    assert.equal(functionKey('x'), null);
  });
});

describe('keyHelp', () => {
  const group = (help: ReturnType<typeof keyHelp>, title: string) =>
    help.find((g) => g.title === title)?.rows.map((r) => r.keys) ?? [];

  test('every key under a heading: the actions, the composer’s editing, a selected message’s, the overlays’', () => {
    const help = keyHelp();
    assert.deepEqual(
      help.map((g) => g.title),
      ['General', 'Conversations', 'Scrolling', 'Composer', 'Selected message', 'Switcher and search', 'Moderation'],
    );
    // Each action of the key map, with its keys as describeBindings words them.
    const shown = help.flatMap((g) => g.rows.map((r) => r.keys));
    for (const h of describeBindings()) assert.ok(shown.includes(h.keys.join(', ')), `${h.action}: ${h.keys}`);
    assert.deepEqual(group(help, 'Composer'), [
      'Enter',
      'Alt-Enter, Ctrl-J',
      'Tab',
      'Alt-E',
      'Esc',
      'Left, Right, Ctrl-B, Ctrl-F (composer not empty)',
      'Alt-B, Alt-F (composer not empty), Ctrl-Left, Ctrl-Right, Alt-Left, Alt-Right',
      'Home (composer not empty), End (composer not empty), Ctrl-A, Ctrl-E',
      'Backspace, Ctrl-D',
      'Ctrl-W, Alt-Backspace, Alt-D',
      'Ctrl-U, Ctrl-K (text after the cursor)',
      'Ctrl-Y',
      'Up, Down',
      'Ctrl-P, Ctrl-N',
    ]);
    assert.deepEqual(group(help, 'Selected message'), [
      'Ctrl-Up, Alt-K',
      'Up, Down, k, j',
      'PageUp, PageDown',
      'Home, End, g, G',
      'e',
      'd, Delete',
      'r',
      'c, y',
      '!',
      'Esc, Enter, q',
    ]);
    assert.ok(group(help, 'Conversations').includes('Alt-1 … Alt-9'));
  });

  test('follows the key map: rebound actions show their keys, and a composer key an action took is left out', () => {
    const bindings: Bindings = {
      ...DEFAULT_BINDINGS,
      select: [binding('ctrl+o')],
      newline: [binding('alt+enter')],
      switcher: [binding('ctrl+g')],
      toggleMembers: [binding('ctrl+w')],
    };
    const help = keyHelp(bindings);
    assert.equal(group(help, 'Selected message')[0], 'Ctrl-O');
    const composer = group(help, 'Composer');
    assert.ok(composer.includes('Alt-Enter'));
    assert.ok(composer.includes('Alt-Backspace, Alt-D'), 'Ctrl-W toggles the member list now');
    assert.ok(composer.includes('Ctrl-U, Ctrl-K'), 'Ctrl-K no longer opens the switcher');
    assert.ok(group(help, 'Conversations').includes('Ctrl-W'));
  });
});
