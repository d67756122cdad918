import { Command, Option } from 'commander';
import { VERSION } from '../package-info.js';
import {
  loginCommand,
  logoutCommand,
  passwdCommand,
  profileCommand,
  registerCommand,
  renameCommand,
  sessionsCommand,
  tokenCommand,
  whoamiCommand,
} from './commands/account.js';
import { dmsCommand, groupCommand, groupsCommand } from './commands/groups.js';
import { listenCommand } from './commands/listen.js';
import { deleteCommand, editCommand, historyCommand, readCommand, sendCommand } from './commands/messages.js';
import { serveCommand } from './commands/serve.js';
import {
  banCommand,
  bansCommand,
  channelCommand,
  channelsCommand,
  inviteCommand,
  joinCommand,
  kickCommand,
  leaveCommand,
  membersCommand,
  onlineCommand,
  roleCommand,
  serverCommand,
  serversCommand,
  unbanCommand,
} from './commands/servers.js';
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
  ]) {
    program.addCommand(cmd);
  }
  return program;
}
