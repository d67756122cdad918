import { Box, Text } from 'ink';
import { type LoginField, loginFields, type MailMode, type RegistrationMode } from '../login-form.js';
import { sanitize } from '../sanitize.js';

export type { LoginField };

/** Props of {@link LoginScreen}. */
export type LoginScreenProps = {
  readonly mode: 'login' | 'register';
  readonly username: string;
  /** Never shown: one `•` per character. */
  readonly password: string;
  /** The password typed again (register mode); masked like it. */
  readonly repeat?: string;
  /** The invite code (register mode, on a server that takes accounts by invite only). */
  readonly invite?: string;
  /** The email address (register mode, on a server that sends mail). */
  readonly email?: string;
  /** Whether the server takes an address (optional) or requires one, as it said, or null. */
  readonly mail?: MailMode | null;
  /** Who may register on the server, as it said, or null (not asked yet, or no answer). */
  readonly registration?: RegistrationMode | null;
  readonly serverUrl: string;
  /** The field being edited. */
  readonly field: LoginField;
  /** Why the last attempt failed (from the server: sanitized here). */
  readonly error: string | null;
  /** Why this screen is shown (a saved session that ended), or null. */
  readonly info?: string | null;
  /** True while a request is under way. */
  readonly busy: boolean;
  /** Columns; 60 when omitted. */
  readonly width?: number;
  /** The key hint under the form; a generic one when omitted. */
  readonly hint?: string;
  /** False under NO_COLOR. */
  readonly color?: boolean;
};

const LABELS: Record<LoginField, string> = {
  server: 'Server  ',
  username: 'Username',
  password: 'Password',
  repeat: 'Repeat  ',
  email: 'Email   ',
  invite: 'Invite  ',
};

/** What register mode says of a server that does not take just anyone. */
const REGISTRATION_NOTES: Record<RegistrationMode, string | null> = {
  open: null,
  invite: 'this server takes new accounts only with an invite code of one of its servers',
  closed: 'this server is not accepting new accounts',
};

/** The login / register form: three fields, the focused one marked with a cursor, the password masked. */
export function LoginScreen(props: LoginScreenProps) {
  const color = props.color ?? true;
  const width = props.width ?? 60;
  const room = Math.max(4, width - 4 - 2 - 8 - 2 - 1);
  const values: Record<LoginField, string> = {
    server: sanitize(props.serverUrl, { multiline: false }),
    username: sanitize(props.username, { multiline: false }),
    password: '•'.repeat([...props.password].length),
    repeat: '•'.repeat([...(props.repeat ?? '')].length),
    email: sanitize(props.email ?? '', { multiline: false }),
    invite: sanitize(props.invite ?? '', { multiline: false }),
  };
  const note = props.mode === 'register' && props.registration ? REGISTRATION_NOTES[props.registration] : null;
  const mailNote =
    props.mode === 'register' && props.mail
      ? props.mail === 'required'
        ? 'this server requires an email address: a code is mailed to it to confirm it'
        : 'an email address is optional here (for password resets): a code is mailed to it to confirm it'
      : null;
  const verb = props.mode === 'login' ? 'log in' : 'register';
  return (
    <Box flexDirection="column" width={width} borderStyle="round" paddingX={1}>
      <Text bold>natter — {props.mode === 'login' ? 'log in' : 'create an account'}</Text>
      <Text> </Text>
      {props.info ? (
        <Text color={color ? 'yellow' : undefined} wrap="wrap">
          {sanitize(props.info, { multiline: false })}
        </Text>
      ) : null}
      {note ? (
        <Text color={color ? 'yellow' : undefined} wrap="wrap">
          {note}
        </Text>
      ) : null}
      {mailNote ? (
        <Text color={color ? 'yellow' : undefined} wrap="wrap">
          {mailNote}
        </Text>
      ) : null}
      {loginFields(props.mode, props.registration ?? null, props.mail ?? null).map((f) => {
        const focused = f === props.field && !props.busy;
        return (
          <Text key={f} wrap="truncate-end">
            <Text bold={f === props.field} color={color && f === props.field ? 'cyan' : undefined}>
              {f === props.field ? '› ' : '  '}
              {LABELS[f]}
            </Text>
            {'  '}
            {/* Long values keep their end in view, where typing happens. */}
            {values[f].length > room ? `…${values[f].slice(-(room - 1))}` : values[f]}
            {focused ? <Text inverse> </Text> : null}
          </Text>
        );
      })}
      <Text> </Text>
      {props.error !== null ? (
        <Text color={color ? 'red' : undefined} wrap="wrap">
          ✗ {sanitize(props.error, { multiline: false })}
        </Text>
      ) : null}
      {props.busy ? (
        <Text dimColor italic>
          {props.mode === 'login' ? 'logging in…' : 'registering…'}
        </Text>
      ) : (
        <Text dimColor wrap="wrap">
          {props.hint ?? `Tab next field · Enter ${verb}`}
        </Text>
      )}
    </Box>
  );
}
