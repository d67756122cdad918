import type { z } from 'zod';
import type { Natter, NatterClient } from '../../src/client/index.js';
import {
  ErrorBody,
  type EventMessage,
  type EventName,
  events,
  isOpName,
  operations,
} from '../../src/protocol/index.js';

/**
 * The wire contract, checked on everything the tests receive: each reply to
 * an operation must pass that operation's `result` schema (or be an error
 * that passes `ErrorBody`), each event its `data` schema, stream events carry
 * a cursor and the others none, and nothing may carry a field its schema does
 * not declare. A test client that sees a frame break the contract fails the
 * running test, naming the operation or event and the path of every problem:
 * the server and `src/protocol` cannot drift apart silently.
 */
export class ContractError extends Error {
  override readonly name = 'ContractError';
}

/** Every violation seen by this process, in order. */
export const violations: ContractError[] = [];

/**
 * Fails the running test with `err`. It is thrown from its own turn of the
 * event loop, so it cannot be swallowed by the code that received the frame
 * (an event listener, a Promise.allSettled) and node:test reports it against
 * the test that was running.
 */
function fail(err: ContractError): void {
  violations.push(err);
  setImmediate(() => {
    throw err;
  });
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Paths of the object keys in `input` that parsing dropped: fields the schema
 * does not declare (zod objects strip unknown keys instead of refusing them).
 */
function undeclared(input: unknown, output: unknown, path: string): string[] {
  if (Array.isArray(input) && Array.isArray(output)) {
    return input.flatMap((v, i) => undeclared(v, output[i], `${path}[${i}]`));
  }
  if (isPlainObject(input) && isPlainObject(output)) {
    return Object.keys(input).flatMap((k) => {
      const at = path ? `${path}.${k}` : k;
      return Object.hasOwn(output, k) ? undeclared(input[k], output[k], at) : [at];
    });
  }
  return [];
}

function describeValue(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 600 ? `${text.slice(0, 600)}…` : text;
}

/** The problems of `value` against `schema`, as `path: message` lines; empty when it conforms. */
export function problems(schema: z.ZodType, value: unknown, root: string): string[] {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    return parsed.error.issues.map((i) => {
      const path = [root, ...i.path.map((p) => (typeof p === 'number' ? `[${p}]` : String(p)))]
        .join('.')
        .replace(/\.\[/g, '[');
      return `${path}: ${i.message}`;
    });
  }
  return undeclared(value, parsed.data, root).map((p) => `${p}: not declared in the schema`);
}

/**
 * Checks one reply as it came off the wire, to a request for `op` (undefined
 * when the request could not name one, or was not JSON). Throws a
 * ContractError naming the operation and every problem.
 */
export function assertReply(op: string | undefined, reply: unknown): void {
  const what = op === undefined ? 'a reply' : `the reply to "${op}"`;
  const found: string[] = [];
  if (!isPlainObject(reply)) {
    found.push(`(reply): not an object`);
  } else {
    for (const k of Object.keys(reply))
      if (!['id', 'result', 'error'].includes(k)) found.push(`${k}: not a reply field`);
    if (!Object.hasOwn(reply, 'id')) found.push('id: missing');
    const hasResult = Object.hasOwn(reply, 'result');
    const hasError = Object.hasOwn(reply, 'error');
    if (hasResult === hasError) found.push('(reply): must hold exactly one of "result" and "error"');
    if (hasError) found.push(...problems(ErrorBody, reply.error, 'error'));
    if (hasResult && op !== undefined && isOpName(op))
      found.push(...problems(operations[op].result, reply.result, 'result'));
  }
  if (found.length > 0) {
    throw new ContractError(`${what} breaks the protocol:\n  ${found.join('\n  ')}\nreply: ${describeValue(reply)}`);
  }
}

/** Checks one event as it came off the wire (`extra` names fields a tool adds, like `natter listen`'s target). */
export function assertEvent(msg: unknown, extra: readonly string[] = []): void {
  const found: string[] = [];
  let name = '(unnamed)';
  if (!isPlainObject(msg)) {
    found.push('(event): not an object');
  } else if (typeof msg.event !== 'string' || !Object.hasOwn(events, msg.event)) {
    found.push(`event: ${JSON.stringify(msg.event)} is not an event of src/protocol/events.ts`);
  } else {
    name = msg.event;
    const spec = events[msg.event as EventName];
    for (const k of Object.keys(msg)) {
      if (!['event', 'data', 'cursor', ...extra].includes(k)) found.push(`${k}: not an event field`);
    }
    found.push(...problems(spec.data, msg.data, 'data'));
    if (spec.stream && !(typeof msg.cursor === 'string' && /^\d+$/.test(msg.cursor))) {
      found.push(`cursor: a stream event carries a decimal cursor, got ${JSON.stringify(msg.cursor)}`);
    }
    if (!spec.stream && Object.hasOwn(msg, 'cursor')) found.push('cursor: an ephemeral event carries none');
  }
  if (found.length > 0) {
    throw new ContractError(
      `event "${name}" breaks the protocol:\n  ${found.join('\n  ')}\nevent: ${describeValue(msg)}`,
    );
  }
}

/** Checks one frame or line of a socket: an event, or a reply to the request whose op `opOf(id)` names. */
export function assertFrame(msg: unknown, opOf: (id: unknown) => string | undefined): void {
  if (isPlainObject(msg) && Object.hasOwn(msg, 'event')) assertEvent(msg);
  else assertReply(isPlainObject(msg) ? opOf(msg.id) : undefined, msg);
}

/** Runs a check; a violation fails the running test (see {@link fail}) instead of breaking the caller. */
export function check(fn: () => void): void {
  try {
    fn();
  } catch (err) {
    if (err instanceof ContractError) fail(err);
    else throw err;
  }
}

/**
 * Remembers the op of each request a raw connection sends, by id, so that
 * its replies can be checked against that op's result schema.
 */
export class SentOps {
  private readonly ops = new Map<string, string>();

  /** Notes what `text` asks for, if it is a JSON request with an id and an op. */
  note(text: string | Buffer): void {
    let v: unknown;
    try {
      v = JSON.parse(text.toString());
    } catch {
      return;
    }
    if (isPlainObject(v) && typeof v.op === 'string' && (typeof v.id === 'string' || typeof v.id === 'number')) {
      this.ops.set(JSON.stringify(v.id), v.op);
    }
  }

  /** The op of the request with this id. */
  opOf = (id: unknown): string | undefined => this.ops.get(JSON.stringify(id));
}

/**
 * Checks every event a client receives and every result its requests resolve
 * with (an error reply arrives as a NatterError, whose code and fields are
 * checked as an ErrorBody), and the hello it was greeted with.
 */
export function watchClient(c: NatterClient): NatterClient {
  check(() => assertEvent({ event: 'hello', data: c.hello }));
  c.on('event', (msg) => check(() => assertEvent(msg)));
  const request = c.request.bind(c);
  c.request = ((op: string, params: unknown, options?: { timeoutMs?: number }) =>
    request(op as never, params as never, options).then(
      (result) => {
        check(() => assertReply(op, { id: 'checked', result }));
        return result;
      },
      (err: unknown) => {
        const body = (err as { toBody?: () => unknown }).toBody?.();
        if (body !== undefined) check(() => assertReply(op, { id: 'checked', error: body }));
        throw err;
      },
    )) as NatterClient['request'];
  return c;
}

/** The same for the reconnecting client: its events, its requests' results and its sends' messages. */
export function watchNatter(n: Natter): Natter {
  n.on('event', (msg: EventMessage) => check(() => assertEvent(msg)));
  const request = n.request.bind(n);
  n.request = ((op: string, params: unknown, options?: { timeoutMs?: number }) =>
    request(op as never, params as never, options).then((result) => {
      check(() => assertReply(op, { id: 'checked', result }));
      return result;
    })) as Natter['request'];
  const send = n.send.bind(n);
  n.send = (target, body, nonce, kind, attachments) =>
    send(target, body, nonce, kind, attachments).then((message) => {
      check(() => assertReply('messages.send', { id: 'checked', result: { message, duplicate: false } }));
      return message;
    });
  return n;
}
