import { VERSION } from '../package-info.js';
import { CliError, EXIT, isNatterError, plainMessage, refusalExit } from './errors.js';

// The entry point behind bin/natter.
// `natter ... | head`: a closed stdout ends the command quietly.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});

const json = process.argv.includes('--json');
const args = process.argv.slice(2);
if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
  // What commander prints for these, without loading commander and the command definitions.
  process.stdout.write(`${VERSION}\n`);
} else {
  await run();
}

async function run(): Promise<void> {
  const { buildProgram } = await import('./program.js');
  const program = buildProgram();
  // Parse errors throw instead of exiting, so usage errors get exit code 2 everywhere.
  const overrideExit = (cmd: typeof program): void => {
    cmd.exitOverride();
    for (const sub of cmd.commands) overrideExit(sub);
  };
  overrideExit(program);
  try {
    await program.parseAsync(process.argv);
  } catch (err) {
    report(err);
  }
}

/** Reports an expected failure: one line on stderr (and with --json, an error document on stdout). */
function fail(exitCode: number, code: string, message: string): void {
  process.stderr.write(`error: ${code}: ${message}\n`);
  if (json) process.stdout.write(`${JSON.stringify({ error: { code, message, exitCode } })}\n`);
  process.exitCode = exitCode;
}

/** Maps what a command threw to its output and exit code (docs/cli.md). */
function report(err: unknown): void {
  const code = (err as { code?: string }).code;
  if (err instanceof CliError) {
    fail(err.exitCode, err.code ?? 'error', err.message);
  } else if (isNatterError(err)) {
    fail(refusalExit(err), err.code, plainMessage(err));
  } else if (code === 'commander.helpDisplayed' || code === 'commander.version' || code === 'commander.help') {
    process.exitCode = 0;
  } else if (typeof code === 'string' && code.startsWith('commander.')) {
    // commander has printed the message already.
    if (json) {
      const message = err instanceof Error ? err.message.replace(/^error: /, '') : String(err);
      process.stdout.write(`${JSON.stringify({ error: { code: 'usage', message, exitCode: EXIT.usage } })}\n`);
    }
    process.exitCode = EXIT.usage;
  } else {
    const e = err as NodeJS.ErrnoException;
    const message =
      e.code === 'EADDRINUSE'
        ? `${e.message}: another process uses that port; stop it or pick another with --port or --tcp-port`
        : e.message;
    process.stderr.write(`natter: ${message}\n`);
    process.exitCode = 1;
  }
}
