import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { render } from 'ink-testing-library';
import type { ReactElement } from 'react';
import { Header } from '../../../src/tui/components/Header.js';
import { StatusLine } from '../../../src/tui/components/StatusLine.js';
import { typingText } from '../../../src/tui/view/status-text.js';
import { textWidth } from '../../../src/tui/view/text-width.js';

/** The first frame: ink-testing-library's render draws it synchronously. */
function frame(el: ReactElement): string {
  const r = render(el);
  const out = r.lastFrame() ?? '';
  r.unmount();
  return out;
}

describe('Header', () => {
  test('title with its sigil, topic and online count on one line', async () => {
    const out = frame(<Header title="general" topic="release week" onlineCount={3} kind="channel" width={60} />);
    assert.match(out, /^#general — release week +3 online$/);
    assert.match(frame(<Header title="bob" topic={null} onlineCount={null} kind="dm" width={60} />), /^@bob$/);
    assert.match(frame(<Header title="pals" topic={null} onlineCount={2} kind="group" width={60} />), /^\+pals/);
    // No conversation open: the app's name, with no sigil (there is no #natter).
    assert.match(frame(<Header title="natter" topic={null} onlineCount={null} kind={null} width={60} />), /^natter$/);
  });

  test('a long topic is cut, the count kept', async () => {
    const out = frame(<Header title="general" topic={'blah '.repeat(30)} onlineCount={12} kind="channel" width={50} />);
    assert.equal(out.split('\n').length, 1);
    assert.ok(textWidth(out) <= 50);
    assert.match(out, /…\s*12 online$/);
  });

  test('title and topic are sanitized to one line', async () => {
    const out = frame(
      <Header
        title={'gen\u001b[2J'}
        topic={'line one\nline two \u001b]0;x\u0007'}
        onlineCount={null}
        kind="channel"
        width={80}
      />,
    );
    assert.doesNotMatch(out, /[\u001b\u0007\n]/);
    assert.match(out, /#gen␛\[2J — line one␤line two ␛\]0;x␇/);
  });
});

describe('StatusLine', () => {
  const url = 'ws://chat.example:7777';
  test('connected, reconnecting with countdown and reason, offline', async () => {
    assert.match(
      frame(<StatusLine connection={{ status: 'connected', url }} typing={[]} now={0} />),
      /^● connected ws:\/\/chat\.example:7777$/,
    );
    assert.match(
      frame(
        <StatusLine
          connection={{ status: 'reconnecting', url, retryAt: 12_500, error: 'connection refused' }}
          typing={[]}
          now={10_000}
        />,
      ),
      /^◌ reconnecting in 3s \(connection refused\) ws:\/\/chat\.example:7777$/,
    );
    assert.match(
      frame(<StatusLine connection={{ status: 'closed', url, error: null }} typing={[]} now={0} />),
      /^○ offline ws:/,
    );
    assert.match(
      frame(<StatusLine connection={{ status: 'connecting', url }} typing={[]} now={0} />),
      /^◌ connecting ws:/,
    );
  });

  test('who is typing, and the hint on the right', async () => {
    const out = frame(
      <StatusLine connection={{ status: 'connected', url }} typing={['bob']} now={0} hint="F1 help" width={80} />,
    );
    assert.match(out, /● connected ws:\/\/chat\.example:7777 +bob is typing… +F1 help$/);
    assert.equal(typingText([]), '');
    assert.equal(typingText(['bob', 'carol']), 'bob and carol are typing…');
    assert.equal(typingText(['bob', 'carol', 'dave']), 'several people are typing…');
  });

  test('server-provided text is sanitized', async () => {
    const out = frame(
      <StatusLine
        connection={{ status: 'closed', url, error: 'bad\u001b[2J' }}
        typing={['ev\u001b]0;x\u0007il']}
        now={0}
      />,
    );
    assert.doesNotMatch(out, /[\u001b\u0007]/);
    assert.match(out, /offline \(bad␛\[2J\)/);
  });
});

describe('NoticeLine', () => {
  test('server text with controls and bidi overrides is shown, not obeyed, on one line', async () => {
    const { NoticeLine } = await import('../../../src/tui/components/NoticeLine.js');
    const out = frame(<NoticeLine text={'evil\u202Eeman\u001b[2J\nnext'} level="error" />);
    assert.equal(out.split('\n').length, 1);
    assert.ok(!out.includes('\u202E') && !out.includes('\u001b[2J'), JSON.stringify(out));
    assert.match(out, /evil<U\+202E>eman␛\[2J␤next/);
  });
});

describe('search highlighting', () => {
  test('the words a search matched stand out in a message, in any case and with any accents', async () => {
    const { highlightWords } = await import('../../../src/tui/view/message-layout.js');
    const out = highlightWords([{ text: 'The Café opens; CAFE au lait, cafés' }], ['cafe']);
    const marked = out.filter((s) => s.inverse).map((s) => s.text);
    assert.deepEqual(marked, ['Café', 'CAFE', 'caf\u00e9']);
    assert.equal(out.map((s) => s.text).join(''), 'The Café opens; CAFE au lait, cafés', 'the text is unchanged');
  });

  test('a hit in the search overlay shows where it is and the text around its first match, the match marked', async () => {
    const { hitPlace, hitSegments } = await import('../../../src/tui/components/SearchOverlay.js');
    const body = `${'filler '.repeat(30)}the deploy is done`;
    const start = body.indexOf('deploy');
    const hit = {
      message: {
        id: 'm1',
        conversationId: 'c1',
        seq: 7,
        author: { id: 'u1', username: 'bob', displayName: null },
        bot: false,
        kind: 'text' as const,
        body,
        createdAt: 0,
        editedAt: null,
        deletedAt: null,
        nonce: null,
        mentions: [],
      },
      conversation: { id: 'c1', kind: 'channel' as const, serverId: 's1', serverName: 'acme', name: 'ops' },
      matches: [[start, start + 6]] as [number, number][],
    };
    assert.equal(hitPlace(hit), '#ops (acme)');
    // When two of my servers are named acme, the place names this one as the sidebar does.
    assert.equal(hitPlace(hit, new Map([['s1', 'acme·2f9k']])), '#ops (acme·2f9k)');
    const segs = hitSegments(hit, 40, {});
    const text = segs.map((s) => s.text).join('');
    assert.ok(text.startsWith('…'), 'cut before the match');
    assert.ok(textWidth(text) <= 40);
    assert.deepEqual(
      segs.filter((s) => s.bold).map((s) => s.text),
      ['deploy'],
    );
  });

  test('the search overlay shows an action as "* bob waves" and a bot token\'s message with "bot"', async () => {
    const { SearchOverlay } = await import('../../../src/tui/components/SearchOverlay.js');
    const hit = (id: string, body: string, extra: { kind: 'text' | 'action'; bot: boolean }) => ({
      message: {
        id,
        conversationId: 'c1',
        seq: 1,
        author: { id: 'u1', username: 'bob', displayName: null },
        ...extra,
        body,
        createdAt: 0,
        editedAt: null,
        deletedAt: null,
        nonce: null,
        mentions: [],
      },
      conversation: { id: 'c1', kind: 'channel' as const, serverId: 's1', serverName: 'acme', name: 'ops' },
      matches: [[0, 5]] as [number, number][],
    });
    const out = frame(
      <SearchOverlay
        query="waves"
        hits={[
          hit('m1', 'waves at the deploy', { kind: 'action', bot: false }),
          hit('m2', 'waves: deploy finished', { kind: 'text', bot: true }),
          hit('m3', 'waves are big today', { kind: 'text', bot: false }),
        ]}
        selected={0}
        loading={false}
        error={null}
        more={false}
        width={80}
        height={12}
      />,
    );
    assert.match(out, /#ops \(acme\) \d\d:\d\d \* bob waves at the deploy/);
    assert.match(out, /#ops \(acme\) \d\d:\d\d bob bot: waves: deploy finished/);
    assert.match(out, /#ops \(acme\) \d\d:\d\d bob: waves are big today/);
  });
});
