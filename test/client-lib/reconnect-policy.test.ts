/**
 * `FullJitterPolicy`: a delay drawn from [0, min(max, base * 2^retry)), `null` after
 * `maxRetries`, and no overflow however long the outage.
 */
import t from 'tap';
import { FullJitterPolicy, type ReconnectContext } from '@calldocker/client';

/** A retry well into an outage (past the restart window) unless `elapsedMs` is given. */
const ctx = (retryCount: number, elapsedMs = 60_000): ReconnectContext => ({
  retryCount,
  elapsedMs,
  closeCode: 1006,
  reason: '',
});

/** The largest value below 1 that Math.random may return. */
const ALMOST_ONE = 1 - Number.EPSILON / 2;

t.test('the delay ceiling doubles from the base up to the max', async (t) => {
  const low = new FullJitterPolicy({ baseDelayMs: 100, maxDelayMs: 1000, random: () => 0 });
  const high = new FullJitterPolicy({
    baseDelayMs: 100,
    maxDelayMs: 1000,
    random: () => ALMOST_ONE,
  });
  const ceilings = [100, 200, 400, 800, 1000, 1000, 1000];
  for (const [retry, ceiling] of ceilings.entries()) {
    t.equal(low.nextRetryDelayMs(ctx(retry)), 0, `retry ${retry}: the floor is 0`);
    t.equal(high.nextRetryDelayMs(ctx(retry)), ceiling - 1, `retry ${retry}: below ${ceiling}`);
  }
});

t.test('the delay is the random fraction of the ceiling, rounded down', async (t) => {
  const policy = new FullJitterPolicy({ baseDelayMs: 1000, maxDelayMs: 8000, random: () => 0.5 });
  t.same(
    [0, 1, 2, 3, 4].map((n) => policy.nextRetryDelayMs(ctx(n))),
    [500, 1000, 2000, 4000, 4000],
  );
});

t.test('the defaults are a 500 ms base, a 15 s max and no retry limit', async (t) => {
  const policy = new FullJitterPolicy({ random: () => ALMOST_ONE });
  t.equal(policy.nextRetryDelayMs(ctx(0)), 499);
  t.equal(policy.nextRetryDelayMs(ctx(5)), 14_999);
  t.equal(policy.nextRetryDelayMs(ctx(10_000)), 14_999);
});

t.test('for the first 10 s of an outage the ceiling is at most 2 s', async (t) => {
  const policy = new FullJitterPolicy({ random: () => ALMOST_ONE });
  t.equal(policy.nextRetryDelayMs(ctx(0, 0)), 499, 'the first retry keeps its base');
  t.equal(policy.nextRetryDelayMs(ctx(1, 400)), 999);
  t.equal(policy.nextRetryDelayMs(ctx(5, 3_000)), 1_999, 'refusals during a restart: 2 s');
  t.equal(policy.nextRetryDelayMs(ctx(5, 9_999)), 1_999, 'up to the end of the window');
  t.equal(policy.nextRetryDelayMs(ctx(5, 10_000)), 14_999, 'then the usual backoff');
  const custom = new FullJitterPolicy({
    restartWindowMs: 1_000,
    restartMaxDelayMs: 300,
    random: () => ALMOST_ONE,
  });
  t.equal(custom.nextRetryDelayMs(ctx(3, 999)), 299);
  t.equal(custom.nextRetryDelayMs(ctx(3, 1_000)), 3_999);
  const off = new FullJitterPolicy({ restartWindowMs: 0, random: () => ALMOST_ONE });
  t.equal(off.nextRetryDelayMs(ctx(5, 0)), 14_999, 'a window of 0 turns it off');
});

t.test('with Math.random, every delay stays within its ceiling', async (t) => {
  const policy = new FullJitterPolicy({ baseDelayMs: 50, maxDelayMs: 3000 });
  let bad = 0;
  for (let i = 0; i < 2000; i++) {
    const retry = i % 12;
    const delay = policy.nextRetryDelayMs(ctx(retry));
    const ceiling = Math.min(3000, 50 * 2 ** retry);
    if (delay === null || !Number.isInteger(delay) || delay < 0 || delay >= ceiling) bad++;
  }
  t.equal(bad, 0);
});

t.test('after maxRetries the policy gives up with null', async (t) => {
  const policy = new FullJitterPolicy({ maxRetries: 3, random: () => 0.5 });
  t.same(
    [0, 1, 2, 3, 4].map((n) => policy.nextRetryDelayMs(ctx(n))),
    [250, 500, 1000, null, null],
  );
  t.equal(new FullJitterPolicy({ maxRetries: 0 }).nextRetryDelayMs(ctx(0)), null);
});

t.test('huge retry counts neither overflow nor exceed the max', async (t) => {
  const policy = new FullJitterPolicy({
    baseDelayMs: 500,
    maxDelayMs: 15_000,
    random: () => ALMOST_ONE,
  });
  for (const retry of [31, 64, 1024, 1_000_000, Number.MAX_SAFE_INTEGER]) {
    t.equal(policy.nextRetryDelayMs(ctx(retry)), 14_999, `retry ${retry}`);
  }
  const noMax = new FullJitterPolicy({ maxDelayMs: Infinity, random: () => 0.5 });
  t.ok(Number.isFinite(noMax.nextRetryDelayMs(ctx(10_000))), 'finite even without a max');
});

t.test('the policy ignores close code and elapsed time: it decides by count only', async (t) => {
  const policy = new FullJitterPolicy({ random: () => 0.5 });
  t.equal(
    policy.nextRetryDelayMs({ retryCount: 2, elapsedMs: 60_000, closeCode: 4008, reason: 'x' }),
    policy.nextRetryDelayMs(ctx(2)),
  );
});
