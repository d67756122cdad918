import { Command, Option } from 'commander';
import { VERSION } from '../package-info.js';
import { backupCommand } from './commands/backup.js';
import { banCommand } from './commands/ban.js';
import { bansCommand } from './commands/bans.js';
import { channelCommand } from './commands/channel.js';
import { channelsCommand } from './commands/channels.js';
import { deleteCommand } from './commands/delete.js';
import { dmsCommand } from './commands/dms.js';
import { editCommand } from './commands/edit.js';
import { groupCommand } from './commands/group.js';
import { groupsCommand } from './commands/groups.js';
import { historyCommand } from './commands/history.js';
import { inviteCommand } from './commands/invite.js';
import { joinCommand } from './commands/join.js';
import { kickCommand } from './commands/kick.js';
import { leaveCommand } from './commands/leave.js';
import { listenCommand } from './commands/listen.js';
import { loginCommand } from './commands/login.js';
import { logoutCommand } from './commands/logout.js';
import { membersCommand } from './commands/members.js';
import { onlineCommand } from './commands/online.js';
import { passwdCommand } from './commands/passwd.js';
import { profileCommand } from './commands/profile.js';
import { readCommand } from './commands/read.js';
import { registerCommand } from './commands/register.js';
import { renameCommand } from './commands/rename.js';
import { roleCommand } from './commands/role.js';
import { sendCommand } from './commands/send.js';
import { serveCommand } from './commands/serve.js';
import { serverCommand } from './commands/server.js';
import { serversCommand } from './commands/servers.js';
import { sessionsCommand } from './commands/sessions.js';
import { tokenCommand } from './commands/token.js';
import { startTui, tuiCommand } from './commands/tui.js';
import { unbanCommand } from './commands/unban.js';
import { whoamiCommand } from './commands/whoami.js';
import { serverUrl } from './util.js';

/**
 * The `natter` command line. Building it has no side effects, so tests can
 * import it. The command modules import only commander and small helpers: the
 * client (ws) and the protocol (zod) load when a command runs.
 */
export function buildProgram(): Command {
  const program = new Command('natter')
    .description('natter: self-hosted chat for the terminal')
    .version(VERSION, '-V, --version', 'print the version')
    .addOption(
      new Option('--server <url>', 'the server: ws://, wss:// or tcp:// URL')
        .env('NATTER_SERVER')
        .default('ws://127.0.0.1:7777')
        .argParser(serverUrl),
    )
    .addOption(
      new Option(
        '--config-dir <dir>',
        'where credentials are kept (default: $XDG_CONFIG_HOME/natter or ~/.config/natter)',
      ).env('NATTER_HOME'),
    )
    .option('--json', 'machine-readable output: one JSON document on stdout (NDJSON for listen)')
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText(
      'after',
      '\nTargets: server/channel, @username (DM), +group; names or ids.\nExit codes: 0 ok, 1 refused by the server, 2 usage, 3 not logged in, 4 server unreachable.\nSee docs/cli.md.',
    );
  for (const cmd of [
    serveCommand(),
    backupCommand(),
    registerCommand(),
    loginCommand(),
    logoutCommand(),
    whoamiCommand(),
    passwdCommand(),
    sessionsCommand(),
    tokenCommand(),
    profileCommand(),
    renameCommand(),
    serversCommand(),
    serverCommand(),
    membersCommand(),
    onlineCommand(),
    inviteCommand(),
    joinCommand(),
    leaveCommand(),
    channelsCommand(),
    channelCommand(),
    kickCommand(),
    banCommand(),
    unbanCommand(),
    bansCommand(),
    roleCommand(),
    groupsCommand(),
    groupCommand(),
    dmsCommand(),
    sendCommand(),
    historyCommand(),
    editCommand(),
    deleteCommand(),
    readCommand(),
    listenCommand(),
    tuiCommand(),
  ]) {
    program.addCommand(cmd);
  }
  // A bare `natter` on a terminal opens the app; elsewhere (pipes, scripts) it prints help.
  program.action(async (_opts, cmd: Command) => {
    if (process.stdin.isTTY && process.stdout.isTTY) await startTui(cmd);
    else program.help();
  });
  return program;
}
