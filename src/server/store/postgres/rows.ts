import type { UserRef } from '../../../protocol/index.js';
import type {
  ConversationRow,
  GroupInviteRow,
  InviteRow,
  MessageRow,
  ServerRow,
  SessionRow,
  UserRow,
} from '../../db/schema.js';
import type { Raw } from './sql.js';

/*
 * Rows as the driver returns them (snake_case columns; int8 already a number,
 * see pgTypes) mapped to the row types of db/schema.ts, which both backends
 * return.
 */

const text = (v: unknown): string => v as string;
const textOrNull = (v: unknown): string | null => (v as string | null) ?? null;
const num = (v: unknown): number => v as number;
const numOrNull = (v: unknown): number | null => (v as number | null) ?? null;

export function toServer(r: Raw): ServerRow {
  return {
    id: text(r.id),
    name: text(r.name),
    description: textOrNull(r.description),
    ownerId: text(r.owner_id),
    createdAt: num(r.created_at),
    updatedAt: num(r.updated_at),
    automodRev: num(r.automod_rev ?? 0),
    iconId: (r.icon_id as string | null | undefined) ?? null,
  };
}

export function toConversation(r: Raw): ConversationRow {
  return {
    id: text(r.id),
    kind: r.kind as ConversationRow['kind'],
    serverId: textOrNull(r.server_id),
    name: textOrNull(r.name),
    topic: textOrNull(r.topic),
    dmKey: textOrNull(r.dm_key),
    lastSeq: num(r.last_seq),
    lastMessageAt: numOrNull(r.last_message_at),
    createdAt: num(r.created_at),
    createdBy: textOrNull(r.created_by),
    slowmodeSeconds: num(r.slowmode_seconds ?? 0),
  };
}

export function toMessage(r: Raw): MessageRow {
  return {
    id: text(r.id),
    conversationId: text(r.conversation_id),
    seq: num(r.seq),
    authorId: text(r.author_id),
    body: text(r.body),
    createdAt: num(r.created_at),
    editedAt: numOrNull(r.edited_at),
    deletedAt: numOrNull(r.deleted_at),
    nonce: textOrNull(r.nonce),
    kind: r.kind as MessageRow['kind'],
    bot: r.bot === true,
  };
}

export function toUser(r: Raw): UserRow {
  return {
    id: text(r.id),
    username: text(r.username),
    usernameKey: text(r.username_key),
    usernameCapitalKey: textOrNull(r.username_capital_key),
    passwordHash: text(r.password_hash),
    displayName: textOrNull(r.display_name),
    status: textOrNull(r.status),
    bio: textOrNull(r.bio),
    createdAt: num(r.created_at),
    updatedAt: num(r.updated_at),
    groupAdds: r.group_adds as UserRow['groupAdds'],
    operator: r.operator === true,
    avatarId: (r.avatar_id as string | null | undefined) ?? null,
    email: (r.email as string | null | undefined) ?? null,
    emailVerifiedAt: r.email_verified_at == null ? null : num(r.email_verified_at),
    verifyBy: r.verify_by == null ? null : num(r.verify_by),
    disabledAt: r.disabled_at == null ? null : num(r.disabled_at),
    deletedAt: r.deleted_at == null ? null : num(r.deleted_at),
  };
}

export function toUserRef(r: Raw): UserRef {
  return { id: text(r.id), username: text(r.username), displayName: textOrNull(r.display_name) };
}

export function toInvite(r: Raw): InviteRow {
  return {
    code: text(r.code),
    serverId: text(r.server_id),
    createdBy: text(r.created_by),
    maxUses: numOrNull(r.max_uses),
    uses: num(r.uses),
    expiresAt: numOrNull(r.expires_at),
    revokedAt: numOrNull(r.revoked_at),
    createdAt: num(r.created_at),
  };
}

export function toGroupInvite(r: Raw): GroupInviteRow {
  return {
    conversationId: text(r.conversation_id),
    userId: text(r.user_id),
    invitedBy: text(r.invited_by),
    createdAt: num(r.created_at),
  };
}

export function toSession(r: Raw): SessionRow {
  return {
    id: text(r.id),
    userId: text(r.user_id),
    kind: r.kind as SessionRow['kind'],
    tokenHash: text(r.token_hash),
    name: textOrNull(r.name),
    address: textOrNull(r.address),
    createdAt: num(r.created_at),
    lastSeenAt: numOrNull(r.last_seen_at),
  };
}

/** A username hold (the SQLite side returns drizzle's row of `username_holds`). */
export type HoldRow = { usernameKey: string; usernameCapitalKey: string | null; userId: string; releasedAt: number };

export function toHold(r: Raw): HoldRow {
  return {
    usernameKey: text(r.username_key),
    usernameCapitalKey: textOrNull(r.username_capital_key),
    userId: text(r.user_id),
    releasedAt: num(r.released_at),
  };
}
