import type { BotTokenInfo, SessionInfo } from '../../protocol/index.js';
import type { SessionRow } from '../db/schema.js';

/** Wire form of a login session row. */
export function toSessionInfo(row: SessionRow, currentId: string | null): SessionInfo {
  return {
    id: row.id,
    client: row.name,
    address: row.address,
    createdAt: row.createdAt,
    lastSeenAt: row.lastSeenAt ?? row.createdAt,
    current: row.id === currentId,
  };
}

/** Wire form of a bot token row (never the secret). */
export function toBotTokenInfo(row: SessionRow): BotTokenInfo {
  return { id: row.id, name: row.name ?? '', createdAt: row.createdAt, lastUsedAt: row.lastSeenAt };
}
