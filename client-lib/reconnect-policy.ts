/**
 * When to retry after the connection drops. Replace it through the client's
 * `reconnectPolicy` option; return `null` to give up.
 */

/** What a policy decides from. */
export interface ReconnectContext {
  /** Retries already made since the link was last up (0 for the first retry). */
  retryCount: number;
  /** Time since the link was last up, in ms. */
  elapsedMs: number;
  /** The close code of the drop (1006 when the socket failed to open). */
  closeCode: number;
  /** The close reason, if the server gave one. */
  reason: string;
}

/** Decides the delay before the next attempt, or `null` to stop trying. */
export interface ReconnectPolicy {
  nextRetryDelayMs(ctx: ReconnectContext): number | null;
}

/** Options of {@link FullJitterPolicy}. */
export interface FullJitterOptions {
  /** First backoff ceiling. Default 500 ms. */
  baseDelayMs?: number;
  /** Largest backoff ceiling. Default 15000 ms. */
  maxDelayMs?: number;
  /** Give up after this many retries. Default: never. */
  maxRetries?: number;
  /**
   * For this long after the link went down the ceiling is at most
   * {@link FullJitterOptions.restartMaxDelayMs}. Default 10000 ms; 0 turns it off.
   */
  restartWindowMs?: number;
  /** The ceiling while the outage is younger than `restartWindowMs`. Default 2000 ms. */
  restartMaxDelayMs?: number;
  /** Source of randomness in [0, 1); injectable for tests. */
  random?: () => number;
}

/**
 * Exponential backoff with full jitter: a delay drawn uniformly from
 * [0, min(max, base * 2^retry)), which spreads a crowd of clients dropped at once (a server
 * restart) instead of bringing them back in waves.
 * See https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/.
 *
 * The usual outage is a restart, over in a second or two. In a crowd of thousands, many of
 * the first attempts are refused while the server is down or its accept queue is full, and
 * each refusal would double that client's ceiling: the last of them would come back long
 * after the server did. So for the first `restartWindowMs` of an outage the ceiling stays at
 * most `restartMaxDelayMs` (still jittered, so the crowd is spread over it); a longer outage
 * backs off to `maxDelayMs` as usual.
 */
export class FullJitterPolicy implements ReconnectPolicy {
  private readonly base: number;
  private readonly max: number;
  private readonly maxRetries: number;
  private readonly restartWindow: number;
  private readonly restartMax: number;
  private readonly random: () => number;

  constructor(options: FullJitterOptions = {}) {
    this.base = options.baseDelayMs ?? 500;
    this.max = options.maxDelayMs ?? 15_000;
    this.maxRetries = options.maxRetries ?? Infinity;
    this.restartWindow = options.restartWindowMs ?? 10_000;
    this.restartMax = options.restartMaxDelayMs ?? 2_000;
    this.random = options.random ?? Math.random;
  }

  nextRetryDelayMs(ctx: ReconnectContext): number | null {
    if (ctx.retryCount >= this.maxRetries) return null;
    let ceiling = Math.min(this.max, this.base * 2 ** Math.min(ctx.retryCount, 30));
    if (ctx.elapsedMs < this.restartWindow) ceiling = Math.min(ceiling, this.restartMax);
    return Math.floor(this.random() * ceiling);
  }
}
