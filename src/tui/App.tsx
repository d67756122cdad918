import { Box, type Key, useApp, useInput, useStdin, useStdout } from 'ink';
import { useEffect, useMemo, useRef, useState, useSyncExternalStore } from 'react';
import { isBlank } from '../protocol/blank.js';
import type { SearchHit } from '../protocol/index.js';
import { COMMANDS, type Intent, parseCommand, runRequest } from './commands.js';
import { complete } from './completion.js';
import { Composer, composerRows } from './components/Composer.js';
import { Header } from './components/Header.js';
import { HelpOverlay } from './components/HelpOverlay.js';
import { MemberList } from './components/MemberList.js';
import { MessageList } from './components/MessageList.js';
import { NoticeLine } from './components/NoticeLine.js';
import { QuickSwitcher, type SwitcherItem } from './components/QuickSwitcher.js';
import { SearchOverlay } from './components/SearchOverlay.js';
import { Sidebar } from './components/Sidebar.js';
import { StatusLine } from './components/StatusLine.js';
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
import type { Config } from './config.js';
import { type Controller, errorText } from './controller.js';
import { splitKeys } from './key-chunks.js';
import { describeBindings, type KeyAction, matchKey, matchRawInput } from './keys.js';
import { nextActivity, nextMatching, sidebarOrder, typingIn } from './reducer.js';
import { NEW_FROM_REACH, type SearchOverlayState, type State } from './state.js';
import type { Store } from './store.js';
import { ThemeContext } from './theme.js';
import { conversationColors } from './view/colors.js';
import { fuzzyFilter } from './view/fuzzy.js';
import { layoutMessages, messageRows, pageScroll, rowsBelow } from './view/message-layout.js';
import { clockFor } from './view/status-text.js';

/**
 * The size the app draws in, following resizes: the terminal's columns, and
 * one row less than its height. A frame as tall as the terminal makes Ink
 * clear the whole screen on every render; one row shorter, it redraws only
 * what changed and writes nothing when nothing did.
 */
function useSize(): { columns: number; rows: number } {
  const { stdout } = useStdout();
  const read = () => ({ columns: stdout.columns || 80, rows: Math.max(4, (stdout.rows || 24) - 1) });
  const [size, setSize] = useState(read);
  useEffect(() => {
    const onResize = () => setSize(read());
    stdout.on('resize', onResize);
    return () => {
      stdout.off('resize', onResize);
    };
  });
  return size;
}

/** Switcher entries for every conversation, with their server's name for channels. */
function switcherItems(state: State): SwitcherItem[] {
  return sidebarOrder(state).flatMap((id) => {
    const c = state.conversations[id];
    if (!c) return [];
    const server = c.serverId ? state.servers[c.serverId]?.name : null;
    return [
      { id, label: server ? `${c.name} (${server})` : c.name, kind: c.kind, unread: c.unread, mentions: c.mentions },
    ];
  });
}

export type AppProps = {
  store: Store;
  controller: Controller;
  config: Config;
  onQuit: () => void;
  /** The drafts and sent texts of the last run, and where to keep them (none: not kept). */
  composerFile?: ComposerFile;
};

/** The narrowest terminal that shows the member list beside the messages. */
const MEMBERS_MIN_COLUMNS = 90;

/** The chat screen: sidebar, messages, composer, status line, and the overlays. */
export function App({ store, controller, config, onQuit, composerFile }: AppProps) {
  const state = useSyncExternalStore(store.subscribe, store.get);
  const { exit } = useApp();
  const { columns, rows } = useSize();
  // Keys of one chunk are handled before React re-renders: they read and write the composer through this ref.
  const composerRef = useRef<ComposerState>(initialComposer(composerFile?.saved.drafts, composerFile?.saved.history));
  const [composer, setComposerState] = useState(composerRef.current);
  const setComposer = (f: (s: ComposerState) => ComposerState) => {
    // The text typed belongs to the conversation open when it was typed.
    const open = store.get().active;
    const base = composerRef.current.conversation === open ? composerRef.current : switchTo(composerRef.current, open);
    composerRef.current = f(base);
    setComposerState(composerRef.current);
    composerFile?.changed(composerRef.current);
  };
  const text = composer.editor.text;
  const textRef = {
    get current() {
      return composerRef.current.editor.text;
    },
  };
  const setText = (next: string | ((t: string) => string)) =>
    setComposer((c) => withText(c, typeof next === 'function' ? next(c.editor.text) : next));
  const [tabCycle, setTabCycle] = useState<{ base: string; index: number } | null>(null);
  const [now, setNow] = useState(Date.now());
  const lastTyping = useRef(0);
  const bellSeen = useRef(state.bell);
  const { stdout } = useStdout();
  const { stdin } = useStdin();

  // A clock for typing expiry (the reducer's tick) and "reconnecting in Ns". The screen is redrawn
  // for it only when something on it shows the time: idle, the app does no work at all.
  useEffect(() => {
    const timer = setInterval(() => {
      const t = Date.now();
      store.dispatch({ type: 'tick', now: t });
      setNow((shown) => clockFor(shown, t, store.get().connection));
    }, 1000);
    return () => clearInterval(timer);
  }, [store]);

  // The composer follows the open conversation, with each conversation's draft.
  useEffect(() => {
    if (composerRef.current.conversation !== state.active) setComposer((c) => c);
  });

  // Open the first conversation once lists arrive.
  useEffect(() => {
    if (state.active === null) {
      const first = sidebarOrder(state)[0];
      if (first) void controller.open(first);
    }
  }, [state, controller]);

  // The terminal bell on a mention or a DM outside the open conversation.
  useEffect(() => {
    const wanted =
      state.bellReason === 'mention' ? config.notifications.onMention : config.notifications.onDirectMessage;
    if (state.bell > bellSeen.current && config.notifications.bell && wanted) stdout.write('\u0007');
    bellSeen.current = state.bell;
  }, [state.bell, state.bellReason, config.notifications, stdout]);

  // F1 is invisible to useInput; read it from the raw input.
  useEffect(() => {
    const onData = (data: Buffer | string) => {
      if (matchRawInput(data.toString(), config.keys) === 'help')
        store.dispatch({ type: 'overlay', overlay: { kind: 'help', offset: 0 } });
    };
    stdin.on('data', onData);
    return () => {
      stdin.off('data', onData);
    };
  }, [stdin, store, config.keys]);

  const quit = () => {
    composerFile?.flush();
    onQuit();
    exit();
  };

  const active = state.active ? state.conversations[state.active] : undefined;
  const view = state.active ? state.views[state.active] : undefined;
  const sidebarWidth = Math.max(18, Math.min(30, Math.floor(columns * 0.22)));
  const membersWidth = state.showMembers && active?.kind !== 'dm' && columns >= MEMBERS_MIN_COLUMNS ? 24 : 0;
  const mainWidth = Math.max(20, columns - sidebarWidth - membersWidth - 2);
  const composerHeight = Math.min(
    5,
    composerRows(text, composer.editor.cursor, Math.max(2, mainWidth - 3)).rows.length,
  );
  const noticeRows = state.notice ? 1 : 0;
  const listHeight = Math.max(3, rows - 1 /* header */ - composerHeight - 1 /* status */ - noticeRows);
  const listWidth = mainWidth - 1;

  // A conversation opened with unread messages shows from its `── new ──` line when they fill more than the window.
  const placed = useRef<string | null>(null);
  useEffect(() => {
    const id = state.active;
    const v = id ? state.views[id] : undefined;
    const from = v?.newFrom ?? null;
    if (!id || !v || from === null) return;
    const key = `${id}:${from}`;
    if (placed.current === key) return;
    const first = v.lines.find((l) => l.seq !== null && l.seq >= from);
    const oldest = v.lines.find((l) => l.seq !== null)?.seq ?? null;
    // The first unread message is not loaded yet: fetch older pages until it is (up to 1,000 messages).
    if (oldest !== null && oldest > from && v.hasMoreBefore) {
      if (!v.loading && (v.lines.at(-1)?.seq ?? oldest) - from < NEW_FROM_REACH) void controller.loadOlder(id);
      return;
    }
    if (!first || first.seq === null) return;
    placed.current = key;
    const opts = {
      meId: state.me?.id ?? null,
      meUsername: state.me?.username ?? null,
      width: listWidth,
      timeFormat: config.timeFormat,
    };
    const total = (rowsBelow(v.lines, first.seq, opts) ?? 0) + messageRows(first, opts).length + 1;
    const room = listHeight - 1;
    if (total > listHeight) store.dispatch({ type: 'scroll', conversationId: id, scrollBack: total - room });
  });

  // The reducer counts a new message's rows (to keep a scrolled-up window still) at the list's width.
  useEffect(() => {
    store.dispatch({ type: 'layout', width: listWidth, timeFormat: config.timeFormat });
  }, [store, listWidth, config.timeFormat]);
  const memberScope = active?.kind === 'channel' ? active.serverId : active?.id;
  const members = (memberScope && state.members[memberScope]) || [];
  const switcher = state.overlay?.kind === 'switcher' ? state.overlay : null;
  const filtered = useMemo(
    () => (switcher ? fuzzyFilter(switcherItems(state), switcher.query) : []),
    [switcher, state],
  );

  const usernames = useMemo(() => [...new Set(members.map((m) => m.user.username))], [members]);
  // Everyone of the conversation gets a name colour of their own (while the palette lasts).
  const colors = useMemo(
    () =>
      conversationColors(
        [...members.map((m) => m.user.id), ...(view?.lines ?? []).map((l) => l.author.id)],
        state.me?.id ?? null,
      ),
    [members, view?.lines, state.me?.id],
  );
  const channelNames = useMemo(
    () =>
      active?.serverId
        ? (state.servers[active.serverId]?.channelIds ?? []).map((id) => state.conversations[id]?.name ?? '')
        : [],
    [active, state],
  );

  const carryOut = async (intent: Intent): Promise<boolean> => {
    const state = store.get();
    switch (intent.type) {
      case 'none':
        return true;
      case 'send':
        if (!state.active) {
          store.dispatch({ type: 'notice', text: 'open a conversation first (Ctrl-K)', level: 'error' });
          return false;
        }
        {
          const conversation = state.active;
          void controller.send(conversation, intent.body).then((ok) => {
            // Refused: the text comes back to the composer, if nothing else was typed there since.
            const c = composerRef.current;
            if (!ok && c.conversation === conversation && c.editor.text === '') setText(intent.body);
          });
        }
        return true;
      case 'request':
      case 'request-user':
        try {
          const done = await runRequest(intent, (op, params) => controller.client.request(op, params));
          // What was just created or joined opens, so the next message goes there.
          if (done.open !== null) await controller.openNew(done.open);
          store.dispatch({ type: 'notice', text: done.notice, level: 'info' });
          return true;
        } catch (err) {
          store.dispatch({ type: 'notice', text: errorText(err), level: 'error' });
          return false;
        }
      case 'open-dm': {
        const dm = Object.values(state.conversations).find(
          (c) => c.kind === 'dm' && c.name.toLowerCase() === intent.username.toLowerCase(),
        );
        if (intent.body !== null) {
          // Sent in the open DM, or (the first message) through the server, which starts it.
          if (dm) {
            await controller.open(dm.id);
            controller.send(dm.id, intent.body);
            return true;
          }
          return controller.sendDirect(intent.username, intent.body);
        }
        if (dm) {
          void controller.open(dm.id);
          return true;
        }
        store.dispatch({
          type: 'notice',
          text: `no conversation with ${intent.username} yet: type your first message after "/dm ${intent.username} "`,
          level: 'info',
        });
        setText(`/dm ${intent.username} `);
        return false;
      }
      case 'edit-last':
        editLast();
        return false;
      case 'edit':
      case 'delete': {
        const line = state.views[intent.conversationId]?.lines.find((l) => l.seq === intent.seq && l.id);
        if (!line?.id) {
          store.dispatch({ type: 'notice', text: `no message #${intent.seq} loaded here`, level: 'error' });
          return false;
        }
        const ok =
          intent.type === 'edit'
            ? await controller.request(
                'messages.edit',
                { messageId: line.id, body: intent.body },
                `edited #${intent.seq}`,
              )
            : await controller.request('messages.delete', { messageId: line.id }, `deleted #${intent.seq}`);
        return ok;
      }
      case 'search':
        openSearch(intent.query);
        return true;
      case 'reconnect':
        reconnectNow();
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
        store.dispatch({
          type: 'notice',
          text:
            names.length === 0 ? 'nobody listed yet' : `${names.length} here, ${online} online: ${names.join(', ')}`,
          level: 'info',
        });
        return true;
      }
      case 'help':
        store.dispatch({ type: 'overlay', overlay: { kind: 'help', offset: 0 } });
        return true;
      case 'quit':
        quit();
        return true;
      case 'info':
        store.dispatch({ type: 'notice', text: intent.message, level: 'info' });
        return true;
      case 'error':
        store.dispatch({ type: 'notice', text: intent.message, level: 'error' });
        return false;
    }
  };

  const editLast = () => {
    const state = store.get();
    const view = state.active ? state.views[state.active] : undefined;
    const mine = [...(view?.lines ?? [])]
      .reverse()
      .find((l) => l.id && l.author.id === state.me?.id && l.deletedAt === null);
    if (mine?.seq) {
      const edit = `/edit ${mine.seq} ${mine.body}`;
      setComposer((c) => startEdit(c, edit));
    }
  };

  const submit = (value = textRef.current) => {
    const state = store.get();
    const input = value;
    // What is typed in a conversation goes to that conversation, "@name …" included:
    // a DM is opened only on purpose (/dm, Ctrl-K).
    const intent = parseCommand(input, {
      active: (state.active ? state.conversations[state.active] : undefined) ?? null,
      serverName: (id) => state.servers[id]?.name ?? null,
      invitations: Object.values(state.invitations),
    });
    store.dispatch({ type: 'clear-notice' });
    if (intent.type === 'none') setText('');
    else if (intent.type === 'send') setComposer((c) => sent(c, input));
    void carryOut(intent).then((ok) => {
      if (ok && intent.type !== 'send' && textRef.current === input) setComposer((c) => sent(c, input));
    });
  };

  /**
   * Scrolls the open conversation by `delta` rows (up when positive), as far
   * as what is loaded goes; at the top of it, loads older messages, which come
   * in above without moving what is on screen.
   */
  const scrollBy = (delta: number) => {
    const state = store.get();
    const id = state.active;
    const v = id ? state.views[id] : undefined;
    if (!id || !v) return;
    const laid = layoutMessages({
      lines: v.lines,
      meId: state.me?.id ?? null,
      meUsername: state.me?.username ?? null,
      width: listWidth,
      height: listHeight,
      scrollBack: Math.max(0, Math.min(Number.MAX_SAFE_INTEGER, v.scrollBack + delta)),
      hasMoreBefore: v.hasMoreBefore,
      loading: v.loading,
      timeFormat: config.timeFormat,
      newBelow: v.newBelow,
    });
    store.dispatch({ type: 'scroll', conversationId: id, scrollBack: laid.scrollBack });
    if (delta > 0 && laid.atTop && v.hasMoreBefore && !v.loading) void controller.loadOlder(id);
  };

  /** "Retry now" while the connection waits to come back. */
  const reconnectNow = () => {
    if (controller.client.reconnectNow()) return;
    const status = controller.client.state.status;
    const text =
      status === 'connected'
        ? 'already connected'
        : status === 'connecting'
          ? 'connecting already…'
          : 'not reconnecting';
    store.dispatch({ type: 'notice', text, level: 'info' });
  };

  /** Opens the search overlay; a query given with it is searched at once. */
  const openSearch = (query: string) => {
    const overlay: SearchOverlayState = {
      kind: 'search',
      query,
      hits: null,
      searched: null,
      more: false,
      selected: 0,
      loading: false,
      error: null,
    };
    store.dispatch({ type: 'overlay', overlay });
    if (!isBlank(query)) void runSearch(overlay);
  };

  /** Runs the overlay's query; the results replace the overlay's (if it is still open on that query). */
  const runSearch = async (overlay: SearchOverlayState) => {
    const query = overlay.query;
    store.dispatch({ type: 'overlay', overlay: { ...overlay, loading: true, error: null } });
    const current = () => {
      const o = store.get().overlay;
      return o?.kind === 'search' && o.query === query ? o : null;
    };
    try {
      const page = await controller.client.request('messages.search', { query });
      const o = current();
      if (o) {
        store.dispatch({
          type: 'overlay',
          overlay: { ...o, hits: page.hits, searched: query, more: page.next !== null, selected: 0, loading: false },
        });
      }
    } catch (err) {
      const o = current();
      if (o) store.dispatch({ type: 'overlay', overlay: { ...o, loading: false, error: errorText(err) } });
    }
  };

  /** Goes to a hit: its conversation, scrolled so the message is in the middle, its matched words marked. */
  const goToHit = async (hit: SearchHit) => {
    store.dispatch({ type: 'overlay', overlay: null });
    const id = hit.conversation.id;
    const seq = hit.message.seq;
    if (!(await controller.openAt(id, seq))) {
      store.dispatch({ type: 'notice', text: `message #${seq} could not be loaded here`, level: 'error' });
      return;
    }
    const state = store.get();
    const v = state.views[id];
    const below = v
      ? rowsBelow(v.lines, seq, {
          meId: state.me?.id ?? null,
          meUsername: state.me?.username ?? null,
          width: listWidth,
          timeFormat: config.timeFormat,
        })
      : null;
    const chars = [...hit.message.body];
    const words = hit.matches.map(([a, b]) => chars.slice(a, b).join(''));
    // The message in the middle of the window; one taller than the window shows from its first row.
    const line = v?.lines.find((l) => l.seq === seq);
    const tall = line
      ? messageRows(line, {
          meId: state.me?.id ?? null,
          meUsername: state.me?.username ?? null,
          width: listWidth,
          timeFormat: config.timeFormat,
        }).length
      : 1;
    const room = listHeight - 1;
    const scrollBack = Math.max(
      0,
      tall >= room ? (below ?? 0) + tall - room : (below ?? 0) - Math.floor((room - tall) / 2),
    );
    store.dispatch({ type: 'focus', conversationId: id, seq, words, scrollBack });
  };

  /** Keys in the search overlay: typing edits the query, Enter searches (or goes to the chosen hit), ↑↓ choose. */
  const searchKey = (o: SearchOverlayState, input: string, key: Key) => {
    if (key.ctrl && input === 'c') return quit();
    if (key.escape) return store.dispatch({ type: 'overlay', overlay: null });
    const hits = o.hits ?? [];
    if (key.upArrow || key.downArrow) {
      const selected = Math.max(0, Math.min(hits.length - 1, o.selected + (key.upArrow ? -1 : 1)));
      return store.dispatch({ type: 'overlay', overlay: { ...o, selected } });
    }
    if (key.return || input === '\r') {
      const hit = hits[o.selected];
      if (hit && o.searched === o.query) void goToHit(hit);
      else if (!isBlank(o.query)) void runSearch(o);
      return;
    }
    if (key.backspace || key.delete) {
      return store.dispatch({ type: 'overlay', overlay: { ...o, query: [...o.query].slice(0, -1).join('') } });
    }
    if (key.ctrl && input === 'u') return store.dispatch({ type: 'overlay', overlay: { ...o, query: '' } });
    if (input && !key.ctrl && !key.meta) {
      // Fast typing can bring the Enter in the same chunk as the letters.
      const cr = input.indexOf('\r');
      const typed = (cr === -1 ? input : input.slice(0, cr)).replace(/[\u0000-\u001f\u007f]/g, '');
      const next = { ...o, query: o.query + typed };
      store.dispatch({ type: 'overlay', overlay: next });
      if (cr !== -1 && !isBlank(next.query)) void runSearch(next);
    }
  };

  const go = (id: string | null) => {
    if (id) void controller.open(id);
  };

  const runKey = (action: KeyAction): void => {
    const state = store.get();
    switch (action) {
      case 'quit':
        quit();
        return;
      case 'switcher':
        store.dispatch({ type: 'overlay', overlay: { kind: 'switcher', query: '', selected: 0 } });
        return;
      case 'search':
        openSearch('');
        return;
      case 'reconnect':
        reconnectNow();
        return;
      case 'help':
        store.dispatch({ type: 'overlay', overlay: { kind: 'help', offset: 0 } });
        return;
      case 'close':
        store.dispatch({ type: 'overlay', overlay: null });
        store.dispatch({ type: 'clear-notice' });
        // Esc also cancels an edit of a sent message, bringing back the draft it replaced.
        setComposer((c) => composerKey(c, { kind: 'cancel' }));
        return;
      case 'prevConversation':
        go(nextMatching(state, () => true, -1));
        return;
      case 'nextConversation':
        go(nextMatching(state, () => true));
        return;
      case 'nextUnread':
        go(nextMatching(state, (c) => c.unread > 0));
        return;
      case 'nextMention':
        go(nextMatching(state, (c) => c.mentions > 0));
        return;
      case 'nextActivity':
        go(nextActivity(state));
        return;
      case 'pageUp':
      case 'pageDown':
        // One screen less a line: the line at the edge stays in view, to read on from.
        if (state.active) {
          const v = state.views[state.active];
          const from = v?.scrollBack ?? 0;
          const to = pageScroll(from, listHeight, v?.loading ?? false, action === 'pageUp' ? 'up' : 'down');
          scrollBy(to - from);
        }
        return;
      case 'scrollHome':
        scrollBy(Number.MAX_SAFE_INTEGER);
        return;
      case 'scrollEnd':
        if (state.active) store.dispatch({ type: 'scroll', conversationId: state.active, scrollBack: 0 });
        return;
      case 'newline':
        setComposer((c) => composerKey(c, { kind: 'insert', text: '\n' }));
        return;
      case 'send':
        submit();
        return;
      case 'editLast':
        editLast();
        return;
      case 'complete': {
        // Completion works on the word before the cursor at the end of the text.
        if (composerRef.current.editor.cursor !== textRef.current.length) return;
        const base = tabCycle?.base ?? textRef.current;
        const index = tabCycle ? tabCycle.index + 1 : 0;
        const done = complete(
          base,
          true,
          { usernames, channels: channelNames, commands: COMMANDS.map((c) => c.name) },
          index,
        );
        if (done) {
          setText(done.text);
          setTabCycle({ base, index });
        }
        return;
      }
      case 'toggleMembers':
        store.dispatch({ type: 'toggle-members' });
        if (columns < MEMBERS_MIN_COLUMNS) {
          store.dispatch({
            type: 'notice',
            text: `the member list needs a terminal at least ${MEMBERS_MIN_COLUMNS} columns wide (this one has ${columns})`,
            level: 'info',
          });
        }
        return;
      case 'toggleServer': {
        const serverId = state.active ? state.conversations[state.active]?.serverId : null;
        if (serverId) store.dispatch({ type: 'toggle-server', serverId });
        return;
      }
    }
  };

  useInput((input, key) => {
    for (const part of splitKeys(input, key)) onKey(part.input, part.key);
  });

  function onKey(input: string, key: Key) {
    const state = store.get();
    const switcher = state.overlay?.kind === 'switcher' ? state.overlay : null;
    if (switcher) {
      if (key.escape) return store.dispatch({ type: 'overlay', overlay: null });
      const matches = fuzzyFilter(switcherItems(state), switcher.query);
      if (key.return) {
        go(matches[switcher.selected]?.id ?? null);
        return store.dispatch({ type: 'overlay', overlay: null });
      }
      if (key.upArrow || key.downArrow) {
        const max = Math.max(0, matches.length - 1);
        const selected = Math.max(0, Math.min(max, switcher.selected + (key.upArrow ? -1 : 1)));
        return store.dispatch({ type: 'overlay', overlay: { ...switcher, selected } });
      }
      if (key.backspace || key.delete) {
        return store.dispatch({
          type: 'overlay',
          overlay: { ...switcher, query: switcher.query.slice(0, -1), selected: 0 },
        });
      }
      if (key.ctrl && input === 'c') return quit();
      if (input && !key.ctrl && !key.meta) {
        // Fast typing can bring the Enter in the same chunk as the letters.
        const cr = input.indexOf('\r');
        const query = switcher.query + (cr === -1 ? input : input.slice(0, cr));
        if (cr !== -1) {
          go(fuzzyFilter(switcherItems(state), query)[0]?.id ?? null);
          return store.dispatch({ type: 'overlay', overlay: null });
        }
        return store.dispatch({ type: 'overlay', overlay: { ...switcher, query, selected: 0 } });
      }
      return;
    }
    if (state.overlay?.kind === 'search') return searchKey(state.overlay, input, key);
    if (state.overlay?.kind === 'help') {
      if (key.ctrl && input === 'c') return quit();
      // The key that opened it (F1 reaches useInput as nothing at all) does not close it.
      if (input === '' && !Object.values(key).some((v) => v === true)) return;
      const step = key.downArrow ? 1 : key.upArrow ? -1 : key.pageDown ? 10 : key.pageUp ? -10 : 0;
      if (step !== 0) {
        const offset = Math.max(0, state.overlay.offset + step);
        return store.dispatch({ type: 'overlay', overlay: { kind: 'help', offset } });
      }
      return store.dispatch({ type: 'overlay', overlay: null });
    }
    // Alt-1 … Alt-9: the n-th conversation of the sidebar, as in weechat and irssi.
    if (key.meta && !key.ctrl && /^[1-9]$/.test(input)) {
      go(sidebarOrder(state)[Number(input) - 1] ?? null);
      return;
    }
    const action = matchKey(input, key, config.keys, { composerEmpty: textRef.current === '' });
    if (action) {
      if (action !== 'complete') setTabCycle(null);
      return runKey(action);
    }
    setTabCycle(null);
    const editing = composerKeyOf(input, key);
    if (editing) {
      setComposer((c) => composerKey(c, editing));
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
      // Typed text followed by Enter can arrive as one chunk ("hi\r"): that is a send.
      // A paste arrives as one chunk; its line breaks stay in the one message.
      const typed = input.replace(/\r\n?/g, '\n').replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, '');
      setComposer((c) => composerKey(c, { kind: 'insert', text: typed }));
      if (state.active && !input.startsWith('/') && Date.now() - lastTyping.current > 2500) {
        lastTyping.current = Date.now();
        controller.typing(state.active);
      }
    }
  }

  const title = active
    ? active.kind === 'channel'
      ? `#${active.name}`
      : active.kind === 'group'
        ? `+${active.name}`
        : `@${active.name}`
    : 'natter';
  const server = active?.serverId ? state.servers[active.serverId] : undefined;
  const onlineCount = members.length > 0 ? members.filter((m) => state.online[m.user.id]).length : null;

  return <ThemeContext.Provider value={config.theme}>{screen()}</ThemeContext.Provider>;

  function screen() {
    if (switcher) {
      return (
        <Box width={columns} height={rows} flexDirection="column">
          <QuickSwitcher
            query={switcher.query}
            items={filtered}
            selected={switcher.selected}
            width={Math.min(columns, 70)}
            height={Math.min(rows, 20)}
            color={config.color}
          />
        </Box>
      );
    }
    if (state.overlay?.kind === 'search') {
      return (
        <Box width={columns} height={rows} flexDirection="column">
          <SearchOverlay
            query={state.overlay.query}
            hits={state.overlay.hits}
            selected={state.overlay.selected}
            loading={state.overlay.loading}
            error={state.overlay.error}
            more={state.overlay.more}
            width={Math.min(columns, 110)}
            height={Math.min(rows, 30)}
            timeFormat={config.timeFormat}
            color={config.color}
          />
        </Box>
      );
    }
    if (state.overlay?.kind === 'help') {
      return (
        <Box width={columns} height={rows} flexDirection="column">
          <HelpOverlay
            keys={describeBindings(config.keys).map((b) => ({ keys: b.keys.join(', '), action: b.description }))}
            commands={COMMANDS.map((c) => ({
              name: c.name,
              // The usage line starts with the command itself.
              usage: c.usage.replace(/^\/\S+\s*/, ''),
              description: c.description,
            }))}
            width={Math.min(columns, 100)}
            height={rows}
            offset={state.overlay.offset}
            footer="↑↓ PageUp PageDown scroll · any other key closes this"
          />
        </Box>
      );
    }

    return (
      <Box width={columns} height={rows} flexDirection="row">
        <Box
          width={sidebarWidth}
          flexDirection="column"
          borderStyle="single"
          borderTop={false}
          borderBottom={false}
          borderLeft={false}
        >
          <Sidebar
            servers={state.serverOrder.flatMap((id) => (state.servers[id] ? [state.servers[id]] : []))}
            conversations={state.conversations}
            active={state.active}
            online={state.online}
            width={sidebarWidth - 1}
            height={rows}
            color={config.color}
          />
        </Box>
        <Box width={mainWidth} flexDirection="column" paddingLeft={1}>
          <Header
            title={active ? (server ? `${active.name}  ${server.name}` : active.name) : 'natter'}
            topic={active?.topic ?? null}
            onlineCount={onlineCount}
            kind={active?.kind ?? 'channel'}
            width={mainWidth - 1}
            color={config.color}
          />
          <MessageList
            lines={view?.lines ?? []}
            meId={state.me?.id ?? null}
            meUsername={state.me?.username ?? null}
            width={listWidth}
            height={listHeight}
            scrollBack={view?.scrollBack ?? 0}
            newBelow={view?.newBelow ?? 0}
            focus={view?.focus ?? null}
            colors={colors}
            newFrom={view?.newFrom ?? null}
            hasMoreBefore={view?.hasMoreBefore ?? false}
            loading={view?.loading ?? false}
            timeFormat={config.timeFormat}
            now={now}
            color={config.color}
          />
          {state.notice ? (
            <NoticeLine
              text={state.notice.text}
              level={state.notice.level}
              colors={config.color ? { info: config.theme.muted, error: config.theme.error } : undefined}
            />
          ) : null}
          <Composer
            value={text}
            cursor={composer.editor.cursor}
            placeholder={active ? `message ${title}  (F1 or /help for help)` : 'Ctrl-K to open a conversation'}
            focused
            width={mainWidth - 1}
            prefix="> "
            maxRows={5}
          />
          <StatusLine
            connection={state.connection}
            typing={state.active ? typingIn(state, state.active, now) : []}
            now={now}
            width={mainWidth - 1}
            color={config.color}
            hint={state.connection.status === 'reconnecting' ? 'Ctrl-R: now' : undefined}
          />
        </Box>
        {membersWidth > 0 ? (
          <Box
            width={membersWidth}
            flexDirection="column"
            borderStyle="single"
            borderTop={false}
            borderBottom={false}
            borderRight={false}
          >
            <MemberList
              members={members}
              online={state.online}
              width={membersWidth - 1}
              height={rows}
              color={config.color}
            />
          </Box>
        ) : null}
      </Box>
    );
  }
}
