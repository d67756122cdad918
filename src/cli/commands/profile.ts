import { checkFile, checkSizes, upload } from '../files.js';
import { act } from '../session.js';
import { fmtTime, table } from '../util.js';
import { OPERATOR, pictureWords } from './whoami.js';

/**
 * `natter profile [--display-name X] [--status X] [--bio X] [--avatar PATH]`;
 * `--avatar none` (or `""`) removes the picture.
 */
export const profile = act(async (ctx) => {
  const o = ctx.opts as { displayName?: string; status?: string; bio?: string; avatar?: string };
  const changes: {
    displayName?: string | null;
    status?: string | null;
    bio?: string | null;
    avatar?: string | null;
  } = {};
  if (o.displayName !== undefined) changes.displayName = o.displayName === '' ? null : o.displayName;
  if (o.status !== undefined) changes.status = o.status === '' ? null : o.status;
  if (o.bio !== undefined) changes.bio = o.bio === '' ? null : o.bio;
  if (o.avatar === '' || o.avatar === 'none') {
    changes.avatar = null;
  } else if (o.avatar !== undefined) {
    const file = await checkFile(o.avatar, '--avatar');
    const media = await ctx.s.media();
    checkSizes(media, [file], '--avatar');
    changes.avatar = (await upload(media, file, 'avatar', ctx.g.server)).id;
  }
  const user =
    Object.keys(changes).length > 0
      ? (await ctx.s.request('profile.update', changes)).user
      : (await ctx.s.request('whoami', {})).user;
  ctx.out({ user }, () =>
    table(
      ['', ''],
      [
        ['username', user.username],
        ['display name', user.displayName ?? '-'],
        ['status', user.status ?? '-'],
        ['bio', user.bio ?? '-'],
        ['picture', pictureWords(user.avatar)],
        ['since', fmtTime(user.createdAt)],
        ...(user.operator ? [['operator', OPERATOR]] : []),
      ],
    )
      .split('\n')
      .slice(1)
      .join('\n'),
  );
});
