import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { render } from 'ink-testing-library';
import {
  QuickSwitcher,
  type QuickSwitcherProps,
  type SwitcherItem,
} from '../../../src/tui/components/QuickSwitcher.js';
import { textWidth } from '../../../src/tui/view/text-width.js';

const items: SwitcherItem[] = [
  { id: 'c1', label: 'general', kind: 'channel', unread: 2, mentions: 1 },
  { id: 'c2', label: 'dev-random', kind: 'channel', unread: 0, mentions: 0 },
  { id: 'g1', label: 'gardeners', kind: 'group', unread: 0, mentions: 0 },
  { id: 'd1', label: 'gene', kind: 'dm', unread: 0, mentions: 0 },
];

/** The first frame: ink-testing-library's render draws it synchronously. */
function frame(props: Partial<QuickSwitcherProps>): string {
  const r = render(<QuickSwitcher query="" items={items} selected={0} width={40} height={10} {...props} />);
  const out = r.lastFrame() ?? '';
  r.unmount();
  return out;
}

describe('QuickSwitcher', () => {
  test('shows the query and every item when it is empty, the selected one marked', async () => {
    const out = frame({ selected: 1 });
    assert.match(out, /Go to:/);
    assert.match(out, /#general +1/);
    assert.match(out, /› #dev-random/);
    assert.match(out, /\+gardeners/);
    assert.match(out, /@gene/);
    for (const row of out.split('\n')) assert.ok(textWidth(row) <= 40);
  });

  test('filters and ranks by the query', async () => {
    const out = frame({ query: 'gen' });
    const names = [...out.matchAll(/[#+@][\w-]+/g)].map((m) => m[0]);
    assert.deepEqual(names, ['@gene', '#general', '+gardeners']);
    assert.match(out, /Go to: gen/);
    assert.match(out, /› @gene/);
  });

  test('says so when nothing matches', async () => {
    assert.match(frame({ query: 'zzz' }), /no matches/);
  });

  test('keeps the selection in view in a long list', async () => {
    const many = Array.from({ length: 30 }, (_, i) => ({
      id: `c${i}`,
      label: `chan-${i}`,
      kind: 'channel' as const,
      unread: 0,
      mentions: 0,
    }));
    const out = frame({ items: many, selected: 25, height: 8 });
    assert.match(out, /› #chan-25/);
    assert.doesNotMatch(out, /#chan-0\b/);
    assert.match(out, /26\/30/);
  });

  test('labels and the query are sanitized', async () => {
    const out = frame({
      query: '\u001b[2J',
      items: [{ id: 'x', label: 'a\u001b[2Jb', kind: 'channel', unread: 0, mentions: 0 }],
    });
    assert.doesNotMatch(out, /\u001b/);
  });
});
