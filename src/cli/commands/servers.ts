import { distinctNames } from '../../client/names.js';
import { listServers } from '../resolve.js';
import { act } from '../session.js';
import { table } from '../util.js';

/** `natter servers` */
export const servers = act(async (ctx) => {
  const servers = await listServers(ctx.s);
  const names = distinctNames(servers);
  ctx.out({ servers }, () =>
    servers.length === 0
      ? 'no servers yet: create one with "natter server create <name>" or join with "natter join <code>"'
      : table(
          ['NAME', 'ROLE', 'MEMBERS', 'ID', 'DESCRIPTION'],
          servers.map((x) => [names.get(x.id) ?? x.name, x.role, String(x.memberCount), x.id, x.description ?? '']),
        ),
  );
});
