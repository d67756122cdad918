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
 * A server error's message as a person should read it. The server words its
 * messages for people, but servers before 0.1 started those about a request
 * field with its protocol name (`params.password: ...`), which means nothing
 * to someone who typed an argument or answered a prompt: that prefix is
 * dropped. An operation the server does not know means the server is older
 * than this client; its message would name the operation.
 */
export function plainMessage(err: Error & { code?: unknown; field?: unknown }): string {
  if (err.code === 'unknown_op') {
    return 'the server does not know this command: it runs an older natter than this one; upgrade the server';
  }
  const field = typeof err.field === 'string' ? err.field : null;
  return field && err.message.startsWith(`${field}: `) ? err.message.slice(field.length + 2) : err.message;
}

/** The exit code of a refusal from the server: 3 when it is about logging in, else 1. */
export function refusalExit(err: { code: string }): number {
  return err.code === 'unauthenticated' || err.code === 'invalid_credentials' ? EXIT.auth : EXIT.refused;
}

/** Request fields (as the protocol names them, without `params.`) and the option a person gives them with. */
export type FieldOptions = Readonly<Record<string, string>>;

/**
 * A server refusal about a field the person gave as an option (`--max-uses`,
 * `--display-name`) names that option, so they know which part of what they
 * typed to change: `display name must be at most 64 characters
 * (--display-name)`. Anything else is returned as it is.
 */
export function namingOption(err: unknown, options: FieldOptions): unknown {
  if (!isNatterError(err)) return err;
  const field = (err as { field?: unknown }).field;
  if (typeof field !== 'string') return err;
  const option = options[field.replace(/^params\./, '').replace(/(\[\d+\]|\.\d+)$/, '')];
  if (option === undefined) return err;
  return new CliError(refusalExit(err), err.code, `${plainMessage(err)} (${option})`);
}
