// The server list a client is given: one URL, or several separated by commas
// (the nodes of one cluster), tried in turn. Node built-ins only: the CLI checks
// --server with this before it loads anything else.

const SCHEMES = ['ws:', 'wss:', 'tcp:', 'tls:'];

/**
 * The URLs of a comma-separated server list (`ws://a:7777,wss://b`), in order,
 * blanks around each trimmed. Every entry must be a ws://, wss://, tcp:// or
 * tls:// URL with a host; an empty entry or a bad one throws, naming it.
 */
export function parseServerList(text: string): string[] {
  const entries = text.split(',').map((s) => s.trim());
  if (entries.length === 1 && entries[0] === '') {
    throw new Error(
      'no server given: expected a URL such as ws://127.0.0.1:7777, wss://chat.example or tcp://127.0.0.1:7778',
    );
  }
  return entries.map((entry, i) => {
    const which = entries.length > 1 ? `server ${i + 1} of ${entries.length}` : 'the server';
    if (entry === '') throw new Error(`${which} is empty: separate the URLs with single commas`);
    let u: URL;
    try {
      u = new URL(entry);
    } catch {
      throw new Error(
        `${which} "${entry}" is not a URL: expected one such as ws://127.0.0.1:7777, wss://chat.example or tcp://127.0.0.1:7778`,
      );
    }
    if (!SCHEMES.includes(u.protocol)) {
      throw new Error(`${which} "${entry}" has the wrong scheme: expected a ws://, wss://, tcp:// or tls:// URL`);
    }
    if (u.hostname === '') throw new Error(`${which} "${entry}" names no host`);
    return entry;
  });
}

/** Why each server of a list could not be reached (the error is that of the last step tried on each). */
export class ServersUnreachableError extends Error {
  constructor(readonly failures: readonly { url: string; error: Error }[]) {
    super(`no server answered: ${failures.map((f) => `${f.url}: ${f.error.message}`).join('; ')}`);
    this.name = 'ServersUnreachableError';
  }
}
