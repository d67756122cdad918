/**
 * What the chat screen's keys and commands do, without React or a terminal:
 * the composer (text, drafts, history), key routing for the overlays, the
 * message list and the composer, and carrying out what a typed line asks for.
 * The app renders what this holds and hands it every key; tests drive it
 * directly against a real server.
 */

import { plainMessage } from '../cli/errors.js';
import { isBlank } from '../protocol/blank.js';
import type { Attachment, SearchHit } from '../protocol/index.js';
import { COMMANDS, type Intent, parseCommand, type ReportIntent, runRequest, whoisText } from './commands.js';
import { type CompletionCandidates, complete, listPaths } from './completion.js';
import type { SwitcherItem } from './components/QuickSwitcher.js';
import { scrollOffset, sidebarRows } from './components/Sidebar.js';
import type { ComposerFile } from './composer-file.js';
import {
  type ComposerState,
  composerKey,
  composerKeyOf,
  initialComposer,
  sent,
  startEdit,
  switchTo,
  withText,
} from './composer-state.js';
import { type Config, previewRows } from './config.js';
import { type Controller, errorText } from './controller.js';
import { type Editor, edit, editorOf, insert } from './editor.js';
import { type ConfirmState, confirmKeys, confirmOf, screenWords } from './email-confirm.js';
import { type Files, isFile } from './files.js';
import { NO_KEY } from './key-chunks.js';
import { type InkKey, type KeyAction, matchKey } from './keys.js';
import {
  itemText,
  type ModerationItem,
  moderationItems,
  queueName,
  reviewScopes,
  selectedIndex,
} from './moderation.js';
import type { MouseEvent } from './mouse.js';
import { pastedLine, pastedPath, pastedText } from './paste.js';
import { nextActivity, nextMatching, sidebarOrder } from './reducer.js';
import { sanitize } from './sanitize.js';
import {
  type Line,
  type ModerationOverlayState,
  NEW_FROM_REACH,
  type SearchOverlayState,
  type State,
} from './state.js';
import type { Store } from './store.js';
import { fuzzyFilter } from './view/fuzzy.js';
import { layoutMessages, messageRows, pageScroll, rowsBelow, scrollView } from './view/message-layout.js';
import { groupList, serverList, shownNames } from './view/shown-names.js';

/** What a key handler reads of Ink's `Key`: {@link InkKey} and the arrows left and right. */
export type AppKey = InkKey & { readonly leftArrow: boolean; readonly rightArrow: boolean };

/** The narrowest terminal that shows the member list beside the messages. */
export const MEMBERS_MIN_COLUMNS = 90;

/** Where things are drawn, as the app last laid them out (for PageUp, and for the mouse). */
export type ListLayout = {
  columns: number;
  /** The rows the app draws in. */
  rows: number;
  /** The sidebar's columns, its border included. */
  sidebarWidth: number;
  /** The row the message list starts at. */
  listTop: number;
  listWidth: number;
  listHeight: number;
};

/** Rows one turn of the mouse wheel scrolls. */
const WHEEL_ROWS = 3;

/**
 * Switcher entries for every conversation, with their server's name for
 * channels; servers and groups that share a name are named apart as the
 * sidebar shows them (`general (acme·2f9k)`, `climbing·Nnfe`).
 */
export function switcherItems(state: State): SwitcherItem[] {
  const names = shownNames(state);
  return sidebarOrder(state).flatMap((id) => {
    const c = state.conversations[id];
    if (!c) return [];
    const server = c.serverId ? (names.get(c.serverId) ?? null) : null;
    const name = c.kind === 'group' ? (names.get(c.id) ?? c.name) : c.name;
    return [{ id, label: server ? `${name} (${server})` : name, kind: c.kind, unread: c.unread, mentions: c.mentions }];
  });
}

/** A switcher entry for a person I have no conversation with yet: choosing it starts one. */
const NEW_DM = 'user:';

/**
 * What the switcher offers for `query`: my conversations, and people I share
 * a server or group with but have no DM with yet (choosing one puts
 * `/dm NAME ` in the composer); when nothing matches, the typed name is
 * offered, for someone I share nothing with yet.
 */
export function switcherMatches(state: State, query: string): SwitcherItem[] {
  const dms = new Set(
    Object.values(state.conversations)
      .filter((c) => c.kind === 'dm')
      .map((c) => c.name.toLowerCase()),
  );
  const people = new Map<string, string>();
  for (const list of Object.values(state.members)) {
    for (const m of list) {
      const key = m.user.username.toLowerCase();
      if (m.user.id !== state.me?.id && !dms.has(key) && !people.has(key)) people.set(key, m.user.username);
    }
  }
  const newDm = (username: string, what: string): SwitcherItem => ({
    id: `${NEW_DM}${username}`,
    label: `${username}  (${what})`,
    kind: 'dm',
    unread: 0,
    mentions: 0,
  });
  const found = fuzzyFilter(
    [...switcherItems(state), ...[...people.values()].sort().map((u) => newDm(u, 'no conversation yet'))],
    query,
  );
  const typed = query.trim().replace(/^@/, '');
  if (found.length === 0 && /^[\p{L}\p{N}][\p{L}\p{M}\p{N}_.-]{1,31}$/u.test(typed) && typed !== state.me?.username) {
    found.push(newDm(typed, 'start a conversation'));
  }
  return found;
}

/**
 * The line-editing keys of an overlay's query, the composer's own (Left/Right, Alt-B/F, Home/End, Ctrl-A/E,
 * Backspace, Ctrl-D, Ctrl-W/U/K, Alt-D): the query edited, or null for other keys (Up, Enter, typed text).
 */
export function queryKey(query: Editor, input: string, key: AppKey): Editor | null {
  const k = composerKeyOf(input, key);
  // Nothing is cut to paste back here: Ctrl-Y has nothing to give.
  if (k?.kind !== 'edit' || k.op === 'yank') return null;
  return edit(query, k.op).editor;
}

/** An overlay's query as an editor: the cursor where it was left, or at the end. */
function queryEditor(o: { query: string; cursor?: number }): Editor {
  return editorOf(o.query, o.cursor ?? o.query.length);
}

export type ChatIntentsOptions = {
  store: Store;
  controller: Controller;
  config: Config;
  /** Leave the app (after the drafts are saved). */
  onQuit: () => void;
  /** The drafts and sent texts of the last run, and where to keep them (none: not kept). */
  composerFile?: ComposerFile;
  /** Writes to the terminal (the clipboard's OSC 52 sequence); none: copying says it cannot. */
  write?: (data: string) => void;
  /** Uploads, downloads and previews (none: the file commands and keys say they cannot). */
  files?: Files;
};

/** How much of a message a reply quotes. */
const QUOTE_CHARS = 80;

export class ChatIntents {
  private readonly store: Store;
  private readonly controller: Controller;
  private readonly config: Config;
  private readonly onQuit: () => void;
  private readonly composerFile: ComposerFile | undefined;
  private readonly write: ((data: string) => void) | undefined;
  private readonly files: Files | undefined;
  /** A pasted path of an existing file, offered for upload on the notice line: Enter uploads it, Esc pastes the text. */
  private offer: { path: string; text: string; question: string } | null = null;
  /** Several files of the selected message, and `o` or `s` pressed: a number picks which. */
  private picking: { seq: number; action: 'open' | 'save' } | null = null;
  /** A question on the notice line waiting for `y` (a delete in selection mode, `/transfer`): what `y` does, what any other key says. */
  private confirming: { question: string; yes: () => void; no: string } | null = null;
  private composerState: ComposerState;
  private readonly listeners = new Set<() => void>();
  private tabCycle: { base: string; index: number } | null = null;
  private lastTyping = 0;
  /** Set by the app on every render; until then, a 80x24 terminal's. */
  layout: ListLayout = { columns: 80, rows: 23, sidebarWidth: 18, listTop: 1, listWidth: 59, listHeight: 20 };

  constructor(options: ChatIntentsOptions) {
    this.store = options.store;
    this.controller = options.controller;
    this.config = options.config;
    this.onQuit = options.onQuit;
    this.composerFile = options.composerFile;
    this.write = options.write;
    this.files = options.files;
    this.composerState = initialComposer(options.composerFile?.saved.drafts, options.composerFile?.saved.history);
  }

  // ── The composer, as an external store for React ─────────────────────────

  /** The composer as it is now (its conversation may lag the open one until the next change). */
  readonly composer = (): ComposerState => this.composerState;

  readonly subscribe = (fn: () => void): (() => void) => {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  };

  /** The composer's text. */
  get text(): string {
    return this.composerState.editor.text;
  }

  /** Changes the composer; the text typed belongs to the conversation open when it was typed. */
  setComposer(f: (s: ComposerState) => ComposerState): void {
    const open = this.store.get().active;
    const base = this.composerState.conversation === open ? this.composerState : switchTo(this.composerState, open);
    const next = f(base);
    if (next === this.composerState) return;
    this.composerState = next;
    this.composerFile?.changed(next);
    for (const fn of this.listeners) fn();
  }

  /** Brings the open conversation's draft into the composer (after a switch). */
  followActive(): void {
    if (this.composerState.conversation !== this.store.get().active) this.setComposer((c) => c);
  }

  setText(text: string): void {
    this.setComposer((c) => withText(c, text));
  }

  quit(): void {
    this.composerFile?.flush();
    this.onQuit();
  }

  // ── Keys ─────────────────────────────────────────────────────────────────

  /** One key (or typed text, or a paste) as Ink reports it, split already (key-chunks.ts). */
  key(input: string, key: AppKey): void {
    const state = this.store.get();
    if (state.confirm && !state.confirm.hidden) {
      this.emailConfirmKey(state.confirm, input, key);
      return;
    }
    const overlay = state.overlay;
    if (overlay?.kind === 'switcher') {
      this.switcherKey(overlay, input, key);
      return;
    }
    if (overlay?.kind === 'search') {
      this.searchKey(overlay, input, key);
      return;
    }
    if (overlay?.kind === 'help') {
      this.helpKey(overlay.offset, input, key);
      return;
    }
    if (overlay?.kind === 'moderation') {
      if (!key.ctrl && !key.meta && !key.escape && [...input].length > 1 && !/[\r\n]/.test(input)) {
        // Letters that came in one read are keys of their own here: each acts.
        for (const ch of input) this.key(ch, key);
        return;
      }
      this.moderationKey(overlay, input, key);
      return;
    }
    // Keys that came in one read ("kkk" from a held key): one at a time while a message is selected or a
    // question waits, where every letter is a key of its own.
    const single = !key.ctrl && !key.meta && !key.escape && [...input].length > 1 && !/[\r\n]/.test(input);
    if (single && (this.confirming || state.selected)) {
      for (const ch of input) this.key(ch, key);
      return;
    }
    if (this.offer && this.offerKey(key)) return;
    if (this.confirming) {
      // "y" carries it out; any other key says no, and then does what it does.
      if (this.confirmKey(input, key)) return;
    }
    if (state.selected) {
      if (state.selected.conversationId === state.active) {
        this.selectionKey(state.selected.seq, input, key);
        return;
      }
      this.store.dispatch({ type: 'select', conversationId: state.selected.conversationId, seq: null });
    }
    // Alt-1 … Alt-9: the n-th conversation of the sidebar, as in weechat and irssi.
    if (key.meta && !key.ctrl && /^[1-9]$/.test(input)) {
      this.go(sidebarOrder(state)[Number(input) - 1] ?? null);
      return;
    }
    const action = matchKey(input, key, this.config.keys, {
      composerEmpty: this.text === '',
      cursorAtEnd: this.composerState.editor.cursor >= this.text.length,
    });
    if (action) {
      if (action !== 'complete') this.tabCycle = null;
      this.runKey(action);
      return;
    }
    this.tabCycle = null;
    const editing = composerKeyOf(input, key);
    if (editing) {
      this.setComposer((c) => composerKey(c, editing));
      return;
    }
    if (
      key.ctrl ||
      key.meta ||
      key.upArrow ||
      key.downArrow ||
      key.leftArrow ||
      key.rightArrow ||
      key.tab ||
      key.escape
    )
      return;
    if (input) {
      // Typed text (an Enter in the same read is a key of its own: key-chunks.ts); pastes come to paste().
      const typed = input.replace(/\r\n?/g, '\n').replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, '');
      this.insert(typed);
    }
  }

  /**
   * A bracketed paste (paste.ts): its text goes where typing goes. In the
   * composer its line breaks stay, one message however many lines; in a
   * search or the switcher it is one line. A paste answers no question and
   * selects nothing: it ends both first.
   */
  paste(text: string): void {
    const state = this.store.get();
    if (state.overlay) {
      const line = pastedLine(text);
      if (state.overlay.kind !== 'help' && line) this.key(line, NO_KEY);
      return;
    }
    const esc = { ...NO_KEY, escape: true };
    if (this.offer) this.offerKey(esc);
    if (this.confirming) this.key('', esc);
    if (this.store.get().selected) this.key('', esc);
    this.tabCycle = null;
    // A file dragged in (its path, alone): offered for upload rather than typed.
    const path = pastedPath(text);
    if (path !== null && this.files && state.active && isFile(this.files.resolve(path))) {
      const question = `upload ${this.files.shown(this.files.resolve(path))}? Enter: upload · Esc: paste it as text`;
      this.offer = { path, text, question };
      this.store.dispatch({ type: 'notice', text: question, level: 'info' });
      return;
    }
    this.insert(pastedText(text));
  }

  /**
   * A key while a pasted path is offered for upload: Enter uploads it to the
   * open conversation (what the composer holds is its message), Esc pastes
   * the path as text; any other key pastes it too, then does what it does.
   * True when the key only answered.
   */
  private offerKey(key: AppKey): boolean {
    const offer = this.offer;
    this.offer = null;
    if (!offer) return false;
    const asked = this.store.get().notice?.text === offer.question;
    if (asked) this.store.dispatch({ type: 'clear-notice' });
    if (asked && key.return && !key.meta) {
      const caption = this.text.startsWith('/') ? '' : this.text;
      if (caption !== '') this.setText('');
      void this.carryOut({ type: 'upload', path: offer.path, caption }).then((ok) => {
        if (!ok && caption !== '' && this.text === '') this.setText(caption);
      });
      return true;
    }
    this.insert(pastedText(offer.text));
    return key.escape || key.return;
  }

  /** Text into the composer at its cursor; in a conversation, others learn I am typing (at most every 2.5 s). */
  private insert(text: string): void {
    if (!text) return;
    this.setComposer((c) => composerKey(c, { kind: 'insert', text }));
    const active = this.store.get().active;
    if (active && !this.text.startsWith('/') && Date.now() - this.lastTyping > 2500) {
      this.lastTyping = Date.now();
      this.controller.typing(active);
    }
  }

  /** What a key bound to an action does. */
  runKey(action: KeyAction): void {
    const state = this.store.get();
    switch (action) {
      case 'quit':
        this.quit();
        return;
      case 'switcher':
        this.store.dispatch({ type: 'overlay', overlay: { kind: 'switcher', query: '', selected: 0 } });
        return;
      case 'search':
        this.openSearch('');
        return;
      case 'moderation':
        this.openModeration();
        return;
      case 'reconnect':
        this.reconnectNow();
        return;
      case 'help':
        this.store.dispatch({ type: 'overlay', overlay: { kind: 'help', offset: 0 } });
        return;
      case 'close':
        this.store.dispatch({ type: 'overlay', overlay: null });
        this.store.dispatch({ type: 'clear-notice' });
        // Esc also cancels an edit of a sent message, bringing back the draft it replaced,
        // and takes refused messages (`✗ not sent`) off the screen: their text came back to the composer.
        this.setComposer((c) => composerKey(c, { kind: 'cancel' }));
        if (state.active) this.store.dispatch({ type: 'dismiss-failed', conversationId: state.active });
        return;
      case 'prevConversation':
        this.go(nextMatching(state, () => true, -1));
        return;
      case 'nextConversation':
        this.go(nextMatching(state, () => true));
        return;
      case 'nextUnread':
        this.go(nextMatching(state, (c) => c.unread > 0));
        return;
      case 'nextMention':
        this.go(nextMatching(state, (c) => c.mentions > 0));
        return;
      case 'nextActivity':
        this.go(nextActivity(state));
        return;
      case 'pageUp':
      case 'pageDown':
        // One screen less a line: the line at the edge stays in view, to read on from.
        if (state.active) {
          const v = state.views[state.active];
          const from = v?.scrollBack ?? 0;
          const to = pageScroll(from, this.layout.listHeight, v?.loading ?? false, action === 'pageUp' ? 'up' : 'down');
          this.scrollBy(to - from, true);
        }
        return;
      case 'scrollHome':
        this.scrollBy(Number.MAX_SAFE_INTEGER);
        return;
      case 'scrollEnd':
        if (state.active) this.scrollTo(state.active, 0);
        return;
      case 'newline':
        this.setComposer((c) => composerKey(c, { kind: 'insert', text: '\n' }));
        return;
      case 'send':
        this.submit();
        return;
      case 'editLast':
        this.editLast();
        return;
      case 'select':
        this.startSelection();
        return;
      case 'complete':
        this.complete();
        return;
      case 'toggleMembers':
        this.store.dispatch({ type: 'toggle-members' });
        // Turned on where it cannot show: say why (the notice goes once the terminal is wide enough).
        if (this.store.get().showMembers && this.layout.columns < MEMBERS_MIN_COLUMNS) {
          this.store.dispatch({
            type: 'notice',
            text: `the member list needs a terminal at least ${MEMBERS_MIN_COLUMNS} columns wide (this one has ${this.layout.columns}); it shows once the terminal is wider`,
            level: 'info',
            about: 'members-width',
          });
        } else {
          this.store.dispatch({ type: 'settled', about: 'members-width' });
        }
        return;
      case 'toggleServer': {
        const serverId = state.active ? state.conversations[state.active]?.serverId : null;
        if (serverId) this.store.dispatch({ type: 'toggle-server', serverId });
        return;
      }
    }
  }

  private go(id: string | null): void {
    if (id?.startsWith(NEW_DM)) void this.carryOut({ type: 'open-dm', username: id.slice(NEW_DM.length), body: null });
    else if (id) void this.controller.open(id);
  }

  // ── Email confirmation ───────────────────────────────────────────────────

  /** A key on the confirmation screen: typing the code or a new address, or what it asks for. */
  private emailConfirmKey(c: ConfirmState, input: string, key: AppKey): void {
    // The quit key quits here too (a required address is no trap).
    if (matchKey(input, key, this.config.keys, { composerEmpty: true, cursorAtEnd: true }) === 'quit') {
      this.quit();
      return;
    }
    const step = confirmKeys(c, input, key);
    if (step.confirm !== c) this.store.dispatch({ type: 'confirm-edit', confirm: step.confirm });
    if (step.submit === 'verify') void this.confirmVerify(step.confirm.code);
    else if (step.submit === 'resend') void this.confirmMail(null);
    else if (step.submit === 'change') void this.confirmMail(step.confirm.newAddress.trim());
  }

  /** The code from the screen (or `/verify`): the screen goes once it is right, and the lists load. */
  private async confirmVerify(code: string): Promise<boolean> {
    const required = this.store.get().confirm?.required === true;
    this.store.dispatch({ type: 'confirm-result', result: { kind: 'busy' } });
    try {
      const { user } = await this.controller.client.request('email.verify', { code });
      this.store.dispatch({ type: 'confirmed', address: user.email ?? '' });
      // Until now the server refused everything else: what it refused loads now.
      if (required) void this.controller.reload();
      return true;
    } catch (err) {
      this.confirmRefused(err);
      return false;
    }
  }

  /** A new code mailed: to the same address (`address` null), or to another one, which the screen then waits for. */
  private async confirmMail(address: string | null): Promise<boolean> {
    this.store.dispatch({ type: 'confirm-result', result: { kind: 'busy' } });
    try {
      const { user } =
        address === null
          ? await this.controller.client.request('email.resend', {})
          : await this.controller.client.request('email.set', { address });
      this.store.dispatch({
        type: 'confirm-result',
        result: { kind: 'mailed', address: user.pendingEmail ?? address ?? '', retryAt: null },
      });
      return true;
    } catch (err) {
      this.confirmRefused(err);
      return false;
    }
  }

  /** A refusal on the confirmation screen, in words, with when to ask again when the server says. */
  private confirmRefused(err: unknown): void {
    const wait = (err as { retryAfterMs?: unknown }).retryAfterMs;
    const error = screenWords(err instanceof Error && err.name === 'NatterError' ? plainMessage(err) : errorText(err));
    const retryAt = typeof wait === 'number' ? Date.now() + wait : null;
    this.store.dispatch({ type: 'confirm-result', result: { kind: 'refused', error, retryAt } });
  }

  /**
   * `/email ADDRESS`, `/verify CODE`, `/resend`: through the confirmation
   * screen, which opens (or comes back) for the address waiting for its code.
   */
  private async emailCommand(
    op: 'email.set' | 'email.verify' | 'email.resend',
    address: string | null,
    intent: { params: unknown },
  ): Promise<boolean> {
    const state = this.store.get();
    if (op === 'email.verify') {
      const code = (intent.params as { code: string }).code;
      if (!state.confirm) {
        try {
          const { user } = await this.controller.client.request('email.verify', { code });
          this.store.dispatch({ type: 'confirmed', address: user.email ?? '' });
          return true;
        } catch (err) {
          this.store.dispatch({ type: 'notice', text: errorText(err), level: 'error' });
          return false;
        }
      }
      this.store.dispatch({ type: 'confirm-show' });
      this.store.dispatch({ type: 'confirm-edit', confirm: { ...state.confirm, hidden: false, field: 'code', code } });
      return this.confirmVerify(code);
    }
    try {
      const { user } =
        op === 'email.set' && address !== null
          ? await this.controller.client.request('email.set', { address })
          : await this.controller.client.request('email.resend', {});
      const next = confirmOf({ pendingEmail: user.pendingEmail ?? null, confirmBy: user.confirmBy });
      if (next) this.store.dispatch({ type: 'confirm-needed', confirm: { ...next, hidden: false } });
      this.store.dispatch({ type: 'confirm-show' });
      this.store.dispatch({
        type: 'confirm-result',
        result: { kind: 'mailed', address: user.pendingEmail ?? address ?? '', retryAt: null },
      });
      return true;
    } catch (err) {
      this.store.dispatch({ type: 'notice', text: errorText(err), level: 'error' });
      return false;
    }
  }

  private switcherKey(
    switcher: { query: string; cursor?: number; selected: number },
    input: string,
    key: AppKey,
  ): void {
    const state = this.store.get();
    const close = () => this.store.dispatch({ type: 'overlay', overlay: null });
    if (key.escape) {
      close();
      return;
    }
    if (key.ctrl && input === 'c') {
      this.quit();
      return;
    }
    const matches = switcherMatches(state, switcher.query);
    if (key.return) {
      this.go(matches[switcher.selected]?.id ?? null);
      close();
      return;
    }
    if (key.upArrow || key.downArrow || key.pageUp || key.pageDown) {
      const max = Math.max(0, matches.length - 1);
      // A page is the list's rows as the switcher draws them (at most 20 rows, 4 of them its frame and query).
      const page = Math.max(1, Math.min(this.layout.rows, 20) - 4);
      const step = key.upArrow ? -1 : key.downArrow ? 1 : key.pageUp ? -page : page;
      const selected = Math.max(0, Math.min(max, switcher.selected + step));
      this.store.dispatch({ type: 'overlay', overlay: { kind: 'switcher', ...switcher, selected } });
      return;
    }
    const edited = queryKey(queryEditor(switcher), input, key);
    if (edited !== null) {
      // A move of the cursor keeps the chosen match; an edit starts from the best one.
      const selected = edited.text === switcher.query ? switcher.selected : 0;
      this.store.dispatch({
        type: 'overlay',
        overlay: { kind: 'switcher', query: edited.text, cursor: edited.cursor, selected },
      });
      return;
    }
    if (input && !key.ctrl && !key.meta) {
      // Fast typing can bring the Enter in the same chunk as the letters.
      const cr = input.indexOf('\r');
      const typed = (cr === -1 ? input : input.slice(0, cr)).replace(/[\u0000-\u001f\u007f]/g, '');
      const query = insert(queryEditor(switcher), typed);
      if (cr !== -1) {
        this.go(switcherMatches(state, query.text)[0]?.id ?? null);
        close();
        return;
      }
      this.store.dispatch({
        type: 'overlay',
        overlay: { kind: 'switcher', query: query.text, cursor: query.cursor, selected: 0 },
      });
      return;
    }
  }

  private helpKey(offset: number, input: string, key: AppKey): void {
    if (key.ctrl && input === 'c') {
      this.quit();
      return;
    }
    // The key that opened it (F1 reaches useInput as nothing at all) does not close it.
    if (input === '' && !Object.values(key).some((v) => v === true)) return;
    const step = key.downArrow ? 1 : key.upArrow ? -1 : key.pageDown ? 10 : key.pageUp ? -10 : 0;
    if (step !== 0) {
      this.store.dispatch({ type: 'overlay', overlay: { kind: 'help', offset: Math.max(0, offset + step) } });
      return;
    }
    this.store.dispatch({ type: 'overlay', overlay: null });
  }

  /** Keys in the search overlay: typing edits the query, Enter searches (or goes to the chosen hit), ↑↓ choose. */
  private searchKey(o: SearchOverlayState, input: string, key: AppKey): void {
    const overlay = (next: SearchOverlayState) => this.store.dispatch({ type: 'overlay', overlay: next });
    if (key.ctrl && input === 'c') {
      this.quit();
      return;
    }
    if (key.escape) {
      this.store.dispatch({ type: 'overlay', overlay: null });
      return;
    }
    const hits = o.hits ?? [];
    if (key.upArrow || key.downArrow || key.pageUp || key.pageDown) {
      const down = key.downArrow || key.pageDown;
      // Down past the last hit of a page brings the next page.
      if (down && o.selected === hits.length - 1 && o.next !== null && !o.loading) {
        void this.moreHits(o);
        return;
      }
      const step = (key.pageUp || key.pageDown ? 10 : 1) * (down ? 1 : -1);
      const selected = Math.max(0, Math.min(hits.length - 1, o.selected + step));
      overlay({ ...o, selected });
      return;
    }
    if (key.return || input === '\r') {
      const hit = hits[o.selected];
      if (hit && o.searched === o.query) void this.goToHit(hit);
      else if (!isBlank(o.query)) void this.runSearch(o);
      return;
    }
    const edited = queryKey(queryEditor(o), input, key);
    if (edited !== null) {
      overlay({ ...o, query: edited.text, cursor: edited.cursor });
      return;
    }
    if (input && !key.ctrl && !key.meta) {
      // Fast typing can bring the Enter in the same chunk as the letters.
      const cr = input.indexOf('\r');
      const typed = (cr === -1 ? input : input.slice(0, cr)).replace(/[\u0000-\u001f\u007f]/g, '');
      const query = insert(queryEditor(o), typed);
      const next = { ...o, query: query.text, cursor: query.cursor };
      overlay(next);
      if (cr !== -1 && !isBlank(next.query)) void this.runSearch(next);
    }
  }

  /** Tab: completes the word before the cursor (names, channels, commands); Tab again cycles. */
  private complete(): void {
    // Completion works on the word before the cursor at the end of the text.
    if (this.composerState.editor.cursor !== this.text.length) return;
    const base = this.tabCycle?.base ?? this.text;
    const index = this.tabCycle ? this.tabCycle.index + 1 : 0;
    const done = complete(base, true, this.completions(), index);
    if (done) {
      this.setText(done.text);
      // The only candidate: the next Tab goes on from it (into a directory it completed to).
      this.tabCycle = done.candidates.length === 1 ? null : { base, index };
    }
  }

  /** What Tab completes to in the open conversation: its people, its server's channels, the commands. */
  private completions(): CompletionCandidates {
    const state = this.store.get();
    const active = state.active ? state.conversations[state.active] : undefined;
    const scope = active?.kind === 'channel' ? active.serverId : active?.id;
    const members = (scope && state.members[scope]) || [];
    const channels = active?.serverId
      ? (state.servers[active.serverId]?.channelIds ?? []).map((id) => state.conversations[id]?.name ?? '')
      : [];
    return {
      // Everyone but me: nobody completes their own name.
      usernames: [...new Set(members.map((m) => m.user.username))].filter((n) => n !== state.me?.username),
      channels,
      commands: COMMANDS.map((c) => c.name),
      ...(this.files
        ? { paths: (typed: string) => listPaths(typed, this.files?.where ?? { home: '/', cwd: '/' }) }
        : {}),
    };
  }

  // ── What a typed line asks for ───────────────────────────────────────────

  /** Enter: what the composer holds is sent or carried out. */
  submit(): void {
    const state = this.store.get();
    const input = this.text;
    // What is typed in a conversation goes to that conversation, "@name …" included:
    // a DM is opened only on purpose (/dm, Ctrl-K).
    const names = shownNames(state);
    const intent = parseCommand(input, {
      active: (state.active ? state.conversations[state.active] : undefined) ?? null,
      serverName: (id) => names.get(id) ?? null,
      servers: serverList(state),
      groups: groupList(state),
      invitations: Object.values(state.invitations),
    });
    this.store.dispatch({ type: 'clear-notice' });
    if (intent.type === 'none') {
      this.setText('');
      return;
    }
    // Enter empties the composer at once and remembers the line (an edit gives back the draft it set aside),
    // whichever conversation the command then opens.
    this.followActive();
    const origin = this.composerState.conversation;
    this.setComposer((c) => sent(c, input));
    const left = this.composerState.editor;
    void this.carryOut(intent).then((ok) => {
      if (ok || intent.type === 'send') return;
      // Refused: the line comes back to be fixed, if the composer is as Enter left it (the command did not fill it).
      const c = this.composerState;
      if (c.conversation !== origin || c.editor !== left) return;
      this.setComposer((s) => (left.text === '' ? withText(s, input) : startEdit(s, input)));
    });
  }

  /** Carries out what a typed line asks for; false when it did not happen (the composer keeps the text). */
  async carryOut(intent: Intent): Promise<boolean> {
    const state = this.store.get();
    const notice = (text: string, level: 'info' | 'error') => this.store.dispatch({ type: 'notice', text, level });
    switch (intent.type) {
      case 'none':
        return true;
      case 'send': {
        if (!state.active) {
          notice('open a conversation first (Ctrl-K)', 'error');
          return false;
        }
        const conversation = state.active;
        void this.controller.send(conversation, intent.body, intent.kind).then((ok) => {
          // Refused: the text comes back to the composer (an action as the /me that sent it), if nothing else was typed there since.
          const c = this.composerState;
          if (!ok && c.conversation === conversation && c.editor.text === '')
            this.setText(intent.kind === 'action' ? `/me ${intent.body}` : intent.body);
        });
        return true;
      }
      case 'request':
      case 'request-user':
        if (
          intent.type === 'request' &&
          (intent.op === 'email.set' || intent.op === 'email.verify' || intent.op === 'email.resend')
        )
          return this.emailCommand(intent.op, intent.op === 'email.set' ? intent.params.address : null, intent);
        try {
          const done = await runRequest(intent, (op, params) => this.controller.client.request(op, params));
          // What was just created or joined opens, so the next message goes there.
          if (done.open !== null) await this.controller.openNew(done.open);
          notice(done.notice, 'info');
          return true;
        } catch (err) {
          notice(errorText(err), 'error');
          return false;
        }
      case 'open-dm': {
        const dm = Object.values(state.conversations).find(
          (c) => c.kind === 'dm' && c.name.toLowerCase() === intent.username.toLowerCase(),
        );
        if (intent.body !== null) {
          // Sent in the open DM, or (the first message) through the server, which starts it.
          if (dm) {
            await this.controller.open(dm.id);
            void this.controller.send(dm.id, intent.body);
            return true;
          }
          return this.controller.sendDirect(intent.username, intent.body);
        }
        if (dm) {
          void this.controller.open(dm.id);
          return true;
        }
        notice(
          `no conversation with ${intent.username} yet: type your first message after "/dm ${intent.username} "`,
          'info',
        );
        this.setText(`/dm ${intent.username} `);
        return false;
      }
      case 'edit-last':
        this.editLast();
        return false;
      case 'edit':
      case 'delete': {
        // A message not loaded here is looked up by its number.
        const loaded = state.views[intent.conversationId]?.lines.find((l) => l.seq === intent.seq && l.id)?.id;
        let messageId = loaded ?? null;
        if (messageId === null) {
          try {
            const page = await this.controller.client.request('messages.history', {
              conversationId: intent.conversationId,
              after: intent.seq - 1,
              limit: 1,
            });
            const found = page.messages[0];
            messageId = found?.seq === intent.seq && found.deletedAt === null ? found.id : null;
          } catch (err) {
            notice(errorText(err), 'error');
            return false;
          }
        }
        if (messageId === null) {
          notice(`there is no message #${intent.seq} here (or it was deleted)`, 'error');
          return false;
        }
        return intent.type === 'edit'
          ? await this.controller.request('messages.edit', { messageId, body: intent.body }, `edited #${intent.seq}`)
          : await this.controller.request('messages.delete', { messageId }, `deleted #${intent.seq}`);
      }
      case 'report':
        return this.report(intent);
      case 'upload': {
        if (!this.files) {
          notice('files cannot be sent from here', 'error');
          return false;
        }
        if (!state.active) {
          notice('open a conversation first (Ctrl-K)', 'error');
          return false;
        }
        return this.files.upload(state.active, intent.path, intent.caption);
      }
      case 'avatar':
        if (!this.files) {
          notice('files cannot be sent from here', 'error');
          return false;
        }
        return this.files.setAvatar(intent.path);
      case 'whois':
        try {
          const { user } = await this.controller.client.request('users.get', { username: intent.username });
          this.store.dispatch({
            type: 'notice',
            text: whoisText(user),
            level: 'info',
            ...(user.avatar ? { picture: user.avatar.url } : {}),
          });
          return true;
        } catch (err) {
          notice(errorText(err), 'error');
          return false;
        }
      case 'confirm':
        this.ask(intent.question, intent.no, () => void this.carryOut(intent.yes));
        return true;
      case 'search':
        this.openSearch(intent.query);
        return true;
      case 'reconnect':
        this.reconnectNow();
        return true;
      case 'names': {
        const open = state.active ? state.conversations[state.active] : undefined;
        const scope = open?.kind === 'channel' ? open.serverId : open?.id;
        const list = (scope && state.members[scope]) || [];
        const sorted = [...list].sort(
          (a, b) =>
            Number(Boolean(state.online[b.user.id])) - Number(Boolean(state.online[a.user.id])) ||
            a.user.username.localeCompare(b.user.username),
        );
        const names = sorted.map((m) => `${m.user.username}${m.role && m.role !== 'member' ? ` (${m.role})` : ''}`);
        const online = sorted.filter((m) => state.online[m.user.id]).length;
        notice(
          names.length === 0 ? 'nobody listed yet' : `${names.length} here, ${online} online: ${names.join(', ')}`,
          'info',
        );
        return true;
      }
      case 'help':
        this.store.dispatch({ type: 'overlay', overlay: { kind: 'help', offset: 0 } });
        return true;
      case 'moderation':
        return this.openModeration();
      case 'quit':
        this.quit();
        return true;
      case 'info':
        notice(intent.message, 'info');
        return true;
      case 'error':
        notice(intent.message, 'error');
        return false;
    }
  }

  /**
   * `/report`: the message numbered, looked up by its number when it is not
   * loaded here; without a number, the newest loaded message of someone else.
   */
  private async report(intent: ReportIntent): Promise<boolean> {
    const state = this.store.get();
    const notice = (text: string, level: 'info' | 'error') => this.store.dispatch({ type: 'notice', text, level });
    const lines = state.views[intent.conversationId]?.lines ?? [];
    let target: { id: string; seq: number } | null = null;
    if (intent.seq === null) {
      const last = [...lines]
        .reverse()
        .find((l) => l.id !== null && l.seq !== null && l.deletedAt === null && l.author.id !== state.me?.id);
      if (!last?.id || last.seq === null) {
        notice(
          'nothing of anyone else to report here: select a message (Ctrl-Up) and press !, or /report #SEQ REASON',
          'error',
        );
        return false;
      }
      target = { id: last.id, seq: last.seq };
    } else {
      const seq = intent.seq;
      const loaded = lines.find((l) => l.seq === seq && l.id !== null && l.deletedAt === null)?.id;
      if (loaded) target = { id: loaded, seq };
      else {
        try {
          const page = await this.controller.client.request('messages.history', {
            conversationId: intent.conversationId,
            after: seq - 1,
            limit: 1,
          });
          const found = page.messages[0];
          target = found?.seq === seq && found.deletedAt === null ? { id: found.id, seq } : null;
        } catch (err) {
          notice(errorText(err), 'error');
          return false;
        }
      }
      if (target === null) {
        notice(`there is no message #${seq} here (or it was deleted)`, 'error');
        return false;
      }
    }
    try {
      const { report } = await this.controller.client.request('reports.create', {
        messageId: target.id,
        reason: intent.reason,
        ...(intent.details === null ? {} : { details: intent.details }),
      });
      notice(`reported #${target.seq} to ${intent.to} (${intent.reason}): report #${report.id}`, 'info');
      return true;
    } catch (err) {
      notice(errorText(err), 'error');
      return false;
    }
  }

  /** Alt-E: my last message of the open conversation, as `/edit SEQ text` in the composer. */
  editLast(): void {
    const state = this.store.get();
    const view = state.active ? state.views[state.active] : undefined;
    const mine = [...(view?.lines ?? [])]
      .reverse()
      // Mine as a person: what a bot token of mine sent is not "my last message".
      .find((l) => l.id && l.author.id === state.me?.id && l.deletedAt === null && !l.bot);
    if (mine?.seq) {
      const edit = `/edit ${mine.seq} ${mine.body}`;
      this.setComposer((c) => startEdit(c, edit));
    }
  }

  // ── The mouse ────────────────────────────────────────────────────────────

  /**
   * A mouse report: the wheel scrolls the messages; a click in the sidebar
   * opens that conversation (or folds that server), a click on a message
   * selects it, a click anywhere else ends a selection.
   */
  mouse(ev: MouseEvent): void {
    const state = this.store.get();
    if (state.overlay) return;
    if (ev.button === 'wheelUp' || ev.button === 'wheelDown') {
      this.scrollBy(ev.button === 'wheelUp' ? WHEEL_ROWS : -WHEEL_ROWS);
      return;
    }
    if (ev.button !== 'left' || !ev.press) return;
    const l = this.layout;
    if (ev.x < l.sidebarWidth - 1) {
      const key = this.sidebarKeyAt(ev.y);
      if (key?.startsWith('c:')) void this.controller.open(key.slice(2));
      else if (key?.startsWith('s:')) this.store.dispatch({ type: 'toggle-server', serverId: key.slice(2) });
      return;
    }
    const seq = ev.y >= l.listTop && ev.y < l.listTop + l.listHeight ? this.messageAt(ev.y - l.listTop) : null;
    if (seq !== null) this.select(seq);
    else if (state.selected) this.select(null);
  }

  /** The key of the sidebar row at screen row `y` (`c:ID` a conversation, `s:ID` a server), as the sidebar draws it. */
  private sidebarKeyAt(y: number): string | null {
    const state = this.store.get();
    const props = {
      servers: state.serverOrder.flatMap((id) => (state.servers[id] ? [state.servers[id]] : [])),
      conversations: state.conversations,
      active: state.active,
      online: state.online,
      width: this.layout.sidebarWidth - 1,
    };
    const { rows, activeIndex } = sidebarRows(props);
    const offset = scrollOffset(rows.length, activeIndex, Math.max(1, this.layout.rows));
    return rows[offset + y]?.key ?? null;
  }

  /** The seq of the message drawn on row `y` of the message list, if a message is there. */
  private messageAt(y: number): number | null {
    const state = this.store.get();
    const v = state.active ? state.views[state.active] : undefined;
    if (!v) return null;
    const { rows } = layoutMessages({
      ...this.layoutOptions(),
      lines: v.lines,
      height: this.layout.listHeight,
      scrollBack: v.scrollBack,
      hasMoreBefore: v.hasMoreBefore,
      loading: v.loading,
      newBelow: v.newBelow,
      newFrom: v.newFrom ?? null,
    });
    // The rows sit at the bottom of the list when they do not fill it.
    const row = rows[y - (this.layout.listHeight - rows.length)];
    const lineKey = row?.key.replace(/:\d+$/, '');
    const line = lineKey ? v.lines.find((l) => l.key === lineKey) : undefined;
    return line && line.id !== null && line.seq !== null && line.deletedAt === null ? line.seq : null;
  }

  /** Moves the window; back at the bottom, what waited below is read, and the server is told. */
  private scrollTo(id: string, scrollBack: number, owed?: number): void {
    const c = this.store.get().conversations[id];
    this.store.dispatch({ type: 'scroll', conversationId: id, scrollBack, ...(owed !== undefined ? { owed } : {}) });
    if (scrollBack === 0 && c && c.lastReadSeq < c.lastSeq) this.controller.markRead(id, c.lastSeq);
  }

  // ── Selection mode ───────────────────────────────────────────────────────

  /** The open conversation's messages that keys can act on (sent, not deleted), oldest first. */
  private selectable(): { id: string; seq: number; line: Line }[] {
    const state = this.store.get();
    const v = state.active ? state.views[state.active] : undefined;
    return (v?.lines ?? []).flatMap((line) =>
      line.id !== null && line.seq !== null && line.deletedAt === null ? [{ id: line.id, seq: line.seq, line }] : [],
    );
  }

  /** Ctrl-Up / Alt-K: selects the newest message whose last row is on screen. */
  startSelection(): void {
    const state = this.store.get();
    const id = state.active;
    const v = id ? state.views[id] : undefined;
    const list = this.selectable();
    if (!id || !v || list.length === 0) {
      this.store.dispatch({ type: 'notice', text: 'no message to select here', level: 'info' });
      return;
    }
    const opts = this.layoutOptions();
    const onScreen = [...list].reverse().find((m) => (rowsBelow(v.lines, m.seq, opts) ?? 0) >= v.scrollBack);
    this.select((onScreen ?? list[0])?.seq ?? null);
  }

  /** Selects message `seq` of the open conversation (null: ends selection mode), scrolling it into view. */
  private select(seq: number | null): void {
    const state = this.store.get();
    const id = state.active;
    if (!id) return;
    if (seq === null) {
      this.store.dispatch({ type: 'select', conversationId: id, seq: null });
      return;
    }
    const v = state.views[id];
    const line = v?.lines.find((l) => l.seq === seq);
    if (!v || !line) return;
    const opts = this.layoutOptions();
    // Counted as the list lays it out: the `── new ──` line too, when it is below.
    const below = rowsBelow(v.lines, seq, { ...opts, newFrom: v.newFrom ?? null }) ?? 0;
    const tall = messageRows(line, opts).length;
    // Scrolled up, the bottom row says what is below: a row less for messages.
    const room = Math.max(1, this.layout.listHeight - 1);
    let scrollBack = v.scrollBack;
    if (tall >= room || below + tall > scrollBack + room) scrollBack = below + tall - room;
    else if (below < scrollBack) scrollBack = below;
    this.store.dispatch({ type: 'select', conversationId: id, seq, scrollBack: Math.max(0, scrollBack) });
  }

  /** Keys while a message is selected. */
  private selectionKey(seq: number, input: string, key: AppKey): void {
    const state = this.store.get();
    const id = state.active;
    if (!id) return;
    if (key.ctrl && input === 'c') {
      this.quit();
      return;
    }
    const list = this.selectable();
    const at = list.findIndex((m) => m.seq === seq);
    const here = list[at];
    const v = state.views[id];
    // The selected message may have gone (deleted): moves then start from where it was.
    const next = list.findIndex((m) => m.seq > seq);
    const gap = next === -1 ? list.length : next;
    const move = (step: number) => {
      const to = at !== -1 ? at + step : step < 0 ? gap + step : gap + step - 1;
      // Above the oldest loaded message: load older ones; the next Up goes on into them.
      if (to < 0 && v?.hasMoreBefore && !v.loading) void this.controller.loadOlder(id);
      const target = list[Math.max(0, Math.min(list.length - 1, to))];
      if (target) this.select(target.seq);
    };
    if (key.escape || input === 'q' || key.return) this.select(null);
    else if (key.upArrow || input === 'k') move(-1);
    else if (key.downArrow || input === 'j') move(1);
    else if (key.pageUp || key.pageDown) move((key.pageUp ? -1 : 1) * this.messagesPerPage(at, key.pageUp));
    else if (key.home || input === 'g') move(-list.length);
    else if (key.end || input === 'G') move(list.length);
    else if (!here) {
      // The message went (deleted under us): start again from the newest on screen.
      this.startSelection();
    } else {
      this.actOn(here, input, key);
    }
  }

  /** e, d, r, c on the selected message. */
  private actOn(here: { id: string; seq: number; line: Line }, input: string, key: AppKey): void {
    const state = this.store.get();
    const id = state.active;
    if (!id) return;
    const seq = here.seq;
    const mine = here.line.author.id === state.me?.id;
    const name = sanitize(here.line.author.username, { multiline: false });
    const files = here.line.attachments ?? [];
    // `o` or `s` on a message of several files asked which: a number answers (for `s`, `a` saves them all).
    const picking = this.picking?.seq === seq ? this.picking : null;
    this.picking = null;
    if (picking && (/^[1-9]$/.test(input) || (picking.action === 'save' && input === 'a'))) {
      this.store.dispatch({ type: 'clear-notice' });
      const chosen = input === 'a' ? files : files.slice(Number(input) - 1, Number(input));
      if (chosen.length === 0) {
        this.store.dispatch({ type: 'notice', text: `message #${seq} has ${files.length} files`, level: 'error' });
        return;
      }
      void this.fileAction(picking.action, chosen);
      return;
    }
    if (input === 'o' || input === 's') {
      const action = input === 'o' ? 'open' : 'save';
      if (files.length === 0) {
        this.store.dispatch({ type: 'notice', text: `message #${seq} has no files`, level: 'info' });
      } else if (files.length === 1) {
        void this.fileAction(action, files);
      } else {
        this.picking = { seq, action };
        const list = files.map((f, i) => `${i + 1} ${sanitize(f.name, { multiline: false })}`).join(' · ');
        this.store.dispatch({
          type: 'notice',
          text: `${action} which file? ${list}${action === 'save' ? ' · a: all' : ''}`,
          level: 'info',
        });
      }
      return;
    }
    if (input === 'e') {
      if (!mine) {
        this.store.dispatch({
          type: 'notice',
          text: `message #${seq} is ${name}'s: only its author can edit it`,
          level: 'error',
        });
        return;
      }
      this.select(null);
      this.setComposer((c) => startEdit(c, `/edit ${seq} ${here.line.body}`));
    } else if (input === 'd' || key.delete || key.backspace) {
      this.askDelete(id, seq, here.id, name);
    } else if (input === 'r') {
      this.select(null);
      const lines = here.line.body.split('\n');
      const chars = [...(lines[0] ?? '').trim()];
      const cut = chars.length > QUOTE_CHARS;
      const quoted = `${chars.slice(0, cut ? QUOTE_CHARS - 1 : chars.length).join('')}${cut || lines.length > 1 ? '…' : ''}`;
      const who = here.line.author.username;
      const reply = `${here.line.kind === 'action' ? `> * ${who} ${quoted}` : `> ${who}: ${quoted}`}\n${mine ? '' : `@${who} `}`;
      this.setComposer((c) => withText(c, reply + c.editor.text));
    } else if (input === '!') {
      if (mine) {
        this.store.dispatch({
          type: 'notice',
          text: 'that message is yours: there is nothing to report',
          level: 'error',
        });
        return;
      }
      // The reason comes next, typed in the composer: /report #SEQ spam.
      this.select(null);
      this.setComposer((c) => withText(c, `/report #${seq} `));
    } else if (input === 'c' || input === 'y') {
      this.copy(seq, here.line.body);
    } else if (input !== '' && !key.ctrl && !key.meta && !/[\u0000-\u001f\u007f]/.test(input)) {
      // Any other text: back to the composer, and it is typed there (nothing typed is lost).
      this.select(null);
      this.key(input, key);
    }
  }

  /** Opens (the first of) `files`, or saves each of them, one after the other. */
  private async fileAction(action: 'open' | 'save', files: readonly Attachment[]): Promise<void> {
    if (!this.files) {
      this.store.dispatch({ type: 'notice', text: 'files cannot be opened or saved from here', level: 'error' });
      return;
    }
    const first = files[0];
    if (action === 'open') {
      if (first) await this.files.open(first);
      return;
    }
    for (const f of files) await this.files.save(f);
  }

  /** How many messages PageUp (`up`) or PageDown skips from index `at`: as many as fill a screen less a line. */
  private messagesPerPage(at: number, up: boolean): number {
    const list = this.selectable();
    const opts = this.layoutOptions();
    const room = Math.max(1, this.layout.listHeight - 2);
    let rows = 0;
    let n = 0;
    for (let i = at + (up ? -1 : 1); i >= 0 && i < list.length; i += up ? -1 : 1) {
      const m = list[i];
      if (!m) break;
      rows += messageRows(m.line, opts).length;
      if (rows > room && n > 0) break;
      n++;
    }
    return Math.max(1, n);
  }

  private askDelete(conversationId: string, seq: number, messageId: string, author: string): void {
    this.ask(
      `delete message #${seq} by ${author}? y deletes it, any other key keeps it`,
      `kept message #${seq}`,
      () => {
        void this.controller.request('messages.delete', { messageId }, `deleted message #${seq}`).then((ok) => {
          // The selection goes to the message before the deleted one (or after it, at the top).
          const state = this.store.get();
          if (!ok || state.selected?.seq !== seq || state.active !== conversationId) return;
          const list = this.selectable();
          const before = list.filter((m) => m.seq < seq).at(-1);
          const after = list.find((m) => m.seq > seq);
          this.select((before ?? after)?.seq ?? null);
        });
      },
    );
  }

  /** Puts `question` on the notice line; the next key answers it: `y` calls `yes`, any other key shows `no`. */
  private ask(question: string, no: string, yes: () => void): void {
    this.confirming = { question, no, yes };
    this.store.dispatch({ type: 'notice', text: question, level: 'info' });
  }

  /** The key after a question: `y` carries it out, anything else says no. True when the key only answered. */
  private confirmKey(input: string, key: AppKey): boolean {
    const asked = this.confirming;
    this.confirming = null;
    // A question no longer on screen (its time ran out, or another notice took its place) is not answered.
    if (!asked || this.store.get().notice?.text !== asked.question) return false;
    if ((input === 'y' || input === 'Y') && !key.ctrl && !key.meta) {
      asked.yes();
      return true;
    }
    this.store.dispatch({ type: 'notice', text: asked.no, level: 'info' });
    // Esc, Enter and letters only answer; another key also does what it does.
    return key.escape || key.return || /^[a-zA-Z]$/.test(input);
  }

  /** Puts a message's text on the clipboard through the terminal (OSC 52), which most terminals and tmux allow. */
  private copy(seq: number, body: string): void {
    if (!this.write) {
      this.store.dispatch({ type: 'notice', text: 'copying needs a terminal', level: 'error' });
      return;
    }
    this.write(`\u001b]52;c;${Buffer.from(body, 'utf8').toString('base64')}\u0007`);
    this.store.dispatch({
      type: 'notice',
      text: `copied message #${seq} to the clipboard (OSC 52; in tmux: set-clipboard on)`,
      level: 'info',
    });
  }

  // ── The message list ─────────────────────────────────────────────────────

  private layoutOptions() {
    const state = this.store.get();
    return {
      meId: state.me?.id ?? null,
      meUsername: state.me?.username ?? null,
      width: this.layout.listWidth,
      timeFormat: this.config.timeFormat,
      // Counted as the list draws them: previews as tall as the config says, or none.
      media: { previewRows: previewRows(this.config) },
    };
  }

  /**
   * Scrolls the open conversation by `delta` rows (up when positive), as far
   * as what is loaded goes; at the top of it, loads older messages, which come
   * in above without moving what is on screen. With `whole` (a page), the
   * rows it could not go up yet are owed: the older messages come in
   * scrolled up by that much more, so the page moves as far as any other.
   */
  scrollBy(delta: number, whole = false): void {
    const state = this.store.get();
    const id = state.active;
    const v = id ? state.views[id] : undefined;
    if (!id || !v) return;
    const to = scrollView(v, delta, { ...this.layoutOptions(), height: this.layout.listHeight }, whole);
    this.scrollTo(id, to.scrollBack, to.owed);
    if (to.fetch && !v.loading) void this.controller.loadOlder(id);
  }

  /**
   * A conversation opened with unread messages shows from its `── new ──`
   * line when they fill more than the window; the first unread message is
   * fetched first if it is not loaded (up to 1,000 messages back). Called after
   * every change; does its work once per opening.
   */
  private placed: string | null = null;
  placeAtNew(): void {
    const state = this.store.get();
    const id = state.active;
    const v = id ? state.views[id] : undefined;
    const from = v?.newFrom ?? null;
    if (!id || !v || from === null) return;
    const key = `${id}:${from}`;
    if (this.placed === key) return;
    const first = v.lines.find((l) => l.seq !== null && l.seq >= from);
    const oldest = v.lines.find((l) => l.seq !== null)?.seq ?? null;
    if (oldest !== null && oldest > from && v.hasMoreBefore) {
      if (!v.loading && (v.lines.at(-1)?.seq ?? oldest) - from < NEW_FROM_REACH) void this.controller.loadOlder(id);
      return;
    }
    if (!first || first.seq === null) return;
    this.placed = key;
    const opts = this.layoutOptions();
    const total = (rowsBelow(v.lines, first.seq, opts) ?? 0) + messageRows(first, opts).length + 1;
    const room = this.layout.listHeight - 1;
    if (total > this.layout.listHeight) {
      this.store.dispatch({ type: 'scroll', conversationId: id, scrollBack: total - room });
    }
  }

  /** "Retry now" while the connection waits to come back. */
  reconnectNow(): void {
    if (this.controller.client.reconnectNow()) return;
    const status = this.controller.client.state.status;
    const text =
      status === 'connected'
        ? 'already connected'
        : status === 'connecting'
          ? 'connecting already…'
          : 'not reconnecting';
    this.store.dispatch({ type: 'notice', text, level: 'info' });
  }

  // ── Search ───────────────────────────────────────────────────────────────

  /** Opens the search overlay; a query given with it is searched at once. */
  openSearch(query: string): void {
    const overlay: SearchOverlayState = {
      kind: 'search',
      query,
      hits: null,
      searched: null,
      more: false,
      next: null,
      selected: 0,
      loading: false,
      error: null,
    };
    this.store.dispatch({ type: 'overlay', overlay });
    if (!isBlank(query)) void this.runSearch(overlay);
  }

  /** Runs the overlay's query; the results replace the overlay's (if it is still open on that query). */
  async runSearch(overlay: SearchOverlayState): Promise<void> {
    const query = overlay.query;
    this.store.dispatch({ type: 'overlay', overlay: { ...overlay, loading: true, error: null } });
    const current = () => {
      const o = this.store.get().overlay;
      return o?.kind === 'search' && o.query === query ? o : null;
    };
    try {
      const page = await this.controller.client.request('messages.search', { query });
      const o = current();
      if (o) {
        this.store.dispatch({
          type: 'overlay',
          overlay: {
            ...o,
            hits: page.hits,
            searched: query,
            more: page.next !== null,
            next: page.next,
            selected: 0,
            loading: false,
          },
        });
      }
    } catch (err) {
      const o = current();
      if (o) this.store.dispatch({ type: 'overlay', overlay: { ...o, loading: false, error: errorText(err) } });
    }
  }

  /** The next page of hits of the overlay's search, added below; the one after the last hit is chosen. */
  private async moreHits(o: SearchOverlayState): Promise<void> {
    const { query, next } = o;
    if (next === null) return;
    this.store.dispatch({ type: 'overlay', overlay: { ...o, loading: true, error: null } });
    const current = () => {
      const now = this.store.get().overlay;
      return now?.kind === 'search' && now.query === query ? now : null;
    };
    try {
      const page = await this.controller.client.request('messages.search', { query, after: next });
      const now = current();
      if (!now) return;
      const hits = [...(now.hits ?? []), ...page.hits];
      this.store.dispatch({
        type: 'overlay',
        overlay: {
          ...now,
          hits,
          more: page.next !== null,
          next: page.next,
          selected: Math.min(hits.length - 1, now.selected + 1),
          loading: false,
        },
      });
    } catch (err) {
      const now = current();
      if (now) this.store.dispatch({ type: 'overlay', overlay: { ...now, loading: false, error: errorText(err) } });
    }
  }

  /** Goes to a hit: its conversation, scrolled so the message is in the middle, its matched words marked. */
  async goToHit(hit: SearchHit): Promise<void> {
    this.store.dispatch({ type: 'overlay', overlay: null });
    const chars = [...hit.message.body];
    await this.goTo(
      hit.conversation.id,
      hit.message.seq,
      hit.matches.map(([a, b]) => chars.slice(a, b).join('')),
    );
  }

  /** Opens conversation `id` scrolled so message `seq` is in the middle, marked (with `words` highlighted). */
  private async goTo(id: string, seq: number, words: string[]): Promise<void> {
    if (!(await this.controller.openAt(id, seq))) {
      this.store.dispatch({ type: 'notice', text: `message #${seq} could not be loaded here`, level: 'error' });
      return;
    }
    const v = this.store.get().views[id];
    const opts = this.layoutOptions();
    const below = v ? rowsBelow(v.lines, seq, opts) : null;
    // The message in the middle of the window; one taller than the window shows from its first row.
    const line = v?.lines.find((l) => l.seq === seq);
    const tall = line ? messageRows(line, opts).length : 1;
    const room = this.layout.listHeight - 1;
    const scrollBack = Math.max(
      0,
      tall >= room ? (below ?? 0) + tall - room : (below ?? 0) - Math.floor((room - tall) / 2),
    );
    this.store.dispatch({ type: 'focus', conversationId: id, seq, words, scrollBack });
  }

  // ── Moderation ───────────────────────────────────────────────────────────

  /**
   * `/mod`, Alt-R: the moderation overlay, its queues loaded again. For
   * someone who reviews nothing it only says so; false then.
   */
  openModeration(): boolean {
    const state = this.store.get();
    if (reviewScopes(state).length === 0) {
      this.store.dispatch({
        type: 'notice',
        text: "nothing to review: held messages and reports go to a server's moderators, admins and owner, and the instance's operators",
        level: 'info',
      });
      return false;
    }
    const first = moderationItems(state)[0];
    this.store.dispatch({ type: 'overlay', overlay: { kind: 'moderation', selected: first?.key ?? null, index: 0 } });
    void this.controller.loadModeration();
    return true;
  }

  /** Keys in the moderation overlay: choose, go there, and act on the chosen item; kicks and bans ask first. */
  private moderationKey(o: ModerationOverlayState, input: string, key: AppKey): void {
    if (key.ctrl && input === 'c') {
      this.quit();
      return;
    }
    // A kick or a ban waits for its `y` on the notice line.
    if (this.confirming && this.confirmKey(input, key)) return;
    const state = this.store.get();
    if (key.escape) {
      this.store.dispatch({ type: 'overlay', overlay: null });
      this.store.dispatch({ type: 'clear-notice' });
      return;
    }
    const items = moderationItems(state);
    const at = selectedIndex(items, o);
    const choose = (index: number) => {
      const i = Math.max(0, Math.min(items.length - 1, index));
      this.store.dispatch({
        type: 'overlay',
        overlay: { kind: 'moderation', selected: items[i]?.key ?? null, index: i },
      });
    };
    if (key.upArrow || input === 'k') choose(at - 1);
    else if (key.downArrow || input === 'j') choose(at + 1);
    else if (key.pageUp || key.pageDown) choose(at + (key.pageUp ? -10 : 10));
    else if (key.home || input === 'g') choose(0);
    else if (key.end || input === 'G') choose(items.length - 1);
    else {
      const item = items[at];
      if (item && !key.ctrl && !key.meta) {
        if (key.return) void this.goToItem(item);
        else this.moderate(item, input);
      }
    }
  }

  /** Enter on an item: its conversation, at the message (a held one is not in it yet: the channel opens at its newest). */
  private async goToItem(item: ModerationItem): Promise<void> {
    const state = this.store.get();
    const notice = (text: string, level: 'info' | 'error') => this.store.dispatch({ type: 'notice', text, level });
    if (item.kind === 'held') {
      this.store.dispatch({ type: 'overlay', overlay: null });
      await this.controller.openNew(item.held.conversationId);
      notice(
        `${sanitize(item.held.author.username, { multiline: false })}'s message is held: it shows here once approved`,
        'info',
      );
      return;
    }
    const r = item.report;
    if (r.conversation === null || r.seq === null) {
      notice(`report #${r.id} is about a person, not a message: there is nothing to open`, 'info');
      return;
    }
    if (!state.conversations[r.conversation.id]) {
      notice(`you are not in that conversation: report #${r.id} keeps the text as it was reported`, 'info');
      return;
    }
    this.store.dispatch({ type: 'overlay', overlay: null });
    await this.goTo(r.conversation.id, r.seq, []);
  }

  /** A key on the chosen item: a, r for a held message; d, t, K, b, n for a report. */
  private moderate(item: ModerationItem, input: string): void {
    const state = this.store.get();
    const notice = (text: string, level: 'info' | 'error') => this.store.dispatch({ type: 'notice', text, level });
    const names = shownNames(state);
    const t = itemText(item, names);
    const done = (ok: boolean) => {
      if (ok) this.store.dispatch({ type: 'moderation-done', key: item.key });
    };
    if (item.kind === 'held') {
      const heldId = item.held.id;
      if (input === 'a')
        void this.controller
          .request('held.approve', { heldId }, `approved ${t.who}'s message in ${t.where}: posted`)
          .then(done);
      else if (input === 'r')
        void this.controller
          .request('held.reject', { heldId }, `rejected ${t.who}'s message in ${t.where}; ${t.who} is told`)
          .then(done);
      else if (/^[dtKbn]$/.test(input)) notice('a held message: a approves it, r rejects it', 'info');
      return;
    }
    const r = item.report;
    const resolve = (
      action: 'delete' | 'timeout' | 'kick' | 'ban' | 'none',
      success: string,
      seconds?: number,
    ): void => {
      void this.controller
        .request('reports.resolve', { reportId: r.id, action, ...(seconds ? { seconds } : {}) }, success)
        .then(done);
    };
    const inServer = r.serverId !== null;
    const server = r.serverId ? queueName(r.serverId, names) : '';
    if (['t', 'K', 'b'].includes(input) && !inServer) {
      notice(`report #${r.id} is not in a server: d deletes the message, n closes it with nothing done`, 'error');
      return;
    }
    if (['t', 'K', 'b'].includes(input) && r.targetUser === null) {
      notice(`report #${r.id}: the person reported is gone; d or n`, 'error');
      return;
    }
    switch (input) {
      case 'd':
        if (r.messageId === null) notice(`report #${r.id} is about a person: there is no message to delete`, 'error');
        else resolve('delete', `report #${r.id} resolved: the message was deleted`);
        return;
      case 't':
        resolve('timeout', `report #${r.id} resolved: ${t.who} is timed out in ${server} for 10 min`, 600);
        return;
      case 'K':
        this.ask(
          `kick ${t.who} from ${server} (report #${r.id})? y: yes, any other key: no`,
          `${t.who} stays (report #${r.id} still open)`,
          () => resolve('kick', `report #${r.id} resolved: ${t.who} was kicked from ${server}`),
        );
        return;
      case 'b':
        this.ask(
          `ban ${t.who} from ${server} (report #${r.id})? y: yes, any other key: no`,
          `${t.who} is not banned (report #${r.id} still open)`,
          () => resolve('ban', `report #${r.id} resolved: ${t.who} was banned from ${server}`),
        );
        return;
      case 'n':
        resolve('none', `report #${r.id} resolved: nothing done`);
        return;
      case 'a':
      case 'r':
        notice('a report: d deletes the message, t times out 10 min, K kicks, b bans, n does nothing', 'info');
        return;
    }
  }
}
