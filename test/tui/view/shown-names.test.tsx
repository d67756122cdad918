import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { render } from 'ink-testing-library';
import type { ConversationSummary, ServerInfo } from '../../../src/protocol/index.js';
import { QuickSwitcher } from '../../../src/tui/components/QuickSwitcher.js';
import { switcherItems } from '../../../src/tui/intents.js';
import { initialState, reduce } from '../../../src/tui/reducer.js';
import type { State } from '../../../src/tui/state.js';
import { fuzzyFilter } from '../../../src/tui/view/fuzzy.js';
import { shownNames } from '../../../src/tui/view/shown-names.js';
import { textWidth } from '../../../src/tui/view/text-width.js';

const MINE = '2f9kQw0LhT5bVn3mZx7Ra';
const HIS = 'x8k2Pp4sJd9fGh1kLz6Wq';

function server(id: string, name: string, channelIds: string[]): ServerInfo & { channelIds: string[] } {
  return { id, name, description: null, ownerId: 'me', createdAt: 0, memberCount: 1, role: 'owner', channelIds };
}

function summary(id: string, kind: ConversationSummary['kind'], name: string, serverId: string | null = null) {
  return {
    id,
    kind,
    serverId,
    name,
    topic: null,
    peer: null,
    lastSeq: 0,
    lastReadSeq: 0,
    unread: 0,
    mentions: 0,
    lastMessage: null,
  } satisfies ConversationSummary;
}

function loaded(): State {
  const s = reduce(initialState('ws://x'), { type: 'authenticated', me: { id: 'me', username: 'alice' } });
  return reduce(s, {
    type: 'loaded',
    servers: [server(MINE, 'acme', ['c-mine']), server(HIS, 'Acme', ['c-his']), server('lab0', 'lab', ['c-lab'])],
    conversations: [
      summary('c-mine', 'channel', 'general', MINE),
      summary('c-his', 'channel', 'general', HIS),
      summary('c-lab', 'channel', 'general', 'lab0'),
      summary('gAAAA1', 'group', 'climbing'),
      summary('gBBBB2', 'group', 'climbing'),
      summary('gCCCC3', 'group', 'chess'),
    ],
    invitations: [],
  });
}

describe('names on screen', () => {
  test('servers and groups that share a name (in any case) are named with the start of their id', () => {
    const names = shownNames(loaded());
    assert.equal(names.get(MINE), 'acme·2f9k');
    assert.equal(names.get(HIS), 'Acme·x8k2');
    assert.equal(names.get('lab0'), 'lab');
    assert.equal(names.get('gAAAA1'), 'climbing·gAAA');
    assert.equal(names.get('gBBBB2'), 'climbing·gBBB');
    assert.equal(names.get('gCCCC3'), 'chess');
  });

  test('the switcher tells apart the channels of same-named servers, and the same-named groups', () => {
    const labels = switcherItems(loaded()).map((i) => i.label);
    assert.deepEqual(labels.sort(), [
      'chess',
      'climbing·gAAA',
      'climbing·gBBB',
      'general (Acme·x8k2)',
      'general (acme·2f9k)',
      'general (lab)',
    ]);
  });

  test('in the switcher both #general of acme show, and the fragment typed as the query finds one', () => {
    const items = switcherItems(loaded());
    const draw = (query: string) => {
      const r = render(<QuickSwitcher query={query} items={items} selected={0} width={40} height={12} />);
      const out = r.lastFrame() ?? '';
      r.unmount();
      return out;
    };
    const all = draw('general');
    assert.match(all, /#general \(acme·2f9k\)/);
    assert.match(all, /#general \(Acme·x8k2\)/);
    for (const row of all.split('\n')) assert.ok(textWidth(row) <= 40, `too wide: ${row}`);
    assert.match(draw('x8k2'), /› #general \(Acme·x8k2\)/);
    assert.equal(fuzzyFilter(items, 'x8k2')[0]?.id, 'c-his');
  });
});
