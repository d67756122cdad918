import type { OpName } from '../../protocol/index.js';
import type { Handler } from '../context.js';
import { auth, changePassword, getUser, login, logout, register, whoami } from './accounts.js';
import { changeUsername, updateProfile } from './profile.js';
import { createToken, listSessions, listTokens, revokeSession, revokeToken } from './sessions.js';
import { hello, ping } from './system.js';

/** One handler per operation; a missing entry is a compile error. */
export const handlers: { [N in OpName]: Handler<N> } = {
  hello,
  ping,
  register,
  login,
  auth,
  logout,
  whoami,
  'users.get': getUser,
  'profile.update': updateProfile,
  'username.change': changeUsername,
  'password.change': changePassword,
  'sessions.list': listSessions,
  'sessions.revoke': revokeSession,
  'tokens.create': createToken,
  'tokens.list': listTokens,
  'tokens.revoke': revokeToken,
};
