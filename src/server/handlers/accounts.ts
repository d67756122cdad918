import { CloseCode, LIMITS, NatterError, type ResultOf, usernameKey, utf8Bytes } from '../../protocol/index.js';
import { scopesOfUser } from '../access.js';
import type { AuthedCtx, Ctx, Handler, Services } from '../context.js';
import type { UserRow } from '../db/schema.js';
import { toPublicUser } from '../db/users.js';
import { userScope } from '../event-log.js';
import { newId } from '../ids.js';
import { rateLimited } from '../limits.js';
import { assertStrongPassword } from '../password-rules.js';
import { hashToken, newToken } from '../tokens.js';
import { assertUsernameFree, findUser } from '../usernames.js';
import { toBotTokenInfo, toSessionInfo } from './session-info.js';

/** Refuses a second login on a connection that already has one. */
function assertNotAuthenticated(ctx: Ctx): void {
  if (ctx.conn.transport !== 'http' && ctx.conn.auth) {
    throw new NatterError(
      'already_authenticated',
      'this connection is already authenticated; log out first or open another connection',
    );
  }
}

/** Creates a login session for `user` and attaches it to the connection. */
/** Stores a new login session for `user`; the connection is attached with {@link attachSession} once it is committed. */
function createSession(ctx: Ctx, user: UserRow, client: string | undefined): ResultOf<'login'> {
  const now = ctx.clock();
  const token = newToken('session');
  const row = {
    id: newId(),
    userId: user.id,
    kind: 'session' as const,
    tokenHash: hashToken(token),
    name: client || null,
    address: ctx.conn.address,
    createdAt: now,
    lastSeenAt: now,
  };
  ctx.sessions.insert(row);
  return { token, session: toSessionInfo(row, row.id), user: toPublicUser(user), cursor: String(ctx.events.head()) };
}

/** Logs the connection in with a committed session (HTTP requests carry their token instead). */
function attachSession(ctx: Ctx, result: ResultOf<'login'>, present: boolean): ResultOf<'login'> {
  if (ctx.conn.transport !== 'http') {
    const userId = result.user.id;
    ctx.hub.authenticate(
      ctx.conn,
      { userId, sessionId: result.session.id, kind: 'session' },
      scopesOfUser(ctx.chat, userId),
      present,
    );
  }
  return result;
}

function isUniqueViolation(err: unknown): boolean {
  return err instanceof Error && 'code' in err && err.code === 'SQLITE_CONSTRAINT_UNIQUE';
}

function taken(username: string): NatterError {
  return new NatterError('conflict', `username "${username}" is taken (or too close to one that is); choose another`, {
    field: 'params.username',
  });
}

export const register: Handler<'register'> = async (ctx, { username, password, client, presence }) => {
  assertNotAuthenticated(ctx);
  const wait = ctx.limiters.registerPerAddress.take(ctx.conn.address);
  if (wait > 0) throw rateLimited(wait, 'accounts created from this address');
  const key = assertUsernameFree(ctx, username, null);
  assertStrongPassword(password, username, 'params.password');
  const passwordHash = await ctx.passwords.hash(password);
  const now = ctx.clock();
  const user: UserRow = {
    id: newId(),
    username,
    usernameKey: key,
    passwordHash,
    displayName: null,
    status: null,
    bio: null,
    createdAt: now,
    updatedAt: now,
    groupAdds: 'invite',
  };
  let result: ResultOf<'register'>;
  try {
    // One transaction: the account and its first session exist together or not at all.
    result = ctx.db.transaction(() => {
      assertUsernameFree(ctx, username, null);
      ctx.users.insert(user);
      return createSession(ctx, user, client);
    });
  } catch (err) {
    if (isUniqueViolation(err)) throw taken(username);
    throw err;
  }
  // Only a committed account logs the connection in.
  return attachSession(ctx, result, presence !== false);
};

export const login: Handler<'login'> = async (ctx, { username, password, client, presence }) => {
  assertNotAuthenticated(ctx);
  const key = usernameKey(username.normalize('NFC'));
  const { loginPerAccount, loginPerAddress } = ctx.limiters;
  // Every attempt takes its token before any hashing, so parallel guesses are
  // counted too; a successful login gives its tokens back.
  const waitAccount = loginPerAccount.take(key);
  if (waitAccount > 0) throw rateLimited(waitAccount, 'failed logins');
  const waitAddress = loginPerAddress.take(ctx.conn.address);
  if (waitAddress > 0) {
    loginPerAccount.refund(key);
    throw rateLimited(waitAddress, 'failed logins');
  }
  const user = findUser(ctx, username);
  const ok = await checkPassword(ctx, password, user);
  if (!user || !ok) throw new NatterError('invalid_credentials', 'wrong username or password');
  loginPerAccount.reset(key);
  loginPerAddress.refund(ctx.conn.address);
  return attachSession(ctx, createSession(ctx, user, client), presence !== false);
};

export const auth: Handler<'auth'> = (ctx, { token, cursor, presence }) => {
  assertNotAuthenticated(ctx);
  const resolved = resolveToken(ctx, ctx.conn.address, token);
  const userId = resolved.user.id;
  const from = cursor === undefined ? null : ctx.events.parseCursor(cursor);
  const scopes = scopesOfUser(ctx.chat, userId);
  let head = ctx.events.head();
  // Replay and subscription happen in one synchronous step, so no event can fall
  // between the two (missed) or land in both (duplicated).
  if (from !== null && ctx.conn.transport !== 'http') {
    const since: [string, number][] = [[userScope(userId), 0], ...ctx.chat.scopesSince(userId)];
    const replay = ctx.events.replay(since, from, ctx.config.replayCap);
    head = replay.head;
    for (const text of replay.texts) ctx.conn.sendText(text);
    ctx.conn.event('caught_up', { cursor: String(head), replayed: replay.texts.length, limited: replay.limited });
  }
  if (ctx.conn.transport !== 'http') {
    ctx.hub.authenticate(
      ctx.conn,
      { userId, sessionId: resolved.row.id, kind: resolved.row.kind },
      scopes,
      presence !== false,
    );
  }
  return {
    session: resolved.row.kind === 'session' ? toSessionInfo(resolved.row, resolved.row.id) : null,
    user: toPublicUser(resolved.user),
    cursor: String(head),
  };
};

/**
 * Checks a presented password. No account has a password over 72 bytes, and
 * bcrypt would ignore the excess, so such a password never matches. For an
 * unknown user the same work is spent on a dummy hash.
 */
async function checkPassword(ctx: Ctx, password: string, user: UserRow | undefined): Promise<boolean> {
  if (utf8Bytes(password) > LIMITS.passwordMaxBytes) return false;
  if (!user) return ctx.passwords.verifyDummy(password);
  return ctx.passwords.verify(password, user.passwordHash);
}

/** Minimum time between two writes of a session's last-seen time. */
const TOUCH_EVERY_MS = 60_000;

/**
 * Finds the session or bot token behind a secret token, throttling guessing
 * per address. Used by `auth`, HTTP Bearer and WebSocket upgrade headers.
 */
export function resolveToken(
  ctx: Pick<Services, 'sessions' | 'users' | 'limiters' | 'clock' | 'writer' | 'log'>,
  address: string,
  token: string,
) {
  const limiter = ctx.limiters.authFailPerAddress;
  const wait = limiter.retryAfter(address);
  if (wait > 0) throw rateLimited(wait, 'invalid tokens from this address');
  const row = ctx.sessions.byTokenHash(hashToken(token));
  const user = row ? ctx.users.byId(row.userId) : undefined;
  if (!row || !user) {
    limiter.take(address);
    throw new NatterError('unauthenticated', 'this token is invalid or was revoked; log in again');
  }
  const now = ctx.clock();
  if (row.lastSeenAt === null || now - row.lastSeenAt > TOUCH_EVERY_MS) {
    // Bookkeeping, not worth a commit of its own: it joins the next write batch,
    // so a storm of reconnects costs a few commits, not one fsync each.
    const id = row.id;
    ctx.writer
      .run(() => ctx.sessions.touch(id, now))
      .catch((err: unknown) => ctx.log.error('recording a session as seen', err));
    row.lastSeenAt = now;
  }
  return { row, user };
}

export const logout: Handler<'logout'> = (ctx) => {
  const { userId, sessionId, kind } = ctx.session;
  ctx.sessions.revoke(userId, sessionId, kind);
  const conn = ctx.conn;
  ctx.afterReply(() => {
    // This connection stays open, logged out; the session's others are closed.
    if (conn.transport !== 'http') ctx.hub.deauthenticate(conn);
    ctx.hub.closeSessions([sessionId], CloseCode.sessionRevoked, 'logged out');
  });
  return {};
};

/** The caller's user row; gone only if the account vanished mid-request. */
export function currentUser(ctx: AuthedCtx): UserRow {
  const user = ctx.users.byId(ctx.session.userId);
  if (!user) throw new NatterError('unauthenticated', 'this account no longer exists; log in again');
  return user;
}

export const whoami: Handler<'whoami'> = (ctx) => {
  const user = currentUser(ctx);
  const row = ctx.sessions.byId(ctx.session.sessionId);
  if (!row || row.userId !== user.id)
    throw new NatterError('unauthenticated', 'this session was revoked; log in again');
  return {
    user: toPublicUser(user),
    session: row.kind === 'session' ? toSessionInfo(row, row.id) : null,
    botToken: row.kind === 'bot' ? toBotTokenInfo(row) : null,
  };
};

export const getUser: Handler<'users.get'> = (ctx, params) => {
  const user = 'userId' in params ? ctx.users.byId(params.userId) : findUser(ctx, params.username);
  if (!user) throw new NatterError('not_found', 'no such user');
  return { user: toPublicUser(user) };
};

export const changePassword: Handler<'password.change'> = async (
  ctx,
  { currentPassword, newPassword, revokeBotTokens },
) => {
  const user = currentUser(ctx);
  const limiter = ctx.limiters.loginPerAccount;
  const wait = limiter.take(user.usernameKey);
  if (wait > 0) throw rateLimited(wait, 'wrong passwords');
  if (!(await checkPassword(ctx, currentPassword, user))) {
    throw new NatterError('invalid_credentials', 'the current password is wrong', { field: 'params.currentPassword' });
  }
  limiter.refund(user.usernameKey);
  assertStrongPassword(newPassword, user.username, 'params.newPassword');
  const passwordHash = await ctx.passwords.hash(newPassword);
  const { sessionId, kind } = ctx.session;
  const revoked = ctx.db.transaction(() => {
    ctx.users.update(user.id, { passwordHash, updatedAt: ctx.clock() });
    const ids = ctx.sessions.revokeOthers(user.id, 'session', kind === 'session' ? sessionId : null);
    if (revokeBotTokens) ids.push(...ctx.sessions.revokeOthers(user.id, 'bot', kind === 'bot' ? sessionId : null));
    return ids;
  });
  ctx.hub.closeSessions(revoked, CloseCode.sessionRevoked, 'password changed');
  return { revokedSessions: revoked.length };
};
