import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { ErrorCode, EVENT_NAMES, OP_NAMES } from '../../src/protocol/index.js';

const doc = readFileSync(new URL('../../docs/protocol.md', import.meta.url), 'utf8');

/** The `### \`name\`` headings of one `## Section` of the document. */
function headings(section: string): string[] {
  const start = doc.indexOf(`\n## ${section}\n`);
  assert.notEqual(start, -1, `docs/protocol.md has a "## ${section}" section`);
  const end = doc.indexOf('\n## ', start + 1);
  const body = doc.slice(start, end === -1 ? undefined : end);
  return [...body.matchAll(/^### `([^`]+)`$/gm)].map((m) => m[1] ?? '');
}

/** The text under one `### \`name\`` heading of a section. */
function entry(section: string, name: string): string {
  const start = doc.indexOf(`\n## ${section}\n`);
  const at = doc.indexOf(`### \`${name}\``, start);
  const next = doc.indexOf('\n### ', at + 1);
  const nextSection = doc.indexOf('\n## ', at + 1);
  const end = Math.min(...[next, nextSection].filter((i) => i !== -1), doc.length);
  return doc.slice(at, end);
}

test('every operation is documented with a JSON example, and nothing else is', () => {
  assert.deepEqual([...headings('Operations')].sort(), [...OP_NAMES].sort());
  for (const op of OP_NAMES) {
    const text = entry('Operations', op);
    assert.match(text, /```json\n/, `${op} has a JSON example`);
    assert.ok(text.includes(`"op": "${op}"`), `${op}'s example is a request for it`);
  }
});

test('every event is documented with a JSON example, and nothing else is', () => {
  assert.deepEqual([...headings('Event reference')].sort(), [...EVENT_NAMES].sort());
  for (const ev of EVENT_NAMES) assert.ok(entry('Event reference', ev).includes(`"event": "${ev}"`), ev);
});

test('the error code table lists exactly the protocol error codes', () => {
  const start = doc.indexOf('### Error codes');
  const table = doc.slice(start, doc.indexOf('\n### ', start + 1));
  const documented = [...table.matchAll(/^\| `([a-z_]+)`\s+\|/gm)].map((m) => m[1]);
  assert.deepEqual(documented.sort(), [...ErrorCode.options].sort());
});

test('every JSON example in the document parses', () => {
  // A block holds one JSON value, or one per line (a request and its reply).
  for (const block of doc.matchAll(/```json\n([\s\S]*?)```/g)) {
    const text = block[1] ?? '';
    try {
      JSON.parse(text);
    } catch {
      for (const line of text.split('\n').filter((l) => l.trim() !== '')) {
        assert.doesNotThrow(() => JSON.parse(line), line);
      }
    }
  }
});
