import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Command } from '../../src/cli/commander.js';
import { buildProgram } from '../../src/cli/program.js';

/** The options `natter serve ARGS` hands to the server, without starting it. */
async function serveOptions(args: string[], env: Record<string, string> = {}): Promise<Record<string, unknown>> {
  const saved = { ...process.env };
  for (const k of Object.keys(process.env)) if (k.startsWith('NATTER_')) delete process.env[k];
  Object.assign(process.env, env);
  try {
    const program = buildProgram();
    const serve = program.commands.find((c: Command) => c.name() === 'serve');
    assert.ok(serve, 'natter has a serve command');
    let seen: Record<string, unknown> | null = null;
    serve.action((opts: Record<string, unknown>) => {
      seen = opts;
    });
    await program.parseAsync(['serve', ...args], { from: 'user' });
    assert.ok(seen, 'the serve action ran');
    return seen;
  } finally {
    process.env = saved;
  }
}

test('--session-idle and --username-hold are read as the durations they name, in milliseconds', async () => {
  const given = await serveOptions(['--session-idle', '1m', '--username-hold', '2h']);
  assert.equal(given.sessionIdle, 60_000);
  assert.equal(given.usernameHold, 2 * 3_600_000);
});

test('NATTER_SESSION_IDLE and NATTER_USERNAME_HOLD are read like the flags', async () => {
  const given = await serveOptions([], { NATTER_SESSION_IDLE: '2w', NATTER_USERNAME_HOLD: '0d' });
  assert.equal(given.sessionIdle, 14 * 86_400_000);
  assert.equal(given.usernameHold, 0);
});

test('without them, sessions idle out after 90 days and names are held for 30 days', async () => {
  const given = await serveOptions([]);
  assert.equal(given.sessionIdle, 90 * 86_400_000);
  assert.equal(given.usernameHold, 30 * 86_400_000);
});

test('--hash-nice (and NATTER_HASH_NICE) sets the hashing threads’ nice value, 10 unless given; out of 0-19 is refused', async () => {
  assert.equal((await serveOptions([])).hashNice, 10);
  assert.equal((await serveOptions(['--hash-nice', '5'])).hashNice, 5);
  assert.equal((await serveOptions([], { NATTER_HASH_NICE: '0' })).hashNice, 0);
  const { niceValue } = await import('../../src/cli/args.js');
  for (const bad of ['20', '-1', 'high', '2.5']) assert.throws(() => niceValue(bad), /nice value from 0 to 19/, bad);
});

test('the classifier flags: defaults, the environment, and refusals in words', async () => {
  const none = await serveOptions([]);
  assert.deepEqual(
    [
      none.moderationWebhook,
      none.moderationThreshold,
      none.moderationAction,
      none.moderationFallback,
      none.moderationTimeout,
    ],
    [undefined, 0.8, 'hold', 'allow', 500],
  );
  const given = await serveOptions(
    [
      '--moderation-webhook',
      'http://127.0.0.1:9000/score',
      '--moderation-threshold',
      '0.65',
      '--moderation-action',
      'block',
    ],
    { NATTER_MODERATION_FALLBACK: 'hold', NATTER_MODERATION_TIMEOUT: '250' },
  );
  assert.deepEqual(
    [
      given.moderationWebhook,
      given.moderationThreshold,
      given.moderationAction,
      given.moderationFallback,
      given.moderationTimeout,
    ],
    ['http://127.0.0.1:9000/score', 0.65, 'block', 'hold', 250],
  );
  const { score } = await import('../../src/cli/args.js');
  for (const bad of ['1.5', '-0.1', 'high', '']) assert.throws(() => score(bad), /a score from 0 to 1/, bad);
});

test('--registration (and NATTER_REGISTRATION) takes open, invite or closed, open unless given', async () => {
  assert.equal((await serveOptions([])).registration, 'open');
  assert.equal((await serveOptions(['--registration', 'invite'])).registration, 'invite');
  assert.equal((await serveOptions([], { NATTER_REGISTRATION: 'closed' })).registration, 'closed');
});

test('--metrics, --metrics-token and --metrics-listen (and their NATTER_ variables) reach the server', async () => {
  assert.equal((await serveOptions([])).metrics, undefined);
  const flags = await serveOptions([
    '--metrics',
    '--metrics-token',
    'x'.repeat(16),
    '--metrics-listen',
    '127.0.0.1:9464',
  ]);
  assert.equal(flags.metrics, true);
  assert.equal(flags.metricsToken, 'x'.repeat(16));
  assert.equal(flags.metricsListen, '127.0.0.1:9464');
  const env = await serveOptions([], { NATTER_METRICS: '1', NATTER_METRICS_TOKEN: 'y'.repeat(20) });
  assert.equal(env.metrics, true);
  assert.equal(env.metricsToken, 'y'.repeat(20));
});
