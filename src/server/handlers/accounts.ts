import {
  CloseCode,
  LIMITS,
  NatterError,
  normalizeEmail,
  type ParamsOf,
  type ResultOf,
  usernameKey,
  utf8Bytes,
} from '../../protocol/index.js';
import { owesConfirmation, resolveToken, scopesOfUser, settleScopes } from '../access.js';
import type { AuthState, Connection } from '../connection.js';
import type { AuthedCtx, Ctx, Handler, Services } from '../context.js';
import type { UserRow } from '../db/schema.js';
import { userScope } from '../event-log.js';
import { newId } from '../ids.js';
import { rateLimited, spendLookups } from '../limits.js';
import { assertStrongPassword } from '../password-rules.js';
import { hashCost } from '../passwords.js';
import type { Limiter } from '../rate-limit.js';
import type { AfterCommit } from '../store/port.js';
import { hashToken, newToken } from '../tokens.js';
import { assertUsernameFree, findUser } from '../usernames.js';
import { toBotTokenInfo, toPublicUser, toSelf, toSessionInfo } from '../views.js';
import { mailCode, mailerOf, selfWithEmail } from './email.js';
import { assertInviteUsable, joinWithCode, limitGuesses } from './invites.js';

/** How long an address an account logged in from counts as the owner's (for the login throttles). */
export const KNOWN_ADDRESS_MS = 90 * 24 * 3600 * 1000;

/** Refuses a second login on a connection that already has one. */
function assertNotAuthenticated(ctx: Ctx): void {
  if (ctx.conn.transport !== 'http' && ctx.conn.auth) {
    throw new NatterError(
      'already_authenticated',
      'this connection is already authenticated; log out first or open another connection',
    );
  }
}

/**
 * Stores a new login session for `user` (inside a write job); the connection
 * is attached with {@link attachSession} once it is committed. Past
 * `maxSessionsPerUser`, the least recently used sessions make room: their ids
 * are returned so their connections can be closed after the commit.
 */
async function createSession(
  ctx: Ctx,
  after: AfterCommit,
  user: UserRow,
  client: string | undefined,
): Promise<{ result: ResultOf<'login'>; evicted: string[] }> {
  const now = ctx.clock();
  const token = newToken('session');
  const over = (await ctx.sessions.count(user.id, 'session')) + 1 - ctx.config.quotas.sessionsPerUser;
  const evicted = over > 0 ? await ctx.sessions.leastRecentlyUsed(user.id, over) : [];
  for (const id of evicted) await ctx.sessions.revoke(user.id, id, 'session');
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
  await ctx.sessions.insert(row);
  await ctx.sessions.recordAddress(user.id, row.address, now);
  const result = {
    token,
    session: toSessionInfo(row, row.id),
    user: toSelf(user, { owesConfirmation: owesConfirmation(ctx.config, user) }),
    cursor: '0',
  };
  // The head as the batch commits, the events it holds so far included.
  await ctx.events.headOnCommit(after, (head) => {
    result.cursor = String(head);
  });
  return { result, evicted };
}

/**
 * Logs the connection in with a committed session (HTTP requests carry their
 * token instead) and closes the sessions it evicted. A connection that closed
 * while the password was being checked is not attached: the session exists,
 * but nobody holds its token.
 */
async function attachSession(
  ctx: Ctx,
  { result, evicted }: { result: ResultOf<'login'>; evicted: string[] },
  present: boolean,
): Promise<ResultOf<'login'>> {
  if (evicted.length > 0)
    ctx.fanout.closeSessions(evicted, CloseCode.sessionRevoked, 'too many sessions; this one was the oldest');
  if (ctx.conn.transport !== 'http') {
    const userId = result.user.id;
    const conn = ctx.conn;
    const auth: AuthState = { userId, sessionId: result.session.id, kind: 'session' };
    if (result.user.confirmBy !== undefined) auth.unconfirmed = true;
    const authenticated = ctx.hub.authenticate(conn, auth, await scopesOfUser(ctx.chat, userId), present);
    if (authenticated) await settleConnection(ctx, conn, userId);
  }
  return result;
}

function taken(username: string): NatterError {
  return new NatterError('conflict', `username "${username}" is taken (or too close to one that is); choose another`, {
    field: 'params.username',
  });
}

/**
 * Refuses, before any work, an account the server's registration mode
 * (`--registration`) does not allow: none when `closed`, none without an
 * invite code in `invite` mode.
 */
function assertRegistrationAllowed(ctx: Ctx, invite: string | undefined): void {
  const mode = ctx.config.registration;
  if (mode === 'closed') throw new NatterError('forbidden', 'this natter server is not accepting new accounts');
  if (mode === 'invite' && invite === undefined) {
    throw new NatterError(
      'forbidden',
      'this natter server takes new accounts only with an invite code: ask someone on it for a code to one of its servers',
      { field: 'params.invite' },
    );
  }
}

export const register: Handler<'register'> = async (ctx, params) => {
  assertNotAuthenticated(ctx);
  assertRegistrationAllowed(ctx, params.invite);
  assertEmailAsRequired(ctx, params.email);
  const address = ctx.conn.address;
  const wait = await ctx.limiters.registerPerAddress.take(address);
  if (wait > 0) throw rateLimited(wait, 'accounts created from this address');
  const invite = params.invite;
  if (invite === undefined) return createAccount(ctx, params, null);
  // The code is checked first, before the name or the password: where accounts are by
  // invite only, a stranger without a code learns nothing, and costs no password hash.
  // Codes tried here count as guesses with those of invites.join.
  return limitGuesses(ctx, [`a:${address}`], async () => {
    await assertInviteUsable(ctx, invite, 'params.invite');
    return createAccount(ctx, params, invite);
  });
};

/**
 * Refuses, before any work, a `register` without the email address the
 * server requires, or with one on a server that sends no mail.
 */
function assertEmailAsRequired(ctx: Ctx, email: string | undefined): void {
  if (email !== undefined) {
    mailerOf(ctx);
    return;
  }
  if (ctx.config.mail?.requireEmail) {
    throw new NatterError(
      'bad_request',
      'this natter server requires an email address for a new account: give one, and confirm it with the code mailed to it',
      { field: 'params.email' },
    );
  }
}

/**
 * Makes the account of a `register` and logs the connection in; with an
 * invite code, the account joins that code's server in the same write job
 * (a code that fails there leaves no account).
 */
async function createAccount(
  ctx: Ctx,
  { username, password, client, presence, email }: ParamsOf<'register'>,
  invite: string | null,
): Promise<ResultOf<'register'>> {
  const address = ctx.conn.address;
  const keys = await assertUsernameFree(ctx, username, null);
  assertStrongPassword(password, username, 'params.password');
  let passwordHash: string;
  try {
    passwordHash = await ctx.passwords.hash(password, address);
  } catch (err) {
    // The server was too busy to hash: this attempt does not count.
    await ctx.limiters.registerPerAddress.refund(address);
    throw err;
  }
  const now = ctx.clock();
  const user: UserRow = {
    id: newId(),
    operator: false,
    avatarId: null,
    email: null,
    emailVerifiedAt: null,
    // Registered while an address is required: it must confirm one by then, or it is removed.
    verifyBy: ctx.config.mail?.requireEmail ? now + ctx.config.mail.unverifiedTtlMs : null,
    disabledAt: null,
    deletedAt: null,
    username,
    ...keys,
    passwordHash,
    displayName: null,
    status: null,
    bio: null,
    createdAt: now,
    updatedAt: now,
    groupAdds: 'invite',
  };
  let created: Awaited<ReturnType<typeof createSession>> & { joined: ResultOf<'invites.join'> | null };
  try {
    // One job: the account, its server and its first session exist together or not at all.
    created = await ctx.write(async (tx, after) => {
      await assertUsernameFree(tx, username, null);
      await tx.users.insert(user);
      const joined = invite === null ? null : await joinWithCode(tx, after, user.id, invite, 'params.invite');
      // The code and its mail commit with the account; the mail leaves after the commit.
      if (email !== undefined) await mailCode(tx, after, mailerOf(tx), user, normalizeEmail(email), 'verify');
      return { ...(await createSession(tx, after, user, client)), joined };
    });
  } catch (err) {
    if (ctx.store.classify(err) === 'unique') throw taken(username);
    throw err;
  }
  if (email !== undefined) created.result.user.pendingEmail = normalizeEmail(email);
  // Only a committed account logs the connection in.
  const result = await attachSession(ctx, created, presence !== false);
  const joined = created.joined;
  return joined ? { ...result, joined: { server: joined.server, channels: joined.channels } } : result;
}

/**
 * Login throttling. Nobody can lock an account's owner out, and nobody can
 * keep the password-hashing threads busy for free. Every bucket is charged
 * before the password is checked (so guesses sent in parallel are counted),
 * and given back when the guess turns out right or could not be checked:
 *
 * - attempts and failures are counted per account *and address*: a stranger's
 *   wrong guesses do not refuse the owner's right password from elsewhere,
 *   and one place logging in over and over is slowed down;
 * - failures per address, across accounts (unknown names included), stop one
 *   client guessing everywhere, but not for accounts that already have a
 *   session from that address (their owners, behind the same NAT);
 * - failures per account from addresses it has no session from stop guessing
 *   spread over many machines, again without touching known addresses;
 * - the hashing threads are shared fairly between addresses, and an owner's
 *   login from an address the account has used goes before strangers' checks.
 */
export const login: Handler<'login'> = async (ctx, { username, password, client, presence }) => {
  assertNotAuthenticated(ctx);
  const key = usernameKey(username.normalize('NFC'));
  const address = ctx.conn.address;
  const limits = ctx.limiters;
  const pair = `${key}\n${address}`;
  const user = await findUser(ctx, username);
  // Only an existing account can have been used from here (logged into in the last
  // KNOWN_ADDRESS_MS, even if that session has ended); an unknown name is treated alike.
  const known = user !== undefined && (await ctx.sessions.usedFrom(user.id, address, ctx.clock() - KNOWN_ADDRESS_MS));
  // Successful logins of the account, from anywhere: checked now, taken once one succeeds.
  const successWait = await limits.loginPerAccount.retryAfter(key);
  if (successWait > 0) throw rateLimited(successWait, 'logins of this account');
  const attempts = await charge([[limits.loginPerAccountAddress, pair]]);
  const failures = await charge(
    known
      ? [[limits.loginFailPerAccountAddress, pair]]
      : [
          [limits.loginFailPerAccountAddress, pair],
          [limits.loginFailPerAddress, address],
          [limits.loginFailPerAccount, key],
        ],
    attempts,
  );
  const hashUsed = user?.passwordHash;
  let ok: boolean;
  try {
    ok = await checkPassword(ctx, password, user, address, known);
  } catch (err) {
    // Not checked (the server was busy): it does not count.
    await failures.refund();
    await attempts.refund();
    throw err;
  }
  if (!user || !ok || hashUsed === undefined)
    throw new NatterError('invalid_credentials', 'wrong username or password');
  await failures.refund();
  // Said only to whoever knows the password: a stranger learns nothing of the account.
  assertEnabled(user);
  await limits.loginPerAccount.take(key);
  if (hashCost(hashUsed) !== ctx.passwords.cost) void rehash(ctx, user.id, hashUsed, password);
  const created = await ctx.write(async (tx, after) => {
    // The password may have changed while it was being checked: the old one no longer opens the account.
    const current = await tx.users.byId(user.id);
    if (!current || current.passwordHash !== hashUsed) {
      throw new NatterError('invalid_credentials', 'wrong username or password');
    }
    assertEnabled(current);
    return createSession(tx, after, current, client);
  });
  return attachSession(ctx, created, presence !== false);
};

/** Refuses an account an instance operator disabled (`natter admin disable`). */
export function assertEnabled(user: UserRow): void {
  if (user.disabledAt !== null) {
    throw new NatterError(
      'account_disabled',
      "this account was disabled by the natter server's operators; ask them why, or to enable it again",
    );
  }
}

/**
 * After a login with a hash of another cost than the configured one, stores a
 * new hash in the background, so that every account converges on one cost
 * (and wrong passwords take the same time for every account).
 */
async function rehash(ctx: Ctx, userId: string, old: string, password: string): Promise<void> {
  await ctx.passwords
    .hash(password, ctx.conn.address)
    .then((passwordHash) =>
      ctx.store.write(async (tx) => {
        const current = await tx.users.byId(userId);
        if (current?.passwordHash === old) await tx.users.update(userId, { passwordHash });
      }),
    )
    .catch((err: unknown) => {
      if (!(err instanceof NatterError)) ctx.log.error('rehashing a password at the configured cost', err);
    });
}

/** Tokens taken from several buckets, to give back together. */
type Charged = { refund(): Promise<void> };

/**
 * Takes one token from each bucket, or none: when one is empty (or the
 * shared buckets cannot be reached), those already taken (and `also`) are
 * given back and the attempt is `rate_limited` (or `unavailable`). The
 * buckets are taken one after another: the attempt does its work only once
 * every one has said yes.
 */
export async function charge(buckets: [Limiter, string][], also?: Charged, what = 'login attempts'): Promise<Charged> {
  const taken: [Limiter, string][] = [];
  const refund = async () => {
    const giving = taken.splice(0);
    for (const [limiter, key] of giving) await limiter.refund(key);
  };
  for (const [limiter, key] of buckets) {
    let wait: number;
    try {
      wait = await limiter.take(key);
    } catch (err) {
      await refund().catch(() => {});
      await also?.refund().catch(() => {});
      throw err;
    }
    if (wait > 0) {
      await refund();
      await also?.refund();
      throw rateLimited(wait, what);
    }
    taken.push([limiter, key]);
  }
  return { refund };
}

export const auth: Handler<'auth'> = async (ctx, { token, cursor, presence }) => {
  assertNotAuthenticated(ctx);
  const resolved = await resolveToken(ctx, ctx.conn.address, token);
  const userId = resolved.user.id;
  const from = cursor === undefined ? null : await ctx.events.parseCursor(cursor);
  const scopes = await scopesOfUser(ctx.chat, userId);
  const live = ctx.conn.transport !== 'http';
  // Subscribed first, holding stored events back: those committed while the
  // replay is read are sent after it if it did not cover them, so none is
  // missed (between the two) or duplicated (in both).
  if (live) {
    ctx.conn.held = [];
    ctx.hub.authenticate(ctx.conn, resolved.auth, scopes, presence !== false);
  }
  let head = 0;
  try {
    // A join or removal committed while the scopes were read is in the replay's scopes and head below.
    if (live) await settleConnection(ctx, ctx.conn, userId);
    // Up to what this node has delivered: the bus brings the rest live (a node
    // behind its peers would otherwise send those events twice).
    head = Math.min(await ctx.events.head(), ctx.bus.status().lastApplied);
    if (from !== null && live) {
      const since: [string, number][] = [[userScope(userId), 0], ...(await ctx.chat.scopesSince(userId))];
      // At most half the send queue: a client that never reads cannot make the server hold more.
      const queueCap = ctx.config.maxQueuedBytes;
      const replay = await ctx.events.replay(
        since,
        from,
        head,
        ctx.config.replayCap,
        queueCap > 0 ? queueCap / 2 : Number.POSITIVE_INFINITY,
      );
      // A node that has not yet delivered up to the client's cursor replays nothing, and
      // what it delivers up to the cursor the client already has: the connection skips it.
      head = Math.max(replay.head, from);
      for (const text of replay.texts) ctx.conn.sendText(text);
      ctx.conn.event('caught_up', { cursor: String(head), replayed: replay.texts.length, limited: replay.limited });
      ctx.metrics.resume(replay.limited ? 'limited' : 'exact');
    }
  } catch (err) {
    ctx.conn.release(head);
    throw err;
  }
  // What committed meanwhile goes out after the reply (docs/protocol.md, Resume): the replay, caught_up, the reply, then live events.
  ctx.afterReply(() => ctx.conn.release(head));
  return {
    session: resolved.row.kind === 'session' ? toSessionInfo(resolved.row, resolved.row.id) : null,
    user: toSelf(resolved.user, { owesConfirmation: owesConfirmation(ctx.config, resolved.user) }),
    cursor: String(head),
  };
};

/**
 * Gives a connection just authenticated, with scopes read before, the scopes
 * its user has now (see `settleScopes`).
 */
async function settleConnection(ctx: Pick<Services, 'hub' | 'chat'>, conn: Connection, userId: string): Promise<void> {
  await settleScopes(
    ctx.hub,
    userId,
    () => scopesOfUser(ctx.chat, userId),
    (scopes) => ctx.hub.setScopes(conn, scopes),
  );
}

/**
 * Checks a presented password. No account has a password over 72 bytes, and
 * bcrypt would ignore the excess, so such a password never matches. For an
 * unknown user the same work is spent on a dummy hash.
 */
/**
 * Checks `password` for `user` (an unknown user against the dummy hash).
 * `owner`: the check is the account owner's (a login from an address the
 * account has used, or a signed-in password change), served before strangers'.
 */
export async function checkPassword(
  ctx: Ctx,
  password: string,
  user: UserRow | undefined,
  address: string,
  owner: boolean,
): Promise<boolean> {
  if (utf8Bytes(password) > LIMITS.passwordMaxBytes) return false;
  if (!user) return ctx.passwords.verifyDummy(password, address);
  return ctx.passwords.verify(password, user.passwordHash, address, owner);
}

export const logout: Handler<'logout'> = async (ctx) => {
  const { userId, sessionId, kind } = ctx.session;
  await ctx.write(async (tx) => tx.sessions.revoke(userId, sessionId, kind));
  const conn = ctx.conn;
  ctx.afterReply(() => {
    // This connection stays open, logged out; the session's others are closed.
    if (conn.transport !== 'http') ctx.hub.deauthenticate(conn);
    ctx.fanout.closeSessions([sessionId], CloseCode.sessionRevoked, 'logged out');
  });
  return {};
};

/** The caller's user row; gone only if the account vanished mid-request. */
export async function currentUser(ctx: AuthedCtx): Promise<UserRow> {
  const user = await ctx.users.byId(ctx.session.userId);
  if (!user) throw new NatterError('unauthenticated', 'this account no longer exists; log in again');
  return user;
}

export const whoami: Handler<'whoami'> = async (ctx) => {
  const user = await currentUser(ctx);
  const row = await ctx.sessions.byId(ctx.session.sessionId);
  if (!row || row.userId !== user.id)
    throw new NatterError('unauthenticated', 'this session was revoked; log in again');
  return {
    user: await selfWithEmail(ctx, user),
    session: row.kind === 'session' ? toSessionInfo(row, row.id) : null,
    botToken: row.kind === 'bot' ? toBotTokenInfo(row) : null,
  };
};

export const getUser: Handler<'users.get'> = async (ctx, params) => {
  await spendLookups(ctx, 1);
  const user = 'userId' in params ? await ctx.users.byId(params.userId) : await findUser(ctx, params.username);
  if (!user) throw new NatterError('not_found', 'no such user');
  return { user: toPublicUser(user) };
};

export const changePassword: Handler<'password.change'> = async (
  ctx,
  { currentPassword, newPassword, revokeBotTokens },
) => {
  const user = await currentUser(ctx);
  // Its own bucket, per user: a stranger's failed logins never stop the owner changing their password.
  assertStrongPassword(newPassword, user.username, 'params.newPassword');
  // Charged before the check (so guesses sent in parallel are counted), given back when it was right.
  const attempt = await charge([[ctx.limiters.passwordChangePerUser, user.id]], undefined, 'wrong passwords');
  let right: boolean;
  try {
    right = await checkPassword(ctx, currentPassword, user, ctx.conn.address, true);
  } catch (err) {
    await attempt.refund();
    throw err;
  }
  if (!right) {
    throw new NatterError('invalid_credentials', 'the current password is wrong', { field: 'params.currentPassword' });
  }
  await attempt.refund();
  const passwordHash = await ctx.passwords.hash(newPassword, ctx.conn.address);
  const { sessionId, kind } = ctx.session;
  const revoked = await ctx.write(async (tx) => {
    // Two changes at once: the second one's current password is no longer current.
    const fresh = await tx.users.byId(user.id);
    if (!fresh || fresh.passwordHash !== user.passwordHash) {
      throw new NatterError('conflict', 'the password was changed meanwhile; check it and try again');
    }
    await tx.users.update(user.id, { passwordHash, updatedAt: tx.clock() });
    const rows = await tx.sessions.revokeOthers(user.id, 'session', kind === 'session' ? sessionId : null);
    // Bot tokens go too unless asked otherwise: one minted with a stolen session must not survive.
    if (revokeBotTokens !== false)
      rows.push(...(await tx.sessions.revokeOthers(user.id, 'bot', kind === 'bot' ? sessionId : null)));
    // Every node re-checks its connections' sessions too (account-watch.ts).
    if (rows.length > 0) await tx.accounts.bumpSignal();
    return rows;
  });
  ctx.fanout.closeSessions(
    revoked.map((r) => r.id),
    CloseCode.sessionRevoked,
    'password changed',
  );
  const sessions = revoked.filter((r) => r.kind === 'session');
  const bots = revoked.filter((r) => r.kind === 'bot');
  return {
    revokedSessions: sessions.length,
    revokedBotTokens: bots.length,
    revoked: revoked.map((r) => ({ id: r.id, kind: r.kind, name: r.name })),
  };
};
