import { allPages } from '../../client/pages.js';
import { resolveServer } from '../resolve.js';
import { act } from '../session.js';
import { clean, fmtTime, table } from '../util.js';

// `natter invite create|list|revoke`

export const create = act(async (ctx, ref: string) => {
  const o = ctx.opts as { maxUses?: number; expires?: number };
  const server = await resolveServer(ctx.s, ref);
  const { invite } = await ctx.s.request('invites.create', {
    serverId: server.id,
    ...(o.maxUses !== undefined ? { maxUses: o.maxUses } : {}),
    ...(o.expires !== undefined ? { expiresInSeconds: o.expires } : {}),
  });
  ctx.out({ invite }, () => invite.code);
});

export const list = act(async (ctx, ref: string) => {
  const server = await resolveServer(ctx.s, ref);
  const invites = await allPages(async (after) => {
    const r = await ctx.s.request('invites.list', { serverId: server.id, after });
    return { items: r.invites, next: r.next };
  });
  ctx.out({ serverId: server.id, invites }, () =>
    table(
      ['CODE', 'USES', 'EXPIRES', 'CREATED', 'BY'],
      invites.map((i) => [
        i.code,
        i.maxUses === null ? String(i.uses) : `${i.uses}/${i.maxUses}`,
        i.expiresAt === null ? 'never' : fmtTime(i.expiresAt),
        fmtTime(i.createdAt),
        i.createdBy.username,
      ]),
    ),
  );
});

export const revoke = act(async (ctx, ref: string, code: string) => {
  const server = await resolveServer(ctx.s, ref);
  await ctx.s.request('invites.revoke', { serverId: server.id, code });
  ctx.out({ ok: true, serverId: server.id, code }, () => `revoked invite ${clean(code)}`);
});
