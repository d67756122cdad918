import { NatterError, PROTOCOL_VERSION, SUPPORTED_PROTOCOLS } from '../../protocol/index.js';
import type { Handler } from '../context.js';

export const hello: Handler<'hello'> = (ctx, { protocol }) => {
  if (!SUPPORTED_PROTOCOLS.includes(protocol)) {
    throw new NatterError(
      'unsupported_version',
      `this server speaks protocol ${SUPPORTED_PROTOCOLS.join(', ')}, not ${protocol}: upgrade your client or the server`,
      { field: 'params.protocol' },
    );
  }
  return {
    protocol: PROTOCOL_VERSION,
    server: { name: 'natter', version: ctx.version },
    authenticated: ctx.session !== null,
    registration: ctx.config.registration,
    mail: ctx.config.mail !== null,
    emailRequired: ctx.config.mail?.requireEmail === true,
  };
};

export const ping: Handler<'ping'> = (ctx) => ({ now: ctx.clock() });
