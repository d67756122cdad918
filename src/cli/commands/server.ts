import { checkFile, checkSizes, upload } from '../files.js';
import { listServers, resolveServer, resolveServerNamed, resolveUser } from '../resolve.js';
import { act } from '../session.js';
import { askYes, CliError, clean, EXIT, usageError, warnSameName } from '../util.js';

// `natter server create|edit|icon|delete|transfer`

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

/**
 * `natter server icon <server> <path>`: uploads the picture and makes it the
 * server's icon (owner and admins); `none` removes the icon.
 */
export const icon = act(async (ctx, ref: string, path: string) => {
  const file = path === 'none' ? null : await checkFile(path, null);
  const media = file ? await ctx.s.media() : null;
  if (media && file) checkSizes(media, [file], null);
  const { server, name } = await resolveServerNamed(ctx.s, ref);
  // Said before the picture is uploaded (and counted against the day's allowance) for nothing.
  if (server.role !== 'owner' && server.role !== 'admin') {
    throw new CliError(EXIT.refused, 'forbidden', `only the owner and admins of ${clean(name)} can change its icon`);
  }
  const iconId = media && file ? (await upload(media, file, 'server-icon', ctx.g.server)).id : null;
  const res = await ctx.s.request('servers.update', { serverId: server.id, icon: iconId });
  ctx.out(res, () =>
    res.server.icon ? `${clean(name)} has a new icon (id ${res.server.icon.id})` : `${clean(name)} has no icon now`,
  );
});

/**
 * `natter server delete <server> [--yes]`: it takes every channel and message
 * with it, so on a terminal it asks first; without one, it needs `--yes`.
 */
export const remove = act(async (ctx, ref: string) => {
  const o = ctx.opts as { yes?: boolean };
  if (!o.yes && !process.stdin.isTTY) {
    throw usageError(
      `deleting ${clean(ref)} takes all its channels and messages with it, and there is no terminal to ask on: add --yes to confirm`,
    );
  }
  const { server, name } = await resolveServerNamed(ctx.s, ref);
  // Only the owner can delete it (anyone else is refused by the server): only the owner is asked.
  if (!o.yes && server.role === 'owner') {
    const yes = await askYes(
      `delete ${clean(name)} with all its channels and messages, for everyone? y: yes, any other answer: no [y/N] `,
    );
    if (!yes) throw new CliError(EXIT.refused, 'cancelled', `${clean(name)} is kept`);
  }
  await ctx.s.request('servers.delete', { serverId: server.id });
  ctx.out({ ok: true, serverId: server.id }, () => `deleted server ${clean(name)}`);
});

/**
 * `natter server transfer <server> <username> [--yes]`: the owner cannot take
 * the server back, so on a terminal it asks first; without one, it needs
 * `--yes` and says so rather than giving the server away unasked.
 */
export const transfer = act(async (ctx, ref: string, username: string) => {
  const o = ctx.opts as { yes?: boolean };
  if (!o.yes && !process.stdin.isTTY) {
    throw usageError(
      `giving ${clean(ref)} to ${clean(username)} cannot be undone, and there is no terminal to ask on: add --yes to confirm`,
    );
  }
  const { server, name: place } = await resolveServerNamed(ctx.s, ref);
  const user = await resolveUser(ctx.s, username);
  // Only the owner can give it (anyone else is refused by the server): only the owner is asked.
  if (!o.yes && server.role === 'owner') {
    const yes = await askYes(
      `give ${clean(place)} to ${clean(user.username)}? You will no longer own it. y: yes, any other answer: no [y/N] `,
    );
    if (!yes) throw new CliError(EXIT.refused, 'cancelled', `${clean(place)} is still yours`);
  }
  const res = await ctx.s.request('servers.transfer', { serverId: server.id, userId: user.id });
  ctx.out(res, () => `${clean(user.username)} now owns ${clean(place)}; you are an admin of it`);
});
