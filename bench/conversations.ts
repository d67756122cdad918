/**
 * What `conversations.list` costs a user in many conversations, all of them
 * with unread messages: the time each page takes and how long it holds up
 * the event loop (a read is answered synchronously, in one turn of the loop,
 * so nothing else runs meanwhile: no other request, no delivery).
 *
 *   node --import tsx bench/conversations.ts [--conversations 500] [--messages 20] [--rounds 20] [--count-statements]
 *
 * In one process, the real server (`startServer` on a fresh data directory,
 * listeners on free ports but unused) and its real `Dispatcher`: every request
 * is a JSON line handed to `Dispatcher.onText` on an in-memory connection, so
 * it is decoded, validated, authorized and handled like any other. Set-up goes
 * through the protocol too: a reader and a writer share a server whose
 * channels make 40% of the conversations, the writer's groups with the reader
 * 30%, and DMs with as many other users the rest; each conversation gets
 * `messages` messages from the other side, one in four mentioning the reader,
 * who reads none of them.
 *
 * Then `rounds` times, the reader lists every page (100 conversations a page)
 * one request at a time. Prints one JSON line with the p50, p99 and max of:
 * per page, the wall time from the request to its reply, and the turn of the
 * event loop that answered it (from just before the dispatcher's turn starts
 * to the reply), in wall time and in CPU time: the stretch in which nothing
 * else could run, the CPU time leaving out what other programs on the machine
 * took from this one; per listing of every page, the wall time. With
 * `--count-statements` the server counts the SQL statements its database
 * runs (`onStatement`), and one more listing, not timed, reports them per page.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { defaultConfig } from '../src/server/config.js';
import { Connection } from '../src/server/connection.js';
import { Dispatcher } from '../src/server/dispatch.js';
import { startServer } from '../src/server/server.js';

const { values } = parseArgs({
  options: {
    conversations: { type: 'string', default: '500' },
    messages: { type: 'string', default: '20' },
    rounds: { type: 'string', default: '20' },
    'count-statements': { type: 'boolean', default: false },
  },
});
const CONVERSATIONS = Number(values.conversations);
const MESSAGES = Number(values.messages);
const ROUNDS = Number(values.rounds);
const CHANNELS = Math.round(CONVERSATIONS * 0.4);
const GROUPS = Math.round(CONVERSATIONS * 0.3);
const DMS = CONVERSATIONS - CHANNELS - GROUPS;
const open = { capacity: 1e9, refillMs: 1 };
// Set-up sends thousands of messages from one address: lift the per-user and per-address limits.
const limits = {
  ...defaultConfig().limits,
  registerPerAddress: open,
  sendPerUser: open,
  writePerUser: open,
  readPerUser: open,
  lookupPerUser: open,
};

/** An in-memory connection: what the server writes to it goes to `onText`. */
class MemoryConnection extends Connection {
  onText: (text: string) => void = () => {};
  constructor() {
    super('tcp', '127.0.0.1');
  }
  protected write(text: string): void {
    this.onText(text);
  }
  protected terminate(): void {}
  protected queuedBytes(): number {
    return 0;
  }
}

/** The numeric id of a reply line (`{"id":N,...}`), or -1 for an event. */
function replyId(text: string): number {
  if (!text.startsWith('{"id":')) return -1;
  return Number.parseInt(text.slice(6, text.indexOf(',', 6)), 10);
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

const round2 = (x: number) => Math.round(x * 100) / 100;

let statements = 0;
let counting = false;
const dataDir = mkdtempSync(join(tmpdir(), 'natter-conversations-'));
const server = await startServer({
  dataDir,
  port: 0,
  tcpPort: null,
  bcryptCost: 4,
  log: false,
  limits,
  quotas: { ...defaultConfig().quotas, writeBytesPerDay: 0 },
  ...(values['count-statements']
    ? {
        onStatement: () => {
          if (counting) statements++;
        },
      }
    : {}),
});
const dispatcher = new Dispatcher(server.services);

/** Where the turn that answers the request under way began (wall and CPU time). */
let turn = { at: 0, cpu: process.cpuUsage() };
/** Each answered request's turn: wall and CPU milliseconds. */
let turns: { ms: number; cpuMs: number }[] = [];

/** One user's connection, with its requests matched to their replies by id. */
class User {
  readonly conn = new MemoryConnection();
  private readonly pending = new Map<number, (reply: string) => void>();
  private nextId = 1;
  id = '';
  username = '';

  constructor() {
    this.conn.onText = (text) => {
      const id = replyId(text);
      const done = this.pending.get(id);
      if (!done) return;
      // A read is answered inside the turn that started it: its work ends here.
      const cpu = process.cpuUsage(turn.cpu);
      turns.push({ ms: performance.now() - turn.at, cpuMs: (cpu.user + cpu.system) / 1000 });
      this.pending.delete(id);
      // Parsed after the reply is timed: the client's work is not the server's.
      done(text);
    };
    server.services.hub.add(this.conn);
  }

  /** Sends a request; resolves with the reply's text, unparsed. */
  send(op: string, params: unknown): Promise<string> {
    const id = this.nextId++;
    return new Promise<string>((resolve) => {
      this.pending.set(id, resolve);
      // Immediates run in the order they were set: this one runs just before the dispatcher's turn.
      setImmediate(() => {
        turn = { at: performance.now(), cpu: process.cpuUsage() };
      });
      dispatcher.onText(this.conn, JSON.stringify({ id, op, params }));
    });
  }

  /** Sends a request; resolves with its result (an error reply stops the benchmark). */
  async request(op: string, params: unknown): Promise<Record<string, unknown>> {
    const reply = JSON.parse(await this.send(op, params)) as { result?: Record<string, unknown>; error?: unknown };
    if (!reply.result) throw new Error(`${op} failed: ${JSON.stringify(reply.error)}`);
    return reply.result;
  }

  static async register(username: string): Promise<User> {
    const user = new User();
    const result = await user.request('register', { username, password: 'benchmark password' });
    user.id = (result.user as { id: string }).id;
    user.username = username;
    return user;
  }
}

const setupStart = performance.now();
const reader = await User.register('reader');
const writer = await User.register('writer');
await reader.request('settings.update', { groupAdds: 'everyone' });
const created = await writer.request('servers.create', { name: 'bench' });
const serverId = (created.server as { id: string }).id;
const code = ((await writer.request('invites.create', { serverId })).invite as { code: string }).code;
await reader.request('invites.join', { code });

/** Each conversation and who writes in it. */
const targets: { conversationId: string; author: User }[] = [
  { conversationId: (created.channels as { id: string }[])[0]?.id ?? '', author: writer },
];
for (let i = 1; i < CHANNELS; i++) {
  const { channel } = await writer.request('channels.create', { serverId, name: `room-${i}` });
  targets.push({ conversationId: (channel as { id: string }).id, author: writer });
}
for (let i = 0; i < GROUPS; i++) {
  const { group } = await writer.request('groups.create', { name: `group ${i}`, usernames: ['reader'] });
  targets.push({ conversationId: (group as { id: string }).id, author: writer });
}
for (let i = 0; i < DMS; i++) {
  const partner = await User.register(`partner${i}`);
  const { message } = await partner.request('messages.send', { to: 'reader', body: 'hello', nonce: 'open' });
  targets.push({ conversationId: (message as { conversationId: string }).conversationId, author: partner });
}
// One message in every conversation at a time: the writer commits them in a few batches.
let nonce = 0;
for (let m = 0; m < MESSAGES; m++) {
  await Promise.all(
    targets.map((t) =>
      t.author.request('messages.send', {
        conversationId: t.conversationId,
        body: m % 4 === 0 ? `@reader benchmark message ${m}` : `benchmark message ${m}`,
        nonce: `n${nonce++}`,
      }),
    ),
  );
}
const setupSeconds = round2((performance.now() - setupStart) / 1000);

/** Lists every page; returns the wall time of each and their conversations. */
async function listAll(): Promise<{ pages: number[]; conversations: number; unread: number }> {
  const pages: number[] = [];
  let after: string | undefined;
  let conversations = 0;
  let unread = 0;
  do {
    const t0 = performance.now();
    const text = await reader.send('conversations.list', after === undefined ? { limit: 100 } : { limit: 100, after });
    pages.push(performance.now() - t0);
    const result = (JSON.parse(text) as { result: Record<string, unknown> }).result;
    const list = result.conversations as { unread: number }[];
    conversations += list.length;
    for (const c of list) unread += c.unread;
    after = (result.next as string | null) ?? undefined;
  } while (after !== undefined);
  return { pages, conversations, unread };
}

// Warm-up: statements prepared, pages in SQLite's cache.
for (let i = 0; i < 3; i++) await listAll();
const first = await listAll();
if (first.conversations !== CONVERSATIONS) throw new Error(`listed ${first.conversations} of ${CONVERSATIONS}`);

const pageTimes: number[] = [];
const listTimes: number[] = [];
turns = [];
for (let r = 0; r < ROUNDS; r++) {
  const t0 = performance.now();
  const { pages } = await listAll();
  listTimes.push(performance.now() - t0);
  pageTimes.push(...pages);
}
const pageTurns = turns;

let statementsPerPage: number | null = null;
if (values['count-statements']) {
  counting = true;
  const { pages } = await listAll();
  counting = false;
  statementsPerPage = round2(statements / pages.length);
}

/** p50, p99 and max of `values`, rounded. */
function spread(values: number[]) {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    p50: round2(percentile(sorted, 50)),
    p99: round2(percentile(sorted, 99)),
    max: round2(sorted.at(-1) ?? Number.NaN),
  };
}

console.log(
  JSON.stringify({
    bench: 'conversations-list',
    conversations: CONVERSATIONS,
    channels: CHANNELS,
    groups: GROUPS,
    dms: DMS,
    messagesEach: MESSAGES,
    unreadTotal: first.unread,
    pagesPerListing: first.pages.length,
    rounds: ROUNDS,
    setupSeconds,
    pageMs: spread(pageTimes),
    turnMs: spread(pageTurns.map((t) => t.ms)),
    turnCpuMs: spread(pageTurns.map((t) => t.cpuMs)),
    listingMs: spread(listTimes),
    statementsPerPage,
  }),
);
await server.stop();
rmSync(dataDir, { recursive: true, force: true });
