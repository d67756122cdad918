import { createTransport } from 'nodemailer';

/** A mail as it leaves: plain text only. */
export type OutgoingMail = { from: string; to: string; subject: string; text: string };

/** Where mail leaves through: an SMTP server, reached anew (or pooled) for each mail. */
export type MailTransport = {
  /** Hands the mail to the server; rejects when the server could not be reached or refused it. */
  send(mail: OutgoingMail): Promise<void>;
  close(): void;
};

/**
 * The SMTP server `url` names (`smtp://user:pass@host:587`, `smtps://…:465`;
 * without a port 587 and 465), through nodemailer; on smtp:// STARTTLS is
 * used when the server offers it. Timeouts are short: a server that does not answer
 * fails the try (the outbox tries again later) instead of holding the mail
 * for nodemailer's two minutes.
 */
export function smtpTransport(url: string): MailTransport {
  const u = new URL(url);
  const secure = u.protocol === 'smtps:';
  const transporter = createTransport({
    host: u.hostname.replace(/^\[|\]$/g, ''),
    port: u.port === '' ? (secure ? 465 : 587) : Number(u.port),
    secure,
    ...(u.username === ''
      ? {}
      : { auth: { user: decodeURIComponent(u.username), pass: decodeURIComponent(u.password) } }),
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 30_000,
  });
  return {
    send: async (mail) => {
      // Plain text from our own templates: nothing for nodemailer to fetch from files or URLs.
      await transporter.sendMail({ ...mail, disableFileAccess: true, disableUrlAccess: true });
    },
    close: () => transporter.close(),
  };
}

/**
 * A failure in words fit for a log: its code and the SMTP reply code, never
 * the server's text, which may quote the address.
 */
export function describeSmtpFailure(err: unknown): string {
  const e = err as { code?: unknown; responseCode?: unknown; command?: unknown };
  const parts: string[] = [];
  if (typeof e.code === 'string') parts.push(e.code);
  if (typeof e.command === 'string') parts.push(`at ${e.command.split(' ')[0]}`);
  if (typeof e.responseCode === 'number') parts.push(`SMTP ${e.responseCode}`);
  return parts.length > 0 ? parts.join(' ') : 'unknown failure';
}
