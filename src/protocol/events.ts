import { z } from 'zod';
import { PublicUser, Timestamp } from './schemas.js';

/**
 * Every event the server pushes, by name. Events carry no request id; the ones
 * that belong to the resumable stream also carry a `cursor`.
 */
export const events = {
  hello: {
    summary: 'Sent first on every WebSocket and TCP connection: the protocol version and limits.',
    data: z.object({
      protocol: z.number().int(),
      server: z.object({ name: z.literal('natter'), version: z.string() }),
      authenticated: z.boolean(),
      limits: z.object({
        maxFrameBytes: z.number().int(),
        authDeadlineMs: z.number().int(),
        heartbeatMs: z.number().int(),
      }),
    }),
  },
  'user.updated': {
    summary: "A user's username or profile changed. Sent to every connection of that user.",
    data: z.object({ user: PublicUser }),
  },
  closing: {
    summary:
      'The server is about to close this connection: the close code (as on WebSocket), why, and when to reconnect if it should.',
    data: z.object({
      code: z.number().int(),
      reason: z.string(),
      /** Present when reconnecting is welcome, e.g. after a restart. */
      reconnectAfterMs: z.number().int().nonnegative().optional(),
      at: Timestamp,
    }),
  },
} as const;

export type Events = typeof events;
export type EventName = keyof Events;
export type EventData<N extends EventName> = z.output<Events[N]['data']>;
export const EVENT_NAMES = Object.keys(events) as EventName[];
