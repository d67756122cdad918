import { allPages } from '../../client/pages.js';
import type { Report, ReportAction, ReportReason } from '../../protocol/index.js';
import { outcomeWords, reportPlace } from '../report-words.js';
import { resolveServerNamed, resolveTarget, resolveUser, targetJson } from '../resolve.js';
import { act } from '../session.js';
import { clean, fmtTime, table, usageError } from '../util.js';

type ReportOpts = { reason: ReportReason; details?: string; in?: string };

/** A message number as typed: `1042` or `#1042`. */
function messageNumber(text: string): number {
  const seq = Number(text.replace(/^#/, ''));
  if (!Number.isSafeInteger(seq) || seq < 1) {
    throw usageError(`"${clean(text)}" is not a message number (the number shown before a message, such as 1042)`);
  }
  return seq;
}

/**
 * `natter report <target> [seq] --reason R [--details T] [--in SERVER]`: a
 * message by its conversation and number, or (`@user` without a number) a
 * user, in a server with --in, else to the instance's operators.
 */
export const report = act(async (ctx, ref: string, seqText: string | undefined) => {
  const opts = ctx.opts as ReportOpts;
  const details = opts.details !== undefined ? { details: opts.details } : {};
  if (seqText === undefined) {
    if (!ref.startsWith('@')) {
      throw usageError(
        `name the message by its number (natter report ${clean(ref)} 1042 --reason spam), or a user as @username`,
      );
    }
    const user = await resolveUser(ctx.s, ref);
    const place = opts.in === undefined ? null : await resolveServerNamed(ctx.s, opts.in);
    const { report: made } = await ctx.s.request('reports.create', {
      userId: user.id,
      ...(place ? { serverId: place.server.id } : {}),
      reason: opts.reason,
      ...details,
    });
    const to = place ? `the moderators of ${clean(place.name)}` : "the instance's operators";
    ctx.out({ report: made }, () => `reported ${clean(user.username)} to ${to} (${made.reason}): report #${made.id}`);
    return;
  }
  if (opts.in !== undefined) {
    throw usageError(
      '--in goes with a report of a user (natter report @USER --in SERVER); a message is in its place already',
    );
  }
  const seq = messageNumber(seqText);
  const t = await resolveTarget(ctx.s, ref);
  const { report: made } = await ctx.s.request('reports.create', {
    conversationId: t.id,
    seq,
    reason: opts.reason,
    ...details,
  });
  const to = t.kind === 'channel' ? `the moderators of ${clean(t.label.split('/')[0])}` : "the instance's operators";
  ctx.out(
    { target: targetJson(t), report: made },
    () =>
      `reported #${seq} in ${clean(t.label)} by ${clean(made.targetUser?.username)} to ${to} (${made.reason}): report #${made.id}`,
  );
});

type ListOpts = { instance?: boolean; status: 'open' | 'resolved' | 'all'; limit?: number };

/** What the row says about the report's text: the message as reported, then the reporter's details. */
function text(r: Report): string {
  const said = r.snapshot === null ? '' : `"${r.snapshot.replace(/\s+/g, ' ')}"`;
  const details = r.details === null ? '' : `details: ${r.details.replace(/\s+/g, ' ')}`;
  return [said, details].filter((s) => s !== '').join('; ');
}

/** `open`, or what was done and by whom: `ban by alice`. */
function status(r: Report): string {
  if (r.status === 'open') return 'open';
  const by = r.resolvedBy ? ` by ${r.resolvedBy.username}` : '';
  return `${r.resolution ?? 'resolved'}${by}${r.note ? ` (${r.note.replace(/\s+/g, ' ')})` : ''}`;
}

/** `natter reports [server] [--instance] [--status S] [--limit N]` */
export const reports = act(async (ctx, ref: string | undefined) => {
  const opts = ctx.opts as ListOpts;
  if (ref !== undefined && opts.instance) {
    throw usageError("give a server, or --instance for the operators' queue, not both");
  }
  if (ref === undefined && !opts.instance) {
    throw usageError("name a server (natter reports acme), or give --instance for the instance operators' queue");
  }
  const server = ref === undefined ? null : await resolveServerNamed(ctx.s, ref);
  const wanted = opts.limit ?? 50;
  let got = 0;
  let more = false;
  const found = await allPages(async (after) => {
    const r = await ctx.s.request('reports.list', {
      ...(server ? { serverId: server.server.id } : {}),
      status: opts.status,
      limit: Math.min(200, wanted - got),
      after,
    });
    got += r.reports.length;
    if (got >= wanted) {
      more = r.next !== null;
      return { items: r.reports, next: null };
    }
    return { items: r.reports, next: r.next };
  });
  if (more && !ctx.g.json) {
    process.stderr.write(`natter: showing the newest ${found.length} reports; there are more (--limit shows more)\n`);
  }
  const whose = server ? clean(server.name) : "the instance's queue";
  ctx.out({ serverId: server?.server.id ?? null, reports: found, more }, () =>
    found.length === 0
      ? `no ${opts.status === 'all' ? '' : `${opts.status} `}reports in ${whose}`
      : table(
          ['ID', 'WHEN', 'BY', 'REASON', 'ABOUT', 'WHERE', 'STATUS', 'TEXT'],
          found.map((r) => [
            String(r.id),
            fmtTime(r.createdAt),
            r.reporter?.username ?? '-',
            r.reason,
            r.targetUser?.username ?? '-',
            reportPlace(r),
            status(r),
            text(r),
          ]),
        ),
  );
});

type ResolveOpts = { action: ReportAction; duration?: number; note?: string };

/** `natter reports resolve <id> --action A [--duration D] [--note T]` */
export const resolve = act(async (ctx, id: number) => {
  const opts = ctx.opts as ResolveOpts;
  if (opts.action === 'timeout' && opts.duration === undefined) {
    throw usageError('--action timeout needs --duration: how long, such as 10m, 1h or 7d');
  }
  if (opts.action !== 'timeout' && opts.duration !== undefined) {
    throw usageError('--duration goes with --action timeout only');
  }
  const { report: done } = await ctx.s.request('reports.resolve', {
    reportId: id,
    action: opts.action,
    ...(opts.duration !== undefined ? { seconds: opts.duration } : {}),
    ...(opts.note !== undefined ? { note: opts.note } : {}),
  });
  ctx.out(
    { report: done },
    () => `report #${done.id} resolved: ${outcomeWords(opts.action, done.targetUser?.username, opts.duration)}`,
  );
});
