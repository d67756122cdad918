import type { Db } from './index.js';
import type { AutomodRuleRow, HeldMessageRow } from './schema.js';

/** An `automod_rules` row as both backends' drivers return it (snake_case columns). */
export function toAutomodRule(r: Record<string, unknown>): AutomodRuleRow {
  return {
    id: r.id as string,
    serverId: r.server_id as string,
    name: r.name as string,
    kind: r.kind as AutomodRuleRow['kind'],
    config: r.config as string,
    actions: r.actions as string,
    exemptRoles: r.exempt_roles as string,
    exemptChannels: r.exempt_channels as string,
    enabled: r.enabled === true || r.enabled === 1,
    createdBy: (r.created_by as string | null) ?? null,
    createdAt: r.created_at as number,
    updatedAt: r.updated_at as number,
  };
}

/** A held message to record: its files (a JSON array of ids) only when it has some. */
export type NewHeld = Omit<HeldMessageRow, 'attachments'> & { attachments?: string };

/** A `held_messages` row as both backends' drivers return it. */
export function toHeld(r: Record<string, unknown>): HeldMessageRow {
  return {
    id: r.id as string,
    serverId: r.server_id as string,
    conversationId: r.conversation_id as string,
    authorId: r.author_id as string,
    body: r.body as string,
    kind: r.kind as HeldMessageRow['kind'],
    bot: r.bot === true || r.bot === 1,
    nonce: (r.nonce as string | null) ?? null,
    heldBy: r.held_by as string,
    createdAt: r.created_at as number,
    attachments: (r.attachments as string | null | undefined) ?? '[]',
  };
}

/** The columns of a rule that `automod.update` replaces. */
export type RuleChange = Pick<
  AutomodRuleRow,
  'name' | 'kind' | 'config' | 'actions' | 'exemptRoles' | 'exemptChannels' | 'enabled' | 'updatedAt'
>;

/**
 * Automatic moderation: servers' rules (each change bumps the server's
 * `automod_rev`, which sends read with the author's role), the messages they
 * hold for review, and who a server's moderators are.
 */
export function automodQueries(db: Db) {
  const sqlite = db.$client;
  const rules = sqlite.prepare('SELECT * FROM automod_rules WHERE server_id = ? ORDER BY created_at, id');
  const rule = sqlite.prepare('SELECT * FROM automod_rules WHERE id = ?');
  const insertRule = sqlite.prepare(
    `INSERT INTO automod_rules (id, server_id, name, kind, config, actions, exempt_roles, exempt_channels, enabled,
       created_by, created_at, updated_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const updateRule = sqlite.prepare(
    `UPDATE automod_rules SET name = ?, kind = ?, config = ?, actions = ?, exempt_roles = ?, exempt_channels = ?,
       enabled = ?, updated_at = ? WHERE id = ?`,
  );
  const deleteRule = sqlite.prepare('DELETE FROM automod_rules WHERE id = ?');
  const bump = sqlite.prepare('UPDATE servers SET automod_rev = automod_rev + 1 WHERE id = ?');
  const ruleByName = sqlite.prepare('SELECT id FROM automod_rules WHERE server_id = ? AND name = ?');
  const insertHeld = sqlite.prepare(
    `INSERT INTO held_messages (id, server_id, conversation_id, author_id, body, kind, bot, nonce, held_by, created_at,
       attachments)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const held = sqlite.prepare('SELECT * FROM held_messages WHERE id = ?');
  const heldByNonce = sqlite.prepare('SELECT * FROM held_messages WHERE author_id = ? AND nonce = ?');
  const heldPage = sqlite.prepare(
    `SELECT * FROM held_messages WHERE server_id = ? AND (? IS NULL OR (created_at, id) > (?, ?))
     ORDER BY created_at, id LIMIT ?`,
  );
  const deleteHeld = sqlite.prepare('DELETE FROM held_messages WHERE id = ?');
  const heldCount = sqlite.prepare('SELECT count(*) AS n FROM held_messages WHERE server_id = ? AND author_id = ?');
  const moderators = sqlite.prepare(
    "SELECT user_id FROM members WHERE server_id = ? AND role IN ('owner', 'admin', 'moderator') ORDER BY user_id",
  );
  return {
    /** A server's rules, oldest first. */
    rules: (serverId: string): AutomodRuleRow[] =>
      (rules.all(serverId) as Record<string, unknown>[]).map(toAutomodRule),
    rule: (id: string): AutomodRuleRow | undefined => {
      const r = rule.get(id) as Record<string, unknown> | undefined;
      return r && toAutomodRule(r);
    },
    /** The id of the server's rule called `name`, if any. */
    ruleNamed: (serverId: string, name: string): string | undefined =>
      (ruleByName.get(serverId, name) as { id: string } | undefined)?.id,
    insertRule: (row: AutomodRuleRow): void => {
      insertRule.run(
        row.id,
        row.serverId,
        row.name,
        row.kind,
        row.config,
        row.actions,
        row.exemptRoles,
        row.exemptChannels,
        row.enabled ? 1 : 0,
        row.createdBy,
        row.createdAt,
        row.updatedAt,
      );
    },
    updateRule: (id: string, c: RuleChange): void => {
      updateRule.run(
        c.name,
        c.kind,
        c.config,
        c.actions,
        c.exemptRoles,
        c.exemptChannels,
        c.enabled ? 1 : 0,
        c.updatedAt,
        id,
      );
    },
    deleteRule: (id: string): boolean => deleteRule.run(id).changes > 0,
    /** Marks the server's rules as changed: every node compiles them again on its next send there. */
    bumpRevision: (serverId: string): void => {
      bump.run(serverId);
    },
    insertHeld: (row: NewHeld): void => {
      insertHeld.run(
        row.id,
        row.serverId,
        row.conversationId,
        row.authorId,
        row.body,
        row.kind,
        row.bot ? 1 : 0,
        row.nonce,
        row.heldBy,
        row.createdAt,
        row.attachments ?? '[]',
      );
    },
    held: (id: string): HeldMessageRow | undefined => {
      const r = held.get(id) as Record<string, unknown> | undefined;
      return r && toHeld(r);
    },
    /** The message `authorId` sent with `nonce` that is held, if any (a retried send finds it). */
    heldByNonce: (authorId: string, nonce: string): HeldMessageRow | undefined => {
      const r = heldByNonce.get(authorId, nonce) as Record<string, unknown> | undefined;
      return r && toHeld(r);
    },
    /** Up to `limit` of a server's held messages after `after` (its time and id), oldest first. */
    heldPage: (serverId: string, after: [number, string] | null, limit: number): HeldMessageRow[] =>
      (
        heldPage.all(serverId, after === null ? null : 1, after?.[0] ?? null, after?.[1] ?? null, limit) as Record<
          string,
          unknown
        >[]
      ).map(toHeld),
    deleteHeld: (id: string): boolean => deleteHeld.run(id).changes > 0,
    /** How many of `authorId`'s messages wait for review in the server. */
    heldCount: (serverId: string, authorId: string): number => (heldCount.get(serverId, authorId) as { n: number }).n,
    /** The ids of a server's moderators, admins and owner. */
    moderatorIds: (serverId: string): string[] =>
      (moderators.all(serverId) as { user_id: string }[]).map((r) => r.user_id),
  };
}

export type AutomodQueries = ReturnType<typeof automodQueries>;
