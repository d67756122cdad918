import type { MediaStore } from '../store/port.js';
import type { BlobStore } from './blob-store.js';

/**
 * How old a blob no row names must be before the sweep deletes it: an upload
 * links its blob before its row commits, and the sweep must not make it
 * relink (see blob-store.ts) more than a rare time.
 */
export const BLOB_GRACE_MS = 3_600_000;

/** A temporary file untouched this long is an upload that will never finish (cut off, or its natter killed). */
export const TEMP_MAX_AGE_MS = 3_600_000;

/** Blobs asked about per query. */
const CHECK_BATCH = 500;

/**
 * Deletes blobs last written or touched before `before` that no row names,
 * safely against uploads committing meanwhile (the protocol is described in
 * blob-store.ts): each candidate the database does not name is renamed out
 * of the store, the database is asked again, and what a row names now is put
 * back. Blobs a sweep quarantined and never decided on (it died) are
 * decided on the same way. Returns how many blobs were deleted.
 */
export async function sweepBlobs(blobs: BlobStore, media: MediaStore, before: number): Promise<number> {
  let removed = 0;
  const decide = async (held: { sha256: string; trash: string }[]) => {
    if (held.length === 0) return;
    const named = await media.referenced(held.map((h) => h.sha256));
    for (const h of held) {
      if (named.has(h.sha256)) await blobs.restore(h.sha256, h.trash);
      else {
        await blobs.purge(h.trash);
        removed++;
      }
    }
  };
  await decide(await blobs.strays(before));
  let batch: string[] = [];
  const check = async () => {
    const shas = batch;
    batch = [];
    const named = await media.referenced(shas);
    const held: { sha256: string; trash: string }[] = [];
    for (const sha of shas) {
      if (named.has(sha)) continue;
      const trash = await blobs.quarantine(sha);
      if (trash !== null) held.push({ sha256: sha, trash });
    }
    // The second look, after every rename: a row that committed since the first is seen here.
    await decide(held);
  };
  for await (const blob of blobs.list()) {
    if (blob.mtimeMs >= before) continue;
    batch.push(blob.sha256);
    if (batch.length >= CHECK_BATCH) await check();
  }
  if (batch.length > 0) await check();
  return removed;
}
