import assert from 'node:assert/strict';
import { test } from 'node:test';
import { findUrls, urlsByRow, withLinks } from '../../src/tui/view/links.js';
import { wrapText } from '../../src/tui/view/wrap.js';

test('URLs are found without the punctuation that ends a sentence; brackets stay when they are the URL’s', () => {
  assert.deepEqual(
    findUrls('see https://example.com/a?b=1. and (https://x.org/y), or https://en.wikipedia.org/wiki/Foo_(bar)!').map(
      (u) => u.url,
    ),
    ['https://example.com/a?b=1', 'https://x.org/y', 'https://en.wikipedia.org/wiki/Foo_(bar)'],
  );
  assert.deepEqual(findUrls('http:// nothing, ftp://no, https:/one-slash'), []);
  assert.deepEqual(
    findUrls('SHOUTED: HTTPS://EXAMPLE.COM/PATH').map((u) => u.url),
    ['HTTPS://EXAMPLE.COM/PATH'],
  );
  // A sanitized control character (shown as a picture) ends the address: it never goes into the link.
  assert.deepEqual(
    findUrls('https://evil.example/\u241b]8;;x').map((u) => u.url),
    ['https://evil.example/'],
  );
});

test('a URL wrapped over three rows is one link on each of its pieces, and the text around it is not linked', () => {
  const url = `https://example.com/${'a'.repeat(40)}/${'b'.repeat(20)}`;
  const body = `look: ${url} ok`;
  const rows = wrapText(body, 30, 30);
  assert.ok(rows.length >= 3, 'wrapped');
  const spans = urlsByRow(body, rows, findUrls(body));
  const linked = rows.map((row, i) =>
    withLinks([{ text: row }], spans[i] ?? [])
      .filter((s) => s.link)
      .map((s) => s.text)
      .join(''),
  );
  assert.equal(linked.join(''), url, 'the pieces make the whole address');
  for (const [i, row] of rows.entries()) {
    for (const seg of withLinks([{ text: row }], spans[i] ?? [])) {
      if (seg.link) assert.equal(seg.link, url);
      else assert.ok(!seg.text.includes('example'), `unlinked text "${seg.text}" is not part of the URL`);
    }
  }
});

test('links split styled segments without losing their style', () => {
  const segs = withLinks(
    [
      { text: 'go to ', bold: true },
      { text: 'https://a.b/c now', color: 'mention' },
    ],
    [{ start: 6, end: 19, url: 'https://a.b/c' }],
  );
  assert.deepEqual(segs, [
    { text: 'go to ', bold: true },
    { text: 'https://a.b/c', color: 'mention', link: 'https://a.b/c', underline: true },
    { text: ' now', color: 'mention' },
  ]);
});
