#!/usr/bin/env node
// Compiles src/ into dist/ (`npm run build`, and `prepare` on install) without ever
// leaving dist/ missing or a file in it half-written, so a natter that is running or
// starting meanwhile (bin/natter imports dist/cli/main.js) keeps working:
//
//   1. tsc writes the whole build into a fresh sibling directory, dist.tmp-<pid>;
//   2. each file whose content changed is renamed over its old copy (a rename within
//      one filesystem replaces a file atomically: readers see the old or the new file,
//      never a missing or partial one); unchanged files are left alone;
//   3. then files the new build no longer has are removed, and empty directories.
//
// A failed compile leaves dist/ as it was.
//
//   node scripts/build.mjs [--out DIR]     (default dist, relative to the package root)
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmdirSync,
  rmSync,
  statSync,
  unlinkSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = fileURLToPath(new URL('..', import.meta.url));
const { values } = parseArgs({ options: { out: { type: 'string', default: 'dist' } } });
const out = resolve(root, values.out);
const tmp = `${out}.tmp-${process.pid}`;

/** Every file under `dir`, as paths relative to it, sorted. */
function filesUnder(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath ?? e.path, e.name)))
    .sort();
}

function sameContent(a, b) {
  try {
    return readFileSync(a).equals(readFileSync(b));
  } catch {
    return false;
  }
}

/** Removes build directories left by builds that were killed (their process is gone). */
function removeAbandoned() {
  const prefix = `${basename(out)}.tmp-`;
  const parent = dirname(out);
  if (!existsSync(parent)) return;
  for (const name of readdirSync(parent)) {
    if (!name.startsWith(prefix)) continue;
    const pid = Number(name.slice(prefix.length));
    let alive = false;
    try {
      process.kill(pid, 0);
      alive = true;
    } catch (err) {
      alive = err.code === 'EPERM';
    }
    if (!alive) rmSync(join(parent, name), { recursive: true, force: true });
  }
}

/** Makes `dir` and its parents under `out`, removing any file that stands where a directory must be. */
function ensureDir(dir) {
  const rel = relative(out, dir);
  let at = out;
  for (const part of rel === '' ? [] : rel.split(/[\\/]/)) {
    at = join(at, part);
    if (existsSync(at) && !statSync(at).isDirectory()) unlinkSync(at);
    if (!existsSync(at)) mkdirSync(at);
  }
}

removeAbandoned();
rmSync(tmp, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const compiled = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json', '--outDir', tmp], {
  cwd: root,
  stdio: 'inherit',
});
if (compiled.status !== 0) {
  rmSync(tmp, { recursive: true, force: true });
  process.exit(compiled.status ?? 1);
}

const fresh = filesUnder(tmp);
const keep = new Set(fresh);
let replaced = 0;
mkdirSync(out, { recursive: true });
for (const file of fresh) {
  const target = join(out, file);
  if (sameContent(join(tmp, file), target)) continue;
  // A directory where the new build has a file, or a file where it has a directory, cannot be swapped
  // atomically; it does not happen between two builds of the same layout, and is replaced plainly if it does.
  if (existsSync(target) && statSync(target).isDirectory()) rmSync(target, { recursive: true, force: true });
  ensureDir(dirname(target));
  renameSync(join(tmp, file), target);
  replaced++;
}
let removed = 0;
for (const file of filesUnder(out)) {
  if (keep.has(file)) continue;
  unlinkSync(join(out, file));
  removed++;
}
// Directories left empty, deepest first.
const dirs = readdirSync(out, { recursive: true, withFileTypes: true })
  .filter((e) => e.isDirectory())
  .map((e) => join(e.parentPath ?? e.path, e.name))
  .sort((a, b) => b.length - a.length);
for (const dir of dirs) if (readdirSync(dir).length === 0) rmdirSync(dir);
rmSync(tmp, { recursive: true, force: true });
if (replaced + removed > 0) {
  console.log(`${relative(root, out) || out}: ${replaced} files written, ${removed} removed`);
}
