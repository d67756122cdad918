import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { connect, type Msg, type NatsConnection } from '@nats-io/transport-node';
import type { z } from 'zod';
import type { Scope } from '../event-log.js';
import type { Logger } from '../log.js';
import type { StoredEvent } from '../store/port.js';
import { tracer } from '../tracing.js';
import type { Bus, BusHooks, BusStatus, Effect, LocalTarget } from './bus.js';
import { ClusterPresence } from './presence.js';
import { EventStream } from './stream.js';
import { BatchMessage, EphemeralMessage, encodeBatch, NodeMessage, WIRE_VERSION } from './wire.js';

export type NatsBusOptions = {
  /** NATS servers (`host:port`, or a list). Default 127.0.0.1:4222. */
  servers?: string | string[];
  /** Subjects are `<cluster>.batch`, `<cluster>.ephemeral`, `<cluster>.node`. Default `natter`. */
  cluster?: string;
  /** This node's name in logs and messages; unique in the cluster. Default `<hostname>-<pid>`. */
  nodeId?: string;
  /** Where effects go: the hub (`hubTarget`). */
  target: LocalTarget;
  /** Committed events after an id, oldest first: the store's `EventStore.since`. */
  since: (after: number, limit: number) => Promise<StoredEvent[]>;
  /** The newest event id this node has accounted for at start (the store's head). */
  start: number;
  /**
   * The newest committed event id (the store's head), read with every
   * heartbeat: a node that committed and then could not publish (killed, or
   * cut off from NATS) sends no later message to show the gap.
   */
  head?: () => Promise<number>;
  hooks?: BusHooks;
  log: Logger;
  /** Time between heartbeats (default 5 s). */
  heartbeatMs?: number;
  /** A node not heard from for this long is gone, its users offline (default 30 s). */
  livenessMs?: number;
  /** How often the database is read while NATS is down (default 250 ms). */
  pollMs?: number;
  /** How long a batch that arrived ahead of a missing one waits for it before the gap is read from the database (default 100 ms). */
  gapWaitMs?: number;
  /** Time between attempts to reach NATS (default 1 s). */
  reconnectWaitMs?: number;
  /** Events per read of the database (default 1000). */
  fillLimit?: number;
  /** Hears of each gap filled from the database (for metrics): how many events it read. */
  onGapFilled?: (events: number) => void;
};

/** NATS's own default; the server says its real one when we connect. */
const DEFAULT_MAX_PAYLOAD = 1024 * 1024;
/** Room left in every message for NATS's framing. */
const PAYLOAD_MARGIN = 512;

/** What this node knows of another. */
type Peer = {
  boot: string;
  heardAt: number;
  /** The last batch `seq` received from this boot. */
  seq: number;
  /** A heartbeat being assembled from its parts. */
  beat: { n: number; got: number; users: string[] } | null;
};

/**
 * The cluster bus over NATS core pub/sub. Each committed batch is applied
 * here at once and published; other nodes' batches are applied in event id
 * order, exactly once, with gaps filled from the database (EventStream).
 * While NATS is unreachable the node keeps serving: it reads new events from
 * the database every `pollMs`, and goes back to push when NATS answers.
 * Nodes send heartbeats with their online users; a node silent for
 * `livenessMs`, or that says goodbye, has its users reported offline unless
 * they are online on another node.
 */
export class NatsBus implements Bus {
  readonly nodeId: string;
  private readonly boot = randomBytes(9).toString('base64url');
  private readonly subjects: { batch: string; ephemeral: string; node: string };
  private readonly stream: EventStream;
  private readonly presence: ClusterPresence;
  private readonly peers = new Map<string, Peer>();
  private readonly target: LocalTarget;
  private readonly log: Logger;
  private readonly servers: string | string[];
  private readonly heartbeatMs: number;
  private readonly livenessMs: number;
  private readonly reconnectWaitMs: number;
  private nc: NatsConnection | null = null;
  /** The socket to NATS is up (messages sent now are not dropped). */
  private linkUp = false;
  /** Up, and caught up since: events come by push. */
  private connected = false;
  private closing = false;
  private seq = 0;
  private beats = 0;
  private readonly heartbeatTimer: NodeJS.Timeout;
  private readonly sweepTimer: NodeJS.Timeout;
  /** Cuts short the wait between two attempts to reach NATS (on close). */
  private wake: (() => void) | null = null;
  private readonly warned = new Set<string>();
  private readonly head: (() => Promise<number>) | null;
  /** A read of the head is under way. */
  private reading = false;

  constructor(options: NatsBusOptions) {
    const cluster = options.cluster ?? 'natter';
    if (!/^[A-Za-z0-9_-]+$/.test(cluster)) {
      throw new Error(`a cluster name is letters, digits, "_" and "-": "${cluster}" is not one`);
    }
    this.nodeId = options.nodeId ?? `${hostname()}-${process.pid}`;
    this.subjects = { batch: `${cluster}.batch`, ephemeral: `${cluster}.ephemeral`, node: `${cluster}.node` };
    this.target = options.target;
    this.log = options.log;
    this.servers = options.servers ?? '127.0.0.1:4222';
    this.heartbeatMs = options.heartbeatMs ?? 5_000;
    this.livenessMs = options.livenessMs ?? 30_000;
    this.reconnectWaitMs = options.reconnectWaitMs ?? 1_000;
    this.head = options.head ?? null;
    const hooks = options.hooks ?? {};
    const onPresence = hooks.onPresence ?? (() => {});
    this.presence = new ClusterPresence((userId, online) => {
      try {
        onPresence(userId, online);
      } catch (err) {
        this.log.error('bus: reporting presence', err);
      }
    });
    this.stream = new EventStream({
      target: this.target,
      since: options.since,
      resync: hooks.resync ?? (() => {}),
      log: this.log,
      start: options.start,
      gapWaitMs: options.gapWaitMs ?? 100,
      pollMs: options.pollMs ?? 250,
      fillLimit: options.fillLimit ?? 1000,
      ...(options.onGapFilled ? { onGapFilled: options.onGapFilled } : {}),
    });
    // Until NATS answers, new events come from the database.
    this.stream.startPolling();
    this.heartbeatTimer = setInterval(() => {
      this.heartbeat();
      this.checkHead();
    }, this.heartbeatMs);
    this.heartbeatTimer.unref();
    this.sweepTimer = setInterval(() => this.sweep(), Math.max(10, Math.min(this.heartbeatMs, this.livenessMs / 4)));
    this.sweepTimer.unref();
    void this.reach();
  }

  commit(effects: readonly Effect[]): void {
    let first = 0;
    let last = 0;
    for (const effect of effects) {
      if (effect.kind !== 'publish') continue;
      if (effect.id <= last) throw new Error(`a batch's event ids must ascend: ${effect.id} after ${last}`);
      if (first === 0) first = effect.id;
      last = effect.id;
    }
    // Effects with no stored event belong after every event this node knows of.
    const position = first === 0 ? this.stream.known : first - 1;
    this.stream.offer({ first: position + 1, last: first === 0 ? position : last, effects });
    const maxBytes = (this.nc?.info?.max_payload ?? DEFAULT_MAX_PAYLOAD) - PAYLOAD_MARGIN;
    // Numbered even while NATS is down: the other nodes then see what they missed.
    const messages = encodeBatch(
      { node: this.nodeId, boot: this.boot, nextSeq: () => ++this.seq },
      position,
      effects,
      maxBytes,
    );
    for (const message of messages) this.send(this.subjects.batch, message);
  }

  broadcast(scopes: readonly Scope[], text: string, except?: string): void {
    this.target.publish(scopes, text, except);
    const message: z.input<typeof EphemeralMessage> = {
      ...this.from(),
      kind: 'send',
      scopes: [...scopes],
      text,
      ...(except === undefined ? {} : { except }),
    };
    this.send(this.subjects.ephemeral, JSON.stringify(message));
  }

  setPresence(userId: string, online: boolean): void {
    this.presence.setLocal(userId, online);
    const message: z.input<typeof EphemeralMessage> = { ...this.from(), kind: 'presence', userId, online };
    this.send(this.subjects.ephemeral, JSON.stringify(message));
  }

  isOnline(userId: string): boolean {
    return this.presence.isOnline(userId);
  }

  onlineUsers(): IterableIterator<string> {
    return this.presence.users();
  }

  status(): BusStatus {
    return {
      transport: 'nats',
      connected: this.connected,
      mode: this.stream.polling ? 'poll' : 'push',
      lastApplied: this.stream.last,
      lag: this.stream.lag,
      nodes: this.peers.size,
    };
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    clearInterval(this.heartbeatTimer);
    clearInterval(this.sweepTimer);
    this.stream.close();
    this.wake?.();
    const nc = this.nc;
    this.nc = null;
    if (!nc) return;
    this.connected = false;
    if (nc.isClosed()) return;
    if (!this.linkUp) {
      // Down: nobody to say goodbye to, and a drain would wait for the server.
      await nc.close();
      return;
    }
    this.linkUp = false;
    const bye: z.input<typeof NodeMessage> = { ...this.from(), kind: 'bye' };
    this.publish(nc, this.subjects.node, JSON.stringify(bye));
    // Drain sends what is queued (the goodbye included) before closing.
    await nc.drain().catch(() => nc.close());
  }

  private from(): { v: typeof WIRE_VERSION; node: string; boot: string } {
    return { v: WIRE_VERSION, node: this.nodeId, boot: this.boot };
  }

  /** Connects, retrying every `reconnectWaitMs` until NATS answers; from then on the client reconnects by itself. */
  private async reach(): Promise<void> {
    let attempts = 0;
    while (!this.closing) {
      try {
        const nc = await connect({
          servers: this.servers,
          name: `natter ${this.nodeId}`,
          noEcho: true,
          maxReconnectAttempts: -1,
          reconnectTimeWait: this.reconnectWaitMs,
          // A server that stops answering without closing the socket is noticed within three pings.
          pingInterval: Math.max(1_000, this.heartbeatMs * 2),
          maxPingOut: 2,
          timeout: 10_000,
        });
        if (this.closing) {
          await nc.close();
          return;
        }
        this.attach(nc);
        return;
      } catch (err) {
        if (attempts++ === 0) {
          this.log.warn(
            `bus: NATS at ${String(this.servers)} does not answer (${errorText(err)}); delivering events by reading the database until it does`,
          );
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, this.reconnectWaitMs);
          this.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.wake = null;
      }
    }
  }

  private attach(nc: NatsConnection): void {
    this.nc = nc;
    const on = (subject: string, handle: (msg: Msg) => void) =>
      nc.subscribe(subject, {
        callback: (err, msg) => {
          if (err) {
            this.log.error(`bus: subscription to ${subject}`, err);
            return;
          }
          handle(msg);
        },
      });
    on(this.subjects.batch, (msg) => this.onBatch(msg));
    on(this.subjects.ephemeral, (msg) => this.onEphemeral(msg));
    on(this.subjects.node, (msg) => this.onNode(msg));
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === 'disconnect') {
          this.linkUp = false;
          this.onDown(`lost NATS at ${s.server}`);
        } else if (s.type === 'reconnect') {
          this.linkUp = true;
          this.onUp(nc, `NATS at ${s.server} is back`);
        }
      }
    })();
    void nc.closed().then((err) => {
      if (this.closing || this.nc !== nc) return;
      // The client gave up (it is told to retry forever, so this is unexpected): start again.
      this.nc = null;
      this.linkUp = false;
      this.onDown(`the NATS connection closed${err ? ` (${errorText(err)})` : ''}`);
      void this.reach();
    });
    this.linkUp = true;
    this.onUp(nc, `connected to NATS at ${nc.getServer()}`);
  }

  private onUp(nc: NatsConnection, why: string): void {
    // Once the server has our subscriptions (flush), whatever the database does
    // not hold yet will arrive by push: read the rest, resync, and stop polling.
    nc.flush().then(
      () => {
        if (this.closing || this.nc !== nc || nc.isClosed()) return;
        this.connected = true;
        this.stream.stopPolling();
        // The catch-up covers whatever the other nodes sent while this one was away: count their batches afresh.
        for (const peer of this.peers.values()) peer.seq = -1;
        this.stream.catchUp();
        this.log.info(`bus: ${why}; events by push`);
        this.heartbeat();
      },
      (err: unknown) => this.log.warn(`bus: NATS did not confirm the subscriptions (${errorText(err)})`),
    );
  }

  private onDown(why: string): void {
    if (this.closing) return;
    const was = this.connected;
    this.connected = false;
    this.stream.startPolling();
    if (was) this.log.warn(`bus: ${why}; delivering events by reading the database until it is back`);
  }

  private send(subject: string, data: string): void {
    const nc = this.nc;
    // While NATS is down the client would keep a message only to drop it at the reconnect.
    if (!nc || !this.linkUp) return;
    // Events and ephemeral messages get a span (heartbeats do not).
    const t = tracer();
    if (!t.on) {
      this.publish(nc, subject, data);
      return;
    }
    t.span('bus.publish', () => this.publish(nc, subject, data), {
      'messaging.system': 'nats',
      'messaging.destination.name': subject,
      'messaging.message.body.size': Buffer.byteLength(data),
    });
  }

  private publish(nc: NatsConnection, subject: string, data: string): void {
    try {
      nc.publish(subject, data);
    } catch (err) {
      this.log.error(`bus: publishing ${Buffer.byteLength(data)} bytes to ${subject}`, err);
    }
  }

  /** Parses a message, or drops it with one warning per kind of problem. */
  private parse<T>(schema: z.ZodType<T>, msg: Msg): T | null {
    let json: unknown;
    try {
      json = msg.json();
    } catch {
      this.warnOnce(`${msg.subject}:json`, `bus: dropped a message on ${msg.subject} that is not JSON`);
      return null;
    }
    const parsed = schema.safeParse(json);
    if (parsed.success) return parsed.data;
    const v = (json as { v?: unknown } | null)?.v;
    if (v !== WIRE_VERSION) {
      this.warnOnce(
        `${msg.subject}:v${String(v)}`,
        `bus: dropped messages of wire version ${String(v)} on ${msg.subject}`,
      );
    } else {
      this.warnOnce(
        `${msg.subject}:bad`,
        `bus: dropped a malformed message on ${msg.subject}: ${parsed.error.message}`,
      );
    }
    return null;
  }

  private warnOnce(key: string, message: string): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.log.warn(message);
  }

  /** The peer a message comes from; a new boot of a known node replaces the old one. */
  private peer(node: string, boot: string): Peer | null {
    if (node === this.nodeId) {
      if (boot !== this.boot) this.warnOnce('twin', `bus: another node calls itself ${node}; its messages are ignored`);
      return null;
    }
    const now = performance.now();
    let peer = this.peers.get(node);
    if (!peer || peer.boot !== boot) {
      if (!peer) this.log.info(`bus: node ${node} joined`);
      else this.log.info(`bus: node ${node} restarted`);
      peer = { boot, heardAt: now, seq: -1, beat: null };
      this.peers.set(node, peer);
    }
    peer.heardAt = now;
    return peer;
  }

  private onBatch(msg: Msg): void {
    const m = this.parse(BatchMessage, msg);
    if (!m) return;
    const peer = this.peer(m.node, m.boot);
    if (!peer) return;
    if (peer.seq >= 0 && m.seq <= peer.seq) return; // seen already
    const missed = peer.seq >= 0 && m.seq > peer.seq + 1;
    peer.seq = m.seq;
    this.stream.offer({ first: m.first, last: m.last, effects: m.effects });
    if (missed) this.stream.lost();
  }

  private onEphemeral(msg: Msg): void {
    const m = this.parse(EphemeralMessage, msg);
    if (!m || !this.peer(m.node, m.boot)) return;
    if (m.kind === 'presence') {
      this.presence.setRemote(m.node, m.userId, m.online);
      return;
    }
    try {
      this.target.publish(m.scopes, m.text, m.except);
    } catch (err) {
      this.log.error('bus: delivering an ephemeral event', err);
    }
  }

  private onNode(msg: Msg): void {
    const m = this.parse(NodeMessage, msg);
    if (!m) return;
    if (m.kind === 'bye') {
      if (this.peers.get(m.node)?.boot === m.boot) this.forget(m.node, 'said goodbye');
      return;
    }
    const peer = this.peer(m.node, m.boot);
    if (!peer) return;
    // The node sent batches this one never received: their effects are lost.
    if (peer.seq >= 0 && m.seq > peer.seq) this.stream.lost();
    if (peer.seq < m.seq) peer.seq = m.seq;
    this.stream.learn(m.known);
    if (!peer.beat || peer.beat.n !== m.beat) peer.beat = { n: m.beat, got: 0, users: [] };
    if (m.part !== peer.beat.got) return; // a part went missing: wait for the next heartbeat
    peer.beat.got++;
    for (const userId of m.users) peer.beat.users.push(userId);
    if (peer.beat.got === m.parts) {
      this.presence.replaceRemote(m.node, peer.beat.users);
      peer.beat = null;
    }
  }

  private forget(node: string, why: string): void {
    this.peers.delete(node);
    const users = this.presence.dropNode(node);
    this.log.info(`bus: node ${node} ${why}; ${users} users it held are offline unless online elsewhere`);
  }

  /**
   * Nodes not heard from for `livenessMs` are gone. While this node is cut
   * off from NATS it hears nobody, which says nothing of the others: their
   * users stay as they were, and each node gets a full `livenessMs` to be
   * heard again once NATS is back.
   */
  private sweep(): void {
    const now = performance.now();
    if (!this.connected) {
      for (const peer of this.peers.values()) peer.heardAt = now;
      return;
    }
    for (const [node, peer] of this.peers) {
      if (now - peer.heardAt > this.livenessMs) {
        this.forget(node, `was not heard from for ${Math.round((now - peer.heardAt) / 1000)} s`);
      }
    }
  }

  /**
   * Reads the database's newest event id: events committed by a node that
   * could not publish them are then read from the database like any gap.
   * (While polling, the database is read anyway.)
   */
  private checkHead(): void {
    const head = this.head;
    if (!head || this.reading || !this.connected) return;
    this.reading = true;
    head().then(
      (id) => {
        this.reading = false;
        if (!this.closing) this.stream.learn(id);
      },
      () => {
        // The database does not answer: requests say so, and the next heartbeat asks again.
        this.reading = false;
      },
    );
  }

  /** Publishes this node's heartbeat: its last batch seq, the newest event it knows, its online users. */
  private heartbeat(): void {
    const nc = this.nc;
    if (!nc || !this.connected) return;
    const users = this.presence.localUsers();
    const maxBytes = (nc.info?.max_payload ?? DEFAULT_MAX_PAYLOAD) - PAYLOAD_MARGIN;
    const parts: string[][] = [[]];
    let bytes = 200;
    for (const userId of users) {
      const size = Buffer.byteLength(userId) + 3;
      if (bytes + size > maxBytes) {
        parts.push([]);
        bytes = 200;
      }
      (parts[parts.length - 1] as string[]).push(userId);
      bytes += size;
    }
    const beat = this.beats++;
    parts.forEach((list, part) => {
      const message: z.input<typeof NodeMessage> = {
        ...this.from(),
        kind: 'beat',
        beat,
        part,
        parts: parts.length,
        seq: this.seq,
        known: this.stream.known,
        users: list,
      };
      this.publish(nc, this.subjects.node, JSON.stringify(message));
    });
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
