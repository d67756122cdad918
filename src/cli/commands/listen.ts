import { distinctNames } from '../../client/names.js';
import type { Natter } from '../../client/natter.js';
import type { EventMessage, Message, Report, ReportAction } from '../../protocol/index.js';
import { authorLabel, fileLines, saying, withFileNames } from '../message-line.js';
import { outcomeWords, reportPlace } from '../report-words.js';
import {
  listConversations,
  listDms,
  listServers,
  type Requester,
  resolveServer,
  resolveTarget,
  resolveUser,
} from '../resolve.js';
import { act, isNatterError } from '../session.js';
import {
  CliError,
  clean,
  cleanBlock,
  connectionError,
  EXIT,
  findToken,
  fmtClock,
  fmtTime,
  readCa,
  serverKey,
  tlsOptions,
} from '../util.js';

type Data = Record<string, unknown> & {
  message?: Message;
  conversationId?: string;
  serverId?: string;
  channelId?: string;
  groupId?: string;
  server?: { id: string; name: string; icon?: { id: string } };
  channel?: { id: string; serverId: string; name: string };
  channels?: { id: string; serverId: string; name: string }[];
  group?: { id: string; name: string; members: { id: string; username: string }[] };
  invitation?: { group: { id: string; name: string }; invitedBy: { id: string; username: string } };
  outcome?: string;
  blocked?: boolean;
  settings?: { groupAdds: string };
  peer?: { id: string; username: string; avatar?: { id: string } };
  member?: { user: { id: string; username: string; avatar?: { id: string } }; role: string };
  user?: { id: string; username: string; avatar?: { id: string } };
  userId?: string;
  reason?: string;
  by?: { id: string; username: string };
  note?: string | null;
  until?: number | null;
  online?: boolean;
  lastReadSeq?: number;
  report?: Report;
  reportId?: number;
  targetUser?: { id: string; username: string } | null;
};

/**
 * Names for ids, kept up to date from the events themselves. Servers (and
 * groups) that share a name are written with the start of their id
 * (`acme~2f9k`), as the other commands take them.
 */
class Names {
  servers = new Map<string, string>();
  channels = new Map<string, { serverId: string; name: string }>();
  /** Groups I am in or invited to, by id. */
  groups = new Map<string, string>();
  /** DMs, as `@username`. */
  convs = new Map<string, string>();
  users = new Map<string, string>();
  /**
   * Profile pictures (`u:<id>`) and server icons (`s:<id>`) as last seen:
   * the picture's id, or null for none. An update is worded by what it changed.
   */
  pictures = new Map<string, string | null>();
  /** The picture of the user or server the event just learned had before it: undefined when not known. */
  pictureBefore: string | null | undefined = undefined;
  private written: { servers: Map<string, string>; groups: Map<string, string> } | null = null;

  private distinct(): { servers: Map<string, string>; groups: Map<string, string> } {
    const named = (m: Map<string, string>) => [...m].map(([id, name]) => ({ id, name }));
    this.written ??= { servers: distinctNames(named(this.servers)), groups: distinctNames(named(this.groups)) };
    return this.written;
  }
  server(id: string | undefined): string {
    return (id && this.distinct().servers.get(id)) ?? id ?? '?';
  }
  group(id: string): string | null {
    const name = this.distinct().groups.get(id);
    return name === undefined ? null : `+${name}`;
  }
  user(id: string | undefined): string {
    return (id && this.users.get(id)) ?? id ?? '?';
  }
  conv(id: string | undefined): string | null {
    if (!id) return null;
    const ch = this.channels.get(id);
    if (ch) return `${this.server(ch.serverId)}/${ch.name}`;
    return this.group(id) ?? this.convs.get(id) ?? null;
  }
  setServer(id: string, name: string): void {
    this.servers.set(id, name);
    this.written = null;
  }
  setGroup(id: string, name: string): void {
    this.groups.set(id, name);
    this.written = null;
  }
  learn(ev: EventMessage): void {
    const d = ev.data as Data;
    this.pictureBefore = undefined;
    if (ev.event === 'server.updated' && d.server) this.seePicture(`s:${d.server.id}`, d.server.icon?.id ?? null);
    if (ev.event === 'user.updated' && d.user) this.seePicture(`u:${d.user.id}`, d.user.avatar?.id ?? null);
    if (d.server) this.setServer(d.server.id, d.server.name);
    for (const c of d.channels ?? []) this.channels.set(c.id, { serverId: c.serverId, name: c.name });
    if (d.channel) this.channels.set(d.channel.id, { serverId: d.channel.serverId, name: d.channel.name });
    if (d.group) {
      this.setGroup(d.group.id, d.group.name);
      for (const m of d.group.members) this.users.set(m.id, m.username);
    }
    if (d.invitation) {
      this.setGroup(d.invitation.group.id, d.invitation.group.name);
      this.users.set(d.invitation.invitedBy.id, d.invitation.invitedBy.username);
    }
    if (ev.event === 'dm.opened' && d.peer && d.conversationId) {
      this.convs.set(d.conversationId, `@${d.peer.username}`);
      this.users.set(d.peer.id, d.peer.username);
      this.pictures.set(`u:${d.peer.id}`, d.peer.avatar?.id ?? null);
    }
    if (d.member) {
      this.users.set(d.member.user.id, d.member.user.username);
      this.pictures.set(`u:${d.member.user.id}`, d.member.user.avatar?.id ?? null);
    }
    if (d.user) this.users.set(d.user.id, d.user.username);
    if (d.message) this.users.set(d.message.author.id, d.message.author.username);
  }
  private seePicture(key: string, id: string | null): void {
    this.pictureBefore = this.pictures.get(key);
    this.pictures.set(key, id);
  }
  /** After an event is shown: a server or group I am no longer in no longer makes another's name need its fragment. */
  forget(ev: EventMessage): void {
    const d = ev.data as Data;
    if ((ev.event === 'server.deleted' || ev.event === 'server.removed') && d.serverId) {
      this.servers.delete(d.serverId);
      this.written = null;
    }
    const closed = ev.event === 'group.invitation_closed' && d.outcome !== 'added';
    if ((ev.event === 'group.removed' || closed) && d.groupId) {
      this.groups.delete(d.groupId);
      this.written = null;
    }
  }
}

/** The conversation an event is about, if any. */
function convOf(ev: EventMessage): string | undefined {
  const d = ev.data as Data;
  return (
    d.message?.conversationId ??
    d.conversationId ??
    d.report?.conversation?.id ??
    d.channel?.id ??
    d.channelId ??
    d.group?.id ??
    d.groupId ??
    d.invitation?.group.id
  );
}

/** The server an event is about, if any. */
function serverOf(ev: EventMessage, names: Names): string | undefined {
  const d = ev.data as Data;
  const conv = convOf(ev);
  return (
    d.server?.id ??
    d.serverId ??
    d.report?.serverId ??
    d.channel?.serverId ??
    (conv ? names.channels.get(conv)?.serverId : undefined)
  );
}

/** What to let through when targets are given. */
type Filter = { convs: Set<string>; servers: Set<string>; peers: Set<string> };

function matches(ev: EventMessage, f: Filter | null, names: Names): boolean {
  if (!f) return true;
  const d = ev.data as Data;
  if (ev.event === 'dm.opened' && d.peer && f.peers.has(d.peer.id) && d.conversationId) {
    f.convs.add(d.conversationId);
    return true;
  }
  const conv = convOf(ev);
  if (conv && f.convs.has(conv)) return true;
  const server = serverOf(ev, names);
  return server !== undefined && f.servers.has(server);
}

/** One event as a human line. */
function describe(ev: EventMessage, names: Names): string | null {
  const d = ev.data as Data;
  const where = names.conv(convOf(ev)) ?? '';
  const at = `[${fmtClock(d.message?.createdAt && ev.event === 'message.created' ? d.message.createdAt : Date.now())}]`;
  const line = (text: string) => `${at} ${text}`;
  const m = d.message;
  switch (ev.event) {
    case 'message.created':
      return m
        ? line(`${clean(where)}  ${saying(m, cleanBlock(m.body).replace(/\n/g, '\n    '))}${fileLines(m, '    ')}`)
        : null;
    case 'message.updated': {
      if (!m) return null;
      const body = cleanBlock(m.body);
      return line(
        `${clean(where)}  ${authorLabel(m)} edited #${m.seq}: ${m.kind === 'action' ? saying(m, body) : body}`,
      );
    }
    case 'message.deleted':
      return m ? line(`${clean(where)}  #${m.seq} by ${authorLabel(m)} was deleted`) : null;
    case 'server.joined':
      return line(`joined server ${clean(names.server(d.server?.id))}`);
    case 'server.updated': {
      const name = clean(names.server(d.server?.id));
      return line(pictureNews(`server ${name} was updated`, name, 'icon', names.pictureBefore, d.server?.icon?.id));
    }
    case 'server.deleted':
      return line(`server ${clean(names.server(d.serverId))} was deleted`);
    case 'server.removed':
      return line(
        `you are no longer in ${clean(names.server(d.serverId))} (${d.reason}${d.by ? ` by ${clean(d.by.username)}` : ''}${d.note ? `: ${clean(d.note)}` : ''})`,
      );
    case 'member.joined':
      return line(`${clean(names.server(d.serverId))}: ${clean(d.member?.user.username)} joined`);
    case 'member.updated':
      return line(`${clean(names.server(d.serverId))}: ${clean(d.member?.user.username)} is now ${d.member?.role}`);
    case 'member.left': {
      const who = d.user?.username ?? names.user(d.userId);
      const by = d.by ? ` by ${d.by.username}` : '';
      const why = d.note ? `: ${d.note}` : '';
      return line(
        `${clean(names.server(d.serverId))}: ${clean(who)} ${d.reason === 'left' ? 'left' : `was ${d.reason}${clean(by)}${clean(why)}`}`,
      );
    }
    case 'automod.flagged': {
      const rules = (d.rules as { name: string; trigger: string }[] | undefined) ?? [];
      const did = ((d.actions as string[] | undefined) ?? []).join(', ') || 'flagged';
      const which = rules.map((r) => `"${r.name}" (${r.trigger})`).join(', ');
      const body = typeof d.body === 'string' ? d.body : '';
      return line(
        `${clean(names.server(d.serverId))}: automod ${clean(did)}: ${clean(d.user?.username)} in #${clean(String(d.channel ?? ''))}${d.edit ? ' (edit)' : ''} matched ${clean(which)}: ${clean(body)}`,
      );
    }
    case 'message.held': {
      const held = d.held as
        | {
            id: string;
            channel: string;
            author: { username: string };
            heldBy: string;
            body: string;
            attachments?: { name: string }[];
          }
        | undefined;
      if (!held) return null;
      return line(
        `${clean(names.server(d.serverId ?? (d.held as { serverId?: string }).serverId))}: held for review (${clean(held.heldBy)}): ${clean(held.author.username)} in #${clean(held.channel)}: ${withFileNames(clean(held.body), held.attachments)} (natter hold approve|reject … ${held.id.slice(0, 6)})`,
      );
    }
    case 'held.resolved': {
      const by = d.by ? ` by ${d.by.username}` : '';
      const why = d.note ? `: ${d.note}` : '';
      const what = d.outcome === 'approved' ? `approved${by} and posted as #${String(d.seq)}` : `rejected${by}`;
      return line(`${clean(names.server(d.serverId))}: a held message was ${clean(what)}${clean(why)}`);
    }
    case 'member.timeout': {
      const by = d.by ? ` by ${d.by.username}` : d.rule ? ` by the rule "${String(d.rule)}"` : '';
      const why = d.note ? `: ${d.note}` : '';
      const what =
        d.until === null || d.until === undefined
          ? `may write again (timeout lifted${by})`
          : `was timed out until ${fmtTime(d.until)}${by}`;
      return line(`${clean(names.server(d.serverId))}: ${clean(d.user?.username)} ${clean(what)}${clean(why)}`);
    }
    case 'channel.created':
      return line(`${clean(names.server(d.channel?.serverId))}: channel #${clean(d.channel?.name)} created`);
    case 'channel.updated':
      return line(`${clean(where)}: channel updated`);
    case 'channel.deleted':
      return line(`${clean(names.server(d.serverId))}: a channel was deleted`);
    case 'group.updated':
      return line(
        `${clean(names.group(d.group?.id ?? ''))}: ${(d.group?.members ?? []).map((u) => clean(u.username)).join(', ')}`,
      );
    case 'group.removed':
      return line(`you left ${clean(where || d.groupId)}`);
    case 'group.invited':
      return line(
        `${clean(d.invitation?.invitedBy.username)} invited you to ${clean(names.group(d.invitation?.group.id ?? ''))} (natter group accept or decline)`,
      );
    case 'group.invitation_closed':
      return line(
        `the invitation to ${clean(where || d.groupId)} was ${d.outcome === 'gone' ? 'withdrawn: the group is gone' : d.outcome === 'added' ? 'settled: you were added' : d.outcome}`,
      );
    case 'block.updated':
      return line(`${d.blocked ? 'blocked' : 'unblocked'} ${clean(d.user?.username)}`);
    case 'settings.updated':
      return line(`settings changed: group adds ${clean(d.settings?.groupAdds)}`);
    case 'dm.opened':
      return line(`@${clean(d.peer?.username)}: direct messages opened`);
    case 'read.updated':
      return line(`${clean(where)}: read up to #${d.lastReadSeq}`);
    case 'presence':
      return line(`${clean(names.user(d.userId))} is ${d.online ? 'online' : 'offline'}`);
    case 'typing':
      return line(`${clean(where)}: ${clean(d.user?.username)} is typing`);
    case 'user.updated': {
      const name = clean(d.user?.username);
      const news = pictureNews(
        `${name} updated their profile`,
        name,
        'profile picture',
        names.pictureBefore,
        d.user?.avatar?.id,
      );
      return line(news);
    }
    case 'report.created': {
      const r = d.report;
      if (!r) return null;
      const about =
        r.seq === null ? `@${clean(r.targetUser?.username)}` : `${reportPlace(r)} (${clean(r.targetUser?.username)})`;
      return line(
        `${queue(r.serverId, names)}: new report #${r.id} by ${clean(r.reporter?.username)} on ${about}: ${r.reason}`,
      );
    }
    case 'report.resolved': {
      const r = d.report;
      if (!r) return null;
      const by = r.resolvedBy ? ` by ${clean(r.resolvedBy.username)}` : '';
      return line(
        `${queue(r.serverId, names)}: report #${r.id} resolved${by}: ${outcomeWords(r.resolution ?? 'none', r.targetUser?.username)}`,
      );
    }
    case 'report.handled':
      return line(
        `your report #${d.reportId} (${clean(d.reason)}) was handled: ${outcomeWords((d.outcome ?? 'none') as ReportAction, d.targetUser?.username)}`,
      );
    default:
      return null;
  }
}

/**
 * An update of a user or server worded by what it did to their picture:
 * `acme has a new icon (id …)`, `alice removed their profile picture`; when
 * the picture before is not known, or did not change, the plain `updated`
 * (with the picture's id when there is one).
 */
function pictureNews(
  updated: string,
  name: string,
  what: 'icon' | 'profile picture',
  before: string | null | undefined,
  now: string | undefined,
): string {
  const id = now === undefined ? null : clean(now);
  if (before !== undefined && before !== id) {
    if (id === null) return what === 'icon' ? `${name} no longer has an icon` : `${name} removed their profile picture`;
    return `${name} has a new ${what} (id ${id})`;
  }
  return id === null ? updated : `${updated} (${what} id ${id})`;
}

/** Whose queue a report is in: its server, or the instance's operators. */
function queue(serverId: string | null, names: Names): string {
  return serverId === null ? 'operators' : clean(names.server(serverId));
}

/** Names for what the caller can see now. */
async function loadNames(s: Requester): Promise<Names> {
  const names = new Names();
  for (const x of await listServers(s)) {
    names.setServer(x.id, x.name);
    names.pictures.set(`s:${x.id}`, x.icon?.id ?? null);
  }
  const conversations = await listConversations(s);
  for (const c of conversations) {
    if (c.kind === 'channel' && c.serverId) names.channels.set(c.id, { serverId: c.serverId, name: c.name });
    else if (c.kind === 'group') names.setGroup(c.id, c.name);
    else {
      names.convs.set(c.id, `@${c.name}`);
      if (c.peer) {
        names.users.set(c.peer.id, c.peer.username);
        names.pictures.set(`u:${c.peer.id}`, c.peer.avatar?.id ?? null);
      }
    }
  }
  return names;
}

async function buildFilter(s: Requester, refs: string[]): Promise<Filter | null> {
  if (refs.length === 0) return null;
  const f: Filter = { convs: new Set(), servers: new Set(), peers: new Set() };
  for (const ref of refs) {
    if (ref.startsWith('@')) {
      // A DM that may not exist yet: its dm.opened event adds it.
      const user = await resolveUser(s, ref);
      f.peers.add(user.id);
      for (const dm of await listDms(s)) if (dm.peer?.id === user.id) f.convs.add(dm.id);
    } else if (ref.startsWith('+') || ref.includes('/')) {
      f.convs.add((await resolveTarget(s, ref)).id);
    } else {
      try {
        f.servers.add((await resolveServer(s, ref)).id);
      } catch (err) {
        if (!(err instanceof CliError && err.code === 'not_found')) throw err;
        f.convs.add((await resolveTarget(s, ref)).id);
      }
    }
  }
  return f;
}

/** Cursors are decimal strings; compare them as numbers of any size. */
function after(a: string, b: string | null): boolean {
  if (b === null) return true;
  try {
    return BigInt(a) > BigInt(b);
  } catch {
    return a !== b;
  }
}

/** Transport housekeeping, not news: never printed (a TCP `ping` is answered by the client library). */
const QUIET = new Set(['hello', 'closing', 'caught_up', 'ping']);

/** `natter listen [<target>...]` */
export const listen = act(async (ctx, refs: string[]) => {
  const found = findToken(ctx.g);
  if (!found) {
    throw new CliError(
      EXIT.auth,
      'unauthenticated',
      `not logged in to ${serverKey(ctx.g.server)}: run "natter login <username>" (or set NATTER_TOKEN)`,
    );
  }
  const tls = tlsOptions(ctx.g.server, readCa(ctx.g));
  const { Natter } = await import('../../client/natter.js');
  let client: Natter;
  try {
    client = await Natter.connect({
      url: ctx.g.server,
      token: found.token,
      backoff: { initialMs: 250, maxMs: 10_000 },
      ...tls,
    });
  } catch (err) {
    if (isNatterError(err) && err.code === 'unauthenticated') {
      throw new CliError(
        EXIT.auth,
        'unauthenticated',
        `the token was refused (${err.message}): run "natter login <username>"`,
      );
    }
    if (isNatterError(err)) throw err;
    throw connectionError(ctx.g.server, err);
  }
  // Events are live from the auth above; hold them until the names and the filter are known.
  let last: string | null = client.cursor;
  const early: EventMessage[] = [];
  let handle: ((ev: EventMessage) => void) | null = null;
  client.on('event', (ev) => (handle ? handle(ev) : early.push(ev)));
  let filter: Filter | null;
  let names: Names;
  try {
    filter = await buildFilter(client, refs);
    names = await loadNames(client);
    if (client.user) names.pictures.set(`u:${client.user.id}`, client.user.avatar?.id ?? null);
  } catch (err) {
    client.close();
    throw err;
  }
  const note = (text: string) => process.stderr.write(`natter: ${text}\n`);
  let stopping = false;

  const show = (ev: EventMessage) => {
    if (ctx.g.json) {
      const target = names.conv(convOf(ev)) ?? undefined;
      process.stdout.write(`${JSON.stringify({ ...ev, ...(target ? { target } : {}) })}\n`);
    } else {
      const text = describe(ev, names);
      if (text) process.stdout.write(`${text}\n`);
    }
  };

  const finished = new Promise<void>((resolve, reject) => {
    handle = (ev) => {
      if (ev.event === 'caught_up') {
        const data = ev.data as { limited: boolean; replayed: number };
        if (data.limited) note('too much was missed to replay; some events are lost (run natter history)');
        return;
      }
      if (QUIET.has(ev.event)) return;
      if (ev.cursor !== undefined) {
        if (!after(ev.cursor, last)) return;
        last = ev.cursor;
      }
      names.learn(ev);
      if (matches(ev, filter, names)) show(ev);
      // Filtered out or not, a server or group that is gone changes how the others are written.
      names.forget(ev);
    };
    for (const ev of early.splice(0)) handle(ev);
    client.on('state', (state) => {
      if (state.status === 'reconnecting') {
        note(`connection lost (${state.error}); reconnecting in ${(state.retryInMs / 1000).toFixed(1)} s`);
      } else if (state.status === 'connected') {
        // With several servers, which one it is now.
        note(client.servers.length > 1 ? `reconnected to ${client.url}` : 'reconnected');
      } else if (state.status === 'closed' && !stopping) {
        reject(new CliError(EXIT.auth, 'unauthenticated', `the server ended the session: ${state.error ?? 'closed'}`));
      }
    });
    const stop = () => {
      if (stopping) return;
      stopping = true;
      client.close();
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  // With a list of servers, the one this connection reached.
  const where = client.servers.length > 1 ? `${client.url} (of ${serverKey(ctx.g.server)})` : serverKey(ctx.g.server);
  note(`listening on ${where} as ${clean(client.user?.username)} (Ctrl-C to stop)`);
  await finished;
});
