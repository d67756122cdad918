import { isNatterError, plainMessage } from '../cli/errors.js';
import type { Natter } from '../client/natter.js';
import { newNonce } from '../client/natter.js';
import { allPages, patiently } from '../client/pages.js';
import type { AnyEvent, MemberInfo, Message, MessageKind, OpName, ParamsIn } from '../protocol/index.js';
import { confirmOf } from './email-confirm.js';
import { reviewScopes } from './moderation.js';
import { reduce, sidebarOrder } from './reducer.js';
import { type Action, INSTANCE_QUEUE, type LoadedQueue, MODERATION_PAGE, type State } from './state.js';

/** A page of history as the server sends it. */
type HistoryPage = { messages: Message[]; hasMore: boolean };

/** Messages per history page the app asks for. */
const PAGE = 50;
/** Members loaded for the member list and @-completion of one server. */
const MEMBERS_LOADED = 2000;

/**
 * The app's side effects, kept out of the reducer and the components: it
 * talks to the server through the reconnecting client and reports everything
 * as actions. The Ink app calls its methods; tests can too, without a terminal.
 */
/** The most pages of history fetched to reach a message a search found (50 each). */
const JUMP_PAGES = 40;

/** The most missed messages fetched to fill a gap; past it the latest page is shown instead. */
const GAP_FILL_MAX = 1000;

export class Controller {
  private readonly inFlight = new Set<string>();
  /**
   * Events that arrived while lists were loading. A list reply and an event
   * can come in one packet, the event handled first: it must be applied after
   * the list, or the list would wipe it out. (Every event is safe to apply to
   * a list that already includes it.)
   */
  private held: AnyEvent[] | null = null;
  /** Reloads under way; held events are applied when the last one is done. */
  private reloads = 0;
  /** The conversation to open at the start instead of the sidebar's first (the one open when the app was last used). */
  private startWith: string | null;

  constructor(
    readonly client: Natter,
    private readonly dispatch: (a: Action) => void,
    private readonly getState: () => State,
    options: { open?: string | null } = {},
  ) {
    this.startWith = options.open ?? null;
    client.on('state', (s) => {
      const url = client.url;
      if (s.status === 'connected') {
        this.dispatch({ type: 'connection', connection: { status: 'connected', url } });
        void this.reload();
      } else if (s.status === 'reconnecting') {
        this.dispatch({
          type: 'connection',
          connection: { status: 'reconnecting', url, retryAt: Date.now() + s.retryInMs, error: s.error },
        });
      } else if (s.status === 'closed') {
        this.dispatch({ type: 'connection', connection: { status: 'closed', url, error: s.error } });
      } else {
        this.dispatch({ type: 'connection', connection: { status: 'connecting', url } });
      }
    });
    client.on('event', (event) => {
      if (this.held) {
        this.held.push(event);
        return;
      }
      const before = this.getState();
      this.dispatch({ type: 'event', event, at: Date.now() });
      // Made a moderator (or a member again): the queues I review change.
      if (
        event.event === 'member.updated' &&
        event.data.member.user.id === before.me?.id &&
        before.servers[event.data.serverId]?.role !== event.data.member.role
      )
        void this.loadModeration();
      if (event.event === 'message.created') {
        const { message } = event.data;
        this.fillGap(before, message.conversationId, message.seq);
        const state = this.getState();
        // Reading what arrives in the open conversation (at the bottom, where it shows): tell the server,
        // so other clients clear too. Scrolled up, it is read when the window comes back down.
        if (
          state.active === message.conversationId &&
          message.author.id !== state.me?.id &&
          (state.views[message.conversationId]?.scrollBack ?? 0) === 0
        )
          this.markRead(message.conversationId, message.seq);
      }
    });
    client.on('caughtUp', (c) => {
      if (c.limited) void this.reload();
    });
  }

  /**
   * Loads servers, channels and conversations; refreshes the open
   * conversation's latest page. With none open (the app starting), it opens
   * the conversation it was told to start with if it still has it (not left
   * or deleted meanwhile), else the first of the sidebar, its latest page
   * fetched before the lists are shown, so that the lists and the messages
   * are drawn in one frame.
   */
  async reload(): Promise<void> {
    this.held ??= [];
    this.reloads++;
    let first: { id: string; page: HistoryPage | null } | null = null;
    try {
      const me = this.client.user;
      if (me)
        this.dispatch({
          type: 'authenticated',
          me: { id: me.id, username: me.username, ...(me.operator === true ? { operator: true } : {}) },
        });
      // An address waiting for its code (whoami says which): the confirmation screen, shown at once when
      // the server requires an address. Only servers that send mail have one.
      if (me && this.client.hello?.mail === true) {
        const { user } = await this.client.request('whoami', {});
        this.dispatch({ type: 'confirm-needed', confirm: confirmOf(user) });
      }
      const [servers, conversations, invitations] = await Promise.all([
        allPages(async (after) => {
          const r = await this.client.request('servers.list', { after });
          return { items: r.servers, next: r.next };
        }),
        allPages(async (after) => {
          const r = await this.client.request('conversations.list', { after });
          return { items: r.conversations, next: r.next };
        }),
        allPages(async (after) => {
          const r = await this.client.request('groups.invitations', { after });
          return { items: r.invitations, next: r.next };
        }),
      ]);
      const withChannels = servers.map((s) => ({
        ...s,
        channelIds: conversations.filter((c) => c.kind === 'channel' && c.serverId === s.id).map((c) => c.id),
      }));
      const loaded: Action = { type: 'loaded', servers: withChannels, conversations, invitations };
      const before = this.getState();
      let id: string | undefined;
      if (before.active === null) {
        const next = reduce(before, loaded);
        const wanted = this.startWith;
        id = wanted !== null && next.conversations[wanted] ? wanted : sidebarOrder(next)[0];
        // Only the start: later, with nothing open, the first of the sidebar opens as before.
        this.startWith = null;
      }
      // What waits for review, in the same go: events held meanwhile apply after it, so none is lost or counted twice.
      const scopes = reviewScopes(reduce(before, loaded));
      if (scopes.length > 0) this.dispatch({ type: 'moderation-loading', scopes });
      const [page, queues] = await Promise.all([
        id ? this.latestPage(id) : null,
        Promise.all(scopes.map((scope) => this.queue(scope))),
      ]);
      if (id) first = { id, page };
      this.dispatch(loaded);
      if (queues.length > 0) this.dispatch({ type: 'moderation-loaded', queues });
    } catch (err) {
      this.fail(err);
    } finally {
      this.release();
    }
    const state = this.getState();
    if (state.active) await this.loadLatest(state.active);
    else if (first) await this.open(first.id, first.page);
  }

  /** The end of a reload: once none is under way, the events held meanwhile are applied. */
  private release(): void {
    this.reloads--;
    if (this.reloads === 0) {
      const held = this.held ?? [];
      this.held = null;
      for (const event of held) this.dispatch({ type: 'event', event, at: Date.now() });
    }
  }

  /**
   * Loads again the queues I review (the moderation overlay opening): the
   * first page of held messages and of open reports of each. Events that
   * come meanwhile apply after the lists, as in {@link reload}.
   */
  async loadModeration(): Promise<void> {
    const scopes = reviewScopes(this.getState());
    if (scopes.length === 0) return;
    this.held ??= [];
    this.reloads++;
    try {
      this.dispatch({ type: 'moderation-loading', scopes });
      const queues = await Promise.all(scopes.map((scope) => this.queue(scope)));
      this.dispatch({ type: 'moderation-loaded', queues });
    } finally {
      this.release();
    }
  }

  /** The first page of one queue's held messages and open reports; a refusal is its error, in words. */
  private async queue(scope: string): Promise<LoadedQueue> {
    try {
      // Told to slow down (the start's reads come at once), it waits as asked, as history does.
      if (scope === INSTANCE_QUEUE) {
        const r = await patiently(() =>
          this.client.request('reports.list', { status: 'open', limit: MODERATION_PAGE }),
        );
        return { scope, held: [], reports: r.reports, moreHeld: false, moreReports: r.next !== null, error: null };
      }
      const [held, reports] = await Promise.all([
        patiently(() => this.client.request('held.list', { serverId: scope, limit: MODERATION_PAGE })),
        patiently(() =>
          this.client.request('reports.list', { serverId: scope, status: 'open', limit: MODERATION_PAGE }),
        ),
      ]);
      return {
        scope,
        held: held.messages,
        reports: reports.reports,
        moreHeld: held.next !== null,
        moreReports: reports.next !== null,
        error: null,
      };
    } catch (err) {
      return { scope, held: [], reports: [], moreHeld: false, moreReports: false, error: errorText(err) };
    }
  }

  /** Opens a conversation: shows what is loaded at once, fetches the latest page, marks it read. */
  /**
   * Opens `conversationId` with message `seq` loaded (older pages are
   * fetched until it is, at most {@link JUMP_PAGES} of them); resolves with
   * whether it is there to show.
   */
  async openAt(conversationId: string, seq: number): Promise<boolean> {
    await this.openNew(conversationId);
    for (let pages = 0; pages < JUMP_PAGES; pages++) {
      const view = this.getState().views[conversationId];
      if (!view) return false;
      if (view.lines.some((l) => l.seq === seq)) return true;
      const oldest = view.lines.find((l) => l.seq !== null)?.seq;
      if (!view.hasMoreBefore || oldest === undefined || oldest === null || oldest < seq) return false;
      await this.loadOlder(conversationId);
    }
    return this.getState().views[conversationId]?.lines.some((l) => l.seq === seq) ?? false;
  }

  /** Opens a conversation that may not be in the lists yet (just created or joined): reloads them first if so. */
  async openNew(conversationId: string): Promise<void> {
    if (!this.getState().conversations[conversationId]) await this.reload();
    await this.open(conversationId);
  }

  /** Opens a conversation and marks it read; shows its latest page (`latest`, already fetched, or fetched now). */
  async open(conversationId: string, latest?: HistoryPage | null): Promise<void> {
    const before = this.getState();
    const conv = before.conversations[conversationId];
    if (!conv) return;
    this.dispatch({ type: 'open', conversationId });
    // Back where it was left scrolled up: what is below stays unread until it is scrolled to.
    const scrolledUp = (this.getState().views[conversationId]?.scrollBack ?? 0) > 0;
    if (conv.lastReadSeq < conv.lastSeq && !scrolledUp) this.markRead(conversationId, conv.lastSeq);
    if (latest) {
      this.showLatest(conversationId, latest);
      // Messages that arrived after the page was fetched were counted but not shown (it was not open yet).
      const shown = latest.messages.at(-1)?.seq ?? 0;
      if ((this.getState().conversations[conversationId]?.lastSeq ?? 0) > shown) await this.loadLatest(conversationId);
    } else {
      await this.loadLatest(conversationId);
    }
    await this.loadMembers(conversationId);
  }

  /** Fetches the latest page of a conversation. */
  async loadLatest(conversationId: string): Promise<void> {
    const page = await this.latestPage(conversationId);
    if (page) this.showLatest(conversationId, page);
  }

  /** The latest page of a conversation, or null (the error said on the notice line). */
  private async latestPage(conversationId: string): Promise<HistoryPage | null> {
    try {
      return await patiently(() => this.client.request('messages.history', { conversationId, limit: PAGE }));
    } catch (err) {
      this.fail(err);
      return null;
    }
  }

  private showLatest(conversationId: string, page: HistoryPage): void {
    this.dispatch({
      type: 'history',
      conversationId,
      messages: page.messages,
      hasMore: page.hasMore,
      direction: 'latest',
    });
  }

  /**
   * A message whose seq jumps past the newest one shown means some were missed
   * (sequence numbers have no holes): fetch the ones in between, page after
   * page. A gap wider than {@link GAP_FILL_MAX} is not filled: the latest page
   * replaces what is shown, and scrolling up loads the rest.
   */
  private fillGap(before: State, conversationId: string, seq: number): void {
    const view = before.views[conversationId];
    const newest = view?.lines.reduce((m, l) => (l.seq !== null && l.seq > m ? l.seq : m), 0) ?? 0;
    if (!view || newest === 0 || seq <= newest + 1) return;
    if (seq - newest - 1 > GAP_FILL_MAX) {
      void this.loadLatest(conversationId);
      return;
    }
    const fill = async () => {
      let after = newest;
      for (;;) {
        const page = await patiently(() =>
          this.client.request('messages.history', { conversationId, after, before: seq, limit: PAGE }),
        );
        this.dispatch({ type: 'history', conversationId, messages: page.messages, hasMore: false, direction: 'gap' });
        const last = page.messages[page.messages.length - 1]?.seq;
        if (!page.hasMore || last === undefined || last >= seq - 1) return;
        after = last;
      }
    };
    fill().catch((err: unknown) => this.fail(err));
  }

  /**
   * Fetches the page before the oldest loaded message (scrolling up past the
   * top), and the page before that while the view still owes rows to a
   * PageUp (a tall screen of short messages can need more than one page).
   */
  async loadOlder(conversationId: string): Promise<void> {
    const view = this.getState().views[conversationId];
    const oldest = view?.lines.find((l) => l.seq !== null)?.seq;
    const key = `older:${conversationId}`;
    if (!view?.hasMoreBefore || view.loading || oldest === undefined || oldest === null || this.inFlight.has(key))
      return;
    this.inFlight.add(key);
    this.dispatch({ type: 'history-loading', conversationId });
    let again = false;
    try {
      // Told to slow down (a long scroll uses up the read budget), it waits as asked and goes on.
      const page = await patiently(() =>
        this.client.request('messages.history', { conversationId, before: oldest, limit: PAGE }),
      );
      this.dispatch({
        type: 'history',
        conversationId,
        messages: page.messages,
        hasMore: page.hasMore,
        direction: 'before',
      });
      const after = this.getState().views[conversationId];
      again = (after?.owed ?? 0) > 0 && after?.hasMoreBefore === true && page.messages.length > 0;
    } catch (err) {
      // The view stops saying "loading", so the next PageUp asks again.
      this.dispatch({ type: 'history-failed', conversationId });
      this.dispatch({
        type: 'notice',
        text: `older messages could not be loaded: ${errorText(err)} (PageUp tries again)`,
        level: 'error',
      });
    } finally {
      this.inFlight.delete(key);
    }
    if (again) await this.loadOlder(conversationId);
  }

  /** Members of the open server or group, for the member list and completion. */
  async loadMembers(conversationId: string): Promise<void> {
    const conv = this.getState().conversations[conversationId];
    if (!conv || conv.kind === 'dm') return;
    try {
      if (conv.kind === 'channel' && conv.serverId) {
        // Enough for the member list and completion; a huge server's long tail is left out.
        const members: MemberInfo[] = [];
        let after: string | undefined;
        do {
          const page = await this.client.request('members.list', { serverId: conv.serverId, after });
          members.push(...page.members);
          after = page.next ?? undefined;
        } while (after !== undefined && members.length < MEMBERS_LOADED);
        this.dispatch({
          type: 'members',
          scopeId: conv.serverId,
          members: members.map((m) => ({ user: m.user, role: m.role })),
          online: Object.fromEntries(members.map((m) => [m.user.id, m.online])),
        });
      } else if (conv.kind === 'group') {
        // A group's members come with the group: read them all (after a start they are not known yet).
        const groups = await allPages(async (after) => {
          const r = await this.client.request('groups.list', { after });
          return { items: r.groups, next: r.next };
        });
        for (const g of groups) {
          this.dispatch({ type: 'members', scopeId: g.id, members: g.members.map((user) => ({ user, role: null })) });
        }
      }
    } catch (err) {
      this.fail(err);
    }
  }

  /**
   * Sends through the client's outbox; the line shows as pending until
   * acknowledged. Resolves with whether the server took it.
   */
  send(conversationId: string, body: string, kind: MessageKind = 'text'): Promise<boolean> {
    const nonce = newNonce();
    this.dispatch({ type: 'pending', conversationId, nonce, body, kind, at: Date.now() });
    return this.client.send({ conversationId }, body, nonce, kind).then(
      (message) => {
        this.dispatch({ type: 'sent', nonce, message });
        return true;
      },
      (err: unknown) => {
        // Held for review: kept on the server, and posted if a moderator approves it; not to be typed again.
        if (isNatterError(err) && err.code === 'held') {
          this.dispatch({ type: 'send-held', nonce, conversationId, note: plainMessage(err) });
          return true;
        }
        this.dispatch({ type: 'send-failed', nonce, conversationId, error: errorText(err) });
        return false;
      },
    );
  }

  /** Sends to `username`'s DM (the first message creates it), then shows it; false if refused. */
  async sendDirect(username: string, body: string): Promise<boolean> {
    let message: Message;
    try {
      message = await this.client.send({ to: username }, body);
    } catch (err) {
      this.fail(err);
      return false;
    }
    try {
      await this.reload();
      await this.open(message.conversationId);
    } catch (err) {
      this.fail(err);
    }
    return true;
  }

  /** Any protocol request, with its outcome in the notice line. */
  async request<N extends OpName>(op: N, params: ParamsIn<N>, success?: string): Promise<boolean> {
    try {
      await this.client.request(op, params);
      if (success) this.dispatch({ type: 'notice', text: success, level: 'info' });
      return true;
    } catch (err) {
      this.fail(err);
      return false;
    }
  }

  /** Tells the server (and so the user's other clients) how far this conversation is read. */
  markRead(conversationId: string, seq: number): void {
    this.client.request('read.mark', { conversationId, seq }).catch(() => {});
  }

  /** Tells the others in the conversation that I am typing (the server throttles repeats). */
  typing(conversationId: string): void {
    this.client.request('typing.start', { conversationId }).catch(() => {});
  }

  private fail(err: unknown): void {
    this.dispatch({ type: 'notice', text: errorText(err), level: 'error' });
  }
}

/** An error in words for the notice line: the server's message (see `plainMessage`), or what went wrong locally. */
export function errorText(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return typeof code === 'string' && err.name === 'NatterError' ? `${plainMessage(err)} (${code})` : err.message;
  }
  return String(err);
}
