import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { closeCodeOf, connectAs, HttpApi, PASSWORD, uniqueName } from '../helpers/api.js';
import { sharedBus } from '../helpers/nats.js';
import { freshDatabase } from '../helpers/postgres.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { codeIn, TestSmtp } from '../helpers/smtp.js';
import { waitFor } from '../helpers/wait.js';

/**
 * Two natters on one PostgreSQL database (a cluster, over NATS) share one outbox: each mail is
 * claimed by one of them (`claimed_until`, taken in one statement) and sent
 * once, however the two race for it.
 */

const cleanup: (() => Promise<void>)[] = [];
after(async () => {
  for (const step of cleanup.reverse()) await step();
});

const bus = sharedBus(cleanup);

/** Two natters on one fresh PostgreSQL database and the shared bus, sending mail to one SMTP server. */
async function twoNodes(): Promise<{ smtp: TestSmtp; a: TestServer; b: TestServer }> {
  const db = await freshDatabase();
  cleanup.push(() => db.drop());
  const smtp = await TestSmtp.start();
  cleanup.push(() => smtp.close());
  const nodes: TestServer[] = [];
  for (let i = 0; i < 2; i++) {
    const dir = mkdtempSync(join(tmpdir(), 'natter-mail-node-'));
    const t = await startTestServer({ database: db.url, bus: await bus(), mail: smtp.settings() }, dir);
    cleanup.push(async () => {
      await t.stop();
      rmSync(dir, { recursive: true, force: true });
    });
    nodes.push(t);
  }
  const [a, b] = nodes as [TestServer, TestServer];
  return { smtp, a, b };
}

test('two nodes on one database send each queued mail exactly once', async () => {
  const { smtp, a, b } = await twoNodes();
  // Mail queued on both nodes, each node poked for every one: both go after the same rows at once.
  const addresses: string[] = [];
  await Promise.all(
    Array.from({ length: 12 }, async (_, i) => {
      const node = i % 2 === 0 ? a : b;
      const address = `${uniqueName('c')}@example.org`;
      addresses.push(address);
      await new HttpApi(node.httpUrl).call('register', {
        username: uniqueName('cm'),
        password: PASSWORD,
        email: address,
      });
      a.server.outbox?.poke();
      b.server.outbox?.poke();
    }),
  );
  await waitFor(async () => (await a.server.outbox?.pending()) === 0 && smtp.mails.length >= addresses.length, {
    what: 'every mail sent',
    detail: () => `${smtp.mails.length} received`,
  });
  // Both nodes look again: nothing is left for either to send.
  a.server.outbox?.poke();
  b.server.outbox?.poke();
  const summary = await a.server.services.mail.summary(5);
  assert.equal(summary.sent, addresses.length);
  await waitFor(
    async () =>
      (await a.sql.get<{ n: number }>('SELECT count(*)::int AS n FROM mail_outbox WHERE claimed_until IS NOT NULL'))
        ?.n === 0,
    {
      what: 'no claim left over',
    },
  );
  assert.deepEqual(smtp.mails.map((m) => m.to).sort(), [...addresses].sort(), 'each address got exactly one mail');
});

test("a password reset through one node closes the account's sockets on the other", async () => {
  const { smtp, a, b } = await twoNodes();
  const username = uniqueName('rs');
  const address = `${username}@example.org`;
  const owner = new HttpApi(b.httpUrl);
  const registered = await owner.call('register', { username, password: PASSWORD, email: address });
  await owner.call('email.verify', { code: codeIn(await smtp.mailTo(address)) });
  // The account's only live connection is on node b; the reset goes through node a, which has none.
  const socket = await connectAs(b.wsUrl, registered.token);
  const closed = closeCodeOf(socket, 'the socket on node b to close');
  const anon = new HttpApi(a.httpUrl);
  await anon.call('password.resetRequest', { username });
  const done = await anon.call('password.reset', {
    username,
    code: codeIn(await smtp.mailTo(address, 2)),
    newPassword: 'a brand new secret',
  });
  assert.equal(done.revokedSessions, 1);
  assert.equal(await closed, 4004);
});
