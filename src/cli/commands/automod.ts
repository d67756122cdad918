import { allPages } from '../../client/pages.js';
import type { AutomodRule, HeldMessage } from '../../protocol/index.js';
import { CliError, isNatterError, refusalExit, usageError } from '../errors.js';
import { withFileNames } from '../message-line.js';
import { resolveChannel, resolveServer, resolveServerNamed } from '../resolve.js';
import { act, type Session } from '../session.js';
import { clean, fmtTime, spanWords, table } from '../util.js';

// `natter automod list|add|remove|enable|disable` and `natter hold list|approve|reject`.

export type AddOptions = {
  name?: string;
  keyword: string[];
  allow: string[];
  regex: string[];
  preset?: string;
  mentions?: number;
  flood?: { messages: number; seconds: number };
  action: string[];
  message?: string;
  alertChannel?: string;
  timeout?: number;
  exemptRole: string[];
  exemptChannel: string[];
  reason?: string;
};

/** `--reason`, for the audit log, when given. */
function why(opts: unknown): { reason?: string } {
  const { reason } = opts as { reason?: string };
  return reason === undefined ? {} : { reason };
}

/** Which option of `automod add` a field of the rule comes from, to name it in a refusal. */
const OPTION_OF: [RegExp, string][] = [
  [/^rule\.name/, '--name'],
  [/^rule\.config\.keywords/, '--keyword'],
  [/^rule\.config\.allow/, '--allow'],
  [/^rule\.config\.patterns/, '--regex'],
  [/^rule\.config\.preset/, '--preset'],
  [/^rule\.config\.max/, '--mentions'],
  [/^rule\.config\.(messages|seconds)/, '--flood'],
  [/^rule\.actions\.\d+\.block/, '--message'],
  [/^rule\.actions\.\d+\.alert/, '--alert-channel'],
  [/^rule\.actions\.\d+\.timeout/, '--timeout'],
  [/^rule\.actions/, '--action'],
  [/^rule\.exemptRoles/, '--exempt-role'],
  [/^rule\.exemptChannels/, '--exempt-channel'],
];

/** A refusal of a rule, with the option the person gives the field with. */
function namingRuleOption(err: unknown): unknown {
  if (!isNatterError(err)) return err;
  const field = ((err as { field?: unknown }).field as string | undefined)?.replace(/^params\./, '');
  const option = field === undefined ? undefined : OPTION_OF.find(([re]) => re.test(field))?.[1];
  if (option === undefined) return err;
  return new CliError(refusalExit(err), err.code, `${err.message} (${option})`);
}

/** A channel of `serverId` by name (`general`, `#general`) or id. */
async function channelId(s: Session, serverRef: string, name: string): Promise<string> {
  return (await resolveChannel(s, serverRef, name)).channel.id;
}

/** The kind and settings the options describe: exactly one kind. */
function kindOf(o: AddOptions): { kind: string; config: Record<string, unknown>; name: string } {
  const kinds: { kind: string; config: Record<string, unknown>; name: string; option: string }[] = [];
  const allow = o.allow.length > 0 ? { allow: o.allow } : {};
  if (o.keyword.length > 0)
    kinds.push({ kind: 'keyword', config: { keywords: o.keyword, ...allow }, name: 'keywords', option: '--keyword' });
  if (o.regex.length > 0)
    kinds.push({ kind: 'regex', config: { patterns: o.regex }, name: 'regex', option: '--regex' });
  if (o.preset !== undefined)
    kinds.push({ kind: 'preset', config: { preset: o.preset, ...allow }, name: o.preset, option: '--preset' });
  if (o.mentions !== undefined)
    kinds.push({ kind: 'mentions', config: { max: o.mentions }, name: 'mentions', option: '--mentions' });
  if (o.flood !== undefined) kinds.push({ kind: 'flood', config: { ...o.flood }, name: 'flood', option: '--flood' });
  const [only, second] = kinds;
  if (!only) throw usageError('say what the rule matches: --keyword, --regex, --preset, --mentions or --flood');
  if (second) throw usageError(`a rule matches one way: ${only.option} or ${second.option}, not both (make two rules)`);
  if (o.allow.length > 0 && only.kind !== 'keyword' && only.kind !== 'preset') {
    throw usageError('--allow goes with --keyword or --preset');
  }
  return only;
}

/** `natter automod add <server> …`: makes a rule from options. */
export const add = act(async (ctx, ref: string) => {
  const o = ctx.opts as AddOptions;
  const { kind, config, name: kindName } = kindOf(o);
  if (o.action.length === 0)
    throw usageError('say what happens to a matching message: --action block|hold|alert|timeout');
  const actions: unknown[] = [];
  for (const a of o.action) {
    if (a === 'block') actions.push({ block: o.message === undefined ? {} : { message: o.message } });
    else if (a === 'hold') actions.push('hold');
    else if (a === 'alert') {
      if (o.alertChannel === undefined) throw usageError('--action alert needs --alert-channel CHANNEL');
      actions.push({ alert: { channelId: await channelId(ctx.s, ref, o.alertChannel) } });
    } else if (a === 'timeout') {
      if (o.timeout === undefined) throw usageError('--action timeout needs --timeout DURATION (10m, 1h, 7d)');
      actions.push({ timeout: { seconds: o.timeout } });
    }
  }
  if (o.message !== undefined && !o.action.includes('block')) throw usageError('--message goes with --action block');
  if (o.alertChannel !== undefined && !o.action.includes('alert'))
    throw usageError('--alert-channel goes with --action alert');
  if (o.timeout !== undefined && !o.action.includes('timeout'))
    throw usageError('--timeout goes with --action timeout');
  const server = await resolveServer(ctx.s, ref);
  const exemptChannels: string[] = [];
  for (const c of o.exemptChannel) exemptChannels.push(await channelId(ctx.s, ref, c));
  let name = o.name;
  if (name === undefined) {
    // A name of its kind, numbered when the server has one of that name already.
    const taken = new Set((await ctx.s.request('automod.list', { serverId: server.id })).rules.map((r) => r.name));
    name = kindName;
    for (let i = 2; taken.has(name); i++) name = `${kindName} ${i}`;
  }
  const rule = { name, kind, config, actions, exemptRoles: o.exemptRole, exemptChannels };
  let made: AutomodRule;
  try {
    made = (await ctx.s.request('automod.create', { serverId: server.id, rule, ...why(o) })).rule;
  } catch (err) {
    throw namingRuleOption(err);
  }
  ctx.out({ rule: made }, () => `added rule "${clean(made.name)}" to ${clean(ref)}: ${describe(made)}`);
});

/** A channel id as the rules name it: `#mod-log`, or `#? (deleted)` for one that is gone. */
type ChannelNames = ReadonlyMap<string, string>;

function channelName(names: ChannelNames, id: unknown): string {
  const name = names.get(String(id));
  return name === undefined ? '#? (deleted)' : `#${name}`;
}

/** What a rule matches and does, in a few words. */
function describe(r: AutomodRule, names: ChannelNames = new Map()): string {
  const c = r.config as Record<string, unknown>;
  const list = (v: unknown) => (Array.isArray(v) ? v.map(String).join(', ') : '');
  const what =
    r.kind === 'keyword'
      ? `keywords ${list(c.keywords)}`
      : r.kind === 'regex'
        ? `regex ${list(c.patterns)}`
        : r.kind === 'preset'
          ? `preset ${String(c.preset)}`
          : r.kind === 'mentions'
            ? `more than ${String(c.max)} mentions`
            : `more than ${String(c.messages)} messages in ${String(c.seconds)} s`;
  const does = r.actions
    .map((a) => {
      if (a === 'hold') return 'hold';
      const [key, value] = Object.entries(a as Record<string, Record<string, unknown>>)[0] ?? [];
      if (key === 'block') return value?.message ? `block ("${String(value.message)}")` : 'block';
      if (key === 'timeout') return `timeout ${spanWords(Number(value?.seconds))}`;
      if (key === 'alert') return `alert ${channelName(names, value?.channelId)}`;
      return String(key);
    })
    .join(' + ');
  return `${what} → ${does}`;
}

/** `natter automod list <server>` */
export const list = act(async (ctx, ref: string) => {
  const server = await resolveServer(ctx.s, ref);
  const { rules } = await ctx.s.request('automod.list', { serverId: server.id });
  const { channels } = await ctx.s.request('servers.get', { serverId: server.id });
  const names: ChannelNames = new Map(channels.map((c) => [c.id, c.name]));
  ctx.out({ serverId: server.id, rules }, () =>
    rules.length === 0
      ? 'no rules'
      : table(
          ['NAME', 'KIND', 'ON', 'MATCHES AND DOES', 'EXEMPT'],
          rules.map((r) => [
            r.name,
            r.kind,
            r.enabled ? 'yes' : 'no',
            describe(r, names),
            [
              ...r.exemptRoles.map((role) => (role === 'owner' ? role : `${role}+`)),
              ...r.exemptChannels.map((id) => channelName(names, id)),
            ].join(', '),
          ]),
        ),
  );
});

/** The rule of the server named `name`. */
async function ruleNamed(s: Session, ref: string, name: string): Promise<AutomodRule> {
  const server = await resolveServer(s, ref);
  const { rules } = await s.request('automod.list', { serverId: server.id });
  const rule = rules.find((r) => r.name === name) ?? rules.find((r) => r.name.toLowerCase() === name.toLowerCase());
  if (!rule) {
    throw new CliError(
      1,
      'not_found',
      `no rule named "${clean(name)}" in ${clean(ref)} (natter automod list ${clean(ref)})`,
    );
  }
  return rule;
}

/** `natter automod remove <server> <name>` */
export const remove = act(async (ctx, ref: string, name: string) => {
  const rule = await ruleNamed(ctx.s, ref, name);
  await ctx.s.request('automod.delete', { ruleId: rule.id, ...why(ctx.opts) });
  ctx.out({ ok: true, ruleId: rule.id }, () => `removed rule "${clean(rule.name)}" from ${clean(ref)}`);
});

/** `natter automod enable|disable <server> <name>` */
export function toggle(enabled: boolean) {
  return act(async (ctx, ref: string, name: string) => {
    const rule = await ruleNamed(ctx.s, ref, name);
    const r = await ctx.s.request('automod.update', { ruleId: rule.id, enabled, ...why(ctx.opts) });
    ctx.out(
      { rule: r.rule, changed: r.changed },
      () =>
        `rule "${clean(r.rule.name)}" ${r.changed ? 'is' : 'was already'} ${enabled ? 'on' : 'off'} in ${clean(ref)}${r.changed ? '' : '; nothing changed'}`,
    );
  });
}

/** How many characters of a held message's id the list shows, and commands take. */
const SHORT_ID = 6;

/** `natter hold list <server>` */
export const holdList = act(async (ctx, ref: string) => {
  const server = await resolveServer(ctx.s, ref);
  const messages = await allPages(async (after) => {
    const r = await ctx.s.request('held.list', { serverId: server.id, after });
    return { items: r.messages, next: r.next };
  });
  ctx.out({ serverId: server.id, messages }, () =>
    messages.length === 0
      ? 'nothing is held'
      : table(
          ['ID', 'WHEN', 'BY', 'CHANNEL', 'HELD BY', 'MESSAGE'],
          messages.map((m) => [
            m.id.slice(0, SHORT_ID),
            fmtTime(m.createdAt),
            m.author.username,
            `#${m.channel}`,
            m.heldBy,
            withFileNames(m.body.replace(/\s+/g, ' '), m.attachments),
          ]),
        ),
  );
});

/** The held message of the server whose id is `id` or starts with it. */
async function heldNamed(s: Session, ref: string, id: string): Promise<HeldMessage> {
  const server = await resolveServer(s, ref);
  const messages = await allPages(async (after) => {
    const r = await s.request('held.list', { serverId: server.id, after });
    return { items: r.messages, next: r.next };
  });
  const found = messages.filter((m) => m.id === id || m.id.startsWith(id));
  if (found.length > 1) throw usageError(`"${clean(id)}" is the start of several held messages' ids: give more of it`);
  const [held] = found;
  if (!held) {
    throw new CliError(
      1,
      'not_found',
      `no held message ${clean(id)} in ${clean(ref)} (natter hold list ${clean(ref)})`,
    );
  }
  return held;
}

/** `natter hold approve|reject <server> <id> [--reason T]` */
export function holdDecide(decision: 'approve' | 'reject') {
  return act(async (ctx, ref: string, id: string) => {
    const held = await heldNamed(ctx.s, ref, id);
    const { reason } = ctx.opts as { reason?: string };
    const why = reason === undefined ? {} : { reason };
    const { name } = await resolveServerNamed(ctx.s, ref);
    if (decision === 'approve') {
      const { message } = await ctx.s.request('held.approve', { heldId: held.id, ...why });
      ctx.out(
        { message },
        () =>
          `posted ${clean(held.author.username)}'s message in ${clean(name)}/#${clean(held.channel)} as #${message.seq}`,
      );
    } else {
      await ctx.s.request('held.reject', { heldId: held.id, ...why });
      ctx.out({ ok: true, heldId: held.id }, () => `rejected ${clean(held.author.username)}'s message`);
    }
  });
}
