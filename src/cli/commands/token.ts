import { act } from '../session.js';
import { CliError, clean, EXIT, fmtTime, table } from '../util.js';

// `natter token create|list|revoke`

export const create = act(async (ctx, name: string) => {
  const res = await ctx.s.request('tokens.create', { name });
  if (!ctx.g.json)
    process.stderr.write(
      `created bot token "${clean(name)}" (${res.botToken.id}); keep it safe, it is shown only once\n`,
    );
  ctx.out(res, () => res.token);
});

export const list = act(async (ctx) => {
  const { tokens } = await ctx.s.request('tokens.list', {});
  ctx.out({ tokens }, () =>
    table(
      ['ID', 'NAME', 'CREATED', 'LAST USED'],
      tokens.map((t) => [t.id, t.name, fmtTime(t.createdAt), fmtTime(t.lastUsedAt)]),
    ),
  );
});

export const revoke = act(async (ctx, ref: string) => {
  const { tokens } = await ctx.s.request('tokens.list', {});
  const t = tokens.find((x) => x.id === ref) ?? tokens.find((x) => x.name.toLowerCase() === ref.toLowerCase());
  if (!t) throw new CliError(EXIT.refused, 'not_found', `no bot token "${clean(ref)}"`);
  await ctx.s.request('tokens.revoke', { tokenId: t.id });
  ctx.out({ ok: true, tokenId: t.id }, () => `revoked bot token "${clean(t.name)}" (${t.id})`);
});
