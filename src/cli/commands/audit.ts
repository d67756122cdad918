import { allPages } from '../../client/pages.js';
import type { AuditAction, AuditEntry } from '../../protocol/index.js';
import { resolveServer, resolveUser } from '../resolve.js';
import { act } from '../session.js';
import { fmtTime, table } from '../util.js';

type AuditOpts = { action?: AuditAction; actor?: string; limit?: number };

/** What an entry changed, in a few words: `member → moderator`, `#general → #lobby`. */
function change(e: AuditEntry): string {
  const d = e.details;
  if (!d) return e.targetId ?? '';
  const moved = (v: unknown) => {
    const { from, to } = (v ?? {}) as { from?: unknown; to?: unknown };
    return `${String(from ?? '-')} → ${String(to ?? '-')}`;
  };
  if (e.action === 'member.role') return moved(d);
  if (e.action === 'channel.update' || e.action === 'server.update') {
    return Object.entries(d)
      .map(([k, v]) => `${k}: ${moved(v)}`)
      .join('; ');
  }
  if (e.action === 'channel.create' || e.action === 'channel.delete') return `#${String(d.name ?? e.targetId)}`;
  if (e.action === 'member.timeout') return `until ${fmtTime(Number(d.until))}`;
  if (e.action === 'automod.flag') {
    const rules = Array.isArray(d.rules) ? (d.rules as { name?: unknown }[]).map((r) => `"${String(r.name)}"`) : [];
    const did = Array.isArray(d.actions) ? (d.actions as unknown[]).map(String).join(', ') : '';
    return `#${String(d.channel ?? '')} ${rules.join(', ')} → ${did}`;
  }
  if (e.action === 'automod.update') {
    const enabled = d.enabled as { from?: unknown; to?: unknown } | undefined;
    const renamed = d.renamed as { from?: unknown; to?: unknown } | undefined;
    const parts = [
      ...(renamed ? [`renamed "${String(renamed.from)}" → "${String(renamed.to)}"`] : []),
      ...(enabled ? [enabled.to ? 'off → on' : 'on → off'] : []),
      ...(d.definition ? ['definition changed'] : []),
    ];
    return `rule "${String(d.name ?? '')}"${parts.length > 0 ? `: ${parts.join('; ')}` : ''}`;
  }
  if (e.action.startsWith('automod.')) return `rule "${String(d.name ?? '')}"`;
  if (e.action === 'held.approve') return `#${String(d.channel ?? '')} #${String(d.seq ?? '?')}`;
  if (e.action === 'held.reject') return `#${String(d.channel ?? '')}`;
  if (e.action === 'channel.slowmode') {
    const secs = (v: unknown) => (v ? `${String(v)} s` : 'off');
    return `#${String(d.channel ?? e.targetId)} slow mode ${secs(d.from)} → ${secs(d.to)}`;
  }
  if (e.action === 'report.resolve') {
    const seconds = d.seconds === undefined ? '' : ` ${String(d.seconds)} s`;
    return `report #${String(d.report ?? e.targetId)} ${String(d.reason ?? '')}: ${String(d.action ?? '?')}${seconds}`;
  }
  if (e.action === 'message.delete') {
    return d.channel ? `#${String(d.channel)} #${String(d.seq ?? '?')}` : `message #${String(d.seq ?? '?')}`;
  }
  return e.targetId ?? '';
}

/** `natter audit <server> [--action A] [--actor USER] [--limit N]` */
export const audit = act(async (ctx, ref: string) => {
  const opts = ctx.opts as AuditOpts;
  const server = await resolveServer(ctx.s, ref);
  const actorId = opts.actor === undefined ? undefined : (await resolveUser(ctx.s, opts.actor)).id;
  const wanted = opts.limit ?? 50;
  let got = 0;
  let more = false;
  const entries = await allPages(async (after) => {
    const r = await ctx.s.request('audit.list', {
      serverId: server.id,
      ...(opts.action ? { action: opts.action } : {}),
      ...(actorId ? { actorId } : {}),
      limit: Math.min(200, wanted - got),
      after,
    });
    got += r.entries.length;
    // Enough: no further page, but say there is more.
    if (got >= wanted) {
      more = r.next !== null;
      return { items: r.entries, next: null };
    }
    return { items: r.entries, next: r.next };
  });
  if (more && !ctx.g.json) {
    process.stderr.write(
      `natter: showing the newest ${entries.length} entries; there are older ones (--limit shows more)\n`,
    );
  }
  ctx.out({ serverId: server.id, entries, more }, () =>
    entries.length === 0
      ? 'no entries'
      : table(
          ['WHEN', 'BY', 'ACTION', 'TARGET', 'CHANGE', 'REASON'],
          entries.map((e) => [
            fmtTime(e.createdAt),
            e.actor?.username ?? '(server)',
            e.action,
            e.targetUser?.username ?? '',
            change(e),
            e.reason ?? '',
          ]),
        ),
  );
});
