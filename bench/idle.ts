/**
 * The idle-connection benchmark: server memory per authenticated idle connection at 10,000
 * connections, for CallDocker, the bare `ws` relay and the peers (the PeerJS server, a minimal
 * Socket.IO relay), in interleaved rounds, each with a fresh server process. The server
 * measures itself over the IPC channel after a full garbage collection (`--expose-gc`): once
 * before any client, once with every client connected and settled; the difference over the
 * connection count is the cost of one connection. Target: CallDocker at most 1.15x the bare
 * relay.
 */
import { join } from 'node:path';
import type { WebSocket } from 'ws';
import { machineLine, serverOptions, type Benchmark } from './lib/benchmark.js';
import {
  bareIdle,
  callDockerIdle,
  peerJsIdle,
  socketIoIdle,
  type IdleTarget,
} from './lib/idle-targets.js';
import { ServerProcess, type ServerMemory } from './lib/server-process.js';
import { median } from './lib/stats.js';

/** The benchmark's heading in reports. */
const IDLE_TITLE = 'Idle connections: server memory per connection';

/** CallDocker's memory per idle connection may be at most this multiple of the bare relay's. */
export const IDLE_TARGET_RATIO = 1.15;

/** How the idle benchmark runs. */
export interface IdleOptions {
  /** Rounds per server. */
  readonly rounds: number;
  /** Idle connections per round. */
  readonly connections: number;
  /** Connection attempts under way at once. */
  readonly concurrency: number;
  /** Wait after the last client is idle (and before the first), so the server is quiet. */
  readonly settleMs: number;
  /** Where the compiled server entries are. */
  readonly serversDir: string;
  /** CPU to pin the servers to, or undefined. */
  readonly serverCpu: number | undefined;
  /** Progress output. */
  readonly log: (line: string) => void;
}

/** The defaults: 10,000 connections, 200 connecting at a time, 3 rounds. */
const IDLE_DEFAULTS = {
  rounds: 3,
  connections: 10_000,
  concurrency: 200,
  settleMs: 2000,
} as const;

/** Bound on one round's connecting, so a stuck server cannot hang the run. */
const CONNECT_PHASE_TIMEOUT_MS = 180_000;

/** One round's figures, in bytes. */
export interface IdleFigures {
  /** Resident set size per connection. */
  readonly rssPerConnection: number;
  /** JS heap in use plus memory outside it (`heapUsed + external`) per connection. */
  readonly heapPerConnection: number;
  /** The same memory before any client, for scale. */
  readonly rssBefore: number;
  readonly heapBefore: number;
  /** How long the clients took to connect, in milliseconds. */
  readonly connectMs: number;
}

/** All rounds of one server and the median of each figure. */
export interface IdleResult {
  readonly target: string;
  readonly note: string;
  readonly rounds: readonly IdleFigures[];
  readonly median: IdleFigures;
}

/** The idle benchmark's outcome. */
export interface IdleReport {
  readonly bare: IdleResult;
  readonly callDocker: IdleResult;
  /** The PeerJS server and the Socket.IO relay. */
  readonly peers: readonly IdleResult[];
  /** CallDocker's median memory per connection over the bare relay's, heap and RSS. */
  readonly heapRatio: number;
  readonly rssRatio: number;
  readonly options: Omit<IdleOptions, 'log' | 'serversDir'>;
}

/** `heapUsed + external`: `external` already counts ArrayBuffers and Buffers. */
const heapOf = (memory: ServerMemory) => memory.heapUsed + memory.external;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Connects `count` clients with at most `concurrency` attempts under way at once.
 * @throws Error when a client fails or the whole phase takes too long; clients already
 *   connected are closed first.
 */
async function connectAll(
  target: IdleTarget,
  port: number,
  count: number,
  concurrency: number,
): Promise<WebSocket[]> {
  const clients: WebSocket[] = [];
  let next = 0;
  let failure: Error | undefined;
  const deadline = Date.now() + CONNECT_PHASE_TIMEOUT_MS;
  const worker = async () => {
    while (failure === undefined && next < count) {
      const index = next++;
      if (Date.now() > deadline) {
        failure = new Error(`${count} connections took over ${CONNECT_PHASE_TIMEOUT_MS} ms`);
        return;
      }
      try {
        clients.push(await target.connect(port, index));
      } catch (err) {
        failure ??= new Error(
          `${target.name}: client ${index} did not reach its idle state: ` +
            (err instanceof Error ? err.message : String(err)),
        );
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  if (failure !== undefined) {
    for (const ws of clients) ws.terminate();
    throw failure;
  }
  return clients;
}

async function runRound(target: IdleTarget, options: IdleOptions): Promise<IdleFigures> {
  const server = await ServerProcess.start({
    script: join(options.serversDir, target.script),
    cpu: options.serverCpu,
    env: target.env,
    nodeArgs: ['--expose-gc'],
  });
  let clients: WebSocket[] = [];
  try {
    await sleep(options.settleMs);
    const before = await server.memory();
    if (!before.collected) throw new Error(`${target.name}: the server could not collect`);
    const startedAt = performance.now();
    clients = await connectAll(target, server.port, options.connections, options.concurrency);
    const connectMs = performance.now() - startedAt;
    await sleep(options.settleMs);
    const after = await server.memory();
    const dropped = clients.filter((ws) => ws.readyState !== ws.OPEN).length;
    if (dropped > 0) throw new Error(`${target.name}: ${dropped} idle clients were disconnected`);
    const n = clients.length;
    return {
      rssPerConnection: (after.rss - before.rss) / n,
      heapPerConnection: (heapOf(after) - heapOf(before)) / n,
      rssBefore: before.rss,
      heapBefore: heapOf(before),
      connectMs,
    };
  } finally {
    // The server goes first: its side of each connection closes first and takes the TIME_WAIT,
    // leaving the load generator's ephemeral ports free for the next round.
    await server.stop();
    for (const ws of clients) ws.terminate();
  }
}

function medianOf(rounds: readonly IdleFigures[]): IdleFigures {
  const of = (key: keyof IdleFigures) => median(rounds.map((r) => r[key]));
  return {
    rssPerConnection: of('rssPerConnection'),
    heapPerConnection: of('heapPerConnection'),
    rssBefore: of('rssBefore'),
    heapBefore: of('heapBefore'),
    connectMs: of('connectMs'),
  };
}

const kb = (bytes: number, digits = 2) =>
  (bytes / 1000).toLocaleString('en-US', {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });

const mb = (bytes: number) => (bytes / 1e6).toFixed(1);

function describeRound(target: string, round: number, figures: IdleFigures): string {
  return (
    `  ${target.padEnd(16)} round ${round}: heap ${kb(figures.heapPerConnection)} KB/conn, ` +
    `RSS ${kb(figures.rssPerConnection)} KB/conn (before: heap ${mb(figures.heapBefore)} MB, ` +
    `RSS ${mb(figures.rssBefore)} MB), connected in ${(figures.connectMs / 1000).toFixed(1)} s`
  );
}

/** Runs the interleaved rounds and returns the medians and the ratios. */
async function runIdleBenchmark(options: IdleOptions): Promise<IdleReport> {
  const targets = [bareIdle, callDockerIdle(), peerJsIdle, socketIoIdle];
  const rounds = new Map<IdleTarget, IdleFigures[]>(targets.map((t) => [t, []]));
  for (let round = 1; round <= options.rounds; round++) {
    for (const target of targets) {
      const figures = await runRound(target, options);
      rounds.get(target)!.push(figures);
      options.log(describeRound(target.name, round, figures));
    }
  }
  const resultOf = (target: IdleTarget): IdleResult => {
    const all = rounds.get(target)!;
    return { target: target.name, note: target.note, rounds: all, median: medianOf(all) };
  };
  const [bare, ours, ...peers] = targets.map(resultOf) as [IdleResult, IdleResult, ...IdleResult[]];
  const { rounds: count, connections, concurrency, settleMs, serverCpu } = options;
  return {
    bare,
    callDocker: ours,
    peers,
    heapRatio: ours.median.heapPerConnection / bare.median.heapPerConnection,
    rssRatio: ours.median.rssPerConnection / bare.median.rssPerConnection,
    options: { rounds: count, connections, concurrency, settleMs, serverCpu },
  };
}

const ratio = (value: number) => `${value.toFixed(2)}x`;

/** The report as a Markdown table and a verdict line (for the terminal and the docs alike). */
function idleTable(report: IdleReport): string {
  const bare = report.bare.median;
  const all = [report.bare, report.callDocker, ...report.peers];
  const row = (result: IdleResult) => {
    const m = result.median;
    return (
      `| ${result.target} | ${kb(m.heapPerConnection)} | ` +
      `${ratio(m.heapPerConnection / bare.heapPerConnection)} | ${kb(m.rssPerConnection)} | ` +
      `${ratio(m.rssPerConnection / bare.rssPerConnection)} |`
    );
  };
  const verdict = (value: number) => (value <= IDLE_TARGET_RATIO ? 'within' : 'OVER');
  const perRound = all
    .map(
      (result) =>
        `${result.target} ${result.rounds.map((r) => kb(r.heapPerConnection)).join(', ')}`,
    )
    .join('; ');
  return [
    '| server | heap KB/conn | vs bare | RSS KB/conn | vs bare |',
    '| --- | ---: | ---: | ---: | ---: |',
    ...all.map(row),
    '',
    `CallDocker / bare: **${ratio(report.heapRatio)} heap** (${verdict(report.heapRatio)} the ` +
      `${IDLE_TARGET_RATIO}x target), **${ratio(report.rssRatio)} RSS** ` +
      `(${verdict(report.rssRatio)}).`,
    `Heap KB/conn per round: ${perRound}.`,
  ].join('\n');
}

/** The docs/BENCHMARKS.md section: heading, how it was measured, the table, how to read it. */
function idleDocSection(report: IdleReport, machine: string, command: string): string {
  const o = report.options;
  const n = o.connections.toLocaleString('en-US');
  const states = [report.bare, report.callDocker, ...report.peers]
    .map((result) => `${result.target}: ${result.note}`)
    .join('; ');
  return [
    `## ${IDLE_TITLE}`,
    '',
    `Measured ${new Date().toISOString().slice(0, 10)} with \`${command}\`.`,
    `Machine: ${machine}`,
    '',
    idleTable(report),
    '',
    `Load: ${n} idle connections per round, opened by minimal raw \`ws\` clients in one ` +
      `load-generator process, ${o.concurrency} connecting at a time; ` +
      `${o.rounds} rounds per server, interleaved, each with a fresh server process; ` +
      `medians shown. Each connection is in its server's natural authenticated (or ` +
      `identified) idle state (${states}). The servers are the relay benchmark's.`,
    '',
    '- **per connection**: the server measures itself over its IPC channel after two full ' +
      'garbage collections (`node --expose-gc`, `global.gc()`): once before any client, ' +
      `${o.settleMs / 1000} s after start-up, and once ${o.settleMs / 1000} s after the last ` +
      `client reached its idle state; the difference divided by ${n}. One-time costs (code ` +
      `compiled for the first connections) are spread over the ${n}.`,
    '- **heap**: `heapUsed + external` of `process.memoryUsage()`: the JavaScript objects ' +
      'each connection keeps, plus what lives outside the JS heap (`external`, which already ' +
      'counts ArrayBuffers and Buffers). After a full collection this is what the connections ' +
      'hold, to within a few bytes.',
    "- **RSS**: the process's resident memory, after the same collections. It also counts " +
      'what the allocators keep (heap pages V8 has not returned, malloc arenas), so it is ' +
      'coarser; kernel socket buffers are in neither figure.',
    '- The ratio is what matters: the machine is shared, while all servers meet the same ' +
      'conditions within one run.',
  ].join('\n');
}

/** The idle-connections benchmark: `--only idle`. */
export const idleBenchmark: Benchmark = {
  id: 'idle',
  title: IDLE_TITLE,
  async run(ctx) {
    const report = await runIdleBenchmark({ ...IDLE_DEFAULTS, ...serverOptions(ctx, false) });
    const machine = machineLine(ctx.machine, ctx.servers().pinning);
    return {
      figures: idleTable(report),
      docSection: idleDocSection(report, machine, ctx.command),
    };
  },
};
