import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

// SQLite's own SQL belongs to its backend: the SQLite store and the query code in db/, and the
// backups' handling of a SQLite file (its snapshot, and the checks a restore makes on one).
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SQLITE_ONLY = [
  'src/server/store/sqlite/',
  'src/server/db/',
  'src/server/backup/sqlite-snapshot.ts',
  'src/server/backup/restore.ts',
];
const PATTERNS: [string, RegExp][] = [
  ['sqlite_sequence', /\bsqlite_sequence\b/i],
  ['sqlite_master', /\bsqlite_(master|schema)\b/i],
  ['json_each / json_extract', /\bjson_(each|extract|tree)\s*\(/i],
  ['INSERT OR IGNORE / REPLACE', /\bINSERT\s+OR\s+(IGNORE|REPLACE)\b/i],
  ['COLLATE NOCASE', /\bCOLLATE\s+NOCASE\b/i],
  ['a pragma', /\.pragma\(|\bpragma_\w+\(|\bPRAGMA\s+\w/],
  ['a SQLITE_* error code', /['"`]SQLITE_[A-Z_]+['"`]/],
];

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sources(path);
    return /\.tsx?$/.test(e.name) ? [path] : [];
  });
}

test('no SQLite-only SQL outside the SQLite backend (store/sqlite, db): comments may name it', () => {
  const found: string[] = [];
  const files = sources(join(ROOT, 'src'));
  assert.ok(files.length > 50, `found ${files.length} source files`);
  for (const file of files) {
    const rel = relative(ROOT, file).split('\\').join('/');
    if (SQLITE_ONLY.some((dir) => rel.startsWith(dir))) continue;
    readFileSync(file, 'utf8')
      .split('\n')
      .forEach((line, i) => {
        const code = line.trim();
        if (code.startsWith('//') || code.startsWith('*') || code.startsWith('/*')) return;
        for (const [what, re] of PATTERNS) if (re.test(code)) found.push(`${rel}:${i + 1}: ${what}`);
      });
  }
  assert.deepEqual(found, []);
});

test('the check finds each pattern it looks for', () => {
  const samples = [
    "SELECT seq FROM sqlite_sequence WHERE name = 'events'",
    "SELECT name FROM sqlite_master WHERE type = 'table'",
    'SELECT value FROM json_each(?)',
    'INSERT OR IGNORE INTO t VALUES (1)',
    'ORDER BY name COLLATE NOCASE',
    "db.pragma('wal_autocheckpoint = 0')",
    "err.code === 'SQLITE_BUSY'",
  ];
  assert.deepEqual(
    samples.map((s) => PATTERNS.filter(([, re]) => re.test(s)).length),
    samples.map(() => 1),
  );
});
