/**
 * Writes every call transition to the call log as it happens, without letting the database
 * hold up signaling.
 *
 * Each transition replaces the call's row in memory with the whole new row; the writer sends
 * the rows waiting at the end of the event-loop turn to a {@link CallLogSink} as one batch,
 * with one batch in flight at a time (transitions recorded meanwhile go in the next one). So a
 * quiet server writes each transition at once, a busy one writes fewer, larger commits, and a
 * call's rows always reach the database in order.
 *
 * A failed write (a locked database, a full disk) never reaches the call in memory nor the
 * relay: its rows stay pending (a newer transition replaces a call's row) and are retried with
 * backoff until the database takes them; failures are logged and counted in `/metrics`.
 */
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { rowOf, upsertCalls } from '../db/calls.js';
import type { NewCallRow, Schema } from '../db/schema.js';
import type { Counter, Registry } from './metrics.js';
import type { CallRecord } from './state/store.js';

/** Where the call log's rows go. */
export interface CallLogSink {
  /**
   * Writes rows (each the whole newest row of its call) in one transaction; resolves once they
   * are committed, rejects when none were.
   */
  write(rows: readonly NewCallRow[]): Promise<void>;
  /** Releases the sink; no write is made afterwards. */
  close(): Promise<void>;
}

/**
 * A sink writing through `db` on the calling thread. With SQLite every commit then runs on the
 * event loop, disk waits included: the signaling server uses {@link CallLogThread} instead, and
 * this serves embedders with an asynchronous database and the benchmark's comparison.
 */
export function databaseSink(db: Kysely<Schema>): CallLogSink {
  return {
    write: (rows) => upsertCalls(db, rows),
    close: async () => undefined,
  };
}

/** Options of {@link CallLogWriter}. */
export interface CallLogOptions {
  readonly log: Logger;
  /** First retry delay after a failed write; doubled after each failure, up to `retryMaxMs`. */
  readonly retryBaseMs?: number;
  readonly retryMaxMs?: number;
  /** Most rows in one batch. */
  readonly maxBatchRows?: number;
}

/** Defaults of {@link CallLogOptions}. */
export const CALL_LOG_DEFAULTS = {
  retryBaseMs: 100,
  retryMaxMs: 5000,
  maxBatchRows: 1000,
} as const;

/** Records call transitions and writes them in batches through a {@link CallLogSink}. */
export class CallLogWriter {
  /** The newest row of each call whose newest state is not in the database yet. */
  private readonly unwritten = new Map<string, NewCallRow>();
  /** The order rows were recorded in, so a write can tell which waiters it satisfies. */
  private readonly seqOf = new WeakMap<NewCallRow, number>();
  private recorded = 0;
  /** Those waiting in {@link committed}, by call id, each for the row numbered `seq`. */
  private readonly waiters = new Map<string, Array<{ seq: number; resolve: () => void }>>();
  /** The batch being written, resolving to whether it was. */
  private inFlight: Promise<boolean> | undefined;
  /** A batch is due at the end of this event-loop turn. */
  private scheduled = false;
  /** Armed after a failure: no batch starts before it fires (or a flush). */
  private retryTimer: NodeJS.Timeout | undefined;
  private retryDelayMs: number;
  private readonly log: Logger;
  private readonly retryBaseMs: number;
  private readonly retryMaxMs: number;
  private readonly maxBatchRows: number;
  private writes: Counter | undefined;
  private failures: Counter | undefined;
  private closed = false;

  constructor(
    private readonly sink: CallLogSink,
    options: CallLogOptions,
  ) {
    this.log = options.log;
    this.retryBaseMs = options.retryBaseMs ?? CALL_LOG_DEFAULTS.retryBaseMs;
    this.retryMaxMs = options.retryMaxMs ?? CALL_LOG_DEFAULTS.retryMaxMs;
    this.maxBatchRows = options.maxBatchRows ?? CALL_LOG_DEFAULTS.maxBatchRows;
    this.retryDelayMs = this.retryBaseMs;
  }

  /** Adds the writer's counters and its backlog gauge to a metrics registry. */
  registerMetrics(registry: Registry): void {
    this.writes = registry.counter('calldocker_call_log_writes_total', 'Call log rows written');
    this.failures = registry.counter(
      'calldocker_call_log_failures_total',
      'Call log writes that failed (their rows stay pending and are retried)',
    );
    registry.gauge(
      'calldocker_call_log_pending',
      'Calls whose newest state is not in the call log yet',
      () => [[{}, this.unwritten.size]],
    );
  }

  /** Calls whose newest state is not in the database yet. */
  get pending(): number {
    return this.unwritten.size;
  }

  /** Records a call's new state; the signaling server's `onCallTransition`. Never throws. */
  record(call: CallRecord): void {
    if (this.closed) {
      this.log.error({ callId: call.callId, state: call.state }, 'call transition after close');
      return;
    }
    const row = rowOf(call);
    this.seqOf.set(row, ++this.recorded);
    this.unwritten.set(row.id, row);
    this.schedule();
  }

  /**
   * Resolves once the newest row recorded for the call (or a newer one) is committed: at once
   * when nothing of it is pending. A failed write keeps it waiting through the retries; it never
   * settles when the writer closes with the row unwritten.
   */
  committed(callId: string): Promise<void> {
    const row = this.unwritten.get(callId);
    if (row === undefined) return Promise.resolve();
    const seq = this.seqOf.get(row)!;
    return new Promise((resolve) => {
      let list = this.waiters.get(callId);
      if (list === undefined) this.waiters.set(callId, (list = []));
      list.push({ seq, resolve });
    });
  }

  /**
   * Writes everything pending now, without waiting for a retry delay. Resolves true once all of
   * it is in the database, false when a write failed (its rows stay pending and are retried
   * as usual).
   */
  async flush(): Promise<boolean> {
    if (this.inFlight !== undefined) await this.inFlight;
    this.clearRetryTimer();
    while (this.unwritten.size > 0) {
      if (!(await this.startBatch())) return false;
    }
    return true;
  }

  /**
   * Flushes, retrying for up to `timeoutMs`, then stops and closes the sink. Rows still pending
   * then are logged as lost (the next start closes their calls as failed).
   */
  async close(timeoutMs = 2000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await this.flush()) && Date.now() < deadline) {
      const wait = Math.min(this.retryDelayMs, deadline - Date.now());
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, wait)));
    }
    this.closed = true;
    this.clearRetryTimer();
    this.waiters.clear();
    if (this.unwritten.size > 0) {
      this.log.error({ pending: this.unwritten.size }, 'call log rows not written at shutdown');
    }
    await this.sink.close();
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight !== undefined || this.retryTimer !== undefined) return;
    if (this.closed) return;
    this.scheduled = true;
    // setImmediate, not a microtask: every transition of this event-loop turn joins the batch.
    setImmediate(() => {
      this.scheduled = false;
      if (this.retryTimer === undefined && !this.closed) void this.startBatch();
    });
  }

  /** Starts a batch of the pending rows (or returns the one under way). */
  private startBatch(): Promise<boolean> {
    if (this.inFlight !== undefined) return this.inFlight;
    if (this.unwritten.size === 0) return Promise.resolve(true);
    const rows: NewCallRow[] = [];
    for (const row of this.unwritten.values()) {
      rows.push(row);
      if (rows.length >= this.maxBatchRows) break;
    }
    const attempt = (async () => {
      try {
        await this.sink.write(rows);
      } catch (err) {
        this.failed(rows, err);
        return false;
      }
      this.succeeded(rows);
      return true;
    })();
    const done = attempt.then((ok) => {
      this.inFlight = undefined;
      if (ok && this.unwritten.size > 0) this.schedule();
      return ok;
    });
    this.inFlight = done;
    return done;
  }

  private succeeded(rows: readonly NewCallRow[]): void {
    this.writes?.inc('', rows.length);
    this.retryDelayMs = this.retryBaseMs;
    // A call with a newer row than the one written stays pending for the next batch.
    for (const row of rows) {
      if (this.unwritten.get(row.id) === row) this.unwritten.delete(row.id);
      this.wake(row);
    }
  }

  /** Resolves the waiters of `row`'s call that waited for it or for an older row. */
  private wake(row: NewCallRow): void {
    const list = this.waiters.get(row.id);
    if (list === undefined) return;
    const written = this.seqOf.get(row)!;
    const still = list.filter((waiter) => {
      if (waiter.seq > written) return true;
      waiter.resolve();
      return false;
    });
    if (still.length === 0) this.waiters.delete(row.id);
    else this.waiters.set(row.id, still);
  }

  private failed(rows: readonly NewCallRow[], err: unknown): void {
    this.failures?.inc();
    this.log.warn(
      { err, rows: rows.length, pending: this.unwritten.size, retryInMs: this.retryDelayMs },
      'call log write failed; will retry',
    );
    if (this.closed) return;
    this.clearRetryTimer();
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.schedule();
    }, this.retryDelayMs);
    this.retryTimer.unref();
    this.retryDelayMs = Math.min(this.retryMaxMs, this.retryDelayMs * 2);
  }

  private clearRetryTimer(): void {
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }
}
