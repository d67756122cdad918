import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { render } from 'ink-testing-library';
import sharp from 'sharp';
import type { Attachment } from '../../../src/protocol/index.js';
import { MessageList, type MessageListProps } from '../../../src/tui/components/MessageList.js';
import { decodePixels } from '../../../src/tui/previews.js';
import type { Line } from '../../../src/tui/state.js';
import {
  ansi256,
  attachmentLabel,
  attachmentRows,
  fitName,
  formatBytes,
  formatDuration,
  halfBlockRow,
  type PictureSource,
  type Pixels,
  previewSize,
} from '../../../src/tui/view/attachments.js';
import { layoutMessages, messageRows, rowsBelow } from '../../../src/tui/view/message-layout.js';
import { textWidth } from '../../../src/tui/view/text-width.js';

process.env.TZ = 'UTC';
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

function file(extra: Partial<Attachment> = {}): Attachment {
  return {
    id: 'f1',
    name: 'notes.pdf',
    size: 217_088,
    type: 'application/pdf',
    url: '/media/v1/f1/notes.pdf',
    thumbnailUrl: null,
    ...extra,
  };
}

const voice = file({ id: 'f2', name: 'voice.ogg', type: 'audio/ogg', size: 217_088, durationMs: 42_300 });
const photo = file({
  id: 'f3',
  name: 'cat.png',
  type: 'image/png',
  size: 1_468_006,
  width: 1200,
  height: 800,
  thumbnailUrl: '/media/v1/thumbs/f3',
});

/** A picture source that has every preview ready: a red-to-blue ramp (pixels made here, as sharp would). */
const ready: PictureSource = {
  depth: 'truecolor',
  preview(_url, cols, rows) {
    const rgb = new Uint8Array(cols * rows * 2 * 3);
    for (let i = 0; i < cols * rows * 2; i++) {
      rgb[i * 3] = 255 - (i % cols);
      rgb[i * 3 + 2] = i % cols;
    }
    return { kind: 'ready', pixels: { cols, rows, rgb } };
  },
};

const base: MessageListProps = {
  lines: [],
  meId: 'u-me',
  width: 60,
  height: 40,
  scrollBack: 0,
  hasMoreBefore: false,
  loading: false,
};

function frame(props: Partial<MessageListProps>): string {
  const r = render(<MessageList {...base} {...props} />);
  const out = r.lastFrame() ?? '';
  r.unmount();
  return out;
}

const plain = (s: string) => s.replace(/\u001b\[[0-9;]*m/g, '');

describe('file rows', () => {
  test('sizes and durations read as people read them', () => {
    assert.equal(formatBytes(812), '812 B');
    assert.equal(formatBytes(217_088), '212 KB');
    assert.equal(formatBytes(1_468_006), '1.4 MB');
    assert.equal(formatDuration(42_300), '0:42');
    assert.equal(formatDuration(3_723_000), '1:02:03');
  });

  test('a row names the file with an icon by type, its duration or pixels, and its size', () => {
    const text = (a: Attachment) =>
      attachmentLabel(a, 80, null)
        .map((s) => s.text)
        .join('');
    assert.equal(text(voice), '🎵 voice.ogg · 0:42 · 212 KB');
    assert.equal(text(photo), '📷 cat.png · 1200×800 · 1.4 MB');
    assert.equal(text(file()), '📎 notes.pdf · 212 KB');
  });

  test('a long name is cut in the middle, its extension kept, and the row fits its width', () => {
    const long = file({ name: `${'quarterly-report-'.repeat(8)}final.pdf` });
    const segs = attachmentLabel(long, 40, 2);
    const text = segs.map((s) => s.text).join('');
    assert.equal(textWidth(text), 40);
    assert.match(text, /^2 📎 quarterly-report-.*….pdf · 212 KB$/);
    assert.equal(fitName('short.txt', 20), 'short.txt');
  });

  test("the uploader's name never reaches the terminal as controls", () => {
    const evil = file({ name: 'a\u001b]52;c;aGk=\u0007b\u202e.txt' });
    const text = attachmentLabel(evil, 80, null)
      .map((s) => s.text)
      .join('');
    assert.doesNotMatch(text, /[\u001b\u0007\u202e]/);
    assert.match(text, /␛/);
    const out = frame({ lines: [line('see', { attachments: [evil] })] });
    assert.doesNotMatch(plain(out), /\u001b|\u0007/);
  });

  test('a message of files alone has the first on its header row; the others follow, numbered', () => {
    const out = frame({ lines: [line('', { attachments: [voice, file()] })] });
    const rows = out.split('\n').filter((r) => r.trim() !== '');
    // Under "beginning of conversation" and the day.
    assert.match(rows[2] ?? '', /^09:05 bob 1 🎵 voice\.ogg · 0:42 · 212 KB$/);
    assert.match(rows[3] ?? '', /^ {10}2 📎 notes\.pdf · 212 KB$/);
  });

  test('a deleted message shows no files', () => {
    const rows = messageRows(line('', { attachments: [voice], deletedAt: TUE }), { meId: null, width: 60 });
    assert.equal(rows.length, 1);
  });
});

describe('previews', () => {
  test("a preview keeps the picture's proportions within the rows and columns given", () => {
    assert.deepEqual(previewSize(photo, 60, 12), { cols: 36, rows: 12 });
    assert.deepEqual(previewSize(photo, 20, 12), { cols: 20, rows: 7 });
    const tall = file({ ...photo, width: 100, height: 2000 });
    assert.deepEqual(previewSize(tall, 60, 12), { cols: 1, rows: 12 });
    assert.equal(previewSize(file(), 60, 12), null, 'no thumbnail, no preview');
    assert.equal(previewSize({ ...photo, width: undefined }, 60, 12), null, 'size unknown, no preview');
    assert.equal(previewSize(photo, 60, 0), null, 'previews off');
  });

  test('a half-block row is one ▀ a column, colours only where they change, reset at the end', () => {
    const p: Pixels = {
      cols: 3,
      rows: 1,
      rgb: new Uint8Array([255, 0, 0, 255, 0, 0, 0, 0, 255, 0, 0, 255, 0, 0, 255, 9, 9, 9]),
    };
    const row = halfBlockRow(p, 0, 'truecolor');
    assert.equal(row, '\u001b[38;2;255;0;0;48;2;0;0;255m▀▀\u001b[38;2;0;0;255;48;2;9;9;9m▀\u001b[39;49m');
    assert.equal(plain(row), '▀▀▀');
    assert.equal(halfBlockRow(p, 0, '256'), '\u001b[38;5;196;48;5;21m▀▀\u001b[38;5;21;48;5;232m▀\u001b[39;49m');
    assert.equal(ansi256(255, 255, 255), 231);
    assert.equal(ansi256(128, 128, 128), 244);
  });

  test('the measured height of messages with files equals the rows drawn, at 80 and 120 columns, fetched or not', () => {
    const lines = [
      line('first'),
      line('a photo', { attachments: [photo] }),
      line('', { attachments: [voice, photo, file()] }),
      line('words '.repeat(30).trim(), { attachments: [file({ name: 'x'.repeat(300) })] }),
      line('last'),
    ];
    for (const width of [80, 120]) {
      for (const pictures of [undefined, ready]) {
        const media = { previewRows: 8, ...(pictures ? { pictures } : {}) };
        const opts = { meId: 'u-me', width, media };
        const counted = lines.reduce((sum, l) => sum + messageRows(l, opts).length, 0) + 1; /* day separator */
        const out = frame({ lines, width, height: 200, media });
        const drawn = out.split('\n');
        // The list is bottom-aligned: the rows above the messages are empty.
        const first = drawn.findIndex((r) => r.trim() !== '');
        assert.equal(drawn.length - first, counted + 1 /* beginning of conversation */, `${width} columns`);
        for (const r of drawn) assert.ok(textWidth(plain(r)) <= width, `a row fits ${width} columns`);
        assert.equal(rowsBelow(lines, lines[0]?.seq ?? 0, opts), counted - 1 - 1, 'rows below the first');
        if (pictures) assert.equal(plain(out).split('▀').length - 1 > 0, true);
      }
    }
  });

  test('a preview not fetched yet is as tall as it will be, and says it is coming', () => {
    const rows = attachmentRows([photo], 60, { previewRows: 6 });
    assert.equal(rows.length, 1 + 6);
    assert.match(rows[1]?.map((s) => s.text).join('') ?? '', /loading preview/);
    const failed = attachmentRows([photo], 60, {
      previewRows: 6,
      pictures: { depth: '256', preview: () => ({ kind: 'failed', error: 'not found' }) },
    });
    assert.equal(failed.length, 7);
    assert.match(failed[1]?.map((s) => s.text).join('') ?? '', /no preview: not found/);
  });

  test('the window scrolls through pictures without losing or repeating a row', () => {
    const lines = Array.from({ length: 12 }, (_, i) =>
      line(`message ${i}`, i % 3 === 0 ? { attachments: [photo] } : {}),
    );
    const media = { previewRows: 6, pictures: ready };
    const all = layoutMessages({ ...base, lines, width: 80, height: 1000, media }).rows.map((r) => r.key);
    const height = 7;
    for (let back = 0; back + height - 1 <= all.length; back++) {
      const { rows, scrollBack } = layoutMessages({ ...base, lines, width: 80, height, scrollBack: back, media });
      assert.equal(scrollBack, back);
      // Scrolled up, the bottom row says what is below: a row less for messages.
      const room = back > 0 ? height - 1 : height;
      const keys = rows.map((r) => r.key).filter((k) => k !== 'below');
      assert.deepEqual(keys, all.slice(all.length - back - room, all.length - back), `scrolled up ${back}`);
    }
  });

  test('sharp decodes a picture to the cells of its preview', async () => {
    const png = await sharp({ create: { width: 40, height: 20, channels: 3, background: { r: 200, g: 10, b: 30 } } })
      .png()
      .toBuffer();
    const p = await decodePixels(png, 8, 2);
    assert.equal(p.rgb.length, 8 * 4 * 3);
    assert.deepEqual([...p.rgb.slice(0, 3)], [200, 10, 30]);
  });
});
