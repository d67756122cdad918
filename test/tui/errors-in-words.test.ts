import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { plainMessage } from '../../src/cli/errors.js';
import { NatterClient } from '../../src/client/index.js';
import { type CommandContext, parseCommand, runRequest } from '../../src/tui/commands.js';
import { Controller, errorText } from '../../src/tui/controller.js';
import { initialState, reduce } from '../../src/tui/reducer.js';
import type { Action, State } from '../../src/tui/state.js';
import { connectAs, createNatter, HttpApi, PASSWORD, uniqueName } from '../helpers/api.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';
import { PROTOCOL_INTERNALS, SCHEMA_WORDING } from '../helpers/words.js';

// Bad input in the terminal app, against a real server: what the notice line (or a refused message's
// line) says is in the words of the command typed, never an operation name, a field path or a schema's wording.

let t: TestServer;
before(async () => {
  t = await startTestServer();
});
after(() => t.destroy());

function inWords(text: string, what: string): void {
  assert.doesNotMatch(text, PROTOCOL_INTERNALS, `${what}: "${text}" names no operation or field path`);
  assert.doesNotMatch(text, SCHEMA_WORDING, `${what}: "${text}" has no schema wording`);
}

test('slash commands with bad input, and a message too long: the notice says what is wrong in words', async (ctx) => {
  const ann = await new HttpApi(t.httpUrl).call('register', { username: uniqueName('ann'), password: PASSWORD });
  const ben = await new HttpApi(t.httpUrl).call('register', { username: uniqueName('ben'), password: PASSWORD });
  const a = await connectAs(t.wsUrl, ann.token);
  const { server, channels } = await a.request('servers.create', { name: 'acme' });
  const general = channels[0]?.id ?? '';
  const { invite } = await a.request('invites.create', { serverId: server.id });
  a.close();
  const b = await connectAs(t.wsUrl, ben.token);
  await b.request('invites.join', { code: invite.code });
  b.close();

  let state: State = initialState(t.wsUrl);
  const client = createNatter({ url: t.wsUrl, token: ann.token });
  ctx.after(() => client.close());
  const controller = new Controller(
    client,
    (action: Action) => {
      state = reduce(state, action);
    },
    () => state,
  );
  await client.start();
  await waitFor(() => state.conversations[general] !== undefined, { what: 'the channel in the sidebar' });
  await controller.open(general);
  const here = (): CommandContext => ({
    active: state.conversations[general] ?? null,
    serverName: (id) => state.servers[id]?.name ?? null,
    servers: [],
    groups: [],
    invitations: Object.values(state.invitations),
  });

  /** Carries out `input` as the app does; resolves with the notice it leaves. */
  const notice = async (input: string): Promise<{ text: string; error: boolean }> => {
    const intent = parseCommand(input, here());
    if (intent.type === 'error') return { text: intent.message, error: true };
    if (intent.type !== 'request' && intent.type !== 'request-user') return assert.fail(`${input}: ${intent.type}`);
    try {
      return {
        text: (await runRequest(intent, (op, params) => controller.client.request(op, params))).notice,
        error: false,
      };
    } catch (err) {
      return { text: errorText(err), error: true };
    }
  };

  const cases: [string, RegExp][] = [
    [`/create-server ${'s'.repeat(65)}`, /^server name must be at most 64 characters$/],
    [`/channel create ${'c'.repeat(33)}`, /^channel name must be 1 to 32 characters$/],
    [`/group ${'g'.repeat(65)} ${ben.user.username}`, /^group name must be at most 64 characters$/],
    ['/invite --expires 400d', /^--expires must be between 1 minute and 365 days$/],
    ['/invite --expires soon', /^--expires takes a duration such as 30m, 1h, 7d or 2w$/],
    ['/invite --max-uses 0', /^--max-uses takes a number from 1 to 100000$/],
    [`/topic ${'t'.repeat(513)}`, /^topic must be at most 512 characters$/],
    [`/nick ${'n'.repeat(65)}`, /^display name must be at most 64 characters$/],
    [`/away ${'a'.repeat(129)}`, /^status must be at most 128 characters$/],
    [`/rename ${'u'.repeat(33)}`, /^username must be 2 to 32 characters$/],
    [`/ban ${ben.user.username} ${'r'.repeat(257)}`, /^ban reason must be at most 256 characters$/],
    ['/kick nobody-here', /^no such user \(not_found\)$/],
    [
      '/leave',
      /^the owner cannot leave: transfer ownership to another member first, or delete the server \(conflict\)$/,
    ],
  ];
  for (const [input, expected] of cases) {
    const what = input.slice(0, 30);
    const said = await notice(input);
    assert.equal(said.error, true, `${what}: refused`);
    assert.match(said.text, expected, what);
    inWords(said.text, what);
  }

  // What the app checks before a round trip reads as what the server answers for the same input.
  const local = await notice(`/create-server ${'s'.repeat(65)}`);
  const remote = await controller.client
    .request('servers.create', { name: 's'.repeat(65) })
    .then(() => assert.fail('accepted'), errorText);
  assert.equal(remote, `${local.text} (bad_request)`);

  // A blank composer sends nothing; a message too long comes back marked with why.
  assert.deepEqual(parseCommand('   ', here()), { type: 'none' });
  assert.equal(await controller.send(general, 'm'.repeat(4001)), false);
  const line = state.views[general]?.lines.at(-1);
  assert.equal(line?.failed, 'message must be at most 4000 characters (bad_request)');
  inWords(line?.failed ?? '', 'a message too long');
});

test('the login screen: a password too short to register is refused in words', async () => {
  const client = await NatterClient.connect(t.wsUrl);
  try {
    const refusal = await client
      .request('register', { username: uniqueName('cyd'), password: 'short', client: 'natter-tui' })
      .then(
        () => assert.fail('registered'),
        (err: Error) => plainMessage(err),
      );
    assert.equal(refusal, 'password must be at least 8 characters');
    inWords(refusal, 'register');
  } finally {
    client.close();
  }
});
