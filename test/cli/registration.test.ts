import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import type { RegistrationMode } from '../../src/protocol/index.js';
import { HttpApi, PASSWORD, uniqueName } from '../helpers/api.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { natter, type Result, removeTempDirs, tempDir } from './helpers.js';

// natter register on servers that take accounts by invite only, or not at all.
// bin/natter runs dist/ (npm run build first).

const servers: TestServer[] = [];
after(async () => {
  for (const s of servers) await s.destroy();
  removeTempDirs();
});

/** A server in `mode` with a community made while it was open, and an invite code to it. */
async function serverWithCommunity(mode: RegistrationMode): Promise<{ t: TestServer; name: string; code: string }> {
  const first = await startTestServer();
  servers.push(first);
  const owner = new HttpApi(first.httpUrl);
  await owner.call('register', { username: uniqueName('cr-own'), password: PASSWORD });
  const name = uniqueName('Den');
  const { server } = await owner.call('servers.create', { name });
  const { invite } = await owner.call('invites.create', { serverId: server.id, maxUses: 1 });
  await first.stop();
  const t = await startTestServer({ registration: mode }, first.dataDir);
  servers.push(t);
  return { t, name, code: invite.code };
}

function ok(r: Result, what: string): Result {
  assert.equal(r.code, 0, `${what} failed (${r.code}): ${r.stderr}`);
  return r;
}

test('invite only: without --invite the command says to pass one before asking for a password; a bad code names --invite; a good one registers and joins', async () => {
  const { t, name: serverName, code } = await serverWithCommunity('invite');
  const env = { NATTER_HOME: tempDir(), NATTER_SERVER: t.wsUrl };
  const name = uniqueName('cr-new');
  const needed = `error: forbidden: ${t.wsUrl} takes new accounts only with an invite code: pass --invite CODE (ask someone on it for a code to one of its servers)\n`;
  // No password anywhere and no terminal: had it asked for one first, this would be a usage error.
  const bare = await natter(['register', name], env);
  assert.deepEqual([bare.code, bare.stderr], [1, needed]);
  const withPassword = await natter(['register', name], { ...env, NATTER_PASSWORD: PASSWORD });
  assert.deepEqual([withPassword.code, withPassword.stderr], [1, needed]);

  const bad = await natter(['register', name, '--invite', 'nope-nope'], { ...env, NATTER_PASSWORD: PASSWORD });
  assert.equal(bad.code, 1);
  assert.equal(
    bad.stderr,
    'error: not_found: this invite code is invalid or has expired; ask for a new one (--invite)\n',
  );

  const made = ok(
    await natter(['register', name, '--invite', code, '--password-stdin'], env, `${PASSWORD}\n`),
    'register --invite',
  );
  assert.equal(made.stdout, `registered and logged in as ${name} on ${t.wsUrl}; joined ${serverName}\n`);
  const servers = JSON.parse(ok(await natter(['servers', '--json'], env), 'servers').stdout) as {
    servers: { name: string; role: string }[];
  };
  assert.deepEqual(
    servers.servers.map((s) => [s.name, s.role]),
    [[serverName, 'member']],
  );

  // The code let one person in; the next is refused, in JSON too.
  const second = await natter(['register', uniqueName('cr-new'), '--invite', code, '--json'], {
    NATTER_HOME: tempDir(),
    NATTER_SERVER: t.wsUrl,
    NATTER_PASSWORD: PASSWORD,
  });
  assert.equal(second.code, 1);
  assert.deepEqual(JSON.parse(second.stdout), {
    error: {
      code: 'not_found',
      message: 'this invite code is invalid or has expired; ask for a new one (--invite)',
      exitCode: 1,
    },
  });
});

test('register --invite --json says which server the account joined', async () => {
  const { t, name: serverName, code } = await serverWithCommunity('open');
  const name = uniqueName('cr-json');
  const doc = JSON.parse(
    ok(
      await natter(['register', name, '--invite', code, '--json'], {
        NATTER_HOME: tempDir(),
        NATTER_SERVER: t.wsUrl,
        NATTER_PASSWORD: PASSWORD,
      }),
      'register --json',
    ).stdout,
  ) as { user: { username: string }; joined: { server: { name: string }; channels: { name: string }[] } };
  assert.equal(doc.user.username, name);
  assert.equal(doc.joined.server.name, serverName);
  assert.deepEqual(
    doc.joined.channels.map((c) => c.name),
    ['general'],
  );
});

test('closed: register is refused at once, with or without a code', async () => {
  const { t, code } = await serverWithCommunity('closed');
  const env = { NATTER_HOME: tempDir(), NATTER_SERVER: t.wsUrl };
  for (const extra of [[], ['--invite', code]]) {
    const r = await natter(['register', uniqueName('cr-no'), ...extra], env);
    assert.deepEqual([r.code, r.stderr], [1, `error: forbidden: ${t.wsUrl} is not accepting new accounts\n`]);
  }
  const help = ok(await natter(['register', '--help'], env), 'register --help').stdout;
  assert.match(help, /--invite <code>/);
});

test('natter serve refuses a registration mode it does not know, from the flag or the environment', async () => {
  const dir = tempDir();
  for (const [args, env] of [
    [['--registration', 'invites'], {}],
    [[], { NATTER_REGISTRATION: 'shut' }],
  ] as const) {
    const r = await natter(['serve', '--data', dir, '--port', '0', '--tcp-port', '0', ...args], env);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--registration <mode>.* is invalid\. Allowed choices are open, invite, closed\./);
  }
});
