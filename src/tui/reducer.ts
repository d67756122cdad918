import type { AnyEvent, ConversationSummary, Message } from '../protocol/index.js';
import { confirmAfter } from './email-confirm.js';
import { eventNotes } from './info-lines.js';
import {
  heldKey,
  NO_MODERATION,
  reportKey,
  withHeld,
  withLoaded,
  withLoading,
  withoutItem,
  withReport,
} from './moderation.js';
import { sanitize } from './sanitize.js';
import {
  type Action,
  type Alert,
  type ConversationEntry,
  type ConversationView,
  KEPT_LINES,
  KEPT_SCROLLED_LINES,
  type Line,
  NEW_FROM_REACH,
  NOTICE_TICKS,
  type State,
} from './state.js';
import { highlighted } from './view/highlight.js';
import { messageRows, reanchor, scrollView } from './view/message-layout.js';
import { shownNames } from './view/shown-names.js';
import { sameDay } from './view/time.js';

/** The state before anything has happened. */
export function initialState(url: string): State {
  return {
    me: null,
    connection: { status: 'connecting', url },
    servers: {},
    serverOrder: [],
    conversations: {},
    active: null,
    views: {},
    members: {},
    online: {},
    typing: {},
    overlay: null,
    showMembers: false,
    notice: null,
    bell: 0,
    bellReason: null,
    alert: null,
    highlights: [],
    invitations: {},
    selected: null,
    layout: null,
    transfers: {},
    moderation: NO_MODERATION,
    confirm: null,
  };
}

function byName<T extends { name: string }>(a: T, b: T): number {
  return a.name.localeCompare(b.name, undefined, { sensitivity: 'base' });
}

function entryOf(c: ConversationSummary): ConversationEntry {
  return {
    id: c.id,
    kind: c.kind,
    serverId: c.serverId,
    name: c.name,
    topic: c.topic,
    peer: c.peer,
    lastSeq: c.lastSeq,
    lastReadSeq: c.lastReadSeq,
    unread: c.unread,
    mentions: c.mentions,
    ...(c.slowmode ? { slowmode: c.slowmode } : {}),
  };
}

/**
 * A conversation's counts from the server (`fresh`), plus the highlight-word
 * mentions this app counted (`known`), which the server cannot know of: kept
 * while nothing was read since (the read mark has not moved).
 */
function withHighlights(fresh: ConversationEntry, known: ConversationEntry | undefined): ConversationEntry {
  const highlighted =
    known && known.lastReadSeq === fresh.lastReadSeq && fresh.unread > 0
      ? Math.min(known.highlighted ?? 0, fresh.unread)
      : 0;
  return highlighted === 0
    ? { ...fresh, highlighted: 0 }
    : { ...fresh, mentions: Math.min(fresh.unread, fresh.mentions + highlighted), highlighted };
}

export function lineOf(m: Message, meId: string | null, highlights: readonly string[] = []): Line {
  return {
    key: m.id,
    id: m.id,
    seq: m.seq,
    author: m.author,
    // A server from before actions and bot marks sends neither: its messages are text, by people.
    bot: m.bot === true,
    kind: m.kind === 'action' || m.kind === 'automod' ? m.kind : 'text',
    body: m.body,
    createdAt: m.createdAt,
    editedAt: m.editedAt,
    deletedAt: m.deletedAt,
    nonce: m.nonce,
    pending: false,
    failed: null,
    mentionsMe:
      meId !== null && (m.mentions.includes(meId) || (m.author.id !== meId && highlighted(m.body, highlights))),
    ...(m.attachments && m.attachments.length > 0 ? { attachments: m.attachments } : {}),
  };
}

const EMPTY_VIEW: ConversationView = { lines: [], hasMoreBefore: true, loading: false, scrollBack: 0, newBelow: 0 };

/**
 * Puts stored lines in seq order (dropping duplicates by id), the ones still
 * being sent after them, each refused one where it was written (by time),
 * so what came after it shows below it, not hidden under it, and each info
 * line right after the message it followed (in the order they came).
 */
function mergeLines(existing: readonly Line[], incoming: readonly Line[]): Line[] {
  const stored = new Map<string, Line>();
  for (const l of existing) if (l.id) stored.set(l.id, l);
  for (const l of incoming) if (l.id) stored.set(l.id, l);
  const nonces = new Set([...stored.values()].map((l) => l.nonce).filter((n) => n !== null));
  const unsent = existing.filter((l) => l.id === null && l.kind !== 'info' && !(l.nonce && nonces.has(l.nonce)));
  const lines = [...stored.values()].sort((a, b) => (a.seq ?? 0) - (b.seq ?? 0));
  for (const f of unsent.filter((l) => l.failed !== null)) {
    const after = lines.findIndex((l) => l.id !== null && l.createdAt > f.createdAt);
    lines.splice(after === -1 ? lines.length : after, 0, f);
  }
  for (const i of existing.filter((l) => l.kind === 'info')) {
    const next = lines.findIndex((l) => l.seq !== null && l.seq > (i.after ?? 0));
    lines.splice(next === -1 ? lines.length : next, 0, i);
  }
  return [...lines, ...unsent.filter((l) => l.failed === null)];
}

/**
 * Whether a line stays with stored messages from seq `oldest` on: every line
 * but an info line about an earlier time (it goes with the messages around it).
 */
function keptFrom(l: Line, oldest: number): boolean {
  return l.kind !== 'info' || (l.after ?? 0) >= oldest - 1;
}

/**
 * The view without the stored messages beyond the newest {@link KEPT_LINES},
 * unless someone may be looking at them: a view scrolled up (open, or left
 * scrolled up: it is found where it was left, up to
 * {@link KEPT_SCROLLED_LINES}), the open one while it loads older pages (a
 * search hit being reached), and, while it is near, the first message that
 * was unread when it opened (the app fetches back to it to show the `── new
 * ──` line). What is dropped is fetched again when the view scrolls up to it.
 */
export function trimmed(view: ConversationView, open: boolean): ConversationView {
  if (open && (view.scrollBack > 0 || view.loading)) return view;
  // Stored lines are in seq order; refused ones sit among them by time, pending ones come last.
  const stored = view.lines.filter((l) => l.id !== null);
  if (view.scrollBack > 0) {
    if (stored.length <= KEPT_SCROLLED_LINES) return view;
    // Left scrolled up while far more arrived: back to the newest.
    view = { ...view, scrollBack: 0, newBelow: 0, owed: 0, focus: null };
  }
  let drop = stored.length - KEPT_LINES;
  if (drop <= 0) return view;
  const newest = stored.at(-1)?.seq ?? 0;
  const from = view.newFrom ?? null;
  if (open && from !== null && newest - from < NEW_FROM_REACH) {
    const firstUnread = stored.findIndex((l) => l.seq !== null && l.seq >= from);
    if (firstUnread !== -1) drop = Math.min(drop, firstUnread);
  }
  if (drop <= 0) return view;
  // Refused and pending lines are never dropped: only stored ones, oldest first, and the info lines among them.
  const oldestKept = stored[drop];
  const keepFrom = oldestKept?.seq ?? Number.POSITIVE_INFINITY;
  return {
    ...view,
    lines: view.lines.filter((l) => (l.id === null ? keptFrom(l, keepFrom) : (l.seq ?? 0) >= keepFrom)),
    hasMoreBefore: true,
  };
}

function withView(state: State, id: string, fn: (v: ConversationView) => ConversationView): State {
  const view = state.views[id];
  if (!view) return state;
  return { ...state, views: { ...state.views, [id]: fn(view) } };
}

function withConversation(state: State, id: string, fn: (c: ConversationEntry) => ConversationEntry): State {
  const conv = state.conversations[id];
  if (!conv) return state;
  return { ...state, conversations: { ...state.conversations, [id]: fn(conv) } };
}

function withoutConversations(state: State, ids: readonly string[]): State {
  if (ids.length === 0) return state;
  const conversations = { ...state.conversations };
  const views = { ...state.views };
  const typing = { ...state.typing };
  for (const id of ids) {
    delete conversations[id];
    delete views[id];
    delete typing[id];
  }
  return {
    ...state,
    conversations,
    views,
    typing,
    active: state.active && ids.includes(state.active) ? null : state.active,
  };
}

function sortChannels(state: State, ids: readonly string[]): string[] {
  return [...ids].sort((a, b) =>
    (state.conversations[a]?.name ?? '').localeCompare(state.conversations[b]?.name ?? ''),
  );
}

/** The pure state transition of the terminal app. Never does I/O, never mutates its input. */
export function reduce(state: State, action: Action): State {
  switch (action.type) {
    case 'connection':
      return { ...state, connection: action.connection };
    case 'authenticated':
      return { ...state, me: action.me };
    case 'confirm-needed': {
      const next = action.confirm;
      // The same address again (a reconnect): what was typed stays, and so does the screen's place.
      if (next && state.confirm && state.confirm.address === next.address)
        return { ...state, confirm: { ...state.confirm, required: next.required, confirmBy: next.confirmBy } };
      return { ...state, confirm: next };
    }
    case 'confirm-edit':
      return { ...state, confirm: action.confirm };
    case 'confirm-result':
      return state.confirm ? { ...state, confirm: confirmAfter(state.confirm, action.result) } : state;
    case 'confirm-show':
      return state.confirm ? { ...state, confirm: { ...state.confirm, hidden: false } } : state;
    case 'confirmed':
      return {
        ...state,
        confirm: null,
        notice: { text: `address confirmed: ${sanitize(action.address)}`, level: 'info', app: true },
      };
    case 'loaded': {
      const servers: State['servers'] = {};
      for (const s of action.servers) {
        servers[s.id] = {
          id: s.id,
          name: s.name,
          role: s.role,
          channelIds: s.channelIds,
          expanded: state.servers[s.id]?.expanded ?? true,
        };
      }
      const conversations: State['conversations'] = {};
      for (const c of action.conversations) conversations[c.id] = withHighlights(entryOf(c), state.conversations[c.id]);
      const next = { ...state, servers, conversations };
      for (const s of Object.values(servers))
        s.channelIds = sortChannels(
          next,
          s.channelIds.filter((id) => conversations[id]),
        );
      const serverOrder = [...action.servers].sort(byName).map((s) => s.id);
      const active = state.active && conversations[state.active] ? state.active : null;
      const invitations: State['invitations'] = {};
      for (const i of action.invitations) {
        invitations[i.group.id] = { groupId: i.group.id, name: i.group.name, from: i.invitedBy.username };
      }
      return { ...next, serverOrder, active, invitations };
    }
    case 'event':
      return noted(state, applyEvent(state, action.event), action.event, action.at);
    case 'history-failed':
      return withView(state, action.conversationId, (v) => ({ ...v, loading: false, owed: 0 }));
    case 'history-loading':
      return {
        ...state,
        views: {
          ...state.views,
          [action.conversationId]: { ...(state.views[action.conversationId] ?? EMPTY_VIEW), loading: true },
        },
      };
    case 'history': {
      const meId = state.me?.id ?? null;
      const lines = action.messages.map((m) => lineOf(m, meId, state.highlights));
      const view = state.views[action.conversationId] ?? EMPTY_VIEW;
      const firstLoaded = lines[0]?.seq ?? null;
      // The latest page joins what is loaded when nothing is missing between them; after a gap it
      // replaces it (and what is before it is unknown again).
      const lastKnown = view.lines.reduce((m, l) => (l.seq !== null && l.seq > m ? l.seq : m), 0);
      const joins = lastKnown > 0 && (firstLoaded === null || firstLoaded <= lastKnown + 1);
      const replaces = action.direction === 'latest' && !joins;
      const merged = replaces
        ? mergeLines(
            view.lines.filter((l) => l.id === null && keptFrom(l, firstLoaded ?? 0)),
            lines,
          )
        : mergeLines(view.lines, lines);
      const hasMoreBefore =
        action.direction === 'before' || replaces || view.lines.length === 0
          ? action.hasMore && firstLoaded !== 1
          : view.hasMoreBefore;
      // After a gap the place scrolled to is gone: the view shows the newest messages.
      const next = replaces
        ? { ...view, lines: merged, hasMoreBefore, loading: false, scrollBack: 0, newBelow: 0, owed: 0, focus: null }
        : { ...view, lines: merged, hasMoreBefore, loading: false };
      return {
        ...state,
        views: {
          ...state.views,
          [action.conversationId]: action.direction === 'before' ? payOwed(state, next) : next,
        },
      };
    }
    case 'open': {
      const conv = state.conversations[action.conversationId];
      if (!conv) return state;
      const views = { ...state.views };
      // The one left is no longer looked at: it keeps its newest messages only.
      const left = state.active !== null && state.active !== conv.id ? views[state.active] : undefined;
      if (state.active && left) views[state.active] = trimmed(left, false);
      const prior = state.views[conv.id];
      // Back to a conversation left scrolled up: it is where it was left, what came since waiting below.
      const returning = conv.id !== state.active && prior !== undefined && prior.scrollBack > 0;
      views[conv.id] = returning
        ? { ...prior, owed: 0 }
        : trimmed(
            {
              ...(prior ?? EMPTY_VIEW),
              scrollBack: 0,
              newBelow: 0,
              owed: 0,
              focus: null,
              // Where the unread messages begin, as they were when it opened (opening marks them read).
              newFrom: conv.id === state.active ? prior?.newFrom : conv.unread > 0 ? conv.lastReadSeq + 1 : null,
            },
            true,
          );
      const opened = {
        ...state,
        active: conv.id,
        overlay: null,
        // A notice belongs to where it was said: another conversation starts without it.
        notice: conv.id === state.active || state.notice?.app ? state.notice : null,
        selected: conv.id === state.selected?.conversationId ? state.selected : null,
        views,
      };
      // Opened at its newest messages, it is read; scrolled up, what is below stays unread until seen.
      if (returning) return opened;
      return withConversation(opened, conv.id, (c) => ({
        ...c,
        unread: 0,
        mentions: 0,
        highlighted: 0,
        lastReadSeq: c.lastSeq,
      }));
    }
    case 'pending': {
      const me = state.me;
      if (!me) return state;
      const line: Line = {
        key: `pending:${action.nonce}`,
        id: null,
        seq: null,
        author: { id: me.id, username: me.username, displayName: null },
        bot: false,
        kind: action.kind,
        body: action.body,
        createdAt: action.at,
        editedAt: null,
        deletedAt: null,
        nonce: action.nonce,
        pending: true,
        failed: null,
        mentionsMe: false,
        ...(action.attachments && action.attachments.length > 0 ? { attachments: action.attachments } : {}),
      };
      const view = state.views[action.conversationId] ?? EMPTY_VIEW;
      return {
        ...state,
        views: {
          ...state.views,
          [action.conversationId]: { ...view, lines: [...view.lines, line], scrollBack: 0, newBelow: 0 },
        },
      };
    }
    case 'sent':
      return addMessage(state, action.message);
    case 'send-failed':
      return withView(state, action.conversationId, (v) => ({
        ...v,
        lines: mergeLines(
          v.lines.map((l) => (l.nonce === action.nonce && l.id === null ? { ...l, failed: action.error } : l)),
          [],
        ),
      }));
    case 'send-held':
      return withView(state, action.conversationId, (v) => ({
        ...v,
        lines: v.lines.map((l) =>
          l.nonce === action.nonce && l.id === null ? { ...l, pending: false, held: action.note } : l,
        ),
      }));
    case 'dismiss-failed':
      return withView(state, action.conversationId, (v) =>
        v.lines.some((l) => l.failed !== null) ? { ...v, lines: v.lines.filter((l) => l.failed === null) } : v,
      );
    case 'scroll': {
      const scrollBack = Math.max(0, action.scrollBack);
      const owed = Math.max(0, action.owed ?? 0);
      // Back at the bottom of the open conversation: what waited below is read now.
      const seen =
        scrollBack === 0 && state.active === action.conversationId
          ? withConversation(state, action.conversationId, (c) =>
              c.lastReadSeq === c.lastSeq && c.unread === 0 && c.mentions === 0
                ? c
                : { ...c, lastReadSeq: c.lastSeq, unread: 0, mentions: 0, highlighted: 0 },
            )
          : state;
      // Back at the newest messages: what was loaded further up goes again.
      return withView(seen, action.conversationId, (v) =>
        v.scrollBack === scrollBack && (v.owed ?? 0) === owed
          ? v
          : trimmed(
              {
                ...v,
                scrollBack,
                owed,
                newBelow: scrollBack === 0 ? 0 : v.newBelow,
                focus: scrollBack === 0 ? null : v.focus,
              },
              state.active === action.conversationId,
            ),
      );
    }
    case 'focus':
      return withView(state, action.conversationId, (v) => ({
        ...v,
        focus: { seq: action.seq, words: action.words },
        scrollBack: Math.max(0, action.scrollBack),
      }));
    case 'select': {
      if (action.seq === null) return state.selected === null ? state : { ...state, selected: null };
      const selected = { conversationId: action.conversationId, seq: action.seq };
      const scrollBack = action.scrollBack;
      const next = { ...state, selected };
      return scrollBack === undefined
        ? next
        : withView(next, action.conversationId, (v) => ({ ...v, scrollBack: Math.max(0, scrollBack) }));
    }
    case 'highlights':
      return { ...state, highlights: action.words };
    case 'layout': {
      const was = state.layout;
      const previewRows = action.previewRows ?? 0;
      const wasRows = was?.media?.previewRows ?? 0;
      const same = was?.width === action.width && was.timeFormat === action.timeFormat && wasRows === previewRows;
      if (same && was?.height === action.height) return state;
      const layout = {
        width: action.width,
        timeFormat: action.timeFormat,
        height: action.height,
        ...(previewRows > 0 ? { media: { previewRows } } : {}),
      };
      if (!was || same) return { ...state, layout };
      // Rows wrap differently now: each view scrolled up keeps the same message at the bottom of its window.
      const me = { meId: state.me?.id ?? null, meUsername: state.me?.username ?? null };
      let views = state.views;
      for (const [id, v] of Object.entries(state.views)) {
        if (v.scrollBack === 0) continue;
        const scrollBack = reanchor(v.lines, v.scrollBack, { ...me, ...was }, { ...me, ...layout });
        if (scrollBack !== v.scrollBack) views = { ...views, [id]: { ...v, scrollBack, owed: 0 } };
      }
      return { ...state, layout, views };
    }
    case 'members':
      return {
        ...state,
        members: { ...state.members, [action.scopeId]: action.members },
        online: action.online ? { ...state.online, ...action.online } : state.online,
      };
    case 'overlay':
      return { ...state, overlay: action.overlay };
    case 'moderation-loading':
      return { ...state, moderation: withLoading(state.moderation, action.scopes) };
    case 'moderation-loaded':
      return { ...state, moderation: withLoaded(state.moderation, action.queues) };
    case 'moderation-done': {
      const moderation = withoutItem(state.moderation, action.key);
      return moderation === state.moderation ? state : { ...state, moderation };
    }
    case 'toggle-members':
      return { ...state, showMembers: !state.showMembers };
    case 'toggle-server': {
      const s = state.servers[action.serverId];
      if (!s) return state;
      return { ...state, servers: { ...state.servers, [s.id]: { ...s, expanded: !s.expanded } } };
    }
    case 'notice':
      return {
        ...state,
        notice: {
          text: action.text,
          level: action.level,
          ...(action.app ? { app: true } : {}),
          ...(action.about ? { about: action.about } : {}),
          ...(action.picture ? { picture: action.picture } : {}),
        },
      };
    case 'settled':
      return state.notice?.about === action.about ? { ...state, notice: null } : state;
    case 'clear-notice':
      return state.notice ? { ...state, notice: null } : state;
    case 'transfer':
      return { ...state, transfers: { ...state.transfers, [action.transfer.id]: action.transfer } };
    case 'transfer-done': {
      if (!state.transfers[action.id]) return state;
      const { [action.id]: _gone, ...transfers } = state.transfers;
      return { ...state, transfers };
    }
    case 'tick': {
      let changed = false;
      let notice = state.notice;
      if (notice) {
        const ticks = (notice.ticks ?? 0) + 1;
        notice = ticks >= NOTICE_TICKS[notice.level] ? null : { ...notice, ticks };
        changed = true;
      }
      const typing: State['typing'] = {};
      for (const [conv, users] of Object.entries(state.typing)) {
        const live = Object.fromEntries(Object.entries(users).filter(([, t]) => t.expiresAt > action.now));
        if (Object.keys(live).length !== Object.keys(users).length) changed = true;
        if (Object.keys(live).length > 0) typing[conv] = live;
      }
      return changed ? { ...state, typing, notice } : state;
    }
  }
}

/**
 * Older messages came in above a view that owes rows (a PageUp that reached
 * the top of what was loaded): it goes up the rest of the way in the same
 * step, as far as the messages now loaded allow, and owes what is still
 * missing if there are more before them (the app fetches those too).
 */
function payOwed(state: State, view: ConversationView): ConversationView {
  const owed = view.owed ?? 0;
  const height = state.layout?.height;
  if (owed === 0 || !state.layout || height === undefined) return view;
  const geometry = {
    meId: state.me?.id ?? null,
    meUsername: state.me?.username ?? null,
    width: state.layout.width,
    height,
    timeFormat: state.layout.timeFormat,
    ...(state.layout.media ? { media: state.layout.media } : {}),
  };
  const to = scrollView({ ...view, owed: 0 }, owed, geometry, true);
  return { ...view, scrollBack: to.scrollBack, owed: to.owed };
}

/** Writes the info lines of an event (see {@link eventNotes}) into the loaded views of the conversations it concerns. */
function noted(before: State, after: State, e: AnyEvent, at: number | undefined): State {
  let next = after;
  eventNotes(before, e).forEach((n, i) => {
    for (const id of n.conversationIds)
      next = addInfo(next, id, n.text, n.time ?? at, e.cursor ? `${e.cursor}:${i}` : null);
  });
  return next;
}

/**
 * An info line, after the newest message of the conversation. It counts as
 * nothing unread; scrolled up, the window moves up by its rows, so the
 * screen stays put. A view keeps at most {@link KEPT_LINES} of them.
 */
function addInfo(state: State, conversationId: string, text: string, at: number | undefined, id: string | null): State {
  const lastSeq = state.conversations[conversationId]?.lastSeq ?? 0;
  return withView(state, conversationId, (v) => {
    const keys = new Set(v.lines.map((l) => l.key));
    // The same event again (a replay) adds nothing.
    if (id !== null && keys.has(`info:${id}`)) return v;
    let n = v.lines.length;
    while (keys.has(`info:${n}`)) n++;
    const newest = v.lines.reduce((m, l) => (l.seq !== null && l.seq > m ? l.seq : m), 0);
    const line: Line = {
      key: `info:${id ?? n}`,
      id: null,
      seq: null,
      author: { id: '', username: '', displayName: null },
      bot: false,
      kind: 'info',
      body: text,
      createdAt: at ?? v.lines.at(-1)?.createdAt ?? 0,
      editedAt: null,
      deletedAt: null,
      nonce: null,
      pending: false,
      failed: null,
      mentionsMe: false,
      after: Math.max(lastSeq, newest),
    };
    let lines = mergeLines([...v.lines, line], []);
    const infos = lines.filter((l) => l.kind === 'info');
    if (infos.length > KEPT_LINES) {
      const gone = new Set(infos.slice(0, infos.length - KEPT_LINES));
      lines = lines.filter((l) => !gone.has(l));
    }
    if (v.scrollBack === 0 || !state.layout) return { ...v, lines };
    // Scrolled up: it comes in below the window, which moves up by its rows (and a day separator's).
    const prev = lines[lines.indexOf(line) - 1];
    const { width, timeFormat, media } = state.layout;
    const rows =
      messageRows(line, { meId: state.me?.id ?? null, width, timeFormat, ...(media ? { media } : {}) }).length +
      (prev && sameDay(prev.createdAt, line.createdAt) ? 0 : 1);
    return { ...v, lines, scrollBack: v.scrollBack + rows };
  });
}

/** A stored message arrives (live, or as the reply to my send). */
function addMessage(state: State, message: Message): State {
  const meId = state.me?.id ?? null;
  const mine = message.author.id === meId;
  const line = lineOf(message, meId, state.highlights);
  const open = state.active === message.conversationId;
  let next = withView(state, message.conversationId, (v) => {
    if (v.lines.some((l) => l.id === message.id)) return v;
    const lines = mergeLines(v.lines, [line]);
    if (v.scrollBack === 0 || !state.layout) return trimmed({ ...v, lines }, open);
    // Scrolled up: a message below the window moves the window up by its rows, so the screen stays put.
    const stored = lines.filter((l) => l.id !== null);
    const at = stored.findIndex((l) => l.id === message.id);
    if (at !== stored.length - 1) return trimmed({ ...v, lines }, open);
    const prev = stored[at - 1];
    const { width, timeFormat, media } = state.layout;
    const rows =
      messageRows(line, {
        meId,
        meUsername: state.me?.username ?? null,
        width,
        timeFormat,
        ...(media ? { media } : {}),
      }).length + (prev && sameDay(prev.createdAt, line.createdAt) ? 0 : 1);
    return trimmed(
      { ...v, lines, scrollBack: v.scrollBack + rows, newBelow: mine ? v.newBelow : v.newBelow + 1 },
      open,
    );
  });
  const conv = next.conversations[message.conversationId];
  // Already counted (a replayed event, or the reply to my send after its event).
  if (!conv || message.seq <= conv.lastSeq) return next;
  // Seen: in the open conversation, with the window at the bottom. Scrolled up, it waits below, unread.
  const seen = next.active === conv.id && (next.views[conv.id]?.scrollBack ?? 0) === 0;
  const counts = !mine && !seen && message.seq > conv.lastReadSeq;
  next = withConversation(next, conv.id, (c) => ({
    ...c,
    lastSeq: Math.max(c.lastSeq, message.seq),
    lastReadSeq: mine || seen ? Math.max(c.lastReadSeq, message.seq) : c.lastReadSeq,
    unread: counts ? c.unread + 1 : c.unread,
    mentions: counts && line.mentionsMe ? c.mentions + 1 : c.mentions,
    highlighted:
      counts && line.mentionsMe && !message.mentions.includes(meId ?? '') ? (c.highlighted ?? 0) + 1 : c.highlighted,
  }));
  // Typing ends with the message.
  const typingHere = next.typing[conv.id];
  if (typingHere?.[message.author.id]) {
    const rest = { ...typingHere };
    delete rest[message.author.id];
    next = { ...next, typing: { ...next.typing, [conv.id]: rest } };
  }
  if (counts && (line.mentionsMe || conv.kind === 'dm')) {
    const reason = line.mentionsMe ? 'mention' : 'dm';
    const alert: Alert = {
      reason,
      conversationId: conv.id,
      from: message.author.username,
      where: placeName(next, conv),
      text: message.body,
    };
    next = { ...next, bell: next.bell + 1, bellReason: reason, alert };
  }
  return next;
}

/** Something new to review: the bell rings (the notifier decides, by the config, what it does). */
function review(state: State, what: Omit<Alert, 'reason'>): State {
  return { ...state, bell: state.bell + 1, bellReason: 'review', alert: { reason: 'review', ...what } };
}

function replaceLine(state: State, message: Message): State {
  const meId = state.me?.id ?? null;
  return withView(state, message.conversationId, (v) => ({
    ...v,
    lines: v.lines.map((l) => (l.id === message.id ? lineOf(message, meId, state.highlights) : l)),
  }));
}

function applyEvent(state: State, e: AnyEvent): State {
  switch (e.event) {
    case 'message.created':
      return addMessage(state, e.data.message);
    case 'message.updated':
    case 'message.deleted':
      return replaceLine(state, e.data.message);
    case 'server.joined': {
      const { server, channels } = e.data;
      const conversations = { ...state.conversations };
      for (const ch of channels) {
        conversations[ch.id] = {
          id: ch.id,
          kind: 'channel',
          serverId: server.id,
          name: ch.name,
          topic: ch.topic,
          peer: null,
          lastSeq: ch.lastSeq,
          lastReadSeq: ch.lastSeq,
          unread: 0,
          mentions: 0,
          highlighted: 0,
          ...(ch.slowmode ? { slowmode: ch.slowmode } : {}),
        };
      }
      const next = { ...state, conversations };
      const entry = {
        id: server.id,
        name: server.name,
        role: server.role,
        channelIds: sortChannels(
          next,
          channels.map((c) => c.id),
        ),
        expanded: true,
      };
      const servers = { ...state.servers, [server.id]: entry };
      const serverOrder = Object.values(servers)
        .sort(byName)
        .map((s) => s.id);
      return { ...next, servers, serverOrder };
    }
    case 'server.updated': {
      const { server } = e.data;
      const s = state.servers[server.id];
      return s ? { ...state, servers: { ...state.servers, [s.id]: { ...s, name: server.name } } } : state;
    }
    case 'server.deleted':
    case 'server.removed': {
      const serverId = e.data.serverId;
      const s = state.servers[serverId];
      if (!s) return state;
      const servers = { ...state.servers };
      delete servers[serverId];
      const by = e.event === 'server.removed' && e.data.by ? ` by ${e.data.by.username}` : '';
      const why = e.event === 'server.removed' && e.data.note ? ` (${e.data.note})` : '';
      const reason =
        e.event === 'server.deleted'
          ? 'was deleted'
          : `: you ${e.data.reason === 'left' ? 'left' : `were ${e.data.reason}${by}${why}`}`;
      const next = withoutConversations(
        { ...state, servers, serverOrder: state.serverOrder.filter((id) => id !== serverId) },
        s.channelIds,
      );
      return { ...next, notice: { text: `${s.name} ${reason}`.replace(' :', ':'), level: 'info', app: true } };
    }
    case 'channel.created': {
      const { channel } = e.data;
      const s = state.servers[channel.serverId];
      if (!s || state.conversations[channel.id]) return state;
      const next: State = {
        ...state,
        conversations: {
          ...state.conversations,
          [channel.id]: {
            id: channel.id,
            kind: 'channel',
            serverId: channel.serverId,
            name: channel.name,
            topic: channel.topic,
            peer: null,
            lastSeq: channel.lastSeq,
            lastReadSeq: channel.lastSeq,
            unread: 0,
            mentions: 0,
            highlighted: 0,
            ...(channel.slowmode ? { slowmode: channel.slowmode } : {}),
          },
        },
      };
      const channelIds = sortChannels(next, [...s.channelIds.filter((id) => id !== channel.id), channel.id]);
      return { ...next, servers: { ...next.servers, [s.id]: { ...s, channelIds } } };
    }
    case 'channel.updated': {
      const { channel } = e.data;
      const next = withConversation(state, channel.id, ({ slowmode: _was, ...c }) => ({
        ...c,
        name: channel.name,
        topic: channel.topic,
        ...(channel.slowmode ? { slowmode: channel.slowmode } : {}),
      }));
      const s = next.servers[channel.serverId];
      return s
        ? { ...next, servers: { ...next.servers, [s.id]: { ...s, channelIds: sortChannels(next, s.channelIds) } } }
        : next;
    }
    case 'channel.deleted': {
      const { serverId, channelId } = e.data;
      const s = state.servers[serverId];
      const gone = state.conversations[channelId];
      let next = withoutConversations(state, [channelId]);
      // The one being read went away under me: say so, where the messages were.
      if (gone && state.active === channelId) {
        next = { ...next, notice: { text: `#${gone.name} was deleted`, level: 'info', app: true } };
      }
      return s
        ? {
            ...next,
            servers: { ...next.servers, [s.id]: { ...s, channelIds: s.channelIds.filter((id) => id !== channelId) } },
          }
        : next;
    }
    case 'group.updated': {
      const { group } = e.data;
      const existing = state.conversations[group.id];
      const conversations = {
        ...state.conversations,
        [group.id]: existing
          ? { ...existing, name: group.name, lastSeq: Math.max(existing.lastSeq, group.lastSeq) }
          : {
              id: group.id,
              kind: 'group' as const,
              serverId: null,
              name: group.name,
              topic: null,
              peer: null,
              lastSeq: group.lastSeq,
              lastReadSeq: 0,
              unread: 0,
              mentions: 0,
              highlighted: 0,
            },
      };
      return {
        ...state,
        conversations,
        members: { ...state.members, [group.id]: group.members.map((user) => ({ user, role: null })) },
      };
    }
    case 'group.removed': {
      const { groupId } = e.data;
      const gone = state.conversations[groupId];
      const next = withoutConversations(state, [groupId]);
      return gone && state.active === groupId
        ? { ...next, notice: { text: `you are no longer in +${gone.name}`, level: 'info', app: true } }
        : next;
    }
    case 'group.invited': {
      const { invitation } = e.data;
      const entry = { groupId: invitation.group.id, name: invitation.group.name, from: invitation.invitedBy.username };
      return {
        ...state,
        invitations: { ...state.invitations, [entry.groupId]: entry },
        notice: {
          text: `${entry.from} invited you to +${entry.name}: /accept ${entry.name} or /decline ${entry.name}`,
          level: 'info',
        },
        bell: state.bell + 1,
        bellReason: 'invitation',
        alert: {
          reason: 'invitation',
          conversationId: null,
          from: entry.from,
          where: `+${entry.name}`,
          text: `${entry.from} invited you to +${entry.name}`,
        },
      };
    }
    case 'group.invitation_closed': {
      const { groupId } = e.data;
      if (!state.invitations[groupId]) return state;
      const { [groupId]: _gone, ...invitations } = state.invitations;
      return { ...state, invitations };
    }
    case 'dm.opened': {
      const { conversationId, peer } = e.data;
      if (state.conversations[conversationId]) return state;
      return {
        ...state,
        conversations: {
          ...state.conversations,
          [conversationId]: {
            id: conversationId,
            kind: 'dm',
            serverId: null,
            name: peer.username,
            topic: null,
            peer,
            lastSeq: 0,
            lastReadSeq: 0,
            unread: 0,
            mentions: 0,
            highlighted: 0,
          },
        },
      };
    }
    case 'read.updated': {
      const r = e.data;
      const c = state.conversations[r.conversationId];
      if (!c) return state;
      const counted = withHighlights({ ...c, lastReadSeq: r.lastReadSeq, unread: r.unread, mentions: r.mentions }, c);
      // The echo of my own read mark (reading the open conversation) usually changes nothing: no render for it.
      if (c.lastReadSeq === counted.lastReadSeq && c.unread === counted.unread && c.mentions === counted.mentions)
        return state;
      return withConversation(state, r.conversationId, () => counted);
    }
    case 'member.joined':
    case 'member.updated': {
      const { serverId, member } = e.data;
      // My own role changed (made a moderator, or a member again): what I review follows.
      const mine = state.servers[serverId];
      if (member.user.id === state.me?.id && mine && mine.role !== member.role)
        state = { ...state, servers: { ...state.servers, [serverId]: { ...mine, role: member.role } } };
      const list = state.members[serverId];
      if (!list) return state;
      const rest = list.filter((m) => m.user.id !== member.user.id);
      return {
        ...state,
        members: { ...state.members, [serverId]: [...rest, { user: member.user, role: member.role }] },
        online: { ...state.online, [member.user.id]: member.online },
      };
    }
    case 'message.held': {
      // Keyed by id: the same event again (a replay, or one the list already had) adds nothing and rings nothing.
      const { held } = e.data;
      const moderation = withHeld(state.moderation, held);
      if (!moderation) return state;
      return review(
        { ...state, moderation },
        {
          conversationId: held.conversationId,
          from: held.author.username,
          where: `#${held.channel} (${state.servers[held.serverId]?.name ?? '?'})`,
          text: held.body,
        },
      );
    }
    case 'report.created': {
      const { report } = e.data;
      const moderation = withReport(state.moderation, report);
      if (!moderation) return state;
      const c = report.conversation;
      const server = report.serverId ? state.servers[report.serverId]?.name : undefined;
      return review(
        { ...state, moderation },
        {
          conversationId: c?.id ?? null,
          from: report.reporter?.username ?? 'someone',
          where: c?.kind === 'channel' ? `#${c.name ?? '?'}${server ? ` (${server})` : ''}` : (server ?? 'operators'),
          text: `report #${report.id} (${report.reason}) about ${report.targetUser?.username ?? 'someone'}${report.snapshot ? `: ${report.snapshot}` : ''}`,
        },
      );
    }
    case 'report.resolved': {
      const moderation = withoutItem(state.moderation, reportKey(e.data.report.id));
      return moderation === state.moderation ? state : { ...state, moderation };
    }
    case 'held.resolved': {
      // Off the moderators' list, whoever resolved it.
      const moderation = withoutItem(state.moderation, heldKey(e.data.heldId));
      if (moderation !== state.moderation) state = { ...state, moderation };
      // Rejected: my held line goes (the note says so); approved, message.created takes its place by its nonce.
      const { conversationId, outcome, nonce } = e.data;
      if (outcome !== 'rejected' || nonce === null) return state;
      return withView(state, conversationId, (v) =>
        v.lines.some((l) => l.id === null && l.nonce === nonce && l.held !== undefined)
          ? { ...v, lines: v.lines.filter((l) => !(l.id === null && l.nonce === nonce && l.held !== undefined)) }
          : v,
      );
    }
    case 'member.left': {
      const { serverId, userId } = e.data;
      const list = state.members[serverId];
      return list
        ? { ...state, members: { ...state.members, [serverId]: list.filter((m) => m.user.id !== userId) } }
        : state;
    }
    case 'user.updated': {
      const { user } = e.data;
      const conversations = { ...state.conversations };
      for (const c of Object.values(conversations)) {
        if (c.peer?.id === user.id) conversations[c.id] = { ...c, peer: user, name: user.username };
      }
      const members: State['members'] = {};
      for (const [k, list] of Object.entries(state.members))
        members[k] = list.map((m) => (m.user.id === user.id ? { ...m, user } : m));
      const me = state.me?.id === user.id ? { id: user.id, username: user.username } : state.me;
      return { ...state, conversations, members, me };
    }
    case 'presence': {
      const { userId, online } = e.data;
      return { ...state, online: { ...state.online, [userId]: online } };
    }
    case 'typing': {
      const t = e.data;
      return {
        ...state,
        typing: {
          ...state.typing,
          [t.conversationId]: {
            ...state.typing[t.conversationId],
            [t.user.id]: { username: t.user.username, expiresAt: t.expiresAt },
          },
        },
      };
    }
    default:
      return state;
  }
}

/** A conversation as the sidebar names it: `#general (acme)`, `+friends`, `@bob`. */
export function placeName(state: State, c: ConversationEntry): string {
  // Servers and groups as the sidebar names them: `acme·2f9k` when two of mine share a name.
  const names = shownNames(state);
  if (c.kind === 'channel') {
    const server = c.serverId ? (names.get(c.serverId) ?? state.servers[c.serverId]?.name) : undefined;
    return server ? `#${c.name} (${server})` : `#${c.name}`;
  }
  if (c.kind === 'group') return `+${names.get(c.id) ?? c.name}`;
  // A deleted account has no name to address: its DM is shown as what it is.
  return c.peer?.deleted ? 'deleted user' : `@${c.name}`;
}

/** Conversation ids in sidebar order: each server's channels (when expanded), then groups, then DMs. */
export function sidebarOrder(state: State): string[] {
  const ids: string[] = [];
  for (const sid of state.serverOrder) {
    const s = state.servers[sid];
    if (s?.expanded) ids.push(...s.channelIds);
  }
  const rest = Object.values(state.conversations);
  ids.push(
    ...rest
      .filter((c) => c.kind === 'group')
      .sort(byName)
      .map((c) => c.id),
  );
  ids.push(
    ...rest
      .filter((c) => c.kind === 'dm')
      .sort(byName)
      .map((c) => c.id),
  );
  return ids;
}

/** The next conversation after the active one (wrapping) that matches `pred`, or null. */
export function nextMatching(state: State, pred: (c: ConversationEntry) => boolean, step = 1): string | null {
  const order = sidebarOrder(state);
  if (order.length === 0) return null;
  const start = state.active ? order.indexOf(state.active) : -1;
  for (let i = 1; i <= order.length; i++) {
    const id = order[(((start + i * step) % order.length) + order.length) % order.length];
    const c = id ? state.conversations[id] : undefined;
    if (c && c.id !== state.active && pred(c)) return c.id;
  }
  return null;
}

/**
 * The conversation to go to for activity (weechat's Alt-A): one that
 * mentions me first, then a DM with unread messages, then any with unread
 * messages; within each, the next in sidebar order after the open one.
 */
export function nextActivity(state: State): string | null {
  const order = sidebarOrder(state);
  const start = state.active ? order.indexOf(state.active) : -1;
  const rotated = [...order.slice(start + 1), ...order.slice(0, start + 1)].filter((id) => id !== state.active);
  const tiers: ((c: ConversationEntry) => boolean)[] = [
    (c) => c.mentions > 0,
    (c) => c.kind === 'dm' && c.unread > 0,
    (c) => c.unread > 0,
  ];
  for (const tier of tiers) {
    const id = rotated.find((x) => {
      const c = state.conversations[x];
      return c !== undefined && tier(c);
    });
    if (id) return id;
  }
  return null;
}

/** Who is typing in a conversation now (not me). */
export function typingIn(state: State, conversationId: string, now: number): string[] {
  return Object.entries(state.typing[conversationId] ?? {})
    .filter(([id, t]) => t.expiresAt > now && id !== state.me?.id)
    .map(([, t]) => t.username);
}
