import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { render } from 'ink-testing-library';
import { Sidebar, type SidebarProps, sidebarRows } from '../../../src/tui/components/Sidebar.js';
import type { ConversationEntry, ServerEntry } from '../../../src/tui/state.js';
import { textWidth } from '../../../src/tui/view/text-width.js';

function conv(id: string, kind: ConversationEntry['kind'], name: string, extra: Partial<ConversationEntry> = {}) {
  const c: ConversationEntry = {
    id,
    kind,
    serverId: kind === 'channel' ? 's1' : null,
    name,
    topic: null,
    peer:
      kind === 'dm'
        ? { id: `u-${name}`, username: name, displayName: null, status: null, bio: null, createdAt: 0 }
        : null,
    lastSeq: 0,
    lastReadSeq: 0,
    unread: 0,
    mentions: 0,
    ...extra,
  };
  return c;
}

const conversations: Record<string, ConversationEntry> = {
  c1: conv('c1', 'channel', 'general', { unread: 3, mentions: 2 }),
  c2: conv('c2', 'channel', 'random'),
  g1: conv('g1', 'group', 'friends', { unread: 1 }),
  d1: conv('d1', 'dm', 'bob'),
  d2: conv('d2', 'dm', 'carol', { mentions: 120, unread: 120 }),
};
const servers: ServerEntry[] = [{ id: 's1', name: 'acme', role: 'member', channelIds: ['c1', 'c2'], expanded: true }];
const base: SidebarProps = {
  servers,
  conversations,
  active: 'c2',
  online: { 'u-bob': true },
  width: 24,
  height: 20,
};

/** The first frame: ink-testing-library's render draws it synchronously. */
function frame(props: Partial<SidebarProps> = {}): string {
  const r = render(<Sidebar {...base} {...props} />);
  const out = r.lastFrame() ?? '';
  r.unmount();
  return out;
}

describe('Sidebar', () => {
  test('servers with channels, then groups, then direct messages with presence', async () => {
    const out = frame();
    const rows = out.split('\n').filter((r) => r.trim() !== '');
    assert.deepEqual(
      rows.map((r) =>
        r
          .replace(/\s+\d+\+?\s*$/, '')
          .trim()
          .replace(/\s+/g, ' '),
      ),
      ['▾ acme', '#general', '› #random', 'Groups', '+friends', 'Direct messages', '● @bob', '○ @carol'],
    );
  });

  test('mention badges stand out; unread names are bold', async () => {
    const out = frame();
    assert.match(out, /#general +2 *$/m);
    assert.match(out, /@carol +99\+ *$/m);
    const { rows } = sidebarRows(base);
    const general = rows.find((r) => r.key === 'c:c1');
    const badge = general?.segments.at(-1);
    assert.deepEqual([badge?.text, badge?.inverse, badge?.color], [' 2 ', true, 'mention']);
    assert.equal(general?.segments.find((s) => s.text.includes('#general'))?.bold, true);
    const random = rows.find((r) => r.key === 'c:c2');
    assert.equal(random?.segments.find((s) => s.text.includes('#random'))?.inverse, true, 'active is highlighted');
    const friends = rows.find((r) => r.key === 'c:g1');
    assert.equal(friends?.segments.find((s) => s.text.includes('+friends'))?.bold, true);
    assert.equal(
      friends?.segments.some((s) => s.inverse),
      false,
      'no badge without mentions',
    );
  });

  test('a direct message with unread messages carries their count as a badge (each one is meant for me)', () => {
    const { rows } = sidebarRows({
      ...base,
      conversations: { ...conversations, d1: conv('d1', 'dm', 'bob', { unread: 2 }) },
    });
    const bob = rows.find((r) => r.key === 'c:d1');
    assert.deepEqual(
      bob?.segments.filter((s) => s.inverse).map((s) => s.text),
      [' 2 '],
    );
  });

  test('names are cut to the width, badge kept', async () => {
    const long = conv('c3', 'channel', 'a-very-long-channel-name-indeed', { mentions: 5 });
    const out = frame({
      width: 16,
      conversations: { ...conversations, c3: long },
      servers: [{ ...servers[0], channelIds: ['c1', 'c2', 'c3'] } as ServerEntry],
    });
    for (const r of out.split('\n')) assert.ok(textWidth(r) <= 16, `too wide: ${JSON.stringify(r)}`);
    assert.match(out, /#a-very-… +5/);
  });

  test('a collapsed server hides its channels and carries their mentions', async () => {
    const out = frame({ servers: [{ ...servers[0], expanded: false } as ServerEntry] });
    assert.doesNotMatch(out, /#general/);
    assert.match(out, /▸ acme.*•\s+2/);
  });

  test('scrolls to keep the active entry visible', async () => {
    const many: Record<string, ConversationEntry> = {};
    const ids: string[] = [];
    for (let i = 0; i < 40; i++) {
      const id = `c${i}`;
      many[id] = conv(id, 'channel', `chan-${String(i).padStart(2, '0')}`);
      ids.push(id);
    }
    const props = {
      conversations: many,
      servers: [{ ...servers[0], channelIds: ids } as ServerEntry],
      height: 6,
    };
    const top = frame({ ...props, active: 'c0' });
    assert.equal(top.split('\n').length, 6);
    assert.match(top, /acme/);
    const deep = frame({ ...props, active: 'c30' });
    assert.equal(deep.split('\n').length, 6);
    assert.match(deep, /^› +#chan-30/m);
    assert.doesNotMatch(deep, /acme/);
  });

  test('servers and groups of the same name (in any case) are told apart by the start of their id, dimmed', async () => {
    const twins: ServerEntry[] = [
      { id: '2f9kQw0LhT5bVn3mZx7Ra', name: 'acme', role: 'owner', channelIds: ['c1'], expanded: true },
      { id: 'x8k2Pp4sJd9fGh1kLz6Wq', name: 'ACME', role: 'member', channelIds: ['c2'], expanded: false },
      { id: 'w1dgAAAAAAAAAAAAAAAAA', name: 'widgets', role: 'member', channelIds: [], expanded: true },
    ];
    const groups = {
      g1: conv('g1', 'group', 'friends'),
      gAbCd123: conv('gAbCd123', 'group', 'Friends'),
      gAbCe456: conv('gAbCe456', 'group', 'friends'),
    };
    const props = { servers: twins, conversations: { ...conversations, ...groups }, width: 28 };
    const out = frame(props);
    assert.match(out, /▾ acme·2f9k/);
    assert.match(out, /▸ ACME·x8k2/);
    assert.match(out, /▾ widgets\s*$/m, 'a name of its own has no fragment');
    // Two of the three groups share the start gAbC: theirs grow until they differ.
    assert.match(out, /\+friends·g1 *$/m, 'an id shorter than four characters is all there is');
    assert.match(out, /\+Friends·gAbCd/);
    assert.match(out, /\+friends·gAbCe/);
    const { rows } = sidebarRows({ ...base, ...props });
    const tag = rows.find((r) => r.key === 's:x8k2Pp4sJd9fGh1kLz6Wq')?.segments.find((seg) => seg.text === '·x8k2');
    assert.equal(tag?.dim, true);
  });

  test('in a narrow sidebar the name is cut before its fragment, and every row fits', async () => {
    const twins: ServerEntry[] = [
      { id: '2f9kQw0LhT5bVn3mZx7Ra', name: 'a-rather-long-server-name', role: 'owner', channelIds: [], expanded: true },
      { id: 'x8k2Pp4sJd9fGh1kLz6Wq', name: 'a-rather-long-server-name', role: 'owner', channelIds: [], expanded: true },
    ];
    const out = frame({ servers: twins, conversations: {}, active: null, width: 17 });
    for (const r of out.split('\n')) assert.ok(textWidth(r) <= 17, `too wide: ${JSON.stringify(r)}`);
    assert.match(out, /▾ a-rather…·2f9k/);
    assert.match(out, /▾ a-rather…·x8k2/);
    const tiny = frame({ servers: twins, conversations: {}, active: null, width: 6 });
    for (const r of tiny.split('\n')) assert.ok(textWidth(r) <= 6, `too wide: ${JSON.stringify(r)}`);
  });

  test('the open group of a shared name is highlighted with its fragment', async () => {
    const groups = { g1: conv('g1xx', 'group', 'team'), g2: conv('g2yy', 'group', 'team') };
    const { rows } = sidebarRows({ ...base, servers: [], conversations: groups, active: 'g2yy' });
    const open = rows.find((r) => r.key === 'c:g2yy');
    assert.deepEqual(
      open?.segments.filter((seg) => seg.inverse).map((seg) => seg.text.trim()),
      ['+team', '·g2yy', ''],
    );
  });

  test('names from the server are sanitized', async () => {
    const out = frame({
      conversations: { d1: conv('d1', 'dm', 'ev\u001b]0;x\u0007il') },
      servers: [],
    });
    assert.doesNotMatch(out, /[\u001b\u0007]/);
    assert.match(out, /@ev␛\]0;x␇il/);
    const twins = frame({
      conversations: {},
      servers: [
        { id: 'aaaa\u001b[2Jx', name: 'ev\u001b[31mil', role: 'owner', channelIds: [], expanded: true },
        { id: 'bbbb\u0007yyy', name: 'EV\u001b[31mIL', role: 'owner', channelIds: [], expanded: true },
      ],
    });
    assert.doesNotMatch(twins, /[\u001b\u0007]/, 'neither the names nor the id fragments reach the terminal raw');
    assert.match(twins, /ev␛\[31mil·aaaa/);
  });
});
