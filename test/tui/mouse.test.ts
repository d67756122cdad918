import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseMouse, withoutMouse } from '../../src/tui/mouse.js';

test('SGR mouse reports: buttons, the wheel, press and release, from 0; modifiers do not change the button', () => {
  assert.deepEqual(parseMouse('\u001b[<0;10;5M\u001b[<0;10;5m'), [
    { button: 'left', x: 9, y: 4, press: true },
    { button: 'left', x: 9, y: 4, press: false },
  ]);
  assert.deepEqual(
    parseMouse('\u001b[<64;1;1M\u001b[<65;200;60M').map((e) => e.button),
    ['wheelUp', 'wheelDown'],
  );
  // Ctrl (16) and Shift (4) held: still the left button.
  assert.equal(parseMouse('\u001b[<20;3;3M')[0]?.button, 'left');
  // Motion (32) is not asked for and not reported as a click.
  assert.deepEqual(parseMouse('\u001b[<32;3;3M'), []);
  // Without its ESC (taken off by the key reader), it is still a report.
  assert.equal(parseMouse('[<2;4;4M')[0]?.button, 'right');
});

test('what is left once the reports are taken out is keys and text', () => {
  assert.equal(withoutMouse('\u001b[<64;1;1M\u001b[<64;1;1M'), '');
  assert.equal(withoutMouse('a\u001b[<0;1;1Mb'), 'ab');
  assert.equal(withoutMouse('hello [<world'), 'hello [<world');
});
