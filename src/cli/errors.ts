// Exit codes and expected failures of the CLI. No imports: main.ts loads this
// on every run, before it knows which command runs.

/** Exit codes of the natter CLI (docs/cli.md). */
export const EXIT = {
  ok: 0,
  /** The server refused (an error reply), or a name did not resolve. */
  refused: 1,
  /** The command line was wrong. */
  usage: 2,
  /** Not logged in, or bad credentials. */
  auth: 3,
  /** The server could not be reached. */
  unreachable: 4,
} as const;

/** An expected failure: printed as `error: <code>: <message>` and mapped to an exit code, never a stack trace. */
export class CliError extends Error {
  constructor(
    readonly exitCode: number,
    readonly code: string | null,
    message: string,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export const usageError = (message: string): CliError => new CliError(EXIT.usage, 'usage', message);
export const notFound = (message: string): CliError => new CliError(EXIT.refused, 'not_found', message);

/** A name that matches several things: lists them (each line starting with a name that names it alone), and asks for one. */
export function ambiguous(what: string, name: string, candidates: string[]): CliError {
  return new CliError(
    EXIT.refused,
    'ambiguous',
    `${what} "${name}" is ambiguous; it matches:\n${candidates.map((c) => `  ${c}`).join('\n')}\n(use one of these names, or the id)`,
  );
}

/** Is this the protocol's NatterError (checked by shape, so the CLI need not load the protocol to tell)? */
export function isNatterError(err: unknown): err is Error & { code: string } {
  return err instanceof Error && err.name === 'NatterError' && typeof (err as { code?: unknown }).code === 'string';
}

/**
 * A server error's message as a person should read it: the server starts
 * messages about a request field with its protocol name (`params.password:
 * password must be ...`), which means nothing to someone who typed an
 * argument or answered a prompt, so that prefix is dropped.
 */
export function plainMessage(err: Error & { field?: unknown }): string {
  const field = typeof err.field === 'string' ? err.field : null;
  return field && err.message.startsWith(`${field}: `) ? err.message.slice(field.length + 2) : err.message;
}
