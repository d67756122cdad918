import type { OpName } from '../../protocol/index.js';
import type { Handler } from '../context.js';
import { deleteAccount, exportAccount } from './account.js';
import { auth, changePassword, getUser, login, logout, register, whoami } from './accounts.js';
import { createAttachment, getAttachment } from './attachments.js';
import { listAudit } from './audit.js';
import { approveHeld, createRule, deleteRule, listHeld, listRules, rejectHeld, updateRule } from './automod.js';
import { createChannel, deleteChannel, listChannels, updateChannel } from './channels.js';
import { listConversations, listDms, markRead, startTyping } from './conversations.js';
import { removeEmail, resendEmail, resetPassword, resetRequest, setEmail, verifyEmail } from './email.js';
import {
  acceptInvitation,
  addToGroup,
  createGroup,
  declineInvitation,
  leaveGroup,
  listGroups,
  listInvitations,
  renameGroup,
} from './groups.js';
import { createInvite, joinByInvite, listInvites, revokeInvite } from './invites.js';
import { deleteMessage, editMessage, history, sendMessage } from './messages.js';
import { setSlowmode, timeoutMember, untimeoutMember } from './moderation.js';
import { changeUsername, updateProfile } from './profile.js';
import { createReport, listReports, resolveReport } from './reports.js';
import { searchMessages } from './search.js';
import {
  addBan,
  createServer,
  deleteServer,
  getServer,
  kickMember,
  leaveServer,
  listBans,
  listMembers,
  listServers,
  onlineMembers,
  removeBan,
  setRole,
  transferServer,
  updateServer,
} from './servers.js';
import { createToken, listSessions, listTokens, revokeSession, revokeToken } from './sessions.js';
import { addBlock, getSettings, listBlocks, removeBlock, updateSettings } from './social.js';
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
  'account.delete': deleteAccount,
  'account.export': exportAccount,
  'email.set': setEmail,
  'email.resend': resendEmail,
  'email.verify': verifyEmail,
  'email.remove': removeEmail,
  'password.resetRequest': resetRequest,
  'password.reset': resetPassword,
  'sessions.list': listSessions,
  'sessions.revoke': revokeSession,
  'tokens.create': createToken,
  'tokens.list': listTokens,
  'tokens.revoke': revokeToken,
  'servers.create': createServer,
  'servers.update': updateServer,
  'servers.delete': deleteServer,
  'servers.list': listServers,
  'servers.get': getServer,
  'servers.leave': leaveServer,
  'servers.transfer': transferServer,
  'members.list': listMembers,
  'members.online': onlineMembers,
  'members.role': setRole,
  'members.kick': kickMember,
  'members.timeout': timeoutMember,
  'members.untimeout': untimeoutMember,
  'bans.add': addBan,
  'bans.remove': removeBan,
  'bans.list': listBans,
  'audit.list': listAudit,
  'reports.create': createReport,
  'reports.list': listReports,
  'reports.resolve': resolveReport,
  'automod.list': listRules,
  'automod.create': createRule,
  'automod.update': updateRule,
  'automod.delete': deleteRule,
  'held.list': listHeld,
  'held.approve': approveHeld,
  'held.reject': rejectHeld,
  'channels.create': createChannel,
  'channels.update': updateChannel,
  'channels.slowmode': setSlowmode,
  'channels.delete': deleteChannel,
  'channels.list': listChannels,
  'invites.create': createInvite,
  'invites.list': listInvites,
  'invites.revoke': revokeInvite,
  'invites.join': joinByInvite,
  'groups.create': createGroup,
  'groups.add': addToGroup,
  'groups.rename': renameGroup,
  'groups.leave': leaveGroup,
  'groups.list': listGroups,
  'groups.invitations': listInvitations,
  'groups.accept': acceptInvitation,
  'groups.decline': declineInvitation,
  'settings.get': getSettings,
  'settings.update': updateSettings,
  'blocks.add': addBlock,
  'blocks.remove': removeBlock,
  'blocks.list': listBlocks,
  'dms.list': listDms,
  'conversations.list': listConversations,
  'attachments.create': createAttachment,
  'attachments.get': getAttachment,
  'messages.send': sendMessage,
  'messages.edit': editMessage,
  'messages.delete': deleteMessage,
  'messages.history': history,
  'messages.search': searchMessages,
  'read.mark': markRead,
  'typing.start': startTyping,
};
