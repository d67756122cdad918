import { COMPOSER_KEYS } from './composer-state.js';

/** Everything a key can do in the terminal app, in the order matching tries them (the help groups them: {@link keyHelp}). */
export const KEY_ACTIONS = [
  'quit',
  'switcher',
  'search',
  'moderation',
  'help',
  'prevConversation',
  'nextConversation',
  'nextUnread',
  'nextMention',
  'nextActivity',
  'pageUp',
  'pageDown',
  'scrollHome',
  'scrollEnd',
  'newline',
  'send',
  'editLast',
  'select',
  'complete',
  'close',
  'toggleMembers',
  'toggleServer',
  'reconnect',
] as const;

/** A key action (not the reducer's `Action` of `state.ts`). */
export type KeyAction = (typeof KEY_ACTIONS)[number];

/** The part of Ink's `Key` (second argument of `useInput`'s handler) that matching reads. Ink's `Key` fits. */
export type InkKey = {
  readonly upArrow: boolean;
  readonly downArrow: boolean;
  readonly pageUp: boolean;
  readonly pageDown: boolean;
  readonly return: boolean;
  readonly escape: boolean;
  readonly ctrl: boolean;
  readonly meta: boolean;
  readonly tab: boolean;
  readonly shift: boolean;
  readonly backspace: boolean;
  readonly delete: boolean;
  readonly home?: boolean;
  readonly end?: boolean;
};

/**
 * One key chord. `key` is a named key (`up`, `down`, `pageup`, `pagedown`,
 * `return`, `escape`, `tab`, `backspace`, `delete`, `f1`…`f12`) or one printable
 * character (letters in lower case; `shift` says whether Shift is held for
 * letters and named keys, and is always false for other characters: `?` is `?`).
 * `meta` is Alt (Option on a Mac, with "use Option as Meta" set).
 */
export type Binding = { key: string; ctrl: boolean; meta: boolean; shift: boolean };

/** The chords of every action. */
export type Bindings = Record<KeyAction, readonly Binding[]>;

/** What matching needs to know of the composer. */
export type KeyContext = {
  composerEmpty: boolean;
  /** Nothing after the composer's cursor: Ctrl-K would have nothing to cut, so it opens the switcher. */
  cursorAtEnd?: boolean;
};

const NAMED_KEYS = new Set([
  'up',
  'down',
  'pageup',
  'pagedown',
  'home',
  'end',
  'return',
  'escape',
  'tab',
  'backspace',
  'delete',
  ...Array.from({ length: 12 }, (_, i) => `f${i + 1}`),
]);

const KEY_ALIASES: Record<string, string> = {
  enter: 'return',
  esc: 'escape',
  pgup: 'pageup',
  pgdn: 'pagedown',
  del: 'delete',
  space: ' ',
};

const MODIFIERS: Record<string, 'ctrl' | 'meta' | 'shift'> = {
  ctrl: 'ctrl',
  control: 'ctrl',
  alt: 'meta',
  meta: 'meta',
  option: 'meta',
  shift: 'shift',
};

/** Control characters that are other keys: the terminal sends Ctrl-M as Enter, Ctrl-I as Tab, Ctrl-[ as Esc. */
const CTRL_CLASHES: Record<string, string> = { m: 'Enter', i: 'Tab', '[': 'Esc', h: 'Backspace' };

/** Parses `ctrl+k`, `alt+up`, `Ctrl-K`, `shift+tab`, `f1`, `?`, `enter`… or says why not, in words. */
export function parseBinding(text: string): { ok: true; binding: Binding } | { ok: false; message: string } {
  const binding: Binding = { key: '', ctrl: false, meta: false, shift: false };
  let rest = text.trim();
  for (;;) {
    const m = /^([a-z]+)[+-](.+)$/i.exec(rest);
    const modifier = m?.[1] === undefined ? undefined : MODIFIERS[m[1].toLowerCase()];
    if (!m?.[2] || modifier === undefined) break;
    binding[modifier] = true;
    rest = m[2];
  }
  const lower = rest.toLowerCase();
  const named = KEY_ALIASES[lower] ?? lower;
  if (NAMED_KEYS.has(named) || named === ' ') {
    binding.key = named;
  } else if ([...rest].length === 1) {
    binding.key = lower;
    if (!/^[a-z]$/.test(lower) && binding.shift) {
      return {
        ok: false,
        message: `"${text}": write the shifted character itself (for example ? rather than shift+/)`,
      };
    }
  } else {
    return { ok: false, message: `"${text}" is not a key (try ctrl+k, alt+up, f2, pageup, ?)` };
  }
  if (binding.ctrl) {
    const clash = CTRL_CLASHES[binding.key];
    if (clash) return { ok: false, message: `"${text}": terminals send that as ${clash}` };
    if ([...binding.key].length === 1 && !/^[a-z]$/.test(binding.key)) {
      return { ok: false, message: `"${text}": Ctrl works with letters and named keys only` };
    }
  }
  return { ok: true, binding };
}

function chord(text: string): Binding {
  const r = parseBinding(text);
  if (!r.ok) throw new Error(r.message);
  return r.binding;
}

/**
 * The default key map. Alt-U / Alt-M were picked for next unread / next
 * mention (as in weechat's Alt-A family); Ctrl-J is the portable newline,
 * since most terminals send Alt-Enter but not Shift-Enter. Up, Down, Ctrl-P
 * and Ctrl-N belong to the composer (lines, then what was sent), so the
 * conversations are Alt-Up / Alt-Down; Ctrl-G opens the switcher whatever
 * the composer holds. Alt-R (review) opens what waits for a moderator.
 * `?` is not a key: a message may start with it.
 */
export const DEFAULT_BINDINGS: Bindings = {
  quit: [chord('ctrl+c')],
  switcher: [chord('ctrl+k'), chord('ctrl+g')],
  search: [chord('ctrl+f'), chord('alt+s')],
  moderation: [chord('alt+r')],
  help: [chord('f1')],
  prevConversation: [chord('alt+up')],
  nextConversation: [chord('alt+down')],
  nextUnread: [chord('alt+u')],
  nextMention: [chord('alt+m')],
  nextActivity: [chord('alt+a')],
  pageUp: [chord('pageup')],
  pageDown: [chord('pagedown')],
  scrollHome: [chord('alt+home'), chord('home')],
  scrollEnd: [chord('alt+end'), chord('end')],
  newline: [chord('alt+enter'), chord('ctrl+j')],
  send: [chord('enter')],
  editLast: [chord('alt+e')],
  select: [chord('ctrl+up'), chord('alt+k')],
  complete: [chord('tab')],
  close: [chord('escape')],
  toggleMembers: [chord('ctrl+t')],
  toggleServer: [chord('alt+f')],
  reconnect: [chord('ctrl+r')],
};

/**
 * Chords that are both an action and a line-editing key: the action from an
 * empty composer, the edit in a written one. Ctrl-K opens the switcher from
 * an empty composer and kills to the end of the line in a written one. Any
 * other chord bound to an action (in the config too) is the action, always.
 */
const SHARED_WITH_EDITOR: Partial<Record<KeyAction, readonly string[]>> = {
  switcher: ['ctrl+k'],
  search: ['ctrl+f'],
  scrollHome: ['home'],
  scrollEnd: ['end'],
  toggleServer: ['alt+f'],
};

/** A key that types a character, or one shared with the line editor, acts only in an empty composer. */
function onlyWhenEmpty(action: KeyAction, b: Binding): boolean {
  if (!b.ctrl && !b.meta && !NAMED_KEYS.has(b.key)) return true;
  const name = `${b.ctrl ? 'ctrl+' : ''}${b.meta ? 'alt+' : ''}${b.shift ? 'shift+' : ''}${b.key}`;
  return SHARED_WITH_EDITOR[action]?.includes(name) ?? false;
}

// F1-F12 as xterm, VT100 and the Linux console send them; Ink may strip the leading ESC.
const FUNCTION_KEYS: Record<string, string> = {
  OP: 'f1',
  OQ: 'f2',
  OR: 'f3',
  OS: 'f4',
  '[11~': 'f1',
  '[12~': 'f2',
  '[13~': 'f3',
  '[14~': 'f4',
  '[[A': 'f1',
  '[[B': 'f2',
  '[[C': 'f3',
  '[[D': 'f4',
  '[[E': 'f5',
  '[15~': 'f5',
  '[17~': 'f6',
  '[18~': 'f7',
  '[19~': 'f8',
  '[20~': 'f9',
  '[21~': 'f10',
  '[23~': 'f11',
  '[24~': 'f12',
};

/** `f1`… for a function key's escape sequence (with or without its ESC), else null. */
export function functionKey(sequence: string): string | null {
  const s = sequence.startsWith('\u001b') ? sequence.slice(1) : sequence;
  return FUNCTION_KEYS[s] ?? null;
}

const NO_KEY: InkKey = {
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
};

/** The chord Ink reported, or null for typed text (a paste, several characters). */
function pressed(input: string, key: InkKey): Binding | null {
  const fn = functionKey(input);
  if (fn) return { key: fn, ctrl: false, meta: false, shift: false };
  // Ctrl-J is a bare "\n" with no flag set, unlike Enter ("\r", key.return).
  if (input === '\n' && !key.return) return { key: 'j', ctrl: true, meta: key.meta, shift: false };
  const named = key.upArrow
    ? 'up'
    : key.downArrow
      ? 'down'
      : key.pageUp
        ? 'pageup'
        : key.pageDown
          ? 'pagedown'
          : key.home
            ? 'home'
            : key.end
              ? 'end'
              : key.return
                ? 'return'
                : key.escape
                  ? 'escape'
                  : key.tab
                    ? 'tab'
                    : key.backspace
                      ? 'backspace'
                      : key.delete
                        ? 'delete'
                        : null;
  // Ink reports Esc with meta set; a lone Esc is what anyone means.
  if (named) return { key: named, ctrl: key.ctrl, meta: named === 'escape' ? false : key.meta, shift: key.shift };
  if ([...input].length !== 1) return null;
  const lower = input.toLowerCase();
  const letter = /^[a-z]$/.test(lower);
  return {
    key: letter ? lower : input,
    ctrl: key.ctrl,
    meta: key.meta,
    shift: letter && (key.shift || input !== lower),
  };
}

function same(a: Binding, b: Binding): boolean {
  return a.key === b.key && a.ctrl === b.ctrl && a.meta === b.meta && a.shift === b.shift;
}

/**
 * The action for a key, as Ink's `useInput` reports it, or null when the key
 * is the composer's (typed text, Left, Home…). The first action in
 * {@link KEY_ACTIONS} order wins when several share a key.
 *
 * Ink 6 hands function keys to `useInput` as an empty input with no flag set,
 * so F1 cannot be told apart there: to get F1, also feed the raw stdin data to
 * {@link matchRawInput} (the input-event emitter of `useStdin`, or stdin's
 * `data`). `matchKey` still accepts the sequence itself as `input`.
 */
export function matchKey(
  input: string,
  key: InkKey,
  bindings: Bindings = DEFAULT_BINDINGS,
  context: KeyContext = { composerEmpty: false },
): KeyAction | null {
  const chordPressed = pressed(input, key);
  if (!chordPressed) return null;
  for (const action of KEY_ACTIONS) {
    for (const b of bindings[action]) {
      if (!same(b, chordPressed)) continue;
      if (context.composerEmpty || !onlyWhenEmpty(action, b)) return action;
      // Ctrl-K cuts to the end of the line; with nothing after the cursor to cut, it is the switcher.
      if (action === 'switcher' && b.ctrl && b.key === 'k' && context.cursorAtEnd === true) return action;
    }
  }
  return null;
}

/** The action for raw terminal input that Ink's `useInput` cannot show (function keys), or null. */
export function matchRawInput(data: string, bindings: Bindings = DEFAULT_BINDINGS): KeyAction | null {
  return functionKey(data) ? matchKey(data, NO_KEY, bindings) : null;
}

const LABELS: Record<string, string> = {
  up: 'Up',
  down: 'Down',
  pageup: 'PageUp',
  pagedown: 'PageDown',
  home: 'Home',
  end: 'End',
  return: 'Enter',
  escape: 'Esc',
  tab: 'Tab',
  backspace: 'Backspace',
  delete: 'Delete',
  ' ': 'Space',
};

/** `Ctrl-K`, `Alt-Up`, `Shift-Tab`, `F1`, `?`. */
export function formatBinding(b: Binding): string {
  const key = LABELS[b.key] ?? b.key.toUpperCase();
  return [b.ctrl ? 'Ctrl-' : '', b.meta ? 'Alt-' : '', b.shift ? 'Shift-' : '', key].join('');
}

const DESCRIPTIONS: Record<KeyAction, string> = {
  quit: 'Quit',
  switcher: 'Switch conversation (type to filter)',
  search: 'Search messages (Enter: search, then go to the chosen one)',
  moderation: 'What waits for your review (moderators, operators): held messages and open reports',
  help: 'Show keys and commands',
  prevConversation: 'Previous conversation',
  nextConversation: 'Next conversation',
  nextUnread: 'Next conversation with unread messages',
  nextMention: 'Next conversation that mentions you',
  nextActivity: 'Next conversation with activity: mentions first, then DMs, then unread messages',
  pageUp: 'Scroll up a page (one screen less a line)',
  pageDown: 'Scroll down a page',
  scrollHome: 'Scroll to the oldest loaded message (again: load older ones)',
  scrollEnd: 'Jump to the newest message',
  newline: 'New line in the message',
  send: 'Send the message or command',
  editLast: 'Edit your last message',
  select: 'Select a message, newest first (its keys are below)',
  complete:
    'Complete a name (with or without @; first in the message: "bob: "), #channel or /command (again: next match)',
  close: 'Close the overlay; cancel an edit (the draft comes back); end a selection',
  toggleMembers: 'Show or hide the member list',
  toggleServer: 'Fold or unfold the open server in the sidebar',
  reconnect: 'While waiting to reconnect: try now',
};

/** One line of the key help: the keys (`? (empty composer)`, `F1`) and what they do. */
export type BindingHelp = { action: KeyAction; keys: string[]; description: string };

/** The key map in words, for the help overlay and the docs. */
export function describeBindings(bindings: Bindings = DEFAULT_BINDINGS): BindingHelp[] {
  return KEY_ACTIONS.map((action) => ({
    action,
    keys: bindings[action].map(
      (b) =>
        `${formatBinding(b)}${
          action === 'switcher' && b.ctrl && b.key === 'k'
            ? ' (nothing after the cursor)'
            : onlyWhenEmpty(action, b)
              ? ' (empty composer)'
              : ''
        }`,
    ),
    description: DESCRIPTIONS[action],
  }));
}

/** Keys bound to more than one action, in words ("Ctrl-K is bound to switcher and help; switcher wins"). */
export function bindingConflicts(bindings: Bindings): string[] {
  const seen = new Map<string, KeyAction>();
  const out: string[] = [];
  for (const action of KEY_ACTIONS) {
    for (const b of bindings[action]) {
      const label = formatBinding(b);
      const owner = seen.get(label);
      if (owner === undefined) seen.set(label, action);
      else if (owner !== action) out.push(`${label} is bound to ${owner} and ${action}; ${owner} wins`);
    }
  }
  return out;
}

/** One heading of the key help, and its rows: the keys in words, and what they do. */
export type KeyHelpGroup = { title: string; rows: { keys: string; action: string }[] };

/** The keys of a selected message, as the app reads them in selection mode (not configurable). */
const SELECTION_KEYS: readonly { keys: string; action: string }[] = [
  {
    keys: 'Up, Down, k, j',
    action: 'The previous or next message (above the oldest loaded one, older ones are fetched)',
  },
  { keys: 'PageUp, PageDown', action: 'A screen of messages up or down' },
  { keys: 'Home, End, g, G', action: 'The oldest loaded message, the newest' },
  { keys: 'e', action: 'Edit it (your own): /edit N … comes into the composer' },
  { keys: 'd, Delete', action: 'Delete it, after a y to confirm' },
  { keys: 'r', action: 'Reply: a quote of its first line, mentioning its author' },
  { keys: 'c, y', action: 'Copy its text to the clipboard (OSC 52)' },
  { keys: '!', action: "Report it (someone else's): /report #N comes into the composer; type the reason" },
  { keys: 'Esc, Enter, q', action: 'Back to the composer (other text: typed there)' },
];

/** The keys of the moderation overlay (not configurable). */
const MODERATION_KEYS: readonly { keys: string; action: string }[] = [
  { keys: 'Up, Down, k, j, PageUp, PageDown, Home, End', action: 'Choose a held message or a report' },
  { keys: 'Enter', action: 'Open its conversation at the message' },
  { keys: 'a, r', action: 'A held message: approve it (it is posted), reject it' },
  {
    keys: 'd, t, n',
    action: 'A report: delete the message, time its author out for 10 min, close it with nothing done',
  },
  { keys: 'K, b', action: 'A report: kick, ban its author (after a y to confirm)' },
  { keys: 'Esc', action: 'Close' },
];

/** The keys of the switcher and search overlays (not configurable). */
const QUERY_KEYS: readonly { keys: string; action: string }[] = [
  { keys: 'Up, Down, PageUp, PageDown', action: 'Choose' },
  { keys: 'Enter', action: 'Go there (search: search first, then go to the chosen result)' },
  {
    keys: 'Left, Right, Alt-B, Alt-F, Home, End, Ctrl-A, Ctrl-E, Backspace, Ctrl-D, Ctrl-W, Ctrl-U, Ctrl-K',
    action: 'Edit the query where the cursor is, as in the composer',
  },
  { keys: 'Esc', action: 'Close' },
];

/**
 * A composer key as the help shows it, given the key map: left out when an
 * action always takes it; marked when an action takes it from an empty
 * composer (or, for Ctrl-K, with nothing after the cursor).
 */
function composerKeyLabel(label: string, bindings: Bindings): string | null {
  const parsed = parseBinding(label);
  // Ctrl-Left, Alt-Left…: no action can have them.
  if (!parsed.ok) return label;
  let shared: { action: KeyAction; b: Binding } | null = null;
  for (const action of KEY_ACTIONS) {
    for (const b of bindings[action]) {
      if (!same(b, parsed.binding)) continue;
      if (!onlyWhenEmpty(action, b)) return null;
      shared ??= { action, b };
    }
  }
  if (!shared) return label;
  return shared.action === 'switcher' && shared.b.ctrl && shared.b.key === 'k'
    ? `${label} (text after the cursor)`
    : `${label} (composer not empty)`;
}

/**
 * Every key of the app in words, under headings, for the help overlay: the
 * key map's actions (as configured), the composer's line editing (without
 * the keys an action takes from it), a selected message's keys, and the
 * switcher's and search's.
 */
export function keyHelp(bindings: Bindings = DEFAULT_BINDINGS): KeyHelpGroup[] {
  const described = new Map(describeBindings(bindings).map((h) => [h.action, h]));
  const row = (action: KeyAction, does?: string) => {
    const h = described.get(action);
    return { keys: h && h.keys.length > 0 ? h.keys.join(', ') : '(no key)', action: does ?? DESCRIPTIONS[action] };
  };
  const rows = (actions: readonly KeyAction[]) => actions.map((a) => row(a));
  const editing = COMPOSER_KEYS.flatMap((k) => {
    const keys = k.keys.flatMap((label) => composerKeyLabel(label, bindings) ?? []);
    return keys.length === 0 ? [] : [{ keys: keys.join(', '), action: k.does }];
  });
  return [
    { title: 'General', rows: rows(['help', 'close', 'quit', 'reconnect']) },
    {
      title: 'Conversations',
      rows: [
        ...rows([
          'switcher',
          'search',
          'prevConversation',
          'nextConversation',
          'nextUnread',
          'nextMention',
          'nextActivity',
        ]),
        { keys: 'Alt-1 … Alt-9', action: 'The first to ninth conversation of the sidebar' },
        ...rows(['toggleServer', 'toggleMembers']),
      ],
    },
    { title: 'Scrolling', rows: rows(['pageUp', 'pageDown', 'scrollHome', 'scrollEnd']) },
    {
      title: 'Composer',
      rows: [
        ...rows(['send', 'newline', 'complete', 'editLast']),
        row('close', 'Cancel an edit of a sent message: your draft comes back'),
        ...editing,
      ],
    },
    { title: 'Selected message', rows: [row('select'), ...SELECTION_KEYS] },
    { title: 'Switcher and search', rows: [...QUERY_KEYS] },
    { title: 'Moderation', rows: [row('moderation'), ...MODERATION_KEYS] },
  ];
}
