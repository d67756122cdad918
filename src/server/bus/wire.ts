import { z } from 'zod';
import type { Scope } from '../event-log.js';
import type { Effect } from './bus.js';

/**
 * What the NATS bus sends, one JSON object per NATS message, on three
 * subjects under the cluster's name: `<cluster>.batch` (committed batches),
 * `<cluster>.ephemeral` (presence changes and typing: never stored) and
 * `<cluster>.node` (heartbeats and goodbyes). Every message names its node
 * and the node's boot (a random id per process start), so that a restarted
 * node is told from the one it replaced. Messages are checked on arrival;
 * one that does not parse is dropped, as if NATS had lost it.
 */

/** The wire format's version: a node drops messages of another. */
export const WIRE_VERSION = 1;

const scope = z.custom<Scope>((v) => typeof v === 'string' && /^[usc]:./.test(v), 'a scope');
const id = z.string().min(1).max(200);
const eventId = z.number().int().nonnegative();

const EffectSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('publish'), id: eventId, scopes: z.array(scope).min(1), text: z.string() }),
  z.object({
    kind: z.literal('send'),
    scopes: z.array(scope).min(1),
    text: z.string(),
    except: id.optional(),
  }),
  z.object({ kind: z.literal('subscribe'), userId: id, scope }),
  z.object({ kind: z.literal('unsubscribe'), userId: id, scope }),
  z.object({ kind: z.literal('dropScope'), scope }),
  z.object({ kind: z.literal('closeSessions'), sessionIds: z.array(id), code: z.number().int(), reason: z.string() }),
  z.object({ kind: z.literal('closeUser'), userId: id, code: z.number().int(), reason: z.string() }),
]) satisfies z.ZodType<Effect>;

const from = { v: z.literal(WIRE_VERSION), node: id, boot: id };

/**
 * A committed batch (or one part of a large one). `seq` counts the batch
 * messages of a boot, from 1, so a node notices one it missed; the events
 * are `first..last`, none when `last === first - 1`.
 */
export const BatchMessage = z
  .object({
    ...from,
    seq: z.number().int().positive(),
    first: z.number().int().positive(),
    last: eventId,
    effects: z.array(EffectSchema),
  })
  .refine((m) => m.last >= m.first - 1, 'last before first');
export type BatchMessage = z.infer<typeof BatchMessage>;

/** Presence (a user's connections on the node went 0 <-> 1) or an unstored event (typing). */
export const EphemeralMessage = z.discriminatedUnion('kind', [
  z.object({ ...from, kind: z.literal('presence'), userId: id, online: z.boolean() }),
  z.object({
    ...from,
    kind: z.literal('send'),
    scopes: z.array(scope).min(1),
    text: z.string(),
    except: id.optional(),
  }),
]);
export type EphemeralMessage = z.infer<typeof EphemeralMessage>;

/**
 * A heartbeat: the node's last batch `seq`, the newest event id it knows of,
 * and its online users (split over `parts` messages when they do not fit in
 * one); or its goodbye on a clean stop.
 */
export const NodeMessage = z.discriminatedUnion('kind', [
  z.object({
    ...from,
    kind: z.literal('beat'),
    beat: z.number().int().nonnegative(),
    part: z.number().int().nonnegative(),
    parts: z.number().int().positive(),
    seq: z.number().int().nonnegative(),
    known: eventId,
    users: z.array(id),
  }),
  z.object({ ...from, kind: z.literal('bye') }),
]);
export type NodeMessage = z.infer<typeof NodeMessage>;

/**
 * Splits a batch into messages of at most `maxBytes` each, in order: each
 * part holds consecutive effects, and its range starts where the previous
 * part's ended. A single effect larger than `maxBytes` goes alone (and NATS
 * refuses it: the events are then filled from the database).
 */
export function encodeBatch(
  head: { node: string; boot: string; nextSeq: () => number },
  position: number,
  effects: readonly Effect[],
  maxBytes: number,
): string[] {
  const out: string[] = [];
  const prefix = `{"v":${WIRE_VERSION},"node":${JSON.stringify(head.node)},"boot":${JSON.stringify(head.boot)}`;
  let parts: string[] = [];
  let bytes = prefix.length + 80;
  let after = position;
  let last = position;
  const flush = () => {
    out.push(`${prefix},"seq":${head.nextSeq()},"first":${after + 1},"last":${last},"effects":[${parts.join(',')}]}`);
    after = last;
    parts = [];
    bytes = prefix.length + 80;
  };
  for (const effect of effects) {
    const json = JSON.stringify(effect);
    const size = Buffer.byteLength(json) + 1;
    if (parts.length > 0 && bytes + size > maxBytes) flush();
    parts.push(json);
    bytes += size;
    if (effect.kind === 'publish') last = effect.id;
  }
  if (parts.length > 0 || out.length === 0) flush();
  return out;
}
