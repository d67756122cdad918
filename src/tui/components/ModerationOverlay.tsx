import { Box, Text } from 'ink';
import { itemText, type ModerationItem, moreCommand, queueName } from '../moderation.js';
import { sanitize } from '../sanitize.js';
import type { QueueStatus } from '../state.js';
import type { Segment } from '../view/segments.js';
import { truncate } from '../view/text-width.js';
import { formatTime, type TimeFormat } from '../view/time.js';
import { NoticeLine, noticeRows } from './NoticeLine.js';
import { StyledRow } from './StyledRow.js';

/** Props of {@link ModerationOverlay}. */
export type ModerationOverlayProps = {
  /** What waits, in order (see `moderationItems`). */
  readonly items: readonly ModerationItem[];
  /** The index of the chosen item. */
  readonly selected: number;
  /** The queues I review, in order, with how each loaded (absent: not loaded yet). */
  readonly queues: readonly { scope: string; status: QueueStatus | undefined }[];
  /** How my servers and groups are named on screen, by id. */
  readonly names: ReadonlyMap<string, string>;
  /** The notice line (a question waiting for `y`, what an action did), drawn under the list. */
  readonly notice?: { text: string; level: 'info' | 'error' } | null;
  /** The notice's colours, as the theme has them; undefined under NO_COLOR. */
  readonly noticeColors?: { info: string; error: string };
  readonly width: number;
  readonly height: number;
  readonly timeFormat?: TimeFormat;
  /** False under NO_COLOR. */
  readonly color?: boolean;
};

/** Rows an item takes: where, when, who and why; then what was written. */
const ITEM_ROWS = 2;

/** The keys of the chosen item, in words that fit `width`. */
function hint(item: ModerationItem | undefined, width: number): string {
  if (!item) return 'Esc close';
  if (item.kind === 'held')
    return width >= 70
      ? 'a approve · r reject · Enter go there · ↑↓ choose · Esc close'
      : 'a approve · r reject · Enter · Esc';
  return width >= 90
    ? 'd delete · t time out 10 min · K kick · b ban · n no action · Enter go there · Esc close'
    : 'd delete · t 10 min · K kick · b ban · n none · Esc';
}

/**
 * The moderation view (`/mod`): every held message and open report of the
 * queues I review, each on two rows cut to the width, the chosen one marked;
 * loading, errors and an empty queue in words; and the notice line, where a
 * kick or a ban asks first.
 */
export function ModerationOverlay(props: ModerationOverlayProps) {
  const color = props.color ?? true;
  const inner = Math.max(10, props.width - 4);
  const { items } = props;
  const loading = props.queues.some((q) => q.status === undefined || q.status.loading);
  const failed = props.queues.flatMap((q) =>
    q.status?.error ? [`✗ ${queueName(q.scope, props.names)}: ${q.status.error}`] : [],
  );
  const more = props.queues.flatMap((q) => [
    ...(q.status?.moreHeld ? [`and more: ${moreCommand(q.scope, 'held', props.names)}`] : []),
    ...(q.status?.moreReports ? [`and more: ${moreCommand(q.scope, 'reports', props.names)}`] : []),
  ]);
  const selected = Math.min(Math.max(0, props.selected), Math.max(0, items.length - 1));
  const noticeText = props.notice ? noticeRows(props.notice.text, inner) : [];
  const title =
    items.length === 0
      ? loading
        ? 'loading…'
        : failed.length > 0
          ? 'nothing loaded'
          : 'nothing waits for review'
      : `${items.length}${more.length > 0 ? '+' : ''} waiting${loading ? ' · loading…' : ''}`;
  // Frame (2), title and keys (2), errors, "and more" lines, the notice.
  const fixed = 4 + failed.length + more.length + noticeText.length;
  const shown = Math.max(1, Math.floor((props.height - fixed) / ITEM_ROWS));
  const start = Math.min(Math.max(0, selected - shown + 1), Math.max(0, items.length - shown));
  return (
    <Box flexDirection="column" width={props.width} borderStyle="round" paddingX={1}>
      <Text wrap="truncate-end">
        <Text bold>Moderation: </Text>
        <Text dimColor={items.length === 0}>{title}</Text>
      </Text>
      <Text dimColor italic wrap="truncate-end">
        {hint(items[selected], inner)}
      </Text>
      {failed.map((line) => (
        <Text key={line} color={color ? 'red' : undefined} wrap="truncate-end">
          {sanitize(line, { multiline: false })}
        </Text>
      ))}
      {items.slice(start, start + shown).map((item, i) => {
        const isSelected = start + i === selected;
        const t = itemText(item, props.names);
        const head: Segment[] = [
          { text: isSelected ? '› ' : '  ', bold: true },
          {
            text: item.kind === 'held' ? 'held' : 'report',
            color: item.kind === 'held' ? 'accent' : 'mention',
            bold: true,
            inverse: isSelected,
          },
          { text: ` ${truncate(t.where, 32)} `, inverse: isSelected },
          { text: `${formatTime(t.at, props.timeFormat)} `, dim: !isSelected, inverse: isSelected },
          { text: `${truncate(t.who, 16)} `, bold: true, inverse: isSelected },
          { text: `· ${t.why}`, dim: !isSelected, inverse: isSelected },
        ];
        return (
          <Box key={item.key} flexDirection="column">
            <StyledRow segments={head} color={color} />
            <StyledRow
              segments={[{ text: '    ' }, { text: t.what || '(no text)', dim: t.what === '' }]}
              color={color}
            />
          </Box>
        );
      })}
      {more.map((line) => (
        <Text key={line} dimColor wrap="truncate-end">
          {sanitize(line, { multiline: false })}
        </Text>
      ))}
      {props.notice ? (
        <NoticeLine text={props.notice.text} level={props.notice.level} width={inner} colors={props.noticeColors} />
      ) : null}
    </Box>
  );
}
