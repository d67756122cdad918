import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  appendFileSync,
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DEADLINE_MS, deadline, within } from '../helpers/wait.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'natter-build-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function filesUnder(d: string): string[] {
  return readdirSync(d, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(d, join(e.parentPath, e.name)))
    .sort();
}

const hash = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Runs a command to its end; resolves with its exit code and output. */
function run(cmd: string, args: string[], cwd: string): Promise<{ code: number | null; out: string }> {
  const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString();
  });
  child.stderr.on('data', (c: Buffer) => {
    out += c.toString();
  });
  const done = new Promise<{ code: number | null; out: string }>((resolve) =>
    child.on('close', (code) => resolve({ code, out })),
  );
  return within(done, `${cmd} ${args.join(' ')} to finish`, DEADLINE_MS * 4, () => out).catch((err: unknown) => {
    child.kill('SIGKILL');
    throw err;
  });
}

test('a rebuild swaps dist into place: natter keeps starting, no file is ever missing or half-written, stale ones go', async () => {
  assert.ok(existsSync(join(ROOT, 'dist', 'cli', 'main.js')), 'dist/ is built (npm test builds it first)');
  const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

  // A copy of the package with its own dist/: the rebuild below writes there, not into this checkout's.
  const pkg = join(dir, 'pkg');
  mkdirSync(pkg);
  cpSync(join(ROOT, 'bin'), join(pkg, 'bin'), { recursive: true });
  copyFileSync(join(ROOT, 'package.json'), join(pkg, 'package.json'));
  symlinkSync(join(ROOT, 'node_modules'), join(pkg, 'node_modules'), 'dir');
  const dist = join(pkg, 'dist');
  cpSync(join(ROOT, 'dist'), dist, { recursive: true });
  // An older build: every module differs from what the rebuild writes, and two files are gone from the new one.
  for (const f of filesUnder(dist)) if (f.endsWith('.js')) appendFileSync(join(dist, f), '\n// an older build\n');
  writeFileSync(join(dist, 'cli', 'retired.js'), 'export {};\n');
  mkdirSync(join(dist, 'retired'));
  writeFileSync(join(dist, 'retired', 'old.js'), 'export {};\n');
  const old = new Map(filesUnder(dist).map((f) => [f, hash(readFileSync(join(dist, f)))]));

  let building = true;
  const build = run(process.execPath, [join(ROOT, 'scripts', 'build.mjs'), '--out', dist], ROOT).finally(() => {
    building = false;
  });

  // Meanwhile: the CLI started again and again from the copy (--help loads commander and every command's
  // definition), and every file of the old build read again and again.
  const starts: { args: string; code: number | null; out: string }[] = [];
  const starting = (async () => {
    for (let i = 0; building || i < 2; i++) {
      const args = i % 2 === 0 ? ['--version'] : ['--help'];
      const r = await run(process.execPath, [join(pkg, 'bin', 'natter'), ...args], dir);
      starts.push({ args: args.join(' '), ...r });
    }
  })();
  const seen = new Map<string, Set<string>>();
  const missing = new Set<string>();
  let distMissing = 0;
  let rounds = 0;
  const overdue = deadline('the build to finish', 4 * DEADLINE_MS);
  while (building) {
    overdue();
    if (!existsSync(dist)) distMissing++;
    for (const f of old.keys()) {
      try {
        const h = hash(readFileSync(join(dist, f)));
        const s = seen.get(f) ?? new Set<string>();
        s.add(h);
        seen.set(f, s);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        missing.add(f);
      }
    }
    rounds++;
    await new Promise((r) => setImmediate(r));
  }
  const built = await build;
  await starting;

  assert.equal(built.code, 0, built.out);
  assert.equal(distMissing, 0, 'dist/ was never missing');
  assert.ok(rounds > 0);
  for (const s of starts) {
    assert.equal(s.code, 0, `natter ${s.args} failed during the rebuild:\n${s.out}`);
    if (s.args === '--version') assert.equal(s.out.trim(), version);
    else assert.match(s.out, /^Usage: natter/m);
  }

  // The result is the new build, and only it.
  const now = filesUnder(dist);
  assert.ok(!now.includes(join('cli', 'retired.js')) && !now.some((f) => f.startsWith('retired')), 'stale files go');
  assert.ok(!existsSync(join(dist, 'retired')), 'and the directories they leave empty');
  for (const f of now) {
    assert.ok(!readFileSync(join(dist, f), 'utf8').includes('an older build'), `${f} was rebuilt`);
  }
  assert.deepEqual(
    readdirSync(pkg).filter((n) => n.startsWith('dist.tmp-')),
    [],
    'no build directory is left behind',
  );

  // Whenever a file was read it was whole: its old content or its new one.
  for (const [f, hashes] of seen) {
    const allowed = new Set([old.get(f)]);
    if (existsSync(join(dist, f))) allowed.add(hash(readFileSync(join(dist, f))));
    for (const h of hashes) assert.ok(allowed.has(h), `${f} was read half-written`);
  }
  for (const f of missing) assert.ok(!now.includes(f), `${f} was missing for a moment, yet is part of the new build`);

  // Building again changes nothing.
  const again = await run(process.execPath, [join(ROOT, 'scripts', 'build.mjs'), '--out', dist], ROOT);
  assert.equal(again.code, 0, again.out);
  assert.doesNotMatch(again.out, /files written/);
  const natter = await run(process.execPath, [join(pkg, 'bin', 'natter'), '--version'], dir);
  assert.equal(natter.out.trim(), version);
});

test('the terminal app is one file: Node’s modules, dist’s own and sharp (native, loaded only for a preview) are all it imports, and React is the production build', () => {
  const app = join(ROOT, 'dist', 'tui', 'run.js');
  const text = readFileSync(app, 'utf8');
  const specifiers = [...text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*)["']([^"']+)["']/g)].map((m) => m[1] ?? '');
  assert.ok(specifiers.length > 0, 'the file imports something');
  for (const s of specifiers) {
    if (s.startsWith('node:')) continue;
    if (s === 'sharp') {
      // A native library cannot be bundled: it loads from node_modules, and only when a preview is drawn.
      assert.match(text, /import\(\s*["']sharp["']\s*\)/, 'sharp is imported when a preview needs it');
      assert.doesNotMatch(text, /\bfrom\s*["']sharp["']/, 'sharp is not imported at start');
      continue;
    }
    assert.ok(s.startsWith('../'), `${s}: a package left out of the file (it would load from node_modules)`);
    assert.ok(existsSync(join(ROOT, 'dist', 'tui', s)), `${s}: imported, yet not in dist/`);
  }
  // The CLI's helpers, the client and the protocol stay shared with the rest of natter, not copied in.
  for (const shared of ['../cli/util.js', '../client/natter.js', '../protocol/envelope.js'])
    assert.ok(specifiers.includes(shared), `${shared} is imported, not copied in`);
  assert.ok(!text.includes('react-reconciler.development'), 'React’s development build is not in it');
  assert.ok(!text.includes('process.env.NODE_ENV'), 'nothing in it asks which build of React to use');
});

test('starting the terminal app loads no schema library: nothing it imports before its first frame imports zod', () => {
  const app = join(ROOT, 'dist', 'tui', 'run.js');
  // Static imports and re-exports only (`import … from '…'`, `import '…'`, `export … from '…'`):
  // a dynamic import() loads when it runs, not at start.
  const staticImports = (text: string) =>
    [...text.matchAll(/^\s*(?:import|export)\s*(?:[^'"()]*?\sfrom\s*)?["']([^"']+)["'];?/gm)].map((m) => m[1] ?? '');
  const packages = new Set<string>();
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const s of staticImports(readFileSync(file, 'utf8'))) {
      if (s.startsWith('.')) visit(join(file, '..', s));
      else if (!s.startsWith('node:')) packages.add(s);
    }
  };
  visit(app);
  assert.ok(seen.size > 3, 'the app and what it imports were read');
  assert.ok(
    ![...packages].some((p) => p === 'zod' || p.startsWith('zod/')),
    `zod is imported at start: ${[...packages]}`,
  );
  assert.ok(!readFileSync(app, 'utf8').includes('ZodError'), 'zod is not bundled into the app');
});
