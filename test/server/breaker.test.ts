import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type BreakerChange, CircuitBreaker } from '../../src/server/breaker.js';

/** A clock the test moves by hand. */
function manualClock() {
  let t = 1_000;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

const ok = () => Promise.resolve('fine');
const fail = () => Promise.reject(new Error('boom'));

function setup(failureThreshold = 3, coolDownMs = 10_000) {
  const clock = manualClock();
  const changes: BreakerChange[] = [];
  let calls = 0;
  const breaker = new CircuitBreaker({
    failureThreshold,
    coolDownMs,
    now: clock.now,
    onStateChange: (c) => changes.push(c),
  });
  const counted = (f: () => Promise<string>) => () => {
    calls++;
    return f();
  };
  return { clock, changes, breaker, counted, calls: () => calls };
}

describe('circuit breaker', () => {
  test('stays closed while calls succeed, and failures short of the threshold do not open it', async () => {
    const { breaker, changes } = setup(3);
    assert.deepEqual(await breaker.run(ok), { ok: true, value: 'fine' });
    await breaker.run(fail);
    await breaker.run(fail);
    await breaker.run(ok); // a success resets the count
    await breaker.run(fail);
    await breaker.run(fail);
    assert.equal(breaker.state(), 'closed');
    assert.equal(breaker.status().failures, 2);
    assert.deepEqual(changes, []);
  });

  test('opens after the threshold of failures in a row, then answers without calling', async () => {
    const { breaker, changes, counted, calls } = setup(3);
    for (let i = 0; i < 3; i++) {
      assert.deepEqual(await breaker.run(counted(fail)), { ok: false, reason: 'failed', error: 'boom' });
    }
    assert.equal(breaker.state(), 'open');
    assert.deepEqual(changes, [{ from: 'closed', to: 'open', failures: 3, error: 'boom' }]);
    const r = await breaker.run(counted(ok));
    assert.deepEqual(r, { ok: false, reason: 'open', error: 'boom' });
    assert.equal(calls(), 3);
    assert.equal(breaker.status().retryInMs, 10_000);
  });

  test('after the cool-down one probe goes through; success closes the breaker', async () => {
    const { breaker, clock, changes, counted, calls } = setup(2, 10_000);
    await breaker.run(fail);
    await breaker.run(fail);
    clock.advance(9_999);
    assert.equal((await breaker.run(counted(ok))).ok, false);
    assert.equal(calls(), 0);
    clock.advance(1);
    assert.equal(breaker.status().retryInMs, 0);
    assert.deepEqual(await breaker.run(counted(ok)), { ok: true, value: 'fine' });
    assert.equal(calls(), 1);
    assert.equal(breaker.state(), 'closed');
    assert.deepEqual(
      changes.map((c) => `${c.from}->${c.to}`),
      ['closed->open', 'open->half-open', 'half-open->closed'],
    );
    assert.equal(breaker.status().lastError, null);
  });

  test('a failed probe opens it again for a whole cool-down', async () => {
    const { breaker, clock, changes } = setup(2, 10_000);
    await breaker.run(fail);
    await breaker.run(fail);
    clock.advance(10_000);
    assert.deepEqual(await breaker.run(fail), { ok: false, reason: 'failed', error: 'boom' });
    assert.equal(breaker.state(), 'open');
    assert.equal(breaker.status().retryInMs, 10_000);
    assert.deepEqual(changes.at(-1), { from: 'half-open', to: 'open', failures: 3, error: 'boom' });
    clock.advance(5_000);
    assert.equal((await breaker.run(ok)).ok, false);
    clock.advance(5_000);
    assert.equal((await breaker.run(ok)).ok, true);
    assert.equal(breaker.state(), 'closed');
  });

  test('while the probe is under way, other calls get the fallback without calling', async () => {
    const { breaker, clock, counted, calls } = setup(1, 1_000);
    await breaker.run(fail);
    clock.advance(1_000);
    let finish: (v: string) => void = () => {};
    const probe = breaker.run(counted(() => new Promise<string>((resolve) => (finish = resolve))));
    assert.equal(breaker.state(), 'half-open');
    assert.deepEqual(await breaker.run(counted(ok)), { ok: false, reason: 'open', error: 'boom' });
    assert.equal(calls(), 1);
    finish('late but fine');
    assert.deepEqual(await probe, { ok: true, value: 'late but fine' });
    assert.equal(breaker.state(), 'closed');
  });

  test('a call that throws synchronously counts as a failure and is returned, not thrown', async () => {
    const { breaker } = setup(1);
    const r = await breaker.run(() => {
      throw new TypeError('bad call');
    });
    assert.deepEqual(r, { ok: false, reason: 'failed', error: 'bad call' });
    assert.equal(breaker.state(), 'open');
  });

  test('nonsense settings are refused', () => {
    assert.throws(() => new CircuitBreaker({ failureThreshold: 0 }), RangeError);
    assert.throws(() => new CircuitBreaker({ coolDownMs: -1 }), RangeError);
  });
});
