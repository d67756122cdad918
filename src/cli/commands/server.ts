import { listServers, resolveServer, resolveServerNamed } from '../resolve.js';
import { act } from '../session.js';
import { clean, usageError, warnSameName } from '../util.js';

// `natter server create|edit|delete`

export const create = act(async (ctx, name: string) => {
  const o = ctx.opts as { description?: string };
  const before = await listServers(ctx.s);
  const res = await ctx.s.request('servers.create', {
    name,
    ...(o.description !== undefined ? { description: o.description } : {}),
  });
  warnSameName('server', res.server, before);
  ctx.out(
    res,
    () =>
      `created server ${clean(res.server.name)} (${res.server.id}) with channel${res.channels.length === 1 ? '' : 's'} ${res.channels.map((c) => `#${clean(c.name)}`).join(', ')}`,
  );
});

export const edit = act(async (ctx, ref: string) => {
  const o = ctx.opts as { name?: string; description?: string };
  if (o.name === undefined && o.description === undefined) throw usageError('give --name or --description');
  const server = await resolveServer(ctx.s, ref);
  const res = await ctx.s.request('servers.update', {
    serverId: server.id,
    ...(o.name !== undefined ? { name: o.name } : {}),
    ...(o.description !== undefined ? { description: o.description === '' ? null : o.description } : {}),
  });
  ctx.out(res, () => `updated server ${clean(res.server.name)}`);
});

export const remove = act(async (ctx, ref: string) => {
  const { server, name } = await resolveServerNamed(ctx.s, ref);
  await ctx.s.request('servers.delete', { serverId: server.id });
  ctx.out({ ok: true, serverId: server.id }, () => `deleted server ${clean(name)}`);
});
