import { buildProgram } from './program.js';

// The entry point behind bin/natter.
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
  const code = (err as { code?: string }).code;
  if (code === 'commander.helpDisplayed' || code === 'commander.version' || code === 'commander.help') {
    process.exitCode = 0;
  } else if (typeof code === 'string' && code.startsWith('commander.')) {
    process.exitCode = 2;
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
