import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Box } from 'ink';
import { render } from 'ink-testing-library';
import { StyledRow } from '../../../src/tui/components/StyledRow.js';
import { textWidth, truncate } from '../../../src/tui/view/text-width.js';
import { wrapText } from '../../../src/tui/view/wrap.js';

/** What Ink draws for `text` in a box `width` columns wide (one row, cut with "…" when it does not fit). */
function drawn(text: string, width: number): string {
  const r = render(
    <Box width={width}>
      <StyledRow segments={[{ text }]} />
    </Box>,
  );
  const out = r.lastFrame() ?? '';
  r.unmount();
  return out;
}

const TRICKY = [
  'plain ascii',
  'thumbs 👍🏽 up',
  'flag 🇫🇷 here',
  'family 👨‍👩‍👧 emoji',
  'warning ⚠️ sign',
  'smile ☺ text style',
  'accent e\u0301 combined',
  'Korean 한국어 text',
  'Chinese 中文字符',
  'full width ｆｕｌｌ',
  'box ── drawing … ellipsis',
  'zero\u200bwidth space',
  'keycap 1️⃣ two',
];

test('a row measured to fit is drawn whole by Ink, and a column less cuts it: the list counts rows as Ink draws them', () => {
  for (const text of TRICKY) {
    const w = textWidth(text);
    assert.equal(drawn(text, w).trimEnd(), text, `"${text}" (${w} columns) fits in ${w}`);
    assert.match(drawn(text, w - 1), /…/, `"${text}" does not fit in ${w - 1}`);
  }
});

test('wrapped rows and cut names never exceed their width as Ink measures them', () => {
  const body = TRICKY.join(' ');
  for (const width of [7, 10, 13, 20, 33]) {
    for (const row of wrapText(body, width)) {
      assert.ok(textWidth(row) <= width, `"${row}" within ${width}`);
      assert.equal(drawn(row, width).trimEnd(), row.trimEnd(), `"${row}" drawn whole at ${width}`);
    }
    const cut = truncate(body, width);
    assert.ok(textWidth(cut) <= width);
  }
});
