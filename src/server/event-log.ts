/**
 * The resumable event stream's shared pieces: audiences (scopes) and the
 * cursor spliced into a stored event's text. Each backend stores the stream
 * itself (store/sqlite/event-log.ts, store/postgres/events.ts).
 */

/** The audience of an event: `u:<userId>`, `s:<serverId>` or `c:<conversationId>`. */
export type Scope = `u:${string}` | `s:${string}` | `c:${string}`;

export const userScope = (id: string): Scope => `u:${id}`;
export const serverScope = (id: string): Scope => `s:${id}`;
export const conversationScope = (id: string): Scope => `c:${id}`;

export type { Replay } from './store/port.js';

/** Adds `"cursor":"<id>"` to a serialized `{"event":…,"data":…}` without parsing it again. */
export function withCursor(payload: string, id: number): string {
  return `${payload.slice(0, -1)},"cursor":"${id}"}`;
}
