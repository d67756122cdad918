import type { Command } from 'commander';
import { moderation } from '../moderation.js';

/** `natter unban <server> <username>` */
export const unbanCommand = (): Command => moderation('unban', 'lift a ban');
