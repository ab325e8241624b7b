/**
 * The call-log load: synthetic call transitions at a fixed rate, recorded the way the signaling
 * server records them (`onCallTransition` -> `CallLogWriter.record`), with the event-loop time
 * each one costs measured on the way.
 *
 * Calls live in `slots`: each transition advances one slot's call (queued -> answered -> ended,
 * then a new call), round robin, so a call's three transitions are about a second apart, as in
 * real traffic, and batches rarely fold two transitions of one call into one row.
 */
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { v7 as uuidv7 } from 'uuid';
import type { CallLogSink } from '../../server/call-log.js';
import type { NewCallRow } from '../../db/schema.js';
import type { CallRecord } from '../../server/state/store.js';
import { Samples } from './stats.js';

/** How often the generator wakes to issue the transitions that are due. */
const TICK_MS = 1;

/** Endless synthetic call transitions over `slots` concurrent calls. */
export class TransitionSource {
  private readonly calls: (CallRecord | undefined)[];
  private next = 0;

  constructor(slots: number) {
    this.calls = new Array<CallRecord | undefined>(slots).fill(undefined);
  }

  /** The next transition. */
  take(): CallRecord {
    const slot = this.next++ % this.calls.length;
    const now = Date.now();
    const call = this.calls[slot];
    let updated: CallRecord;
    if (call === undefined || call.state === 'ended') {
      updated = {
        callId: uuidv7(),
        companyId: 'bench',
        callType: 'audio',
        purpose: undefined,
        state: 'queued',
        visitor: { id: `visitor-${slot}`, role: 'visitor', name: 'Bench Visitor', connId: 'c-v' },
        targetAgentId: undefined,
        agent: undefined,
        queuedAt: now,
        ringingAt: undefined,
        answeredAt: undefined,
        endedAt: undefined,
        endReason: undefined,
        rungConnIds: [],
      };
    } else if (call.state === 'queued') {
      const agent = { id: `agent-${slot % 50}`, role: 'agent', name: 'Bench Agent', connId: 'c-a' };
      updated = {
        ...call,
        state: 'answered',
        agent: agent as CallRecord['agent'],
        answeredAt: now,
      };
    } else {
      updated = { ...call, state: 'ended', endedAt: now, endReason: 'hangup' };
    }
    this.calls[slot] = updated;
    return updated;
  }
}

/**
 * Wraps a sink to time what each batch costs the event loop. For the worker sink that is the
 * synchronous part of `write` (copying the rows to the worker); the rest is the worker's. The
 * in-thread sink's SQL runs in microtasks after `write` returns but before the event loop
 * moves on (nothing else is queued in the benchmark), so there it is the time until `write`
 * settles (`untilSettled`).
 */
export class TimedSink implements CallLogSink {
  /** Called with each batch's event-loop milliseconds and its row count. */
  onBatch: ((ms: number, rows: number) => void) | undefined;

  constructor(
    private readonly inner: CallLogSink,
    private readonly untilSettled: boolean,
  ) {}

  async write(rows: readonly NewCallRow[]): Promise<void> {
    const started = performance.now();
    const written = this.inner.write(rows);
    const syncMs = performance.now() - started;
    try {
      await written;
    } finally {
      this.onBatch?.(this.untilSettled ? performance.now() - started : syncMs, rows.length);
    }
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

/** What a fixed-rate run measured. */
export interface RateRun {
  /** Transitions issued. */
  readonly transitions: number;
  /** Transitions per second actually issued. */
  readonly achievedPerSec: number;
  /**
   * Event-loop milliseconds of each transition: its `record` call plus its share of the batch
   * that wrote it (the batch's cost split evenly over the transitions recorded before it).
   */
  readonly blockingMs: Samples;
  /** Event-loop utilisation over the run (0 to 1) and its active milliseconds. */
  readonly utilisation: number;
  readonly activeMs: number;
  /** Event-loop delay beyond the 1 ms probe interval, p50/p99/max, in ms. */
  readonly delayMs: { readonly p50: number; readonly p99: number; readonly max: number };
  /** Largest backlog sampled in the second half of the run. */
  readonly maxPendingLate: number;
  /** How long writing the backlog took once the last transition was issued. */
  readonly settleMs: number;
}

/** Drives `record` at `ratePerSec` for `durationMs`; batches are timed through `sink`. */
export async function runAtRate(options: {
  readonly ratePerSec: number;
  readonly durationMs: number;
  readonly source: TransitionSource;
  readonly record: (call: CallRecord) => void;
  readonly sink: TimedSink | undefined;
  readonly pending: () => number;
  /** Waits for what was recorded to be written (so the last batch is timed too). */
  readonly settle: () => Promise<unknown>;
}): Promise<RateRun> {
  const { ratePerSec, durationMs, source, record, sink } = options;
  const total = Math.round((ratePerSec * durationMs) / 1000);
  const recordMs = new Float64Array(total);
  const blockingMs = new Samples();
  let unattributed: number[] = [];
  if (sink !== undefined) {
    sink.onBatch = (ms) => {
      const share = unattributed.length === 0 ? 0 : ms / unattributed.length;
      for (const i of unattributed) recordMs[i]! += share;
      unattributed = [];
    };
  }
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  let maxPendingLate = 0;
  let issued = 0;
  const startElu = performance.eventLoopUtilization();
  histogram.enable();
  const started = performance.now();
  let finished = started;
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const elapsed = performance.now() - started;
      const due = Math.min(total, Math.floor((ratePerSec * elapsed) / 1000));
      while (issued < due) {
        const call = source.take();
        const t0 = performance.now();
        record(call);
        recordMs[issued] = performance.now() - t0;
        unattributed.push(issued);
        issued++;
      }
      if (elapsed >= durationMs / 2) maxPendingLate = Math.max(maxPendingLate, options.pending());
      if (issued >= total) {
        finished = performance.now();
        clearInterval(timer);
        resolve();
      }
    }, TICK_MS);
  });
  const settleStarted = performance.now();
  await options.settle();
  const settleMs = performance.now() - settleStarted;
  histogram.disable();
  const elu = performance.eventLoopUtilization(startElu);
  for (let i = 0; i < issued; i++) blockingMs.push(recordMs[i]!);
  const lateness = (ns: number) => Math.max(0, ns / 1e6 - TICK_MS);
  return {
    transitions: issued,
    achievedPerSec: issued / ((finished - started) / 1000),
    blockingMs,
    utilisation: elu.utilization,
    activeMs: elu.active,
    delayMs: {
      p50: lateness(histogram.percentile(50)),
      p99: lateness(histogram.percentile(99)),
      max: lateness(histogram.max),
    },
    maxPendingLate,
    settleMs,
  };
}
