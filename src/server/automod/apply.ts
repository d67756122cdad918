import { NatterError } from '../../protocol/index.js';
import { atLeast } from '../access.js';
import type { AuthedCtx } from '../context.js';
import type { SendGate } from '../db/chat.js';
import type { AttachmentRow, ConversationRow, MemberRow, MessageRow } from '../db/schema.js';
import { serverScope, userScope } from '../event-log.js';
import { newId } from '../ids.js';
import type { AfterCommit, AutomodStore } from '../store/port.js';
import { toAttachment, toMessage } from '../views.js';
import type { ClassifierVerdict } from './classifier.js';
import {
  type AutomodMatch,
  type CompiledRules,
  combineActions,
  compileRules,
  floodMatch,
  mentionCount,
  type Verdict,
} from './engine.js';
import type { Action } from './rules.js';

/** Servers whose compiled rules a node keeps (the least recently compiled go first). */
const CACHED_SERVERS = 2_000;

/**
 * Each server's rules, compiled once per revision on this node. A send reads
 * the server's revision (`servers.automod_rev`) with the author's role; when
 * it differs from the one compiled here, the rules are read and compiled
 * again, so a change made through any node holds for the next send on all.
 */
export class RuleCache {
  readonly #servers = new Map<string, { rev: number; rules: CompiledRules }>();

  async get(store: Pick<AutomodStore, 'rules'>, serverId: string, rev: number): Promise<CompiledRules> {
    const known = this.#servers.get(serverId);
    if (known && known.rev === rev) return known.rules;
    const rules = compileRules(await store.rules(serverId));
    this.#servers.delete(serverId);
    this.#servers.set(serverId, { rev, rules });
    if (this.#servers.size > CACHED_SERVERS) {
      const oldest = this.#servers.keys().next().value;
      if (oldest !== undefined) this.#servers.delete(oldest);
    }
    return rules;
  }
}

/** What the classifier decided for a message, as a rule match (or nothing to do). */
export type ClassifierOutcome = { match: AutomodMatch } | null;

/** The classifier's policy: above `threshold`, `action`; when it cannot answer, its fallback. */
export type ClassifierPolicy = { threshold: number; action: 'block' | 'hold' | 'alert' };

/**
 * The classifier's verdict as a match of a pseudo-rule named `classifier`:
 * a score over the threshold asks for the configured action (an alert goes
 * to moderators as an event only: the classifier names no channel); a
 * fallback of `hold` holds the message.
 */
export function classifierMatch(verdict: ClassifierVerdict, policy: ClassifierPolicy): ClassifierOutcome {
  const match = (trigger: string, actions: Action[]): ClassifierOutcome => ({
    match: { ruleId: 'classifier', name: 'classifier', kind: 'regex', actions, trigger },
  });
  if (verdict.source === 'service') {
    if (verdict.score < policy.threshold) return null;
    const trigger = `score ${verdict.score.toFixed(2)} (${policy.threshold} or more is flagged)`;
    if (policy.action === 'block') return match(trigger, [{ block: {} }]);
    if (policy.action === 'hold') return match(trigger, ['hold']);
    return match(trigger, []);
  }
  if (verdict.decision === 'hold') return match(`classifier unavailable (${verdict.reason}): held`, ['hold']);
  return null;
}

/** What the checks of one send or edit found, and what is left to do once the message is (or is not) stored. */
export type Moderation = {
  matches: AutomodMatch[];
  verdict: Verdict;
  /** The classifier asked for an alert (to moderators, with no channel). */
  classifierAlert: boolean;
  /** Set when the message was held: the held row's id. */
  heldId: string | null;
  /** Whether the author was timed out by a rule. */
  timedOut: boolean;
};

/** What a send or an edit is, for the checks. */
export type Checked = {
  conv: ConversationRow;
  role: MemberRow['role'];
  gate: SendGate;
  body: string;
  /** The message an edit changes; null for a send. */
  editing: MessageRow | null;
  /** The classifier's match, decided before the write. */
  classified: ClassifierOutcome;
  now: number;
};

/**
 * Checks a message sent (or edited) in a server's channel against the
 * server's rules and the classifier's verdict, inside the write, and carries
 * out what must happen whatever becomes of the message: a rule's timeout of
 * the author. Returns null when nothing matched (a server that never had a
 * rule is not even looked at). The caller then stores the message unless
 * the verdict blocks or holds it (see {@link holdMessage}), and calls
 * {@link reportModeration}.
 */
export async function moderate(ctx: AuthedCtx, after: AfterCommit, c: Checked): Promise<Moderation | null> {
  const serverId = c.conv.serverId;
  if (serverId === null || (c.gate.automodRev === 0 && c.classified === null)) return null;
  const matches: AutomodMatch[] = [];
  if (c.gate.automodRev > 0) {
    const rules = await ctx.ruleCache.get(ctx.automod, serverId, c.gate.automodRev);
    if (!rules.empty) {
      const where = { channelId: c.conv.id, role: c.role };
      matches.push(...rules.check(c.body, { ...where, mentionCount: mentionCount(c.body) }));
      // Flood counts sends, not edits: this one and those already stored in its window.
      if (c.editing === null) {
        for (const flood of rules.floodRules(where)) {
          const sent = await ctx.chat.sentInServerSince(ctx.session.userId, serverId, c.now - flood.seconds * 1000 + 1);
          if (sent + 1 > flood.messages) matches.push(floodMatch(flood, sent + 1));
        }
      }
    }
  }
  if (c.classified) matches.push(c.classified.match);
  if (matches.length === 0) return null;
  const verdict = combineActions(matches);
  let timedOut = false;
  // A rule times out members and moderators; admins and the owner are only ever acted on by people above them.
  if (verdict.timeoutSeconds > 0 && !atLeast(c.role, 'admin')) {
    const until = c.now + verdict.timeoutSeconds * 1000;
    if (c.gate.timeoutUntil === null || c.gate.timeoutUntil < until) {
      await ctx.chat.setTimeoutUntil(serverId, ctx.session.userId, until);
      const user = await ctx.chat.userRef(ctx.session.userId);
      const rule = matches.find((m) => m.actions.some((a) => typeof a === 'object' && 'timeout' in a))?.name;
      if (user) {
        await ctx.events.append(
          after,
          [serverScope(serverId)],
          'member.timeout',
          { serverId, user, until, by: null, ...(rule ? { rule } : {}), note: null },
          c.now,
        );
      }
      timedOut = true;
    }
  }
  return { matches, verdict, classifierAlert: c.classified?.match.actions.length === 0, heldId: null, timedOut };
}

/** The refusal a blocked send or edit gets: the rule's own words, or ours. */
export function blockedError(m: Moderation, edit: boolean): NatterError {
  const block = m.verdict.block;
  if (block?.message) return new NatterError('blocked', block.message);
  if (edit && !block) {
    return new NatterError(
      'blocked',
      "this edit matches the server's rules and needs a moderator's review; it was not saved",
    );
  }
  return new NatterError(
    'blocked',
    edit
      ? "this edit was blocked by the server's rules; it was not saved"
      : "your message was blocked by the server's rules",
  );
}

/** The answer a held send gets. */
export function heldError(heldBy: string): NatterError {
  return new NatterError(
    'held',
    `your message is held for review by the server's moderators (${heldBy === 'classifier' ? 'the message classifier' : `rule "${heldBy}"`}); it will be posted if one approves it`,
  );
}

/** The most messages of one person that may wait for review in a server; past it, a hold blocks. */
export const HELD_PER_AUTHOR = 20;

/**
 * When the author already has {@link HELD_PER_AUTHOR} messages waiting in
 * the server, a hold becomes a block (holding cannot be a way to fill the
 * moderators' queue): the verdict is changed in place.
 */
export async function capHold(ctx: AuthedCtx, m: Moderation, serverId: string): Promise<void> {
  const hold = m.verdict.hold;
  if (!hold || m.verdict.block) return;
  if ((await ctx.automod.heldCount(serverId, ctx.session.userId)) < HELD_PER_AUTHOR) return;
  m.verdict = {
    ...m.verdict,
    hold: null,
    block: {
      ruleId: hold.ruleId,
      name: hold.name,
      message: `you have ${HELD_PER_AUTHOR} messages waiting for a moderator's review here; wait until they are looked at`,
    },
  };
}

/** How long a held message's files are kept for it. */
export const HELD_FILES_MS = 30 * 86_400_000;

/** Keeps a send the verdict holds, and tells the server's moderators. Returns the held row's id. */
export async function holdMessage(
  ctx: AuthedCtx,
  after: AfterCommit,
  m: Moderation,
  row: Pick<MessageRow, 'conversationId' | 'authorId' | 'body' | 'kind' | 'bot' | 'nonce' | 'createdAt'>,
  conv: ConversationRow,
  files: readonly AttachmentRow[] = [],
): Promise<string> {
  const serverId = conv.serverId ?? '';
  // Its files wait with it, counted in the server's total, until a moderator
  // decides, or for HELD_FILES_MS at most (a message held that long is approved without them).
  for (const f of files) {
    await ctx.media.keep(f.id, serverId);
    await ctx.media.expireAt(f.id, row.createdAt + HELD_FILES_MS);
  }
  const held = {
    id: newId(),
    serverId,
    conversationId: row.conversationId,
    authorId: row.authorId,
    body: row.body,
    kind: row.kind === 'action' ? ('action' as const) : ('text' as const),
    bot: row.bot,
    nonce: row.nonce,
    heldBy: m.verdict.hold?.name ?? 'classifier',
    createdAt: row.createdAt,
    attachments: JSON.stringify(files.map((f) => f.id)),
  };
  await ctx.automod.insertHeld(held);
  m.heldId = held.id;
  const author = await ctx.chat.userRef(row.authorId);
  if (author) {
    const moderators = await ctx.automod.moderatorIds(serverId);
    await ctx.events.append(
      after,
      moderators.map(userScope),
      'message.held',
      {
        held: {
          id: held.id,
          serverId,
          conversationId: held.conversationId,
          channel: conv.name ?? '',
          author,
          body: held.body,
          kind: held.kind,
          heldBy: held.heldBy,
          createdAt: held.createdAt,
          ...(files.length > 0 ? { attachments: files.map(toAttachment) } : {}),
        },
      },
      row.createdAt,
    );
  }
  return held.id;
}

/** The longest notice text: the rest of a long message is cut. */
const NOTICE_EXCERPT = 500;

/**
 * Tells the server's moderators what the rules did (`automod.flagged`, to
 * each of them, kept for resume), posts a notice in each alert channel of
 * the server, and writes the audit entry. `seq`: the message as posted (or
 * edited), null when it was blocked or held. Alert channels are read by
 * every member: a notice quotes the message only when it was posted anyway.
 */
export async function reportModeration(
  ctx: AuthedCtx,
  after: AfterCommit,
  m: Moderation,
  c: Checked,
  seq: number | null,
): Promise<void> {
  const serverId = c.conv.serverId ?? '';
  const me = await ctx.chat.userRef(ctx.session.userId);
  if (!me) return;
  const actions: ('block' | 'hold' | 'alert' | 'timeout')[] = [];
  const refused = m.verdict.block !== null || (m.verdict.hold !== null && c.editing !== null);
  if (refused) actions.push('block');
  else if (m.verdict.hold) actions.push('hold');
  if (m.verdict.alerts.length > 0 || m.classifierAlert) actions.push('alert');
  if (m.timedOut) actions.push('timeout');
  after.push(() => ctx.metrics.automod(actions));
  const rules = m.matches.map((x) => ({ name: x.name, trigger: x.trigger }));
  const moderators = await ctx.automod.moderatorIds(serverId);
  const posted = !refused && m.heldId === null;
  await ctx.events.append(
    after,
    moderators.map(userScope),
    'automod.flagged',
    {
      serverId,
      conversationId: c.conv.id,
      channel: c.conv.name ?? '',
      user: me,
      rules,
      actions,
      body: c.body,
      seq: posted ? seq : (c.editing?.seq ?? null),
      heldId: m.heldId,
      edit: c.editing !== null,
    },
    c.now,
  );
  const outcome = refused ? 'blocked' : m.heldId !== null ? 'held for review' : 'posted';
  const names = rules.map((r) => `"${r.name}"`).join(', ');
  for (const alert of m.verdict.alerts) {
    const channel = await ctx.chat.conversation(alert.channelId);
    // A channel of another server, or one deleted since the rule was written, is not told.
    if (channel?.kind !== 'channel' || channel.serverId !== serverId) continue;
    const what = c.editing ? `an edit of #${c.editing.seq}` : posted && seq !== null ? `#${seq}` : 'a message';
    const quoted = posted ? `: ${[...c.body].slice(0, NOTICE_EXCERPT).join('')}` : '';
    const body = `${what} by @${me.username} in #${c.conv.name ?? ''} matched ${names} (${outcome})${quoted}`;
    const row: MessageRow = {
      id: newId(),
      conversationId: channel.id,
      seq: await ctx.chat.nextSeq(channel.id, c.now),
      authorId: me.id,
      body,
      createdAt: c.now,
      editedAt: null,
      deletedAt: null,
      nonce: null,
      kind: 'automod',
      bot: false,
    };
    await ctx.chat.insertMessage(row);
    const message = toMessage(row, me, []);
    await ctx.events.append(after, [serverScope(serverId)], 'message.created', { message }, c.now);
  }
  await ctx.audit.add({
    serverId,
    action: 'automod.flag',
    actorId: null,
    targetUserId: me.id,
    targetId: c.editing?.id ?? null,
    reason: null,
    details: JSON.stringify({
      channel: c.conv.name,
      rules,
      actions,
      ...(m.heldId ? { heldId: m.heldId } : {}),
      ...(posted && seq !== null ? { seq } : {}),
    }),
    createdAt: c.now,
  });
}
