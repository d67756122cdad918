import { NatterError, PAGE_MAX } from '../../protocol/index.js';
import type { Handler } from '../context.js';
import { userScope } from '../event-log.js';
import { spendLookups, spendWrite } from '../limits.js';
import { PagedList, pageSize } from '../pages.js';
import { limitReached } from '../quotas.js';
import { findUser } from '../usernames.js';
import { toUserRef } from '../views.js';

const BLOCKS = new PagedList('blocks', ['n', 's']);

export const getSettings: Handler<'settings.get'> = async (ctx) => {
  const me = await ctx.users.byId(ctx.session.userId);
  if (!me) throw new NatterError('unauthenticated', 'this account no longer exists; log in again');
  return { settings: { groupAdds: me.groupAdds } };
};

export const updateSettings: Handler<'settings.update'> = async (ctx, { groupAdds }) => {
  await spendWrite(ctx);
  return ctx.write(async (tx, after) => {
    const userId = tx.session.userId;
    const me = await tx.users.byId(userId);
    if (!me) throw new NatterError('unauthenticated', 'this account no longer exists; log in again');
    const settings = { groupAdds: groupAdds ?? me.groupAdds };
    if (settings.groupAdds !== me.groupAdds) {
      await tx.chat.setGroupAdds(userId, settings.groupAdds);
      // Told live to the user's other connections; not stored (a client reads settings when it starts).
      after.push(() => tx.fanout.send([userScope(userId)], 'settings.updated', { settings }));
    }
    return { settings };
  });
};

export const addBlock: Handler<'blocks.add'> = async (ctx, params) => {
  await spendWrite(ctx);
  if ('username' in params) await spendLookups(ctx, 1);
  return ctx.write(async (tx, after) => {
    const me = tx.session.userId;
    const user = 'userId' in params ? await tx.chat.user(params.userId) : await findUser(tx, params.username);
    const field = 'userId' in params ? 'params.userId' : 'params.username';
    if (!user) throw new NatterError('not_found', 'no such user', { field });
    if (user.id === me) throw new NatterError('bad_request', 'you cannot block yourself', { field });
    const cap = tx.config.quotas.blocksPerUser;
    if (!(await tx.chat.blocked(me, user.id)) && (await tx.chat.blockCount(me)) >= cap) {
      throw limitReached(`you have blocked ${cap} users, the most allowed; unblock some first`);
    }
    const now = tx.clock();
    const { createdAt, added } = await tx.chat.addBlock(me, user.id, now);
    // Invitations they sent me and I have not answered are declined.
    for (const groupId of await tx.chat.removeInvitesFrom(me, user.id)) {
      await tx.events.append(after, [userScope(me)], 'group.invitation_closed', { groupId, outcome: 'declined' }, now);
    }
    const ref = toUserRef(user);
    // Told live to the user's other connections; not stored (a client reads blocks.list when it starts).
    if (added) after.push(() => tx.fanout.send([userScope(me)], 'block.updated', { user: ref, blocked: true }));
    return { block: { user: ref, createdAt } };
  });
};

export const removeBlock: Handler<'blocks.remove'> = async (ctx, { userId }) => {
  await spendWrite(ctx);
  return ctx.write(async (tx, after) => {
    const me = tx.session.userId;
    if (!(await tx.chat.removeBlock(me, userId))) {
      throw new NatterError('not_found', 'you have not blocked that user', { field: 'params.userId' });
    }
    const user = (await tx.chat.userRef(userId)) ?? { id: userId, username: 'unknown', displayName: null };
    after.push(() => tx.fanout.send([userScope(me)], 'block.updated', { user, blocked: false }));
    return {};
  });
};

export const listBlocks: Handler<'blocks.list'> = async (ctx, { after, limit }) => {
  const n = pageSize(limit, PAGE_MAX.small);
  const rows = await ctx.chat.blocksOf(ctx.session.userId, BLOCKS.start(after), n + 1);
  const page = await BLOCKS.page(
    rows,
    n,
    (b) => [b.createdAt, b.user.id],
    (kept) => kept,
  );
  return { blocks: page.items, next: page.next };
};
