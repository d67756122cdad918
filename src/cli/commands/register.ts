import type { Command } from 'commander';
import { credentialCommand } from '../credential-commands.js';

/** `natter register <username>` */
export function registerCommand(): Command {
  return credentialCommand('register', 'create an account and log in (the token is kept in the config dir)');
}
