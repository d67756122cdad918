import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { render } from 'ink-testing-library';
import { QueryLine, queryWindow } from '../../../src/tui/components/QueryLine.js';
import { SearchOverlay } from '../../../src/tui/components/SearchOverlay.js';
import { textWidth } from '../../../src/tui/view/text-width.js';

const width = (w: { before: string; at: string; after: string }) => textWidth(w.before + w.at + w.after);

describe('QueryLine', () => {
  test('the cursor is the character it is on, or a space at the end', () => {
    assert.deepEqual(queryWindow('needle', 2, 40), { before: 'ne', at: 'e', after: 'dle' });
    assert.deepEqual(queryWindow('needle', 0, 40), { before: '', at: 'n', after: 'eedle' });
    assert.deepEqual(queryWindow('needle', 6, 40), { before: 'needle', at: ' ', after: '' });
    assert.deepEqual(queryWindow('', 0, 40), { before: '', at: ' ', after: '' });
    assert.deepEqual(queryWindow('a👍🏽b', 1, 40), { before: 'a', at: '👍🏽', after: 'b' }, 'a whole character');
  });

  test('control characters are shown, not obeyed, and the cursor stays on its character', () => {
    assert.deepEqual(queryWindow('a\u001b]0;x\u0007b', 1, 40), { before: 'a', at: '␛', after: ']0;x␇b' });
    assert.deepEqual(queryWindow('\u0007\u0007z', 2, 40), { before: '␇␇', at: 'z', after: '' });
  });

  test('a query longer than the room is cut around the cursor, which always shows', () => {
    const long = 'the quick brown fox jumps over the lazy dog';
    const atEnd = queryWindow(long, long.length, 20);
    assert.equal(atEnd.at, ' ');
    assert.match(atEnd.before, /^….*lazy dog$/);
    assert.ok(width(atEnd) <= 20);
    const atStart = queryWindow(long, 0, 20);
    assert.equal(atStart.before, '');
    assert.equal(atStart.at, 't');
    assert.match(atStart.after, /^he quick.*…$/);
    assert.ok(width(atStart) <= 20);
    const mid = queryWindow(long, long.indexOf('jumps'), 20);
    assert.equal(mid.at, 'j');
    assert.match(mid.before, /^….*fox $/);
    assert.match(mid.after, /^umps.*…$/);
    assert.ok(width(mid) <= 20);
  });

  test('drawn after its label, within its width, in the search overlay too', () => {
    const r = render(<QueryLine label="Go to: " query="general" cursor={3} width={30} />);
    assert.equal(r.lastFrame(), 'Go to: general');
    r.unmount();
    const long = 'x'.repeat(200);
    const s = render(
      <SearchOverlay
        query={long}
        cursor={10}
        hits={null}
        selected={0}
        loading={false}
        error={null}
        more={false}
        width={80}
        height={20}
      />,
    );
    const rows = (s.lastFrame() ?? '').split('\n');
    s.unmount();
    assert.match(rows[1] ?? '', /│ Search: x+… +│/, 'cut after the cursor, which is near the start');
    for (const row of rows) assert.ok(textWidth(row) <= 80, row);
  });
});
