import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { namingOption, plainMessage } from '../../src/cli/errors.js';
import { NatterError } from '../../src/protocol/index.js';
import { PASSWORD } from '../helpers/api.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { PROTOCOL_INTERNALS, SCHEMA_WORDING } from '../helpers/words.js';
import { natter, type Result, removeTempDirs, tempDir } from './helpers.js';

// Bad input on the command line, against a real server: every refusal is one line in the words a
// person typed (the option, the thing named), never an operation name, a field path or a schema's wording.

let t: TestServer;
const home = { ann: '', ben: '' };

before(async () => {
  t = await startTestServer();
  home.ann = tempDir();
  home.ben = tempDir();
});
after(async () => {
  await t.destroy();
  removeTempDirs();
});

function as(user: keyof typeof home, args: string[], input = '', extra: Record<string, string> = {}): Promise<Result> {
  return natter(args, { NATTER_SERVER: t.wsUrl, NATTER_HOME: home[user], ...extra }, input);
}

/** The command failed with `exit`, saying `expected` on its one `error:` line, in words. */
function refused(r: Result, exit: number, expected: RegExp, what: string): void {
  assert.equal(r.code, exit, `${what}: exit code; stderr: ${r.stderr}`);
  assert.match(r.stderr, expected, what);
  assert.doesNotMatch(r.stderr, PROTOCOL_INTERNALS, `${what}: no operation name or field path`);
  assert.doesNotMatch(r.stderr, SCHEMA_WORDING, `${what}: no schema wording`);
  assert.doesNotMatch(r.stderr, /\n\s+at .+:\d+:\d+/, `${what}: no stack trace`);
}

const long = (c: string, n: number) => c.repeat(n);

describe('refusals on the command line, in words', () => {
  before(async () => {
    assert.equal((await as('ann', ['register', 'ann'], '', { NATTER_PASSWORD: PASSWORD })).code, 0);
    assert.equal((await as('ben', ['register', 'ben'], '', { NATTER_PASSWORD: PASSWORD })).code, 0);
    assert.equal((await as('ann', ['server', 'create', 'acme'])).code, 0);
    const code = (await as('ann', ['invite', 'create', 'acme'])).stdout.trim();
    assert.equal((await as('ben', ['join', code])).code, 0);
  });

  test('passwords at register and passwd: too short, too long, named as the password or the new one', async () => {
    const other = { NATTER_HOME: tempDir() };
    refused(
      await as('ann', ['register', 'cyd', '--password-stdin'], 'short\n', other),
      1,
      /^error: bad_request: password must be at least 8 characters$/m,
      'register, short',
    );
    refused(
      await as('ann', ['register', 'cyd', '--password-stdin'], `${long('é', 37)}\n`, other),
      1,
      /^error: bad_request: password must be at most 72 bytes of UTF-8/m,
      'register, 74 bytes',
    );
    refused(
      await as('ann', ['register', long('u', 33), '--password-stdin'], `${PASSWORD}\n`, other),
      1,
      /^error: bad_request: username must be 2 to 32 characters$/m,
      'register, long username',
    );
    refused(
      await as('ann', ['passwd', '--password-stdin'], `${PASSWORD}\nshort\n`),
      1,
      /^error: bad_request: new password must be at least 8 characters$/m,
      'passwd, short',
    );
    refused(
      await as('ann', ['passwd', '--password-stdin'], `wrong guess here\n${PASSWORD} again\n`),
      3,
      /^error: invalid_credentials: the current password is wrong$/m,
      'passwd, wrong current password',
    );
  });

  test('names too long for a server, a channel, a group, a bot token; an empty one', async () => {
    refused(
      await as('ann', ['server', 'create', long('s', 65)]),
      1,
      /^error: bad_request: server name must be at most 64 characters$/m,
      'server create',
    );
    refused(
      await as('ann', ['server', 'create', '']),
      1,
      /^error: bad_request: server name must not be empty$/m,
      'server create, empty name',
    );
    refused(
      await as('ann', ['channel', 'create', 'acme', long('c', 33)]),
      1,
      /^error: bad_request: channel name must be 1 to 32 characters$/m,
      'channel create',
    );
    refused(
      await as('ann', ['group', 'create', long('g', 65), 'ben']),
      1,
      /^error: bad_request: group name must be at most 64 characters$/m,
      'group create',
    );
    refused(
      await as('ann', ['token', 'create', long('k', 65)]),
      1,
      /^error: bad_request: token name must be at most 64 characters$/m,
      'token create',
    );
  });

  test('a refusal about an option names the option', async () => {
    refused(
      await as('ann', ['server', 'edit', 'acme', '--name', long('s', 65)]),
      1,
      /^error: bad_request: server name must be at most 64 characters \(--name\)$/m,
      'server edit --name',
    );
    refused(
      await as('ann', ['server', 'create', 'widgets', '--description', long('d', 1025)]),
      1,
      /^error: bad_request: description must be at most 1024 characters \(--description\)$/m,
      'server create --description',
    );
    refused(
      await as('ann', ['channel', 'create', 'acme', 'ops', '--topic', long('t', 513)]),
      1,
      /^error: bad_request: topic must be at most 512 characters \(--topic\)$/m,
      'channel create --topic',
    );
    refused(
      await as('ann', ['profile', '--display-name', long('n', 65)]),
      1,
      /^error: bad_request: display name must be at most 64 characters \(--display-name\)$/m,
      'profile --display-name',
    );
    refused(
      await as('ann', ['profile', '--status', 'two\nlines']),
      1,
      /^error: bad_request: status must be one line: it contains a line break .* \(--status\)$/m,
      'profile --status',
    );
    refused(
      await as('ann', ['ban', 'acme', 'ben', '--reason', long('r', 257)]),
      1,
      /^error: bad_request: ban reason must be at most 256 characters \(--reason\)$/m,
      'ban --reason',
    );
    refused(
      await as('ann', ['invite', 'create', 'acme', '--max-uses', '100000000']),
      1,
      /^error: bad_request: number of uses must be at most 100000 \(--max-uses\)$/m,
      'invite create --max-uses',
    );
    refused(
      await as('ann', ['search', 'hello', '--from', 'nobody']),
      1,
      /^error: not_found: no user named "nobody" \(--from\)$/m,
      'search --from',
    );
    // With --json the document carries the same words.
    const r = await as('ann', ['--json', 'profile', '--bio', long('b', 1025)]);
    refused(r, 1, /^error: bad_request: bio must be at most 1024 characters \(--bio\)$/m, 'profile --bio');
    assert.deepEqual(JSON.parse(r.stdout), {
      error: { code: 'bad_request', message: 'bio must be at most 1024 characters (--bio)', exitCode: 1 },
    });
  });

  test('a bad invite lifetime or count is a usage error before any request', async () => {
    refused(
      await as('ann', ['invite', 'create', 'acme', '--expires', '400d']),
      2,
      /--expires <duration>' argument '400d' is invalid\. an invite lives at most 365d/,
      '--expires 400d',
    );
    refused(
      await as('ann', ['invite', 'create', 'acme', '--expires', 'soon']),
      2,
      /--expires <duration>' argument 'soon' is invalid\. expected a duration such as 30m, 1h, 7d or 2w/,
      '--expires soon',
    );
    refused(
      await as('ann', ['invite', 'create', 'acme', '--max-uses', '0']),
      2,
      /--max-uses <n>' argument '0' is invalid\. expected a positive whole number/,
      '--max-uses 0',
    );
  });

  test('messages: too long, blank, none at all', async () => {
    refused(
      await as('ann', ['send', 'acme/general', long('m', 4001)]),
      1,
      /^error: bad_request: message must be at most 4000 characters$/m,
      'send, 4001 characters',
    );
    const sent = await as('ann', ['--json', 'send', 'acme/general', 'first words']);
    assert.equal(sent.code, 0, sent.stderr);
    const seq = String((JSON.parse(sent.stdout) as { message: { seq: number } }).message.seq);
    refused(
      await as('ann', ['edit', 'acme/general', seq, long('m', 4001)]),
      1,
      /^error: bad_request: message must be at most 4000 characters$/m,
      'edit to 4001 characters',
    );
    refused(await as('ann', ['send', 'acme/general', '   ']), 2, /^error: usage: /m, 'send, blank');
    refused(await as('ann', ['send', 'acme/general'], ''), 2, /^error: usage: /m, 'send, nothing on stdin');
    refused(
      await as('ann', ['search', long('q', 257)]),
      1,
      /^error: bad_request: the search query must be at most 256 characters$/m,
      'search, long query',
    );
  });

  test('refusals that used to name operations: a session that is gone, the owner leaving, a bot token changing the password', async () => {
    refused(
      await as('ann', ['sessions', 'revoke', 'nope']),
      1,
      /^error: not_found: no such session \(it may have ended already\)$/m,
      'sessions revoke',
    );
    refused(
      await as('ann', ['leave', 'acme']),
      1,
      /^error: conflict: the owner cannot leave: transfer ownership to another member first, or delete the server$/m,
      'leave, as the owner',
    );
    const made = await as('ann', ['--json', 'token', 'create', 'ci']);
    assert.equal(made.code, 0, made.stderr);
    const token = (JSON.parse(made.stdout) as { token: string }).token;
    refused(
      await as('ann', ['passwd', '--password-stdin'], `${PASSWORD}\n${PASSWORD} again\n`, { NATTER_TOKEN: token }),
      1,
      /^error: forbidden: a bot token cannot change the password, sessions or bot tokens; log in with your password for that$/m,
      'passwd with a bot token',
    );
  });
});

describe('how a server refusal is worded (no server needed)', () => {
  test('an operation the server does not know means an older server; the old field prefix is dropped', () => {
    assert.equal(
      plainMessage(new NatterError('unknown_op', 'unknown operation "threads.create"')),
      'the server does not know this command: it runs an older natter than this one; upgrade the server',
    );
    assert.equal(
      plainMessage(
        new NatterError('bad_request', 'params.password: password must be at least 8 characters', {
          field: 'params.password',
        }),
      ),
      'password must be at least 8 characters',
    );
  });

  test('a refusal about a field the person gave as an option names it; others are left alone', () => {
    const options = { maxUses: '--max-uses' };
    const named = namingOption(
      new NatterError('bad_request', 'number of uses must be at most 100000', { field: 'params.maxUses' }),
      options,
    );
    assert.equal((named as Error).message, 'number of uses must be at most 100000 (--max-uses)');
    assert.equal((named as { code: string }).code, 'bad_request');
    const other = new NatterError('bad_request', 'server id is missing', { field: 'params.serverId' });
    assert.equal(namingOption(other, options), other);
    const plain = new Error('connection closed');
    assert.equal(namingOption(plain, options), plain);
  });
});
