import { Text } from 'ink';
import type { Theme } from '../config.js';
import { resolveColor, useTheme } from '../theme.js';
import type { Segment } from '../view/segments.js';

/** One terminal row of styled segments, cut (never wrapped) at its container's width; colours dropped when `color` is false. */
export function StyledRow({
  segments,
  color = true,
}: {
  readonly segments: readonly Segment[];
  readonly color?: boolean;
}) {
  return styledRow(segments, color, useTheme());
}

/**
 * `text` as a hyperlink (OSC 8): terminals that know it open `url` on a
 * click; others show the text alone. `url` comes from sanitized text, so it
 * holds no control character that could end the sequence early.
 */
function hyperlink(url: string, text: string): string {
  return `\u001b]8;;${url}\u0007${text}\u001b]8;;\u0007`;
}

/** The element {@link StyledRow} draws, for a given theme (theme roles become the theme's colours). */
export function styledRow(segments: readonly Segment[], color: boolean, theme: Theme) {
  if (segments.every((s) => s.text === '')) return <Text> </Text>;
  return (
    <Text wrap="truncate-end">
      {segments.map((s, i) =>
        s.raw ? (
          // Segments of a row never reorder; their index is their identity.
          <Text key={i}>{s.text}</Text>
        ) : (
          <Text
            // Segments of a row never reorder; their index is their identity.
            key={i}
            color={color ? resolveColor(theme, s.color) : undefined}
            bold={s.bold}
            dimColor={s.dim}
            italic={s.italic}
            underline={s.underline}
            inverse={s.inverse}
          >
            {s.link ? hyperlink(s.link, s.text) : s.text}
          </Text>
        ),
      )}
    </Text>
  );
}
