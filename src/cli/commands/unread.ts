import { distinctNames } from '../../client/names.js';
import { allPages } from '../../client/pages.js';
import { act } from '../session.js';
import { clean } from '../util.js';

/** `natter unread`: the conversations with unread messages, mentions first, as targets other commands take. */
export const unread = act(async (ctx) => {
  // One request after the other: the session authenticates with the first.
  const conversations = await allPages(async (after) => {
    const r = await ctx.s.request('conversations.list', { after });
    return { items: r.conversations, next: r.next };
  });
  const servers = await allPages(async (after) => {
    const r = await ctx.s.request('servers.list', { after });
    return { items: r.servers, next: r.next };
  });
  const serverNames = distinctNames(servers);
  const groupNames = distinctNames(conversations.filter((c) => c.kind === 'group'));
  const rows = conversations
    .filter((c) => c.unread > 0)
    .sort(
      (a, b) =>
        b.mentions - a.mentions ||
        (b.lastMessage?.createdAt ?? 0) - (a.lastMessage?.createdAt ?? 0) ||
        a.name.localeCompare(b.name),
    )
    .map((c) => ({
      id: c.id,
      kind: c.kind,
      label:
        c.kind === 'channel'
          ? `${serverNames.get(c.serverId ?? '') ?? c.serverId}/${c.name}`
          : c.kind === 'group'
            ? `+${groupNames.get(c.id) ?? c.name}`
            : `@${c.name}`,
      unread: c.unread,
      mentions: c.mentions,
      lastReadSeq: c.lastReadSeq,
      lastSeq: c.lastSeq,
    }));
  ctx.out({ conversations: rows }, () => {
    if (rows.length === 0) return 'nothing unread';
    const width = Math.max(...rows.map((r) => [...clean(r.label)].length));
    return rows
      .map((r) => {
        const mentions = r.mentions === 0 ? '' : `, ${r.mentions} mention${r.mentions === 1 ? '' : 's'}`;
        return `${clean(r.label).padEnd(width)}  ${r.unread} unread${mentions}`;
      })
      .join('\n');
  });
});
