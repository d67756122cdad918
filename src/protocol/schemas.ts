import { z } from 'zod';
import { codePoints, LIMITS, lineTextProblem, multilineTextProblem, usernameProblem, utf8Bytes } from './text.js';

/** Server-assigned ids (nanoid, URL-safe alphabet). */
export const Id = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9_-]+$/, 'must be an id');

/** Milliseconds since the Unix epoch. */
export const Timestamp = z.number().int().nonnegative();

/** A username as typed: NFC-normalized, then checked against the username rules. */
export const Username = z
  .string()
  .max(256)
  .overwrite((s) => s.normalize('NFC'))
  .superRefine((s, ctx) => {
    const problem = usernameProblem(s);
    if (problem) ctx.addIssue({ code: 'custom', message: `username ${problem}` });
  });

/** A new password: at least 8 characters and at most 72 bytes of UTF-8 (never truncated). */
export const NewPassword = z.string().superRefine((s, ctx) => {
  if (codePoints(s) < LIMITS.passwordMin) {
    ctx.addIssue({ code: 'custom', message: `password must be at least ${LIMITS.passwordMin} characters` });
  } else if (utf8Bytes(s) > LIMITS.passwordMaxBytes) {
    ctx.addIssue({
      code: 'custom',
      message: `password must be at most ${LIMITS.passwordMaxBytes} bytes of UTF-8 (bcrypt's limit); choose a shorter one`,
    });
  }
});

/** A password presented at login: only bounded, so a wrong one costs a normal check. */
export const PresentedPassword = z.string().min(1).max(1024);

/** A single line of text with a length limit; `null` clears the field. */
function lineText(max: number) {
  return z
    .string()
    .overwrite((s) => s.normalize('NFC').trim())
    .superRefine((s, ctx) => {
      const problem = lineTextProblem(s, max);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    });
}

/** Multi-line text (newlines and tabs allowed) with a length limit. */
function multilineText(max: number) {
  return z
    .string()
    .overwrite((s) => s.normalize('NFC'))
    .superRefine((s, ctx) => {
      const problem = multilineTextProblem(s, max);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    });
}

export const DisplayName = lineText(LIMITS.displayNameMax);
export const StatusText = lineText(LIMITS.statusMax);
export const Bio = multilineText(LIMITS.bioMax);
export const TokenName = lineText(LIMITS.tokenNameMax).pipe(z.string().min(1, 'name must not be empty'));
export const ClientName = lineText(LIMITS.clientNameMax);

/** A secret bearer token as issued by `register`, `login` or `tokens.create`. */
export const Token = z.string().min(1).max(256);

/** What anyone who can see a user sees of them. */
export const PublicUser = z.object({
  id: Id,
  username: z.string(),
  displayName: z.string().nullable(),
  status: z.string().nullable(),
  bio: z.string().nullable(),
  createdAt: Timestamp,
});
export type PublicUser = z.infer<typeof PublicUser>;

/** The caller's own account. */
export const Self = PublicUser;
export type Self = z.infer<typeof Self>;

/** A login session: one per `register`/`login`. */
export const SessionInfo = z.object({
  id: Id,
  /** The client name given at login (`natter-cli`, `natter-tui`, a bot's name...). */
  client: z.string().nullable(),
  /** The address the session logged in from. */
  address: z.string().nullable(),
  createdAt: Timestamp,
  lastSeenAt: Timestamp,
  /** True for the session making this request. */
  current: z.boolean(),
});
export type SessionInfo = z.infer<typeof SessionInfo>;

/** A named long-lived token for scripts and bots. The secret is shown once, at creation. */
export const BotTokenInfo = z.object({
  id: Id,
  name: z.string(),
  createdAt: Timestamp,
  lastUsedAt: Timestamp.nullable(),
});
export type BotTokenInfo = z.infer<typeof BotTokenInfo>;

/**
 * A resumable position in the caller's event stream. Opaque to clients: store
 * the last one received and present it when reconnecting.
 */
export const Cursor = z.string().min(1).max(128);

/**
 * The identity every message carries: a server id, its place in its
 * conversation (`seq`, strictly increasing, never reused), and the nonce the
 * sender chose so that a retried send is recognised and not stored twice.
 */
export const MessageRecord = z.object({
  id: Id,
  conversationId: Id,
  seq: z.number().int().positive(),
  authorId: Id,
  body: z.string(),
  createdAt: Timestamp,
  /** Set when the author edited the message. */
  editedAt: Timestamp.nullable(),
  /** Set when the message was deleted; `body` is then empty (a tombstone). */
  deletedAt: Timestamp.nullable(),
  /** The sender's idempotency nonce; only shown to the sender's own clients. */
  nonce: z.string().max(64).nullable(),
});
export type MessageRecord = z.infer<typeof MessageRecord>;
