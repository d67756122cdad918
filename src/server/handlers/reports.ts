import {
  NatterError,
  PAGE_MAX,
  type Report,
  type ReportAction,
  type ReportReason,
  type UserRef,
} from '../../protocol/index.js';
import {
  assertMayReadReports,
  assertMayResolve,
  handleableReport,
  reportAudience,
  reportableMessage,
  reportableUser,
} from '../access.js';
import type { AuthedCtx, Handler } from '../context.js';
import type { ReportView } from '../db/reports.js';
import { userScope } from '../event-log.js';
import { spend, spendWrite } from '../limits.js';
import { PagedList, pageSize } from '../pages.js';
import { limitReached } from '../quotas.js';
import type { AfterCommit } from '../store/port.js';
import { sizeOf } from '../views.js';
import { audit } from './audit.js';
import { deleteAs, removeMessage } from './messages.js';
import { timeOut } from './moderation.js';
import { ban, kick } from './servers.js';

const REPORTS = new PagedList('reports', ['n']);

/** Reports as the protocol shows them, the people in them looked up once for the lot. */
async function toReports(ctx: AuthedCtx, rows: readonly ReportView[]): Promise<Report[]> {
  const ids = new Set(
    rows.flatMap((r) => [r.reporterId, r.targetUserId, r.resolvedBy]).filter((id): id is string => id !== null),
  );
  const refs = await ctx.chat.userRefs([...ids]);
  const ref = (id: string | null): UserRef | null =>
    id === null ? null : (refs.get(id) ?? { id, username: 'unknown', displayName: null });
  return rows.map((r) => ({
    id: r.id,
    serverId: r.serverId,
    conversation:
      r.conversationId !== null && r.conversationKind !== null
        ? {
            id: r.conversationId,
            kind: r.conversationKind,
            name: r.conversationKind === 'dm' ? null : r.conversationName,
          }
        : null,
    messageId: r.messageId,
    seq: r.messageSeq,
    targetUser: ref(r.targetUserId),
    reporter: ref(r.reporterId),
    reason: r.reason,
    details: r.details,
    snapshot: r.snapshot,
    status: r.status,
    resolution: r.resolution as ReportAction | null,
    resolvedBy: ref(r.resolvedBy),
    note: r.note,
    createdAt: r.createdAt,
    resolvedAt: r.resolvedAt,
  }));
}

async function reportById(ctx: AuthedCtx, id: number): Promise<Report> {
  const row = await ctx.reports.byId(id);
  const [report] = row ? await toReports(ctx, [row]) : [];
  if (!report) throw new Error(`report ${id} vanished inside its transaction`);
  return report;
}

/** Tells each of `to` (their own scope, so a resume replays it) of `report`. */
async function tell(
  ctx: AuthedCtx,
  after: AfterCommit,
  to: string[],
  event: 'report.created' | 'report.resolved',
  report: Report,
): Promise<void> {
  if (to.length > 0) await ctx.events.append(after, to.map(userScope), event, { report }, ctx.clock());
}

/** The refusal of a second open report on one target, by the check or (a race) by the unique index. */
function alreadyReported(what: string, reportId: number | null): NatterError {
  const which = reportId === null ? 'your report of it' : `your report #${reportId}`;
  return new NatterError(
    'conflict',
    `you already reported ${what}, and ${which} is still open; you can report it again once it has been handled`,
  );
}

export const createReport: Handler<'reports.create'> = async (ctx, params) => {
  // Counted whatever comes of it: refusals cost the same, so nobody probes faster than they may report.
  await spend(ctx.limiters.reportPerUser, ctx.session.userId, 'reports; you can report again later');
  const what = 'userId' in params ? 'this user' : 'this message';
  try {
    return await ctx.write(async (tx, after) => {
      const me = tx.session.userId;
      let target =
        'userId' in params
          ? await reportableUser(tx, params.userId, params.serverId ?? null)
          : await reportableMessage(tx, params);
      // Nobody in a server is above its owner: a report about them goes to the instance's operators.
      if (
        target.serverId !== null &&
        target.targetUserId !== null &&
        (await tx.chat.role(target.serverId, target.targetUserId)) === 'owner'
      ) {
        target = { ...target, serverId: null };
      }
      const open = await tx.reports.openFor(me, target.targetKey);
      if (open !== undefined) throw alreadyReported(what, open);
      const cap = tx.config.quotas.openReportsPerUser;
      if ((await tx.reports.openCount(me)) >= cap) {
        throw limitReached(
          `you have ${cap} open reports, the most allowed; you can report more once moderators have handled some`,
        );
      }
      const id = await tx.reports.insert({
        ...target,
        reporterId: me,
        reason: params.reason,
        details: params.details || null,
        createdAt: tx.clock(),
      });
      const report = await reportById(tx, id);
      await tell(tx, after, await reportAudience(tx, target), 'report.created', report);
      return { report };
    });
  } catch (err) {
    // Two reports of one target at the same moment (two natters): the index keeps one open.
    if (ctx.store.classify(err) === 'unique') throw alreadyReported(what, null);
    throw err;
  }
};

export const listReports: Handler<'reports.list'> = async (ctx, { serverId, status, after, limit }) => {
  await assertMayReadReports(ctx, serverId ?? null);
  const n = pageSize(limit, PAGE_MAX.medium);
  const start = REPORTS.start(after);
  const rows = await ctx.reports.page(
    {
      serverId: serverId ?? null,
      status: status === 'all' ? null : (status ?? 'open'),
      viewer: ctx.session.userId,
    },
    start === null ? null : (start[0] as number),
    n + 1,
  );
  const page = await REPORTS.page(
    rows,
    n,
    (r) => [r.id],
    (kept) => toReports(ctx, kept),
    sizeOf.report,
  );
  return { reports: page.items, next: page.next };
};

/** The reason a report's action gives, where the server's members see it (a kick, a ban, a timeout): never who reported. */
function publicReason(id: number, reason: ReportReason): string {
  return `report #${id}: ${reason}`;
}

/**
 * Whether `action` applies to `report`: deleting needs a message, a timeout,
 * a kick or a ban a server (and a person); `seconds` go with a timeout only.
 */
function assertActionFits(report: ReportView, action: ReportAction, seconds: number | undefined): void {
  if (action === 'timeout' && seconds === undefined) {
    throw new NatterError('bad_request', 'a timeout needs its length in seconds (1 to 2419200)', {
      field: 'params.seconds',
    });
  }
  if (action !== 'timeout' && seconds !== undefined) {
    throw new NatterError('bad_request', 'seconds go with the timeout action only', { field: 'params.seconds' });
  }
  if (action === 'delete' && report.messageId === null) {
    throw new NatterError(
      'bad_request',
      `report #${report.id} is about a user, not a message: there is nothing to delete`,
      { field: 'params.action' },
    );
  }
  if ((action === 'timeout' || action === 'kick' || action === 'ban') && report.serverId === null) {
    const from =
      report.conversationKind === 'channel'
        ? "is about a server's owner, whom nobody in the server is above"
        : report.messageId === null
          ? 'is about a user outside any server'
          : 'comes from a DM or a group';
    throw new NatterError(
      'bad_request',
      `report #${report.id} ${from}: there is no server to ${action === 'timeout' ? 'time them out in' : `${action} them from`}; resolve it with delete or none`,
      { field: 'params.action' },
    );
  }
  if (action !== 'delete' && action !== 'none' && report.targetUserId === null) {
    throw new NatterError('not_found', 'the reported account no longer exists', { field: 'params.action' });
  }
}

/**
 * Carries out a report's action by the path the same action always takes,
 * with its checks (a moderator cannot ban an admin through a report either)
 * and its own audit entry. A message gone or deleted already stays so.
 */
async function carryOut(
  ctx: AuthedCtx,
  after: AfterCommit,
  report: ReportView,
  action: ReportAction,
  seconds: number | undefined,
): Promise<void> {
  const why = publicReason(report.id, report.reason);
  const serverId = report.serverId;
  const userId = report.targetUserId ?? '';
  if (action === 'delete') {
    const message = report.messageId === null ? undefined : await ctx.chat.message(report.messageId);
    if (!message) return;
    if (serverId !== null) {
      await deleteAs(ctx, after, message.id, why);
      return;
    }
    // An operator, who may read neither the DM nor the group: deleted for everyone in it, as its author would.
    const conv = await ctx.chat.conversation(message.conversationId);
    if (conv) await removeMessage(ctx, after, message, conv, false, null);
    return;
  }
  if (serverId === null || action === 'none') return;
  if (action === 'timeout') await timeOut(ctx, after, serverId, userId, seconds ?? 0, why);
  else if (action === 'kick') await kick(ctx, after, serverId, userId, why);
  else await ban(ctx, after, serverId, userId, why);
}

export const resolveReport: Handler<'reports.resolve'> = async (ctx, { reportId, action, seconds, note }) => {
  await spendWrite(ctx);
  return ctx.write(async (tx, after) => {
    const report = await handleableReport(tx, reportId);
    await assertMayResolve(tx, report);
    if (report.status !== 'open') {
      throw new NatterError(
        'conflict',
        `report #${reportId} was already resolved (${report.resolution ?? 'none'}); there is nothing more to do`,
      );
    }
    assertActionFits(report, action, seconds);
    const now = tx.clock();
    // Claimed first: of two moderators resolving at once, the second finds it resolved (and does nothing).
    const claimed = await tx.reports.resolve(report.id, {
      resolution: action,
      resolvedBy: tx.session.userId,
      note: note || null,
      resolvedAt: now,
    });
    if (!claimed) throw new NatterError('conflict', `report #${reportId} was resolved by someone else meanwhile`);
    await carryOut(tx, after, report, action, seconds);
    if (report.serverId !== null) {
      await audit(tx, report.serverId, 'report.resolve', {
        targetUserId: report.targetUserId,
        targetId: String(report.id),
        reason: note,
        details: {
          report: report.id,
          action,
          reason: report.reason,
          ...(report.messageSeq !== null ? { seq: report.messageSeq } : {}),
          ...(report.conversationName !== null ? { channel: report.conversationName } : {}),
          ...(seconds !== undefined ? { seconds } : {}),
        },
      });
    }
    const resolved = await reportById(tx, report.id);
    await tell(tx, after, await reportAudience(tx, report), 'report.resolved', resolved);
    if (report.reporterId !== null) {
      await tx.events.append(
        after,
        [userScope(report.reporterId)],
        'report.handled',
        {
          reportId: report.id,
          serverId: report.serverId,
          conversationId: report.conversationId,
          seq: report.messageSeq,
          targetUser: resolved.targetUser,
          reason: report.reason,
          outcome: action,
          resolvedAt: now,
        },
        now,
      );
    }
    return { report: resolved };
  });
};
