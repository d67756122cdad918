import { Text } from 'ink';
import type { Segment } from '../view/segments.js';

/** One terminal row of styled segments, cut (never wrapped) at its container's width; colours dropped when `color` is false. */
export function StyledRow({
  segments,
  color = true,
}: {
  readonly segments: readonly Segment[];
  readonly color?: boolean;
}) {
  if (segments.every((s) => s.text === '')) return <Text> </Text>;
  return (
    <Text wrap="truncate-end">
      {segments.map((s, i) => (
        <Text
          // Segments of a row never reorder; their index is their identity.
          key={i}
          color={color ? s.color : undefined}
          bold={s.bold}
          dimColor={s.dim}
          italic={s.italic}
          underline={s.underline}
          inverse={s.inverse}
        >
          {s.text}
        </Text>
      ))}
    </Text>
  );
}
