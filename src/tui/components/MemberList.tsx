import { Box } from 'ink';
import type { UserRef } from '../../protocol/index.js';
import { sanitize } from '../sanitize.js';
import type { Row } from '../view/segments.js';
import { truncate } from '../view/text-width.js';
import { StyledRow } from './StyledRow.js';

/** Props of {@link MemberList}. */
export type MemberListProps = {
  readonly members: readonly { user: UserRef; role: string | null }[];
  readonly online: Readonly<Record<string, boolean>>;
  readonly width: number;
  readonly height: number;
  /** False under NO_COLOR. */
  readonly color?: boolean;
};

const HEADINGS = [
  ['owner', 'Owner'],
  ['admin', 'Admins'],
  ['moderator', 'Moderators'],
  ['member', 'Members'],
] as const;

/** The member rows: a heading per role with its count, then people online first, then by name. */
export function memberRows(props: Omit<MemberListProps, 'height'>): Row[] {
  const width = Math.max(4, props.width);
  const isOnline = (id: string) => props.online[id] === true;
  const rows: Row[] = [];
  for (const [role, heading] of HEADINGS) {
    // Unknown roles (and a group's null) count as members.
    const people = props.members
      .filter((m) => (m.role === 'owner' || m.role === 'admin' || m.role === 'moderator' ? m.role : 'member') === role)
      .sort(
        (a, b) =>
          Number(isOnline(b.user.id)) - Number(isOnline(a.user.id)) ||
          a.user.username.localeCompare(b.user.username) ||
          a.user.id.localeCompare(b.user.id),
      );
    if (people.length === 0) continue;
    const count = people.filter((m) => isOnline(m.user.id)).length;
    rows.push({
      key: `h:${role}`,
      segments: [{ text: truncate(`${heading} — ${count}/${people.length}`, width), bold: true, dim: true }],
    });
    for (const m of people) {
      const on = isOnline(m.user.id);
      rows.push({
        key: `m:${m.user.id}`,
        segments: [
          on ? { text: '●', color: 'green' } : { text: '○', dim: true },
          { text: ' ' },
          { text: truncate(sanitize(m.user.username, { multiline: false }), width - 2), dim: !on },
        ],
      });
    }
  }
  return rows;
}

/** The members panel: Owner, Admins, Members with presence dots; cut with `… N more` when taller than `height`. */
export function MemberList(props: MemberListProps) {
  const rows = memberRows(props);
  const height = Math.max(1, props.height);
  const shown = rows.length > height ? rows.slice(0, height - 1) : rows;
  const hidden = rows.slice(shown.length).filter((r) => r.key.startsWith('m:')).length;
  return (
    <Box flexDirection="column" width={props.width} height={height} overflow="hidden">
      {shown.map((row) => (
        <StyledRow key={row.key} segments={row.segments} color={props.color ?? true} />
      ))}
      {hidden > 0 ? <StyledRow segments={[{ text: truncate(`… ${hidden} more`, props.width), dim: true }]} /> : null}
    </Box>
  );
}
