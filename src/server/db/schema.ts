import { sql } from 'drizzle-orm';
import { check, index, integer, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';

/** Accounts. `usernameKey` (case-folded, look-alikes mapped) is what makes a username unique. */
export const users = sqliteTable(
  'users',
  {
    id: text('id').primaryKey(),
    username: text('username').notNull(),
    usernameKey: text('username_key').notNull(),
    passwordHash: text('password_hash').notNull(),
    displayName: text('display_name'),
    status: text('status'),
    bio: text('bio'),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [uniqueIndex('users_username_key').on(t.usernameKey)],
);

/**
 * Login sessions and bot tokens. Only the SHA-256 of a token is stored, so a
 * copy of the database does not let anyone log in.
 */
export const sessions = sqliteTable(
  'sessions',
  {
    id: text('id').primaryKey(),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    kind: text('kind', { enum: ['session', 'bot'] }).notNull(),
    tokenHash: text('token_hash').notNull(),
    /** Bot token name, or the client name given at login. */
    name: text('name'),
    address: text('address'),
    createdAt: integer('created_at').notNull(),
    lastSeenAt: integer('last_seen_at'),
  },
  (t) => [
    uniqueIndex('sessions_token_hash').on(t.tokenHash),
    index('sessions_user_kind').on(t.userId, t.kind),
    check('sessions_kind', sql`${t.kind} IN ('session', 'bot')`),
  ],
);

export type UserRow = typeof users.$inferSelect;
export type SessionRow = typeof sessions.$inferSelect;
