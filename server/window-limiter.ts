/**
 * At most `limit` events per key in each fixed window of `windowMs`, in memory that stays bounded
 * however many keys a flood brings.
 *
 * Windows are kept in one `Map` in the order they started (a key whose window ended is moved to
 * the back when it starts a new one), and the clock only moves forward, so the windows that
 * have ended are always at the front: each call drops them from there, at amortised constant
 * cost, with no timer. When `maxKeys` windows are still running, the oldest is forgotten to make
 * room: under a flood of distinct keys a forgotten key may start afresh early, which weakens the
 * limit for that key but never lets memory grow. A fixed window lets a key spend its `limit`
 * twice around a window boundary; for limits of a few calls a minute that is harmless, and it
 * needs one counter per key where a sliding log would need `limit` timestamps.
 */

/** Options of a {@link WindowLimiter}. */
export interface WindowLimiterOptions {
  /** Events allowed per key in one window (at least 1). */
  readonly limit: number;
  /** Length of a window, ms. */
  readonly windowMs: number;
  /** Most keys tracked at once; past it the oldest window is forgotten. */
  readonly maxKeys: number;
  /** A monotonic clock in ms; defaults to `performance.now`. */
  readonly now?: () => number;
}

/** One key's current window. */
interface Window {
  readonly startedAt: number;
  count: number;
}

/** Fixed-window counters per key; see the module comment. */
export class WindowLimiter {
  private readonly windows = new Map<string, Window>();
  private readonly now: () => number;

  constructor(private readonly options: WindowLimiterOptions) {
    this.now = options.now ?? (() => performance.now());
  }

  /** Keys with a running window (for the gauges and leak checks). */
  get size(): number {
    return this.windows.size;
  }

  /**
   * Counts one event of `key`. Returns 0 when it is within the limit, otherwise how many ms
   * remain until the key's window ends (the refused event is not counted).
   */
  take(key: string): number {
    const now = this.now();
    this.sweep(now);
    const current = this.windows.get(key);
    if (current !== undefined) {
      if (current.count >= this.options.limit) {
        return Math.max(1, Math.ceil(current.startedAt + this.options.windowMs - now));
      }
      current.count++;
      return 0;
    }
    if (this.windows.size >= this.options.maxKeys) {
      const oldest = this.windows.keys().next();
      if (oldest.done !== true) this.windows.delete(oldest.value);
    }
    this.windows.set(key, { startedAt: now, count: 1 });
    return 0;
  }

  /** Forgets every window that has ended (also done by {@link take}). */
  sweep(now = this.now()): void {
    for (const [key, window] of this.windows) {
      if (window.startedAt + this.options.windowMs > now) return;
      this.windows.delete(key);
    }
  }
}
