const WEEKDAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];

/** How times of day are shown. */
export type TimeFormat = '24h' | '12h';

/** Local time of day: `09:05` (24h) or ` 9:05 AM` (12h, padded to a fixed width so messages line up). */
export function formatTime(at: number, format: TimeFormat = '24h'): string {
  const d = new Date(at);
  const mm = String(d.getMinutes()).padStart(2, '0');
  if (format === '24h') return `${String(d.getHours()).padStart(2, '0')}:${mm}`;
  const h = d.getHours() % 12 === 0 ? 12 : d.getHours() % 12;
  return `${String(h).padStart(2, ' ')}:${mm} ${d.getHours() < 12 ? 'AM' : 'PM'}`;
}

/** Columns `formatTime` takes in a format. */
export function timeWidth(format: TimeFormat = '24h'): number {
  return format === '24h' ? 5 : 8;
}

/** True when two instants fall on the same local calendar day. */
export function sameDay(a: number, b: number): boolean {
  const x = new Date(a);
  const y = new Date(b);
  return x.getFullYear() === y.getFullYear() && x.getMonth() === y.getMonth() && x.getDate() === y.getDate();
}

/** A local day for a separator: `Tuesday 21 November`, with the year when it differs from `now`'s (if given). */
export function formatDay(at: number, now?: number): string {
  const d = new Date(at);
  const base = `${WEEKDAYS[d.getDay()] ?? ''} ${d.getDate()} ${MONTHS[d.getMonth()] ?? ''}`;
  return now !== undefined && new Date(now).getFullYear() !== d.getFullYear() ? `${base} ${d.getFullYear()}` : base;
}

/** Whole seconds from `now` until `at`, rounded up, never negative. */
export function secondsUntil(at: number, now: number): number {
  return Math.max(0, Math.ceil((at - now) / 1000));
}
