import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import type { MailSettings } from '../../src/server/config.js';
import { waitFor } from './wait.js';

/** A mail the test SMTP server received, parsed. */
export type ReceivedMail = { to: string; from: string; subject: string; text: string };

/**
 * A real SMTP server on a free port (smtp-server), keeping what it receives
 * (parsed with mailparser). It can refuse mail (`refusing`), or be closed and
 * opened again on the same port, to play an SMTP outage.
 */
export class TestSmtp {
  readonly mails: ReceivedMail[] = [];
  /** While true, every RCPT TO is answered 451 (a temporary failure). */
  refusing = false;
  port = 0;
  #server: SMTPServer | null = null;

  static async start(): Promise<TestSmtp> {
    const smtp = new TestSmtp();
    await smtp.open();
    return smtp;
  }

  /** Listens (again): on a free port the first time, on the same port after `close`. */
  async open(): Promise<void> {
    const server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      onRcptTo: (_address, _session, callback) => {
        if (!this.refusing) return callback();
        const err = new Error('try again later') as Error & { responseCode: number };
        err.responseCode = 451;
        callback(err);
      },
      onData: (stream, _session, callback) => {
        simpleParser(stream).then(
          (parsed) => {
            const to = Array.isArray(parsed.to) ? parsed.to[0] : parsed.to;
            this.mails.push({
              to: to?.value[0]?.address ?? '',
              from: parsed.from?.value[0]?.address ?? '',
              subject: parsed.subject ?? '',
              text: parsed.text ?? '',
            });
            callback();
          },
          (err: unknown) => callback(err as Error),
        );
      },
    });
    server.on('error', () => {});
    server.listen(this.port, '127.0.0.1');
    await once(server.server, 'listening');
    this.port = (server.server.address() as AddressInfo).port;
    this.#server = server;
  }

  /** Stops listening: connections to its port are refused until `open`. */
  async close(): Promise<void> {
    const server = this.#server;
    this.#server = null;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  get url(): string {
    return `smtp://127.0.0.1:${this.port}`;
  }

  /** Server mail settings pointing at this server; retries fast, so tests wait little. */
  settings(extra: Partial<MailSettings> = {}): MailSettings {
    return {
      url: this.url,
      from: 'natter@example.org',
      requireEmail: false,
      unverifiedTtlMs: 48 * 3600 * 1000,
      retryBaseMs: 20,
      retryMaxMs: 200,
      breakerCoolDownMs: 200,
      ...extra,
    };
  }

  /** Waits for the `n`th mail (1 = the first) to `to`, and returns it. */
  async mailTo(to: string, n = 1): Promise<ReceivedMail> {
    return waitFor(() => this.mails.filter((m) => m.to === to)[n - 1], {
      what: `mail number ${n} to ${to}`,
      detail: () => `received: ${this.mails.map((m) => `${m.to} "${m.subject}"`).join(', ') || 'nothing'}`,
    });
  }
}

/** The code a natter mail carries (`ABCD-EFGH`). */
export function codeIn(mail: ReceivedMail): string {
  const m = /\b([A-Z0-9]{4}-[A-Z0-9]{4})\b/.exec(mail.text);
  if (!m?.[1]) throw new Error(`no code in the mail "${mail.subject}":\n${mail.text}`);
  return m[1];
}
