import { indexedText } from '../search.js';
import type { Db } from './index.js';

/** The meta key that records which version of the indexed text the stored messages have. */
const META_KEY = 'search_text_version';
/** Bump when `indexedText` changes: every message's indexed text is then written again at start. */
const VERSION = '1';

/**
 * Writes `search_text` (what the search index reads) for the messages stored
 * before the server wrote it itself (migration 0009), or before the way it is
 * made changed; the index follows through its triggers. Once per version.
 * Returns how many messages got one, or null when there was nothing to do.
 */
export function migrateSearchText(db: Db): number | null {
  const sqlite = db.$client;
  const row = sqlite.prepare('SELECT value FROM meta WHERE key = ?').get(META_KEY) as { value: string } | undefined;
  if (row?.value === VERSION) return null;
  const read = sqlite.prepare('SELECT id, body, search_text FROM messages WHERE deleted_at IS NULL');
  const set = sqlite.prepare('UPDATE messages SET search_text = ? WHERE id = ?');
  let changed = 0;
  sqlite.transaction(() => {
    const updates: [string | null, string][] = [];
    for (const m of read.iterate() as Iterable<{ id: string; body: string; search_text: string | null }>) {
      const text = indexedText(m.body);
      if (text !== m.search_text) updates.push([text, m.id]);
    }
    for (const [text, id] of updates) set.run(text, id);
    changed = updates.length;
    sqlite
      .prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value')
      .run(META_KEY, VERSION);
  })();
  return changed;
}
