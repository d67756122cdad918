import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { natter, removeTempDirs, tempDir } from './helpers.js';

after(removeTempDirs);

test('natter serve refuses --bus without --database, in the words of its flags, before opening anything', async () => {
  const data = tempDir();
  const r = await natter(
    ['serve', '--data', data, '--port', '0', '--tcp-port', '0', '--bus', 'nats://127.0.0.1:4222'],
    {},
  );
  assert.equal(r.code, 2, r.stderr);
  assert.match(
    r.stderr,
    /--bus joins a cluster, whose nodes share one PostgreSQL database: give --database postgres:\/\/… too/,
  );
});

test('natter serve refuses a --database that is not a PostgreSQL URL, and NATTER_DATABASE alike', async () => {
  const data = tempDir();
  const flag = await natter(['serve', '--data', data, '--port', '0', '--database', 'mysql://x@h/db'], {});
  assert.equal(flag.code, 2, flag.stderr);
  assert.match(
    flag.stderr,
    /--database takes a PostgreSQL URL such as postgres:\/\/natter@127\.0\.0\.1:5432\/natter, not "mysql:\/\/x@h\/db"/,
  );
  const env = await natter(['serve', '--data', data, '--port', '0'], { NATTER_DATABASE: 'postgres://nohost' });
  assert.equal(env.code, 2, env.stderr);
  assert.match(env.stderr, /--database takes a PostgreSQL URL/);
});

test('natter serve refuses a --bus address it cannot read and a --cluster name that is not one', async () => {
  const data = tempDir();
  const bus = await natter(
    ['serve', '--data', data, '--port', '0', '--database', 'postgres://u@127.0.0.1:1/db', '--bus', 'nats://a b'],
    {},
  );
  assert.equal(bus.code, 2, bus.stderr);
  assert.match(
    bus.stderr,
    /--bus takes NATS addresses such as nats:\/\/127\.0\.0\.1:4222 \(comma-separated for several\), not "nats:\/\/a b"/,
  );
  const cluster = await natter(
    ['serve', '--data', data, '--port', '0', '--database', 'postgres://u@127.0.0.1:1/db', '--cluster', 'a.b'],
    {},
  );
  assert.equal(cluster.code, 2, cluster.stderr);
  assert.match(cluster.stderr, /--cluster takes a name of letters, digits/);
});

test('natter serve with a PostgreSQL database it cannot reach says so and exits, naming the database without its password', async () => {
  const data = tempDir();
  const r = await natter(
    ['serve', '--data', data, '--port', '0', '--database', 'postgres://u:secret@127.0.0.1:1/db'],
    {},
  );
  assert.equal(r.code, 4, r.stderr);
  assert.match(
    r.stderr,
    /unreachable: cannot use the database postgres:\/\/u@127\.0\.0\.1:1\/db: .*\(is PostgreSQL running and reachable from here\?\)/,
  );
  assert.doesNotMatch(r.stderr, /secret/);
});

test('natter serve refuses a --node-timeout that is not a duration from 3s to 1h, saying so', async () => {
  const data = tempDir();
  const base = ['serve', '--data', data, '--port', '0', '--database', 'postgres://u@127.0.0.1:1/db'];
  const short = await natter([...base, '--node-timeout', '1s'], {});
  assert.equal(short.code, 2, short.stderr);
  assert.match(short.stderr, /a node timeout is at least 3s/);
  const bare = await natter([...base, '--node-timeout', '10'], {});
  assert.equal(bare.code, 2, bare.stderr);
  assert.match(bare.stderr, /expected a duration such as 30s, 10s or 2m/);
});

test('natter serve refuses a cluster node without --media-dir: files taken by one node must be there for every other', async () => {
  const data = tempDir();
  const r = await natter(
    [
      'serve',
      '--data',
      data,
      '--port',
      '0',
      '--tcp-port',
      '0',
      '--database',
      'postgres://u@127.0.0.1:1/db',
      '--bus',
      'nats://127.0.0.1:4222',
    ],
    {},
  );
  assert.equal(r.code, 2, r.stderr);
  assert.match(
    r.stderr,
    /the nodes of a cluster keep uploaded files in one directory they all see: give every node the same --media-dir \(a shared mount; docs\/scaling\.md\)/,
  );
});
