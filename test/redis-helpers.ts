/**
 * Helpers for suites that need a Redis (issue 10). The server is named by `REDIS_URL`; without
 * it those suites skip, and say so in the TAP output. Each test works under a fresh key prefix
 * and deletes its keys at teardown, so suites can share one Redis and run in parallel.
 */
import { randomBytes } from 'node:crypto';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { Redis } from 'ioredis';

/** The subset of tap's Test the helpers use. */
interface TapTest {
  teardown(fn: () => unknown): void;
  comment(...message: unknown[]): void;
  plan(n: number, comment?: string): void;
}

/** Why a Redis suite skipped, and how to run it. */
export const REDIS_SKIP_REASON =
  'REDIS_URL is not set; run with e.g. REDIS_URL=redis://127.0.0.1:6379 to test against Redis';

/**
 * The Redis to test against, or undefined after marking `t` skipped (`1..0 # SKIP ...` in the
 * output): the caller returns at once. Call it before any assertion or subtest.
 */
export function redisUrlOrSkip(t: TapTest): string | undefined {
  const url = process.env['REDIS_URL'];
  if (url !== undefined && url !== '') return url;
  t.comment(`skipped: ${REDIS_SKIP_REASON}`);
  t.plan(0, REDIS_SKIP_REASON);
  return undefined;
}

/** A connected client, closed at teardown; it fails fast rather than retrying for minutes. */
export async function openRedis(t: Pick<TapTest, 'teardown'>, url: string): Promise<Redis> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  // A suite that stops its own Redis on purpose would otherwise print every failed reconnect.
  redis.on('error', () => undefined);
  await redis.connect();
  t.teardown(() => redis.quit());
  return redis;
}

/** A key prefix no other test uses: `test:<random>:`. */
export function freshPrefix(): string {
  return `test:${randomBytes(8).toString('hex')}:`;
}

/** Every key under `prefix`, found by `SCAN` (never `KEYS`, which blocks the server). */
export async function keysUnder(redis: Redis, prefix: string): Promise<string[]> {
  const pattern = `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`;
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    out.push(...keys);
    cursor = next;
  } while (cursor !== '0');
  return out;
}

/** Deletes every key under `prefix`; how many there were. */
export async function deleteKeys(redis: Redis, prefix: string): Promise<number> {
  const keys = await keysUnder(redis, prefix);
  let deleted = 0;
  for (let i = 0; i < keys.length; i += 1000) {
    deleted += await redis.unlink(...keys.slice(i, i + 1000));
  }
  return deleted;
}

/**
 * A fresh prefix whose keys are deleted when `t` ends. `redis` must outlive `t` (open it in an
 * enclosing test, whose teardown runs after this one's).
 */
export function prefixForTest(t: Pick<TapTest, 'teardown'>, redis: Redis): string {
  const prefix = freshPrefix();
  t.teardown(() => deleteKeys(redis, prefix));
  return prefix;
}

/** A TCP relay in front of a Redis, which a test can cut and restore to play an outage. */
export interface RedisProxy {
  /** `url` with the relay's address: clients connected through it lose Redis on {@link cut}. */
  readonly url: string;
  /** Drops every connection and refuses new ones, as a Redis that went away. */
  cut(): Promise<void>;
  /** Accepts connections again, on the same port, as a Redis that came back. */
  restore(): Promise<void>;
}

/** A {@link RedisProxy} to `url`'s server on a free local port, cut at teardown. */
export async function redisProxy(t: TapTest, url: string): Promise<RedisProxy> {
  const target = new URL(url);
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(Number(target.port || 6379), target.hostname);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', drop);
      socket.on('close', drop);
    }
    client.pipe(upstream).pipe(client);
  });
  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  await listen(0);
  const { port } = server.address() as AddressInfo;
  const proxied = new URL(url);
  proxied.hostname = '127.0.0.1';
  proxied.port = String(port);
  const cut = async () => {
    if (!server.listening) return;
    const closed = new Promise((resolve) => server.close(resolve));
    for (const socket of sockets) socket.destroy();
    await closed;
  };
  t.teardown(cut);
  return { url: proxied.toString(), cut, restore: () => listen(port) };
}
