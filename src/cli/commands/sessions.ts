import { act } from '../session.js';
import { fmtTime, loadCredentials, saveCredential, serverKey, table } from '../util.js';

// `natter sessions [revoke <id>]`

export const revoke = act(async (ctx, id: string) => {
  await ctx.s.request('sessions.revoke', { sessionId: id });
  const stored = loadCredentials(ctx.g.configDir).servers[serverKey(ctx.g.server)];
  if (stored?.sessionId === id) saveCredential(ctx.g.configDir, ctx.g.server, null);
  ctx.out({ ok: true, sessionId: id }, () => `revoked session ${id}`);
});

export const list = act(async (ctx) => {
  const { sessions } = await ctx.s.request('sessions.list', {});
  ctx.out({ sessions }, () =>
    table(
      ['ID', 'CLIENT', 'ADDRESS', 'CREATED', 'LAST SEEN', ''],
      sessions.map((x) => [
        x.id,
        x.client ?? '-',
        x.address ?? '-',
        fmtTime(x.createdAt),
        fmtTime(x.lastSeenAt),
        x.current ? '(this one)' : '',
      ]),
    ),
  );
});
