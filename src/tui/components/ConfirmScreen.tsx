import { Box, Text } from 'ink';
import { type ConfirmState, maskedAddress, waitText } from '../email-confirm.js';
import { sanitize } from '../sanitize.js';
import { useTheme } from '../theme.js';

/** Props of {@link ConfirmScreen}. */
export type ConfirmScreenProps = {
  readonly confirm: ConfirmState;
  /** The server, as its address names it (`natter.example`). */
  readonly server: string;
  /** The app's clock, for the cooldown and the deadline. */
  readonly now: number;
  readonly width: number;
  /** False under NO_COLOR. */
  readonly color?: boolean;
};

/**
 * The email confirmation screen: what the server asks and why, the field
 * for the mailed code (or a new address), what the last attempt said, and
 * the keys. Every string from the server is sanitized here.
 */
export function ConfirmScreen({ confirm: c, server, now, width, color = true }: ConfirmScreenProps) {
  const theme = useTheme();
  const tint = (role: string | undefined) => (color ? role : undefined);
  const host = sanitize(server);
  const to = maskedAddress(c.address);
  const field = c.field === 'code' ? c.code : c.newAddress;
  const keys = [
    c.field === 'code' ? 'Enter confirm' : 'Enter mail a code there',
    c.retryAt !== null && c.retryAt > now ? `Ctrl-R new code ${waitText(c.retryAt, now)}` : 'Ctrl-R new code',
    c.field === 'code' ? 'Tab other address' : 'Tab back to the code',
    c.field === 'address' ? 'Esc cancel' : c.required ? null : 'Esc later (/verify CODE)',
  ].filter((k): k is string => k !== null);
  return (
    <Box flexDirection="column" width={width} borderStyle="round" paddingX={1}>
      <Text bold color={tint(theme.accent)}>
        Confirm your email address
      </Text>
      <Text wrap="wrap">{`${host} asks you to confirm an email address; a code was mailed to ${to}.`}</Text>
      {c.required ? (
        <Text wrap="wrap" color={tint(theme.muted)}>
          {c.confirmBy !== null
            ? `Until then this account can do nothing else; it is removed ${waitText(c.confirmBy, now)} if it is not confirmed.`
            : 'Until then this account can do nothing else.'}
        </Text>
      ) : null}
      <Box marginTop={1}>
        <Text>{c.field === 'code' ? 'code: ' : 'new address: '}</Text>
        <Text color={tint(theme.accent)}>{sanitize(field)}</Text>
        <Text inverse> </Text>
      </Box>
      {c.busy ? <Text color={tint(theme.muted)}>…</Text> : null}
      {c.error !== null ? (
        <Text wrap="wrap" color={tint(theme.error)}>
          {sanitize(c.error)}
        </Text>
      ) : null}
      {c.error === null && c.info !== null ? <Text wrap="wrap">{sanitize(c.info)}</Text> : null}
      <Box marginTop={1}>
        <Text wrap="wrap" color={tint(theme.muted)}>
          {keys.join(' · ')}
        </Text>
      </Box>
    </Box>
  );
}
