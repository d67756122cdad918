import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Effect } from '../../src/server/bus/bus.js';
import { LocalBus } from '../../src/server/bus/local.js';
import { hubTarget } from '../../src/server/bus/target.js';
import { Connection } from '../../src/server/connection.js';
import { Hub } from '../../src/server/hub.js';
import { type Logger, silentLogger } from '../../src/server/log.js';

/** A connection whose transport keeps what it is sent, and how it was closed. */
class KeptConnection extends Connection {
  readonly texts: string[] = [];
  closedWith: number | null = null;
  constructor() {
    super('tcp', '127.0.0.1');
  }
  protected write(text: string): void {
    this.texts.push(text);
  }
  protected terminate(code: number): void {
    this.closedWith = code;
  }
  protected queuedBytes(): number {
    return 0;
  }
}

const quiet: Logger = silentLogger;

function connectAs(hub: Hub, userId: string, sessionId: string): KeptConnection {
  const conn = new KeptConnection();
  hub.add(conn);
  hub.authenticate(conn, { userId, sessionId, kind: 'session' }, []);
  return conn;
}

test('the local bus applies a batch to the hub before commit returns, effect by effect in order', () => {
  const hub = new Hub();
  const bus = new LocalBus({ target: hubTarget(hub), log: quiet, start: 6 });
  const ann = connectAs(hub, 'ann', 's1');
  const bob = connectAs(hub, 'bob', 's2');
  const bobPhone = connectAs(hub, 'bob', 's3');
  const effects: Effect[] = [
    { kind: 'subscribe', userId: 'bob', scope: 's:x' },
    { kind: 'publish', id: 7, scopes: ['s:x'], text: '{"event":"member.joined","data":{},"cursor":"7"}' },
    { kind: 'send', scopes: ['u:bob'], text: '{"event":"settings.updated","data":{}}', except: 'ann' },
    { kind: 'unsubscribe', userId: 'bob', scope: 's:x' },
    { kind: 'publish', id: 8, scopes: ['s:x'], text: '{"event":"member.left","data":{},"cursor":"8"}' },
    { kind: 'closeSessions', sessionIds: ['s2'], code: 4004, reason: 'revoked' },
    { kind: 'closeUser', userId: 'ann', code: 4009, reason: 'account deleted' },
  ];
  bus.commit(effects);
  // bob heard his join (subscribed first) and not his leave (unsubscribed first).
  assert.deepEqual(bobPhone.texts, [
    '{"event":"member.joined","data":{},"cursor":"7"}',
    '{"event":"settings.updated","data":{}}',
  ]);
  assert.equal(bob.closedWith, 4004);
  assert.equal(bobPhone.closedWith, null);
  assert.equal(ann.closedWith, 4009);
  assert.equal(hub.userConnections('ann').size, 0);
  assert.deepEqual(bus.status(), {
    transport: 'local',
    connected: true,
    mode: 'push',
    lastApplied: 8,
    lag: 0,
    nodes: 0,
  });
});

test('the local bus reports presence and typing at once', () => {
  const hub = new Hub();
  const heard: [string, boolean][] = [];
  const bus = new LocalBus({
    target: hubTarget(hub),
    log: quiet,
    hooks: { onPresence: (userId, online) => heard.push([userId, online]) },
  });
  const bob = connectAs(hub, 'bob', 's2');
  hub.subscribeUser('bob', 'c:dm');
  bus.setPresence('ann', true);
  assert.ok(bus.isOnline('ann'));
  assert.deepEqual([...bus.onlineUsers()], ['ann']);
  bus.broadcast(['c:dm'], '{"event":"typing","data":{}}', 'ann');
  bus.setPresence('ann', false);
  assert.deepEqual(heard, [
    ['ann', true],
    ['ann', false],
  ]);
  assert.equal(bus.isOnline('ann'), false);
  assert.deepEqual(bob.texts, ['{"event":"typing","data":{}}']);
});
