/**
 * Coalescing of announcements whose latest state is all that matters (an agent's status, the
 * queue): each is scheduled under a key, and once per tick the latest task of every key runs.
 *
 * Why: in a busy company every call makes its agent busy and then online again, and each of
 * those changes goes to every agent and visitor of the company. Sent one by one, that fan-out
 * grows with calls x people and swamps the server; gathered over a short tick, a change undone
 * within the tick costs nothing and the rest cost one message per recipient per tick.
 *
 * A tick of 0 runs every task at once (no coalescing), which is the straightforward behaviour.
 */
import type { Logger } from 'pino';

type Task = () => void | Promise<void>;

export class Coalescer {
  /** The latest task per key, in the order the keys were first scheduled this tick. */
  private pending = new Map<string, Task>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private stopped = false;

  constructor(
    readonly tickMs: number,
    private readonly log: Logger,
    /** Told each time a waiting task is replaced by a later one of the same key. */
    private readonly onSuperseded: () => void = () => undefined,
  ) {}

  /**
   * Runs `task` at the end of the current tick unless another task is scheduled under `key`
   * before then (the later one runs instead). With a tick of 0 it runs now, and the returned
   * promise settles with it; otherwise the promise is already settled.
   */
  schedule(key: string, task: Task): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.tickMs === 0) return this.run(key, task);
    if (this.pending.has(key)) {
      this.onSuperseded();
      // Deleting first moves the key to the end: tasks run in the order of their latest change.
      this.pending.delete(key);
    }
    this.pending.set(key, task);
    this.timer ??= setTimeout(() => void this.flush(), this.tickMs).unref();
    return Promise.resolve();
  }

  /** Tasks waiting for the end of the tick. */
  get size(): number {
    return this.pending.size;
  }

  /**
   * Runs every waiting task now, one after another (each may read the store), and resolves
   * when they are done. Tasks scheduled meanwhile wait for the next tick.
   */
  async flush(): Promise<void> {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    // A flush already under way finishes first: announcements of one key stay in order.
    while (this.flushing !== undefined) await this.flushing;
    const batch = this.pending;
    if (batch.size === 0) return;
    this.pending = new Map();
    this.flushing = (async () => {
      for (const [key, task] of batch) await this.run(key, task);
    })();
    try {
      await this.flushing;
    } finally {
      this.flushing = undefined;
    }
  }

  /** Drops whatever is waiting and schedules nothing more (the server is shutting down). */
  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.pending.clear();
  }

  private async run(key: string, task: Task): Promise<void> {
    try {
      await task();
    } catch (err) {
      this.log.error({ err, key }, 'announcement failed');
    }
  }
}
