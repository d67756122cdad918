import { listDms } from '../resolve.js';
import { act } from '../session.js';
import { fmtTime, table } from '../util.js';

/** `natter dms` */
export const dms = act(async (ctx) => {
  const dms = await listDms(ctx.s);
  ctx.out({ dms }, () =>
    dms.length === 0
      ? 'no direct messages yet: natter send @username <text>'
      : table(
          ['WITH', 'UNREAD', 'LAST', 'LAST MESSAGE'],
          dms.map((d) => [
            d.peer?.deleted ? 'deleted user' : `@${d.peer?.username ?? d.name}`,
            String(d.unread),
            fmtTime(d.lastMessage?.createdAt),
            d.lastMessage ? `${d.lastMessage.author.username}: ${d.lastMessage.body || '(deleted)'}` : '',
          ]),
        ),
  );
});
