import { formatCode } from '../../protocol/email.js';

/** A mail's subject and plain-text body. */
export type MailText = { subject: string; body: string };

function hours(ms: number): string {
  const h = Math.round(ms / 3_600_000);
  return h === 1 ? '1 hour' : `${h} hours`;
}

/** The mail that confirms `address` for the account `username`. */
export function verifyMail(username: string, code: string, validMs: number): MailText {
  const shown = formatCode(code);
  return {
    subject: `Your natter confirmation code: ${shown}`,
    body: [
      'Hello,',
      '',
      `Someone asked to use this email address for the natter account "${username}".`,
      'To confirm it, type this code in natter:',
      '',
      `    ${shown}`,
      '',
      `On the command line: natter email verify ${shown}`,
      `In the terminal app: /verify ${shown}`,
      '',
      `The code works once, for ${hours(validMs)}. If you did not ask for this, ignore this mail:`,
      'without the code, the address is not added to any account.',
      '',
      '-- natter',
      '',
    ].join('\n'),
  };
}

/** The mail that lets the owner of the account `username` choose a new password. */
export function resetMail(username: string, code: string, validMs: number): MailText {
  const shown = formatCode(code);
  return {
    subject: `Your natter password reset code: ${shown}`,
    body: [
      'Hello,',
      '',
      `Someone asked to reset the password of the natter account "${username}".`,
      'To choose a new password, run:',
      '',
      `    natter password reset --code ${shown} --user ${username}`,
      '',
      `The code works once, for ${hours(validMs)}. Setting a new password logs out every session`,
      'and revokes every bot token of the account.',
      '',
      "If this wasn't you, ignore this mail: your password stays as it is.",
      '',
      '-- natter',
      '',
    ].join('\n'),
  };
}
