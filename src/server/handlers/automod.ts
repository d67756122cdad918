import { type AutomodRule, type HeldMessage, NatterError, PAGE_MAX } from '../../protocol/index.js';
import { noSuchServer, outranks, serverWithRole } from '../access.js';
import { AUTOMOD_LIMITS, parseRule, type RuleDefinition, ruleColumns } from '../automod/rules.js';
import type { AuthedCtx, Handler } from '../context.js';
import type { AttachmentRow, AutomodRuleRow, HeldMessageRow, MessageRow } from '../db/schema.js';
import { serverScope, userScope } from '../event-log.js';
import { newId } from '../ids.js';
import { spendWrite } from '../limits.js';
import { PagedList, pageSize } from '../pages.js';
import type { AfterCommit } from '../store/port.js';
import { toAttachment, toMessage } from '../views.js';
import { audit } from './audit.js';
import { recordMentions } from './messages.js';

const HELD = new PagedList('held', ['n', 's']);

function noSuchRule(): NatterError {
  return new NatterError('not_found', 'no such rule', { field: 'params.ruleId' });
}

function noSuchHeld(): NatterError {
  return new NatterError('not_found', 'no such held message', { field: 'params.heldId' });
}

function json<T>(text: string, fallback: T): T {
  try {
    return JSON.parse(text) as T;
  } catch {
    return fallback;
  }
}

async function toRules(ctx: AuthedCtx, rows: readonly AutomodRuleRow[]): Promise<AutomodRule[]> {
  const refs = await ctx.chat.userRefs([...new Set(rows.flatMap((r) => (r.createdBy ? [r.createdBy] : [])))]);
  return rows.map((r) => ({
    id: r.id,
    serverId: r.serverId,
    name: r.name,
    kind: r.kind,
    config: json<Record<string, unknown>>(r.config, {}),
    actions: json<unknown[]>(r.actions, []),
    exemptRoles: json<string[]>(r.exemptRoles, []),
    exemptChannels: json<string[]>(r.exemptChannels, []),
    enabled: r.enabled,
    createdBy: r.createdBy === null ? null : (refs.get(r.createdBy) ?? null),
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
  }));
}

async function oneRule(ctx: AuthedCtx, row: AutomodRuleRow): Promise<AutomodRule> {
  const [rule] = await toRules(ctx, [row]);
  if (!rule) throw new Error('a rule vanished while it was shown');
  return rule;
}

/**
 * A rule definition checked in full: its shape and words (rules.ts), then
 * what only the server knows: the channels it names are channels of this
 * server. `bad_request` names the first problem's field under `params.rule`
 * and says every problem found.
 */
async function checkedRule(ctx: AuthedCtx, serverId: string, input: unknown): Promise<RuleDefinition> {
  const parsed = parseRule(input);
  if (!parsed.ok) {
    const [first] = parsed.problems;
    throw new NatterError('bad_request', parsed.problems.map((p) => p.message).join('; '), {
      field: first?.path ? `params.rule.${first.path}` : 'params.rule',
    });
  }
  const rule = parsed.rule;
  const named: { id: string; field: string; what: string }[] = [
    ...rule.exemptChannels.map((id, i) => ({ id, field: `exemptChannels.${i}`, what: `exempt channel ${i + 1}` })),
    ...rule.actions.flatMap((a, i) =>
      typeof a === 'object' && 'alert' in a
        ? [{ id: a.alert.channelId, field: `actions.${i}.alert.channelId`, what: 'the alert channel' }]
        : [],
    ),
  ];
  for (const n of named) {
    const conv = await ctx.chat.conversation(n.id);
    if (conv?.kind !== 'channel' || conv.serverId !== serverId) {
      throw new NatterError('bad_request', `${n.what} is not a channel of this server`, {
        field: `params.rule.${n.field}`,
      });
    }
  }
  return rule;
}

/** The rule the caller may change (admins and up of its server); `not_found` to anyone who cannot see the server. */
async function adminRule(ctx: AuthedCtx, ruleId: string): Promise<AutomodRuleRow> {
  const row = await ctx.automod.rule(ruleId);
  if (!row) throw noSuchRule();
  try {
    await serverWithRole(ctx, row.serverId, 'admin');
  } catch (err) {
    if (err instanceof NatterError && err.code === 'not_found') throw noSuchRule();
    throw err;
  }
  return row;
}

export const listRules: Handler<'automod.list'> = async (ctx, { serverId }) => {
  await serverWithRole(ctx, serverId, 'moderator');
  return { rules: await toRules(ctx, await ctx.automod.rules(serverId)) };
};

export const createRule: Handler<'automod.create'> = async (ctx, { serverId, rule, reason }) => {
  await spendWrite(ctx);
  return ctx.write(async (tx) => {
    await serverWithRole(tx, serverId, 'admin');
    const checked = await checkedRule(tx, serverId, rule);
    const existing = await tx.automod.rules(serverId);
    if (existing.length >= AUTOMOD_LIMITS.rulesPerServer) {
      throw new NatterError(
        'limit_reached',
        `a server has at most ${AUTOMOD_LIMITS.rulesPerServer} rules; remove one or put more keywords in one rule`,
      );
    }
    if (existing.some((r) => r.name === checked.name)) {
      throw new NatterError('conflict', `this server already has a rule named "${checked.name}"`, {
        field: 'params.rule.name',
      });
    }
    const now = tx.clock();
    const row: AutomodRuleRow = {
      id: newId(),
      serverId,
      ...ruleColumns(checked),
      enabled: true,
      createdBy: tx.session.userId,
      createdAt: now,
      updatedAt: now,
    };
    await tx.automod.insertRule(row);
    await tx.automod.bumpRevision(serverId);
    await audit(tx, serverId, 'automod.create', {
      targetId: row.id,
      reason,
      details: { name: row.name, kind: row.kind },
    });
    return { rule: await oneRule(tx, row) };
  });
};

export const updateRule: Handler<'automod.update'> = async (ctx, { ruleId, rule, enabled, reason }) => {
  if (rule === undefined && enabled === undefined) {
    throw new NatterError('bad_request', 'give a new rule definition, or whether it is enabled', {
      field: 'params.rule',
    });
  }
  await spendWrite(ctx);
  return ctx.write(async (tx) => {
    const row = await adminRule(tx, ruleId);
    const checked = rule === undefined ? null : await checkedRule(tx, row.serverId, rule);
    if (checked && checked.name !== row.name && (await tx.automod.ruleNamed(row.serverId, checked.name))) {
      throw new NatterError('conflict', `this server already has a rule named "${checked.name}"`, {
        field: 'params.rule.name',
      });
    }
    const next: AutomodRuleRow = {
      ...row,
      ...(checked ? ruleColumns(checked) : {}),
      enabled: enabled ?? row.enabled,
      updatedAt: tx.clock(),
    };
    // Nothing changes (on again, the same definition): nothing is written, nothing logged.
    const same = (['name', 'kind', 'config', 'actions', 'exemptRoles', 'exemptChannels', 'enabled'] as const).every(
      (k) => next[k] === row[k],
    );
    if (same) return { rule: await oneRule(tx, row), changed: false };
    await tx.automod.updateRule(row.id, next);
    await tx.automod.bumpRevision(row.serverId);
    await audit(tx, row.serverId, 'automod.update', {
      targetId: row.id,
      reason,
      details: {
        name: next.name,
        ...(next.name !== row.name ? { renamed: { from: row.name, to: next.name } } : {}),
        ...(next.enabled !== row.enabled ? { enabled: { from: row.enabled, to: next.enabled } } : {}),
        ...(checked ? { definition: 'changed' } : {}),
      },
    });
    return { rule: await oneRule(tx, next), changed: true };
  });
};

export const deleteRule: Handler<'automod.delete'> = async (ctx, { ruleId, reason }) => {
  await spendWrite(ctx);
  return ctx.write(async (tx) => {
    const row = await adminRule(tx, ruleId);
    await tx.automod.deleteRule(row.id);
    await tx.automod.bumpRevision(row.serverId);
    await audit(tx, row.serverId, 'automod.delete', {
      targetId: row.id,
      reason,
      details: { name: row.name, kind: row.kind },
    });
    return {};
  });
};

/** The files a held message keeps for it, in order (those deleted since are left out). */
async function heldFiles(ctx: AuthedCtx, held: HeldMessageRow): Promise<AttachmentRow[]> {
  let ids: unknown;
  try {
    ids = JSON.parse(held.attachments);
  } catch {
    return [];
  }
  if (!Array.isArray(ids)) return [];
  const rows: AttachmentRow[] = [];
  for (const id of ids) {
    const row = typeof id === 'string' ? await ctx.media.byId(id) : undefined;
    if (row && row.messageId === null) rows.push(row);
  }
  return rows;
}

async function toHeldMessages(ctx: AuthedCtx, rows: readonly HeldMessageRow[]): Promise<HeldMessage[]> {
  const refs = await ctx.chat.userRefs([...new Set(rows.map((r) => r.authorId))]);
  const convs = await ctx.chat.conversationsByIds([...new Set(rows.map((r) => r.conversationId))]);
  const files = new Map<string, AttachmentRow[]>();
  for (const r of rows) if (r.attachments !== '[]') files.set(r.id, await heldFiles(ctx, r));
  return rows.map((r) => ({
    id: r.id,
    serverId: r.serverId,
    conversationId: r.conversationId,
    channel: convs.get(r.conversationId)?.name ?? '',
    author: refs.get(r.authorId) ?? { id: r.authorId, username: 'unknown', displayName: null },
    body: r.body,
    kind: r.kind,
    heldBy: r.heldBy,
    createdAt: r.createdAt,
    ...(files.get(r.id)?.length ? { attachments: (files.get(r.id) ?? []).map(toAttachment) } : {}),
  }));
}

export const listHeld: Handler<'held.list'> = async (ctx, { serverId, after, limit }) => {
  await serverWithRole(ctx, serverId, 'moderator');
  const n = pageSize(limit, PAGE_MAX.small);
  const start = HELD.start(after);
  const rows = await ctx.automod.heldPage(
    serverId,
    start === null ? null : [start[0] as number, start[1] as string],
    n + 1,
  );
  const page = await HELD.page(
    rows,
    n,
    (r) => [r.createdAt, r.id],
    (kept) => toHeldMessages(ctx, kept),
    (m) => 300 + Buffer.byteLength(m.body),
  );
  return { messages: page.items, next: page.next };
};

/**
 * The held message a moderator of its server decides on: `not_found` for
 * anyone outside the server, `forbidden` for members, and for a message of
 * someone of the caller's rank or above (a moderator does not decide for an
 * admin; the owner decides on their own, having nobody above them).
 */
async function moderatedHeld(ctx: AuthedCtx, heldId: string): Promise<HeldMessageRow> {
  const held = await ctx.automod.held(heldId);
  if (!held) throw noSuchHeld();
  const role = await ctx.chat.role(held.serverId, ctx.session.userId);
  if (!role) throw noSuchHeld();
  await serverWithRole(ctx, held.serverId, 'moderator');
  const authorRole = await ctx.chat.role(held.serverId, held.authorId);
  if (role !== 'owner' && !outranks(role, authorRole)) {
    throw new NatterError(
      'forbidden',
      held.authorId === ctx.session.userId
        ? 'you cannot decide on your own held message; someone above you does'
        : 'you cannot decide on a held message of someone of your rank or above',
    );
  }
  return held;
}

/** Tells the server's moderators and the message's author what became of a held message. */
async function announceResolved(
  ctx: AuthedCtx,
  after: AfterCommit,
  held: HeldMessageRow,
  outcome: 'approved' | 'rejected',
  seq: number | null,
  note: string | null,
): Promise<void> {
  const by = await ctx.chat.userRef(ctx.session.userId);
  if (!by) throw noSuchServer();
  const audience = new Set([...(await ctx.automod.moderatorIds(held.serverId)), held.authorId]);
  await ctx.events.append(
    after,
    [...audience].map(userScope),
    'held.resolved',
    {
      serverId: held.serverId,
      heldId: held.id,
      conversationId: held.conversationId,
      outcome,
      seq,
      nonce: held.nonce,
      by,
      note,
    },
    ctx.clock(),
  );
}

export const approveHeld: Handler<'held.approve'> = async (ctx, { heldId, reason }) => {
  await spendWrite(ctx);
  return ctx.write(async (tx, after) => {
    const held = await moderatedHeld(tx, heldId);
    if (!(await tx.chat.role(held.serverId, held.authorId))) {
      throw new NatterError('conflict', 'its author is no longer a member of the server; reject it instead');
    }
    const conv = await tx.chat.conversation(held.conversationId);
    const author = await tx.chat.userRef(held.authorId);
    if (!conv || !author) throw noSuchHeld();
    const now = tx.clock();
    const row: MessageRow = {
      id: newId(),
      conversationId: conv.id,
      seq: await tx.chat.nextSeq(conv.id, now),
      authorId: held.authorId,
      body: held.body,
      createdAt: now,
      editedAt: null,
      deletedAt: null,
      nonce: held.nonce,
      kind: held.kind,
      bot: held.bot,
    };
    // Its files were counted in the server's total when it was held.
    const files = await heldFiles(tx, held);
    await tx.automod.deleteHeld(held.id);
    await tx.chat.insertMessage(row);
    after.push(() => ctx.metrics.messageStored());
    const attached = { messageId: row.id, conversationId: conv.id, serverId: held.serverId };
    await tx.media.attach(
      files.map((f) => f.id),
      attached,
    );
    const message = toMessage(
      row,
      author,
      await recordMentions(tx, conv, row),
      files.map((f, position) => ({ ...f, ...attached, position, expiresAt: null })),
    );
    await tx.events.append(after, [serverScope(held.serverId)], 'message.created', { message }, now);
    await audit(tx, held.serverId, 'held.approve', {
      targetUserId: held.authorId,
      targetId: row.id,
      reason,
      details: { channel: conv.name, seq: row.seq, heldBy: held.heldBy },
    });
    await announceResolved(tx, after, held, 'approved', row.seq, reason || null);
    return { message };
  });
};

export const rejectHeld: Handler<'held.reject'> = async (ctx, { heldId, reason }) => {
  await spendWrite(ctx);
  return ctx.write(async (tx, after) => {
    const held = await moderatedHeld(tx, heldId);
    // Its files go with it (their bytes are swept once nothing names them).
    for (const f of await heldFiles(tx, held)) await tx.media.remove(f.id);
    await tx.automod.deleteHeld(held.id);
    const conv = await tx.chat.conversation(held.conversationId);
    await audit(tx, held.serverId, 'held.reject', {
      targetUserId: held.authorId,
      targetId: held.id,
      reason,
      details: { channel: conv?.name ?? null, heldBy: held.heldBy, body: held.body },
    });
    await announceResolved(tx, after, held, 'rejected', null, reason || null);
    return {};
  });
};
