import { Command } from 'commander';
import { VERSION } from '../package-info.js';
import { serveCommand } from './commands/serve.js';

/** The `natter` command line. Building it has no side effects, so tests can import it. */
export function buildProgram(): Command {
  return new Command('natter')
    .description('natter: self-hosted chat for the terminal')
    .version(VERSION, '-V, --version', 'print the version')
    .addCommand(serveCommand())
    .showHelpAfterError('(run with --help for usage)');
}
