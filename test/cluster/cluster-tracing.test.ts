import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type ClusterNode, type Peer, registerOn, removeClusterDirs, startNode } from '../helpers/cluster.js';
import { type TestNats, testNats } from '../helpers/nats.js';
import { OtlpReceiver } from '../helpers/otlp.js';
import { freshDatabase, type TestDatabase } from '../helpers/postgres.js';

// Two `natter serve` nodes on one PostgreSQL database and one NATS, both
// sending spans to one OTLP receiver: a message sent on node A is published
// on the bus inside the trace of its request.

let db: TestDatabase;
let nats: TestNats;
let receiver: OtlpReceiver;
let nodes: ClusterNode[] = [];
const peers: Peer[] = [];

before(async () => {
  db = await freshDatabase();
  nats = await testNats();
  receiver = await OtlpReceiver.start();
  const env = { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: '100' };
  // One after the other: the first migrates the empty database.
  const a = await startNode({ database: db.url, nats: nats.url, env });
  const b = await startNode({ database: db.url, nats: nats.url, env });
  nodes = [a, b];
});

after(async () => {
  for (const p of peers) p.client.close();
  await Promise.all(nodes.map((n) => n.proc.stop().catch(() => n.proc.kill())));
  await receiver?.close();
  await nats?.dispose();
  await db?.drop();
  removeClusterDirs();
});

test('a send on node A is published on the bus within its trace, and node B delivers it', async () => {
  const [a, b] = nodes;
  assert.ok(a && b);
  const ada = await registerOn(a.wsUrl, 'ada');
  peers.push(ada);
  const { server, channels } = await ada.client.request('servers.create', { name: 'traced' });
  const general = channels[0];
  assert.ok(general);
  const bob = await registerOn(b.wsUrl, 'bob');
  peers.push(bob);
  const invite = await ada.client.request('invites.create', { serverId: server.id });
  await bob.client.request('invites.join', { code: invite.invite.code });
  const { message } = await ada.client.request('messages.send', {
    conversationId: general.id,
    body: 'across the bus',
    nonce: 'x1',
  });
  await bob.next('message.created', (d) => d.message.id === message.id);
  await Promise.all(nodes.map((n) => n.proc.stop()));
  nodes = [];

  const send = receiver.spans.find((s) => s.name === 'messages.send' && s.parentSpanId === '');
  assert.ok(send, `a messages.send trace among ${receiver.spans.map((s) => s.name).join(', ')}`);
  assert.equal(send.resource['natter.cluster'], 'test');
  const trace = receiver.spans.filter((s) => s.traceId === send.traceId);
  const publish = trace.find((s) => s.name === 'bus.publish');
  assert.ok(publish, `a bus.publish span in the send's trace: ${trace.map((s) => s.name).join(', ')}`);
  assert.equal(publish.attributes['messaging.system'], 'nats');
  assert.match(String(publish.attributes['messaging.destination.name']), /^test\./);
  const fanout = trace.find((s) => s.spanId === publish.parentSpanId);
  assert.equal(fanout?.name, 'fanout', 'the publish is part of the fan-out');
  assert.equal(
    publish.resource['service.instance.id'],
    send.resource['service.instance.id'],
    'published by the node that handled the send',
  );
});
