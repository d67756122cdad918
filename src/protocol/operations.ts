import { z } from 'zod';
import {
  Bio,
  BotTokenInfo,
  ClientName,
  DisplayName,
  Id,
  NewPassword,
  PresentedPassword,
  PublicUser,
  Self,
  SessionInfo,
  StatusText,
  Timestamp,
  Token,
  TokenName,
  Username,
} from './schemas.js';

/**
 * Who may call an operation: `none` works before authentication, `user` needs
 * an authenticated connection (a login session or a bot token), `session`
 * needs a login session: account security (password, sessions, bot tokens)
 * is out of a bot token's reach, so a leaked token cannot lock its owner out.
 */
export type Access = 'none' | 'user' | 'session';

/** One entry of the operation table. */
export type OperationSpec<
  P extends z.ZodType = z.ZodType,
  R extends z.ZodType = z.ZodType,
  A extends Access = Access,
> = {
  readonly access: A;
  /** The request's `params`; always a strict object, so unknown fields are refused. */
  readonly params: P;
  readonly result: R;
  /** One line for `docs/protocol.md` and `--help` texts. */
  readonly summary: string;
  /**
   * Operations that change who the connection is (login, logout...) run alone:
   * requests that arrive after them on the same connection wait for them.
   */
  readonly exclusive?: boolean;
};

function op<P extends z.ZodType, R extends z.ZodType, A extends Access>(
  spec: OperationSpec<P, R, A>,
): OperationSpec<P, R, A> {
  return spec;
}

const Empty = z.strictObject({});
const Ok = z.object({});

/** Returned by every operation that logs someone in. */
const LoginResult = z.object({
  /** The session's secret token: keep it, present it with `auth` or as a Bearer token. Shown once. */
  token: z.string(),
  session: SessionInfo,
  user: Self,
});

/** The operation table: every request a client can make, by name. */
export const operations = {
  hello: op({
    access: 'none',
    summary: 'Exchange protocol versions. Optional; the server also announces its version in the `hello` event.',
    params: z.strictObject({ protocol: z.number().int().positive(), client: ClientName.optional() }),
    result: z.object({
      protocol: z.number().int(),
      server: z.object({ name: z.literal('natter'), version: z.string() }),
      authenticated: z.boolean(),
    }),
  }),
  ping: op({
    access: 'none',
    summary: 'Round-trip check; also keeps an idle TCP connection alive.',
    params: Empty,
    result: z.object({ now: Timestamp }),
  }),
  register: op({
    access: 'none',
    exclusive: true,
    summary: 'Create an account and log this connection in.',
    params: z.strictObject({ username: Username, password: NewPassword, client: ClientName.optional() }),
    result: LoginResult,
  }),
  login: op({
    access: 'none',
    exclusive: true,
    summary: 'Log in with username and password; returns a new session token.',
    params: z.strictObject({
      username: z.string().min(1).max(256),
      password: PresentedPassword,
      client: ClientName.optional(),
    }),
    result: LoginResult,
  }),
  auth: op({
    access: 'none',
    exclusive: true,
    summary: 'Authenticate this connection with a session or bot token.',
    params: z.strictObject({ token: Token }),
    result: z.object({ session: SessionInfo.nullable(), user: Self }),
  }),
  logout: op({
    access: 'user',
    exclusive: true,
    summary: "Revoke this connection's session; every connection using it is closed.",
    params: Empty,
    result: Ok,
  }),
  whoami: op({
    access: 'user',
    summary: 'Who this connection is logged in as.',
    params: Empty,
    result: z.object({ user: Self, session: SessionInfo.nullable(), botToken: BotTokenInfo.nullable() }),
  }),
  'users.get': op({
    access: 'user',
    summary: 'Look up a user by id or by username.',
    params: z.union([z.strictObject({ userId: Id }), z.strictObject({ username: z.string().min(1).max(256) })]),
    result: z.object({ user: PublicUser }),
  }),
  'profile.update': op({
    access: 'user',
    summary: 'Change display name, status text or bio; `null` clears a field, an absent field is left as is.',
    params: z.strictObject({
      displayName: DisplayName.nullable().optional(),
      status: StatusText.nullable().optional(),
      bio: Bio.nullable().optional(),
    }),
    result: z.object({ user: Self }),
  }),
  'username.change': op({
    access: 'user',
    summary: 'Change username. The account id stays; the old name is freed at once.',
    params: z.strictObject({ username: Username }),
    result: z.object({ user: Self }),
  }),
  'password.change': op({
    access: 'session',
    summary:
      'Change password. Every other login session is revoked and its connections closed; bot tokens stay unless `revokeBotTokens`.',
    params: z.strictObject({
      currentPassword: PresentedPassword,
      newPassword: NewPassword,
      revokeBotTokens: z.boolean().optional(),
    }),
    result: z.object({ revokedSessions: z.number().int().nonnegative() }),
  }),
  'sessions.list': op({
    access: 'session',
    summary: 'List my login sessions, most recently used first.',
    params: Empty,
    result: z.object({ sessions: z.array(SessionInfo) }),
  }),
  'sessions.revoke': op({
    access: 'session',
    summary: 'Revoke one of my login sessions and close its connections.',
    params: z.strictObject({ sessionId: Id }),
    result: Ok,
  }),
  'tokens.create': op({
    access: 'session',
    summary: 'Create a named long-lived bot token. The secret is in this reply only.',
    params: z.strictObject({ name: TokenName }),
    result: z.object({ token: z.string(), botToken: BotTokenInfo }),
  }),
  'tokens.list': op({
    access: 'session',
    summary: 'List my bot tokens (names and dates, never secrets).',
    params: Empty,
    result: z.object({ tokens: z.array(BotTokenInfo) }),
  }),
  'tokens.revoke': op({
    access: 'session',
    summary: 'Revoke a bot token and close the connections using it.',
    params: z.strictObject({ tokenId: Id }),
    result: Ok,
  }),
} as const;

export type Operations = typeof operations;
export type OpName = keyof Operations;
/** The parsed (normalized) params of an operation, as handlers receive them. */
export type ParamsOf<N extends OpName> = z.output<Operations[N]['params']>;
/** The params a client sends. */
export type ParamsIn<N extends OpName> = z.input<Operations[N]['params']>;
export type ResultOf<N extends OpName> = z.output<Operations[N]['result']>;

export const OP_NAMES = Object.keys(operations) as OpName[];

/** Type guard: is `name` an operation of this protocol version? */
export function isOpName(name: string): name is OpName {
  return Object.hasOwn(operations, name);
}
