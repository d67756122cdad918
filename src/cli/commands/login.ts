import type { Command } from 'commander';
import { credentialCommand } from '../credential-commands.js';

/** `natter login <username>` */
export function loginCommand(): Command {
  return credentialCommand('login', 'log in and keep the session token in the config dir');
}
