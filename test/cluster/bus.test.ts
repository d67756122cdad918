import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { Effect, LocalTarget } from '../../src/server/bus/bus.js';
import { NatsBus, type NatsBusOptions } from '../../src/server/bus/nats.js';
import type { Scope } from '../../src/server/event-log.js';
import { type Logger, loggerOf } from '../../src/server/log.js';
import type { StoredEvent } from '../../src/server/store/port.js';
import { type TestNats, testNats } from '../helpers/nats.js';
import { DEADLINE_MS, waitFor, within } from '../helpers/wait.js';

/**
 * The NATS bus between several natter nodes, each a NatsBus in this process
 * over a nats-server of the test's own. The database is an array of
 * committed events that every node reads from (`EventSource`), and each
 * node's hub is a `Recorder` that writes down every effect applied to it,
 * in order.
 */

/** The database as the bus sees it: committed events in id order. */
class EventSource {
  readonly events: StoredEvent[] = [];
  /** Calls to `since`. */
  reads = 0;
  private next = 1;

  /** The newest id handed out. */
  get head(): number {
    return this.next - 1;
  }

  /** Hands out an id that no event will have (a store whose ids can have holes). */
  burn(): void {
    this.next++;
  }

  /** Commits `n` events to `scope`; returns the effects that publish them. */
  append(n: number, scope: Scope = 's:room'): Effect[] {
    const out: Effect[] = [];
    for (let i = 0; i < n; i++) {
      const id = this.next++;
      const event: StoredEvent = { id, scopes: [scope], text: `{"event":"x","data":{"n":${id}},"cursor":"${id}"}` };
      this.events.push(event);
      out.push({ kind: 'publish', id, scopes: event.scopes, text: event.text });
    }
    return out;
  }

  since = async (after: number, limit: number): Promise<StoredEvent[]> => {
    this.reads++;
    return this.events.filter((e) => e.id > after).slice(0, limit);
  };
}

/** An effect as one line of a Recorder's log. */
function line(effect: Effect): string {
  switch (effect.kind) {
    case 'publish':
      return `event ${effect.id}`;
    case 'send':
      return `send ${effect.scopes.join(',')} ${effect.text}${effect.except ? ` except ${effect.except}` : ''}`;
    case 'subscribe':
      return `subscribe ${effect.userId} ${effect.scope}`;
    case 'unsubscribe':
      return `unsubscribe ${effect.userId} ${effect.scope}`;
    case 'dropScope':
      return `drop ${effect.scope}`;
    case 'closeSessions':
      return `close sessions ${effect.sessionIds.join(',')} ${effect.code} ${effect.reason}`;
    case 'closeUser':
      return `close user ${effect.userId} ${effect.code} ${effect.reason}`;
  }
}

/** A node's hub: what was applied to it, in order. */
class Recorder implements LocalTarget {
  readonly log: string[] = [];
  /** Ids of the stored events delivered, in order. */
  readonly ids: number[] = [];

  publishEvent(event: StoredEvent): void {
    this.publish(event.scopes, event.text);
  }
  publish(scopes: readonly Scope[], text: string, except?: string): void {
    const cursor = /"cursor":"(\d+)"\}$/.exec(text)?.[1];
    if (cursor === undefined) {
      this.log.push(line({ kind: 'send', scopes, text, ...(except === undefined ? {} : { except }) }));
      return;
    }
    this.ids.push(Number(cursor));
    this.log.push(`event ${cursor}`);
  }
  subscribeUser(userId: string, scope: Scope): void {
    this.log.push(line({ kind: 'subscribe', userId, scope }));
  }
  unsubscribeUser(userId: string, scope: Scope): void {
    this.log.push(line({ kind: 'unsubscribe', userId, scope }));
  }
  dropScope(scope: Scope): void {
    this.log.push(line({ kind: 'dropScope', scope }));
  }
  closeSessions(sessionIds: Iterable<string>, code: number, reason: string): void {
    this.log.push(line({ kind: 'closeSessions', sessionIds: [...sessionIds], code, reason }));
  }
  closeUser(userId: string, code: number, reason: string): void {
    this.log.push(line({ kind: 'closeUser', userId, code, reason }));
  }
}

type Node = {
  name: string;
  bus: NatsBus;
  rec: Recorder;
  /** What the bus reported through onPresence, in order. */
  presence: [string, boolean][];
  resyncs: number;
  /** This node's reads of the database. */
  reads: number;
  /** The bus's log lines. */
  logged: string[];
};

const buses: NatsBus[] = [];
const raws: NatsConnection[] = [];
const servers: TestNats[] = [];
let shared: TestNats;

before(async () => {
  shared = await testNats();
  servers.push(shared);
});

after(async () => {
  for (const bus of buses) await bus.close();
  for (const nc of raws) await nc.close();
  for (const server of servers) await server.dispose();
});

/** A cluster name of the test's own, so tests on one server never hear each other. */
function newCluster(): string {
  return `t${randomBytes(5).toString('hex')}`;
}

function startNode(
  name: string,
  source: EventSource,
  cluster: string,
  servers: string,
  options: Partial<NatsBusOptions> = {},
): Node {
  const rec = new Recorder();
  const logged: string[] = [];
  const log: Logger = loggerOf({
    info: (m) => logged.push(m),
    warn: (m) => logged.push(`warning: ${m}`),
    error: (m, err) => logged.push(`error: ${m} ${String(err)}`),
  });
  const node: Node = { name, bus: undefined as unknown as NatsBus, rec, presence: [], resyncs: 0, reads: 0, logged };
  node.bus = new NatsBus({
    servers,
    cluster,
    nodeId: name,
    target: rec,
    since: (after, limit) => {
      node.reads++;
      return source.since(after, limit);
    },
    start: 0,
    log,
    heartbeatMs: 100,
    reconnectWaitMs: 100,
    hooks: {
      onPresence: (userId, online) => node.presence.push([userId, online]),
      resync: () => {
        node.resyncs++;
        rec.log.push('resync');
      },
    },
    ...options,
  });
  buses.push(node.bus);
  return node;
}

function describe(nodes: Node[]): string {
  return nodes
    .map(
      (n) =>
        `${n.name}: ${JSON.stringify(n.bus.status())} resyncs=${n.resyncs}\n  ids ${n.rec.ids.join(' ')}\n  log ${n.logged.join('\n      ')}`,
    )
    .join('\n');
}

/** Every node connected, pushing, caught up once (its first resync) and aware of all the others. */
async function connected(nodes: Node[], resyncs = 1): Promise<void> {
  await waitFor(
    () =>
      nodes.every((n) => {
        const s = n.bus.status();
        return s.connected && s.mode === 'push' && s.nodes === nodes.length - 1 && n.resyncs >= resyncs;
      }),
    { what: 'every node to connect and hear the others', detail: () => describe(nodes) },
  );
}

/** Waits until `node` has delivered stored events up to `id`. */
async function delivered(node: Node, id: number, nodes: Node[] = [node]): Promise<void> {
  await waitFor(() => node.bus.status().lastApplied >= id, {
    what: `${node.name} to deliver event ${id}`,
    detail: () => describe(nodes),
  });
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

/** A NATS connection of the test's own, to speak the wire format as a node that is not a NatsBus. */
async function raw(servers: string): Promise<NatsConnection> {
  const nc = await within(connect({ servers }), 'a raw NATS connection');
  raws.push(nc);
  return nc;
}

/** Where `run` occurs in `log` as consecutive lines, or -1. */
function indexOfRun(log: readonly string[], run: readonly string[]): number {
  for (let i = 0; i + run.length <= log.length; i++) {
    if (run.every((l, j) => log[i + j] === l)) return i;
  }
  return -1;
}

test('batches from three nodes reach every node in event id order, exactly once, each with its effects in place', async () => {
  const source = new EventSource();
  const cluster = newCluster();
  // A batch may only be waited for, never read back from the database: everything must come by push.
  const nodes = ['a', 'b', 'c'].map((name) =>
    startNode(name, source, cluster, shared.url, { gapWaitMs: DEADLINE_MS * 10 }),
  );
  await connected(nodes);
  const reads = source.reads;
  const marks = nodes.map((n) => n.rec.log.length);
  const [a] = nodes as [Node, Node, Node];

  // Applied here at once: the local node never waits for NATS.
  const firstBatch: Effect[] = [{ kind: 'subscribe', userId: 'u0', scope: 's:room' }, ...source.append(2)];
  a.bus.commit(firstBatch);
  assert.deepEqual(a.rec.ids, [1, 2]);
  const batches: { effects: Effect[]; position: number }[] = [{ effects: firstBatch, position: 0 }];

  for (let round = 0; round < 30; round++) {
    // All three commit in the same turn: their messages race each other to the other nodes.
    for (const [i, node] of nodes.entries()) {
      const effects: Effect[] = [
        { kind: 'subscribe', userId: `u${round}-${i}`, scope: 's:room' },
        ...source.append(1 + ((round + i) % 3)),
      ];
      if ((round + i) % 4 === 0) {
        effects.push({ kind: 'closeSessions', sessionIds: [`s${round}-${i}`], code: 4004, reason: 'revoked' });
      }
      node.bus.commit(effects);
      batches.push({ effects, position: 0 });
    }
    // A batch without stored events (a revocation): it belongs after every event its node knew of.
    const node = nodes[round % 3] as Node;
    const effects: Effect[] = [{ kind: 'closeUser', userId: `gone${round}`, code: 4004, reason: 'account deleted' }];
    const position = node.bus.status().lastApplied;
    node.bus.commit(effects);
    batches.push({ effects, position });
    await new Promise((resolve) => setImmediate(resolve));
  }
  const total = source.head;
  for (const node of nodes) await delivered(node, total, nodes);

  const lineCount = batches.reduce((n, b) => n + b.effects.length, 0);
  for (const [i, node] of nodes.entries()) {
    const log = node.rec.log.slice(marks[i]);
    assert.deepEqual(node.rec.ids, range(1, total), `${node.name} delivered every event once, in order`);
    assert.equal(log.length, lineCount, `${node.name} applied every effect once`);
    for (const batch of batches) {
      const run = batch.effects.map(line);
      const at = indexOfRun(log, run);
      assert.ok(at >= 0, `${node.name} applied ${run.join(' / ')} together, in order`);
      const eventsBefore = log.slice(0, at).filter((l) => l.startsWith('event ')).length;
      assert.ok(eventsBefore >= batch.position, `${node.name} applied ${run[0]} after event ${batch.position}`);
    }
  }
  assert.equal(source.reads, reads, 'nothing was read back from the database');
});

test('a batch lost on the way is read from the database, after a resync, before the batch that follows it', async () => {
  const source = new EventSource();
  const cluster = newCluster();
  const nodes = ['a', 'b'].map((name) => startNode(name, source, cluster, shared.url, { gapWaitMs: 50 }));
  const [a, b] = nodes as [Node, Node];
  await connected(nodes);
  const marks = nodes.map((n) => n.rec.log.length);

  a.bus.commit(source.append(1));
  await delivered(b, 1, nodes);
  // Events 2 and 3 commit, but no node ever hears of their batch.
  source.append(2);
  a.bus.commit([{ kind: 'subscribe', userId: 'u', scope: 's:room' }, ...source.append(1)]);
  for (const node of nodes) await delivered(node, 4, nodes);

  for (const [i, node] of nodes.entries()) {
    assert.deepEqual(node.rec.ids, [1, 2, 3, 4]);
    assert.deepEqual(node.rec.log.slice(marks[i]), [
      'event 1',
      'resync',
      'event 2',
      'event 3',
      'subscribe u s:room',
      'event 4',
    ]);
    assert.deepEqual(
      { lastApplied: node.bus.status().lastApplied, lag: node.bus.status().lag },
      { lastApplied: 4, lag: 0 },
    );
  }
  assert.ok(
    b.logged.some((l) => l.includes('delivered 2 missed events (2..3)')),
    `the fill is logged:\n${b.logged.join('\n')}`,
  );
});

test('a batch that arrives again, or after its events were read back, delivers none of them twice', async () => {
  const source = new EventSource();
  const cluster = newCluster();
  const nodes = ['a', 'b'].map((name) => startNode(name, source, cluster, shared.url, { gapWaitMs: 50 }));
  const [a, b] = nodes as [Node, Node];
  await connected(nodes);
  const spy = await raw(shared.url);
  const captured: Uint8Array[] = [];
  spy.subscribe(`${cluster}.batch`, { callback: (_err, msg) => void captured.push(msg.data) });
  await spy.flush();

  a.bus.commit([
    { kind: 'subscribe', userId: 'u', scope: 's:room' },
    ...source.append(1),
    { kind: 'closeSessions', sessionIds: ['s1'], code: 4004, reason: 'revoked' },
  ]);
  await delivered(b, 1, nodes);
  await waitFor(() => captured[0], { what: 'the spy to see the batch' });
  // Events 2 and 3 reach the nodes from the database (their batch is late), then event 4 by push.
  source.append(2);
  a.bus.commit(source.append(1));
  await delivered(b, 4, nodes);
  const mark = b.rec.log.length;

  // The same message again, and the late batch of events 2 and 3, then a marker: all from one
  // connection, so once the marker is applied, the two before it have been handled.
  spy.publish(`${cluster}.batch`, captured[0] as Uint8Array);
  const ghost = { v: 1, node: 'ghost', boot: 'g1' };
  spy.publish(
    `${cluster}.batch`,
    JSON.stringify({
      ...ghost,
      seq: 1,
      first: 2,
      last: 3,
      effects: [
        { kind: 'subscribe', userId: 'late', scope: 's:room' },
        ...source.events.slice(1, 3).map((e) => ({ kind: 'publish', ...e })),
        { kind: 'send', scopes: ['u:late'], text: '{"event":"settings.updated","data":{}}' },
        { kind: 'closeSessions', sessionIds: ['late'], code: 4004, reason: 'revoked' },
      ],
    }),
  );
  spy.publish(
    `${cluster}.batch`,
    JSON.stringify({
      ...ghost,
      seq: 2,
      first: 5,
      last: 4,
      effects: [{ kind: 'send', scopes: ['s:room'], text: 'marker' }],
    }),
  );
  await waitFor(() => b.rec.log.includes('send s:room marker'), { what: 'b to apply the marker' });

  assert.deepEqual(b.rec.ids, [1, 2, 3, 4], 'no event delivered twice');
  // The late batch's subscription was covered by the resync before its events; its unstored event and close still apply.
  assert.deepEqual(b.rec.log.slice(mark), [
    'send u:late {"event":"settings.updated","data":{}}',
    'close sessions late 4004 revoked',
    'send s:room marker',
  ]);
});

test('events no batch carried are delivered once a heartbeat names them; a heartbeat that counts batches never received makes a node resync', async () => {
  const source = new EventSource();
  const cluster = newCluster();
  const b = startNode('b', source, cluster, shared.url, { gapWaitMs: 50 });
  await connected([b]);
  const ghostConn = await raw(shared.url);
  const beat = (n: number, seq: number, known: number) =>
    ghostConn.publish(
      `${cluster}.node`,
      JSON.stringify({
        v: 1,
        node: 'ghost',
        boot: 'g1',
        kind: 'beat',
        beat: n,
        part: 0,
        parts: 1,
        seq,
        known,
        users: [],
      }),
    );

  // The ghost's last batch (events 1 and 2) was lost: only its heartbeat says they exist.
  source.append(2);
  const mark = b.rec.log.length;
  beat(0, 1, 2);
  await delivered(b, 2);
  assert.deepEqual(b.rec.log.slice(mark), ['resync', 'event 1', 'event 2']);

  // The ghost says it has sent 4 batches and b has seen 1 of them: their effects are lost, so b resyncs.
  const resyncs = b.resyncs;
  beat(1, 4, 2);
  await waitFor(() => b.resyncs > resyncs, { what: 'b to resync', detail: () => describe([b]) });
  assert.deepEqual(b.rec.ids, [1, 2]);
});

test('ids the database does not have are skipped when a committed batch follows them, and forgotten when only a heartbeat named them', async () => {
  const source = new EventSource();
  const cluster = newCluster();
  const nodes = ['a', 'b'].map((name) => startNode(name, source, cluster, shared.url, { gapWaitMs: 50 }));
  const [a, b] = nodes as [Node, Node];
  await connected(nodes);
  a.bus.commit(source.append(1));
  source.burn();
  a.bus.commit(source.append(1));
  for (const node of nodes) await delivered(node, 3, nodes);
  for (const node of nodes) assert.deepEqual(node.rec.ids, [1, 3]);
  assert.ok(
    b.logged.some((l) => l.includes('events 2..2 are not in the database')),
    b.logged.join('\n'),
  );

  // A node speaks of events up to 1000 that nobody committed: b looks, finds none, and lets it go.
  const ghostConn = await raw(shared.url);
  const reads = b.reads;
  ghostConn.publish(
    `${cluster}.node`,
    JSON.stringify({
      v: 1,
      node: 'ghost',
      boot: 'g1',
      kind: 'beat',
      beat: 0,
      part: 0,
      parts: 1,
      seq: 0,
      known: 1000,
      users: [],
    }),
  );
  await waitFor(() => b.reads > reads && b.bus.status().lag === 0, {
    what: 'b to look for events up to 1000 and give up',
    detail: () => describe(nodes),
  });
  a.bus.commit(source.append(1));
  await delivered(b, 4, nodes);
  assert.deepEqual(b.rec.ids, [1, 3, 4]);
});

test('presence and typing cross nodes; a user online on two nodes goes offline when both let go', async () => {
  const source = new EventSource();
  const cluster = newCluster();
  const nodes = ['a', 'b', 'c'].map((name) => startNode(name, source, cluster, shared.url));
  const [a, b, c] = nodes as [Node, Node, Node];
  await connected(nodes);
  // A node's messages arrive in the order it sent them: once c has a node's marker, it has what came before.
  const marker = async (from: Node, text: string) => {
    from.bus.broadcast(['c:dm'], text, 'ann');
    await waitFor(() => c.rec.log.includes(`send c:dm ${text} except ann`), { what: `c to get ${text}` });
  };

  a.bus.setPresence('ann', true);
  await waitFor(() => c.bus.isOnline('ann') && b.bus.isOnline('ann'), { what: 'b and c to see ann online' });
  b.bus.setPresence('ann', true);
  await marker(b, 'typing-1');
  a.bus.setPresence('ann', false);
  await marker(a, 'typing-2');
  assert.ok(c.bus.isOnline('ann'), 'ann is still online on b');
  assert.deepEqual(c.presence, [['ann', true]]);
  b.bus.setPresence('ann', false);
  await waitFor(() => c.presence.length === 2, { what: 'c to see ann go offline' });
  assert.deepEqual(c.presence, [
    ['ann', true],
    ['ann', false],
  ]);
  assert.equal(c.bus.isOnline('ann'), false);
  // The typing notices reached b too, without the typist's own connections (except ann).
  assert.ok(b.rec.log.includes('send c:dm typing-2 except ann'));
  // On the node where ann is online, it is its own onPresence that says so.
  assert.deepEqual(a.presence[0], ['ann', true]);
});

test('a node not heard from for the liveness timeout has its users reported offline, unless they are online elsewhere', async () => {
  const source = new EventSource();
  const cluster = newCluster();
  // c's heartbeats come every 100 ms: only a stall of the whole process for 3 s could make it look gone.
  const b = startNode('b', source, cluster, shared.url, { livenessMs: 3_000 });
  const c = startNode('c', source, cluster, shared.url);
  await connected([b, c]);
  c.bus.setPresence('amy', true);
  c.bus.broadcast(['s:x'], 'marker');
  await waitFor(() => b.rec.log.includes('send s:x marker'), { what: 'b to hear from c' });
  assert.ok(b.bus.isOnline('amy'));

  // A node that sends one heartbeat with two users online, then falls silent (frozen, cut off).
  const ghostConn = await raw(shared.url);
  ghostConn.publish(
    `${cluster}.node`,
    JSON.stringify({
      v: 1,
      node: 'ghost',
      boot: 'g1',
      kind: 'beat',
      beat: 0,
      part: 0,
      parts: 1,
      seq: 0,
      known: 0,
      users: ['zed', 'amy'],
    }),
  );
  await waitFor(() => b.presence.some(([u, on]) => u === 'zed' && on), { what: 'b to see zed online' });
  assert.equal(b.bus.status().nodes, 2);
  await waitFor(() => b.presence.some(([u, on]) => u === 'zed' && !on), {
    what: 'b to report zed offline',
    detail: () => describe([b]),
  });
  assert.ok(b.bus.isOnline('amy'), 'amy is still online on c');
  assert.deepEqual(
    b.presence.filter(([u]) => u === 'amy'),
    [['amy', true]],
  );
  assert.equal(b.bus.status().nodes, 1);
  assert.ok(
    b.logged.some((l) => l.includes('node ghost was not heard from')),
    `the timeout is logged:\n${b.logged.join('\n')}`,
  );
});

test('a node that stops cleanly says goodbye: its users are offline at once, not after the timeout', async () => {
  const source = new EventSource();
  const cluster = newCluster();
  // Ten minutes: only the goodbye can explain an offline report within the test.
  const b = startNode('b', source, cluster, shared.url, { livenessMs: 600_000 });
  const d = startNode('d', source, cluster, shared.url);
  await connected([b, d]);
  d.bus.setPresence('dan', true);
  await waitFor(() => b.bus.isOnline('dan'), { what: 'b to see dan online' });
  await d.bus.close();
  await waitFor(() => !b.bus.isOnline('dan'), { what: 'b to see dan offline', detail: () => describe([b]) });
  assert.deepEqual(b.presence, [
    ['dan', true],
    ['dan', false],
  ]);
  assert.equal(b.bus.status().nodes, 0);
});

test('a batch larger than NATS allows in one message arrives in parts, whole and in order', async () => {
  const small = await testNats({ maxPayload: 4096 });
  servers.push(small);
  const source = new EventSource();
  const cluster = newCluster();
  const nodes = ['a', 'b'].map((name) => startNode(name, source, cluster, small.url, { gapWaitMs: DEADLINE_MS * 10 }));
  const [a, b] = nodes as [Node, Node];
  await connected(nodes);
  const reads = source.reads;
  const mark = b.rec.log.length;
  const effects: Effect[] = [];
  for (let i = 0; i < 40; i++) {
    effects.push({ kind: 'subscribe', userId: `user-${i}-${'x'.repeat(100)}`, scope: 's:room' });
    effects.push(...source.append(1, `s:${'r'.repeat(150)}`));
  }
  effects.push({ kind: 'closeUser', userId: 'last', code: 4004, reason: 'gone' });
  a.bus.commit(effects);
  await waitFor(() => b.rec.log.length - mark === effects.length, {
    what: 'b to apply every effect',
    detail: () => describe(nodes),
  });
  assert.deepEqual(b.rec.log.slice(mark), effects.map(line));
  assert.equal(source.reads, reads, 'nothing was read back from the database');
});

test('with NATS unreachable at start, and while it restarts, nodes deliver by reading the database, then by push again', async () => {
  const nats = await testNats({ started: false });
  servers.push(nats);
  const source = new EventSource();
  const cluster = newCluster();
  const nodes = ['a', 'b'].map((name) =>
    startNode(name, source, cluster, nats.url, { pollMs: 50, gapWaitMs: DEADLINE_MS * 10 }),
  );
  const [a, b] = nodes as [Node, Node];
  // Connected, pushing, hearing the other node, and past the resync of the catch-up that follows a connect.
  const caughtUp = (nodes: Node[], resyncs: number[]) =>
    waitFor(
      () =>
        nodes.every((n, i) => {
          const s = n.bus.status();
          return s.connected && s.mode === 'push' && s.nodes === 1 && n.resyncs > (resyncs[i] as number);
        }),
      { what: 'both nodes to connect and catch up', detail: () => describe(nodes) },
    );
  const polling = () =>
    waitFor(() => nodes.every((n) => !n.bus.status().connected && n.bus.status().mode === 'poll'), {
      what: 'both nodes to poll',
      detail: () => describe(nodes),
    });

  // NATS down from the start: the nodes serve all the same.
  await polling();
  a.bus.commit(source.append(2));
  assert.deepEqual(a.rec.ids, [1, 2], 'applied locally at once');
  await delivered(b, 2, nodes);

  // NATS comes up: both catch up (a resync each) and go back to push.
  let resyncs = nodes.map((n) => n.resyncs);
  await nats.start();
  await caughtUp(nodes, resyncs);
  let reads = source.reads;
  a.bus.commit(source.append(1));
  await delivered(b, 3, nodes);
  assert.equal(source.reads, reads, 'event 3 came by push');

  // NATS is killed: the nodes notice, poll, and keep delivering.
  await nats.stop();
  await polling();
  b.bus.commit(source.append(1));
  await delivered(a, 4, nodes);
  assert.ok(source.reads > reads, 'event 4 was read from the database');

  // NATS is back: push again, after one more catch-up each.
  resyncs = nodes.map((n) => n.resyncs);
  await nats.start();
  await caughtUp(nodes, resyncs);
  reads = source.reads;
  a.bus.commit(source.append(1));
  await delivered(b, 5, nodes);
  assert.equal(source.reads, reads, 'event 5 came by push');
  for (const node of nodes) assert.deepEqual(node.rec.ids, [1, 2, 3, 4, 5], `${node.name}: each event once, in order`);
  assert.ok(
    a.logged.some((l) => l.includes('lost NATS')) && a.logged.some((l) => l.includes('is back; events by push')),
    `the state changes are logged:\n${a.logged.join('\n')}`,
  );
});

test('while NATS is down for longer than the liveness timeout no node forgets another: presence stays as it was', async () => {
  const nats = await testNats({ started: true });
  servers.push(nats);
  const source = new EventSource();
  const cluster = newCluster();
  const LIVENESS_MS = 1_000;
  const b = startNode('b', source, cluster, nats.url, { livenessMs: LIVENESS_MS });
  const c = startNode('c', source, cluster, nats.url, { livenessMs: LIVENESS_MS });
  await connected([b, c]);
  c.bus.setPresence('amy', true);
  await waitFor(() => b.bus.isOnline('amy'), { what: 'b to see amy online on c', detail: () => describe([b, c]) });

  await nats.stop();
  await waitFor(() => !b.bus.status().connected && !c.bus.status().connected, {
    what: 'both nodes to notice NATS is gone',
    detail: () => describe([b, c]),
  });
  // Silence much longer than the timeout (a lower bound: a slow machine only makes it longer).
  const downAt = performance.now();
  await waitFor(() => performance.now() - downAt > 4 * LIVENESS_MS, { what: 'four liveness timeouts to pass' });
  assert.ok(b.bus.isOnline('amy'), 'amy is still online for b');
  assert.equal(b.bus.status().nodes, 1, 'b still counts c');
  assert.deepEqual(
    b.presence.filter(([u]) => u === 'amy'),
    [['amy', true]],
    'no offline report for amy',
  );
  assert.ok(!b.logged.some((l) => l.includes('was not heard from')), `nothing forgotten:\n${b.logged.join('\n')}`);

  await nats.start();
  await waitFor(() => b.bus.status().connected && c.bus.status().connected, {
    what: 'both nodes back on NATS',
    detail: () => describe([b, c]),
  });
  // Back on NATS, c is heard again within its heartbeats, and amy never went offline.
  await waitFor(() => b.logged.some((l) => l.includes('events by push')), { what: 'b back to push' });
  assert.ok(b.bus.isOnline('amy'));
  assert.deepEqual(
    b.presence.filter(([u]) => u === 'amy'),
    [['amy', true]],
  );
});
