import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Box } from 'ink';
import { render } from 'ink-testing-library';
import { Welcome } from '../../../src/tui/components/Welcome.js';

test('the welcome lists how to start; a description too long for the width wraps under itself, not back at the edge', () => {
  const r = render(
    <Box width={60}>
      <Welcome height={8} />
    </Box>,
  );
  const rows = (r.lastFrame() ?? '').split('\n').filter((row) => row.trim() !== '');
  r.unmount();
  assert.equal(rows[0], 'No conversations yet. To start:');
  assert.match(rows[1] ?? '', /^ {2}\/join CODE {11}join a server with an invite code/);
  // Every row after the first of a step starts in the description's column.
  const continued = rows.slice(1, -1).filter((row) => !/^ {2}\//.test(row));
  assert.ok(continued.length > 0, 'something wrapped at 60 columns');
  for (const row of continued) assert.match(row, /^ {23}\S/, `"${row}" wraps under the description`);
  assert.equal(rows.at(-1), 'F1 lists every key and command.');
});
