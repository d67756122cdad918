import { allPages } from '../../client/pages.js';
import type { GroupAdds } from '../../protocol/index.js';
import { resolveUser } from '../resolve.js';
import { act } from '../session.js';
import { clean, fmtTime, table } from '../util.js';

// `natter block|unblock|blocks|settings`

export const block = act(async (ctx, ref: string) => {
  const user = await resolveUser(ctx.s, ref);
  const { block } = await ctx.s.request('blocks.add', { userId: user.id });
  ctx.out(
    { block },
    () => `blocked @${clean(block.user.username)}: no DMs, group adds or mention notifications between you`,
  );
});

export const unblock = act(async (ctx, ref: string) => {
  const user = await resolveUser(ctx.s, ref);
  await ctx.s.request('blocks.remove', { userId: user.id });
  ctx.out({ ok: true, userId: user.id }, () => `unblocked @${clean(user.username)}`);
});

export const blocks = act(async (ctx) => {
  const list = await allPages(async (after) => {
    const r = await ctx.s.request('blocks.list', { after });
    return { items: r.blocks, next: r.next };
  });
  ctx.out({ blocks: list }, () =>
    list.length === 0
      ? 'you have not blocked anyone'
      : table(
          ['USERNAME', 'SINCE', 'ID'],
          list.map((b) => [b.user.username, fmtTime(b.createdAt), b.user.id]),
        ),
  );
});

const GROUP_ADDS: Record<GroupAdds, string> = {
  everyone: 'anyone may add you to a group',
  contacts: 'people who share a server or a group with you may add you to a group; others invite you',
  invite: 'nobody adds you to a group directly: every add is an invitation you accept or decline',
};

export const settings = act(async (ctx) => {
  const o = ctx.opts as { groupAdds?: GroupAdds };
  const { settings } =
    o.groupAdds === undefined
      ? await ctx.s.request('settings.get', {})
      : await ctx.s.request('settings.update', { groupAdds: o.groupAdds });
  ctx.out({ settings }, () => `group adds: ${settings.groupAdds} (${GROUP_ADDS[settings.groupAdds]})`);
});
