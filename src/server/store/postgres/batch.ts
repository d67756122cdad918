import type pg from 'pg';
import type { ReadAhead } from './read-ahead.js';
import { rows } from './sql.js';

/** An event appended in the batch under way; `id` is 0 until the batch takes its ids, just before its commit. */
export type PendingEvent = {
  payload: string;
  createdAt: number;
  /** Its audiences, each once. */
  scopes: readonly string[];
  id: number;
};

/** A membership the batch added (`on`: the server or conversation): its `since_event` is set once the batch's event ids are known. */
type Join = { table: 'members' | 'conversation_members'; on: string; userId: string; eventsBefore: number };

/**
 * What a write batch keeps in memory and writes just before its commit, as
 * the SQLite backend's `Deferred` state: the readers' positions
 * (`markReadOnCommit`), the events appended (their ids are taken at the end,
 * see {@link Batch.flush}) and the memberships whose starting event depends on
 * those ids. A job whose savepoint rolls back takes its share of it along.
 */
export class Batch {
  readonly events: PendingEvent[] = [];
  readonly reads = new Map<string, { userId: string; conversationId: string; seq: number }>();
  readonly #joins: Join[] = [];
  /** Whether a job asked for the head before the batch's first event (`headAfterLastEvent`). */
  #headWanted = false;
  /**
   * Once the batch has flushed: the newest event id committed before its
   * own, which all come after it (its events took theirs under the counter's
   * lock). For a batch without events it is the counter read before COMMIT:
   * later ones are not in it, so a cursor from it replays them, never skips.
   */
  before = 0;
  /** What the run of sends under way read ahead (see {@link ReadAhead}), if any. */
  ahead: ReadAhead | null = null;
  /** The index of the job under way in the batch. */
  job = -1;
  #undo: (() => void)[] = [];
  #eventsAtStart = 0;
  #joinsAtStart = 0;

  /** A job is about to run in its own savepoint. */
  jobStart(): void {
    this.job++;
    this.#undo = [];
    this.#eventsAtStart = this.events.length;
    this.#joinsAtStart = this.#joins.length;
  }

  /** That job threw and its savepoint was rolled back: forget what it deferred. */
  jobRollback(): void {
    for (let i = this.#undo.length - 1; i >= 0; i--) this.#undo[i]?.();
    this.#undo = [];
    this.ahead?.dropJob(this.job);
    this.events.length = this.#eventsAtStart;
    this.#joins.length = this.#joinsAtStart;
  }

  /** Runs `fn` if the job under way rolls back. */
  readonly onRollback = (fn: () => void): void => {
    this.#undo.push(fn);
  };

  /** What the run of sends read ahead, while it still answers. */
  get live(): ReadAhead | null {
    return this.ahead?.live ? this.ahead : null;
  }

  /** Adds an event; its id is filled in before the commit. */
  event(payload: string, createdAt: number, scopes: readonly string[]): PendingEvent {
    const pending = { payload, createdAt, scopes, id: 0 };
    this.events.push(pending);
    return pending;
  }

  /**
   * A membership added in this batch: it starts after the events appended
   * before it (in this batch too, as on SQLite, where those have smaller ids).
   */
  joined(table: Join['table'], on: string, userId: string): void {
    this.#joins.push({ table, on, userId, eventsBefore: this.events.length });
  }

  /**
   * The last event appended so far (its id is known once the batch has
   * flushed), or undefined when there is none yet, and then the head is
   * {@link before}.
   */
  headAfterLastEvent(): PendingEvent | undefined {
    const last = this.events.at(-1);
    if (!last) this.#headWanted = true;
    return last;
  }

  /** Moves a read position forward when the batch commits. */
  read(userId: string, conversationId: string, seq: number): void {
    const key = `${userId}\n${conversationId}`;
    const before = this.reads.get(key);
    if (before && before.seq >= seq) return;
    this.reads.set(key, { userId, conversationId, seq });
    this.#undo.push(() => (before ? this.reads.set(key, before) : this.reads.delete(key)));
  }

  /** A stored read position, or the one this batch moves it to, when further. */
  readPosition(userId: string, conversationId: string, stored: number): number {
    const pending = this.reads.size === 0 ? undefined : this.reads.get(`${userId}\n${conversationId}`);
    return pending && pending.seq > stored ? pending.seq : stored;
  }

  /**
   * Writes what the batch deferred, inside its transaction, after its last
   * job: the read positions, then, in one statement, the events under ids
   * taken from `event_counter` and the starting events of the memberships
   * the batch added. Taking the ids locks the counter's row until the
   * transaction ends, so it comes last: other writers wait for it only
   * during this statement and the commit.
   */
  async flush(client: pg.PoolClient): Promise<void> {
    if (this.reads.size > 0) {
      const reads = [...this.reads.values()];
      // The conversation may have been deleted later in the same batch: then there is nothing to write.
      await rows(
        client,
        `INSERT INTO read_states (user_id, conversation_id, last_read_seq)
         SELECT r.user_id, r.conversation_id, r.seq FROM unnest($1::text[], $2::text[], $3::int8[]) AS r(user_id, conversation_id, seq)
         WHERE EXISTS (SELECT 1 FROM conversations c WHERE c.id = r.conversation_id)
         ON CONFLICT (user_id, conversation_id) DO UPDATE SET last_read_seq = greatest(read_states.last_read_seq, excluded.last_read_seq)`,
        [reads.map((r) => r.userId), reads.map((r) => r.conversationId), reads.map((r) => r.seq)],
      );
    }
    const n = this.events.length;
    if (n === 0) {
      if (this.#headWanted) {
        const counter = await rows<{ last: number }>(client, 'SELECT last FROM event_counter');
        this.before = counter[0]?.last ?? 0;
      }
      return;
    }
    // One audience (every message): it goes in the event row. Several: one event_scopes row each.
    const single = this.events.map((e) => (e.scopes.length === 1 ? (e.scopes[0] ?? null) : null));
    const multi = this.events.flatMap((e, i) => (e.scopes.length > 1 ? e.scopes.map((s) => [i + 1, s] as const) : []));
    // A membership removed and added again in the batch: its last join counts.
    const joins = new Map(this.#joins.map((j) => [`${j.table}\n${j.on}\n${j.userId}`, j]));
    const members = [...joins.values()].filter((j) => j.table === 'members');
    const conversationMembers = [...joins.values()].filter((j) => j.table === 'conversation_members');
    const values: unknown[] = [
      n,
      this.events.map((e) => e.payload),
      this.events.map((e) => e.createdAt),
      single,
      multi.map(([ordinal]) => ordinal),
      multi.map(([, scope]) => scope),
      members.map((j) => j.on),
      members.map((j) => j.userId),
      members.map((j) => j.eventsBefore),
      conversationMembers.map((j) => j.on),
      conversationMembers.map((j) => j.userId),
      conversationMembers.map((j) => j.eventsBefore),
    ];
    const taken = await rows<{ last: number }>(
      client,
      `WITH counter AS (UPDATE event_counter SET last = last + $1 RETURNING last - $1 AS base, last),
       stored AS (
         INSERT INTO events (id, payload, created_at, scope)
         SELECT counter.base + e.ordinal, e.payload, e.created_at, e.scope
         FROM counter, unnest($2::text[], $3::int8[], $4::text[]) WITH ORDINALITY AS e(payload, created_at, scope, ordinal)),
       audiences AS (
         INSERT INTO event_scopes (event_id, scope)
         SELECT counter.base + s.ordinal, s.scope FROM counter, unnest($5::int8[], $6::text[]) AS s(ordinal, scope)),
       server_joins AS (
         UPDATE members m SET since_event = counter.base + j.before FROM counter,
           unnest($7::text[], $8::text[], $9::int8[]) AS j(server_id, user_id, before)
         WHERE m.server_id = j.server_id AND m.user_id = j.user_id),
       conversation_joins AS (
         UPDATE conversation_members m SET since_event = counter.base + j.before FROM counter,
           unnest($10::text[], $11::text[], $12::int8[]) AS j(conversation_id, user_id, before)
         WHERE m.conversation_id = j.conversation_id AND m.user_id = j.user_id)
       SELECT last FROM counter`,
      values,
    );
    const last = taken[0]?.last;
    if (last === undefined) throw new Error('event_counter has no row: the PostgreSQL migrations were not applied');
    const base = last - n;
    this.before = base;
    this.events.forEach((e, i) => {
      e.id = base + i + 1;
    });
  }
}
