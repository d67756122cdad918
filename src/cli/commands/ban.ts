import type { Command } from 'commander';
import { moderation } from '../moderation.js';

/** `natter ban <server> <username>` */
export const banCommand = (): Command => moderation('ban', 'ban a user from a server');
