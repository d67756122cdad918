import { allPages } from '../client/pages.js';
import type { ChannelInfo, ConversationSummary, GroupInfo, PublicUser, ServerInfo } from '../protocol/index.js';
import type { Session } from './session.js';

/** Anything that makes typed requests: a {@link Session}, or the reconnecting client. */
export type Requester = Pick<Session, 'request'>;

/** Every server I am in (all pages). */
export function listServers(s: Requester): Promise<ServerInfo[]> {
  return allPages(async (after) => {
    const r = await s.request('servers.list', { after });
    return { items: r.servers, next: r.next };
  });
}

/** Every group I am in (all pages). */
export function listGroups(s: Requester): Promise<GroupInfo[]> {
  return allPages(async (after) => {
    const r = await s.request('groups.list', { after });
    return { items: r.groups, next: r.next };
  });
}

/** Every DM I have, most recent first (all pages). */
export function listDms(s: Requester): Promise<ConversationSummary[]> {
  return allPages(async (after) => {
    const r = await s.request('dms.list', { after });
    return { items: r.dms, next: r.next };
  });
}

/** Every conversation I can read (all pages). */
export function listConversations(s: Requester): Promise<ConversationSummary[]> {
  return allPages(async (after) => {
    const r = await s.request('conversations.list', { after });
    return { items: r.conversations, next: r.next };
  });
}

import { distinctNames, type Match, matchName, type Named } from '../client/names.js';
import { ambiguous } from './errors.js';
import { clean, fmtTime, notFound, usageError } from './util.js';

// Names on the command line -> ids, among the caller's own servers, groups and DMs.
// Servers and groups that share a name are told apart by the start of their
// id: `acme~2f9k` (or `acme·2f9k`, as the terminal app shows it).

const fold = (s: string) => s.normalize('NFC').toLowerCase();

/** The one item `ref` names (its id, its name in any case, or its name with an id fragment), else an error. */
async function pick<T extends Named>(
  items: T[],
  ref: string,
  what: string,
  /** One candidate of an ambiguous name, after its typeable name. */
  describe: (matches: T[]) => Promise<Map<string, string>>,
  sigil = '',
): Promise<T> {
  const found: Match<T> = matchName(items, ref);
  if (found.kind === 'one') return found.item;
  if (found.kind === 'none') throw notFound(`no ${what} named "${clean(ref)}"`);
  const names = distinctNames(items);
  const details = await describe(found.items);
  throw ambiguous(
    what,
    clean(ref),
    found.items.map((t) => `${sigil}${clean(names.get(t.id) ?? t.name)}  ${details.get(t.id) ?? ''}, id ${t.id}`),
  );
}

/** `owned by bob, created 2026-11-30 06:04, 3 members` for each server; owners are looked up by id. */
async function describeServers(s: Requester, servers: ServerInfo[]): Promise<Map<string, string>> {
  const owners = new Map<string, string>();
  for (const id of new Set(servers.filter((x) => x.role !== 'owner').map((x) => x.ownerId))) {
    try {
      owners.set(id, (await s.request('users.get', { userId: id })).user.username);
    } catch {
      owners.set(id, `user ${id}`);
    }
  }
  return new Map(
    servers.map((x) => [
      x.id,
      `owned by ${x.role === 'owner' ? 'you' : clean(owners.get(x.ownerId))}, created ${fmtTime(x.createdAt)}, ${x.memberCount} member${x.memberCount === 1 ? '' : 's'}`,
    ]),
  );
}

/** A server and the name to write it by: `acme`, or `acme~2f9k` when another of the caller's servers is `acme` too. */
export type ResolvedServer = { server: ServerInfo; name: string };

/** The caller's server `ref` names, with the name to write it by. */
export async function resolveServerNamed(s: Requester, ref: string): Promise<ResolvedServer> {
  if (ref === '') throw usageError('empty server name');
  const servers = await listServers(s);
  const server = await pick(servers, ref, 'server', (matches) => describeServers(s, matches));
  return { server, name: distinctNames(servers).get(server.id) ?? server.name };
}

export async function resolveServer(s: Requester, ref: string): Promise<ServerInfo> {
  return (await resolveServerNamed(s, ref)).server;
}

export async function resolveChannel(
  s: Requester,
  serverRef: string,
  channelRef: string,
): Promise<{ server: ServerInfo; channel: ChannelInfo; serverName: string }> {
  const { server, name } = await resolveServerNamed(s, serverRef);
  const { channels } = await s.request('servers.get', { serverId: server.id });
  const ref = channelRef.replace(/^#/, '');
  const channel = channels.find((c) => c.id === ref) ?? channels.find((c) => c.name === fold(ref).trim());
  if (!channel) throw notFound(`no channel named "${clean(ref)}" in server "${clean(name)}"`);
  return { server, channel, serverName: name };
}

/**
 * `created 2026-11-30 06:04, members: alice, bob; invited carol` for each
 * group (a group has no owner: its members are equals).
 */
async function describeGroups(groups: GroupInfo[]): Promise<Map<string, string>> {
  const names = (users: { username: string }[]) => users.map((u) => clean(u.username)).join(', ');
  return new Map(
    groups.map((g) => [
      g.id,
      `created ${fmtTime(g.createdAt)}, members: ${names(g.members)}${g.invited.length > 0 ? `; invited ${names(g.invited)}` : ''}`,
    ]),
  );
}

/** The caller's group `ref` names (`+` optional), with the name to write it by (`climbing~ab12`, no `+`). */
export async function resolveGroupNamed(s: Requester, ref: string): Promise<{ group: GroupInfo; name: string }> {
  const groups = await listGroups(s);
  const group = await pick(groups, ref.replace(/^\+/, ''), 'group', describeGroups, '+');
  return { group, name: distinctNames(groups).get(group.id) ?? group.name };
}

export async function resolveGroup(s: Requester, ref: string): Promise<GroupInfo> {
  return (await resolveGroupNamed(s, ref)).group;
}

export async function resolveDm(s: Requester, ref: string): Promise<ConversationSummary> {
  const name = ref.replace(/^@/, '');
  const dms = await listDms(s);
  const dm = dms.find((d) => d.id === name || d.peer?.id === name || fold(d.peer?.username ?? d.name) === fold(name));
  if (!dm) throw notFound(`no direct messages with @${clean(name)} yet (send one first)`);
  return dm;
}

/** A user by username (with or without `@`), or by id. */
export async function resolveUser(s: Requester, ref: string): Promise<PublicUser> {
  const name = ref.replace(/^@/, '');
  try {
    return (await s.request('users.get', { username: name })).user;
  } catch (err) {
    if ((err as { code?: string }).code !== 'not_found' && (err as { code?: string }).code !== 'bad_request') throw err;
  }
  try {
    return (await s.request('users.get', { userId: name })).user;
  } catch {
    throw notFound(`no user named "${clean(name)}"`);
  }
}

export type Target =
  | { kind: 'channel'; id: string; label: string; server: ServerInfo; channel: ChannelInfo }
  | { kind: 'group'; id: string; label: string; group: GroupInfo }
  | { kind: 'dm'; id: string; label: string; peer: PublicUser | null };

/** `server/channel`, `@username`, `+group`, or a conversation id; the label names it as it can be typed back. */
export async function resolveTarget(s: Requester, ref: string): Promise<Target> {
  if (ref.startsWith('@')) {
    const dm = await resolveDm(s, ref);
    return { kind: 'dm', id: dm.id, label: `@${dm.peer?.username ?? dm.name}`, peer: dm.peer };
  }
  if (ref.startsWith('+')) {
    const { group, name } = await resolveGroupNamed(s, ref);
    return { kind: 'group', id: group.id, label: `+${name}`, group };
  }
  const slash = ref.lastIndexOf('/');
  if (slash > 0) {
    const { server, channel, serverName } = await resolveChannel(s, ref.slice(0, slash), ref.slice(slash + 1));
    return { kind: 'channel', id: channel.id, label: `${serverName}/${channel.name}`, server, channel };
  }
  const conversations = await listConversations(s);
  const conv = conversations.find((c) => c.id === ref);
  if (!conv) {
    throw notFound(
      `no conversation "${clean(ref)}": name a channel as server/channel, a DM as @username, a group as +group`,
    );
  }
  if (conv.kind === 'dm') return { kind: 'dm', id: conv.id, label: `@${conv.name}`, peer: conv.peer };
  if (conv.kind === 'group') return resolveTarget(s, `+${conv.id}`);
  return resolveTarget(s, `${conv.serverId ?? ''}/${conv.id}`);
}

/** The JSON shape of a resolved target (docs/cli.md). */
export function targetJson(t: Target): { kind: string; id: string; label: string } {
  return { kind: t.kind, id: t.id, label: t.label };
}
