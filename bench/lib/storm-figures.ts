/**
 * The reconnect storm's figures: what one round's per-client timestamps, the server's samples
 * and counters, and the kernel's CPU and listen-queue counters say. Kept apart from the run
 * itself so that the run reads as the sequence of events it is (arm, kill, restart, wait,
 * collect).
 */
import { readFileSync } from 'node:fs';
import { FullJitterPolicy } from '../../client-lib/reconnect-policy.js';
import { policyTailMs } from './storm-policy.js';
import type { StormLoadResult } from './storm-protocol.js';
import type { Sampled, ServerCounters } from './storm-sampler.js';
import { percentile } from './stats.js';

/** One kind of client's figures in a round (real `WebSocketClient`s, or light clients). */
export interface PopulationFigures {
  readonly clients: number;
  readonly back: number;
  readonly gaveUp: number;
  /** From the kill until its last client was back (NaN if some never came back). */
  readonly allBackMs: number;
  /** Per-client time from the kill to its new `connection_established`. */
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** When its clients made their first attempt after the drop, median. */
  readonly firstAttemptP50Ms: number;
  readonly maxAttempts: number;
}

/** One round's figures. Times in milliseconds from the kill unless named otherwise. */
export interface StormFigures {
  /** The real clients' and the light clients' figures; the rest are over both. */
  readonly real: PopulationFigures;
  readonly light: PopulationFigures;
  /** From the kill until the new server reported it listened. */
  readonly downtimeMs: number;
  /** From the kill until the last client was back (NaN if some never came back). */
  readonly allBackMs: number;
  /** Per-client time from the kill to its new `connection_established`. */
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** From the kill until the old process was gone (the kernel closing its sockets). */
  readonly exitMs: number;
  /** When clients saw the drop (how long the crash took to reach them): median and last. */
  readonly dropSeenP50Ms: number;
  readonly dropSeenMaxMs: number;
  /** When clients made their first attempt after the drop: median and last. */
  readonly firstAttemptP50Ms: number;
  readonly firstAttemptMaxMs: number;
  /**
   * Of the attempt that brought each client back: from opening the socket to
   * `connection_established` (TCP connect, upgrade, token check, set-up, and any wait for a
   * dropped SYN to be retried or for the client's own busy event loop), p50 and p99.
   */
  readonly handshakeP50Ms: number;
  readonly handshakeP99Ms: number;
  readonly clients: number;
  readonly back: number;
  readonly gaveUp: number;
  /** Connection attempts the clients made after the drop, and what became of them. */
  readonly attempts: number;
  readonly refused: number;
  readonly upgraded: number;
  readonly otherFailures: number;
  /** Clients by attempts they needed: index 0 for one, ..., the last for that many or more. */
  readonly attemptsPerClient: readonly number[];
  readonly maxAttempts: number;
  /** Close codes clients saw besides 1006, with counts. */
  readonly closeCodes: Readonly<Record<string, number>>;
  /** WebSocket connections the new server accepted, and tokens it refused (its `/metrics`). */
  readonly serverAccepted: number;
  readonly serverAuthFailures: number;
  /** Listen-queue overflows the kernel counted during the round (every listener), if known. */
  readonly listenOverflows: number | undefined;
  /**
   * The longest the server's accept queue was when sampled (every few hundred ms, with `ss`),
   * and its limit (the listen backlog, capped by `net.core.somaxconn`); NaN if unknown.
   */
  readonly acceptQueuePeak: number;
  readonly acceptQueueLimit: number;
  /** Share of its core the new server used from listening until all were back. */
  readonly serverBusy: number;
  /**
   * Share of the server's core used by every process over the same time (NaN when the server
   * is not pinned): well above `serverBusy` means other work on the machine took the core.
   */
  readonly serverCoreBusy: number;
  /** The new server's CPU time from listening until all were back, per connection it accepted. */
  readonly serverCpuPerConnectionUs: number;
  /**
   * From the server's sampled count: when it had accepted every client (from the kill, to the
   * sampling interval; NaN if not seen), and its best rate over a second or more.
   */
  readonly serverAllAcceptedMs: number;
  readonly serverPeakAcceptPerSec: number;
  /**
   * Simulated with this round's downtime (see `storm-policy.ts`): when the last of as many
   * independent clients makes its first attempt after the restart, in ms from the kill, under
   * the default policy and under the same policy without its restart window.
   */
  readonly policyTailMs: number;
  readonly noWindowPolicyTailMs: number;
  /** The load processes' worst event-loop delay over the round (p99 and max, in ms). */
  readonly loopDelayP99Ms: number;
  readonly loopDelayMaxMs: number;
  /** Share of one core the load processes used together, from arming to collecting. */
  readonly generatorBusy: number;
  /** The load processes' CPU time over the round per client back, in microseconds. */
  readonly generatorCpuPerClientUs: number;
  /**
   * Share of the load processes' core used by every process over the same time (NaN when they
   * may use more than one CPU): near 100% means the clients, not the server, set the pace.
   */
  readonly generatorCoreBusy: number;
}

/** Buckets of {@link StormFigures.attemptsPerClient}: 1, 2, ..., 5 or more. */
export const ATTEMPT_BUCKETS = 5;

/** What the run measured around one round, besides the load processes' results. */
export interface RoundTimes {
  /** The server side, sampled through the round. */
  readonly sampled: Sampled;
  readonly killedAt: number;
  readonly exitedAt: number;
  readonly listeningAt: number;
  /** When the server's CPU time was read once the clients settled. */
  readonly cpuReadAt: number;
  /** The server's CPU time from listening until then, in microseconds. */
  readonly serverCpuUs: number;
  /** The server core's busy share over the same time, from {@link CoreTicks}. */
  readonly serverCoreBusy: number;
  readonly armedAt: number;
  readonly collectedAt: number;
  /** The load processes' core's busy share from arming to collecting. */
  readonly generatorCoreBusy: number;
}

/** When the server had accepted `clients` connections, and its best rate over ≥ 1 s. */
function serverPace(sampled: Sampled, clients: number, killedAt: number) {
  const series = sampled.accepted;
  const all = series.find(([, count]) => count >= clients);
  let peak = Number.NaN;
  for (let from = 0, to = 0; to < series.length; to++) {
    while (from + 1 < to && series[to]![0] - series[from + 1]![0] >= 1000) from++;
    const [fromAt, fromCount] = series[from]!;
    const [toAt, toCount] = series[to]!;
    if (toAt - fromAt < 1000) continue;
    const rate = ((toCount - fromCount) * 1000) / (toAt - fromAt);
    peak = Number.isNaN(peak) ? rate : Math.max(peak, rate);
  }
  return {
    serverAllAcceptedMs: all === undefined ? Number.NaN : all[0] - killedAt,
    serverPeakAcceptPerSec: peak,
  };
}

/** Values of one per-client timestamp after the kill, in ms, as samples. */
class Offsets {
  readonly ms: Float64Array;
  count = 0;
  constructor(size: number) {
    this.ms = new Float64Array(size);
  }
  add(ms: number): void {
    this.ms[this.count++] = ms;
  }
  percentile(p: number): number {
    return percentile(this.ms, this.count, p);
  }
}

/** The figures of the clients for which `pick(result, n)` holds. */
function population(
  results: readonly StormLoadResult[],
  killedAt: number,
  pick: (result: StormLoadResult, n: number) => boolean,
): PopulationFigures {
  const size = results.reduce((sum, r) => sum + r.light.length, 0);
  const back = new Offsets(size);
  const first = new Offsets(size);
  let clients = 0;
  let gaveUp = 0;
  let maxAttempts = 0;
  for (const result of results) {
    for (let n = 0; n < result.light.length; n++) {
      if (!pick(result, n)) continue;
      clients++;
      if (result.gaveUp[n] === true) gaveUp++;
      maxAttempts = Math.max(maxAttempts, result.attempts[n] ?? 0);
      const backAt = result.backAt[n] ?? null;
      if (backAt !== null) back.add(backAt - killedAt);
      const firstAt = result.firstAttemptAt[n] ?? null;
      if (firstAt !== null) first.add(firstAt - killedAt);
    }
  }
  return {
    clients,
    back: back.count,
    gaveUp,
    allBackMs: back.count === clients ? back.percentile(100) : Number.NaN,
    p50Ms: back.percentile(50),
    p99Ms: back.percentile(99),
    firstAttemptP50Ms: first.percentile(50),
    maxAttempts,
  };
}

/** Computes one round's figures from the load processes' results. */
export function roundFigures(
  results: readonly StormLoadResult[],
  times: RoundTimes,
  server: ServerCounters,
  listenOverflows: number | undefined,
): StormFigures {
  const clients = results.reduce((n, r) => n + r.backAt.length, 0);
  const back = new Offsets(clients);
  const dropped = new Offsets(clients);
  const first = new Offsets(clients);
  const handshake = new Offsets(clients);
  let maxAttempts = 0;
  const attemptsPerClient = new Array<number>(ATTEMPT_BUCKETS).fill(0);
  const closeCodes: Record<string, number> = {};
  const since = (t: number | null, into: Offsets) => {
    if (t !== null) into.add(t - times.killedAt);
  };
  for (const result of results) {
    result.backAt.forEach((t, n) => {
      if (t === null) return;
      since(t, back);
      const openedAt = result.lastAttemptAt[n] ?? null;
      if (openedAt !== null) handshake.add(t - openedAt);
    });
    for (const t of result.droppedAt) since(t, dropped);
    for (const t of result.firstAttemptAt) since(t, first);
    for (const a of result.attempts) {
      maxAttempts = Math.max(maxAttempts, a);
      if (a > 0) attemptsPerClient[Math.min(a, ATTEMPT_BUCKETS) - 1]!++;
    }
    for (const [code, n] of Object.entries(result.closeCodes)) {
      closeCodes[code] = (closeCodes[code] ?? 0) + n;
    }
  }
  const sum = (key: 'refused' | 'upgraded' | 'otherFailures' | 'cpuUs') =>
    results.reduce((n, r) => n + r[key], 0);
  const recoveringMs = times.cpuReadAt - times.listeningAt;
  const downtimeMs = times.listeningAt - times.killedAt;
  return {
    real: population(results, times.killedAt, (r, n) => r.light[n] !== true),
    light: population(results, times.killedAt, (r, n) => r.light[n] === true),
    downtimeMs,
    allBackMs: back.count === clients ? back.percentile(100) : Number.NaN,
    p50Ms: back.percentile(50),
    p99Ms: back.percentile(99),
    exitMs: times.exitedAt - times.killedAt,
    dropSeenP50Ms: dropped.percentile(50),
    dropSeenMaxMs: dropped.percentile(100),
    firstAttemptP50Ms: first.percentile(50),
    firstAttemptMaxMs: first.percentile(100),
    handshakeP50Ms: handshake.percentile(50),
    handshakeP99Ms: handshake.percentile(99),
    clients,
    back: back.count,
    gaveUp: results.reduce((n, r) => n + r.gaveUp.filter(Boolean).length, 0),
    attempts: results.reduce((n, r) => n + r.attempts.reduce((m, a) => m + a, 0), 0),
    refused: sum('refused'),
    upgraded: sum('upgraded'),
    otherFailures: sum('otherFailures'),
    attemptsPerClient,
    maxAttempts,
    closeCodes,
    serverAccepted: server.accepted,
    serverAuthFailures: server.authFailures,
    listenOverflows,
    acceptQueuePeak: times.sampled.acceptQueuePeak,
    acceptQueueLimit: times.sampled.acceptQueueLimit,
    ...serverPace(times.sampled, clients, times.killedAt),
    serverBusy: recoveringMs > 0 ? times.serverCpuUs / 1000 / recoveringMs : Number.NaN,
    serverCoreBusy: times.serverCoreBusy,
    serverCpuPerConnectionUs: times.serverCpuUs / server.accepted,
    loopDelayP99Ms: Math.max(...results.map((r) => r.loopDelayP99Ms)),
    loopDelayMaxMs: Math.max(...results.map((r) => r.loopDelayMaxMs)),
    generatorBusy: sum('cpuUs') / 1000 / (times.collectedAt - times.armedAt),
    generatorCoreBusy: times.generatorCoreBusy,
    generatorCpuPerClientUs: back.count > 0 ? sum('cpuUs') / back.count : Number.NaN,
    policyTailMs: policyTailMs(() => new FullJitterPolicy(), downtimeMs, clients),
    noWindowPolicyTailMs: policyTailMs(
      () => new FullJitterPolicy({ restartWindowMs: 0 }),
      downtimeMs,
      clients,
    ),
  };
}

/** One CPU's time counters (/proc/stat, in clock ticks): all of it, and the idle part. */
export interface CoreTicks {
  readonly total: number;
  readonly idle: number;
}

/** The counters of CPU `cpu`, or undefined (off Linux, or no such CPU). */
export function coreTicks(cpu: number | undefined): CoreTicks | undefined {
  if (cpu === undefined) return undefined;
  try {
    const line = readFileSync('/proc/stat', 'utf8')
      .split('\n')
      .find((l) => l.startsWith(`cpu${cpu} `));
    if (line === undefined) return undefined;
    // user nice system idle iowait irq softirq steal ...
    const ticks = line.trim().split(/\s+/).slice(1).map(Number);
    return { total: ticks.reduce((a, b) => a + b, 0), idle: ticks[3]! + (ticks[4] ?? 0) };
  } catch {
    return undefined;
  }
}

/**
 * The one CPU this process may run on (and the load processes it starts, which inherit it), or
 * undefined when it may use several or the kernel does not say.
 */
export function ownCpu(): number | undefined {
  try {
    const line = readFileSync('/proc/self/status', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Cpus_allowed_list:'));
    const list = line?.slice(line.indexOf(':') + 1).trim() ?? '';
    return /^\d+$/.test(list) ? Number(list) : undefined;
  } catch {
    return undefined;
  }
}

/** The busy share of a CPU between two readings (NaN when either is missing). */
export function busyShare(from: CoreTicks | undefined, to: CoreTicks | undefined): number {
  if (from === undefined || to === undefined || to.total <= from.total) return Number.NaN;
  return 1 - (to.idle - from.idle) / (to.total - from.total);
}

/**
 * The kernel's count of connections dropped because a listen queue was full (`ListenOverflows`
 * in /proc/net/netstat), for every listener in this network namespace; undefined off Linux.
 */
export function listenOverflows(): number | undefined {
  try {
    const lines = readFileSync('/proc/net/netstat', 'utf8').split('\n');
    const index = lines.findIndex((line) => line.startsWith('TcpExt:'));
    const names = lines[index]?.split(/\s+/) ?? [];
    const values = lines[index + 1]?.split(/\s+/) ?? [];
    const at = names.indexOf('ListenOverflows');
    return index < 0 || at < 0 ? undefined : Number(values[at]);
  } catch {
    return undefined;
  }
}
