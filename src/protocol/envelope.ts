import { z } from 'zod';
import { type ErrorBody, NatterError } from './errors.js';
import type { EventData, EventName } from './events.js';
import { describeIssue, fieldWords } from './field-words.js';
import { isOpName, type OpName, operations, type ParamsOf } from './operations.js';

/** A request id: chosen by the client, echoed in the reply. */
export const RequestId = z.union([z.string().min(1).max(64), z.number().int().min(0).max(Number.MAX_SAFE_INTEGER)]);
export type RequestId = z.infer<typeof RequestId>;

/** The outer shape of every request, before its params are checked against its operation. */
export const RequestEnvelope = z.strictObject({
  id: RequestId,
  op: z.string().min(1).max(64),
  // Checked against the operation's own strict schema once the operation is known.
  params: z.unknown().optional(),
});

/** A successful reply. */
export type ResultReply = { id: RequestId; result: unknown };
/** An error reply. `id` is null when the request was too broken to have one. */
export type ErrorReply = { id: RequestId | null; error: ErrorBody };
export type Reply = ResultReply | ErrorReply;

/** A server push. */
export type EventMessage<N extends EventName = EventName> = { event: N; data: EventData<N>; cursor?: string };

/** Any server push, as a union that narrows on `event`. */
export type AnyEvent = { [N in EventName]: EventMessage<N> }[EventName];

/** A request whose envelope and params have been validated. */
export type ParsedRequest = { [N in OpName]: { id: RequestId; op: N; params: ParamsOf<N> } }[OpName];

/** Describes a zod path as a dotted field name (`params.username`). */
export function fieldName(path: readonly PropertyKey[]): string {
  return path
    .map((p) => (typeof p === 'number' ? `[${p}]` : String(p)))
    .join('.')
    .replace(/\.\[/g, '[');
}

/** What `value` holds at `path`, or undefined. */
function valueAt(value: unknown, path: readonly PropertyKey[]): unknown {
  let at = value;
  for (const key of path) {
    if (typeof at !== 'object' || at === null) return undefined;
    at = (at as Record<PropertyKey, unknown>)[key];
  }
  return at;
}

/**
 * The error for the first of `issues`, found checking `input` (at `prefix` in
 * the request): its message in words, the field's path in `field`.
 */
function issueToError(issues: readonly z.core.$ZodIssue[], prefix: PropertyKey[], input: unknown): NatterError {
  const issue = issues[0];
  if (!issue) return new NatterError('bad_request', 'invalid request');
  if (issue.code === 'invalid_union' && issue.errors.length > 0) {
    // Report the alternative the request came closest to (fewest problems): its field is the one at fault.
    const closest = issue.errors.reduce((a, b) => (b.length < a.length ? b : a));
    if (closest.length > 0) return issueToError(closest, [...prefix, ...issue.path], valueAt(input, issue.path));
  }
  const path = [...prefix, ...issue.path];
  const message = describeIssue(issue, path, valueAt(input, issue.path));
  if (issue.code === 'unrecognized_keys') {
    const field = fieldName([...path, issue.keys[0] ?? '']);
    return new NatterError('bad_request', message, { field });
  }
  const field = fieldName(path);
  return new NatterError('bad_request', message, field ? { field } : {});
}

const LONE_SURROGATE = /[\ud800-\udfff]/u;

/**
 * The path of the first string (or object key) in `value` that holds a lone
 * surrogate, and that surrogate, or null. JSON can spell one (`"\ud800"`);
 * it is not a character, and storing it would change the text (to U+FFFD).
 */
function loneSurrogate(value: unknown, path: PropertyKey[] = []): { path: PropertyKey[]; code: number } | null {
  if (typeof value === 'string') {
    const m = LONE_SURROGATE.exec(value);
    return m ? { path, code: m[0].charCodeAt(0) } : null;
  }
  if (typeof value !== 'object' || value === null) return null;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = loneSurrogate(value[i], [...path, i]);
      if (found) return found;
    }
    return null;
  }
  for (const [key, item] of Object.entries(value)) {
    const inKey = LONE_SURROGATE.exec(key);
    if (inKey) return { path: [...path, key], code: inKey[0].charCodeAt(0) };
    const found = loneSurrogate(item, [...path, key]);
    if (found) return found;
  }
  return null;
}

/**
 * Checks one decoded JSON value as a request: envelope first, then the
 * operation's params. Never throws; returns the request or the error to reply
 * with (and the request id when one could be read).
 */
export function parseRequest(
  value: unknown,
): { ok: true; request: ParsedRequest } | { ok: false; id: RequestId | null; error: NatterError } {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return {
      ok: false,
      id: null,
      error: new NatterError('bad_request', 'a request must be a JSON object with "id" and "op"'),
    };
  }
  const rawId = (value as { id?: unknown }).id;
  const idResult = RequestId.safeParse(rawId);
  const lone = loneSurrogate(value);
  const id = idResult.success && !(lone && lone.path[0] === 'id') ? idResult.data : null;
  if (lone) {
    const field = fieldName(lone.path);
    const hex = lone.code.toString(16).toUpperCase();
    return {
      ok: false,
      id,
      error: new NatterError(
        'bad_request',
        `${fieldWords(lone.path)} holds a lone surrogate (U+${hex}), which is not a character; send well-formed Unicode text`,
        { field },
      ),
    };
  }
  const envelope = RequestEnvelope.safeParse(value);
  if (!envelope.success) return { ok: false, id, error: issueToError(envelope.error.issues, [], value) };
  const { op } = envelope.data;
  if (!isOpName(op)) {
    return { ok: false, id, error: new NatterError('unknown_op', `unknown operation "${op}"`, { field: 'op' }) };
  }
  const input = envelope.data.params ?? {};
  const params = operations[op].params.safeParse(input);
  if (!params.success) return { ok: false, id, error: issueToError(params.error.issues, ['params'], input) };
  return { ok: true, request: { id: envelope.data.id, op, params: params.data } as ParsedRequest };
}

/**
 * Checks `params` against operation `op` as the server does: null when they
 * pass, else the error the server would reply with (its message in words).
 * Clients use it to refuse input before a round trip.
 */
export function paramsError(op: OpName, params: unknown): NatterError | null {
  const checked = operations[op].params.safeParse(params);
  return checked.success ? null : issueToError(checked.error.issues, ['params'], params);
}

/** Decodes one frame or line of text as JSON; never throws. */
export function decodeJson(text: string): { ok: true; value: unknown } | { ok: false; error: NatterError } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false, error: new NatterError('bad_json', 'not valid JSON: send one JSON object per frame or line') };
  }
}
