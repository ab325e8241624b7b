/**
 * The fixed-window limiter on an injected clock: the limit at its edge and one past it, windows
 * per key, expiry, and memory bounded by `maxKeys` whatever the flood.
 */
import t from 'tap';
import { WindowLimiter } from '../../server/window-limiter.js';

/** A limiter on a clock the test moves. */
function limiter(limit: number, maxKeys = 100) {
  const clock = { now: 1000 };
  const windows = new WindowLimiter({ limit, windowMs: 60_000, maxKeys, now: () => clock.now });
  return { clock, windows };
}

t.test('a key gets `limit` events a window; the next waits for the window to end', async (t) => {
  const { clock, windows } = limiter(3);
  for (let i = 0; i < 3; i++) t.equal(windows.take('a'), 0, `event ${i + 1}`);
  clock.now += 20_000;
  t.equal(windows.take('a'), 40_000, 'one past: refused, with the ms left of the window');
  t.equal(windows.take('a'), 40_000, 'a refused event is not counted and changes nothing');
  clock.now += 39_999;
  t.equal(windows.take('a'), 1, 'still refused 1 ms before the end');
  clock.now += 1;
  t.equal(windows.take('a'), 0, 'a new window');
});

t.test('each key has its own window', async (t) => {
  const { windows } = limiter(1);
  t.equal(windows.take('a'), 0);
  t.equal(windows.take('b'), 0);
  t.ok(windows.take('a') > 0);
  t.ok(windows.take('b') > 0);
  t.equal(windows.size, 2);
});

t.test('ended windows are forgotten, by sweep or by the next take', async (t) => {
  const { clock, windows } = limiter(5);
  windows.take('a');
  clock.now += 30_000;
  windows.take('b');
  clock.now += 30_000;
  windows.sweep();
  t.equal(windows.size, 1, "a's window ended");
  clock.now += 30_000;
  windows.take('c');
  t.equal(windows.size, 1, "b's ended too; c's runs");
  clock.now += 60_000;
  windows.sweep();
  t.equal(windows.size, 0, 'nothing is left once the flood is over');
});

t.test('a key that starts a new window moves behind the older ones', async (t) => {
  const { clock, windows } = limiter(5);
  windows.take('a');
  clock.now += 40_000;
  windows.take('b');
  clock.now += 20_000;
  windows.take('a'); // a's first window ended: a new one from now
  clock.now += 40_000;
  windows.sweep();
  t.equal(windows.size, 1, "b's window ended, a's new one has not");
  t.equal(windows.take('a'), 0, 'a is in its second window');
});

t.test('a flood of distinct keys never holds more than maxKeys', async (t) => {
  const { clock, windows } = limiter(1, 50);
  for (let i = 0; i < 10_000; i++) {
    windows.take(`key-${i}`);
    clock.now += 1;
  }
  t.equal(windows.size, 50);
  t.equal(windows.take('key-9999'), 59_999, 'the newest keys are still limited');
  t.equal(windows.take('key-0'), 0, 'the oldest were forgotten first');
});
