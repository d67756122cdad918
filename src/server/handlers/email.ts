import { CloseCode, NatterError, normalizeCode, normalizeEmail, usernameKey } from '../../protocol/index.js';
import { owesConfirmation } from '../access.js';
import type { AuthedCtx, Ctx, Handler } from '../context.js';
import type { CodePurpose } from '../db/mail.js';
import type { AccountCodeRow, UserRow } from '../db/schema.js';
import { newId } from '../ids.js';
import { rateLimited } from '../limits.js';
import {
  CODE_MAX_TRIES,
  codeMatches,
  hashCode,
  newCode,
  RESEND_COOLDOWN_MS,
  RESET_CODE_MS,
  VERIFY_CODE_MS,
} from '../mail/codes.js';
import type { Mailer } from '../mail/outbox.js';
import { resetMail, verifyMail } from '../mail/texts.js';
import { assertStrongPassword } from '../password-rules.js';
import type { AfterCommit } from '../store/port.js';
import { findUser } from '../usernames.js';
import { toSelf } from '../views.js';
import { currentUser } from './accounts.js';

/**
 * Email addresses, their confirmation by a mailed code, and password reset
 * by a mailed code. A code and the mail that carries it are written by one
 * write job (both or neither), and the outbox sends the mail once that job
 * has committed: an SMTP server that is down never holds up the reply.
 */

/** The outbox, or `mail_unavailable` on a server that sends no mail. */
export function mailerOf(ctx: Pick<Ctx, 'mailer'>): Mailer {
  if (ctx.mailer === null) {
    throw new NatterError(
      'mail_unavailable',
      'this natter server does not send mail, so it keeps no email addresses and cannot reset passwords by mail; ask its operator',
    );
  }
  return ctx.mailer;
}

/**
 * Writes a new code for `user` and the mail that carries it to `address`, in
 * the write job under way (earlier codes of the same purpose stop working);
 * the outbox is poked once the job has committed. Returns when the code expires.
 */
export async function mailCode(
  tx: Ctx,
  after: AfterCommit,
  mailer: Mailer,
  user: Pick<UserRow, 'id' | 'username'>,
  address: string,
  purpose: CodePurpose,
): Promise<number> {
  const now = tx.clock();
  const code = newCode();
  const validMs = purpose === 'verify' ? VERIFY_CODE_MS : RESET_CODE_MS;
  const row: AccountCodeRow = {
    id: newId(),
    userId: user.id,
    purpose,
    address,
    codeHash: hashCode(code),
    createdAt: now,
    expiresAt: now + validMs,
    tries: 0,
    usedAt: null,
  };
  await tx.mail.putCode(row);
  const text =
    purpose === 'verify' ? verifyMail(user.username, code, validMs) : resetMail(user.username, code, validMs);
  await tx.mail.enqueue({ kind: purpose, toAddress: address, subject: text.subject, body: text.body, createdAt: now });
  after.push(() => mailer.poke());
  return row.expiresAt;
}

/** The address waiting for confirmation (its newest verify code still usable), or null. */
async function pendingCode(ctx: Ctx, userId: string): Promise<AccountCodeRow | null> {
  const code = await ctx.mail.latestCode(userId, 'verify');
  if (!code || code.usedAt !== null || code.expiresAt <= ctx.clock() || code.tries >= CODE_MAX_TRIES) return null;
  return code;
}

/** The caller's own view with the email state: the confirmed address, the one waiting, and whether one is owed. */
export async function selfWithEmail(ctx: Ctx, user: UserRow): Promise<ReturnType<typeof toSelf>> {
  const pending = ctx.mailer === null ? null : await pendingCode(ctx, user.id);
  return toSelf(user, { pendingEmail: pending?.address ?? null, owesConfirmation: owesConfirmation(ctx.config, user) });
}

/** Refuses a second code within a minute of the last one still waiting (of the same purpose). */
function assertCooledDown(ctx: Ctx, last: AccountCodeRow | undefined | null): void {
  // A code already used (an address just confirmed) does not hold the next one back.
  if (!last || last.usedAt !== null) return;
  const wait = last.createdAt + RESEND_COOLDOWN_MS - ctx.clock();
  if (wait > 0) {
    throw new NatterError(
      'rate_limited',
      `a code was mailed less than a minute ago; check your mail (and its spam folder), or ask again in ${Math.ceil(wait / 1000)} s`,
      { retryAfterMs: wait },
    );
  }
}

/** Mails a confirmation code to `address` for the caller (`email.set`, `email.resend`). */
async function sendVerifyCode(ctx: AuthedCtx, address: string): Promise<{ user: UserRow; expiresAt: number }> {
  const mailer = mailerOf(ctx);
  const user = await currentUser(ctx);
  assertCooledDown(ctx, await ctx.mail.latestCode(user.id, 'verify'));
  const wait = await ctx.limiters.emailSendPerUser.take(user.id);
  if (wait > 0) throw rateLimited(wait, 'confirmation codes mailed');
  const expiresAt = await ctx.write(async (tx, after) => {
    // Two requests at once: the second sees the first's code.
    assertCooledDown(tx, await tx.mail.latestCode(user.id, 'verify'));
    return mailCode(tx, after, mailer, user, address, 'verify');
  });
  return { user, expiresAt };
}

export const setEmail: Handler<'email.set'> = async (ctx, { address }) => {
  mailerOf(ctx);
  const normal = normalizeEmail(address);
  const user = await currentUser(ctx);
  if (user.email === normal) {
    throw new NatterError('conflict', `${normal} is already your confirmed address`, { field: 'params.address' });
  }
  const sent = await sendVerifyCode(ctx, normal);
  return {
    user: toSelf(sent.user, { pendingEmail: normal, owesConfirmation: owesConfirmation(ctx.config, sent.user) }),
    expiresAt: sent.expiresAt,
  };
};

export const resendEmail: Handler<'email.resend'> = async (ctx) => {
  mailerOf(ctx);
  const code = await ctx.mail.latestCode(ctx.session.userId, 'verify');
  if (!code || code.usedAt !== null) {
    throw new NatterError('not_found', 'no address is waiting for confirmation: natter email set ADDRESS adds one');
  }
  const sent = await sendVerifyCode(ctx, code.address);
  return {
    user: toSelf(sent.user, { pendingEmail: code.address, owesConfirmation: owesConfirmation(ctx.config, sent.user) }),
    expiresAt: sent.expiresAt,
  };
};

/** Why a code was not taken, in words (the caller is signed in: saying which is no leak). */
type CodeCheck = { ok: true; code: AccountCodeRow } | { ok: false; error: NatterError; counted: boolean };

/**
 * Checks `typed` against the user's newest code of `purpose`, inside a
 * write job: a wrong code counts as a try there (tries sent in parallel are
 * counted one after another), and a right one is marked used (`consume`). The job
 * never throws for a wrong code, so that the try it counted commits.
 */
async function checkCode(
  tx: Ctx,
  userId: string,
  purpose: CodePurpose,
  typed: string,
  words: { none: string; expired: string; used: string; wrong: (left: number) => string },
  consume = true,
): Promise<CodeCheck> {
  const code = await tx.mail.latestCode(userId, purpose);
  const fail = (message: string, counted = false): CodeCheck => ({
    ok: false,
    error: new NatterError('invalid_code', message, { field: 'params.code' }),
    counted,
  });
  if (!code) return fail(words.none);
  if (code.usedAt !== null) return fail(words.used);
  if (code.tries >= CODE_MAX_TRIES) return fail(words.used);
  if (code.expiresAt <= tx.clock()) return fail(words.expired);
  const normal = normalizeCode(typed);
  if (normal === null || !codeMatches(code.codeHash, normal)) {
    const tries = await tx.mail.addTry(code.id);
    return fail(tries >= CODE_MAX_TRIES ? words.used : words.wrong(CODE_MAX_TRIES - tries), true);
  }
  if (consume && !(await tx.mail.useCode(code.id, tx.clock()))) return fail(words.used);
  return { ok: true, code };
}

export const verifyEmail: Handler<'email.verify'> = async (ctx, { code }) => {
  mailerOf(ctx);
  const userId = ctx.session.userId;
  const wait = await ctx.limiters.emailVerifyFailPerUser.retryAfter(userId);
  if (wait > 0) throw rateLimited(wait, 'wrong codes');
  const outcome = await ctx.write(async (tx) => {
    const checked = await checkCode(tx, userId, 'verify', code, {
      none: 'no address is waiting for confirmation: natter email set ADDRESS mails a code',
      expired: 'this code has expired: natter email resend mails a new one',
      used: 'this code no longer works (used, or too many wrong tries): natter email resend mails a new one',
      wrong: (left) => `wrong code; ${left} ${left === 1 ? 'try' : 'tries'} left before it stops working`,
    });
    if (!checked.ok) return checked;
    const now = tx.clock();
    const user = await tx.users.update(userId, {
      email: checked.code.address,
      emailVerifiedAt: now,
      verifyBy: null,
      updatedAt: now,
    });
    if (!user) throw new NatterError('unauthenticated', 'this account no longer exists; log in again');
    return { ok: true as const, user };
  });
  if (!outcome.ok) {
    if (outcome.counted) await ctx.limiters.emailVerifyFailPerUser.take(userId);
    throw outcome.error;
  }
  // This connection may do everything at once; the account's others find out at their next request.
  ctx.session.unconfirmed = false;
  return { user: toSelf(outcome.user, { pendingEmail: null }) };
};

export const removeEmail: Handler<'email.remove'> = async (ctx) => {
  mailerOf(ctx);
  if (ctx.config.mail?.requireEmail) {
    throw new NatterError(
      'forbidden',
      'this natter server requires an email address on every account: natter email set ADDRESS replaces it instead',
    );
  }
  const userId = ctx.session.userId;
  const user = await ctx.write(async (tx) => {
    await tx.mail.dropCodes(userId, 'verify');
    await tx.mail.dropCodes(userId, 'reset');
    return tx.users.update(userId, { email: null, emailVerifiedAt: null, updatedAt: tx.clock() });
  });
  if (!user) throw new NatterError('unauthenticated', 'this account no longer exists; log in again');
  return { user: toSelf(user, { pendingEmail: null }) };
};

/**
 * Mails a reset code to the account's confirmed address. Whether the name
 * exists, has an address or was mailed a minute ago, the request takes the
 * same steps (both rate limits, a look-up, a write job) and gets the same
 * answer: it tells nobody whether there is such an account or address.
 */
export const resetRequest: Handler<'password.resetRequest'> = async (ctx, { username }) => {
  const mailer = mailerOf(ctx);
  const address = ctx.conn.address;
  const perAddress = await ctx.limiters.passwordResetPerAddress.take(address);
  if (perAddress > 0) throw rateLimited(perAddress, 'password reset requests from this address');
  const key = usernameKey(username.normalize('NFC'));
  const perAccount = await ctx.limiters.passwordResetPerAccount.take(key);
  if (perAccount > 0) throw rateLimited(perAccount, 'password reset requests for this account');
  const user = await findUser(ctx, username);
  await ctx.write(async (tx, after) => {
    const current = user ? await tx.users.byId(user.id) : undefined;
    const last = current ? await tx.mail.latestCode(current.id, 'reset') : undefined;
    const recent = last !== undefined && last.createdAt + RESEND_COOLDOWN_MS > tx.clock();
    if (!current || current.email === null || recent) return;
    await mailCode(tx, after, mailer, current, current.email, 'reset');
  });
  return { expiresInMs: RESET_CODE_MS };
};

/** What a reset code that was not taken is told: the same whatever the reason (no account, no code, wrong, used). */
const RESET_REFUSED =
  'this reset code is wrong, expired or used up: natter password reset USERNAME mails a new one (to a confirmed address)';

/**
 * Sets a new password with a mailed reset code. The code is checked (a
 * wrong one counts as a try) before the password is hashed; then, in one
 * write job, the code is used up, the password replaced and every session
 * and bot token of the account revoked; their connections are closed.
 */
export const resetPassword: Handler<'password.reset'> = async (ctx, { username, code, newPassword }) => {
  mailerOf(ctx);
  const address = ctx.conn.address;
  const limiter = ctx.limiters.passwordResetFailPerAddress;
  const wait = await limiter.retryAfter(address);
  if (wait > 0) throw rateLimited(wait, 'wrong reset codes from this address');
  const user = await findUser(ctx, username);
  assertStrongPassword(newPassword, user?.username ?? username, 'params.newPassword');
  const refused = async (): Promise<never> => {
    await limiter.take(address);
    throw new NatterError('invalid_code', RESET_REFUSED, { field: 'params.code' });
  };
  if (!user) return refused();
  const words = { none: RESET_REFUSED, expired: RESET_REFUSED, used: RESET_REFUSED, wrong: () => RESET_REFUSED };
  // A first look that counts a wrong try; the code is used up only with the new password, below,
  // so that a server too busy to hash it does not burn it.
  const first = await ctx.write((tx) => checkCode(tx, user.id, 'reset', code, words, false));
  if (!first.ok) return refused();
  const passwordHash = await ctx.passwords.hash(newPassword, address);
  const revoked = await ctx.write(async (tx) => {
    const checked = await checkCode(tx, user.id, 'reset', code, words, true);
    if (!checked.ok) return null;
    await tx.users.update(user.id, { passwordHash, updatedAt: tx.clock() });
    const rows = await tx.sessions.revokeOthers(user.id, 'session', null);
    rows.push(...(await tx.sessions.revokeOthers(user.id, 'bot', null)));
    // Every node also re-checks its connections' sessions (account-watch.ts), so they close
    // wherever they are, whatever happens to the close effect on the bus.
    if (rows.length > 0) await tx.accounts.bumpSignal();
    return rows;
  });
  if (revoked === null) return refused();
  ctx.fanout.closeSessions(
    revoked.map((r) => r.id),
    CloseCode.sessionRevoked,
    'password reset',
  );
  return {
    revokedSessions: revoked.filter((r) => r.kind === 'session').length,
    revokedBotTokens: revoked.filter((r) => r.kind === 'bot').length,
  };
};
