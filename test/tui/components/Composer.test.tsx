import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { render } from 'ink-testing-library';
import { Composer, type ComposerProps, composerRows } from '../../../src/tui/components/Composer.js';
import { textWidth } from '../../../src/tui/view/text-width.js';

/** The first frame: ink-testing-library's render draws it synchronously. */
function frame(props: Partial<ComposerProps>): string {
  const r = render(<Composer value="" placeholder="Message #general" focused width={30} prefix="> " {...props} />);
  const out = r.lastFrame() ?? '';
  r.unmount();
  return out;
}

describe('Composer', () => {
  test('shows the placeholder when empty', async () => {
    assert.match(frame({}), /^> +Message #general$/);
  });

  test('shows multi-line text under its prefix, wrapped to the width', async () => {
    const out = frame({ value: 'hello\nthis line is long enough to wrap around' });
    const rows = out.split('\n');
    assert.equal(rows[0], '> hello');
    assert.equal(rows[1], '  this line is long enough to');
    assert.equal(rows[2], '   wrap around');
    for (const r of rows) assert.ok(textWidth(r) <= 30);
  });

  test('places the cursor: at the end by default, or where asked', () => {
    const end = composerRows('ab\ncd', 5, 20);
    assert.equal(end.cursorRow, 1);
    assert.deepEqual(end.rows[1], { before: 'cd', at: ' ', after: '' });
    const mid = composerRows('ab\ncd', 1, 20);
    assert.equal(mid.cursorRow, 0);
    assert.deepEqual(mid.rows[0], { before: 'a', at: 'b', after: '' });
    const eol = composerRows('ab\ncd', 2, 20);
    assert.deepEqual(eol.rows[0], { before: 'ab', at: ' ', after: '' });
    const wrapped = composerRows('abcdef', 3, 4);
    assert.deepEqual(wrapped.rows, [
      { before: 'abc', at: null, after: '' },
      { before: '', at: 'd', after: 'ef' },
    ]);
  });

  test('keeps the cursor row in view when the text is taller than maxRows', async () => {
    const value = Array.from({ length: 10 }, (_, i) => `line ${i}`).join('\n');
    const out = frame({ value, maxRows: 3 });
    // The prefix belongs to the first row, which has scrolled out of view.
    assert.deepEqual(out.split('\n'), ['  line 7', '  line 8', '  line 9']);
    const top = frame({ value, cursor: 0, maxRows: 3 });
    assert.deepEqual(top.split('\n'), ['> line 0', '  line 1', '  line 2']);
  });

  test('pasted control characters are shown, not obeyed', async () => {
    const out = frame({ value: 'x\u001b]52;c;aGk=\u0007y' });
    assert.doesNotMatch(out, /[\u001b\u0007]/);
    assert.match(out, /x␛\]52;c;aGk=␇y/);
  });

  test('unfocused: no cursor, text still shown', async () => {
    assert.match(frame({ value: 'draft', focused: false }), /^> draft$/);
  });
});
