import { distinctNames } from '../../client/names.js';
import { patiently } from '../../client/pages.js';
import { isBlank } from '../../protocol/blank.js';
import type { SearchHit } from '../../protocol/index.js';
import { fileLines, saying } from '../message-line.js';
import { listGroups, listServers, resolveTarget, targetJson } from '../resolve.js';
import { act } from '../session.js';
import { clean, cleanBlock, fmtTime, usageError } from '../util.js';

/** Hits printed when `--limit` is not given. */
export const DEFAULT_LIMIT = 100;
/** The largest `--limit`. */
export const MAX_LIMIT = 1000;
/** The protocol's largest page of hits. */
const PAGE = 50;
/**
 * Pages read at most. A page may end early, even empty, when the words are
 * common in conversations you cannot read (docs/protocol.md); this keeps such
 * a search from asking the server for ever.
 */
const MAX_PAGES = 100;

/**
 * How a hit's conversation is named on the command line: `acme/general`,
 * `+climbing`, `@bob`; a server or group of mine that shares its name with
 * another as `names` has it (`acme~2f9k/general`), so it can be typed back.
 */
export function hitLabel(hit: SearchHit, names?: ReadonlyMap<string, string>): string {
  const c = hit.conversation;
  if (c.kind === 'dm') return `@${c.name}`;
  if (c.kind === 'group') return `+${names?.get(c.id) ?? c.name}`;
  const server = (c.serverId ? names?.get(c.serverId) : undefined) ?? c.serverName ?? c.serverId ?? '';
  return `${server}/${c.name}`;
}

/**
 * A hit's text, made safe for the terminal, with its matches in bold (SGR 1)
 * when `bold`, else as they are. Matches are character offsets into the raw
 * text, so each piece is cleaned on its own, after the cut.
 */
export function highlighted(hit: SearchHit, bold: boolean): string {
  const chars = Array.from(hit.message.body);
  if (!bold) return cleanBlock(chars.join(''));
  let out = '';
  let at = 0;
  for (const [start, end] of hit.matches) {
    if (start < at || end > chars.length) continue;
    out += `${cleanBlock(chars.slice(at, start).join(''))}\x1b[1m${cleanBlock(chars.slice(start, end).join(''))}\x1b[22m`;
    at = end;
  }
  return out + cleanBlock(chars.slice(at).join(''));
}

/**
 * One hit as a line: `acme/general  #12  2026-11-21 23:31  alice: text` (an
 * action: `* alice waves`); more lines of its text indented.
 */
export function formatHit(hit: SearchHit, bold: boolean, names?: ReadonlyMap<string, string>): string {
  const m = hit.message;
  const head = `${clean(hitLabel(hit, names))}  #${m.seq}  ${fmtTime(m.createdAt)}  `;
  const body = highlighted(hit, bold).replace(/\n/g, '\n    ');
  return `${head}${saying(m, body)}${m.editedAt !== null ? ' (edited)' : ''}${fileLines(m, '    ')}`;
}

/** `natter search <query...>` */
export const search = act(async (ctx, words: string[]) => {
  const o = ctx.opts as { in?: string; from?: string; limit?: number };
  const query = words.join(' ');
  if (isBlank(query)) throw usageError('nothing to search for: give one or more words');
  const max = o.limit ?? DEFAULT_LIMIT;
  if (max > MAX_LIMIT) throw usageError(`--limit is at most ${MAX_LIMIT}`);
  if (o.from !== undefined && o.from.replace(/^@/, '') === '') throw usageError('--from needs a username');
  const target = o.in !== undefined ? await resolveTarget(ctx.s, o.in) : null;
  const hits: SearchHit[] = [];
  let after: string | undefined;
  for (let pages = 0; pages < MAX_PAGES && hits.length < max; pages++) {
    const params = {
      query,
      limit: Math.min(PAGE, max - hits.length),
      ...(target ? { conversationId: target.id } : {}),
      ...(o.from !== undefined ? { from: o.from } : {}),
      ...(after !== undefined ? { after } : {}),
    };
    const page = await patiently(() => ctx.s.request('messages.search', params));
    hits.push(...page.hits);
    after = page.next ?? undefined;
    if (after === undefined) break;
  }
  // A cursor left over: the server had more to look through than this command read.
  const more = after !== undefined;
  // Servers and groups that share a name with another of mine are written so they can be typed back.
  const names = new Map([
    ...(hits.some((h) => h.conversation.kind === 'channel') ? distinctNames(await listServers(ctx.s)) : []),
    ...(hits.some((h) => h.conversation.kind === 'group') ? distinctNames(await listGroups(ctx.s)) : []),
  ]);
  ctx.out({ query, target: target ? targetJson(target) : null, from: o.from ?? null, hits, more }, () => {
    if (hits.length === 0 && !more)
      return `no messages${target ? ` in ${clean(target.label)}` : ''} match "${clean(query)}"`;
    const bold = process.stdout.isTTY === true;
    return hits.map((h) => formatHit(h, bold, names)).join('\n');
  });
  if (more && !ctx.g.json) {
    process.stderr.write(
      hits.length >= max
        ? `natter: showing the newest ${hits.length}; there may be more (--limit shows up to ${MAX_LIMIT}; --in and --from narrow the search)\n`
        : `natter: stopped after ${MAX_PAGES} pages with ${hits.length} found; narrow the search with --in or --from\n`,
    );
  }
});
