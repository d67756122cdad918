import { customAlphabet } from 'nanoid';
import { NatterError, PAGE_MAX } from '../../protocol/index.js';
import { assertNotBanned, serverWithRole } from '../access.js';
import type { Handler } from '../context.js';
import type { InviteRow } from '../db/schema.js';
import { serverScope, userScope } from '../event-log.js';
import { rateLimited, spendWrite } from '../limits.js';
import { PagedList, pageSize } from '../pages.js';
import { limitReached } from '../quotas.js';
import { toChannel, toInvite, toMember, toServerInfo } from '../views.js';
import { audit } from './audit.js';

const INVITES = new PagedList('invites', ['n', 's']);

/** 12 characters of [0-9A-Za-z]: about 71 random bits, short enough to read out. */
const newCode = customAlphabet('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz', 12);

/** One answer for unknown, expired, used-up and revoked codes, so guessing learns nothing. */
function invalidInvite(): NatterError {
  return new NatterError('not_found', 'this invite code is invalid or has expired; ask for a new one', {
    field: 'params.code',
  });
}

function live(invite: InviteRow | undefined, now: number): invite is InviteRow {
  return (
    invite !== undefined &&
    invite.revokedAt === null &&
    (invite.expiresAt === null || invite.expiresAt > now) &&
    (invite.maxUses === null || invite.uses < invite.maxUses)
  );
}

/**
 * An invite code as the audit log names it: its first characters, enough to
 * tell codes apart in `invites.list`, not enough to join with (moderators
 * read the log; only admins see codes).
 */
function inviteLabel(code: string): string {
  return `${code.slice(0, 4)}…`;
}

export const createInvite: Handler<'invites.create'> = async (ctx, { serverId, maxUses, expiresInSeconds }) => {
  await spendWrite(ctx);
  return ctx.write(async (tx) => {
    await serverWithRole(tx, serverId, 'admin');
    const now = tx.clock();
    const cap = tx.config.quotas.invitesPerServer;
    if ((await tx.chat.liveInviteCount(serverId, now)) >= cap) {
      throw limitReached(`this server has ${cap} live invite codes, the most allowed; revoke some first`);
    }
    const row: InviteRow = {
      code: newCode(),
      serverId,
      createdBy: tx.session.userId,
      maxUses: maxUses ?? null,
      uses: 0,
      expiresAt: expiresInSeconds ? now + expiresInSeconds * 1000 : null,
      revokedAt: null,
      createdAt: now,
    };
    await tx.chat.insertInvite(row);
    await audit(tx, serverId, 'invite.create', {
      targetId: inviteLabel(row.code),
      details: { maxUses: row.maxUses, expiresAt: row.expiresAt },
    });
    return { invite: toInvite(row, await tx.chat.userRef(row.createdBy)) };
  });
};

export const listInvites: Handler<'invites.list'> = async (ctx, { serverId, after, limit }) => {
  await serverWithRole(ctx, serverId, 'admin');
  const n = pageSize(limit, PAGE_MAX.small);
  const rows = await ctx.chat.invitesOf(serverId, ctx.clock(), INVITES.start(after), n + 1);
  const page = await INVITES.page(
    rows,
    n,
    (r) => [r.createdAt, r.code],
    async (kept) => {
      const refs = await ctx.chat.userRefs([...new Set(kept.map((i) => i.createdBy))]);
      return kept.map((i) => toInvite(i, refs.get(i.createdBy)));
    },
  );
  return { invites: page.items, next: page.next };
};

export const revokeInvite: Handler<'invites.revoke'> = async (ctx, { serverId, code }) => {
  await spendWrite(ctx);
  return ctx.write(async (tx) => {
    await serverWithRole(tx, serverId, 'admin');
    if (!(await tx.chat.revokeInvite(serverId, code, tx.clock()))) {
      throw new NatterError('not_found', 'no such invite code in this server', { field: 'params.code' });
    }
    await audit(tx, serverId, 'invite.revoke', { targetId: inviteLabel(code) });
    return {};
  });
};

export const joinByInvite: Handler<'invites.join'> = async (ctx, { code }) => {
  await spendWrite(ctx);
  const limiter = ctx.limiters.inviteFail;
  const userKey = `u:${ctx.session.userId}`;
  const addressKey = `a:${ctx.conn.address}`;
  // Tokens are taken before the attempt (so pipelined guesses are counted) and
  // given back unless the code turned out to be invalid.
  const waitUser = await limiter.take(userKey);
  if (waitUser > 0) throw rateLimited(waitUser, 'invalid invite codes');
  const waitAddress = await limiter.take(addressKey).catch(async (err: unknown) => {
    await limiter.refund(userKey).catch(() => {});
    throw err;
  });
  if (waitAddress > 0) {
    await limiter.refund(userKey);
    throw rateLimited(waitAddress, 'invalid invite codes');
  }
  const refund = async () => {
    await limiter.refund(userKey);
    await limiter.refund(addressKey);
  };
  return ctx
    .write(async (tx, after) => {
      const now = tx.clock();
      const invite = await tx.chat.invite(code);
      const userId = tx.session.userId;
      // A member who follows a code of their own server is told so, whatever state the code is in.
      const role = invite ? await tx.chat.role(invite.serverId, userId) : undefined;
      const known = invite && role ? await tx.chat.server(invite.serverId) : undefined;
      if (known && role) {
        const channels = (await tx.chat.channelsOf(known.id)).map(toChannel);
        return {
          server: toServerInfo(known, role, await tx.chat.memberCount(known.id)),
          channels,
          alreadyMember: true,
        };
      }
      if (!live(invite, now)) throw invalidInvite();
      const serverId = invite.serverId;
      const server = await tx.chat.server(serverId);
      if (!server) throw invalidInvite();
      const channels = (await tx.chat.channelsOf(serverId)).map(toChannel);
      await assertNotBanned(tx, serverId, userId);
      const cap = tx.config.quotas.serversJoinedPerUser;
      if ((await tx.chat.serverCounts(userId)).joined >= cap) {
        throw limitReached(`you are in ${cap} servers, the most allowed; leave one first`);
      }
      await tx.chat.addMember(serverId, userId, 'member', now);
      // What was said before joining is there to read, not unread: each channel is read up to its newest.
      for (const channel of channels)
        if (channel.lastSeq > 0) await tx.chat.markRead(userId, channel.id, channel.lastSeq);
      await tx.chat.useInvite(code);
      const info = toServerInfo(server, 'member', await tx.chat.memberCount(serverId));
      // Subscribed first: the joiner hears of their own arrival live, as a resume would replay it.
      after.push(() => tx.fanout.subscribeUser(userId, serverScope(serverId)));
      const joined = await tx.chat.memberWithUser(serverId, userId);
      if (joined) {
        await tx.events.append(
          after,
          [serverScope(serverId)],
          'member.joined',
          { serverId, member: toMember(joined, tx.bus, tx.clock()) },
          now,
        );
      }
      await tx.events.append(after, [userScope(userId)], 'server.joined', { server: info, channels }, now);
      return { server: info, channels, alreadyMember: false };
    })
    .then(
      async (result) => {
        // Joined and committed: a refund the database missed costs the joiner a token, not the answer.
        await refund().catch(() => {});
        return result;
      },
      async (err: unknown) => {
        if (!(err instanceof NatterError && err.code === 'not_found')) await refund().catch(() => {});
        throw err;
      },
    );
};
