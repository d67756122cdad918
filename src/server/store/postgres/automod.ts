import { type NewHeld, type RuleChange, toAutomodRule, toHeld } from '../../db/automod.js';
import type { AutomodRuleRow, HeldMessageRow } from '../../db/schema.js';
import type { AutomodStore } from '../port.js';
import { changes, type Queryable, row, rows } from './sql.js';

/** Automatic moderation in PostgreSQL: the queries of the SQLite `automodQueries` (db/automod.ts). */
export class PostgresAutomod implements AutomodStore {
  readonly #q: Queryable;

  constructor(q: Queryable) {
    this.#q = q;
  }

  async rules(serverId: string): Promise<AutomodRuleRow[]> {
    return (
      await rows(this.#q, 'SELECT * FROM automod_rules WHERE server_id = $1 ORDER BY created_at, id COLLATE "C"', [
        serverId,
      ])
    ).map(toAutomodRule);
  }

  async rule(id: string): Promise<AutomodRuleRow | undefined> {
    const r = await row(this.#q, 'SELECT * FROM automod_rules WHERE id = $1', [id]);
    return r && toAutomodRule(r);
  }

  async ruleNamed(serverId: string, name: string): Promise<string | undefined> {
    return (
      await row<{ id: string }>(this.#q, 'SELECT id FROM automod_rules WHERE server_id = $1 AND name = $2', [
        serverId,
        name,
      ])
    )?.id;
  }

  async insertRule(r: AutomodRuleRow): Promise<void> {
    await changes(
      this.#q,
      `INSERT INTO automod_rules (id, server_id, name, kind, config, actions, exempt_roles, exempt_channels, enabled,
         created_by, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
      [
        r.id,
        r.serverId,
        r.name,
        r.kind,
        r.config,
        r.actions,
        r.exemptRoles,
        r.exemptChannels,
        r.enabled,
        r.createdBy,
        r.createdAt,
        r.updatedAt,
      ],
    );
  }

  async updateRule(id: string, c: RuleChange): Promise<void> {
    await changes(
      this.#q,
      `UPDATE automod_rules SET name = $1, kind = $2, config = $3, actions = $4, exempt_roles = $5,
         exempt_channels = $6, enabled = $7, updated_at = $8 WHERE id = $9`,
      [c.name, c.kind, c.config, c.actions, c.exemptRoles, c.exemptChannels, c.enabled, c.updatedAt, id],
    );
  }

  async deleteRule(id: string): Promise<boolean> {
    return (await changes(this.#q, 'DELETE FROM automod_rules WHERE id = $1', [id])) > 0;
  }

  async bumpRevision(serverId: string): Promise<void> {
    await changes(this.#q, 'UPDATE servers SET automod_rev = automod_rev + 1 WHERE id = $1', [serverId]);
  }

  async insertHeld(h: NewHeld): Promise<void> {
    await changes(
      this.#q,
      `INSERT INTO held_messages (id, server_id, conversation_id, author_id, body, kind, bot, nonce, held_by, created_at,
         attachments)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
      [
        h.id,
        h.serverId,
        h.conversationId,
        h.authorId,
        h.body,
        h.kind,
        h.bot,
        h.nonce,
        h.heldBy,
        h.createdAt,
        h.attachments ?? '[]',
      ],
    );
  }

  async held(id: string): Promise<HeldMessageRow | undefined> {
    const r = await row(this.#q, 'SELECT * FROM held_messages WHERE id = $1', [id]);
    return r && toHeld(r);
  }

  async heldByNonce(authorId: string, nonce: string): Promise<HeldMessageRow | undefined> {
    const r = await row(this.#q, 'SELECT * FROM held_messages WHERE author_id = $1 AND nonce = $2', [authorId, nonce]);
    return r && toHeld(r);
  }

  async heldPage(serverId: string, after: [number, string] | null, limit: number): Promise<HeldMessageRow[]> {
    return (
      await rows(
        this.#q,
        `SELECT * FROM held_messages WHERE server_id = $1
           AND ($2::int8 IS NULL OR (created_at, id COLLATE "C") > ($2::int8, $3::text))
         ORDER BY created_at, id COLLATE "C" LIMIT $4`,
        [serverId, after?.[0] ?? null, after?.[1] ?? null, limit],
      )
    ).map(toHeld);
  }

  async deleteHeld(id: string): Promise<boolean> {
    return (await changes(this.#q, 'DELETE FROM held_messages WHERE id = $1', [id])) > 0;
  }

  async heldCount(serverId: string, authorId: string): Promise<number> {
    return (
      (
        await row<{ n: number }>(
          this.#q,
          'SELECT count(*) AS n FROM held_messages WHERE server_id = $1 AND author_id = $2',
          [serverId, authorId],
        )
      )?.n ?? 0
    );
  }

  async moderatorIds(serverId: string): Promise<string[]> {
    return (
      await rows<{ user_id: string }>(
        this.#q,
        `SELECT user_id FROM members WHERE server_id = $1 AND role IN ('owner', 'admin', 'moderator')
         ORDER BY user_id COLLATE "C"`,
        [serverId],
      )
    ).map((r) => r.user_id);
  }
}
