/**
 * The token routes' rate limits in cluster mode (issue 10): two web hosts on one Redis and one
 * prefix count in the same windows. Needs `REDIS_URL` (skipped, visibly, without it), except
 * the test of a Redis that cannot be reached, which needs none.
 */
import { Redis } from 'ioredis';
import { pino } from 'pino';
import t, { type Test } from 'tap';
import { closeRedis, connectRedis } from '../../common/redis.js';
import type { RateLimits } from '../../web/rate-limit.js';
import { limitKey, RedisRateLimiter } from '../../web/redis-rate-limit.js';
import { until } from '../helpers.js';
import {
  keysUnder,
  openRedis,
  prefixForTest,
  redisProxy,
  redisUrlOrSkip,
} from '../redis-helpers.js';
import {
  PASSWORD,
  buildTestApp,
  databaseTemplate,
  errorOf,
  openTestDatabase,
  seedCompany,
  type Teardown,
} from './helpers.js';

const silent = pino({ level: 'silent' });

const template = databaseTemplate(async (database) => {
  await seedCompany(database, 'acme', [
    { email: 'alice@example.test', name: 'Alice' },
    { email: 'bob@example.test', name: 'Bob' },
  ]);
});

/** A client as the web host opens it (`web/index.ts`), closed at teardown. */
async function hostClient(t: Teardown, url: string): Promise<Redis> {
  const client = await connectRedis(url, silent, { commandTimeoutMs: 2000 });
  t.teardown(() => closeRedis(client));
  return client;
}

/** Options of {@link hosts}. */
interface HostOptions {
  /** The Redis each host opens its own client to. */
  readonly redisUrl: string;
  /** What the hosts' keys start with. */
  readonly prefix: string;
  readonly rateLimits?: Partial<RateLimits>;
  /** Changes a host's client before the host is built on it. */
  readonly patchClient?: (client: Redis) => void;
}

/** `count` web hosts on one database, each with its own client of one Redis and one prefix. */
async function hosts(t: Teardown, count: number, options: HostOptions) {
  const database = await openTestDatabase(t, (await template()).path);
  const apps = [];
  for (let i = 0; i < count; i++) {
    const client = await hostClient(t, options.redisUrl);
    options.patchClient?.(client);
    const { app } = await buildTestApp(t, {
      database,
      rateLimits: options.rateLimits,
      redis: { client, prefix: options.prefix },
    });
    apps.push(app);
  }
  return apps;
}

type App = Awaited<ReturnType<typeof hosts>>[number];

function visitorToken(app: App, remoteAddress: string) {
  return app.inject({
    method: 'POST',
    url: '/api/visitor-token',
    payload: { companyId: 'acme' },
    remoteAddress,
  });
}

function login(app: App, email: string, password: string, remoteAddress = '127.0.0.1') {
  return app.inject({
    method: 'POST',
    url: '/api/auth/login',
    payload: { email, password, companyId: 'acme' },
    remoteAddress,
  });
}

/** `Retry-After` is what is left of a window of `windowS` seconds that started moments ago. */
function retryWithinWindow(t: Test, header: unknown, windowS: number): void {
  const seconds = Number(header);
  t.ok(
    Number.isInteger(seconds) && seconds > windowS - 10 && seconds <= windowS,
    `retry-after ${String(header)} is what is left of the ${windowS} s window`,
  );
}

t.test(
  'a host that cannot reach Redis refuses login and visitor tokens with 503 unavailable',
  async (t) => {
    // Nothing listens on port 1: the client never connects, as when Redis is down at a request.
    const client = new Redis('redis://127.0.0.1:1', {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
    });
    client.on('error', () => undefined);
    t.teardown(() => client.disconnect());
    const database = await openTestDatabase(t, (await template()).path);
    const { app } = await buildTestApp(t, { database, redis: { client, prefix: 'test:down:' } });

    for (const res of [
      await login(app, 'alice@example.test', PASSWORD),
      await visitorToken(app, '192.0.2.1'),
    ]) {
      t.equal(res.statusCode, 503);
      t.same(errorOf(res.body), { keys: ['error', 'message'], error: 'unavailable' });
    }
    const health = await app.inject({ method: 'GET', url: '/api/health' });
    t.equal(health.statusCode, 503);
    t.same(health.json(), { status: 'degraded', database: 'ok', redis: 'unavailable' });
    const config = await app.inject({ method: 'GET', url: '/api/config' });
    t.equal(config.statusCode, 200, 'what needs no limit is served');
  },
);

t.test('two web hosts on one Redis', async (t) => {
  const redisUrl = redisUrlOrSkip(t);
  if (redisUrl === undefined) return;
  // Outlives the subtests, whose prefixes it deletes at their teardown.
  const admin = await openRedis(t, redisUrl);

  t.test('report Redis in their health', async (t) => {
    const [app] = await hosts(t, 1, { redisUrl, prefix: prefixForTest(t, admin) });
    const res = await app!.inject({ method: 'GET', url: '/api/health' });
    t.equal(res.statusCode, 200);
    t.same(res.json(), { status: 'ok', database: 'ok', redis: 'ok' });
  });

  t.test(
    'share a visitor-token window: N spread over both succeed, the next is refused on either',
    async (t) => {
      const limit = 4;
      const [a, b] = await hosts(t, 2, {
        redisUrl,
        prefix: prefixForTest(t, admin),
        rateLimits: { visitorTokenPerIp: { limit, windowMs: 60_000 } },
      });
      for (let i = 0; i < limit; i++) {
        const res = await visitorToken(i % 2 === 0 ? a! : b!, '198.51.100.1');
        t.equal(res.statusCode, 200, `token ${i + 1} from host ${i % 2 === 0 ? 'A' : 'B'}`);
      }
      for (const [name, app] of [
        ['A', a!],
        ['B', b!],
      ] as const) {
        const refused = await visitorToken(app, '198.51.100.1');
        t.equal(refused.statusCode, 429, `refused on host ${name}`);
        t.same(errorOf(refused.body), { keys: ['error', 'message'], error: 'rate_limited' });
        retryWithinWindow(t, refused.headers['retry-after'], 60);
      }
      t.equal((await visitorToken(b!, '198.51.100.2')).statusCode, 200, 'another address');
    },
  );

  t.test(
    'share the login lockout: failures on one host lock the account on the other',
    async (t) => {
      const [a, b] = await hosts(t, 2, {
        redisUrl,
        prefix: prefixForTest(t, admin),
        rateLimits: { loginFailuresPerAccount: { limit: 3, windowMs: 900_000 } },
      });
      t.equal((await login(a!, 'alice@example.test', 'nope')).statusCode, 401);
      t.equal((await login(a!, 'alice@example.test', 'nope')).statusCode, 401);
      t.equal(
        (await login(b!, 'alice@example.test', PASSWORD)).statusCode,
        200,
        'two failures on A, then the right password on B',
      );
      for (let i = 1; i <= 3; i++) {
        t.equal(
          (await login(a!, 'alice@example.test', 'nope')).statusCode,
          401,
          `failure ${i} after the success on B: the success cleared A's failures`,
        );
      }
      const locked = await login(b!, 'Alice@Example.test', PASSWORD, '10.0.0.99');
      t.equal(locked.statusCode, 429, 'locked on B, from another address, whatever the case');
      t.same(errorOf(locked.body), { keys: ['error', 'message'], error: 'rate_limited' });
      retryWithinWindow(t, locked.headers['retry-after'], 900);
      t.equal((await login(b!, 'bob@example.test', PASSWORD)).statusCode, 200, 'Bob is not');
    },
  );

  t.test('grant exactly N of 3N concurrent visitor tokens, however they are spread', async (t) => {
    const limit = 10;
    const [a, b] = await hosts(t, 2, {
      redisUrl,
      prefix: prefixForTest(t, admin),
      rateLimits: { visitorTokenPerIp: { limit, windowMs: 60_000 } },
    });
    const answers = await Promise.all(
      Array.from({ length: 3 * limit }, (_, i) => visitorToken(i % 2 ? a! : b!, '203.0.113.5')),
    );
    const codes = answers.map((res) => res.statusCode);
    t.equal(codes.filter((code) => code === 200).length, limit, 'N tokens');
    t.equal(codes.filter((code) => code === 429).length, 2 * limit, 'the rest refused');
  });

  t.test('check at most N concurrent guesses at one account across both hosts', async (t) => {
    const [a, b] = await hosts(t, 2, { redisUrl, prefix: prefixForTest(t, admin) });
    const attempts = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        login(i % 2 ? a! : b!, 'alice@example.test', `guess-${i}`, `10.1.0.${i}`),
      ),
    );
    t.same(
      attempts.map((res) => res.statusCode).sort(),
      [401, 401, 401, 401, 401, 429, 429, 429],
      'five checked (the default limit), three refused unchecked',
    );
  });

  t.test('count apart from hosts under another prefix, and each limit apart', async (t) => {
    const limits = { visitorTokenPerIp: { limit: 1, windowMs: 60_000 } };
    const [a] = await hosts(t, 1, {
      redisUrl,
      prefix: prefixForTest(t, admin),
      rateLimits: limits,
    });
    const [other] = await hosts(t, 1, {
      redisUrl,
      prefix: prefixForTest(t, admin),
      rateLimits: limits,
    });
    t.equal((await visitorToken(a!, '192.0.2.7')).statusCode, 200);
    t.equal((await visitorToken(a!, '192.0.2.7')).statusCode, 429);
    t.equal((await visitorToken(other!, '192.0.2.7')).statusCode, 200, 'another deployment');
    t.equal(
      (await login(a!, 'alice@example.test', PASSWORD, '192.0.2.7')).statusCode,
      200,
      'the address may still log in: logins have their own window',
    );
  });

  t.test('keep hashed keys under the prefix, each expiring with its window', async (t) => {
    const prefix = prefixForTest(t, admin);
    const [app] = await hosts(t, 1, { redisUrl, prefix });
    await login(app!, 'alice@example.test', 'nope', '192.0.2.8');
    await visitorToken(app!, '192.0.2.8');
    const keys = (await keysUnder(admin, prefix)).sort();
    t.equal(keys.length, 3, keys.join(', '));
    for (const key of keys) {
      t.match(key.slice(prefix.length), /^web:limit:[a-z-]+:[0-9a-f]{64}$/, 'hashed');
      t.notMatch(key, /alice|192\.0\.2\.8/, 'no email or address in clear');
    }
    t.same(
      keys,
      [
        limitKey(prefix, 'login-account', JSON.stringify(['acme', 'alice@example.test'])),
        limitKey(prefix, 'login-ip', '192.0.2.8'),
        limitKey(prefix, 'visitor-token-ip', '192.0.2.8'),
      ].sort(),
    );
    const ttls = await Promise.all(keys.map((key) => admin.pttl(key)));
    t.ok(
      ttls.every((ms) => ms > 0 && ms <= 900_000),
      `expiring: ${ttls.join(', ')} ms`,
    );
  });

  t.test('the limiter: a window of N, refusals that do not extend it, reset', async (t) => {
    const prefix = prefixForTest(t, admin);
    const client = await hostClient(t, redisUrl);
    const limiter = new RedisRateLimiter({
      redis: client,
      prefix,
      name: 'test',
      limit: 3,
      windowMs: 300,
    });
    const key = limitKey(prefix, 'test', 'k');
    t.same([await limiter.hit('k'), await limiter.hit('k'), await limiter.hit('k')], [0, 0, 0]);
    const before = await admin.pttl(key);
    t.equal(await limiter.hit('k'), 1, 'refused; a fraction of a second rounds up to 1 s');
    t.ok((await admin.pttl(key)) <= before, 'the refusal did not extend the window');
    t.equal(await limiter.hit('other'), 0, 'another key');
    await until(async () => (await admin.exists(key)) === 0);
    t.equal(await limiter.hit('k'), 0, 'the window ended with its key');
    await limiter.hit('k');
    await limiter.hit('k');
    await limiter.reset('k');
    t.equal(await limiter.hit('k'), 0, 'reset forgot the count');

    await admin.set(limitKey(prefix, 'test', 'stuck'), '99');
    t.equal(await limiter.hit('stuck'), 1, 'a counter found without expiry is refused...');
    t.ok((await admin.pttl(limitKey(prefix, 'test', 'stuck'))) > 0, '...and given one');
    t.throws(
      () => new RedisRateLimiter({ redis: client, prefix, name: 'a:b', limit: 1, windowMs: 1 }),
    );
  });

  t.test('fail closed while Redis is away and count again when it is back', async (t) => {
    const prefix = prefixForTest(t, admin);
    const proxy = await redisProxy(t, redisUrl);
    const [app] = await hosts(t, 1, { redisUrl: proxy.url, prefix });
    t.equal((await visitorToken(app!, '192.0.2.9')).statusCode, 200);
    await proxy.cut();
    const refused = await visitorToken(app!, '192.0.2.9');
    t.equal(refused.statusCode, 503);
    t.equal(errorOf(refused.body).error, 'unavailable');
    t.equal((await login(app!, 'alice@example.test', PASSWORD)).statusCode, 503);
    t.equal((await app!.inject({ method: 'GET', url: '/api/health' })).statusCode, 503);
    await proxy.restore();
    await until(
      async () => (await app!.inject({ method: 'GET', url: '/api/health' })).statusCode === 200,
      10_000,
    );
    t.equal((await visitorToken(app!, '192.0.2.9')).statusCode, 200, 'served again');
    const keys = await keysUnder(admin, prefix);
    t.equal(Number(await admin.get(keys[0]!)), 2, 'the window survived the outage');
  });

  t.test('let a right password in when clearing its failures fails', async (t) => {
    const [app] = await hosts(t, 1, {
      redisUrl,
      prefix: prefixForTest(t, admin),
      rateLimits: { loginFailuresPerAccount: { limit: 2, windowMs: 900_000 } },
      // Only the reset fails, as when Redis goes away between the check and the success.
      patchClient: (client) =>
        Object.assign(client, { del: () => Promise.reject(new Error('connection lost')) }),
    });
    t.equal((await login(app!, 'alice@example.test', 'nope')).statusCode, 401);
    t.equal((await login(app!, 'alice@example.test', PASSWORD)).statusCode, 200, 'let in');
    t.equal(
      (await login(app!, 'alice@example.test', PASSWORD)).statusCode,
      429,
      'the two attempts stayed counted: the reset did fail',
    );
  });
});
