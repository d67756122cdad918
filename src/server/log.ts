/** Where the server writes its few lines: start, stop, unexpected errors. */
export type Logger = {
  info(message: string): void;
  /** Something the operator should fix, though the server runs. */
  warn(message: string): void;
  error(message: string, err?: unknown): void;
};

/** A logger writing to stderr, or a silent one. */
export function createLogger(enabled: boolean): Logger {
  if (!enabled) return { info() {}, warn() {}, error() {} };
  return {
    info: (message) => process.stderr.write(`${new Date().toISOString()} ${message}\n`),
    warn: (message) => process.stderr.write(`${new Date().toISOString()} warning: ${message}\n`),
    error: (message, err) => {
      const detail = err instanceof Error ? (err.stack ?? err.message) : err === undefined ? '' : String(err);
      process.stderr.write(`${new Date().toISOString()} error: ${message}${detail ? `\n${detail}` : ''}\n`);
    },
  };
}
