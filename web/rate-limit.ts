/**
 * Fixed-window counters for the token routes: attempts per client address, and failed logins
 * per account. {@link RateLimiter} is what the routes use; {@link FixedWindowLimiter} keeps the
 * counts in this process, and `RedisRateLimiter` (`web/redis-rate-limit.ts`) in Redis, shared
 * by every web host of a cluster (issue 10), with the same semantics.
 *
 * Why not `@fastify/rate-limit`: it counts requests, while the per-account limit counts only
 * *failed* logins and is reset by a successful one, and its key (company and email) comes from
 * the parsed body; both would need its store API bent around them. This module is the whole
 * of what the host needs, has no dependency and is unit-tested with a fake clock.
 */

/** At most `limit` counted events per `windowMs`, the window starting at the first one. */
export interface WindowLimit {
  readonly limit: number;
  readonly windowMs: number;
}

/** Options of {@link FixedWindowLimiter}. */
export interface LimiterOptions extends WindowLimit {
  /**
   * Most keys kept at once. Past it, expired windows are swept and then the oldest keys are
   * dropped, so a flood of distinct addresses costs bounded memory (it can only forget counts).
   */
  readonly maxKeys?: number;
  /** Clock in ms; tests pass a fake one. */
  readonly now?: () => number;
}

interface Window {
  count: number;
  resetAt: number;
}

/**
 * At most `limit` events per key in a fixed window that starts at the key's first event. The
 * memory limiter answers at once and the Redis one with a promise: callers `await` either.
 */
export interface RateLimiter {
  /**
   * Counts one event for `key`. Resolves to 0 when it is within the limit, else to the seconds
   * (at least 1) until the key's window ends: the event is refused, and does not extend the
   * window. Rejects when the counts cannot be reached (Redis away).
   */
  hit(key: string): number | Promise<number>;
  /** Forgets `key`'s count (a successful login clears its failures). */
  reset(key: string): void | Promise<void>;
}

/** Default {@link LimiterOptions.maxKeys}: about 10 MB of counters at most. */
export const DEFAULT_MAX_KEYS = 100_000;

/**
 * Counts events per key in fixed windows, in this process: several web hosts behind a balancer
 * would each keep their own counts (`RedisRateLimiter` shares them).
 */
export class FixedWindowLimiter implements RateLimiter {
  private readonly windows = new Map<string, Window>();
  private readonly maxKeys: number;
  private readonly now: () => number;
  private nextSweepAt = 0;

  constructor(readonly options: LimiterOptions) {
    if (!(options.limit >= 1) || !(options.windowMs >= 1)) {
      throw new RangeError('limit and windowMs must be at least 1');
    }
    this.maxKeys = options.maxKeys ?? DEFAULT_MAX_KEYS;
    this.now = options.now ?? Date.now;
  }

  /** Keys currently tracked (for tests and metrics). */
  get size(): number {
    return this.windows.size;
  }

  /**
   * Counts one event for `key`. Returns 0 when it is within the limit, else the seconds until
   * the key's window ends (the event is refused, and the window is not extended by it).
   */
  hit(key: string): number {
    const now = this.now();
    this.sweep(now);
    let window = this.current(key, now);
    if (window === undefined) {
      this.makeRoom();
      window = { count: 0, resetAt: now + this.options.windowMs };
      this.windows.set(key, window);
    }
    if (window.count >= this.options.limit) return secondsUntil(window.resetAt, now);
    window.count += 1;
    return 0;
  }

  /** Seconds until `key` may have another event, without counting one; 0 when it may now. */
  blockedFor(key: string): number {
    const now = this.now();
    const window = this.current(key, now);
    return window !== undefined && window.count >= this.options.limit
      ? secondsUntil(window.resetAt, now)
      : 0;
  }

  /** Forgets `key`'s count (a successful login clears its failures). */
  reset(key: string): void {
    this.windows.delete(key);
  }

  private current(key: string, now: number): Window | undefined {
    const window = this.windows.get(key);
    if (window !== undefined && window.resetAt <= now) {
      this.windows.delete(key);
      return undefined;
    }
    return window;
  }

  // At most one full pass per window length, so the amortised cost of a hit stays O(1).
  private sweep(now: number): void {
    if (now < this.nextSweepAt) return;
    this.nextSweepAt = now + this.options.windowMs;
    for (const [key, window] of this.windows) if (window.resetAt <= now) this.windows.delete(key);
  }

  private makeRoom(): void {
    if (this.windows.size < this.maxKeys) return;
    this.nextSweepAt = 0;
    this.sweep(this.now());
    // Map iteration follows insertion order: the first keys are the oldest windows.
    for (const key of this.windows.keys()) {
      if (this.windows.size < this.maxKeys) break;
      this.windows.delete(key);
    }
  }
}

function secondsUntil(at: number, now: number): number {
  return retryAfterS(at - now);
}

/** What a refusal tells the client to wait (`Retry-After`): whole seconds, at least 1. */
export function retryAfterS(msLeft: number): number {
  return Math.max(1, Math.ceil(msLeft / 1000));
}

/** The limits of the token routes; see docs/API.md. */
export interface RateLimits {
  /** Login attempts per client address. */
  readonly loginPerIp: WindowLimit;
  /**
   * Failed logins per account (company and email), reset by a successful login. An attempt
   * counts as failed until it succeeds, so concurrent guesses cannot overshoot the limit.
   */
  readonly loginFailuresPerAccount: WindowLimit;
  /** Visitor tokens per client address. */
  readonly visitorTokenPerIp: WindowLimit;
}

/**
 * 20 logins a minute per address; 5 failures per account in 15 minutes; 30 visitor tokens a
 * minute per address.
 */
export const DEFAULT_RATE_LIMITS: RateLimits = Object.freeze({
  loginPerIp: { limit: 20, windowMs: 60_000 },
  loginFailuresPerAccount: { limit: 5, windowMs: 15 * 60_000 },
  visitorTokenPerIp: { limit: 30, windowMs: 60_000 },
});

/** The limiters of the token routes, one per {@link RateLimits} entry. */
export type RateLimiters = { readonly [Name in keyof RateLimits]: RateLimiter };

/** The token routes' limiters, counting in this process. */
export function memoryLimiters(limits: RateLimits): RateLimiters {
  return {
    loginPerIp: new FixedWindowLimiter(limits.loginPerIp),
    loginFailuresPerAccount: new FixedWindowLimiter(limits.loginFailuresPerAccount),
    visitorTokenPerIp: new FixedWindowLimiter(limits.visitorTokenPerIp),
  };
}
