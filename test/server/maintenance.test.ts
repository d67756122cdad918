import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runMaintenance, SWEEP_BATCH } from '../../src/server/maintenance.js';
import { connectAs, connectClient, HttpApi, PASSWORD, uniqueName } from '../helpers/api.js';
import { startTestServer } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';

test('old events are pruned in batches through the writer; a cursor older than what is left resumes as limited', async () => {
  // Everything older than a moment ago is past its retention.
  const s = await startTestServer({ eventRetentionMs: 1 });
  try {
    const http = new HttpApi(s.httpUrl);
    const reg = await http.call('register', { username: uniqueName('mt'), password: PASSWORD });
    const cursor = reg.cursor;
    const { channels } = await http.call('servers.create', { name: 'old news' });
    const conversationId = channels[0]?.id ?? '';
    const total = SWEEP_BATCH * 2 + 17;
    const c = await connectAs(s.tcpUrl, reg.token);
    const sends = [];
    for (let i = 0; i < total; i++) {
      sends.push(c.request('messages.send', { conversationId, body: `m${i}`, nonce: `mt${i}` }));
    }
    await Promise.all(sends);
    c.close();
    const last = Date.now();
    await waitFor(() => Date.now() > last + 2, { what: 'the events to age' });
    const jobs = s.server.services.store.stats.jobs;
    const report = await runMaintenance(s.server.services);
    assert.ok(report.events >= total, `${report.events} events pruned`);
    assert.ok(s.server.services.store.stats.jobs - jobs >= 3, 'several batches, each a job of its own');
    // Messages stay; only the event stream is trimmed.
    assert.equal((await http.call('messages.history', { conversationId, limit: 1 })).messages[0]?.seq, total);
    // Resuming from before the pruned events: told to reload, nothing replayed.
    const resumed = await connectClient(s.tcpUrl);
    const caughtUp = resumed.nextEvent('caught_up');
    await resumed.request('auth', { token: reg.token, cursor });
    const ev = await caughtUp;
    assert.equal(ev.data.limited, true);
    assert.equal(ev.data.replayed, 0);
    resumed.close();
  } finally {
    await s.destroy();
  }
});

test('invite codes that stopped working a week ago are deleted; live ones and recently dead ones stay', async () => {
  const s = await startTestServer();
  try {
    const http = new HttpApi(s.httpUrl);
    await http.call('register', { username: uniqueName('mi'), password: PASSWORD });
    const { server } = await http.call('servers.create', { name: 'invites' });
    const live = (await http.call('invites.create', { serverId: server.id })).invite.code;
    const recent = (await http.call('invites.create', { serverId: server.id })).invite.code;
    await http.call('invites.revoke', { serverId: server.id, code: recent });
    const old = (await http.call('invites.create', { serverId: server.id, expiresInSeconds: 60 })).invite.code;
    // It expired long ago.
    s.server.sqlite().$client.prepare('UPDATE invites SET expires_at = 1 WHERE code = ?').run(old);
    const report = await runMaintenance(s.server.services);
    assert.equal(report.invites, 1);
    const codes = (s.server.sqlite().$client.prepare('SELECT code FROM invites').all() as { code: string }[]).map(
      (r) => r.code,
    );
    assert.deepEqual(codes.sort(), [live, recent].sort());
  } finally {
    await s.destroy();
  }
});
