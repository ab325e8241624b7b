/**
 * {@link RateLimiter} in Redis: every web host of a cluster (`REDIS_URL`, issue 10) counts in
 * the same windows, so two hosts cannot each grant a full window, and an account locked on one
 * is locked on all.
 *
 * One key per limited key, `{prefix}web:limit:{name}:{digest}`: `{name}` says which limit
 * (`login-ip`, ...), and `{digest}` is the SHA-256 of the caller's key in hex. The digest has a
 * fixed length and no `:`, so no address or email (user input, any length, any character) can
 * reach into another limit's or another key's counter, and emails do not sit in Redis in clear.
 * The value is the window's count; the key expires when the window ends, so Redis holds only
 * running windows and needs no sweep.
 *
 * A hit is one Lua script, one round trip, atomic on the server: hosts racing for the last
 * event of a window cannot both get it. Window lengths are measured by Redis's clock alone, so
 * the hosts' clocks need not agree.
 *
 * When Redis cannot be reached, `hit` and `reset` reject with {@link RateLimiterUnavailableError}
 * (503 `unavailable`): the limits fail closed. See docs/SECURITY.md.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import type { ClientContext, Redis, Result } from 'ioredis';
import { RateLimiterUnavailableError } from './errors.js';
import {
  retryAfterS,
  type RateLimiter,
  type RateLimiters,
  type RateLimits,
  type WindowLimit,
} from './rate-limit.js';

/**
 * KEYS[1]: the window's counter. ARGV[1]: the window, ms.
 * Counts one event: the first of a window creates the counter and sets it to expire when the
 * window ends; later ones (refused ones too) only increment it, so a refusal never extends the
 * window. Returns { events in the window so far, this one included; ms until the window ends }.
 */
const HIT_SCRIPT = `
local count = redis.call('INCR', KEYS[1])
local ttl = -1
if count > 1 then ttl = redis.call('PTTL', KEYS[1]) end
-- A first event, or a counter without expiry (never written by this script), which would
-- otherwise lock its key for ever.
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}`;

/** The client command {@link HIT_SCRIPT} is defined as. */
const HIT_COMMAND = 'calldockerWebLimitHit';

// `defineCommand` adds the command at run time; this tells the compiler it exists. The reply is
// `unknown` here and checked where it is read.
declare module 'ioredis' {
  interface RedisCommander<Context extends ClientContext> {
    calldockerWebLimitHit(key: string, windowMs: number): Result<unknown, Context>;
  }
}

/** Names of limits: one key component. */
const LIMIT_NAME = /^[a-z][a-z0-9-]{0,31}$/;

/** The Redis key counting `key` under the limit `name`; see the module comment. */
export function limitKey(prefix: string, name: string, key: string): string {
  return `${prefix}web:limit:${name}:${createHash('sha256').update(key, 'utf8').digest('hex')}`;
}

/** Options of {@link RedisRateLimiter}. */
export interface RedisRateLimiterOptions extends WindowLimit {
  /**
   * A client the caller owns (and closes), without a `keyPrefix` of its own. Open it with
   * `connectRedis` (`common/redis.ts`), so that a hit fails at once while Redis is away instead
   * of waiting for a reconnect.
   */
  readonly redis: Redis;
  /** What every key starts with (`REDIS_PREFIX`): hosts with the same prefix share counts. */
  readonly prefix: string;
  /** Which limit, e.g. `login-ip`: limits with different names never share a count. */
  readonly name: string;
}

/** Fixed windows counted in Redis; see the module comment. */
export class RedisRateLimiter implements RateLimiter {
  constructor(private readonly options: RedisRateLimiterOptions) {
    if (!(options.limit >= 1) || !Number.isInteger(options.windowMs) || options.windowMs < 1) {
      throw new RangeError('limit must be at least 1 and windowMs a whole number of ms from 1');
    }
    if (!LIMIT_NAME.test(options.name)) throw new RangeError(`bad limit name "${options.name}"`);
    const { keyPrefix } = options.redis.options;
    if (keyPrefix !== undefined && keyPrefix !== '') {
      throw new TypeError('RedisRateLimiter needs a client without keyPrefix: use prefix');
    }
    options.redis.defineCommand(HIT_COMMAND, { numberOfKeys: 1, lua: HIT_SCRIPT });
  }

  async hit(key: string): Promise<number> {
    const { redis, prefix, name, windowMs, limit } = this.options;
    let reply: unknown;
    try {
      reply = await redis.calldockerWebLimitHit(limitKey(prefix, name, key), windowMs);
    } catch (err) {
      throw new RateLimiterUnavailableError({ cause: err });
    }
    const [count, msLeft] = hitReply(reply);
    return count <= limit ? 0 : retryAfterS(msLeft);
  }

  async reset(key: string): Promise<void> {
    const { redis, prefix, name } = this.options;
    try {
      await redis.del(limitKey(prefix, name, key));
    } catch (err) {
      throw new RateLimiterUnavailableError({ cause: err });
    }
  }
}

/** The script's `{count, msLeft}`; a reply of another shape is a bug, not an outage. */
function hitReply(reply: unknown): [count: number, msLeft: number] {
  if (
    Array.isArray(reply) &&
    reply.length === 2 &&
    reply.every((n) => Number.isSafeInteger(n) && (n as number) >= 0)
  ) {
    return [reply[0] as number, reply[1] as number];
  }
  throw new TypeError(`unexpected reply from ${HIT_COMMAND}: ${JSON.stringify(reply)}`);
}

/** The key component of each limit of the token routes. */
const LIMIT_NAMES: { readonly [Name in keyof RateLimits]: string } = {
  loginPerIp: 'login-ip',
  loginFailuresPerAccount: 'login-account',
  visitorTokenPerIp: 'visitor-token-ip',
};

/** The token routes' limiters, counting in `redis` under `prefix`. */
export function redisLimiters(limits: RateLimits, redis: Redis, prefix: string): RateLimiters {
  const limiter = (name: keyof RateLimits) =>
    new RedisRateLimiter({ ...limits[name], redis, prefix, name: LIMIT_NAMES[name] });
  return {
    loginPerIp: limiter('loginPerIp'),
    loginFailuresPerAccount: limiter('loginFailuresPerAccount'),
    visitorTokenPerIp: limiter('visitorTokenPerIp'),
  };
}
