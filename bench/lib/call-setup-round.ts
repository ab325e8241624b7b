/**
 * One measured round of the call loops (`call-setup-load.ts`), whatever serves them: one server,
 * or the nodes of a cluster and their Redis. Flat out first (the throughput), then paced at half
 * that rate (the set-up latency), then the load stops and every call must be in the call log.
 * The call-setup and cluster benchmarks both run their rounds through here, so both measure
 * alike.
 */
import SQLite from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import type { Schema } from '../../db/schema.js';
import type { CallLoad, LoadSnapshot } from './call-setup-load.js';

/** How long the call log may take to catch up once the load stopped. */
export const LOG_SETTLE_MS = 10_000;

/**
 * Reads the CPU time (microseconds, user + system) of every process serving the calls, in a
 * fixed order: the figures keep it.
 */
export type CpuProbe = () => Promise<readonly number[]>;

/** How long a round calls. */
export interface RoundTiming {
  /** Calling before each measured window (JIT, buffers, steady state; the new pace). */
  readonly warmupMs: number;
  /** Each measured window: the flat-out one, then the paced one. */
  readonly measureMs: number;
}

/** What one window measured: calls, time and CPU, each process's and the load generator's. */
export interface CallWindow {
  readonly calls: number;
  readonly seconds: number;
  /** CPU of each process the probe reads, in its order. */
  readonly cpuUs: readonly number[];
  readonly generatorUs: number;
  readonly statusFrames: number;
  readonly frames: number;
}

/** A round's two windows and the set-up latency of the paced one. */
export interface CallRound {
  readonly flatOut: CallWindow;
  readonly paced: CallWindow;
  /** Paced: `call_request` sent to `webrtc_answer` received. */
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Calls of the whole round (warm-ups included), to look for in the call log. */
  readonly totalCalls: number;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The load's counters and every process's CPU at one end of a window. */
interface Mark {
  readonly load: LoadSnapshot;
  readonly cpuUs: readonly number[];
  readonly generatorUs: number;
}

async function mark(load: CallLoad, cpu: CpuProbe): Promise<Mark> {
  const cpuUs = await cpu();
  const { user, system } = process.cpuUsage();
  return { load: load.snapshot(), cpuUs, generatorUs: user + system };
}

function between(a: Mark, b: Mark): CallWindow {
  return {
    calls: b.load.calls - a.load.calls,
    seconds: (b.load.at - a.load.at) / 1000,
    cpuUs: b.cpuUs.map((us, i) => us - a.cpuUs[i]!),
    generatorUs: b.generatorUs - a.generatorUs,
    statusFrames: b.load.statusFrames - a.load.statusFrames,
    frames: b.load.frames - a.load.frames,
  };
}

/** Waits, failing early when the load failed. */
async function run(load: CallLoad, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    await sleep(Math.min(100, until - Date.now()));
    if (load.error !== undefined) throw load.error;
  }
}

/**
 * Runs `load` (connected and settled) flat out, then paced at half the rate it reached, and
 * stops it once every call under way has completed.
 * @throws Error when the load fails or no call completes in the flat-out window.
 */
export async function measureCallRound(
  load: CallLoad,
  cpu: CpuProbe,
  timing: RoundTiming,
): Promise<CallRound> {
  load.runFlatOut();
  await run(load, timing.warmupMs);
  const a = await mark(load, cpu);
  await run(load, timing.measureMs);
  const flatOut = between(a, await mark(load, cpu));
  if (flatOut.calls === 0) throw new Error('no call completed in the measured window');

  load.pace(flatOut.calls / flatOut.seconds / 2);
  await run(load, timing.warmupMs);
  const c = await mark(load, cpu);
  load.startLatency();
  await run(load, timing.measureMs);
  load.stopLatency();
  const paced = between(c, await mark(load, cpu));
  await load.stop();
  return {
    flatOut,
    paced,
    p50Ms: load.latencyMs.percentile(50),
    p99Ms: load.latencyMs.percentile(99),
    totalCalls: load.snapshot().calls,
  };
}

/**
 * Waits until the call log file holds every one of `calls` calls, ended and answered, and
 * returns how many it holds.
 * @throws Error when it does not within {@link LOG_SETTLE_MS}, or holds more.
 */
export async function verifyCallLog(path: string, calls: number): Promise<number> {
  const db = new Kysely<Schema>({
    dialect: new SqliteDialect({ database: new SQLite(path, { fileMustExist: true }) }),
  });
  try {
    const deadline = Date.now() + LOG_SETTLE_MS;
    for (;;) {
      const rows = await db
        .selectFrom('calls')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow();
      const ended = await db
        .selectFrom('calls')
        .where('state', '=', 'ended')
        .where('answered_at', 'is not', null)
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow();
      const [all, done] = [Number(rows.n), Number(ended.n)];
      if (all > calls) throw new Error(`the call log has ${all} calls; ${calls} were made`);
      if (done === calls && all === calls) return done;
      if (Date.now() > deadline) {
        throw new Error(
          `the call log is missing calls: ${done} of the ${calls} completed calls are logged ` +
            `as ended (${all} rows in all) ${LOG_SETTLE_MS / 1000} s after the load stopped`,
        );
      }
      await sleep(50);
    }
  } finally {
    await db.destroy();
  }
}
