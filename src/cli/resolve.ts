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

import { ambiguous } from './errors.js';
import { clean, notFound, usageError } from './util.js';

// Names on the command line -> ids, among the caller's own servers, groups and DMs.

const fold = (s: string) => s.normalize('NFC').toLowerCase();

/** Picks the one item whose id is `ref`, else whose name matches `ref` in any case. */
function pick<T extends { id: string }>(
  items: T[],
  ref: string,
  name: (t: T) => string,
  what: string,
  describe: (t: T) => string,
): T {
  const byId = items.find((t) => t.id === ref);
  if (byId) return byId;
  const matches = items.filter((t) => fold(name(t)) === fold(ref));
  const [first, ...rest] = matches;
  if (!first) throw notFound(`no ${what} named "${clean(ref)}"`);
  if (rest.length > 0) throw ambiguous(what, clean(ref), matches.map(describe));
  return first;
}

export async function resolveServer(s: Requester, ref: string): Promise<ServerInfo> {
  if (ref === '') throw usageError('empty server name');
  const servers = await listServers(s);
  return pick(
    servers,
    ref,
    (x) => x.name,
    'server',
    (x) => `${clean(x.name)}  id ${x.id}, ${x.memberCount} members, your role: ${x.role}`,
  );
}

export async function resolveChannel(
  s: Requester,
  serverRef: string,
  channelRef: string,
): Promise<{ server: ServerInfo; channel: ChannelInfo }> {
  const server = await resolveServer(s, serverRef);
  const { channels } = await s.request('servers.get', { serverId: server.id });
  const ref = channelRef.replace(/^#/, '');
  const channel = channels.find((c) => c.id === ref) ?? channels.find((c) => c.name === fold(ref).trim());
  if (!channel) throw notFound(`no channel named "${clean(ref)}" in server "${clean(server.name)}"`);
  return { server, channel };
}

const groupLabel = (g: GroupInfo) =>
  `${clean(g.name)}  id ${g.id}, members: ${g.members.map((m) => clean(m.username)).join(', ')}`;

export async function resolveGroup(s: Requester, ref: string): Promise<GroupInfo> {
  const groups = await listGroups(s);
  return pick(groups, ref.replace(/^\+/, ''), (g) => g.name, 'group', groupLabel);
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

/** `server/channel`, `@username`, `+group`, or a conversation id. */
export async function resolveTarget(s: Requester, ref: string): Promise<Target> {
  if (ref.startsWith('@')) {
    const dm = await resolveDm(s, ref);
    return { kind: 'dm', id: dm.id, label: `@${dm.peer?.username ?? dm.name}`, peer: dm.peer };
  }
  if (ref.startsWith('+')) {
    const group = await resolveGroup(s, ref);
    return { kind: 'group', id: group.id, label: `+${group.name}`, group };
  }
  const slash = ref.lastIndexOf('/');
  if (slash > 0) {
    const { server, channel } = await resolveChannel(s, ref.slice(0, slash), ref.slice(slash + 1));
    return { kind: 'channel', id: channel.id, label: `${server.name}/${channel.name}`, server, channel };
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
