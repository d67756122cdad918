import { resolveServer } from '../resolve.js';
import { act } from '../session.js';
import { table } from '../util.js';

/** `natter channels <server>` */
export const channels = act(async (ctx, ref: string) => {
  const server = await resolveServer(ctx.s, ref);
  const { channels } = await ctx.s.request('servers.get', { serverId: server.id });
  ctx.out({ serverId: server.id, channels }, () =>
    table(
      ['CHANNEL', 'MESSAGES', 'TOPIC'],
      channels.map((c) => [`#${c.name}`, String(c.lastSeq), c.topic ?? '']),
    ),
  );
});
