import { randomBytes } from 'node:crypto';
import { NatterError } from '../../protocol/index.js';
import { mayReadAttachment } from '../access.js';
import type { AuthedCtx, Handler } from '../context.js';
import { dayOf } from '../db/media.js';
import type { AttachmentRow } from '../db/schema.js';
import { newId } from '../ids.js';
import { inWords, spendWrite } from '../limits.js';
import { safeFileName } from '../media/names.js';
import { formatBytes } from '../quotas.js';
import { hashToken } from '../tokens.js';
import { toAttachment } from '../views.js';

const DAY_MS = 86_400_000;

/** A MIME type as uploaders may state it: `type/subtype`, no parameters. */
const MIME = /^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$/;

/** The error for a file over the size limit. */
export function tooLarge(size: number, max: number): NatterError {
  // Rounded alike ("10 MiB" and "10 MiB"), the sizes are told exactly.
  const [limit, given] =
    formatBytes(size) === formatBytes(max)
      ? [`${max.toLocaleString('en')} bytes`, `${size.toLocaleString('en')} bytes`]
      : [formatBytes(max), formatBytes(size)];
  return new NatterError('too_large', `files may be at most ${limit}; this one is ${given}`, { field: 'params.size' });
}

/** The error for a file a quota has no room for; `retryAfterMs` when it is the daily one. */
export function quotaExceeded(message: string, retryAfterMs?: number): NatterError {
  return new NatterError('quota_exceeded', message, retryAfterMs === undefined ? {} : { retryAfterMs });
}

/** A new upload token: 256 random bits, prefixed so one found in a log is recognised. */
function newUploadToken(): string {
  return `ntu_${randomBytes(32).toString('base64url')}`;
}

/**
 * Checks a file's size against the per-file limit and the uploader's daily
 * allowance, inside the write that charges it: two slots asked for at once
 * cannot both pass on one remaining allowance.
 */
async function charge(tx: AuthedCtx, size: number, now: number): Promise<void> {
  const { fileBytesMax, uploadBytesPerDay } = tx.config.quotas;
  if (size > fileBytesMax) throw tooLarge(size, fileBytesMax);
  const day = dayOf(now);
  const used = await tx.media.usageOn(tx.session.userId, day);
  if (used + size > uploadBytesPerDay) {
    const resetIn = (day + 1) * DAY_MS - now;
    const left = Math.max(0, uploadBytesPerDay - used);
    throw quotaExceeded(
      `you may upload ${formatBytes(uploadBytesPerDay)} a day and have ${formatBytes(left)} left today; ` +
        `this file is ${formatBytes(size)}. The allowance starts again at 00:00 UTC (in ${inWords(resetIn)})`,
      resetIn,
    );
  }
  await tx.media.addUsage(tx.session.userId, day, size);
}

export const createAttachment: Handler<'attachments.create'> = async (ctx, params) => {
  await spendWrite(ctx);
  const purpose = params.purpose ?? 'message';
  const name = safeFileName(params.name);
  const declared = params.type?.trim().toLowerCase();
  if (declared !== undefined && !MIME.test(declared)) {
    throw new NatterError('bad_request', `"${params.type}" is not a file type such as image/png`, {
      field: 'params.type',
    });
  }
  if (purpose !== 'message' && declared !== undefined && !declared.startsWith('image/')) {
    throw new NatterError(
      'invalid_file',
      `a ${purpose === 'avatar' ? 'profile picture' : 'server icon'} must be an image (PNG, JPEG, WebP, GIF or AVIF), not ${declared}`,
      { field: 'params.type' },
    );
  }
  const token = newUploadToken();
  const row = await ctx.write(async (tx) => {
    const now = tx.clock();
    await charge(tx, params.size, now);
    const slot = {
      id: newId(),
      ownerId: tx.session.userId,
      purpose,
      name,
      size: params.size,
      type: declared ?? 'application/octet-stream',
      tokenHash: hashToken(token),
      uploadBy: now + tx.config.uploadSlotMs,
      createdAt: now,
      expiresAt: now + Math.max(tx.config.unattachedMs, tx.config.uploadSlotMs),
    };
    await tx.media.insert(slot);
    return slot;
  });
  return {
    attachment: { ...toAttachment(asRow(row)), purpose },
    upload: { url: `/media/v1/uploads/${row.id}`, token, expiresAt: row.uploadBy },
  };
};

/** A slot just made, as a full row (nothing uploaded yet). */
function asRow(
  slot: Omit<
    AttachmentRow,
    | 'sha256'
    | 'thumbSha256'
    | 'width'
    | 'height'
    | 'durationMs'
    | 'uploadedAt'
    | 'messageId'
    | 'conversationId'
    | 'serverId'
    | 'position'
  >,
): AttachmentRow {
  return {
    ...slot,
    sha256: null,
    thumbSha256: null,
    width: null,
    height: null,
    durationMs: null,
    uploadedAt: null,
    messageId: null,
    conversationId: null,
    serverId: null,
    position: 0,
  };
}

/** The error for an upload not put to use in time (the sweep deletes it). */
function expired(row: AttachmentRow, field: string): NatterError {
  return new NatterError(
    'conflict',
    `${row.name} was uploaded too long ago to be used and is being deleted; upload it again`,
    {
      field,
    },
  );
}

/** The error for a file the caller cannot see (or that does not exist: the same answer). */
export function noSuchFile(field = 'params.attachmentId'): NatterError {
  return new NatterError('not_found', 'no such file', { field });
}

export const getAttachment: Handler<'attachments.get'> = async (ctx, { attachmentId }) => {
  const row = await ctx.media.byId(attachmentId);
  if (!row || !(await mayReadAttachment(ctx, row, ctx.session.userId))) throw noSuchFile();
  return { attachment: toAttachment(row) };
};

/**
 * Takes an upload of the caller's for use as `purpose` (a profile picture or
 * a server icon) inside a write: it must be theirs, uploaded, of that
 * purpose and not in use already. Returns the row.
 */
export async function pictureUpload(
  tx: AuthedCtx,
  id: string,
  purpose: 'avatar' | 'server-icon',
  field: string,
): Promise<AttachmentRow> {
  const row = await tx.media.byId(id);
  if (!row || row.ownerId !== tx.session.userId) throw noSuchFile(field);
  const what = purpose === 'avatar' ? 'profile picture' : 'server icon';
  if (row.purpose !== purpose) {
    throw new NatterError(
      'bad_request',
      `that file was uploaded for ${row.purpose === 'message' ? 'a message' : `a ${row.purpose === 'avatar' ? 'profile picture' : 'server icon'}`}; upload it again as a ${what}`,
      { field },
    );
  }
  if (row.sha256 === null) {
    throw new NatterError('conflict', 'that file has not been uploaded yet: PUT its bytes to the upload URL first', {
      field,
    });
  }
  if (row.expiresAt === null) throw new NatterError('conflict', 'that file is in use already', { field });
  if (row.expiresAt < tx.clock()) throw expired(row, field);
  return row;
}

/**
 * Files for a message: each of the caller's, uploaded for a message, not
 * attached to another; every check before anything is changed. Returns the
 * rows in the order given.
 */
export async function messageUploads(tx: AuthedCtx, ids: readonly string[]): Promise<AttachmentRow[]> {
  if (new Set(ids).size !== ids.length) {
    throw new NatterError('bad_request', 'the same file is attached twice', { field: 'params.attachments' });
  }
  const rows: AttachmentRow[] = [];
  for (const [i, id] of ids.entries()) {
    const field = `params.attachments.${i}`;
    const row = await tx.media.byId(id);
    if (!row || row.ownerId !== tx.session.userId) throw noSuchFile(field);
    if (row.purpose !== 'message') {
      throw new NatterError(
        'bad_request',
        `that file was uploaded as a ${row.purpose === 'avatar' ? 'profile picture' : 'server icon'}, not for a message`,
        { field },
      );
    }
    if (row.messageId === null && row.serverId !== null) {
      throw new NatterError('conflict', `${row.name} waits with a held message for a moderator's decision`, { field });
    }
    if (row.messageId !== null || row.expiresAt === null) {
      throw new NatterError('conflict', `${row.name} is attached to another message already; upload it again`, {
        field,
      });
    }
    if (row.sha256 === null) {
      throw new NatterError(
        'conflict',
        `${row.name} has not been uploaded yet: PUT its bytes to the upload URL first`,
        {
          field,
        },
      );
    }
    if (row.expiresAt < tx.clock()) throw expired(row, field);
    rows.push(row);
  }
  return rows;
}

/** Refuses files that would take a server's channels past their total (`serverMediaBytes`). */
export async function assertServerRoom(tx: AuthedCtx, serverId: string, adding: number): Promise<void> {
  if (adding === 0) return;
  const max = tx.config.quotas.serverMediaBytes;
  const used = await tx.media.serverBytes(serverId);
  if (used + adding > max) {
    throw quotaExceeded(
      `this server holds ${formatBytes(used)} of files, its limit is ${formatBytes(max)}; ` +
        `these would take ${formatBytes(adding)} more: its admins can delete old files, or the operator can raise serverMediaBytes`,
    );
  }
}
