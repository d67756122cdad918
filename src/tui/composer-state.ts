/**
 * Everything the composer remembers, without Ink: the text and cursor, a
 * draft per conversation (kept across switches and, through
 * {@link draftsToSave}, restarts), what was sent (Up/Down), the last kill
 * (Ctrl-Y), and the draft set aside while a message is being edited (Esc
 * brings it back). Pure functions; the app keeps one value and renders it.
 */
import {
  type EditOp,
  type Editor,
  edit,
  editorOf,
  emptyHistory,
  type History,
  insert,
  moveLine,
  remember,
  walkHistory,
} from './editor.js';

export type ComposerState = {
  readonly editor: Editor;
  readonly history: History;
  /** What the last kill removed. */
  readonly ring: string;
  /** Drafts of the other conversations, by conversation id. */
  readonly drafts: Readonly<Record<string, Editor>>;
  /** The conversation the editor's text belongs to. */
  readonly conversation: string | null;
  /** While an edit of a sent message is in the composer: the draft it replaced. */
  readonly setAside: Editor | null;
};

/** What a key does in the composer. */
export type ComposerKey =
  | { kind: 'edit'; op: EditOp }
  | { kind: 'insert'; text: string }
  | { kind: 'up' }
  | { kind: 'down' }
  | { kind: 'history'; step: -1 | 1 }
  | { kind: 'cancel' };

export function initialComposer(drafts: Record<string, string> = {}, history: string[] = []): ComposerState {
  const loaded: Record<string, Editor> = {};
  for (const [id, text] of Object.entries(drafts)) if (text !== '') loaded[id] = editorOf(text);
  return {
    editor: editorOf(''),
    history: emptyHistory(history),
    ring: '',
    drafts: loaded,
    conversation: null,
    setAside: null,
  };
}

/** Applies a key. `cancel` (Esc) ends an edit of a sent message, bringing back the draft; otherwise it does nothing. */
export function composerKey(s: ComposerState, k: ComposerKey): ComposerState {
  switch (k.kind) {
    case 'insert':
      return { ...s, editor: insert(s.editor, k.text), history: { ...s.history, index: null } };
    case 'edit': {
      const out = edit(s.editor, k.op, s.ring);
      return { ...s, editor: out.editor, ring: out.killed ?? s.ring };
    }
    case 'up':
    case 'down': {
      const moved = moveLine(s.editor, k.kind);
      if (moved) return { ...s, editor: moved };
      return composerKey(s, { kind: 'history', step: k.kind === 'up' ? -1 : 1 });
    }
    case 'history': {
      const walked = walkHistory(s.history, s.editor.text, k.step);
      if (!walked) return s;
      return { ...s, history: walked.history, editor: editorOf(walked.text) };
    }
    case 'cancel':
      if (!s.setAside) return s;
      return { ...s, editor: s.setAside, setAside: null };
  }
}

/** Replaces the text (a completion, a command's leftovers); the cursor goes to the end. */
export function withText(s: ComposerState, text: string): ComposerState {
  return { ...s, editor: editorOf(text) };
}

/** Puts an edit of a sent message in the composer, setting the draft aside for Esc. */
export function startEdit(s: ComposerState, text: string): ComposerState {
  return { ...s, setAside: s.setAside ?? s.editor, editor: editorOf(text) };
}

/**
 * After Enter: remembered in the history, and empty, or (after an edit of a
 * sent message) the draft the edit had set aside.
 */
export function sent(s: ComposerState, text: string): ComposerState {
  return { ...s, editor: s.setAside ?? editorOf(''), history: remember(s.history, text), setAside: null };
}

/**
 * The composer follows the open conversation: the text being written stays
 * with the conversation it was written in, and the new one's draft comes back.
 */
export function switchTo(s: ComposerState, conversation: string | null): ComposerState {
  if (conversation === s.conversation) return s;
  const drafts: Record<string, Editor> = { ...s.drafts };
  // A draft set aside by an edit is the one to keep, not the edit.
  const keep = s.setAside ?? s.editor;
  if (s.conversation !== null) {
    if (keep.text !== '') drafts[s.conversation] = keep;
    else delete drafts[s.conversation];
  }
  const next = conversation === null ? undefined : drafts[conversation];
  if (conversation !== null) delete drafts[conversation];
  return {
    ...s,
    conversation,
    drafts,
    editor: next ?? editorOf(''),
    setAside: null,
    history: { ...s.history, index: null },
  };
}

/** The drafts to keep on disk: every conversation's unsent text, the open one's included. */
export function draftsToSave(s: ComposerState): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [id, e] of Object.entries(s.drafts)) if (e.text !== '') out[id] = e.text;
  const current = s.setAside ?? s.editor;
  if (s.conversation !== null && current.text !== '') out[s.conversation] = current.text;
  return out;
}

/** The Ink key flags the composer reads. */
export type EditorInkKey = {
  readonly leftArrow: boolean;
  readonly rightArrow: boolean;
  readonly upArrow: boolean;
  readonly downArrow: boolean;
  readonly home?: boolean;
  readonly end?: boolean;
  readonly ctrl: boolean;
  readonly meta: boolean;
  readonly backspace: boolean;
  readonly delete: boolean;
};

/**
 * The composer's line-editing keys in words, as {@link composerKeyOf} reads
 * them, for the help. Keys are named as config.json names them where an
 * action could be bound to them (the help leaves out those an action takes).
 */
export const COMPOSER_KEYS: readonly { readonly keys: readonly string[]; readonly does: string }[] = [
  { keys: ['Left', 'Right', 'Ctrl-B', 'Ctrl-F'], does: 'Move by character (an emoji or accented letter is one)' },
  { keys: ['Alt-B', 'Alt-F', 'Ctrl-Left', 'Ctrl-Right', 'Alt-Left', 'Alt-Right'], does: 'Move by word' },
  { keys: ['Home', 'End', 'Ctrl-A', 'Ctrl-E'], does: 'Start or end of the line' },
  { keys: ['Backspace', 'Ctrl-D'], does: 'Erase the character before, or at, the cursor' },
  { keys: ['Ctrl-W', 'Alt-Backspace', 'Alt-D'], does: 'Cut the word before, or after, the cursor' },
  {
    keys: ['Ctrl-U', 'Ctrl-K'],
    does: 'Cut to the start, or the end, of the line (at its start or end: join the line above or below)',
  },
  { keys: ['Ctrl-Y'], does: 'Paste what was cut last' },
  { keys: ['Up', 'Down'], does: 'Move between the lines; on the first or last, walk through what you sent' },
  { keys: ['Ctrl-P', 'Ctrl-N'], does: 'Walk through what you sent' },
];

/**
 * The composer's keys, as readline has them: Left/Right (Ctrl-B/F), by word
 * with Alt-B/F or Ctrl/Alt-Left/Right, Home/End (Ctrl-A/E), Backspace (and
 * the Delete key, which most terminals send alike), Ctrl-D the character at
 * the cursor, Ctrl-W and Alt-Backspace the word before, Alt-D the word after,
 * Ctrl-U to the start of the line, Ctrl-K to its end, Ctrl-Y back, Up/Down
 * by line then through what was sent, Ctrl-P/N through what was sent. Null
 * for any other key.
 */
export function composerKeyOf(input: string, key: EditorInkKey): ComposerKey | null {
  const op = (o: EditOp): ComposerKey => ({ kind: 'edit', op: o });
  if (key.leftArrow) return op(key.ctrl || key.meta ? 'wordLeft' : 'left');
  if (key.rightArrow) return op(key.ctrl || key.meta ? 'wordRight' : 'right');
  if (key.upArrow && !key.ctrl && !key.meta) return { kind: 'up' };
  if (key.downArrow && !key.ctrl && !key.meta) return { kind: 'down' };
  if (key.home) return op('lineStart');
  if (key.end) return op('lineEnd');
  if (key.backspace || key.delete) return op(key.meta ? 'killWordBack' : 'backspace');
  if (key.ctrl) {
    const ctrl: Record<string, ComposerKey> = {
      a: op('lineStart'),
      e: op('lineEnd'),
      b: op('left'),
      f: op('right'),
      d: op('deleteForward'),
      w: op('killWordBack'),
      u: op('killToLineStart'),
      k: op('killToLineEnd'),
      y: op('yank'),
      p: { kind: 'history', step: -1 },
      n: { kind: 'history', step: 1 },
    };
    return ctrl[input] ?? null;
  }
  if (key.meta) {
    const meta: Record<string, ComposerKey> = { b: op('wordLeft'), f: op('wordRight'), d: op('killWordForward') };
    return meta[input] ?? null;
  }
  return null;
}
