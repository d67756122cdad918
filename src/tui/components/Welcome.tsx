import { Box, Text } from 'ink';

/** What the chat says to someone in no conversation yet: a command, and what it does. */
const STEPS: readonly (readonly [string, string])[] = [
  ['/join CODE', 'join a server with an invite code someone gave you'],
  ['/create-server NAME', 'start a server of your own (then /invite makes a code)'],
  ['/dm USER MESSAGE', 'write to someone directly'],
];

/** Where the messages would be, for someone in no conversation yet: how to start, each step wrapped under itself. */
export function Welcome({ height }: { readonly height: number }) {
  return (
    <Box height={height} flexDirection="column" justifyContent="flex-end">
      <Text wrap="wrap">No conversations yet. To start:</Text>
      {STEPS.map(([command, what]) => (
        <Box key={command} flexDirection="row">
          <Box width={23} flexShrink={0}>
            <Text>{`  ${command}`}</Text>
          </Box>
          <Box flexGrow={1} flexShrink={1}>
            <Text wrap="wrap">{what}</Text>
          </Box>
        </Box>
      ))}
      <Text dimColor wrap="wrap">
        F1 lists every key and command.
      </Text>
    </Box>
  );
}
