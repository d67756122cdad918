import { Argument, Command, Option } from 'commander';
import { resolveChannel, resolveServer, resolveUser } from '../resolve.js';
import { act } from '../session.js';
import { clean, duration, fmtTime, positiveInt, table, usageError, who } from '../util.js';

/** `natter servers` */
export function serversCommand(): Command {
  return new Command('servers').description('list the servers you are a member of').action(
    act(async (ctx) => {
      const { servers } = await ctx.s.request('servers.list', {});
      ctx.out({ servers }, () =>
        servers.length === 0
          ? 'no servers yet: create one with "natter server create <name>" or join with "natter join <code>"'
          : table(
              ['NAME', 'ROLE', 'MEMBERS', 'ID', 'DESCRIPTION'],
              servers.map((x) => [x.name, x.role, String(x.memberCount), x.id, x.description ?? '']),
            ),
      );
    }),
  );
}

/** `natter server create|edit|delete` */
export function serverCommand(): Command {
  const create = new Command('create')
    .description('create a server (you own it; it starts with #general)')
    .argument('<name>')
    .option('--description <text>', 'what it is about')
    .action(
      act(async (ctx, name: string) => {
        const o = ctx.opts as { description?: string };
        const res = await ctx.s.request('servers.create', {
          name,
          ...(o.description !== undefined ? { description: o.description } : {}),
        });
        ctx.out(
          res,
          () =>
            `created server ${clean(res.server.name)} (${res.server.id}) with channel${res.channels.length === 1 ? '' : 's'} ${res.channels.map((c) => `#${clean(c.name)}`).join(', ')}`,
        );
      }),
    );
  const edit = new Command('edit')
    .description('rename a server or change its description ("" clears it)')
    .argument('<server>')
    .option('--name <name>', 'new name')
    .option('--description <text>', 'new description')
    .action(
      act(async (ctx, ref: string) => {
        const o = ctx.opts as { name?: string; description?: string };
        if (o.name === undefined && o.description === undefined) throw usageError('give --name or --description');
        const server = await resolveServer(ctx.s, ref);
        const res = await ctx.s.request('servers.update', {
          serverId: server.id,
          ...(o.name !== undefined ? { name: o.name } : {}),
          ...(o.description !== undefined ? { description: o.description === '' ? null : o.description } : {}),
        });
        ctx.out(res, () => `updated server ${clean(res.server.name)}`);
      }),
    );
  const del = new Command('delete')
    .description('delete a server with its channels and messages (owner only)')
    .argument('<server>')
    .action(
      act(async (ctx, ref: string) => {
        const server = await resolveServer(ctx.s, ref);
        await ctx.s.request('servers.delete', { serverId: server.id });
        ctx.out({ ok: true, serverId: server.id }, () => `deleted server ${clean(server.name)}`);
      }),
    );
  return new Command('server')
    .description('create, edit and delete servers')
    .addCommand(create)
    .addCommand(edit)
    .addCommand(del);
}

/** `natter members <server>` */
export function membersCommand(): Command {
  return new Command('members')
    .description("a server's members, with role and presence")
    .argument('<server>')
    .action(
      act(async (ctx, ref: string) => {
        const server = await resolveServer(ctx.s, ref);
        const { members } = await ctx.s.request('members.list', { serverId: server.id });
        ctx.out({ serverId: server.id, members }, () =>
          table(
            ['USERNAME', 'DISPLAY NAME', 'ROLE', 'ONLINE', 'JOINED'],
            members.map((m) => [
              m.user.username,
              m.user.displayName ?? '',
              m.role,
              m.online ? 'yes' : 'no',
              fmtTime(m.joinedAt),
            ]),
          ),
        );
      }),
    );
}

/** `natter online <server>` */
export function onlineCommand(): Command {
  return new Command('online')
    .description('who is online in a server right now')
    .argument('<server>')
    .action(
      act(async (ctx, ref: string) => {
        const server = await resolveServer(ctx.s, ref);
        const { users } = await ctx.s.request('members.online', { serverId: server.id });
        ctx.out({ serverId: server.id, users }, () =>
          users.length === 0 ? 'nobody is online' : users.map((u) => clean(who(u))).join('\n'),
        );
      }),
    );
}

/** `natter invite create|list|revoke` */
export function inviteCommand(): Command {
  const create = new Command('create')
    .description('create an invite code and print it')
    .argument('<server>')
    .addOption(new Option('--max-uses <n>', 'how many people may use it').argParser(positiveInt))
    .addOption(new Option('--expires <duration>', 'lifetime: 30m, 1h, 7d, 2w (at least 1m)').argParser(duration))
    .action(
      act(async (ctx, ref: string) => {
        const o = ctx.opts as { maxUses?: number; expires?: number };
        const server = await resolveServer(ctx.s, ref);
        const { invite } = await ctx.s.request('invites.create', {
          serverId: server.id,
          ...(o.maxUses !== undefined ? { maxUses: o.maxUses } : {}),
          ...(o.expires !== undefined ? { expiresInSeconds: o.expires } : {}),
        });
        ctx.out({ invite }, () => invite.code);
      }),
    );
  const list = new Command('list')
    .description("a server's live invite codes")
    .argument('<server>')
    .action(
      act(async (ctx, ref: string) => {
        const server = await resolveServer(ctx.s, ref);
        const { invites } = await ctx.s.request('invites.list', { serverId: server.id });
        ctx.out({ serverId: server.id, invites }, () =>
          table(
            ['CODE', 'USES', 'EXPIRES', 'CREATED', 'BY'],
            invites.map((i) => [
              i.code,
              i.maxUses === null ? String(i.uses) : `${i.uses}/${i.maxUses}`,
              i.expiresAt === null ? 'never' : fmtTime(i.expiresAt),
              fmtTime(i.createdAt),
              i.createdBy.username,
            ]),
          ),
        );
      }),
    );
  const revoke = new Command('revoke')
    .description('revoke an invite code')
    .argument('<server>')
    .argument('<code>')
    .action(
      act(async (ctx, ref: string, code: string) => {
        const server = await resolveServer(ctx.s, ref);
        await ctx.s.request('invites.revoke', { serverId: server.id, code });
        ctx.out({ ok: true, serverId: server.id, code }, () => `revoked invite ${clean(code)}`);
      }),
    );
  return new Command('invite').description('invite codes').addCommand(create).addCommand(list).addCommand(revoke);
}

/** `natter join <code>` */
export function joinCommand(): Command {
  return new Command('join')
    .description('join a server with an invite code')
    .argument('<code>')
    .action(
      act(async (ctx, code: string) => {
        const res = await ctx.s.request('invites.join', { code: code.trim() });
        ctx.out(
          res,
          () =>
            `${res.alreadyMember ? 'already a member of' : 'joined'} ${clean(res.server.name)}; channels: ${res.channels.map((c) => `#${clean(c.name)}`).join(', ')}`,
        );
      }),
    );
}

/** `natter leave <server>` */
export function leaveCommand(): Command {
  return new Command('leave')
    .description('leave a server')
    .argument('<server>')
    .action(
      act(async (ctx, ref: string) => {
        const server = await resolveServer(ctx.s, ref);
        await ctx.s.request('servers.leave', { serverId: server.id });
        ctx.out({ ok: true, serverId: server.id }, () => `left ${clean(server.name)}`);
      }),
    );
}

/** `natter channels <server>` */
export function channelsCommand(): Command {
  return new Command('channels')
    .description("a server's channels")
    .argument('<server>')
    .action(
      act(async (ctx, ref: string) => {
        const server = await resolveServer(ctx.s, ref);
        const { channels } = await ctx.s.request('servers.get', { serverId: server.id });
        ctx.out({ serverId: server.id, channels }, () =>
          table(
            ['CHANNEL', 'MESSAGES', 'TOPIC'],
            channels.map((c) => [`#${c.name}`, String(c.lastSeq), c.topic ?? '']),
          ),
        );
      }),
    );
}

/** `natter channel create|rename|delete|topic <server> <channel>` */
export function channelCommand(): Command {
  const create = new Command('create')
    .description('create a channel (owner and admins)')
    .argument('<server>')
    .argument('<channel>')
    .option('--topic <text>', 'its topic')
    .action(
      act(async (ctx, ref: string, name: string) => {
        const o = ctx.opts as { topic?: string };
        const server = await resolveServer(ctx.s, ref);
        const { channel } = await ctx.s.request('channels.create', {
          serverId: server.id,
          name: name.replace(/^#/, ''),
          ...(o.topic !== undefined ? { topic: o.topic } : {}),
        });
        ctx.out({ channel }, () => `created #${clean(channel.name)} in ${clean(server.name)}`);
      }),
    );
  const rename = new Command('rename')
    .description('rename a channel')
    .argument('<server>')
    .argument('<channel>')
    .argument('<new-name>')
    .action(
      act(async (ctx, ref: string, ch: string, name: string) => {
        const { channel: old } = await resolveChannel(ctx.s, ref, ch);
        const { channel } = await ctx.s.request('channels.update', { channelId: old.id, name: name.replace(/^#/, '') });
        ctx.out({ channel }, () => `renamed #${clean(old.name)} to #${clean(channel.name)}`);
      }),
    );
  const del = new Command('delete')
    .description('delete a channel and its messages')
    .argument('<server>')
    .argument('<channel>')
    .action(
      act(async (ctx, ref: string, ch: string) => {
        const { channel } = await resolveChannel(ctx.s, ref, ch);
        await ctx.s.request('channels.delete', { channelId: channel.id });
        ctx.out({ ok: true, channelId: channel.id }, () => `deleted #${clean(channel.name)}`);
      }),
    );
  const topic = new Command('topic')
    .description("show a channel's topic, or set it (--clear clears it)")
    .argument('<server>')
    .argument('<channel>')
    .argument('[topic...]')
    .option('--clear', 'clear the topic')
    .action(
      act(async (ctx, ref: string, ch: string, words: string[]) => {
        const o = ctx.opts as { clear?: boolean };
        const { channel: current } = await resolveChannel(ctx.s, ref, ch);
        if (words.length === 0 && !o.clear) {
          ctx.out({ channel: current }, () => (current.topic ? clean(current.topic) : '(no topic)'));
          return;
        }
        if (words.length > 0 && o.clear) throw usageError('give a topic or --clear, not both');
        const { channel } = await ctx.s.request('channels.update', {
          channelId: current.id,
          topic: o.clear ? null : words.join(' '),
        });
        ctx.out({ channel }, () =>
          channel.topic
            ? `topic of #${clean(channel.name)}: ${clean(channel.topic)}`
            : `cleared the topic of #${clean(channel.name)}`,
        );
      }),
    );
  return new Command('channel')
    .description('create, rename and delete channels, and set topics')
    .addCommand(create)
    .addCommand(rename)
    .addCommand(del)
    .addCommand(topic);
}

function moderation(name: 'kick' | 'ban' | 'unban', description: string): Command {
  const cmd = new Command(name).description(description).argument('<server>').argument('<username>');
  if (name === 'ban') cmd.option('--reason <text>', 'why (shown in the ban list)');
  return cmd.action(
    act(async (ctx, ref: string, username: string) => {
      const server = await resolveServer(ctx.s, ref);
      const user = await resolveUser(ctx.s, username);
      const ids = { serverId: server.id, userId: user.id };
      const reason = (ctx.opts as { reason?: string }).reason;
      if (name === 'kick') await ctx.s.request('members.kick', ids);
      else if (name === 'ban') await ctx.s.request('bans.add', { ...ids, ...(reason !== undefined ? { reason } : {}) });
      else await ctx.s.request('bans.remove', ids);
      const past = { kick: 'kicked', ban: 'banned', unban: 'unbanned' }[name];
      ctx.out(
        { ok: true, ...ids },
        () => `${past} ${clean(user.username)} ${name === 'unban' ? 'in' : 'from'} ${clean(server.name)}`,
      );
    }),
  );
}

export const kickCommand = (): Command => moderation('kick', 'remove a member from a server (they may rejoin)');
export const banCommand = (): Command => moderation('ban', 'ban a user from a server');
export const unbanCommand = (): Command => moderation('unban', 'lift a ban');

/** `natter bans <server>` */
export function bansCommand(): Command {
  return new Command('bans')
    .description("a server's bans (owner and admins)")
    .argument('<server>')
    .action(
      act(async (ctx, ref: string) => {
        const server = await resolveServer(ctx.s, ref);
        const { bans } = await ctx.s.request('bans.list', { serverId: server.id });
        ctx.out({ serverId: server.id, bans }, () =>
          table(
            ['USERNAME', 'BY', 'SINCE', 'REASON'],
            bans.map((b) => [b.user.username, b.bannedBy.username, fmtTime(b.createdAt), b.reason ?? '']),
          ),
        );
      }),
    );
}

/** `natter role <server> <username> admin|member` */
export function roleCommand(): Command {
  return new Command('role')
    .description("set a member's role (owner only)")
    .argument('<server>')
    .argument('<username>')
    .addArgument(new Argument('<role>').choices(['admin', 'member']))
    .action(
      act(async (ctx, ref: string, username: string, role: 'admin' | 'member') => {
        const server = await resolveServer(ctx.s, ref);
        const user = await resolveUser(ctx.s, username);
        const { member } = await ctx.s.request('members.role', { serverId: server.id, userId: user.id, role });
        ctx.out(
          { serverId: server.id, member },
          () => `${clean(member.user.username)} is now ${member.role} of ${clean(server.name)}`,
        );
      }),
    );
}
