import { customAlphabet } from 'nanoid';
import { NatterError, PAGE_MAX, type ResultOf } from '../../protocol/index.js';
import { assertNotBanned, serverWithRole } from '../access.js';
import type { Ctx, Handler } from '../context.js';
import type { InviteRow } from '../db/schema.js';
import { serverScope, userScope } from '../event-log.js';
import { rateLimited, spendWrite } from '../limits.js';
import { PagedList, pageSize } from '../pages.js';
import { limitReached } from '../quotas.js';
import type { AfterCommit } from '../store/port.js';
import { toChannel, toInvite, toMember, toServerInfo } from '../views.js';
import { audit } from './audit.js';

const INVITES = new PagedList('invites', ['n', 's']);

/** 12 characters of [0-9A-Za-z]: about 71 random bits, short enough to read out. */
const newCode = customAlphabet('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz', 12);

/** One answer for unknown, expired, used-up and revoked codes, so guessing learns nothing. */
function invalidInvite(field: string): NatterError {
  return new NatterError('not_found', 'this invite code is invalid or has expired; ask for a new one', { field });
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
  const userId = ctx.session.userId;
  return limitGuesses(ctx, [`u:${userId}`, `a:${ctx.conn.address}`], () =>
    ctx.write((tx, after) => joinWithCode(tx, after, userId, code, 'params.code')),
  );
};

/**
 * Runs `attempt`, which tries an invite code, under the `inviteFail` limit
 * (guessing codes) for each of `keys` (`u:<user>`, `a:<address>`): a token of
 * each is taken before the attempt (so pipelined guesses are counted), and
 * given back unless the code turned out not to be one (`not_found`).
 * `invites.join` and `register` with a code share the buckets, so neither
 * way of trying codes adds to the other's guesses.
 */
export async function limitGuesses<T>(ctx: Ctx, keys: readonly string[], attempt: () => Promise<T>): Promise<T> {
  const limiter = ctx.limiters.inviteFail;
  const taken: string[] = [];
  const refund = async () => {
    for (const key of taken.splice(0)) await limiter.refund(key);
  };
  for (const key of keys) {
    let wait: number;
    try {
      wait = await limiter.take(key);
    } catch (err) {
      await refund().catch(() => {});
      throw err;
    }
    if (wait > 0) {
      await refund();
      throw rateLimited(wait, 'invalid invite codes');
    }
    taken.push(key);
  }
  return attempt().then(
    async (result) => {
      // Done and committed: a refund the database missed costs the caller a token, not the answer.
      await refund().catch(() => {});
      return result;
    },
    async (err: unknown) => {
      if (!(err instanceof NatterError && err.code === 'not_found')) await refund().catch(() => {});
      throw err;
    },
  );
}

/**
 * Before an account is made with an invite code (and its password hashed):
 * refuses a code that cannot be used, as `joinWithCode` would, without
 * writing. `field` is the request field that holds the code.
 */
export async function assertInviteUsable(ctx: Ctx, code: string, field: string): Promise<void> {
  const invite = await ctx.chat.invite(code);
  if (!live(invite, ctx.clock()) || !(await ctx.chat.server(invite.serverId))) throw invalidInvite(field);
}

/**
 * Inside a write: joins `userId` to the server of the invite `code` and
 * counts the use. A member is told so whatever state the code is in
 * (`alreadyMember`); for anyone else an unknown, expired, used-up or revoked
 * code is `not_found` on `field`, a ban `forbidden`, a full list of servers
 * `limit_reached`. The joiner hears `server.joined`, the members `member.joined`.
 */
export async function joinWithCode(
  tx: Ctx,
  after: AfterCommit,
  userId: string,
  code: string,
  field: string,
): Promise<ResultOf<'invites.join'>> {
  const now = tx.clock();
  const invite = await tx.chat.invite(code);
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
  if (!live(invite, now)) throw invalidInvite(field);
  const serverId = invite.serverId;
  const server = await tx.chat.server(serverId);
  if (!server) throw invalidInvite(field);
  const channels = (await tx.chat.channelsOf(serverId)).map(toChannel);
  await assertNotBanned(tx, serverId, userId);
  const cap = tx.config.quotas.serversJoinedPerUser;
  if ((await tx.chat.serverCounts(userId)).joined >= cap) {
    throw limitReached(`you are in ${cap} servers, the most allowed; leave one first`);
  }
  // Counted by the statement that checks it: another natter may have taken the last use meanwhile.
  if (!(await tx.chat.useInvite(code, now))) throw invalidInvite(field);
  await tx.chat.addMember(serverId, userId, 'member', now);
  // What was said before joining is there to read, not unread: each channel is read up to its newest.
  for (const channel of channels) if (channel.lastSeq > 0) await tx.chat.markRead(userId, channel.id, channel.lastSeq);
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
}
