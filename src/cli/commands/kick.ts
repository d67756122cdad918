import type { Command } from 'commander';
import { moderation } from '../moderation.js';

/** `natter kick <server> <username>` */
export const kickCommand = (): Command => moderation('kick', 'remove a member from a server (they may rejoin)');
