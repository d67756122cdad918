import type { z } from 'zod';

/**
 * Request fields in words, for error messages people read: a client shows
 * the server's message as it is, so it must not speak of `params.maxUses` or
 * of what the schema library expected. The field's path stays in the error's
 * `field`, for programs.
 */
const FIELD_WORDS: Record<string, string> = {
  id: 'the request id ("id")',
  op: 'the operation ("op")',
  params: 'the parameters ("params")',
  serverId: 'server id',
  channelId: 'channel id',
  conversationId: 'conversation id',
  messageId: 'message id',
  userId: 'user id',
  groupId: 'group id',
  sessionId: 'session id',
  tokenId: 'bot token id',
  username: 'username',
  usernames: 'list of usernames',
  'usernames[]': 'a username in the list',
  password: 'password',
  currentPassword: 'current password',
  newPassword: 'new password',
  token: 'token',
  cursor: 'cursor',
  client: 'client name',
  presence: 'presence',
  protocol: 'protocol version',
  maxUses: 'number of uses',
  expiresInSeconds: 'lifetime of the invite, in seconds,',
  limit: 'number of items asked for',
  after: 'the position to start after ("after")',
  before: 'the position to stop before ("before")',
  seq: 'message number',
  code: 'invite code',
  invite: 'invite code',
  name: 'name',
  body: 'message',
  kind: 'message kind',
  nonce: 'nonce',
  to: 'recipient',
  role: 'role',
  query: 'search query',
  from: 'author',
  topic: 'topic',
  description: 'description',
  reason: 'reason',
  reportId: 'report id',
  details: 'details',
  note: 'note',
  action: 'action',
  seconds: 'seconds',
  displayName: 'display name',
  status: 'status',
  bio: 'bio',
  groupAdds: 'who may add you to groups',
  revokeBotTokens: 'whether to revoke bot tokens',
};

/** The words for a field at `path` (relative to the request or to its params): `serverId` -> `server id`. */
export function fieldWords(path: readonly PropertyKey[]): string {
  const last = path[path.length - 1];
  if (last === undefined) return 'the request';
  if (typeof last === 'number') {
    const parent = String(path[path.length - 2] ?? '');
    return FIELD_WORDS[`${parent}[]`] ?? `item ${last + 1} of ${fieldWords(path.slice(0, -1))}`;
  }
  const key = String(last);
  // An unknown field reads as its name split into words: `revokeBotTokens` -> `revoke bot tokens`.
  return FIELD_WORDS[key] ?? key.replace(/([a-z0-9])([A-Z])/g, '$1 $2').toLowerCase();
}

/** Our own rules' messages that leave the subject to the field (`must be at most 64 characters`). */
const NO_SUBJECT = /^(must|may|is|are|has|holds|contains)\b/;

/** `"a", "b" or "c"` */
function alternatives(values: readonly unknown[]): string {
  const quoted = values.map((v) => JSON.stringify(v));
  return quoted.length <= 1 ? (quoted[0] ?? '') : `${quoted.slice(0, -1).join(', ')} or ${quoted[quoted.length - 1]}`;
}

const KINDS: Record<string, string> = {
  string: 'text',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  object: 'an object',
  array: 'a list',
  null: 'null',
};

/**
 * A schema problem as a sentence a person can read, naming the field in
 * words: `number of uses must be at most 100000`, `server id is missing`.
 * `value` is what the request held at `path` (to tell a missing field from
 * one of the wrong kind). Messages of natter's own rules (usernames, text
 * fields, passwords) already say what is wrong and are kept.
 */
export function describeIssue(issue: z.core.$ZodIssue, path: readonly PropertyKey[], value: unknown): string {
  const subject = fieldWords(path);
  switch (issue.code) {
    case 'custom':
      return NO_SUBJECT.test(issue.message) ? `${subject} ${issue.message}` : issue.message;
    case 'invalid_type': {
      if (value === undefined) return `${subject} is missing`;
      const kind = KINDS[issue.expected];
      return kind ? `${subject} must be ${kind}` : `${subject} is not of the right kind`;
    }
    case 'too_big':
    case 'too_small': {
      const big = issue.code === 'too_big';
      const n = Number(big ? issue.maximum : issue.minimum);
      const bound = big ? (issue.inclusive ? 'at most' : 'less than') : issue.inclusive ? 'at least' : 'more than';
      if (issue.origin === 'string') {
        return !big && n === 1 ? `${subject} must not be empty` : `${subject} must be ${bound} ${n} characters`;
      }
      if (issue.origin === 'array' || issue.origin === 'set') {
        return !big && n === 1 ? `${subject} must not be empty` : `${subject} must hold ${bound} ${n} items`;
      }
      return `${subject} must be ${bound} ${n}`;
    }
    case 'invalid_format':
      // A pattern of ours comes with its own words (`nonce must be printable ASCII without spaces`).
      if (!issue.message.startsWith('Invalid')) {
        return NO_SUBJECT.test(issue.message) ? `${subject} ${issue.message}` : issue.message;
      }
      return `${subject} is not in the right form`;
    case 'invalid_value':
      return `${subject} must be ${alternatives(issue.values)}`;
    case 'unrecognized_keys':
      return `unknown field ${alternatives(issue.keys)}${path.length > 0 ? ` in ${subject}` : ''}`;
    default:
      return `${subject} is not valid`;
  }
}
