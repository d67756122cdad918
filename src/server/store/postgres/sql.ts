import pg from 'pg';
import { NatterError } from '../../../protocol/index.js';

/**
 * What the PostgreSQL stores run their statements on: the pool (reads of
 * committed data) or the client that holds the write batch's transaction.
 */
export type Queryable = pg.Pool | pg.PoolClient;

/** A row as the driver returns it: snake_case columns. */
export type Raw = Record<string, unknown>;

const INT8 = 20;

/**
 * Reads an int8 as a number, or throws when it is beyond 2^53 (a number
 * there would be rounded: another id, another time). pg returns int8 as a
 * string by default, since it cannot know the values stay small.
 */
function parseInt8(text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new RangeError(`the database returned ${text}, an integer a number cannot hold`);
  return n;
}

/** The type parsers of natter's connections: pg's, but int8 as an exact number. */
export const pgTypes: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8 && format !== 'binary'
      ? parseInt8
      : pg.types.getTypeParser(oid, format)) as pg.CustomTypesConfig['getTypeParser'],
};

/** What a request that could not reach the database is told. */
export const UNAVAILABLE_MESSAGE =
  'the server cannot reach its database right now; nothing was saved, try again in a moment';

/** System errors of a connection that cannot be made or was lost. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/**
 * SQLSTATEs that say the database cannot serve right now, not that the
 * request was wrong: shutdown, a server not accepting connections, too many
 * connections, out of disk or memory, a statement or lock timeout, a deadlock
 * or serialization victim, a read-only server (a standby after a failover).
 * Class 08 (connection exceptions) is matched as a class.
 */
const UNAVAILABLE_STATES = new Set([
  '57P01', // admin_shutdown (pg_terminate_backend, a fast shutdown)
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (starting up, shutting down, recovering)
  '57P05', // idle_session_timeout
  '57014', // query_canceled (statement_timeout)
  '55P03', // lock_not_available (lock_timeout)
  '25P03', // idle_in_transaction_session_timeout
  '53000', // insufficient_resources
  '53100', // disk_full
  '53200', // out_of_memory
  '53300', // too_many_connections
  '40001', // serialization_failure
  '40P01', // deadlock_detected
  '25006', // read_only_sql_transaction
]);

/** pg's own errors (no code) when a connection is lost, cannot be made in time, or a query outlives its timeout. */
const DRIVER_MESSAGES =
  /^(Connection terminated|timeout exceeded when trying to connect|Query read timeout|Client has encountered a connection error|Client was closed|Cannot use a pool after calling end)/;

/** Whether `err` says that the database could not be reached or could not serve (as opposed to a wrong statement). */
export function isUnavailable(err: unknown): boolean {
  if (err instanceof NatterError) return err.code === 'unavailable';
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (NETWORK_CODES.has(code) || UNAVAILABLE_STATES.has(code) || code.startsWith('08')) return true;
  }
  // Connecting to a name with several addresses fails with one error per address.
  if (err instanceof AggregateError && err.errors.some(isUnavailable)) return true;
  return DRIVER_MESSAGES.test(err.message);
}

/** The `unavailable` error for a request that could not reach the database. */
export function unavailable(cause: unknown): NatterError {
  return new NatterError('unavailable', UNAVAILABLE_MESSAGE, { cause });
}

/**
 * Whether `text` holds U+0000, which PostgreSQL's text cannot: no stored
 * value holds it, so a look-up by such a value finds nothing (without asking
 * the database, which would refuse the statement).
 */
export function holdsNul(text: string): boolean {
  return text.includes('\u0000');
}

/** What a statement that was handed a U+0000 anyway is answered (SQLSTATE 22021, `character_not_in_repertoire`). */
function nulRefused(cause: unknown): NatterError {
  return new NatterError(
    'bad_request',
    'text with the character U+0000 (NUL) cannot be saved or looked up; remove it and try again',
    { cause },
  );
}

/**
 * `err` as the stores throw it: `unavailable` when the database could not be
 * reached, `bad_request` for text PostgreSQL cannot hold, else as it is.
 */
export function storeError(err: unknown): unknown {
  if (err instanceof NatterError) return err;
  if (err instanceof Error && (err as { code?: unknown }).code === '22021') return nulRefused(err);
  return isUnavailable(err) ? unavailable(err) : err;
}

/** Names of the statement texts run so far: one name per distinct text, the same on every connection. */
const statementNames = new Map<string, string>();

/**
 * A statement as the driver is asked to run it: named, so each connection
 * parses and plans a text once and then only binds values (about a third of
 * a simple statement's round trip). The texts are natter's own, a bounded
 * set: values never go into them (see {@link placeholders}).
 */
function statement(text: string, values: readonly unknown[]): pg.QueryConfig {
  let name = statementNames.get(text);
  if (name === undefined) {
    name = `natter_${statementNames.size + 1}`;
    statementNames.set(text, name);
  }
  return { name, text, values: values as unknown[] };
}

/** Runs a statement and returns its rows. */
export async function rows<R = Raw>(q: Queryable, text: string, values: readonly unknown[] = []): Promise<R[]> {
  try {
    return (await q.query(statement(text, values))).rows as R[];
  } catch (err) {
    throw storeError(err);
  }
}

/** Runs a statement and returns its first row, if any. */
export async function row<R = Raw>(
  q: Queryable,
  text: string,
  values: readonly unknown[] = [],
): Promise<R | undefined> {
  return (await rows<R>(q, text, values))[0];
}

/** Runs a statement and returns how many rows it changed. */
export async function changes(q: Queryable, text: string, values: readonly unknown[] = []): Promise<number> {
  try {
    return (await q.query(statement(text, values))).rowCount ?? 0;
  } catch (err) {
    throw storeError(err);
  }
}

/**
 * Collects the values of a statement whose text depends on its arguments (a
 * page with or without a start): each call returns the placeholder of the
 * value it was given. Only placeholders go into the text, never values.
 */
export function placeholders(): { (value: unknown): string; values: unknown[] } {
  const values: unknown[] = [];
  const add = (value: unknown): string => {
    values.push(value);
    return `$${values.length}`;
  };
  return Object.assign(add, { values });
}

/**
 * The first key of the advisory locks taken inside a write before a check
 * that another natter could pass at the same moment ("caps" in ASCII): a
 * count that a cap is checked against, a name that must be free, a DM that
 * may already exist. The second key is a hash of what is checked. Each job
 * reads committed rows only, so two natters creating at once would both pass
 * (both under the cap, both finding the name free); with the lock the second
 * waits until the first has committed, then sees its row. One natter's jobs
 * run one after another, so SQLite needs none.
 */
const CAP_LOCKS = 0x63617073;

/**
 * Inside a write: waits for, then holds until the transaction ends, the lock
 * on what `key` names (`servers\n<user id>`, `dm\n<key>`, …), before it is
 * checked (see {@link CAP_LOCKS}).
 */
export async function capLock(q: Queryable, key: string): Promise<void> {
  await rows(q, 'SELECT pg_advisory_xact_lock($1, hashtext($2))', [CAP_LOCKS, key]);
}
