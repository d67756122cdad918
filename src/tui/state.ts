import type {
  AnyEvent,
  Attachment,
  ConversationKind,
  ConversationSummary,
  GroupInvitation,
  HeldMessage,
  Message,
  MessageKind,
  PublicUser,
  Report,
  SearchHit,
  ServerInfo,
  StoredMessageKind,
  UserRef,
} from '../protocol/index.js';
import type { ConfirmResult, ConfirmState } from './email-confirm.js';
import type { TimeFormat } from './view/time.js';

/** The connection as the status line shows it. */
export type ConnectionView =
  | { status: 'connecting'; url: string }
  | { status: 'connected'; url: string }
  | { status: 'reconnecting'; url: string; retryAt: number; error: string }
  | { status: 'closed'; url: string; error: string | null };

/** One conversation in the sidebar. */
export type ConversationEntry = {
  id: string;
  kind: ConversationKind;
  serverId: string | null;
  /** Channel or group name; for a DM the other person's username. */
  name: string;
  topic: string | null;
  /** For a DM: the other person. */
  peer: PublicUser | null;
  lastSeq: number;
  lastReadSeq: number;
  unread: number;
  /** Unread messages that mention me: by name (the server counts those) or by a highlight word (only this app does). */
  mentions: number;
  /** Of `mentions`, those by a highlight word only, counted here while the app runs: kept when the server's counts come again. */
  highlighted?: number;
  /** A channel's slow mode: seconds a member waits between two messages (absent: off). */
  slowmode?: number;
};

/** A server in the sidebar, with its channels (conversation ids, by name). */
export type ServerEntry = {
  id: string;
  name: string;
  role: ServerInfo['role'];
  channelIds: string[];
  expanded: boolean;
};

/**
 * A line of the message list: a stored message, one of mine still waiting
 * for its acknowledgement, or an info line (`info`: someone joined, left or
 * was kicked, the topic changed) that the app writes itself from an event.
 */
export type Line = {
  /** Stable React key: the message id, `pending:<nonce>`, or `info:…`. */
  key: string;
  id: string | null;
  seq: number | null;
  author: UserRef;
  /** Sent over a bot token (shown with a `bot` tag after the name). */
  bot: boolean;
  /**
   * `text`; `action`: the body is what the author does, shown as `* alice waves`;
   * `info`: the body is what happened (`bob was kicked`), shown dim as `-- bob was kicked`.
   * An info line is not on the server: no id, no seq, never unread, never selected.
   * `automod`: a notice an automatic moderation rule posted (its author is the person it is about).
   */
  kind: StoredMessageKind | 'info';
  body: string;
  createdAt: number;
  editedAt: number | null;
  deletedAt: number | null;
  nonce: string | null;
  pending: boolean;
  /** Why a pending send failed (shown in place, the text kept). */
  failed: string | null;
  /** A send the server's rules hold for a moderator's review: why, as the server said. Posted if approved. */
  held?: string;
  /** Mentions the viewer. */
  mentionsMe: boolean;
  /**
   * An info line's place: the seq of the newest message when it happened
   * (0 before any). It stays right after that message as pages load and go.
   */
  after?: number;
  /** Files sent with it, in order (absent: none). Their names are the uploaders': sanitized when drawn. */
  attachments?: Attachment[];
};

/** A file going up or coming down: what the status line shows while it moves. */
export type Transfer = {
  id: string;
  kind: 'upload' | 'download';
  /** The file's name (an upload's is the local file's; a download's the server's, sanitized when drawn). */
  name: string;
  /** Bytes moved so far, and in all. */
  sent: number;
  total: number;
};

/**
 * Stored messages a conversation keeps once nobody is looking further back
 * (it is not open, or it is open at its newest messages): the newest ones.
 * Older ones are dropped and fetched again, a page at a time, when the view
 * scrolls up to them, so a long session holds a bounded number of messages.
 */
export const KEPT_LINES = 500;

/**
 * Stored messages a conversation left scrolled up may hold while messages
 * keep arriving: it keeps its place among them until then; past it, it goes
 * back to its newest messages and keeps {@link KEPT_LINES}.
 */
export const KEPT_SCROLLED_LINES = 2000;

/** How far back (in messages) the app fetches to show where the unread ones begin when a conversation opens. */
export const NEW_FROM_REACH = 1000;

/** What a notice is about, when something later can make it untrue: the terminal too narrow for the member list. */
export type NoticeTopic = 'members-width';

/** What the app knows of one conversation's messages. */
export type ConversationView = {
  /**
   * Stored messages by seq, ascending, then pending ones: the newest ones
   * without a gap, back to where loading (or {@link KEPT_LINES}) stopped.
   */
  lines: Line[];
  /** True while seq 1 is not among the lines (not loaded yet, or dropped again). */
  hasMoreBefore: boolean;
  loading: boolean;
  /**
   * How many terminal rows (after wrapping) the view is scrolled up from the
   * bottom; 0 follows new messages. While it is above 0, a message arriving
   * below moves it up by that message's rows, so what is on screen stays.
   */
  scrollBack: number;
  /** Messages from others that arrived below the window while scrolled up. */
  newBelow: number;
  /** A message a search led to: shown marked, with the matched words highlighted, until the view moves on. */
  focus?: { seq: number; words: string[] } | null;
  /** The first message that was unread when the conversation was opened: a `── new ──` line goes above it. */
  newFrom?: number | null;
  /**
   * Rows a scroll up (PageUp) asked for beyond the top of what is loaded:
   * the older messages being fetched come in scrolled up by that much more,
   * so the press moves a whole page, as it would had they been loaded.
   */
  owed?: number;
};

/** The search overlay: the query, the last results (null before a search ran), the chosen one. */
export type SearchOverlayState = {
  kind: 'search';
  query: string;
  /** Where typing goes in the query (an index into it); its end when absent. */
  cursor?: number;
  hits: SearchHit[] | null;
  /** The query the hits are for (typing after a search makes Enter search again). */
  searched: string | null;
  more: boolean;
  /** Where the next page of hits starts (Down past the last hit loads it), or null. */
  next: string | null;
  selected: number;
  loading: boolean;
  error: string | null;
};

/**
 * The moderation overlay: the item chosen, by its key (`held:ID`,
 * `report:ID`), so that items coming and going do not move it, and where it
 * was (`index`), for when it goes: the item that takes its place is chosen.
 */
export type ModerationOverlayState = { kind: 'moderation'; selected: string | null; index: number };

export type Overlay =
  /** The Ctrl-K switcher: the query, where typing goes in it (its end when absent), the chosen match. */
  | { kind: 'switcher'; query: string; cursor?: number; selected: number }
  | { kind: 'help'; offset: number }
  | SearchOverlayState
  | ModerationOverlayState;

/** The queue of the instance's operators (reports from DMs and groups), beside the servers' queues. */
export const INSTANCE_QUEUE = 'instance';

/** Held messages and open reports a page of each loads per queue. */
export const MODERATION_PAGE = 50;

/** How one queue (a server's, or {@link INSTANCE_QUEUE}) was last loaded. */
export type QueueStatus = {
  loading: boolean;
  /** Why the last load failed, in words, or null. */
  error: string | null;
  /** The server has more held messages, or more open reports, than the first page loaded. */
  moreHeld: boolean;
  moreReports: boolean;
};

/**
 * What waits for my review: held messages and open reports, keyed by id (an
 * event seen twice, a replay, changes nothing), and how each queue loaded.
 * Only the queues of servers I moderate (and the instance's, for an
 * operator) are shown or counted: see `moderation.ts`.
 */
export type ModerationState = {
  held: Record<string, HeldMessage>;
  /** Open reports, by id. */
  reports: Record<string, Report>;
  queues: Record<string, QueueStatus>;
};

/** A queue's items as loaded (`moderation-loaded`): they replace what was known of that queue. */
export type LoadedQueue = {
  /** A server id, or {@link INSTANCE_QUEUE}. */
  scope: string;
  held: HeldMessage[];
  reports: Report[];
  moreHeld: boolean;
  moreReports: boolean;
  error: string | null;
};

/** Seconds (ticks of the app's clock) a notice stays: an error longer, to be read. */
export const NOTICE_TICKS = { info: 8, error: 20 } as const;

/** Everything the terminal app shows, as plain data. */
export type State = {
  /** Who I am; `operator`: one of the instance's operators, who handle reports from DMs and groups. */
  me: { id: string; username: string; operator?: boolean } | null;
  connection: ConnectionView;
  servers: Record<string, ServerEntry>;
  /** Server ids, by name. */
  serverOrder: string[];
  conversations: Record<string, ConversationEntry>;
  /** The open conversation. */
  active: string | null;
  views: Record<string, ConversationView>;
  /** Members of servers and groups, by server or group id, once loaded. */
  members: Record<string, { user: UserRef; role: string | null }[]>;
  /** Who is online, by user id. */
  online: Record<string, boolean>;
  /** Who is typing where: conversation id -> user id -> {username, expiresAt}. */
  typing: Record<string, Record<string, { username: string; expiresAt: number }>>;
  overlay: Overlay | null;
  showMembers: boolean;
  /**
   * A one-line notice under the messages: errors from the server, results of
   * commands. It goes when another conversation opens, on Esc, or after
   * {@link NOTICE_TICKS} ticks of the app's clock; `ticks` counts them.
   */
  notice: {
    text: string;
    level: 'info' | 'error';
    ticks?: number;
    app?: boolean;
    about?: NoticeTopic;
    /** A picture shown beside it (`/whois`: their profile picture's URL, fetched as previews are). */
    picture?: string;
  } | null;
  /** Set when something deserves the terminal bell (a mention or DM outside the open conversation, something to review). */
  bell: number;
  /** What rang the bell last. */
  bellReason: Alert['reason'] | null;
  /** What rang the bell last, for notifications: who, where, and what they wrote. */
  alert: Alert | null;
  /** Words that count as a mention of me (the config's highlight words). */
  highlights: readonly string[];
  /** Group invitations waiting for my answer, by group id. */
  invitations: Record<string, Invitation>;
  /**
   * The message picked in the open conversation's list (selection mode), by
   * seq: keys act on it (edit, delete, reply, copy) until Esc.
   */
  selected: { conversationId: string; seq: number } | null;
  /**
   * How the message list wraps (set by the app as the terminal's width changes), to count a message's rows,
   * and its height in rows when known, to place the window when older messages come in.
   */
  layout: { width: number; timeFormat: TimeFormat; height?: number; media?: { previewRows: number } } | null;
  /** Held messages and open reports waiting for me (a moderator, an operator). */
  moderation: ModerationState;
  /** Uploads and downloads under way, by id, in the order they started. */
  transfers: Record<string, Transfer>;
  /** An email address waiting for its mailed code: the confirmation screen (hidden or not), or null. */
  confirm: ConfirmState | null;
};

/** A notification's details (see `State.alert`). */
export type Alert = {
  /** `review`: a message held or a report made, for me to look at (a moderator, an operator). */
  reason: 'mention' | 'dm' | 'invitation' | 'review';
  conversationId: string | null;
  /** Who: a username. */
  from: string;
  /** Where, as the sidebar names it: `#general (acme)`, `@bob`, `+friends`. */
  where: string;
  /** The message, or what the invitation says. */
  text: string;
};

/** A group invitation waiting for an answer. */
export type Invitation = { groupId: string; name: string; from: string };

/** Everything that can happen to the state. */
export type Action =
  | { type: 'connection'; connection: ConnectionView }
  | { type: 'authenticated'; me: { id: string; username: string; operator?: boolean } }
  | {
      type: 'loaded';
      servers: (ServerInfo & { channelIds: string[] })[];
      conversations: ConversationSummary[];
      invitations: GroupInvitation[];
    }
  /** `at`: when it arrived (the app's clock), the time of the info lines it adds. */
  | { type: 'event'; event: AnyEvent; at?: number }
  | {
      type: 'history';
      conversationId: string;
      messages: Message[];
      hasMore: boolean;
      /** `latest` replaces the loaded page, `before` adds older ones, `gap` fills in missed ones. */
      direction: 'latest' | 'before' | 'gap';
    }
  | { type: 'history-loading'; conversationId: string }
  /** Loading older messages failed: the view is no longer loading (and owes no rows). */
  | { type: 'history-failed'; conversationId: string }
  | { type: 'open'; conversationId: string }
  | {
      type: 'pending';
      conversationId: string;
      nonce: string;
      body: string;
      kind: MessageKind;
      at: number;
      /** Files uploaded already, sent with it. */
      attachments?: Attachment[];
    }
  | { type: 'sent'; nonce: string; message: Message }
  | { type: 'send-failed'; nonce: string; conversationId: string; error: string }
  | { type: 'send-held'; nonce: string; conversationId: string; note: string }
  /** Takes the refused messages (`✗ not sent`) of a conversation off the screen (Esc). */
  | { type: 'dismiss-failed'; conversationId: string }
  /**
   * Scrolls to `scrollBack` rows from the bottom, already clamped by the layout (0: the newest); `owed`:
   * rows more that were asked for, to go up once the older messages being fetched are in.
   */
  | { type: 'scroll'; conversationId: string; scrollBack: number; owed?: number }
  /** `previewRows`: the most rows an image's preview takes (0 or absent: none), which every row count follows. */
  | { type: 'layout'; width: number; timeFormat: TimeFormat; height?: number; previewRows?: number }
  /** The config's highlight words. */
  | { type: 'highlights'; words: readonly string[] }
  | { type: 'focus'; conversationId: string; seq: number; words: string[]; scrollBack: number }
  /** Selects message `seq` of `conversationId` (null: leaves selection mode), scrolled to `scrollBack`. */
  | { type: 'select'; conversationId: string; seq: number | null; scrollBack?: number }
  | {
      type: 'members';
      scopeId: string;
      members: { user: UserRef; role: string | null }[];
      /** Who of them is online, by user id, when the list says. */
      online?: Record<string, boolean>;
    }
  | { type: 'overlay'; overlay: Overlay | null }
  /** The queues named are being loaded (what is known of them stays shown meanwhile). */
  | { type: 'moderation-loading'; scopes: string[] }
  /** Queues loaded: each replaces what was known of it. */
  | { type: 'moderation-loaded'; queues: LoadedQueue[] }
  /** A held message or a report I dealt with is off my list (its event, which follows, then changes nothing). */
  | { type: 'moderation-done'; key: string }
  | { type: 'toggle-members' }
  | { type: 'toggle-server'; serverId: string }
  /** `app`: about the app itself (its config), not the open conversation: kept when another one opens. */
  | { type: 'notice'; text: string; level: 'info' | 'error'; app?: boolean; about?: NoticeTopic; picture?: string }
  /** Takes the notice off the line if it is about `about` (what it said no longer holds). */
  | { type: 'settled'; about: NoticeTopic }
  | { type: 'clear-notice' }
  /** A file started moving, or moved on: its progress replaces what was known of it. */
  | { type: 'transfer'; transfer: Transfer }
  /** A file is up, down, or failed (its notice says which): off the status line. */
  | { type: 'transfer-done'; id: string }
  | { type: 'tick'; now: number }
  /** The account's address as the server says it (logging in, `/email`): a code waits, or nothing does (null). */
  | { type: 'confirm-needed'; confirm: ConfirmState | null }
  /** The confirmation screen after a key (the code typed, the field changed, hidden). */
  | { type: 'confirm-edit'; confirm: ConfirmState }
  /** A request from the confirmation screen: under way, refused, or a code mailed. */
  | { type: 'confirm-result'; result: ConfirmResult }
  /** The hidden confirmation screen shown again. */
  | { type: 'confirm-show' }
  /** The code was right: the screen goes and the notice says so. */
  | { type: 'confirmed'; address: string };
