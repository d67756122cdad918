import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { render } from 'ink-testing-library';
import type { ReactElement } from 'react';
import { ModerationOverlay, type ModerationOverlayProps } from '../../../src/tui/components/ModerationOverlay.js';
import type { ModerationItem } from '../../../src/tui/moderation.js';
import { INSTANCE_QUEUE } from '../../../src/tui/state.js';
import { textWidth } from '../../../src/tui/view/text-width.js';

function frame(el: ReactElement): string {
  const r = render(el);
  const out = r.lastFrame() ?? '';
  r.unmount();
  return out;
}

const CAROL = { id: 'carol', username: 'carol', displayName: null };
const names = new Map([['s1', 'acme']]);
const loaded = { loading: false, error: null, moreHeld: false, moreReports: false };

const heldItem: ModerationItem = {
  kind: 'held',
  key: 'held:h1',
  scope: 's1',
  held: {
    id: 'h1',
    serverId: 's1',
    conversationId: 'c1',
    channel: 'general',
    author: CAROL,
    body: `see https://example.com/${'long-path/'.repeat(20)}\u001b]52;c;evil\u0007`,
    kind: 'text',
    heldBy: 'links',
    createdAt: new Date(2026, 10, 30, 14, 2).getTime(),
  },
};

const reportItem: ModerationItem = {
  kind: 'report',
  key: 'report:3',
  scope: 's1',
  report: {
    id: 3,
    serverId: 's1',
    conversation: { id: 'c1', kind: 'channel', name: 'general' },
    messageId: 'm7',
    seq: 7,
    targetUser: { id: 'm', username: 'mallory', displayName: null },
    reporter: { id: 'b', username: 'bob', displayName: null },
    reason: 'spam',
    details: 'same link in every channel',
    snapshot: 'cheap watches at example.com',
    status: 'open',
    resolution: null,
    resolvedBy: null,
    note: null,
    createdAt: new Date(2026, 10, 30, 14, 5).getTime(),
    resolvedAt: null,
  },
};

function props(extra: Partial<ModerationOverlayProps> = {}): ModerationOverlayProps {
  return {
    items: [heldItem, reportItem],
    selected: 0,
    queues: [{ scope: 's1', status: loaded }],
    names,
    width: 80,
    height: 23,
    color: false,
    ...extra,
  };
}

describe('ModerationOverlay', () => {
  test('at 80 columns: each item on two rows cut to the width, where, when, who, why, and the text sanitized', () => {
    const out = frame(<ModerationOverlay {...props()} />);
    const rows = out.split('\n');
    assert.match(out, /Moderation: 2 waiting/);
    assert.match(out, /a approve · r reject/, 'the held message is chosen: its keys');
    assert.match(out, /› held #general \(acme\) 14:02 carol · held by rule links/);
    assert.match(out, / {2}report #general \(acme\) #7 14:05 mallory · report #3 spam by bob: same/);
    assert.match(out, /cheap watches at example\.com/);
    assert.doesNotMatch(out, /\u001b\]52/, 'no terminal control from a held message reaches the screen');
    assert.ok(
      rows.every((r) => textWidth(r) <= 80),
      'no row wider than the terminal',
    );
    assert.equal(rows.filter((r) => r.includes('long-path')).length, 1, 'the long text is cut, not wrapped');
  });

  test('a report chosen shows its keys; at 120 columns in full', () => {
    const out = frame(<ModerationOverlay {...props({ selected: 1, width: 120 })} />);
    assert.match(out, /d delete · t time out 10 min · K kick · b ban · n no action · Enter go there · Esc close/);
    assert.match(out, /› report #general \(acme\) #7/);
    assert.match(out, /same link in every channel/);
  });

  test('loading, errors, more than a page, and the empty state in words; the notice line asks under the list', () => {
    assert.match(
      frame(<ModerationOverlay {...props({ items: [], queues: [{ scope: 's1', status: undefined }] })} />),
      /Moderation: loading…/,
    );
    assert.match(frame(<ModerationOverlay {...props({ items: [] })} />), /Moderation: nothing waits for review/);
    const failed = frame(
      <ModerationOverlay
        {...props({
          items: [],
          queues: [
            { scope: 's1', status: loaded },
            { scope: INSTANCE_QUEUE, status: { ...loaded, error: 'you are not an operator (forbidden)' } },
          ],
        })}
      />,
    );
    assert.match(failed, /✗ operators: you are not an operator \(forbidden\)/);
    const more = frame(
      <ModerationOverlay
        {...props({
          queues: [{ scope: 's1', status: { ...loaded, moreHeld: true } }],
          notice: { text: 'ban mallory from acme (report #3)? y: yes, any other key: no', level: 'info' },
        })}
      />,
    );
    assert.match(more, /2\+ waiting/);
    assert.match(more, /and more: natter hold list acme/);
    assert.match(more, /ban mallory from acme \(report #3\)\? y: yes/);
  });

  test('more items than fit: the window follows the chosen one', () => {
    const many: ModerationItem[] = Array.from({ length: 30 }, (_, i) => ({
      ...heldItem,
      key: `held:${i}`,
      held: { ...heldItem.held, id: `${i}`, body: `message number ${i}` },
    }));
    const out = frame(<ModerationOverlay {...props({ items: many, selected: 25, height: 23 })} />);
    assert.match(out, /message number 25/);
    assert.doesNotMatch(out, /message number 0\b/);
    assert.ok(out.split('\n').length <= 23, 'fits 24 rows');
  });
});
