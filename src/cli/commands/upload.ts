import { act } from '../session.js';
import { sendMessage } from './send.js';

/** `natter upload <path> --to <target>`: a message of that file alone; prints what `send` prints. */
export const upload = act(async (ctx, path: string) => {
  const o = ctx.opts as { to: string };
  await sendMessage(ctx, o.to, { body: null, kind: 'text', paths: [path], option: null });
});
