import { type EventData, type EventName, NatterError } from '../../../protocol/index.js';
import { type Scope, withCursor } from '../../event-log.js';
import type { AfterCommit, EventStore, Publish, Replay, StoredEvent } from '../port.js';
import type { Batch } from './batch.js';
import { changes, type Queryable, row, rows } from './sql.js';

/** What one `event_scopes` row costs on disk, index included (for the daily write budget), as on SQLite. */
const SCOPE_ROW_BYTES = 80;

/** Bytes of event payloads appended through a store's event stores, whichever batch they were in. */
export type AppendMeter = { bytes: number };

/**
 * The resumable event stream in PostgreSQL. Inside a write batch, `append`
 * keeps the event in the batch; the batch stores all its events just before
 * it commits, under ids taken from `event_counter` (see `Batch.flush`), so
 * ids become visible in commit order. The publication pushed onto `after`
 * reads the id then assigned.
 */
export class PostgresEvents implements EventStore {
  readonly #q: Queryable;
  readonly #batch: Batch | null;
  readonly #publish: Publish;
  readonly #meter: AppendMeter;

  constructor(q: Queryable, publish: Publish, meter: AppendMeter, batch: Batch | null = null) {
    this.#q = q;
    this.#publish = publish;
    this.#meter = meter;
    this.#batch = batch;
  }

  get appendedBytes(): number {
    return this.#meter.bytes;
  }

  async append<N extends EventName>(
    after: AfterCommit,
    scopes: readonly Scope[],
    event: N,
    data: EventData<N>,
    now: number,
  ): Promise<void> {
    if (!this.#batch) throw new Error('events are appended inside a write batch only');
    const payload = JSON.stringify({ event, data });
    const distinct = scopes.length === 1 ? scopes : [...new Set(scopes)];
    // What the event stores: its text, and a row (with its index entry) per audience beyond one.
    this.#meter.bytes += Buffer.byteLength(payload) + (distinct.length > 1 ? distinct.length * SCOPE_ROW_BYTES : 0);
    const pending = this.#batch.event(payload, now, distinct);
    const publish = this.#publish;
    after.push(() => publish({ id: pending.id, scopes: distinct, text: withCursor(payload, pending.id) }));
  }

  /**
   * The newest committed event id (0 when there is none): the counter, which
   * pruning leaves alone. Inside a batch, what had committed before it.
   */
  async head(): Promise<number> {
    return (await row<{ last: number }>(this.#q, 'SELECT last FROM event_counter'))?.last ?? 0;
  }

  /**
   * The head at this point of the batch: the id its last event appended so
   * far takes at the commit, or, with none yet, the newest id committed
   * before the batch's (see `Batch.flush`).
   */
  async headOnCommit(after: AfterCommit, set: (head: number) => void): Promise<void> {
    const batch = this.#batch;
    if (!batch) throw new Error('the head at a commit is asked inside a write batch only');
    const last = batch.headAfterLastEvent();
    after.push(() => set(last ? last.id : batch.before));
  }

  async parseCursor(cursor: string): Promise<number> {
    const n = /^(0|[1-9][0-9]{0,15})$/.test(cursor) ? Number(cursor) : Number.NaN;
    if (!Number.isSafeInteger(n) || n > (await this.head())) {
      throw new NatterError(
        'invalid_cursor',
        'this cursor is not one this server gave out; reload and start from now',
        {
          field: 'params.cursor',
        },
      );
    }
    return n;
  }

  /**
   * The events after `cursor` in `scopes` (each seen from its own starting
   * event id): at most `cap` of them and `maxBytes` of text, else none and
   * `limited`. One statement, so the head, the oldest event and the rows are
   * of one snapshot.
   */
  async replay(
    scopes: readonly (readonly [string, number])[],
    cursor: number,
    upTo: number,
    cap: number,
    maxBytes: number,
  ): Promise<Replay> {
    const found = await rows<{ head: number; oldest: number | null; id: number | null; payload: string | null }>(
      this.#q,
      `WITH want (scope, since) AS (
         SELECT w.scope, greatest(w.since, $3) FROM unnest($1::text[], $2::int8[]) AS w(scope, since)),
       picked AS (
         SELECT e.id, e.payload FROM events e
         WHERE e.id IN (SELECT x.id FROM want w JOIN events x ON x.scope = w.scope AND x.id > w.since AND x.id <= $5
                        UNION ALL
                        SELECT s.event_id FROM want w JOIN event_scopes s ON s.scope = w.scope
                        AND s.event_id > w.since AND s.event_id <= $5)
         ORDER BY e.id LIMIT $4)
       SELECT least((SELECT last FROM event_counter), $5) AS head, (SELECT min(id) FROM events) AS oldest, p.id, p.payload
       FROM (SELECT 1) one LEFT JOIN picked p ON true
       ORDER BY p.id`,
      [scopes.map(([scope]) => scope), scopes.map(([, since]) => since), cursor, cap + 1, upTo],
    );
    const first = found[0];
    const head = first?.head ?? 0;
    // Events after the cursor were pruned: what is left would not be the whole story.
    const oldest = first?.oldest ?? head + 1;
    if (cursor < head && cursor < oldest - 1) return { texts: [], head, limited: true };
    const texts: string[] = [];
    let bytes = 0;
    for (const r of found) {
      if (r.id === null || r.payload === null) continue;
      bytes += Buffer.byteLength(r.payload);
      if (texts.length >= cap || bytes > maxBytes) return { texts: [], head, limited: true };
      texts.push(withCursor(r.payload, r.id));
    }
    return { texts, head, limited: false };
  }

  async since(after: number, limit: number): Promise<StoredEvent[]> {
    const found = await rows<{ id: number; payload: string; scopes: string[] }>(
      this.#q,
      `SELECT e.id, e.payload,
              CASE WHEN e.scope IS NOT NULL THEN ARRAY[e.scope]
                   ELSE ARRAY(SELECT s.scope FROM event_scopes s WHERE s.event_id = e.id ORDER BY s.scope COLLATE "C") END AS scopes
       FROM events e WHERE e.id > $1 ORDER BY e.id LIMIT $2`,
      [after, limit],
    );
    return found.map((r) => ({ id: r.id, scopes: r.scopes as Scope[], text: withCursor(r.payload, r.id) }));
  }

  async prune(before: number, limit: number): Promise<number> {
    return changes(
      this.#q,
      'DELETE FROM events WHERE id IN (SELECT id FROM events WHERE created_at < $1 ORDER BY id LIMIT $2)',
      [before, limit],
    );
  }
}
