import { type AuditAction, type AuditEntry, PAGE_MAX } from '../../protocol/index.js';
import { serverWithRole } from '../access.js';
import type { AuthedCtx, Handler } from '../context.js';
import type { AuditRow } from '../db/schema.js';
import { PagedList, pageSize } from '../pages.js';
import { sizeOf } from '../views.js';

const AUDIT = new PagedList('audit', ['n']);

/** What one action records besides who, when and where: whom or what it was done to, why, what changed. */
export type AuditNote = {
  targetUserId?: string | null;
  targetId?: string | null;
  reason?: string | null;
  details?: Record<string, unknown> | null;
};

/**
 * Records `action` in the server's audit log, in the write under way (so it
 * stands or falls with the action), by the caller.
 */
export async function audit(
  ctx: AuthedCtx,
  serverId: string,
  action: AuditAction,
  note: AuditNote = {},
): Promise<void> {
  await ctx.audit.add({
    serverId,
    action,
    actorId: ctx.session.userId,
    targetUserId: note.targetUserId ?? null,
    targetId: note.targetId ?? null,
    reason: note.reason || null,
    details: note.details ? JSON.stringify(note.details) : null,
    createdAt: ctx.clock(),
  });
}

/**
 * What an update changed, as the log keeps it: each of `keys` whose value
 * differs, with its `from` and `to`; null when nothing changed (nothing to log).
 */
export function changedFields<T extends object>(
  before: T,
  after: T,
  keys: readonly (keyof T & string)[],
): Record<string, { from: unknown; to: unknown }> | null {
  const changed: Record<string, { from: unknown; to: unknown }> = {};
  for (const key of keys) if (before[key] !== after[key]) changed[key] = { from: before[key], to: after[key] };
  return Object.keys(changed).length > 0 ? changed : null;
}

async function toEntries(ctx: AuthedCtx, rows: AuditRow[]): Promise<AuditEntry[]> {
  const ids = [...new Set(rows.flatMap((r) => [r.actorId, r.targetUserId]).filter((id): id is string => id !== null))];
  const refs = await ctx.chat.userRefs(ids);
  const ref = (id: string | null) =>
    id === null ? null : (refs.get(id) ?? { id, username: 'unknown', displayName: null });
  return rows.map((r) => ({
    id: r.id,
    action: r.action as AuditAction,
    actor: ref(r.actorId),
    targetUser: ref(r.targetUserId),
    targetId: r.targetId,
    reason: r.reason,
    details: r.details === null ? null : (JSON.parse(r.details) as Record<string, unknown>),
    createdAt: r.createdAt,
  }));
}

export const listAudit: Handler<'audit.list'> = async (ctx, { serverId, action, actorId, after, limit }) => {
  await serverWithRole(ctx, serverId, 'moderator');
  const n = pageSize(limit, PAGE_MAX.medium);
  const start = AUDIT.start(after);
  const rows = await ctx.audit.page(
    serverId,
    { action: action ?? null, actorId: actorId ?? null },
    start === null ? null : (start[0] as number),
    n + 1,
  );
  const page = await AUDIT.page(
    rows,
    n,
    (r) => [r.id],
    (kept) => toEntries(ctx, kept),
    sizeOf.audit,
  );
  return { entries: page.items, next: page.next };
};
