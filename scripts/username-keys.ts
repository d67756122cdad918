/**
 * Regenerates src/protocol/username-key-data.ts, the table behind
 * `usernameKey`, from the Unicode Character Database and Unicode's security
 * data (UTS #39).
 *
 *   node --import tsx scripts/username-keys.ts DIR [--report]
 *
 * DIR holds these files, all of one Unicode version:
 *   confusables.txt   https://www.unicode.org/Public/security/<version>/confusables.txt
 *   CaseFolding.txt   https://www.unicode.org/Public/<version>/ucd/CaseFolding.txt
 *   UnicodeData.txt   https://www.unicode.org/Public/<version>/ucd/UnicodeData.txt
 * Run it with a Node.js whose ICU has that Unicode version
 * (`process.versions.unicode`): the letters, marks and digits a username may
 * hold and the normalization forms come from it. `--report` prints the
 * mappings that were kept apart and the largest classes.
 *
 * Two usernames are the same when their keys are. A key treats as one:
 *   - a capital and its small letter (simple case folding, CaseFolding.txt
 *     statuses C and S);
 *   - a compatibility form and what it stands for (NFKD: full-width letters,
 *     mathematical letters, ligatures, superscripts);
 *   - a letter with and without diacritics shared by scripts (combining marks
 *     of the Inherited script: accents, Arabic vowel marks);
 *   - a character and its look-alike prototype (confusables.txt, the mapping
 *     behind the UTS #39 skeleton), and a small capital (`ᴀ`) and its capital.
 * A key is one string per character, so these must agree: `I` (capital i)
 * looks like `l`, so `i`, `I` and `l` are one letter, or `aIice` could sit
 * beside `alice`, or `ALICE` beside `alice`. Where they cannot agree, case
 * wins: the Greek capital Eta looks like `H` and its small letter like `n`,
 * and making both hold would make `h` and `n` one letter. So the script joins
 * characters into classes (union-find over code points), in this order:
 *   1. Basic Latin as the data has it: `0` looks like `O`, `1` and `I` like
 *      `l`, `m` like `rn`; a capital is its small letter.
 *   2. Diacritics, compatibility forms, and the look-alikes of small letters
 *      and of characters without case.
 *   3. Case.
 *   4. The look-alikes of capitals (and small capitals), unless that would
 *      join two classes holding different basic Latin letters or digits.
 * It then picks one member of each class as its key (a class that stands for
 * several characters, like `m` for `rn`, has theirs), checks that every
 * mapping it applied gives equal keys on both sides, and writes each letter,
 * mark or digit whose key is not itself.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const dir = process.argv[2];
const report = process.argv.includes('--report');
if (!dir || dir.startsWith('--')) {
  process.stderr.write(
    'usage: node --import tsx scripts/username-keys.ts DIR [--report] (see the comment at the top)\n',
  );
  process.exit(2);
}
const OUT = resolve(import.meta.dirname, '../src/protocol/username-key-data.ts');

const read = (name: string) => readFileSync(join(dir, name), 'utf8');
const hex = (s: string) =>
  String.fromCodePoint(
    ...s
      .trim()
      .split(/\s+/)
      .map((h) => Number.parseInt(h, 16)),
  );
const cp = (ch: string) => ch.codePointAt(0) ?? 0;
const nfd = (s: string) => s.normalize('NFD');
const describe = (s: string) =>
  `"${s}" (${[...s].map((c) => `U+${cp(c).toString(16).toUpperCase().padStart(4, '0')}`).join(' ')})`;

// --- the data ----------------------------------------------------------------

const confusablesText = read('confusables.txt');
const version = /^# Version: (\S+)/m.exec(confusablesText)?.[1];
const date = /^# Date: (.+)$/m.exec(confusablesText)?.[1];
if (!version || !date) throw new Error('confusables.txt: no "# Version:" or "# Date:" line');
const foldingText = read('CaseFolding.txt');
const foldingVersion = /^# CaseFolding-(\S+)\.txt/m.exec(foldingText)?.[1];
if (foldingVersion !== version) throw new Error(`CaseFolding.txt is ${foldingVersion}, confusables.txt ${version}`);
if (`${process.versions.unicode}.0` !== version && process.versions.unicode !== version) {
  throw new Error(`this Node.js has Unicode ${process.versions.unicode}; the data is ${version}`);
}

/** confusables.txt: a character -> its prototype. */
const confusable = new Map<string, string>();
for (const line of confusablesText.split('\n')) {
  const m = /^([0-9A-F]+) ;\t([0-9A-F ]+) ;\tMA/.exec(line);
  if (m?.[1] && m[2]) confusable.set(hex(m[1]), hex(m[2]));
}

/** Simple case folding: a capital -> its small letter. */
const fold = new Map<string, string>();
for (const line of foldingText.split('\n')) {
  const m = /^([0-9A-F]+); [CS]; ([0-9A-F]+);/.exec(line);
  if (m?.[1] && m[2]) fold.set(hex(m[1]), hex(m[2]));
}

/** A small capital -> its capital, by name (`LATIN LETTER SMALL CAPITAL A` -> `LATIN CAPITAL LETTER A`). */
const smallCapital = new Map<string, string>();
{
  const byName = new Map<string, string>();
  for (const line of read('UnicodeData.txt').split('\n')) {
    const [code, name] = line.split(';');
    if (code && name && !name.startsWith('<')) byName.set(name, hex(code));
  }
  for (const [name, ch] of byName) {
    const m = /^(LATIN|GREEK|CYRILLIC) (?:LETTER SMALL CAPITAL|SMALL CAPITAL LETTER) (.+)$/.exec(name);
    const capital = m && byName.get(`${m[1]} CAPITAL LETTER ${m[2]}`);
    if (capital) smallCapital.set(ch, capital);
  }
}

// --- the characters of usernames, after NFD ------------------------------------

const IN_USERNAME = /^[\p{L}\p{M}\p{Nd}_.-]$/u;
const DIACRITIC = /^(?=\p{M})\p{Script=Inherited}$/u;
const domain: string[] = [];
for (let c = 0; c <= 0x10ffff; c++) {
  if (c >= 0xd800 && c <= 0xdfff) continue;
  const ch = String.fromCodePoint(c);
  if (IN_USERNAME.test(ch) && nfd(ch) === ch) domain.push(ch);
}

// Every character reachable from those through the mappings takes part.
const nodes = new Set<string>();
{
  const queue = [...domain];
  while (queue.length > 0) {
    const ch = queue.pop() as string;
    if (nodes.has(ch)) continue;
    nodes.add(ch);
    for (const to of [ch.normalize('NFKD'), fold.get(ch), smallCapital.get(ch), confusable.get(ch)]) {
      if (to) for (const t of nfd(to)) if (!nodes.has(t)) queue.push(t);
    }
  }
}
const sorted = [...nodes].sort((a, b) => cp(a) - cp(b));

// --- classes -----------------------------------------------------------------

/** Stands for the empty string: the class of characters left out of keys. */
const NOTHING = '';
const parent = new Map<string, string>();
function find(x: string): string {
  let root = x;
  for (let p = parent.get(root); p !== undefined && p !== root; p = parent.get(root)) root = p;
  for (let y = x, p = parent.get(y); p !== undefined && p !== root; p = parent.get(y)) {
    parent.set(y, root);
    y = p;
  }
  return root;
}
/** Per class: the string of several characters it stands for (`m` -> `rn`). */
const expansion = new Map<string, string>();
/** Per class: the basic Latin letters and digits in it; two classes with different ones are not joined. */
const anchors = new Map<string, Set<string>>();
for (const ch of nodes) if (/^[a-z0-9]$/.test(ch)) anchors.set(ch, new Set([ch]));
// Nothing is a letter of its own: a letter never joins it.
anchors.set(NOTHING, new Set([NOTHING]));
const anchorsOf = (x: string) => anchors.get(find(x)) ?? new Set<string>();
const apart = (a: Set<string>, b: Set<string>) => a.size > 0 && b.size > 0 && ![...a].some((x) => b.has(x));

function joinClasses(a: string, b: string, force: boolean): boolean {
  const ra = find(a);
  const rb = find(b);
  if (ra === rb) return true;
  const ea = expansion.get(ra);
  const eb = expansion.get(rb);
  if (!force) {
    // Different letters, different expansions, or an expansion that would
    // take over a letter's class: refused.
    if (apart(anchorsOf(ra), anchorsOf(rb)) || (ea !== undefined && eb !== undefined && ea !== eb)) return false;
    if (ea !== eb && ((ea !== undefined && anchorsOf(rb).size > 0) || (eb !== undefined && anchorsOf(ra).size > 0))) {
      return false;
    }
  }
  anchors.set(rb, new Set([...anchorsOf(ra), ...anchorsOf(rb)]));
  parent.set(ra, rb);
  if (eb === undefined && ea !== undefined) expansion.set(rb, ea);
  return true;
}

function expand(ch: string, to: string, force: boolean): boolean {
  const root = find(ch);
  const had = expansion.get(root);
  if (had === to) return true;
  if (!force && (had !== undefined || anchorsOf(root).size > 0)) return false;
  expansion.set(root, to);
  return true;
}

const applied: [string, string][] = [];
const keptApart: [string, string, string][] = [];
/** Applies "`ch` is the same as `to`" unless it would join different letters (or `force`). */
function same(ch: string, to: string | undefined, rule: string, force = false): void {
  if (to === undefined) return;
  const t = nfd(to);
  const n = [...t].length;
  const ok = n === 0 ? joinClasses(ch, NOTHING, force) : n === 1 ? joinClasses(ch, t, force) : expand(ch, t, force);
  if (ok) applied.push([ch, t]);
  else keptApart.push([ch, t, rule]);
}

/** A capital, or a character that stands for one (mathematical, full-width, small capital). */
const capitalLike = (ch: string) =>
  fold.has(ch) || smallCapital.has(ch) || [...ch.normalize('NFKD')].some((c) => fold.has(c));
const lookAlikeOfCapital = (ch: string) => capitalLike(ch) || [...(confusable.get(ch) ?? '')].some(capitalLike);
const basic = (ch: string) => cp(ch) < 0x80;

// 1.
for (const ch of sorted) {
  if (!basic(ch)) continue;
  same(ch, confusable.get(ch), 'look-alike', true);
  same(ch, fold.get(ch), 'case', true);
}
// 2.
for (const ch of sorted) {
  if (DIACRITIC.test(ch)) same(ch, '', 'diacritic');
  const compat = ch.normalize('NFKD');
  if (compat !== ch) same(ch, compat, 'compatibility');
  if (!basic(ch) && !lookAlikeOfCapital(ch)) same(ch, confusable.get(ch), 'look-alike');
}
// 3.
for (const ch of sorted) if (!basic(ch)) same(ch, fold.get(ch), 'case');
// 4.
for (const ch of sorted) {
  if (basic(ch)) continue;
  same(ch, smallCapital.get(ch), 'small capital');
  if (lookAlikeOfCapital(ch)) same(ch, confusable.get(ch), 'look-alike of a capital');
}

// --- keys --------------------------------------------------------------------

const members = new Map<string, string[]>();
for (const ch of nodes) {
  const root = find(ch);
  members.set(root, [...(members.get(root) ?? []), ch]);
}
/** The member that names a class: a basic Latin letter, else a digit, else a plain prototype, else the lowest. */
function pickMember(list: string[]): string {
  const plain = (ch: string) => !capitalLike(ch) && ch.normalize('NFKD') === ch && !confusable.has(ch);
  const rank = (ch: string) => [/^[a-z]$/.test(ch) ? 0 : /^[0-9]$/.test(ch) ? 1 : 2, plain(ch) ? 0 : 1, cp(ch)];
  return [...list].sort((a, b) => {
    const ra = rank(a);
    const rb = rank(b);
    for (let i = 0; i < ra.length; i++) if (ra[i] !== rb[i]) return (ra[i] ?? 0) - (rb[i] ?? 0);
    return 0;
  })[0] as string;
}

const keyOfClass = new Map<string, string>();
function keyOfChar(ch: string, stack: string[]): string {
  const root = find(ch);
  if (root === find(NOTHING)) return '';
  const known = keyOfClass.get(root);
  if (known !== undefined) return known;
  if (stack.includes(root)) throw new Error(`expansions loop through ${stack.map(describe).join(', ')}`);
  const exp = expansion.get(root);
  const key = exp !== undefined ? keyOf(exp, [...stack, root]) : pickMember(members.get(root) ?? [ch]);
  keyOfClass.set(root, key);
  return key;
}
function keyOf(s: string, stack: string[] = []): string {
  let out = '';
  for (const ch of nfd(s)) out += keyOfChar(ch, stack);
  return out;
}

// Checks: every applied mapping gives one key on both sides; a key is its own
// key; a letter or digit never vanishes (but see below); no key holds "#" (the database
// appends "#<id>" to tell apart accounts that were created before a key
// change made them equal).
const problems: string[] = [];
for (const [ch, to] of applied) {
  if (keyOf(ch) !== keyOf(to)) problems.push(`${describe(ch)} -> ${describe(to)}: ${keyOf(ch)} vs ${keyOf(to)}`);
}
for (const ch of domain) {
  const k = keyOf(ch);
  if (keyOf(k) !== k) problems.push(`${describe(ch)}: key ${describe(k)} is not its own key`);
  // (Half-width sound marks are letters that stand for combining marks.)
  const markInDisguise = /^\p{Lm}$/u.test(ch) && /^\p{M}+$/u.test(ch.normalize('NFKD'));
  if (k === '' && /^[\p{L}\p{Nd}]$/u.test(ch) && !markInDisguise) {
    problems.push(`${describe(ch)}: a letter or digit with an empty key`);
  }
  if (k.includes('#')) problems.push(`${describe(ch)}: key ${describe(k)} holds "#"`);
}
// Basic Latin letters and digits keep their own keys, except where the data
// says they look alike: o, O and 0; i, I, l, L and 1; m and rn.
{
  const expected = new Map([
    ['0', 'o'],
    ['1', 'i'],
    ['l', 'i'],
    ['m', 'rn'],
  ]);
  const seenKeys = new Map<string, string>();
  for (const ch of 'abcdefghijklmnopqrstuvwxyz0123456789') {
    const k = keyOf(ch);
    const want = expected.get(ch) ?? ch;
    if (k !== want) problems.push(`${describe(ch)}: key ${describe(k)}, expected ${describe(want)}`);
    const other = seenKeys.get(k);
    if (other && !expected.has(ch)) problems.push(`${describe(ch)} and ${describe(other)} share a key`);
    seenKeys.set(k, ch);
  }
}
if (problems.length > 0) {
  process.stderr.write(`${problems.length} problems:\n${problems.slice(0, 50).join('\n')}\n`);
  process.exit(1);
}

if (report) {
  for (const [ch, to, rule] of keptApart) {
    if (IN_USERNAME.test(ch) && keyOf(ch) !== keyOf(to)) {
      process.stdout.write(`kept apart (${rule}): ${describe(ch)} -> ${describe(to)}: ${keyOf(ch)} / ${keyOf(to)}\n`);
    }
  }
  const classes = new Map<string, string[]>();
  for (const ch of domain) classes.set(keyOf(ch), [...(classes.get(keyOf(ch)) ?? []), ch]);
  for (const [k, list] of [...classes].sort((a, b) => b[1].length - a[1].length).slice(0, 40)) {
    process.stdout.write(`${describe(k)} ${list.length}: ${list.slice(0, 60).join(' ')}\n`);
  }
}

// --- output ------------------------------------------------------------------

/** Entries `[code point, key]` in code point order, encoded as described in the output's comment. */
function encode(entries: [number, string][]): string {
  let prev = 0;
  let prevKey: string | null = null;
  const parts: string[] = [];
  for (const [code, key] of entries) {
    const k =
      key === prevKey
        ? '='
        : key === ''
          ? '-'
          : [...key].map((c) => (/^[a-z0-9]$/.test(c) ? c : `<${cp(c).toString(36)}>`)).join('');
    parts.push(`${(code - prev).toString(36)}:${k}`);
    prev = code;
    prevKey = key;
  }
  return parts.join(',');
}

const entries: [number, string][] = [];
for (const ch of domain) {
  const k = keyOf(ch);
  if (k !== ch) entries.push([cp(ch), k]);
}
const data = encode(entries);

// The look-alikes of capitals that case kept apart (the Greek capital Eta looks
// like H, its key is that of its small letter, n): a second key maps them to
// what they look like, so ΗΑΚΕ is refused beside HAKE even though its key is "nake".
const capitalEntries: [number, string][] = [];
for (const [ch, to, rule] of keptApart) {
  if (rule === 'look-alike of a capital' && IN_USERNAME.test(ch) && keyOf(ch) !== keyOf(to)) {
    capitalEntries.push([cp(ch), keyOf(to)]);
  }
}
capitalEntries.sort((a, b) => a[0] - b[0]);
const capitalData = encode(capitalEntries);

writeFileSync(
  OUT,
  `// Generated by scripts/username-keys.ts from the Unicode ${version} data files
// confusables.txt (Unicode Security Mechanisms for UTS #39, dated ${date}),
// CaseFolding.txt and UnicodeData.txt; do not edit by hand.
// The data files are © Unicode, Inc., used under the Unicode License v3
// (https://www.unicode.org/license.txt), which allows copying and
// redistributing them and works derived from them.
//
// ${entries.length} entries, one for each letter, mark or digit whose username key is not
// the character itself, as "<step>:<key>", separated by ",". <step> is the
// distance in code points from the previous entry's character (from 0 for the
// first), in base 36. <key> is "-" (the character is left out), "=" (the
// previous entry's key) or the key's characters: a-z and 0-9 as themselves,
// any other as "<" its code point in base 36 ">".

/** The Unicode version the table was made from. */
export const USERNAME_KEY_UNICODE = '${version}';

/** The table (see above). */
export const USERNAME_KEY_DATA =
  '${data}';

/**
 * ${capitalEntries.length} look-alikes of capitals whose small letters look like something
 * else (the Greek capital Eta looks like H, its small letter like n), with the
 * key of what the capital looks like, in the same form: the second key of a
 * username uses them in place of the table above.
 */
export const USERNAME_CAPITAL_DATA = '${capitalData}';
`,
);
process.stdout.write(
  `wrote ${OUT}: ${entries.length} entries, ${data.length} characters of data; ${capitalEntries.length} look-alikes of capitals\n`,
);
