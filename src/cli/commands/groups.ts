import { distinctNames } from '../../client/names.js';
import { listGroups } from '../resolve.js';
import { act } from '../session.js';
import { table } from '../util.js';

/** `natter groups` */
export const groups = act(async (ctx) => {
  const groups = await listGroups(ctx.s);
  const names = distinctNames(groups);
  ctx.out({ groups }, () =>
    groups.length === 0
      ? 'no groups yet'
      : table(
          ['GROUP', 'MEMBERS', 'ID'],
          groups.map((g) => [`+${names.get(g.id) ?? g.name}`, g.members.map((m) => m.username).join(', '), g.id]),
        ),
  );
});
