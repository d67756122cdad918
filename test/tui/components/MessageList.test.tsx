import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { render } from 'ink-testing-library';
import { MessageList, type MessageListProps } from '../../../src/tui/components/MessageList.js';
import { styledRow } from '../../../src/tui/components/StyledRow.js';
import { DEFAULT_THEME } from '../../../src/tui/config.js';
import type { Line } from '../../../src/tui/state.js';
import {
  colorEnabled,
  conversationColors,
  NAME_PALETTE,
  OWN_NAME_COLOR,
  userColor,
} from '../../../src/tui/view/colors.js';
import {
  layoutMessages,
  messageRows,
  pageScroll,
  rowsBelow,
  scrollView,
} from '../../../src/tui/view/message-layout.js';
import { textWidth } from '../../../src/tui/view/text-width.js';

// Times are shown in local time; pin the zone so the expected strings hold everywhere.
process.env.TZ = 'UTC';

const MON = Date.UTC(2023, 10, 20, 18, 30);
const TUE = Date.UTC(2023, 10, 21, 9, 5);

let n = 0;
function line(body: string, extra: Partial<Line> = {}): Line {
  n += 1;
  return {
    key: `m${n}`,
    id: `m${n}`,
    seq: n,
    author: { id: 'u-bob', username: 'bob', displayName: null },
    bot: false,
    kind: 'text',
    body,
    createdAt: TUE,
    editedAt: null,
    deletedAt: null,
    nonce: null,
    pending: false,
    failed: null,
    mentionsMe: false,
    ...extra,
  };
}

const base: MessageListProps = {
  lines: [],
  meId: 'u-me',
  width: 60,
  height: 20,
  scrollBack: 0,
  hasMoreBefore: false,
  loading: false,
};

/** The first frame: ink-testing-library's render draws it synchronously. */
function frame(props: Partial<MessageListProps>): string {
  const r = render(<MessageList {...base} {...props} />);
  const out = r.lastFrame() ?? '';
  r.unmount();
  return out;
}

test('rowsBelow counts what the list lays out under a message: tall ones, day separators, info lines and the new line', () => {
  const info = (body: string, at: number): Line =>
    line(body, {
      id: null,
      seq: null,
      kind: 'info',
      createdAt: at,
      author: { id: '', username: '', displayName: null },
    });
  const lines: Line[] = [];
  for (let i = 0; i < 12; i++) {
    const at = i < 6 ? MON : TUE;
    lines.push(line(i % 4 === 0 ? `tall ${'word '.repeat(30)}` : `short ${i}`, { createdAt: at }));
    if (i % 3 === 1) lines.push(info(`someone ${i} joined`, at));
  }
  const seqs = lines.flatMap((l) => (l.seq === null ? [] : [l.seq]));
  const newFrom = seqs[7] ?? null;
  const opts = { meId: 'u-me', width: 40 };
  const laid = layoutMessages({ ...base, ...opts, lines, height: 500, newFrom }).rows.map((r) => r.key);
  for (const seq of seqs) {
    const key = lines.find((l) => l.seq === seq)?.key ?? '';
    const last = laid.findLastIndex((k) => k.startsWith(`${key}:`));
    assert.equal(rowsBelow(lines, seq, { ...opts, newFrom }), laid.length - 1 - last, `rows below #${seq}`);
  }
});

test('a variation selector or zero-width space in a body hides nothing at the end of its row', () => {
  const out = frame({
    lines: [line('ok, I approve the deploy\ufe0f.\ufe0f.\ufe0f.\ufe0f NOT'), line('zero\u200bwidth END')],
  });
  assert.match(out, /approve the deploy\.\.\. NOT$/m);
  assert.match(out, /zerowidth END$/m);
});

describe('MessageList', () => {
  test('shows time, author and body, and a day separator between days', async () => {
    const out = frame({ lines: [line('evening', { createdAt: MON }), line('morning')] });
    assert.match(out, /── Monday 20 November ──\n18:30 bob evening\n\s*── Tuesday 21 November ──\n09:05 bob morning/);
  });

  test('adds the year to a separator from another year than now', async () => {
    const out = frame({ lines: [line('old')], now: Date.UTC(2024, 0, 2) });
    assert.match(out, /── Tuesday 21 November 2023 ──/);
  });

  test('12-hour times', async () => {
    const out = frame({ lines: [line('hi')], timeFormat: '12h' });
    assert.match(out, / 9:05 AM bob hi/);
  });

  test('wraps long lines at the width with a hanging indent, and keeps newlines', async () => {
    const body = 'the quick brown fox jumps over the lazy dog and keeps on running far away';
    const out = frame({ lines: [line(`${body}\nsecond paragraph`)], width: 30 });
    const rows = out.split('\n').filter((r) => r.trim() !== '');
    for (const r of rows) assert.ok(textWidth(r) <= 30, `row too wide: ${JSON.stringify(r)}`);
    assert.match(out, /^09:05 bob the quick brown fox$/m);
    assert.match(out, /^ {10}jumps over the lazy$/m);
    assert.match(out, /^ {10}second paragraph$/m);
  });

  test('breaks a word longer than the row', async () => {
    const out = frame({ lines: [line('x'.repeat(50))], width: 30 });
    const rows = out.split('\n').filter((r) => r.includes('x'));
    assert.equal(rows.length, 3);
    for (const r of rows) assert.ok(textWidth(r) <= 30);
  });

  test('renders only the rows that fit, following scrollBack', async () => {
    const lines = Array.from({ length: 30 }, (_, i) => line(`msg ${i + 1}`));
    const bottom = frame({ lines, height: 5, hasMoreBefore: true });
    assert.deepEqual(
      bottom.split('\n').map((r) => r.slice(10)),
      ['msg 26', 'msg 27', 'msg 28', 'msg 29', 'msg 30'],
    );
    // Scrolled up, the bottom row says there is more below.
    const up = frame({ lines, height: 5, scrollBack: 3, hasMoreBefore: true });
    assert.match(up, /msg 24\n[^\n]*msg 25\n[^\n]*msg 26\n[^\n]*msg 27\n\s*── more below · End ──$/);
    assert.doesNotMatch(up, /msg 28|beginning/);
    const news = frame({ lines, height: 5, scrollBack: 3, hasMoreBefore: true, newBelow: 2 });
    assert.match(news, /── 2 new messages below · End ──$/);
  });

  test('scrolled to the top: beginning of conversation, and scrollBack is clamped', async () => {
    const lines = Array.from({ length: 10 }, (_, i) => line(`msg ${i + 1}`));
    const out = frame({ lines, height: 4, scrollBack: 1000 });
    assert.match(
      out,
      /^beginning of conversation\n\s*── Tuesday 21 November ──\n09:05 bob msg 1\n\s*── more below · End ──$/,
    );
    const layout = layoutMessages({ ...base, lines, height: 4, scrollBack: 1000 });
    assert.equal(layout.scrollBack, 9);
    assert.equal(layout.atTop, true);
    assert.equal(layoutMessages({ ...base, lines, height: 4 }).atTop, false);
  });

  test('loading older messages shows on the top row; more history hides the beginning marker', async () => {
    const lines = [line('one'), line('two')];
    const loading = frame({ lines, height: 6, loading: true, hasMoreBefore: true });
    assert.match(loading.trimStart(), /^loading older messages…\n/);
    const full = frame({ lines: Array.from({ length: 20 }, (_, i) => line(`m${i}`)), height: 6, loading: true });
    assert.match(full, /^loading older messages…\n(09:05 bob m\d+\n){4}09:05 bob m19$/);
    const more = frame({ lines, height: 6, hasMoreBefore: true });
    assert.doesNotMatch(more, /beginning of conversation|loading/);
    const empty = frame({ lines: [] });
    assert.match(empty, /beginning of conversation/);
  });

  test('wraps only the messages the window reaches, not the whole history', () => {
    let reads = 0;
    const lines = Array.from({ length: 10_000 }, (_, i) => {
      const l = line(`msg ${i}`);
      Object.defineProperty(l, 'body', {
        get: () => {
          reads += 1;
          return `msg ${i}`;
        },
      });
      return l;
    });
    const { rows } = layoutMessages({ ...base, lines, height: 10, hasMoreBefore: true });
    assert.equal(rows.length, 10);
    assert.ok(reads <= 12, `read ${reads} bodies`);
  });

  test('a deleted message is a tombstone, without its body', async () => {
    const out = frame({ lines: [line('secret', { deletedAt: TUE, editedAt: TUE })] });
    assert.match(out, /09:05 bob message deleted/);
    assert.doesNotMatch(out, /secret|edited/);
    const [row] = messageRows(line('x', { deletedAt: TUE }), { meId: null, width: 60 });
    const body = row?.segments.at(-1);
    assert.equal(body?.italic, true);
    assert.equal(body?.dim, true);
  });

  test('edited messages carry a dim (edited)', async () => {
    const out = frame({ lines: [line('fixed typo', { editedAt: TUE + 1000 })] });
    assert.match(out, /09:05 bob fixed typo \(edited\)/);
  });

  test('an action reads "* bob waves", in italics, with the star and the name in his colour; "/me" in a text stays text', async () => {
    const out = frame({ lines: [line('waves at everyone', { kind: 'action' }), line('/me is not a command here')] });
    assert.match(out, /^09:05 \* bob waves at everyone$/m);
    assert.match(out, /^09:05 bob \/me is not a command here$/m);
    const [row] = messageRows(line('waves', { kind: 'action' }), { meId: null, width: 60 });
    const texts = row?.segments.map((s) => s.text);
    assert.deepEqual(texts, ['09:05', ' ', '*', ' ', 'bob', ' ', 'waves']);
    const colour = userColor('u-bob', null);
    assert.deepEqual(
      row?.segments.slice(2, 5).map((s) => [s.text, s.color, s.bold]),
      [
        ['*', colour, true],
        [' ', undefined, undefined],
        ['bob', colour, true],
      ],
    );
    assert.equal(row?.segments.at(-1)?.italic, true);
    // Long actions wrap under the text, like any message.
    const long = frame({ lines: [line('stretches '.repeat(12).trim(), { kind: 'action' })], width: 40 });
    assert.match(long, /^09:05 \* bob stretches stretches/m);
    assert.match(long, /^ {12}stretches/m);
    // A deleted action is a tombstone like any other.
    assert.match(frame({ lines: [line('', { kind: 'action', deletedAt: TUE })] }), /09:05 bob message deleted/);
  });

  test('an automod notice reads "⚑ automod", not as its named author; a held send says it waits for review', async () => {
    const out = frame({
      lines: [
        line('#3 by @bob in #general matched "watch" (posted): hi', { kind: 'automod' }),
        line('see example dot com', {
          id: null,
          seq: null,
          held: 'your message is held for review by the server\'s moderators (rule "links")',
        }),
      ],
      width: 100,
    });
    assert.match(out, /^09:05 ⚑ automod #3 by @bob in #general matched "watch" \(posted\): hi$/m);
    assert.doesNotMatch(out, /09:05 bob #3/);
    assert.match(out, /^09:05 bob see example dot com$/m);
    assert.match(out, /⏳ your message is held for review by the server's moderators \(rule "links"\)/);
    assert.doesNotMatch(out, /sending…|not sent/);
  });

  test('a bot token\'s message has a dim "bot" after the name, action or not', async () => {
    const out = frame({
      lines: [line('deploy finished', { bot: true }), line('beeps', { bot: true, kind: 'action' }), line('hi bob')],
    });
    assert.match(out, /^09:05 bob bot deploy finished$/m);
    assert.match(out, /^09:05 \* bob bot beeps$/m);
    assert.match(out, /^09:05 bob hi bob$/m);
    const [row] = messageRows(line('deploy finished', { bot: true }), { meId: null, width: 60 });
    const tag = row?.segments.find((s) => s.text === 'bot');
    assert.deepEqual([tag?.dim, tag?.bold], [true, undefined]);
    // The tag counts in the hanging indent: continuation rows line up after it.
    const wrapped = messageRows(line('word '.repeat(20).trim(), { bot: true }), { meId: null, width: 40 });
    assert.equal(wrapped[1]?.segments[0]?.text, ' '.repeat(13));
  });

  test('pending lines say sending…, failed ones show why', async () => {
    const me = { id: 'u-me', username: 'me', displayName: null };
    const out = frame({
      lines: [
        line('on its way', { author: me, pending: true, id: null, seq: null, key: 'pending:a' }),
        line('refused', { author: me, pending: true, id: null, seq: null, key: 'pending:b', failed: 'rate limited' }),
      ],
    });
    assert.match(out, /09:05 me on its way sending…/);
    assert.match(out, /09:05 me refused\n\s+✗ not sent: rate limited/);
    const [pending] = messageRows(line('p', { pending: true }), { meId: null, width: 60 });
    assert.equal(pending?.segments.at(-3)?.dim, true);
    const [failed] = messageRows(line('f', { pending: true, failed: 'no' }), { meId: null, width: 60 });
    assert.equal(failed?.segments.at(-1)?.color, 'error');
  });

  test('escape sequences in bodies and names are shown as placeholders, never sent raw', async () => {
    const body = 'a\u001b[2Jb \u001b]0;x\u0007 c \u001b]52;c;aGk=\u0007 d';
    const out = frame({
      lines: [line(body, { author: { id: 'u-x', username: 'ev\u001b[31mil', displayName: null } })],
    });
    assert.doesNotMatch(out, /[\u001b\u0007]/);
    assert.match(out, /a␛\[2Jb ␛\]0;x␇ c ␛\]52;c;aGk=␇ d/);
    assert.match(out, /ev␛\[31mil/);
  });

  test('an info line reads "09:05 -- bob was kicked", dim, wrapped under its text, its text sanitized; it takes no name colour', () => {
    const info = (body: string): Line =>
      line(body, { id: null, seq: null, kind: 'info', author: { id: '', username: '', displayName: null } });
    const out = frame({
      lines: [line('spam'), info('bob was kicked'), info('the topic is now: \u001b]0;owned\u0007 ok')],
    });
    assert.match(out, /09:05 bob spam\n09:05 -- bob was kicked\n09:05 -- the topic is now: ␛\]0;owned␇ ok/);
    assert.doesNotMatch(out, /[\u001b\u0007]/);
    const rows = messageRows(info(`the topic is now: ${'word '.repeat(20).trim()}`), { meId: 'u-me', width: 40 });
    assert.ok(rows.length > 1);
    for (const r of rows) {
      const text = r.segments.map((seg) => seg.text).join('');
      assert.ok(textWidth(text) <= 40, text);
      assert.ok(
        r.segments.every((seg) => seg.text.trim() === '' || seg.dim),
        'every row dim',
      );
    }
    assert.match(
      rows[1]?.segments.map((seg) => seg.text).join('') ?? '',
      /^ {9}word/,
      'under the text, past "09:05 --"',
    );
    assert.deepEqual(
      rows[0]?.segments.map((seg) => seg.color),
      [undefined, undefined, 'muted'],
    );
    // Info lines take no colour from the palette: the people of the conversation keep theirs.
    const people = [line('d', { author: { id: 'u-d', username: 'dave', displayName: null } }), line('b')];
    const colours = (lines: Line[]) =>
      layoutMessages({ ...base, lines }).rows.flatMap((r) =>
        r.segments.filter((seg) => seg.bold).map((seg) => seg.color),
      );
    assert.deepEqual(colours([...people, info('carol joined')]), colours(people));
  });

  test('mentions of the viewer are highlighted', () => {
    const rows = messageRows(line('hey @Me and @meta', { mentionsMe: true }), {
      meId: 'u-me',
      meUsername: 'me',
      width: 60,
    });
    const segs = rows[0]?.segments ?? [];
    assert.equal(segs[0]?.inverse, true, 'the time stands out');
    const hits = segs.filter((s) => s.bold && s.color === 'mention').map((s) => s.text);
    assert.deepEqual(hits, ['@Me']);
  });

  test('names get stable palette colours; the viewer a fixed one', () => {
    assert.equal(userColor('u-bob', 'u-me'), userColor('u-bob', 'u-me'));
    assert.ok((NAME_PALETTE as readonly string[]).includes(userColor('u-bob', 'u-me')));
    assert.equal(userColor('u-me', 'u-me'), OWN_NAME_COLOR);
    const spread = new Set(Array.from({ length: 50 }, (_, i) => userColor(`user${i}`, null)));
    assert.ok(spread.size >= 5);
    const [row] = messageRows(line('x'), { meId: 'u-me', width: 60 });
    assert.equal(row?.segments[2]?.color, userColor('u-bob', 'u-me'));
  });

  test('NO_COLOR: colours are dropped, styles kept', () => {
    assert.equal(colorEnabled({}), true);
    assert.equal(colorEnabled({ NO_COLOR: '' }), true);
    assert.equal(colorEnabled({ NO_COLOR: '1' }), false);
    const el = styledRow([{ text: 'a', color: 'error', bold: true }], false, DEFAULT_THEME);
    const colored = styledRow([{ text: 'a', color: 'error' }], true, { ...DEFAULT_THEME, error: 'magenta' });
    const [tinted] = (colored.props as { children: { props: { color?: string } }[] }).children;
    assert.equal(tinted?.props.color, 'magenta', 'theme roles take the configured colour');
    const [child] = (el.props as { children: { props: { color?: string; bold?: boolean } }[] }).children;
    assert.equal(child?.props.color, undefined);
    assert.equal(child?.props.bold, true);
  });
});

describe('paging through a long conversation', () => {
  /** 300 messages of mixed heights: one line, a few lines, a 50-line one. */
  function mixed(): Line[] {
    return Array.from({ length: 300 }, (_, i) => {
      const n = i + 1;
      const body =
        n === 150
          ? Array.from({ length: 50 }, (_, k) => `m${n} part ${k + 1}`).join('\n')
          : n % 7 === 0
            ? `m${n} ${'and a long wrapping sentence '.repeat(6)}`
            : n % 5 === 0
              ? `m${n} first\nsecond\nthird`
              : `m${n}`;
      return { ...line(body), key: `k${n}`, id: `id${n}`, seq: n };
    });
  }

  /** The messages whose first row shows (`mN` right after the author), and every body row's text. */
  function visible(lines: Line[], scrollBack: number, height: number) {
    const laid = layoutMessages({ ...base, lines, width: 60, height, scrollBack, hasMoreBefore: false });
    const texts = laid.rows.map((r) => r.segments.map((s) => s.text).join(''));
    return { laid, texts, keys: laid.rows.map((r) => r.key) };
  }

  test('PageUp then PageDown (one screen less a line) show every row of 300 messages of mixed heights, none skipped', () => {
    const lines = mixed();
    const height = 20;

    const seen = new Set<string>();
    const collect = (texts: string[]) => {
      for (const t of texts) for (const m of t.matchAll(/\bm(\d+)\b/g)) seen.add(m[1] ?? '');
    };
    const partsSeen = new Set<string>();
    let scrollBack = 0;
    let presses = 0;
    for (;;) {
      const { laid, texts, keys } = visible(lines, scrollBack, height);
      collect(texts);
      for (const t of texts) for (const m of t.matchAll(/part (\d+)/g)) partsSeen.add(m[1] ?? '');
      assert.ok(laid.scrollBack === scrollBack || laid.atTop, 'a press always moves until the top');
      if (laid.atTop) {
        assert.match(texts[0] ?? '', /beginning of conversation/, 'the top marker, only at the first message');
        break;
      }
      // Each step keeps the old top row in view (the line at the edge), so nothing falls between pages.
      const to = pageScroll(scrollBack, height, false, 'up');
      const after = visible(lines, to, height);
      const next = after.keys;
      const top = keys[0];
      assert.ok(top !== undefined && next.includes(top), `press ${presses}: the old top row is still in view`);
      // Short of the top (where the last press can only go as far as there is), only that row is seen twice.
      if (!after.laid.atTop)
        assert.ok(!next.includes(keys[1] ?? ''), `press ${presses}: only that one row is seen twice`);
      scrollBack = to;
      presses++;
      assert.ok(presses < 1000);
    }
    assert.equal(
      seen.size,
      300,
      `every message seen going up; missing: ${[...Array(300).keys()]
        .map((i) => String(i + 1))
        .filter((n) => !seen.has(n))
        .join(' ')}`,
    );
    assert.equal(partsSeen.size, 50, 'every line of the 50-line message');
    // And down again to the newest: every press moves, the last one lands on the bottom.
    const down = new Set<string>();
    let back = visible(lines, Number.MAX_SAFE_INTEGER, height).laid.scrollBack;
    while (back > 0) {
      const { texts, keys } = visible(lines, back, height);
      for (const t of texts) for (const m of t.matchAll(/\bm(\d+)\b/g)) down.add(m[1] ?? '');
      const to = pageScroll(back, height, false, 'down');
      const next = visible(lines, to, height).keys;
      // The old bottom message row (the last before the "below" row) is the new top one.
      const bottom = keys[keys.length - 2];
      if (to > 0) assert.equal(next[0], bottom, 'one row of overlap going down');
      back = to;
    }
    for (const t of visible(lines, 0, height).texts) for (const m of t.matchAll(/\bm(\d+)\b/g)) down.add(m[1] ?? '');
    assert.equal(down.size, 300, 'every message seen going down');
  });
});

describe('name colours', () => {
  test('everyone of a conversation gets a colour of their own while the palette lasts, the same each time; none is green like mine', () => {
    const people = ['u-bob', 'u-carol', 'u-dan', 'u-erin', 'u-fay', 'u-gus', 'u-me'];
    const colors = conversationColors(people, 'u-me');
    assert.equal(colors.get('u-me'), OWN_NAME_COLOR);
    const others = people.filter((p) => p !== 'u-me').map((p) => colors.get(p));
    assert.equal(new Set(others).size, others.length, 'all different');
    assert.deepEqual(
      conversationColors([...people].reverse(), 'u-me'),
      colors,
      'the order they come in does not matter',
    );
    // Twelve people, twelve colours; more than that share.
    const crowd = Array.from({ length: 12 }, (_, i) => `user-${i}`);
    assert.equal(new Set(conversationColors(crowd, null).values()).size, 12);
    for (const c of NAME_PALETTE) assert.doesNotMatch(c, /green|red/i);
  });
});

describe('the new-messages line', () => {
  test('a ── new ── line sits right above the first message that was unread', () => {
    const lines = Array.from({ length: 6 }, (_, i) => ({
      ...line(`msg ${i + 1}`),
      key: `n${i + 1}`,
      id: `n${i + 1}`,
      seq: i + 1,
    }));
    const laid = layoutMessages({ ...base, lines, height: 12, newFrom: 4, hasMoreBefore: false });
    const texts = laid.rows.map((r) => r.segments.map((s) => s.text).join(''));
    const at = texts.findIndex((t) => t.startsWith('── new '));
    assert.ok(at > 0, texts.join('\n'));
    assert.match(texts[at - 1] ?? '', /msg 3$/);
    assert.match(texts[at + 1] ?? '', /msg 4$/);
    assert.equal(
      layoutMessages({ ...base, lines, height: 12, newFrom: null }).rows.some((r) => r.key === 'new'),
      false,
    );
  });

  test('scrolling to the top counts that line: "beginning of conversation" is reached, not a row short of it', () => {
    const lines = Array.from({ length: 40 }, (_, i) => ({
      ...line(`msg ${i + 1}`),
      key: `t${i + 1}`,
      id: `t${i + 1}`,
      seq: i + 1,
    }));
    const view = { lines, hasMoreBefore: false, loading: false, scrollBack: 0, newBelow: 0, newFrom: 30 };
    const geometry = { meId: 'u-me', meUsername: null, width: 60, height: 10 };
    const to = scrollView(view, Number.MAX_SAFE_INTEGER, geometry);
    assert.equal(to.fetch, false, 'nothing older to fetch');
    const top = layoutMessages({ ...base, ...view, ...geometry, scrollBack: to.scrollBack });
    assert.match(top.rows[0]?.segments.map((s) => s.text).join('') ?? '', /beginning of conversation/);
    // And PageUp from the bottom moves one screen less a line, the ── new ── line being a row like any other.
    const page = scrollView(view, pageScroll(0, 10, false, 'up'), geometry, true);
    assert.deepEqual(page, { scrollBack: 9, owed: 0, fetch: false });
  });
});

describe('scrollView: a page up past the top of what is loaded', () => {
  test('goes as far as there is, asks for older messages and owes the rest; one that stays within owes nothing', () => {
    const lines = Array.from({ length: 30 }, (_, i) => ({
      ...line(`msg ${i + 1}`),
      key: `s${i + 1}`,
      id: `s${i + 1}`,
      seq: i + 71,
    }));
    const view = { lines, hasMoreBefore: true, loading: false, scrollBack: 0, newBelow: 0 };
    const geometry = { meId: 'u-me', meUsername: null, width: 60, height: 10 };
    // 30 one-line messages and their day separator: 31 rows; scrolled up, 9 show, so the top is 22 rows up.
    assert.deepEqual(scrollView({ ...view, scrollBack: 20 }, 8, geometry, true), {
      scrollBack: 22,
      owed: 6,
      fetch: true,
    });
    assert.deepEqual(
      scrollView({ ...view, scrollBack: 20, owed: 5 }, 8, geometry, true),
      { scrollBack: 22, owed: 11, fetch: true },
      'a second press while the first waits owes both',
    );
    assert.deepEqual(
      scrollView({ ...view, scrollBack: 20 }, 8, geometry),
      { scrollBack: 22, owed: 0, fetch: true },
      'Home owes nothing',
    );
    assert.deepEqual(scrollView({ ...view, scrollBack: 5 }, 8, geometry, true), {
      scrollBack: 13,
      owed: 0,
      fetch: false,
    });
    assert.deepEqual(scrollView({ ...view, scrollBack: 20 }, -8, geometry, true), {
      scrollBack: 12,
      owed: 0,
      fetch: false,
    });
  });
});
