import type { AnyEvent } from '../protocol/index.js';
import type { State } from './state.js';

/**
 * What an event says in the conversations it concerns, as info lines: who
 * joined, left, was kicked or banned, a new role, a new topic or name. Text
 * as the server sent it (the message list sanitizes it, as it does bodies);
 * `time` when the event carries one. Read from the state before the event,
 * which still knows the old topic, the old members and the departed's name.
 */
export type Note = { conversationIds: string[]; text: string; time?: number };

const ROLE_WORDS: Record<string, string> = {
  owner: 'the owner',
  admin: 'an admin',
  moderator: 'a moderator',
  member: 'a member',
};

/** The notes of `e`; none for events that change nothing people see happen in a conversation. */
export function eventNotes(state: State, e: AnyEvent): Note[] {
  switch (e.event) {
    case 'member.joined': {
      const { serverId, member } = e.data;
      // Already there: a replay of what the list knows.
      if (state.members[serverId]?.some((m) => m.user.id === member.user.id)) return [];
      return note(channelsOf(state, serverId), `${member.user.username} joined`, member.joinedAt);
    }
    case 'member.left': {
      const { serverId, userId, reason, by, note: why } = e.data;
      if (userId === state.me?.id) return [];
      const where = channelsOf(state, serverId);
      const name = memberName(state, serverId, userId, where);
      if (reason === 'left') return note(where, `${name} left`);
      // A server from before `by` and `note` sends neither.
      const who = by ? ` by ${by.id === state.me?.id ? 'you' : by.username}` : '';
      return note(where, `${name} was ${reason}${who}${why ? ` (${why})` : ''}`);
    }
    case 'member.updated': {
      const { serverId, member } = e.data;
      const was = state.members[serverId]?.find((m) => m.user.id === member.user.id);
      if (!was || was.role === member.role) return [];
      return note(
        channelsOf(state, serverId),
        `${member.user.username} is now ${ROLE_WORDS[member.role] ?? member.role}`,
      );
    }
    case 'channel.updated': {
      const { channel, by } = e.data;
      const was = state.conversations[channel.id];
      if (!was) return [];
      const here = [channel.id];
      const who = by ? (by.id === state.me?.id ? 'you' : by.username) : null;
      return [
        ...(was.name !== channel.name
          ? note(here, who ? `${who} renamed the channel #${channel.name}` : `the channel is now #${channel.name}`)
          : []),
        ...(was.topic !== channel.topic ? note(here, topicText(who, channel.topic)) : []),
        ...((was.slowmode ?? 0) !== (channel.slowmode ?? 0)
          ? note(
              here,
              `${who ?? 'a moderator'} ${channel.slowmode ? `set slow mode: one message every ${channel.slowmode} s` : 'turned slow mode off'}`,
            )
          : []),
      ];
    }
    case 'member.timeout': {
      const { serverId, user, until, by, rule, note: why } = e.data;
      const name = user.id === state.me?.id ? 'you' : user.username;
      const who = by ? (by.id === state.me?.id ? 'you' : by.username) : rule ? `the rule "${rule}"` : 'a moderator';
      const reason = why ? ` (${why})` : '';
      const text =
        until === null
          ? `${who} lifted ${user.id === state.me?.id ? 'your' : `${user.username}'s`} timeout${reason}`
          : `${name} ${name === 'you' ? 'are' : 'is'} timed out until ${clock(until)} by ${who}${reason}`;
      return note(channelsOf(state, serverId), text);
    }
    case 'automod.flagged': {
      const { conversationId, user, rules, actions, edit } = e.data;
      if (!state.views[conversationId]) return [];
      const did = actions.includes('block') ? 'blocked' : actions.includes('hold') ? 'held' : 'flagged';
      const names = rules.map((r) => `"${r.name}"`).join(', ');
      return note(
        [conversationId],
        `automod ${did} ${edit ? 'an edit by' : 'a message by'} ${user.username}: ${names}`,
      );
    }
    case 'held.resolved': {
      const { conversationId, outcome, by, note: why } = e.data;
      if (!state.views[conversationId]) return [];
      const who = by.id === state.me?.id ? 'you' : by.username;
      return note([conversationId], `${who} ${outcome} a held message${why ? ` (${why})` : ''}`);
    }
    case 'server.updated': {
      const { server } = e.data;
      const was = state.servers[server.id];
      if (!was || was.name === server.name) return [];
      return note(channelsOf(state, server.id), `the server is now called ${server.name}`);
    }
    case 'group.updated': {
      const { group } = e.data;
      const was = state.conversations[group.id];
      if (!was) return [];
      const here = [group.id];
      const before = state.members[group.id];
      const now = new Set(group.members.map((u) => u.id));
      const had = new Set(before?.map((m) => m.user.id));
      return [
        ...(was.name !== group.name ? note(here, `the group is now +${group.name}`) : []),
        // Who came and went, when the members before are known.
        ...(before
          ? [
              ...group.members.filter((u) => !had.has(u.id)).flatMap((u) => note(here, `${u.username} joined`)),
              ...before.filter((m) => !now.has(m.user.id)).flatMap((m) => note(here, `${m.user.username} left`)),
            ]
          : []),
      ];
    }
    default:
      return [];
  }
}

/** A topic change in words: who set or cleared it, when the event says. */
function topicText(who: string | null, topic: string | null): string {
  if (topic) return who ? `${who} set the topic: ${topic}` : `the topic is now: ${topic}`;
  return who ? `${who} cleared the topic` : 'the topic was cleared';
}

/** `14:05` in local time. */
function clock(ms: number): string {
  const d = new Date(ms);
  return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
}

function note(conversationIds: string[], text: string, time?: number): Note[] {
  return conversationIds.length === 0 ? [] : [{ conversationIds, text, ...(time !== undefined ? { time } : {}) }];
}

/** A server's channels that have messages loaded: only those show lines. */
function channelsOf(state: State, serverId: string): string[] {
  return (state.servers[serverId]?.channelIds ?? []).filter((id) => state.views[id]);
}

/** Someone who is gone: their name from the member list, or from a loaded message of theirs. */
function memberName(state: State, serverId: string, userId: string, where: readonly string[]): string {
  const member = state.members[serverId]?.find((m) => m.user.id === userId);
  if (member) return member.user.username;
  for (const id of where) {
    const line = state.views[id]?.lines.find((l) => l.kind !== 'info' && l.author.id === userId);
    if (line) return line.author.username;
  }
  return 'a member';
}
