#!/usr/bin/env node
// Compiles src/ into dist/ (`npm run build`, and `prepare` on install) without ever
// leaving dist/ missing or a file in it half-written, so a natter that is running or
// starting meanwhile (bin/natter imports dist/cli/main.js) keeps working:
//
//   1. tsc writes the whole build into a fresh sibling directory, dist.tmp-<pid>; then
//      esbuild replaces its tui/run.js with the terminal app in one file (see bundleTui);
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
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
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

/**
 * The terminal app in one file: src/tui/run.tsx with everything of src/tui it
 * uses and its packages (Ink, React and theirs), in place of tsc's tui/run.js.
 * Loading Ink and React from node_modules took most of the app's start (a few
 * hundred files, some parsed twice, as CommonJS and for their exports); one
 * file loads in a fraction of that. React is built for production: its
 * development build is slower and records a performance mark for every
 * component render, which Node keeps for ever.
 *
 * What the app imports from outside src/tui (the CLI's helpers, the client,
 * the protocol) stays an import of tsc's output beside it, so the CLI and the
 * app share one copy of each (one CliError class, one client), and the
 * protocol's schemas load only when the app needs them.
 */
async function bundleTui() {
  const { build } = await import('esbuild');
  const tuiDir = join(root, 'src', 'tui');
  const outFile = join(tmp, 'tui', 'run.js');
  const keepOutside = {
    name: 'natter-outside-tui',
    setup(b) {
      b.onResolve({ filter: /^\.\.?\// }, (args) => {
        const target = resolve(args.resolveDir, args.path);
        if (!args.importer.startsWith(tuiDir + sep) || target.startsWith(tuiDir + sep)) return undefined;
        // The same module of tsc's output, as seen from dist/tui/run.js (the specifier names the .js file).
        return { path: relative(tuiDir, target).split(sep).join('/'), external: true };
      });
      // Ink loads React's developer tools only when DEV=true, from a package natter does not
      // install: the import fails as it would unbundled, and Ink says how to install them.
      b.onResolve({ filter: /^\.\/devtools\.js$/ }, (args) =>
        args.importer.includes(`${sep}ink${sep}`) ? { path: 'devtools', namespace: 'natter-absent' } : undefined,
      );
      b.onLoad({ filter: /.*/, namespace: 'natter-absent' }, () => ({
        contents:
          "throw Object.assign(new Error('react-devtools-core is not installed'), { code: 'ERR_MODULE_NOT_FOUND' });",
        loader: 'js',
      }));
    },
  };
  await build({
    entryPoints: [join(tuiDir, 'run.tsx')],
    outfile: outFile,
    allowOverwrite: true,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    jsx: 'automatic',
    define: {
      'process.env.NODE_ENV': '"production"',
      // Yoga (Ink's layout engine) fetches its WebAssembly from a data: URL when fetch exists,
      // which loads Node's whole HTTP client first; without it, it decodes the same bytes itself.
      fetch: 'undefined',
    },
    // CommonJS packages inside (React) call require() for Node's own modules.
    banner: {
      js: "import { createRequire as natterRequire } from 'node:module';\nconst require = natterRequire(import.meta.url);",
    },
    minifySyntax: true,
    legalComments: 'none',
    plugins: [keepOutside],
    // sharp (image previews) loads a native library of its own: it stays a package in node_modules.
    external: ['sharp'],
    logLevel: 'warning',
  });
}

try {
  await bundleTui();
} catch (err) {
  console.error(`the terminal app did not bundle: ${err.message}`);
  rmSync(tmp, { recursive: true, force: true });
  process.exit(1);
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
