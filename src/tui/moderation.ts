/**
 * What waits for a moderator's (or an operator's) review, as plain data: the
 * queues I see, the items of the moderation overlay in order, how each is
 * described on screen, and the count of the status line's badge. Pure: the
 * reducer and the components both read it.
 */
import type { HeldMessage, Report } from '../protocol/index.js';
import { sanitize } from './sanitize.js';
import { INSTANCE_QUEUE, type LoadedQueue, type ModerationState, type State } from './state.js';

/** The roles that see a server's held messages and reports. */
const MODERATING = new Set(['owner', 'admin', 'moderator']);

/** Nothing waits, nothing loaded. */
export const NO_MODERATION: ModerationState = { held: {}, reports: {}, queues: {} };

/** One thing waiting for review: a held message or an open report, with the queue it is in. */
export type ModerationItem =
  | { kind: 'held'; key: string; scope: string; held: HeldMessage }
  | { kind: 'report'; key: string; scope: string; report: Report };

/** The key of a held message or a report, in the overlay's selection. */
export function heldKey(id: string): string {
  return `held:${id}`;
}
export function reportKey(id: number): string {
  return `report:${id}`;
}

/** The queue a report waits in: its server's, or the operators'. */
export function reportScope(report: Report): string {
  return report.serverId ?? INSTANCE_QUEUE;
}

/** Whether I review queue `scope`: a server where I am moderator, admin or owner, or the operators' when I am one. */
export function reviews(state: Pick<State, 'servers' | 'me'>, scope: string): boolean {
  if (scope === INSTANCE_QUEUE) return state.me?.operator === true;
  const role = state.servers[scope]?.role;
  return role !== undefined && MODERATING.has(role);
}

/** The queues I review, in the sidebar's order of servers, the operators' last. */
export function reviewScopes(state: Pick<State, 'servers' | 'serverOrder' | 'me'>): string[] {
  const servers = state.serverOrder.filter((id) => reviews(state, id));
  return state.me?.operator === true ? [...servers, INSTANCE_QUEUE] : servers;
}

/** Everything waiting in the queues I review, queue by queue, oldest first within each. */
export function moderationItems(state: Pick<State, 'servers' | 'serverOrder' | 'me' | 'moderation'>): ModerationItem[] {
  const byScope = new Map<string, ModerationItem[]>(reviewScopes(state).map((s) => [s, []]));
  for (const held of Object.values(state.moderation.held)) {
    byScope.get(held.serverId)?.push({ kind: 'held', key: heldKey(held.id), scope: held.serverId, held });
  }
  for (const report of Object.values(state.moderation.reports)) {
    const scope = reportScope(report);
    byScope.get(scope)?.push({ kind: 'report', key: reportKey(report.id), scope, report });
  }
  return [...byScope.values()].flatMap((items) => items.sort((a, b) => createdAt(a) - createdAt(b)));
}

function createdAt(item: ModerationItem): number {
  return item.kind === 'held' ? item.held.createdAt : item.report.createdAt;
}

/**
 * The status line's badge: how many items wait for me (`3`; `50+` when a
 * queue has more than its first page), or null when none do or I review
 * nothing.
 */
export function waitingBadge(state: Pick<State, 'servers' | 'serverOrder' | 'me' | 'moderation'>): string | null {
  const count = moderationItems(state).length;
  const more = reviewScopes(state).some((s) => {
    const q = state.moderation.queues[s];
    return q !== undefined && (q.moreHeld || q.moreReports);
  });
  if (count === 0 && !more) return null;
  return `${count}${more ? '+' : ''}`;
}

/** Adds a held message or a report to what waits; false when it was there already (a replay). */
export function withHeld(m: ModerationState, held: HeldMessage): ModerationState | null {
  if (m.held[held.id]) return null;
  return { ...m, held: { ...m.held, [held.id]: held } };
}

export function withReport(m: ModerationState, report: Report): ModerationState | null {
  if (report.status !== 'open' || m.reports[report.id]) return null;
  return { ...m, reports: { ...m.reports, [report.id]: report } };
}

/** Takes an item off what waits (by its key); the same state when it was not there. */
export function withoutItem(m: ModerationState, key: string): ModerationState {
  const [kind, id] = [key.slice(0, key.indexOf(':')), key.slice(key.indexOf(':') + 1)];
  if (kind === 'held' && m.held[id]) {
    const held = { ...m.held };
    delete held[id];
    return { ...m, held };
  }
  if (kind === 'report' && m.reports[id]) {
    const reports = { ...m.reports };
    delete reports[id];
    return { ...m, reports };
  }
  return m;
}

/** Loaded queues replace what was known of them; a queue that failed keeps its items and says why. */
export function withLoaded(m: ModerationState, queues: readonly LoadedQueue[]): ModerationState {
  const held = { ...m.held };
  const reports = { ...m.reports };
  const status = { ...m.queues };
  for (const q of queues) {
    if (q.error !== null) {
      status[q.scope] = {
        ...(status[q.scope] ?? { moreHeld: false, moreReports: false }),
        loading: false,
        error: q.error,
      };
      continue;
    }
    for (const h of Object.values(held)) if (h.serverId === q.scope) delete held[h.id];
    for (const r of Object.values(reports)) if (reportScope(r) === q.scope) delete reports[r.id];
    for (const h of q.held) held[h.id] = h;
    for (const r of q.reports) if (r.status === 'open') reports[r.id] = r;
    status[q.scope] = { loading: false, error: null, moreHeld: q.moreHeld, moreReports: q.moreReports };
  }
  return { held, reports, queues: status };
}

/** Queues now loading: each keeps what it holds and says it is loading. */
export function withLoading(m: ModerationState, scopes: readonly string[]): ModerationState {
  const queues = { ...m.queues };
  for (const s of scopes) {
    queues[s] = { ...(queues[s] ?? { moreHeld: false, moreReports: false, error: null }), loading: true };
  }
  return { ...m, queues };
}

/** A queue's name on screen: its server as the sidebar names it, or `operators` for the instance's. */
export function queueName(scope: string, names: ReadonlyMap<string, string>): string {
  return scope === INSTANCE_QUEUE ? 'operators' : (names.get(scope) ?? 'a server');
}

/** What `natter` command lists the rest of a queue that has more than its first page. */
export function moreCommand(scope: string, kind: 'held' | 'reports', names: ReadonlyMap<string, string>): string {
  if (scope === INSTANCE_QUEUE) return 'natter reports --instance';
  const server = queueName(scope, names).replace('·', '~');
  return kind === 'held' ? `natter hold list ${server}` : `natter reports ${server}`;
}

/** An item in words, every server string sanitized: where, who, what, why and when (a timestamp). */
export type ItemText = { where: string; who: string; what: string; why: string; at: number };

/** One row's worth of server text: line breaks and runs of spaces as one space, then sanitized. */
const one = (text: string) => sanitize(text.replace(/\s+/g, ' ').trim(), { multiline: false });

/** How an item reads on screen (see {@link ItemText}). */
export function itemText(item: ModerationItem, names: ReadonlyMap<string, string>): ItemText {
  if (item.kind === 'held') {
    const h = item.held;
    return {
      where: `#${one(h.channel)} (${one(queueName(h.serverId, names))})`,
      who: one(h.author.username),
      what: one(h.body),
      why: h.heldBy === 'classifier' ? 'held by the classifier' : `held by rule ${one(h.heldBy)}`,
      at: h.createdAt,
    };
  }
  const r = item.report;
  const c = r.conversation;
  const server = r.serverId ? ` (${one(queueName(r.serverId, names))})` : '';
  const where =
    c === null
      ? r.serverId
        ? one(queueName(r.serverId, names))
        : 'outside any server'
      : c.kind === 'channel'
        ? `#${one(c.name ?? '?')}${server}`
        : c.kind === 'group'
          ? `+${one(names.get(c.id) ?? c.name ?? 'a group')}`
          : 'a DM';
  const details = r.details ? `: ${one(r.details)}` : '';
  return {
    where: r.seq !== null ? `${where} #${r.seq}` : where,
    who: r.targetUser ? one(r.targetUser.username) : 'someone',
    what: r.snapshot !== null ? one(r.snapshot) : r.messageId === null ? '(a report about the person)' : '',
    why: `report #${r.id} ${r.reason}${r.reporter ? ` by ${one(r.reporter.username)}` : ''}${details}`,
    at: r.createdAt,
  };
}

/** The index of the overlay's chosen item among `items`: its key's, or, that item gone, the one now in its place. */
export function selectedIndex(items: readonly ModerationItem[], o: { selected: string | null; index: number }): number {
  const at = o.selected === null ? -1 : items.findIndex((i) => i.key === o.selected);
  if (at !== -1) return at;
  return Math.max(0, Math.min(o.index, items.length - 1));
}
