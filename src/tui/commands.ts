import { distinctNames, matchName, type Named, SHOWN_MARK, sameNameWarning } from '../client/names.js';
import { isBlank } from '../protocol/blank.js';
import type { OpName, ParamsIn, PublicUser, ResultOf } from '../protocol/index.js';
import type { ConversationEntry, Invitation } from './state.js';

/**
 * What the composer's text asks for. `parseCommand` only decides; the app
 * carries the intent out (gemini's `SlashCommandActionReturn`), so every
 * command is tested without a socket or a terminal.
 */
export type Intent =
  /** Send `body` to the open conversation; with `kind` `action`, as an action (`/me waves`: `* alice waves`). */
  | { type: 'send'; body: string; kind?: 'action' }
  /** Make a protocol request; on success show the notice {@link RequestIntent.success}. */
  | RequestIntent
  /** Look `username` up with `users.get`, then carry out the request `withUser(user)` builds (moderation by name). */
  | RequestUserIntent
  /** Open the DM with `username`: switch to it if it exists, else start it (the first message uses `to`). */
  | { type: 'open-dm'; username: string; body: string | null }
  /** Put my last message of the open conversation into the composer for editing. */
  | { type: 'edit-last' }
  /** Edit my message number `seq` of `conversationId` (the app finds its id, then `messages.edit`). */
  | { type: 'edit'; conversationId: string; seq: number; body: string }
  /** Delete message number `seq` of `conversationId` (the app finds its id, then `messages.delete`). */
  | { type: 'delete'; conversationId: string; seq: number }
  /**
   * Report message number `seq` of `conversationId` (null: the newest loaded message of someone else there):
   * the app finds its id, then `reports.create`. `to` says whom the report goes to, for the notice.
   */
  | ReportIntent
  /** Upload the file at `path` (as typed: `~` not expanded yet) to the open conversation, `caption` its text. */
  | { type: 'upload'; path: string; caption: string }
  /** Upload the picture at `path` as my profile picture; null removes it. */
  | { type: 'avatar'; path: string | null }
  /** Show `username`'s profile, with their picture when they have one. */
  | { type: 'whois'; username: string }
  /** Open the search overlay with `query` (searched at once when it is not empty). */
  | { type: 'search'; query: string }
  /** While waiting to reconnect, try now. */
  | { type: 'reconnect' }
  /** List who is in the open channel's server or the open group. */
  | { type: 'names' }
  /** Open the help overlay. */
  | { type: 'help' }
  /** Open the moderation overlay: what waits for my review. */
  | { type: 'moderation' }
  /** Leave the app. */
  | { type: 'quit' }
  /**
   * Ask `question` on the notice line before `yes`, which cannot be undone (`/transfer`): `y` carries it
   * out; any other key says `no` instead.
   */
  | { type: 'confirm'; question: string; no: string; yes: Intent }
  /** Show `message` on the notice line (`/help kick`, `/channel topic` with no text). */
  | { type: 'info'; message: string }
  /** A usage error, in words, for the notice line; the composer keeps the text. */
  | { type: 'error'; message: string }
  /** Nothing to do (empty or blank input). */
  | { type: 'none' };

/** See {@link Intent}: a report of a message of the open conversation. */
export type ReportIntent = {
  type: 'report';
  conversationId: string;
  seq: number | null;
  reason: ReportReasonWord;
  details: string | null;
  to: string;
};

/** The reasons a report gives (the protocol's `ReportReason`, spelled out so that parsing loads no schema). */
export const REPORT_REASONS = ['spam', 'harassment', 'inappropriate', 'illegal', 'other'] as const;
export type ReportReasonWord = (typeof REPORT_REASONS)[number];

/** One protocol request, its params typed by its operation. */
export type RequestOf<N extends OpName> = {
  type: 'request';
  op: N;
  params: ParamsIn<N>;
  /** The notice shown once the server accepts: fixed text, or built from the result (an invite's code). */
  success: string | ((result: ResultOf<N>) => string);
  /** The conversation to open once the server accepts (what was just created or joined), if any. */
  open?: (result: ResultOf<N>) => string | null;
};

/** A request intent for any operation (a union discriminated by `op`). */
export type RequestIntent = { [N in OpName]: RequestOf<N> }[OpName];

/**
 * A request that needs a user id, given a username. The app calls
 * `users.get {username}`, then carries out `withUser(user)`; an unknown name is the
 * server's `not_found`. {@link runRequest} does both steps.
 */
export type RequestUserIntent = {
  type: 'request-user';
  username: string;
  withUser: (user: Pick<PublicUser, 'id' | 'username'>) => RequestIntent | { type: 'error'; message: string };
};

/** What a command needs to know of the app. */
export type CommandContext = {
  /** The open conversation. */
  active: ConversationEntry | null;
  /** A server's name for notices (`acme·2f9k` when another of mine is named `acme` too), or null when unknown. */
  serverName(serverId: string): string | null;
  /** My servers, to warn when a new one takes a name I already have. */
  servers: readonly Named[];
  /** My groups, likewise; and to tell apart those that share a name. */
  groups: readonly Named[];
  /** Group invitations waiting for my answer. */
  invitations: readonly Invitation[];
};

/** A slash command: its name (without `/`), other names, usage line and help text. */
export type Command = {
  name: string;
  aliases: readonly string[];
  usage: string;
  description: string;
  /** Which arguments are usernames (1-based, `last` defaults to `first`), for Tab completion. */
  userArgs?: { first: number; last?: number };
  run(args: Args, ctx: CommandContext): Intent;
};

/** A command's arguments: split into words, with the raw text after any word kept for free text. */
export type Args = {
  readonly words: readonly string[];
  /** The text after the first `n` words, inner spacing and newlines kept, outer whitespace trimmed. */
  rest(n: number): string;
};

function request<N extends OpName>(
  op: N,
  params: ParamsIn<N>,
  success: RequestOf<N>['success'],
  open?: RequestOf<N>['open'],
): RequestIntent {
  return (open
    ? { type: 'request', op, params, success, open }
    : { type: 'request', op, params, success }) as RequestOf<N> as RequestIntent;
}

/** One line about someone: `bob (Bob Smith) — away: lunch · "likes trains" · here since 2026-11-02`. */
export function whoisText(user: PublicUser): string {
  const parts = [user.displayName ? `${user.username} (${user.displayName})` : user.username];
  if (user.status) parts.push(user.status);
  if (user.bio) parts.push(`"${user.bio}"`);
  parts.push(`here since ${new Date(user.createdAt).toISOString().slice(0, 10)}`);
  return parts.join(' · ');
}

/** `; invited bob, carol (waiting for their answer)`, or nothing when nobody is waiting. */
function invitedText(group: { invited: readonly { username: string }[] }): string {
  return group.invited.length === 0
    ? ''
    : `; invited ${group.invited.map((u) => u.username).join(', ')} (waiting for their answer)`;
}

function usage(command: string): Intent {
  const spec = COMMAND_BY_NAME.get(command);
  return { type: 'error', message: `usage: ${spec?.usage ?? `/${command}`}` };
}

/** `@bob` and `bob` both name bob. */
function username(word: string): string {
  return word.startsWith('@') ? word.slice(1) : word;
}

function where(ctx: CommandContext, serverId: string): string {
  return ctx.serverName(serverId) ?? 'the server';
}

/** `+climbing`, or `+climbing·ab12` when another of my groups is named `climbing` too. */
function groupShown(ctx: CommandContext, group: Named): string {
  return `+${distinctNames([...ctx.groups.filter((g) => g.id !== group.id), group], SHOWN_MARK).get(group.id) ?? group.name}`;
}

/**
 * The notice for a server or group just made: `created server acme·2f9k with
 * #general; you already have acme·x8k2` when I had one of that name already
 * (where the CLI warns; short, to fit the notice line), else `created server acme …`.
 */
function createdText(
  what: 'server' | 'group',
  made: Named,
  before: readonly Named[],
  detail: (name: string) => string,
): string {
  const sigil = what === 'group' ? '+' : '';
  const same = sameNameWarning(what, made, before, { mark: SHOWN_MARK, sigil });
  return same ? `${detail(same.name)}; you already have ${same.others.join(', ')}` : detail(`${sigil}${made.name}`);
}

/** The server of the open conversation, or the error to show. */
function activeServer(ctx: CommandContext): { serverId: string } | { error: Intent } {
  const serverId = ctx.active?.kind === 'channel' ? ctx.active.serverId : null;
  return serverId ? { serverId } : { error: { type: 'error', message: 'open a channel of the server first' } };
}

function activeChannel(ctx: CommandContext): ConversationEntry | { error: Intent } {
  const a = ctx.active;
  return a?.kind === 'channel' && a.serverId ? a : { error: { type: 'error', message: 'open the channel first' } };
}

const SEQ = /^#?(\d{1,15})$/;

function parseSeq(word: string | undefined): number | null {
  const m = word === undefined ? null : SEQ.exec(word);
  return m?.[1] === undefined ? null : Number(m[1]);
}

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };
const EXPIRES_MIN = 60;
const EXPIRES_MAX = 365 * 86_400;

/** `30m`, `1h`, `7d`, `2w` -> seconds, or null. */
export function parseDuration(text: string): number | null {
  const m = /^(\d{1,9})([smhdw])$/.exec(text.trim().toLowerCase());
  const unit = m?.[2];
  if (!m || !unit) return null;
  return Number(m[1]) * (UNITS[unit] ?? 1);
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** `/invite [--max-uses N] [--expires 7d]`; options also as `--max-uses=N`. */
function invite(args: Args, ctx: CommandContext): Intent {
  const server = activeServer(ctx);
  if ('error' in server) return server.error;
  let maxUses: number | undefined;
  let expiresInSeconds: number | undefined;
  let expiresText = '';
  const words = [...args.words];
  while (words.length > 0) {
    const word = words.shift() ?? '';
    const [flag, inline] = word.includes('=')
      ? [word.slice(0, word.indexOf('=')), word.slice(word.indexOf('=') + 1)]
      : [word];
    const value = inline ?? words.shift();
    if (flag === '--max-uses') {
      if (value === undefined || !/^\d{1,6}$/.test(value) || Number(value) < 1 || Number(value) > 100_000) {
        return { type: 'error', message: '--max-uses takes a number from 1 to 100000' };
      }
      maxUses = Number(value);
    } else if (flag === '--expires') {
      const seconds = value === undefined ? null : parseDuration(value);
      if (seconds === null) return { type: 'error', message: '--expires takes a duration such as 30m, 1h, 7d or 2w' };
      if (seconds < EXPIRES_MIN || seconds > EXPIRES_MAX) {
        return { type: 'error', message: '--expires must be between 1 minute and 365 days' };
      }
      expiresInSeconds = seconds;
      expiresText = value?.trim().toLowerCase() ?? '';
    } else {
      return usage('invite');
    }
  }
  const name = where(ctx, server.serverId);
  return request(
    'invites.create',
    {
      serverId: server.serverId,
      ...(maxUses === undefined ? {} : { maxUses }),
      ...(expiresInSeconds === undefined ? {} : { expiresInSeconds }),
    },
    ({ invite }) => {
      const limits = [
        invite.maxUses === null ? '' : plural(invite.maxUses, 'use'),
        expiresText === '' ? '' : `expires in ${expiresText}`,
      ].filter((s) => s !== '');
      return `invite code for ${name}: ${invite.code}${limits.length > 0 ? ` (${limits.join(', ')})` : ''}`;
    },
  );
}

function channel(args: Args, ctx: CommandContext): Intent {
  const sub = args.words[0]?.toLowerCase();
  switch (sub) {
    case 'create': {
      const server = activeServer(ctx);
      if ('error' in server) return server.error;
      const name = args.rest(1);
      if (name === '') return { type: 'error', message: 'usage: /channel create NAME' };
      return request(
        'channels.create',
        { serverId: server.serverId, name },
        ({ channel }) => `created #${channel.name} in ${where(ctx, server.serverId)}`,
        ({ channel }) => channel.id,
      );
    }
    case 'rename': {
      const current = activeChannel(ctx);
      if ('error' in current) return current.error;
      const name = args.rest(1);
      if (name === '') return { type: 'error', message: 'usage: /channel rename NEWNAME' };
      return request('channels.update', { channelId: current.id, name }, ({ channel }) => {
        return `renamed #${current.name} to #${channel.name}`;
      });
    }
    case 'delete': {
      const current = activeChannel(ctx);
      if ('error' in current) return current.error;
      // Naming the channel is the confirmation: deleting takes every message with it.
      const named = args.words[1]?.replace(/^#/, '');
      if (args.words.length !== 2 || named?.toLowerCase() !== current.name.toLowerCase()) {
        return {
          type: 'error',
          message: `to delete #${current.name} and all its messages, type /channel delete ${current.name}`,
        };
      }
      return request('channels.delete', { channelId: current.id }, `deleted #${current.name}`);
    }
    case 'topic': {
      const current = activeChannel(ctx);
      if ('error' in current) return current.error;
      const text = args.rest(1);
      if (text === '') {
        return {
          type: 'info',
          message: current.topic ? `topic of #${current.name}: ${current.topic}` : `#${current.name} has no topic`,
        };
      }
      if (text === '--clear') {
        return request(
          'channels.update',
          { channelId: current.id, topic: null },
          `cleared the topic of #${current.name}`,
        );
      }
      return request('channels.update', { channelId: current.id, topic: text }, `set the topic of #${current.name}`);
    }
    default:
      return usage('channel');
  }
}

function leave(_args: Args, ctx: CommandContext): Intent {
  const a = ctx.active;
  if (a === null) return { type: 'error', message: 'open a channel or group first' };
  if (a.kind === 'group') return request('groups.leave', { groupId: a.id }, `left ${groupShown(ctx, a)}`);
  if (a.kind === 'dm') return { type: 'error', message: 'a direct conversation cannot be left' };
  if (!a.serverId) return { type: 'error', message: 'open a channel of the server first' };
  return request('servers.leave', { serverId: a.serverId }, `left ${where(ctx, a.serverId)}`);
}

/** `/kick`, `/ban` and `/unban USER [REASON]`: the reason goes to the server's audit log (and a ban's to its list). */
function moderate(kind: 'kick' | 'ban' | 'unban', args: Args, ctx: CommandContext): Intent {
  const server = activeServer(ctx);
  if ('error' in server) return server.error;
  const name = args.words[0];
  if (name === undefined || username(name) === '') return usage(kind);
  const serverId = server.serverId;
  const place = where(ctx, serverId);
  const reason = args.rest(1);
  const why = reason === '' ? {} : { reason };
  return {
    type: 'request-user',
    username: username(name),
    withUser: (user) => {
      const params = { serverId, userId: user.id, ...why };
      if (kind === 'kick') return request('members.kick', params, `removed ${user.username} from ${place}`);
      if (kind === 'ban') return request('bans.add', params, `banned ${user.username} from ${place}`);
      return request('bans.remove', params, `lifted ${user.username}'s ban from ${place}`);
    },
  };
}

const SPAN = /^(\d{1,7})([smhdw]?)$/;
const SPAN_UNITS: Record<string, number> = { '': 1, s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };

/** `90s`, `10m`, `2h`, `7d`, `1w` (and plain seconds) -> seconds; null for anything else. */
function parseSpan(word: string | undefined): number | null {
  const m = SPAN.exec(word?.trim().toLowerCase() ?? '');
  if (!m) return null;
  return Number(m[1]) * (SPAN_UNITS[m[2] ?? ''] ?? 1);
}

/** `/timeout USER DURATION [REASON]`: a member of the open channel's server is paused for up to 28 days. */
function timeoutCommand(args: Args, ctx: CommandContext): Intent {
  const server = activeServer(ctx);
  if ('error' in server) return server.error;
  const who = args.words[0];
  if (who === undefined || username(who) === '' || args.words[1] === undefined) return usage('timeout');
  const seconds = parseSpan(args.words[1]);
  if (seconds === null) return { type: 'error', message: 'the duration is like 10m, 1h or 7d' };
  if (seconds < 1 || seconds > 28 * 86_400) return { type: 'error', message: 'a timeout lasts from 1s to 28d' };
  const reason = args.rest(2);
  const place = where(ctx, server.serverId);
  return {
    type: 'request-user',
    username: username(who),
    withUser: (user) =>
      request(
        'members.timeout',
        { serverId: server.serverId, userId: user.id, seconds, ...(reason === '' ? {} : { reason }) },
        `timed out ${user.username} in ${place} for ${args.words[1]}`,
      ),
  };
}

/** `/slowmode [SECONDS|off]`: shows or sets the open channel's slow mode. */
function slowmodeCommand(args: Args, ctx: CommandContext): Intent {
  const channel = activeChannel(ctx);
  if ('error' in channel) return channel.error;
  const word = args.words[0];
  if (word === undefined) {
    const now = channel.slowmode ?? 0;
    return {
      type: 'info',
      message:
        now > 0 ? `#${channel.name}: one message every ${now} s per member` : `#${channel.name}: slow mode is off`,
    };
  }
  if (args.words.length > 1) return usage('slowmode');
  const seconds = word.toLowerCase() === 'off' ? 0 : parseSpan(word);
  if (seconds === null) return { type: 'error', message: 'slow mode is like 30, 30s, 5m or off' };
  if (seconds > 6 * 3600) return { type: 'error', message: 'slow mode is at most 6h between two messages' };
  return request(
    'channels.slowmode',
    { channelId: channel.id, seconds },
    seconds === 0 ? `slow mode is off in #${channel.name}` : `slow mode in #${channel.name}: one message every ${word}`,
  );
}

/**
 * A command about one member of the open channel's server (`/unban USER`,
 * `/role USER ROLE`, `/transfer USER`): takes the username and `extra` more
 * words, looks the user up, then carries out what `act` builds.
 */
function aboutMember(
  name: string,
  args: Args,
  ctx: CommandContext,
  extra: number,
  act: (
    serverId: string,
    place: string,
    user: Pick<PublicUser, 'id' | 'username'>,
  ) => RequestIntent | { type: 'error'; message: string },
): Intent {
  const server = activeServer(ctx);
  if ('error' in server) return server.error;
  const who = args.words[0];
  if (who === undefined || args.words.length !== 1 + extra || username(who) === '') return usage(name);
  const place = where(ctx, server.serverId);
  return { type: 'request-user', username: username(who), withUser: (user) => act(server.serverId, place, user) };
}

/** The names of the invitations' groups, by group id, with the start of the id where several share a name. */
function invitationNames(invitations: readonly Invitation[]): Map<string, string> {
  return distinctNames(
    invitations.map((i) => ({ id: i.groupId, name: i.name })),
    SHOWN_MARK,
  );
}

/**
 * `/accept [GROUP]`, `/decline [GROUP]`: the invitation named (by name,
 * `+name`, `name·ab12` or `name~ab12` when several share the name, or id), or
 * the only one waiting.
 */
function answerInvitation(args: Args, ctx: CommandContext, answer: 'accept' | 'decline'): Intent {
  const ref = args.rest(0).replace(/^\+/, '');
  if (ctx.invitations.length === 0) return { type: 'error', message: 'no group invitation is waiting for you' };
  const names = invitationNames(ctx.invitations);
  const shown = (i: Invitation) => `+${names.get(i.groupId) ?? i.name}`;
  const found =
    ref === ''
      ? ctx.invitations.length === 1 && ctx.invitations[0]
        ? { kind: 'one' as const, item: ctx.invitations[0] }
        : { kind: 'many' as const, items: [...ctx.invitations] }
      : matchName(
          ctx.invitations.map((i) => ({ ...i, id: i.groupId })),
          ref,
        );
  if (found.kind === 'none')
    return { type: 'error', message: `no invitation to a group named "${ref}" (see /invitations)` };
  if (found.kind === 'many') {
    return {
      type: 'error',
      message: `several invitations match; name one: ${found.items.map((i) => `${shown(i)} (by ${i.from})`).join(', ')}`,
    };
  }
  const first = found.item;
  return answer === 'accept'
    ? request('groups.accept', { groupId: first.groupId }, `joined ${shown(first)}`)
    : request('groups.decline', { groupId: first.groupId }, `declined the invitation to ${shown(first)}`);
}

function edit(args: Args, ctx: CommandContext): Intent {
  if (args.words.length === 0) return { type: 'edit-last' };
  const seq = parseSeq(args.words[0]);
  const body = args.rest(1);
  if (seq === null || body === '') return usage('edit');
  if (ctx.active === null) return { type: 'error', message: 'open a conversation first' };
  return { type: 'edit', conversationId: ctx.active.id, seq, body };
}

function del(args: Args, ctx: CommandContext): Intent {
  const seq = parseSeq(args.words[0]);
  if (seq === null || args.words.length !== 1) return usage('delete');
  if (ctx.active === null) return { type: 'error', message: 'open a conversation first' };
  return { type: 'delete', conversationId: ctx.active.id, seq };
}

/** Whom a report made in `ctx.active` goes to: the server's moderators, or (a DM, a group) the instance's operators. */
function reportedTo(ctx: CommandContext): string {
  const a = ctx.active;
  return a?.kind === 'channel' && a.serverId
    ? `the moderators of ${where(ctx, a.serverId)}`
    : "the instance's operators";
}

/**
 * `/report [#SEQ] REASON [DETAILS]`: a message of the open conversation, by
 * its number, else the newest loaded one of someone else (a selected
 * message's `!` key writes its number in); `/report @USER REASON [DETAILS]`:
 * a person, to the open channel's server (elsewhere, to the operators).
 */
function report(args: Args, ctx: CommandContext): Intent {
  const first = args.words[0];
  if (first === undefined) return usage('report');
  const person = first.startsWith('@') ? username(first) : null;
  const seq = person === null ? parseSeq(first) : null;
  const at = person !== null || seq !== null ? 1 : 0;
  const reasonWord = args.words[at]?.toLowerCase();
  if (person === '' || reasonWord === undefined) return usage('report');
  const reason = REPORT_REASONS.find((r) => r === reasonWord);
  if (!reason) return { type: 'error', message: 'the reason is spam, harassment, inappropriate, illegal or other' };
  const details = args.rest(at + 1);
  const a = ctx.active;
  if (person !== null) {
    const serverId = a?.kind === 'channel' ? a.serverId : null;
    const to = reportedTo(ctx);
    return {
      type: 'request-user',
      username: person,
      withUser: (user) =>
        request(
          'reports.create',
          {
            userId: user.id,
            ...(serverId ? { serverId } : {}),
            reason,
            ...(details === '' ? {} : { details }),
          },
          ({ report: made }) => `reported ${user.username} to ${to} (${reason}): report #${made.id}`,
        ),
    };
  }
  if (a === null) return { type: 'error', message: 'open a conversation first' };
  return {
    type: 'report',
    conversationId: a.id,
    seq,
    reason,
    details: details === '' ? null : details,
    to: reportedTo(ctx),
  };
}

function help(args: Args): Intent {
  const name = args.words[0]?.replace(/^\//, '').toLowerCase();
  if (name === undefined) return { type: 'help' };
  const spec = COMMAND_BY_NAME.get(name);
  if (!spec) return { type: 'error', message: `unknown command /${name} (try /help)` };
  return { type: 'info', message: `${spec.usage}: ${spec.description}` };
}

/** Every slash command, in the order the help overlay lists them. */
export const COMMANDS: readonly Command[] = [
  {
    name: 'join',
    aliases: [],
    usage: '/join CODE',
    description: 'Join a server with an invite code.',
    run: (args) =>
      args.words.length === 1 && args.words[0]
        ? request(
            'invites.join',
            { code: args.words[0] },
            ({ server, alreadyMember }) =>
              alreadyMember ? `already a member of ${server.name}` : `joined ${server.name}`,
            ({ channels }) => channels[0]?.id ?? null,
          )
        : usage('join'),
  },
  {
    name: 'create-server',
    aliases: [],
    usage: '/create-server NAME',
    description: 'Create a server; you own it, and it starts with #general.',
    run: (args, ctx) => {
      const name = args.rest(0);
      if (name === '') return usage('create-server');
      return request(
        'servers.create',
        { name },
        ({ server }) => createdText('server', server, ctx.servers, (shown) => `created server ${shown} with #general`),
        ({ channels }) => channels[0]?.id ?? null,
      );
    },
  },
  {
    name: 'invite',
    aliases: [],
    usage: '/invite [--max-uses N] [--expires 1h|7d|30m]',
    description: "Create an invite code for the open channel's server.",
    run: invite,
  },
  {
    name: 'channel',
    aliases: [],
    usage: '/channel create NAME | rename NEWNAME | delete NAME | topic [TEXT|--clear]',
    description: 'Create a channel in the open server, or rename, delete or set the topic of the open channel.',
    run: channel,
  },
  {
    name: 'group',
    aliases: [],
    usage: '/group NAME USER...',
    description: 'Create a private group with these people.',
    userArgs: { first: 2, last: Number.POSITIVE_INFINITY },
    run: (args, ctx) => {
      const [name, ...users] = args.words;
      if (name === undefined || users.length === 0) return usage('group');
      const usernames = users.map(username);
      return request(
        'groups.create',
        { name, usernames },
        ({ group }) =>
          createdText('group', group, ctx.groups, (shown) => `created group ${shown}${invitedText(group)}`),
        ({ group }) => group.id,
      );
    },
  },
  {
    name: 'add',
    aliases: [],
    usage: '/add USER...',
    description: 'Add people to the open group.',
    userArgs: { first: 1, last: Number.POSITIVE_INFINITY },
    run: (args, ctx) => {
      if (args.words.length === 0) return usage('add');
      const a = ctx.active;
      if (a?.kind !== 'group') return { type: 'error', message: 'open the group first' };
      const usernames = args.words.map(username);
      return request(
        'groups.add',
        { groupId: a.id, usernames },
        ({ group }) =>
          `${groupShown(ctx, group)}: ${group.members.map((m) => m.username).join(', ')}${invitedText(group)}`,
      );
    },
  },
  {
    name: 'invitations',
    aliases: [],
    usage: '/invitations',
    description: 'List the group invitations waiting for your answer.',
    run: (_args, ctx) => {
      const names = invitationNames(ctx.invitations);
      return {
        type: 'info',
        message:
          ctx.invitations.length === 0
            ? 'no group invitations'
            : `invited to ${ctx.invitations.map((i) => `+${names.get(i.groupId) ?? i.name} (by ${i.from})`).join(', ')}: /accept NAME or /decline NAME`,
      };
    },
  },
  {
    name: 'accept',
    aliases: [],
    usage: '/accept [GROUP]',
    description: 'Accept an invitation to a group (the only one waiting, or the one named).',
    run: (args, ctx) => answerInvitation(args, ctx, 'accept'),
  },
  {
    name: 'decline',
    aliases: [],
    usage: '/decline [GROUP]',
    description: 'Decline an invitation to a group (the only one waiting, or the one named).',
    run: (args, ctx) => answerInvitation(args, ctx, 'decline'),
  },
  {
    name: 'block',
    aliases: [],
    usage: '/block USER',
    description: 'Block someone: no DMs, group adds or mention notifications between you.',
    userArgs: { first: 1 },
    run: (args) => {
      const name = args.words[0];
      if (args.words.length !== 1 || name === undefined) return usage('block');
      return {
        type: 'request-user',
        username: username(name),
        withUser: (user) => request('blocks.add', { userId: user.id }, `blocked ${user.username}`),
      };
    },
  },
  {
    name: 'unblock',
    aliases: [],
    usage: '/unblock USER',
    description: 'Unblock someone.',
    userArgs: { first: 1 },
    run: (args) => {
      const name = args.words[0];
      if (args.words.length !== 1 || name === undefined) return usage('unblock');
      return {
        type: 'request-user',
        username: username(name),
        withUser: (user) => request('blocks.remove', { userId: user.id }, `unblocked ${user.username}`),
      };
    },
  },
  {
    name: 'dm',
    aliases: ['msg', 'query'],
    usage: '/dm USER [MESSAGE]',
    description: 'Open your direct conversation with someone; with a message, send it there (the first one starts it).',
    userArgs: { first: 1 },
    run: (args) => {
      const name = args.words[0];
      if (name === undefined || username(name) === '') return usage('dm');
      const body = args.rest(1);
      return { type: 'open-dm', username: username(name), body: isBlank(body) ? null : body };
    },
  },
  {
    name: 'leave',
    aliases: ['part'],
    usage: '/leave',
    description: "Leave the open channel's server, or the open group.",
    run: (args, ctx) => (args.words.length > 0 ? usage('leave') : leave(args, ctx)),
  },
  {
    name: 'kick',
    aliases: [],
    usage: '/kick USER [REASON]',
    description: "Remove someone from the open channel's server (they may rejoin with an invite).",
    userArgs: { first: 1 },
    run: (args, ctx) => moderate('kick', args, ctx),
  },
  {
    name: 'ban',
    aliases: [],
    usage: '/ban USER [REASON]',
    description: "Ban someone from the open channel's server.",
    userArgs: { first: 1 },
    run: (args, ctx) => moderate('ban', args, ctx),
  },
  {
    name: 'unban',
    aliases: [],
    usage: '/unban USER [REASON]',
    description: "Lift someone's ban from the open channel's server.",
    userArgs: { first: 1 },
    run: (args, ctx) => moderate('unban', args, ctx),
  },
  {
    name: 'timeout',
    aliases: ['mute'],
    usage: '/timeout USER DURATION [REASON]',
    description:
      "Stop someone from writing in the open channel's server for a while: 10m, 1h, 7d (at most 28d). Moderators and up.",
    userArgs: { first: 1 },
    run: timeoutCommand,
  },
  {
    name: 'untimeout',
    aliases: ['unmute'],
    usage: '/untimeout USER [REASON]',
    description: "Lift someone's timeout in the open channel's server.",
    userArgs: { first: 1 },
    run: (args, ctx) => {
      const server = activeServer(ctx);
      if ('error' in server) return server.error;
      const who = args.words[0];
      if (who === undefined || username(who) === '') return usage('untimeout');
      const reason = args.rest(1);
      const place = where(ctx, server.serverId);
      return {
        type: 'request-user',
        username: username(who),
        withUser: (user) =>
          request(
            'members.untimeout',
            { serverId: server.serverId, userId: user.id, ...(reason === '' ? {} : { reason }) },
            `${user.username} may write in ${place} again`,
          ),
      };
    },
  },
  {
    name: 'slowmode',
    aliases: [],
    usage: '/slowmode [SECONDS|off]',
    description:
      "Show the open channel's slow mode, or set it: members wait this long between two messages (30, 5m, at most 6h). Moderators and up.",
    run: slowmodeCommand,
  },
  {
    name: 'role',
    aliases: [],
    usage: '/role USER admin|moderator|member',
    description:
      "Set someone's role in the open channel's server: admin (the owner only), moderator or member (the owner and admins).",
    userArgs: { first: 1 },
    run: (args, ctx) => {
      const word = args.words[1];
      if (args.words.length === 2 && word !== 'admin' && word !== 'moderator' && word !== 'member')
        return { type: 'error', message: 'the role is admin, moderator or member' };
      const role = word === 'admin' || word === 'moderator' ? word : 'member';
      const named = { admin: 'an admin', moderator: 'a moderator', member: 'a member' }[role];
      return aboutMember('role', args, ctx, 1, (serverId, place, user) =>
        request('members.role', { serverId, userId: user.id, role }, `${user.username} is now ${named} of ${place}`),
      );
    },
  },
  {
    name: 'transfer',
    aliases: [],
    usage: '/transfer USER',
    description: "Give the open channel's server to another member (you stay as an admin); asks first.",
    userArgs: { first: 1 },
    run: (args, ctx) => {
      const give = aboutMember('transfer', args, ctx, 0, (serverId, place, user) =>
        request('servers.transfer', { serverId, userId: user.id }, `${user.username} now owns ${place}`),
      );
      const server = activeServer(ctx);
      if (give.type !== 'request-user' || 'error' in server) return give;
      // The owner cannot take it back: only the new owner can give it again.
      const place = where(ctx, server.serverId);
      return {
        type: 'confirm',
        question: `give ${place} to ${give.username}? You will no longer own it. y: yes, any other key: no`,
        no: `${place} is still yours`,
        yes: give,
      };
    },
  },
  {
    name: 'rename-group',
    aliases: [],
    usage: '/rename-group NAME',
    description: 'Rename the open group.',
    run: (args, ctx) => {
      const name = args.rest(0);
      if (ctx.active?.kind !== 'group') return { type: 'error', message: 'open the group first' };
      if (name === '') return usage('rename-group');
      return request('groups.rename', { groupId: ctx.active.id, name }, `renamed the group +${name}`);
    },
  },
  {
    name: 'topic',
    aliases: [],
    usage: '/topic [TEXT|--clear]',
    description: "Show, set or clear the open channel's topic (as /channel topic).",
    run: (args, ctx) => channel(makeArgs(`topic ${args.rest(0)}`), ctx),
  },
  {
    name: 'whois',
    aliases: [],
    usage: '/whois USER',
    description: "Show someone's profile: display name, status, bio, and since when they are here.",
    userArgs: { first: 1 },
    run: (args) => {
      const name = args.words[0];
      if (name === undefined || args.words.length > 1 || username(name) === '') return usage('whois');
      return { type: 'whois', username: username(name) };
    },
  },
  {
    name: 'avatar',
    aliases: [],
    usage: '/avatar PATH|none',
    description:
      'Set your profile picture from an image file (shown as a 256-pixel square); none removes it. Tab completes the path.',
    run: (args) => {
      const raw = args.rest(0);
      if (raw === '') return usage('avatar');
      if (raw === 'none' || raw === '--clear') return { type: 'avatar', path: null };
      const split = splitPath(raw);
      if (split?.rest !== '') return usage('avatar');
      return { type: 'avatar', path: split.path };
    },
  },
  {
    name: 'email',
    aliases: [],
    usage: '/email ADDRESS',
    description: 'Add or change your email address: a code is mailed to it; confirm with /verify CODE.',
    run: (args) => {
      const address = args.words[0];
      if (address === undefined || args.words.length !== 1) return usage('email');
      return request(
        'email.set',
        { address },
        (r) => `a code was mailed to ${r.user.pendingEmail ?? address}: type /verify CODE (it works for 24 hours)`,
      );
    },
  },
  {
    name: 'verify',
    aliases: [],
    usage: '/verify CODE',
    description: 'Confirm your email address with the code mailed to it (ABCD-EFGH, any case).',
    run: (args) => {
      const code = args.rest(0);
      if (code === '') return usage('verify');
      return request('email.verify', { code }, (r) => `${r.user.email ?? 'your address'} is confirmed`);
    },
  },
  {
    name: 'resend',
    aliases: [],
    usage: '/resend',
    description: 'Mail a new confirmation code to the address waiting for one.',
    run: (args) => {
      if (args.words.length !== 0) return usage('resend');
      return request('email.resend', {}, (r) => `a new code was mailed to ${r.user.pendingEmail ?? 'your address'}`);
    },
  },
  {
    name: 'nick',
    aliases: [],
    usage: '/nick [DISPLAY NAME]',
    description: 'Set your display name; without a name, clear it.',
    run: (args) => {
      const displayName = args.rest(0);
      return displayName === ''
        ? request('profile.update', { displayName: null }, 'display name cleared')
        : request('profile.update', { displayName }, `display name set to ${displayName}`);
    },
  },
  {
    name: 'rename',
    aliases: [],
    usage: '/rename NEWNAME',
    description: 'Change your username.',
    run: (args) => {
      const name = args.words[0];
      if (args.words.length !== 1 || name === undefined) return usage('rename');
      return request('username.change', { username: username(name) }, ({ user }) => `you are now ${user.username}`);
    },
  },
  {
    name: 'status',
    aliases: [],
    usage: '/status [TEXT]',
    description: 'Set your status text; without text, clear it.',
    run: (args) => {
      const status = args.rest(0);
      return status === ''
        ? request('profile.update', { status: null }, 'status cleared')
        : request('profile.update', { status }, `status set to ${status}`);
    },
  },
  {
    name: 'edit',
    aliases: [],
    usage: '/edit [SEQ TEXT]',
    description: 'Replace the text of your message number SEQ; without arguments, edit your last message.',
    run: edit,
  },
  {
    name: 'delete',
    aliases: [],
    usage: '/delete SEQ',
    description: 'Delete message number SEQ (yours, or any in a server you administer).',
    run: del,
  },
  {
    name: 'report',
    aliases: [],
    usage: '/report [#SEQ|@USER] REASON [DETAILS]',
    description:
      "Report a message of the open conversation (number SEQ; without it, the newest one of someone else; a selected message's ! key fills in its number), or a person, to the server's moderators (from a DM or a group: the instance's operators). REASON: spam, harassment, inappropriate, illegal or other.",
    userArgs: { first: 1 },
    run: report,
  },
  {
    name: 'upload',
    aliases: ['file'],
    usage: '/upload PATH [TEXT]',
    description:
      'Send a file to the open conversation, with TEXT as its message. Tab completes the path; quote it, or put \\ before its spaces, when it has any. A path pasted alone (a file dragged in) offers the same.',
    run: (args) => {
      const split = splitPath(args.rest(0));
      if (!split) return usage('upload');
      return { type: 'upload', path: split.path, caption: split.rest };
    },
  },
  {
    name: 'me',
    aliases: [],
    usage: '/me ACTION',
    description: 'Send an action to the open conversation: /me waves shows as * alice waves.',
    // An action is a kind of message the server keeps (the body is `waves`): every client shows it as one,
    // with the author's current name.
    run: (args) => {
      const action = args.rest(0);
      return action === '' ? usage('me') : { type: 'send', body: action, kind: 'action' };
    },
  },
  {
    name: 'names',
    aliases: ['who'],
    usage: '/names',
    description: "List who is in the open channel's server or the open group, online first.",
    run: (args, ctx) =>
      args.words.length > 0
        ? usage('names')
        : ctx.active === null || ctx.active.kind === 'dm'
          ? { type: 'error', message: 'open a channel or a group first' }
          : { type: 'names' },
  },
  {
    name: 'away',
    aliases: [],
    usage: '/away [TEXT]',
    description: 'Set your status to "away: TEXT" (or just "away"); /back clears it.',
    run: (args) => {
      const text = args.rest(0);
      const status = text === '' ? 'away' : `away: ${text}`;
      return request('profile.update', { status }, `status set to ${status}`);
    },
  },
  {
    name: 'back',
    aliases: [],
    usage: '/back',
    description: 'Clear your status (after /away).',
    run: (args) =>
      args.words.length > 0 ? usage('back') : request('profile.update', { status: null }, 'status cleared'),
  },
  {
    name: 'reconnect',
    aliases: [],
    usage: '/reconnect',
    description: 'While waiting to reconnect, try now (Ctrl-R).',
    run: (args) => (args.words.length > 0 ? usage('reconnect') : { type: 'reconnect' }),
  },
  {
    name: 'search',
    aliases: ['find'],
    usage: '/search [WORDS]',
    description: 'Search the messages you can read (Ctrl-F); choose a result to go there.',
    run: (args) => ({ type: 'search', query: args.rest(0) }),
  },
  {
    name: 'mod',
    aliases: ['moderation'],
    usage: '/mod',
    description:
      'Show what waits for your review (moderators, operators): held messages and open reports; approve, reject or act on them.',
    run: () => ({ type: 'moderation' }),
  },
  {
    name: 'help',
    aliases: [],
    usage: '/help [COMMAND]',
    description: 'Show the keys and commands, or the usage of one command.',
    run: help,
  },
  {
    name: 'quit',
    aliases: ['exit'],
    usage: '/quit',
    description: 'Leave natter.',
    run: () => ({ type: 'quit' }),
  },
];

const COMMAND_BY_NAME: ReadonlyMap<string, Command> = new Map(
  COMMANDS.flatMap((c) => [c.name, ...c.aliases].map((n) => [n, c] as const)),
);

/** The command named `name` (without `/`, any case, aliases included). */
export function findCommand(name: string): Command | undefined {
  return COMMAND_BY_NAME.get(name.toLowerCase());
}

/**
 * The path at the start of `text` and the text after it: a word (`\ `
 * escapes a space, as Tab completion writes it), a quoted path (`"my
 * file.png"`, `'my file.png'`), or a `file://` URL (its `%20`s decoded).
 * Null when there is no path.
 */
export function splitPath(text: string): { path: string; rest: string } | null {
  const t = text.trimStart();
  if (t === '') return null;
  const quote = t[0];
  if (quote === '"' || quote === "'") {
    const end = t.indexOf(quote, 1);
    if (end <= 1) return null;
    return { path: t.slice(1, end), rest: t.slice(end + 1).trim() };
  }
  let path = '';
  let i = 0;
  for (; i < t.length; i++) {
    const ch = t[i] ?? '';
    if (ch === '\\' && i + 1 < t.length) {
      path += t[i + 1];
      i++;
    } else if (/\s/.test(ch)) break;
    else path += ch;
  }
  if (/^file:\/\//i.test(path)) {
    try {
      path = decodeURIComponent(new URL(path).pathname);
    } catch {
      return null;
    }
  }
  return path === '' ? null : { path, rest: t.slice(i).trim() };
}

function makeArgs(text: string): Args {
  const trimmed = text.trim();
  const words = trimmed === '' ? [] : trimmed.split(/\s+/);
  return {
    words,
    rest(n) {
      let s = trimmed;
      for (let i = 0; i < n; i++) s = s.replace(/^\S+\s*/, '');
      return s.trim();
    },
  };
}

/**
 * Reads the composer's text: a slash command becomes its intent, anything else
 * a message. `//text` sends `/text`. Never throws; a mistake is an `error`
 * intent whose message says what to type.
 */
export function parseCommand(input: string, ctx: CommandContext): Intent {
  if (isBlank(input)) return { type: 'none' };
  if (input.startsWith('//')) return { type: 'send', body: input.slice(1) };
  if (!input.startsWith('/')) return { type: 'send', body: input };
  const m = /^\/(\S*)/.exec(input);
  const name = m?.[1] ?? '';
  if (name === '') return { type: 'error', message: 'type a command after /, or // to send a message starting with /' };
  const command = findCommand(name);
  if (!command) return { type: 'error', message: `unknown command /${name} (try /help; // sends a literal /)` };
  return command.run(makeArgs(input.slice(name.length + 1)), ctx);
}

/** Sends a request; the protocol client's `request` fits (`(op, params) => client.request(op, params)`). */
export type Requester = <N extends OpName>(op: N, params: ParamsIn<N>) => Promise<ResultOf<N>>;

/**
 * Carries out a `request` or `request-user` intent and returns the notice
 * text. Rejects as the requester does (a `NatterError` with the server's code);
 * a `request-user` whose continuation is a usage error rejects with an `Error`.
 */
/** What a carried-out request left: the notice to show, and the conversation to open (or null). */
export type RequestOutcome = { notice: string; open: string | null };

/**
 * Checks a request's params against the protocol's rules before it goes out,
 * so a name that is too long is an error in words with no round trip. The
 * operation table (the protocol's schemas) loads on the first command, not
 * when the app starts.
 */
async function checkParams(req: RequestIntent): Promise<void> {
  const { paramsError } = await import('../protocol/envelope.js');
  const refused = paramsError(req.op, req.params);
  // A usage error of the command typed, in its words: no code, as nothing reached the server.
  if (refused) throw new Error(refused.message);
}

export async function runRequest(intent: RequestIntent | RequestUserIntent, send: Requester): Promise<RequestOutcome> {
  let req: RequestIntent;
  if (intent.type === 'request-user') {
    const { user } = await send('users.get', { username: intent.username });
    const next = intent.withUser(user);
    if (next.type === 'error') throw new Error(next.message);
    req = next;
  } else {
    req = intent;
  }
  await checkParams(req);
  const result = await send(req.op, req.params);
  // The union loses the link between `op` and its result type; each intent was built with a matching pair.
  const notice = typeof req.success === 'string' ? req.success : (req.success as (r: unknown) => string)(result);
  const open = req.open ? (req.open as (r: unknown) => string | null)(result) : null;
  return { notice, open };
}
