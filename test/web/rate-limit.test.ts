import t, { type Test } from 'tap';
import { DEFAULT_RATE_LIMITS, FixedWindowLimiter } from '../../web/rate-limit.js';
import {
  PASSWORD,
  buildTestApp,
  databaseTemplate,
  errorOf,
  openTestDatabase,
  seedCompany,
  type Teardown,
  type TestAppOptions,
} from './helpers.js';

/** A clock the test moves by hand. */
function fakeClock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

t.test(
  'the limiter allows limit events per window, then refuses until the window ends',
  async (t) => {
    const clock = fakeClock();
    const limiter = new FixedWindowLimiter({ limit: 3, windowMs: 10_000, now: clock.now });
    t.same([limiter.hit('a'), limiter.hit('a'), limiter.hit('a')], [0, 0, 0]);
    t.equal(limiter.hit('a'), 10, 'the fourth is refused for the whole window');
    t.equal(limiter.hit('b'), 0, 'other keys are counted apart');
    clock.advance(4_100);
    t.equal(limiter.hit('a'), 6, 'a refusal does not extend the window; seconds round up');
    t.equal(limiter.blockedFor('a'), 6);
    clock.advance(5_900);
    t.equal(limiter.blockedFor('a'), 0, 'the window is over');
    t.equal(limiter.hit('a'), 0, 'a new window starts');
  },
);

t.test('blockedFor counts nothing and reset forgets a key', async (t) => {
  const clock = fakeClock();
  const limiter = new FixedWindowLimiter({ limit: 2, windowMs: 60_000, now: clock.now });
  t.equal(limiter.blockedFor('k'), 0);
  t.equal(limiter.blockedFor('k'), 0);
  limiter.hit('k');
  t.equal(limiter.blockedFor('k'), 0, 'one of two used');
  limiter.hit('k');
  t.equal(limiter.blockedFor('k'), 60);
  limiter.reset('k');
  t.equal(limiter.blockedFor('k'), 0);
  t.equal(limiter.size, 0);
});

t.test(
  'the limiter keeps at most maxKeys keys, dropping expired and then oldest ones',
  async (t) => {
    const clock = fakeClock();
    const limiter = new FixedWindowLimiter({
      limit: 1,
      windowMs: 1000,
      maxKeys: 3,
      now: clock.now,
    });
    limiter.hit('old-1');
    limiter.hit('old-2');
    clock.advance(1000);
    limiter.hit('new-1');
    t.equal(limiter.size, 1, 'expired windows are swept');
    limiter.hit('new-2');
    limiter.hit('new-3');
    limiter.hit('new-4');
    t.equal(limiter.size, 3);
    t.equal(limiter.blockedFor('new-1'), 0, 'the oldest key was dropped to make room');
    t.equal(limiter.blockedFor('new-4'), 1);
    t.throws(() => new FixedWindowLimiter({ limit: 0, windowMs: 1000 }), RangeError);
  },
);

t.test('the default limits are those docs/API.md states', async (t) => {
  t.same(DEFAULT_RATE_LIMITS, {
    loginPerIp: { limit: 20, windowMs: 60_000 },
    loginFailuresPerAccount: { limit: 5, windowMs: 900_000 },
    visitorTokenPerIp: { limit: 30, windowMs: 60_000 },
  });
});

const template = databaseTemplate(async (database) => {
  await seedCompany(database, 'acme', [
    { email: 'alice@example.test', name: 'Alice' },
    { email: 'bob@example.test', name: 'Bob' },
  ]);
});

async function setup(t: Teardown, options: TestAppOptions = {}) {
  const database = await openTestDatabase(t, (await template()).path);
  return (await buildTestApp(t, { ...options, database })).app;
}

type App = Awaited<ReturnType<typeof setup>>;

function login(app: App, email: string, password: string, remoteAddress = '127.0.0.1') {
  return app.inject({
    method: 'POST',
    url: '/api/auth/login',
    payload: { email, password, companyId: 'acme' },
    remoteAddress,
  });
}

t.test(
  'five failed logins lock the account for 15 minutes, even for the right password',
  async (t) => {
    const app = await setup(t);
    for (let i = 1; i <= 5; i++) {
      const res = await login(app, 'alice@example.test', `wrong-${i}`, `10.0.0.${i}`);
      t.equal(res.statusCode, 401, `failure ${i}`);
    }
    const locked = await login(app, 'Alice@Example.test', PASSWORD, '10.0.0.99');
    t.equal(locked.statusCode, 429, 'from any address, whatever the case of the email');
    t.same(errorOf(locked.body), { keys: ['error', 'message'], error: 'rate_limited' });
    const retryAfter = Number(locked.headers['retry-after']);
    t.ok(retryAfter > 890 && retryAfter <= 900, `retry-after ${retryAfter}`);

    const bob = await login(app, 'bob@example.test', PASSWORD);
    t.equal(bob.statusCode, 200, 'other accounts are not affected');
  },
);

t.test('concurrent guesses at one account cannot slip past its limit', async (t) => {
  const app = await setup(t);
  const attempts = await Promise.all(
    Array.from({ length: 8 }, (_, i) =>
      login(app, 'alice@example.test', `guess-${i}`, `10.1.0.${i}`),
    ),
  );
  t.same(
    attempts.map((res) => res.statusCode).sort(),
    [401, 401, 401, 401, 401, 429, 429, 429],
    'five checked, three refused unchecked',
  );
});

t.test('a successful login clears the account failures', async (t) => {
  const app = await setup(t);
  for (let i = 0; i < 4; i++)
    t.equal((await login(app, 'alice@example.test', 'nope')).statusCode, 401);
  t.equal((await login(app, 'alice@example.test', PASSWORD)).statusCode, 200);
  for (let i = 0; i < 4; i++)
    t.equal((await login(app, 'alice@example.test', 'nope')).statusCode, 401);
  t.equal(
    (await login(app, 'alice@example.test', PASSWORD)).statusCode,
    200,
    'four more failures are still under the limit',
  );
});

t.test(
  'unknown accounts are limited too, so the limit tells nothing about existence',
  async (t) => {
    const app = await setup(t, {
      rateLimits: { loginFailuresPerAccount: { limit: 2, windowMs: 60_000 } },
    });
    for (const email of ['alice@example.test', 'nobody@example.test']) {
      t.equal((await login(app, email, 'nope')).statusCode, 401);
      t.equal((await login(app, email, 'nope')).statusCode, 401);
      t.equal((await login(app, email, 'nope')).statusCode, 429, email);
    }
  },
);

/**
 * The `Retry-After` of a refusal in a window of `windowS` seconds: the whole seconds left of the
 * window, which started at the first attempt (each login pays a scrypt, so on a loaded machine a
 * second or more may have passed).
 */
function retryWithinWindow(t: Test, header: unknown, windowS: number): void {
  const seconds = Number(header);
  t.ok(
    Number.isInteger(seconds) && seconds > windowS - 10 && seconds <= windowS,
    `retry-after ${String(header)} is what is left of the ${windowS} s window`,
  );
}

t.test('login attempts are limited per address, whatever the account', async (t) => {
  const app = await setup(t, { rateLimits: { loginPerIp: { limit: 3, windowMs: 60_000 } } });
  t.equal((await login(app, 'alice@example.test', 'nope', '192.0.2.1')).statusCode, 401);
  t.equal((await login(app, 'bob@example.test', 'nope', '192.0.2.1')).statusCode, 401);
  t.equal((await login(app, 'alice@example.test', PASSWORD, '192.0.2.1')).statusCode, 200);
  const limited = await login(app, 'bob@example.test', PASSWORD, '192.0.2.1');
  t.equal(limited.statusCode, 429);
  t.equal(errorOf(limited.body).error, 'rate_limited');
  retryWithinWindow(t, limited.headers['retry-after'], 60);
  t.equal(
    (await login(app, 'bob@example.test', PASSWORD, '192.0.2.2')).statusCode,
    200,
    'another address',
  );
});

t.test('visitor tokens are limited per address', async (t) => {
  const app = await setup(t, { rateLimits: { visitorTokenPerIp: { limit: 2, windowMs: 60_000 } } });
  const get = (remoteAddress: string, companyId = 'acme') =>
    app.inject({
      method: 'POST',
      url: '/api/visitor-token',
      payload: { companyId },
      remoteAddress,
    });
  t.equal((await get('198.51.100.1')).statusCode, 200);
  t.equal((await get('198.51.100.1', 'nope')).statusCode, 404, 'an unknown company counts too');
  const limited = await get('198.51.100.1');
  t.equal(limited.statusCode, 429);
  t.same(errorOf(limited.body), { keys: ['error', 'message'], error: 'rate_limited' });
  retryWithinWindow(t, limited.headers['retry-after'], 60);
  t.equal((await get('198.51.100.2')).statusCode, 200, 'another address');
});

t.test('an IPv6 client counts by its /64, an IPv4-mapped one as IPv4', async (t) => {
  const app = await setup(t, { rateLimits: { visitorTokenPerIp: { limit: 2, windowMs: 60_000 } } });
  const get = (remoteAddress: string) =>
    app.inject({
      method: 'POST',
      url: '/api/visitor-token',
      payload: { companyId: 'acme' },
      remoteAddress,
    });
  t.equal((await get('2001:db8:0:1::1')).statusCode, 200);
  t.equal((await get('2001:db8:0:1:ffff:ffff:ffff:ffff')).statusCode, 200);
  t.equal((await get('2001:db8:0:1::2')).statusCode, 429, 'the same /64');
  t.equal((await get('2001:db8:0:2::1')).statusCode, 200, 'the next /64');
  t.equal((await get('::ffff:192.0.2.1')).statusCode, 200);
  t.equal((await get('192.0.2.1')).statusCode, 200);
  t.equal((await get('::ffff:c000:201')).statusCode, 429, 'the same IPv4 address');
});

t.test('the default per-address limit refuses the 21st login in a minute', async (t) => {
  const app = await setup(t);
  // Twenty failures over twenty accounts, so no account limit is reached.
  for (let i = 1; i <= 20; i++) {
    const res = await app.inject({
      method: 'POST',
      url: '/api/auth/login',
      payload: { email: `user${i}@example.test`, password: 'x', companyId: 'acme' },
      remoteAddress: '203.0.113.7',
    });
    t.equal(res.statusCode, 401, `attempt ${i}`);
  }
  const limited = await login(app, 'alice@example.test', PASSWORD, '203.0.113.7');
  t.equal(limited.statusCode, 429);
  t.equal(errorOf(limited.body).error, 'rate_limited');
});
