import { createRequire } from 'node:module';
import type * as commander from 'commander';

// commander is CommonJS. Required directly it loads in about two thirds of the
// time it takes through its ES module wrapper, and every run of the CLI loads
// it (all but `natter --version`). The same module instance either way.
const loaded = createRequire(import.meta.url)('commander') as typeof commander;

export const { Argument, Command, InvalidArgumentError, Option } = loaded;
export type Argument = commander.Argument;
export type Command = commander.Command;
export type InvalidArgumentError = commander.InvalidArgumentError;
export type Option = commander.Option;
