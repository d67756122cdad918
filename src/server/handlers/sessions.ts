import { CloseCode, NatterError } from '../../protocol/index.js';
import type { AuthedCtx, Handler } from '../context.js';
import { newId } from '../ids.js';
import { hashToken, newToken } from '../tokens.js';
import { toBotTokenInfo, toSessionInfo } from '../views.js';

/** Closes the connections of a revoked session; the caller's own connection only after its reply. */
function closeRevoked(ctx: AuthedCtx, id: string, reason: string): void {
  if (id === ctx.session.sessionId) {
    const conn = ctx.conn;
    ctx.afterReply(() => {
      if (conn.transport !== 'http') ctx.hub.deauthenticate(conn);
      ctx.fanout.closeSessions([id], CloseCode.sessionRevoked, reason);
    });
  } else {
    ctx.fanout.closeSessions([id], CloseCode.sessionRevoked, reason);
  }
}

export const listSessions: Handler<'sessions.list'> = async (ctx) => ({
  sessions: (await ctx.sessions.listForUser(ctx.session.userId, 'session')).map((r) =>
    toSessionInfo(r, ctx.session.sessionId),
  ),
});

export const revokeSession: Handler<'sessions.revoke'> = async (ctx, { sessionId }) => {
  const done = await ctx.write(async (tx) => tx.sessions.revoke(tx.session.userId, sessionId, 'session'));
  if (!done) {
    throw new NatterError('not_found', 'no such session (it may have ended already)', { field: 'params.sessionId' });
  }
  closeRevoked(ctx, sessionId, 'session revoked');
  return {};
};

export const createToken: Handler<'tokens.create'> = (ctx, { name }) =>
  ctx.write(async (tx) => {
    const userId = tx.session.userId;
    const existing = await tx.sessions.listForUser(userId, 'bot');
    if (existing.some((r) => r.name?.toLowerCase() === name.toLowerCase())) {
      throw new NatterError('conflict', `you already have a token named "${name}"; revoke it or pick another name`, {
        field: 'params.name',
      });
    }
    const cap = tx.config.quotas.botTokensPerUser;
    if (existing.length >= cap) {
      throw new NatterError('limit_reached', `at most ${cap} bot tokens per account; revoke one first`);
    }
    const token = newToken('bot');
    const row = {
      id: newId(),
      userId,
      kind: 'bot' as const,
      tokenHash: hashToken(token),
      name,
      address: tx.conn.address,
      createdAt: tx.clock(),
      lastSeenAt: null,
    };
    await tx.sessions.insert(row);
    return { token, botToken: toBotTokenInfo(row) };
  });

export const listTokens: Handler<'tokens.list'> = async (ctx) => ({
  tokens: (await ctx.sessions.listForUser(ctx.session.userId, 'bot')).map(toBotTokenInfo),
});

export const revokeToken: Handler<'tokens.revoke'> = async (ctx, { tokenId }) => {
  const done = await ctx.write(async (tx) => tx.sessions.revoke(tx.session.userId, tokenId, 'bot'));
  if (!done) {
    throw new NatterError('not_found', 'no such bot token (it may have been revoked already)', {
      field: 'params.tokenId',
    });
  }
  closeRevoked(ctx, tokenId, 'bot token revoked');
  return {};
};
