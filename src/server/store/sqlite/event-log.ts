import type { Statement } from 'better-sqlite3';
import { type EventData, type EventName, NatterError } from '../../../protocol/index.js';
import type { Db } from '../../db/index.js';
import { type Scope, withCursor } from '../../event-log.js';
import type { AfterCommit, Publish, Replay, StoredEvent } from '../port.js';

/** What one `event_scopes` row costs on disk, index included (for the daily write budget). */
const SCOPE_ROW_BYTES = 80;

/**
 * The resumable event stream. A stream event is stored (serialized once) in
 * the same transaction as the change it reports, and published to live
 * connections after that transaction commits, with its id as the cursor.
 */
export class EventLog {
  /** Bytes of event payloads appended so far (the daily write budget charges the difference a job makes). */
  appendedBytes = 0;
  private readonly insert: Statement<[string, number, string | null], { id: number }>;
  private readonly insertScope: Statement<[number, string]>;
  private readonly headStmt: Statement<[], { seq: number }>;
  private readonly oldestStmt: Statement<[], { id: number | null }>;
  private readonly replayStmt: Statement<
    [{ scopes: string; cursor: number; upTo: number; cap: number }],
    { id: number; payload: string }
  >;
  private readonly pruneStmt: Statement<[number, number]>;
  private readonly sinceStmt: Statement<[number, number], { id: number; payload: string; scope: string | null }>;
  private readonly scopesStmt: Statement<[number, number], { event_id: number; scope: string }>;

  constructor(
    db: Db,
    private readonly publish: Publish,
  ) {
    const sqlite = db.$client;
    this.insert = sqlite.prepare('INSERT INTO events (payload, created_at, scope) VALUES (?, ?, ?) RETURNING id');
    this.insertScope = sqlite.prepare('INSERT INTO event_scopes (event_id, scope) VALUES (?, ?)');
    // AUTOINCREMENT's counter outlives pruning, so the head never goes back.
    this.headStmt = sqlite.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'events'");
    this.oldestStmt = sqlite.prepare('SELECT min(id) AS id FROM events');
    // Each scope comes with the event id from which the user may see it (when they joined).
    // An event names its one audience itself, or its several in event_scopes.
    this.replayStmt = sqlite.prepare(
      `WITH want(scope, since) AS (SELECT json_extract(value, '$[0]'), max(json_extract(value, '$[1]'), @cursor) FROM json_each(@scopes))
       SELECT e.id, e.payload FROM events e
       WHERE e.id IN (SELECT x.id FROM want w JOIN events x ON x.scope = w.scope WHERE x.id > w.since AND x.id <= @upTo
                      UNION ALL
                      SELECT s.event_id FROM want w JOIN event_scopes s ON s.scope = w.scope
                      WHERE s.event_id > w.since AND s.event_id <= @upTo)
       ORDER BY e.id LIMIT @cap`,
    );
    this.sinceStmt = sqlite.prepare('SELECT id, payload, scope FROM events WHERE id > ? ORDER BY id LIMIT ?');
    this.scopesStmt = sqlite.prepare(
      'SELECT event_id, scope FROM event_scopes WHERE event_id > ? AND event_id <= ? ORDER BY event_id',
    );
    this.pruneStmt = sqlite.prepare(
      'DELETE FROM events WHERE id IN (SELECT id FROM events WHERE created_at < ? ORDER BY id LIMIT ?)',
    );
  }

  /**
   * Records a stream event for `scopes` inside the current write transaction
   * and queues its publication for after the commit.
   */
  append<N extends EventName>(
    after: AfterCommit,
    scopes: readonly Scope[],
    event: N,
    data: EventData<N>,
    now: number,
  ): void {
    const payload = JSON.stringify({ event, data });
    const distinct = scopes.length === 1 ? scopes : [...new Set(scopes)];
    // What the event stores: its text, and a row (with its index entry) per audience beyond one.
    this.appendedBytes += Buffer.byteLength(payload) + (distinct.length > 1 ? distinct.length * SCOPE_ROW_BYTES : 0);
    // One audience (every message): it goes in the event row, one insert in all.
    const row = this.insert.get(payload, now, distinct.length === 1 ? (distinct[0] ?? null) : null);
    if (!row) throw new Error('event insert returned nothing');
    if (distinct.length > 1) for (const scope of distinct) this.insertScope.run(row.id, scope);
    const stored: StoredEvent = { id: row.id, scopes: distinct, text: withCursor(payload, row.id) };
    after.push(() => this.publish(stored));
  }

  /** The newest event id (0 when there is none). */
  head(): number {
    return this.headStmt.get()?.seq ?? 0;
  }

  /** Parses a client's cursor; `invalid_cursor` unless it is a decimal event id no later than the head. */
  parseCursor(cursor: string): number {
    const n = /^(0|[1-9][0-9]{0,15})$/.test(cursor) ? Number(cursor) : Number.NaN;
    if (!Number.isSafeInteger(n) || n > this.head()) {
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
   * `limited` (the client reloads instead). Rows are read one at a time, so a
   * replay that is too large stops as soon as it is known to be.
   */
  replay(
    scopes: readonly (readonly [string, number])[],
    cursor: number,
    upTo: number,
    cap: number,
    maxBytes: number,
  ): Replay {
    const head = Math.min(this.head(), upTo);
    // Events after the cursor were pruned: what is left would not be the whole story.
    const oldest = this.oldestStmt.get()?.id ?? head + 1;
    if (cursor < head && cursor < oldest - 1) return { texts: [], head, limited: true };
    const texts: string[] = [];
    let bytes = 0;
    for (const r of this.replayStmt.iterate({ scopes: JSON.stringify(scopes), cursor, upTo: head, cap: cap + 1 })) {
      bytes += Buffer.byteLength(r.payload);
      if (texts.length >= cap || bytes > maxBytes) return { texts: [], head, limited: true };
      texts.push(withCursor(r.payload, r.id));
    }
    return { texts, head, limited: false };
  }

  /** Every event with an id above `after`, oldest first, at most `limit`, with its audiences. */
  since(after: number, limit: number): StoredEvent[] {
    const rows = this.sinceStmt.all(after, limit);
    const last = rows.at(-1);
    if (!last) return [];
    const shared = new Map<number, Scope[]>();
    if (rows.some((r) => r.scope === null)) {
      for (const s of this.scopesStmt.iterate(after, last.id)) {
        const list = shared.get(s.event_id);
        if (list) list.push(s.scope as Scope);
        else shared.set(s.event_id, [s.scope as Scope]);
      }
    }
    return rows.map((r) => ({
      id: r.id,
      scopes: r.scope === null ? (shared.get(r.id) ?? []) : [r.scope as Scope],
      text: withCursor(r.payload, r.id),
    }));
  }

  /** Deletes up to `limit` of the oldest events older than `before` (ms); returns how many. */
  prune(before: number, limit: number): number {
    return this.pruneStmt.run(before, limit).changes;
  }
}
