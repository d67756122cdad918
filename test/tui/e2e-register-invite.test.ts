import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { HttpApi, PASSWORD, uniqueName } from '../helpers/api.js';
import { Screen } from '../helpers/screen.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

// The terminal app's register form on a server that takes new accounts by invite only:
// bin/natter runs dist/ (npm run build first).

const servers: TestServer[] = [];
const dir = mkdtempSync(join(tmpdir(), 'natter-tui-'));
after(async () => {
  for (const s of servers) await s.destroy();
  rmSync(dir, { recursive: true, force: true });
});

test('registering where the server asks for an invite code: the form says so, asks for the code, and the new account is in its server', async () => {
  const first = await startTestServer();
  servers.push(first);
  const owner = new HttpApi(first.httpUrl);
  await owner.call('register', { username: uniqueName('tui-own'), password: PASSWORD });
  const den = uniqueName('den');
  const { server } = await owner.call('servers.create', { name: den });
  const { invite } = await owner.call('invites.create', { serverId: server.id });
  await first.stop();
  const t = await startTestServer({ registration: 'invite' }, first.dataDir);
  servers.push(t);

  const name = uniqueName('gail');
  const screen = new Screen({ NATTER_HOME: join(dir, 'gail'), NATTER_SERVER: t.wsUrl });
  try {
    await screen.waitFor(/log in/, 'the login screen');
    await screen.type(
      '\u0012',
      (s) => /takes new accounts only with an invite code/.test(s) && /Invite/.test(s),
      'register mode, with what the server said of registration and the invite field',
    );
    await screen.type(`${name}\r${PASSWORD}\r${PASSWORD}\r`, /› Invite/, 'the cursor on the invite code');
    await screen.type('\r', /type an invite code/, 'an empty code, refused in words');
    await screen.type('nonsense42\r', /invalid or has expired/, "the server's refusal of a bad code");
    await screen.type(`\u0015${invite.code}\r`, /connected/, 'the chat screen, registered');
    await screen.waitFor(new RegExp(den), 'the server the code joined, in the sidebar');
  } finally {
    assert.equal(await screen.quit(), 0);
  }
  const back = new HttpApi(t.httpUrl);
  await back.call('login', { username: name, password: PASSWORD });
  assert.deepEqual(
    (await back.call('servers.list', {})).servers.map((s) => s.id),
    [server.id],
  );
});
