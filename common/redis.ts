/**
 * The Redis client both hosts open in cluster mode (`REDIS_URL`, issue 10), with the options
 * stated once: a command fails at once while Redis is away instead of waiting in a queue for a
 * reconnect that may take minutes, and the connection keeps retrying in the background.
 */
import { Redis } from 'ioredis';
import type { Logger } from 'pino';

/** How long start-up waits for Redis before giving up. */
export const REDIS_CONNECT_TIMEOUT_MS = 5000;

/** Options of {@link connectRedis}. */
export interface ConnectRedisOptions {
  /**
   * A command without a reply after this many ms fails (ioredis' `commandTimeout`): for a
   * request that must not hang on a Redis that accepts connections but stops answering.
   * Default: none, a command waits until the connection drops.
   */
  readonly commandTimeoutMs?: number;
}

/**
 * Connects to `url`; rejects (and stops retrying) when Redis does not answer within
 * {@link REDIS_CONNECT_TIMEOUT_MS}. Errors after that are logged as warnings on `log`. The caller
 * owns the client and closes it with {@link closeRedis}.
 */
export async function connectRedis(
  url: string,
  log: Logger,
  options: ConnectRedisOptions = {},
): Promise<Redis> {
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: REDIS_CONNECT_TIMEOUT_MS,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    ...(options.commandTimeoutMs !== undefined && { commandTimeout: options.commandTimeoutMs }),
  });
  // First, so that a failed connection attempt is logged rather than thrown as unhandled.
  redis.on('error', (err: Error) => log.warn({ err }, 'redis error'));
  try {
    await redis.connect();
  } catch (err) {
    redis.disconnect();
    throw err;
  }
  return redis;
}

/** Closes `redis` politely (`QUIT`), or at once when it cannot. */
export async function closeRedis(redis: Redis): Promise<void> {
  await redis.quit().catch(() => redis.disconnect());
}
