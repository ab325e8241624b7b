/**
 * The cluster benchmark (issue 10): what cluster mode costs, measured side by side in one run on
 * a private `redis-server`. Relay: CPU per relayed message with both parties on one node, and
 * with the visitor on node A and its agent on node B. Call setup: whole calls on one node without
 * Redis, one node with Redis, and two nodes. The nodes and Redis share the servers' CPU, the load
 * generator has the other; CPU per message and per call are summed over the nodes, Redis's shown
 * beside them.
 */
import { machineLine, serverOptions, type BenchContext, type Benchmark } from './lib/benchmark.js';
import { CANDIDATES_PER_SIDE } from './lib/call-setup-load.js';
import { LOG_SETTLE_MS } from './lib/call-setup-round.js';
import {
  CLUSTER_CALLS_TICK_MS,
  profileCallsAcross,
  runClusterCalls,
  type ClusterCallsResult,
} from './lib/cluster-calls.js';
import { profileEachInto } from './lib/cpuprofile.js';
import { runClusterRelay, type ClusterRelayResult } from './lib/cluster-relay.js';
import { loadAverage } from './lib/machine.js';
import { RedisServer, redisServerVersion } from './lib/redis-server.js';

/** The benchmark's heading in reports. */
const CLUSTER_TITLE = 'Cluster: relay and call setup across nodes';

/** The defaults: about 4 minutes in all. */
const CLUSTER_DEFAULTS = {
  rounds: 3,
  relay: { pairs: 50, window: 16, warmupMs: 1000, measureMs: 5000 },
  calls: { loops: 100, warmupMs: 1000, measureMs: 2000 },
} as const;

/** The cluster benchmark's outcome. */
interface ClusterReport {
  readonly relay: readonly ClusterRelayResult[];
  readonly calls: readonly ClusterCallsResult[];
  readonly redisVersion: string;
  /** 1-minute load average at the start and the end of the run. */
  readonly load: readonly [number | undefined, number | undefined];
  readonly rounds: number;
  readonly relayMeasureMs: number;
  readonly callsMeasureMs: number;
}

const number = (value: number, digits = 0) =>
  value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const percent = (share: number) => `${number(share * 100)}%`;
const ratio = (value: number) => `${number(value, 2)}x`;

/** The relay table and what it says. */
function relayTable(results: readonly ClusterRelayResult[]): string {
  const base = results[0]!.median;
  const row = ({ setUp, median: m }: ClusterRelayResult) =>
    `| ${setUp.name} | ${number(m.nodesUsPerMessage, 2)} | ` +
    `${ratio(m.nodesUsPerMessage / base.nodesUsPerMessage)} | ` +
    `${m.perNodeUsPerMessage.map((us) => number(us, 2)).join(' + ')} | ` +
    `${setUp.redis ? number(m.redisUsPerMessage, 2) : '—'} | ` +
    `${ratio((m.nodesUsPerMessage + m.redisUsPerMessage) / base.nodesUsPerMessage)} | ` +
    `${number(m.messagesPerSec)} | ${number(m.p50Ms, 2)} | ${number(m.p99Ms, 2)} | ` +
    `${percent(m.serversBusy)} | ${percent(m.generatorBusy)} |`;
  const across = results.at(-1)!.median;
  const perRound = results
    .map(
      ({ setUp, rounds }) =>
        `${setUp.name}: ${rounds.map((f) => number(f.nodesUsPerMessage, 2)).join(', ')}`,
    )
    .join('; ');
  return [
    '| relay | nodes CPU µs/msg | vs one node | per node | Redis CPU µs/msg | nodes + Redis vs one node | msgs/s | latency p50 ms | latency p99 ms | servers core busy | generator core busy |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...results.map(row),
    '',
    `Across two nodes a relayed message costs the nodes **${ratio(
      across.nodesUsPerMessage / base.nodesUsPerMessage,
    )}** what it costs one node, and ${ratio(
      (across.nodesUsPerMessage + across.redisUsPerMessage) / base.nodesUsPerMessage,
    )} with Redis's share (${number(across.redisUsPerMessage, 2)} µs).`,
    `Nodes CPU µs/msg per round: ${perRound}.`,
  ].join('\n');
}

/** The call-setup table and what it says. */
function callsTable(results: readonly ClusterCallsResult[]): string {
  const base = results[0]!.median;
  const row = ({ setUp, median: m }: ClusterCallsResult) =>
    `| ${setUp.name} | ${number(m.callsPerSec)} | ${number(m.nodesUsPerCall)} | ` +
    `${ratio(m.nodesUsPerCall / base.nodesUsPerCall)} | ` +
    `${setUp.redis ? number(m.redisUsPerCall) : '—'} | ` +
    `${ratio((m.nodesUsPerCall + m.redisUsPerCall) / base.nodesUsPerCall)} | ` +
    `${number(1e6 / m.nodesUsPerCall)} | ` +
    `${setUp.redis ? number(1e6 / m.redisUsPerCall) : '—'} | ` +
    `${percent(m.serversBusy)} | ${percent(m.generatorBusy)} | ` +
    `${number(m.p50Ms, 2)} | ${number(m.p99Ms, 2)} |`;
  const find = (name: string) => results.find((r) => r.setUp.name === name)!.median;
  const one = find('one node, no Redis');
  const split = find('two nodes, each call on one node');
  const across = find('two nodes, every call across');
  const perRound = results
    .map(
      ({ setUp, rounds }) =>
        `${setUp.name}: ${rounds.map((f) => number(f.callsPerSec)).join(', ')}`,
    )
    .join('; ');
  const logged = results.reduce((n, r) => n + r.rounds.reduce((m, f) => m + f.loggedCalls, 0), 0);
  return [
    '| calls | calls/s (servers on one core) | nodes CPU µs/call | vs one node | Redis CPU µs/call | nodes + Redis vs one node | calls per node CPU-second | calls per Redis CPU-second | servers core busy | generator core busy | setup p50 ms | setup p99 ms |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...results.map(row),
    '',
    `Per node, given a core of its own: **${number(1e6 / one.nodesUsPerCall)} calls/s** alone ` +
      `without Redis, **${number(1e6 / split.nodesUsPerCall)}** in a cluster with each call on ` +
      `one node, **${number(1e6 / across.nodesUsPerCall)}** with every call across two nodes ` +
      `(calls per node CPU-second). One Redis core would carry ` +
      `${number(1e6 / split.redisUsPerCall)} to ${number(1e6 / across.redisUsPerCall)} calls/s ` +
      'of these before it is the limit.',
    `Calls/s per round: ${perRound}.`,
    `Call log: all ${number(logged)} calls of the run were found ended in the database the nodes share.`,
  ].join('\n');
}

function figures(report: ClusterReport): string {
  return [relayTable(report.relay), '', callsTable(report.calls)].join('\n');
}

function loadNote(report: ClusterReport): string {
  const [start, end] = report.load;
  if (start === undefined || end === undefined) return '';
  return (
    ` The machine is shared: its 1-minute load average was ${number(start, 1)} at the start ` +
    `and ${number(end, 1)} at the end (2 CPUs), so compare the rows, not the absolute figures.`
  );
}

/** The docs/BENCHMARKS.md section: heading, how it was measured, the tables, how to read them. */
function docSection(report: ClusterReport, machine: string, command: string): string {
  return [
    `## ${CLUSTER_TITLE}`,
    '',
    `Measured ${new Date().toISOString().slice(0, 10)} with \`${command}\`.`,
    `Machine: ${machine} Redis ${report.redisVersion}, started by the benchmark on a free ` +
      'loopback port (`--save "" --appendonly no`), pinned with the nodes.' +
      loadNote(report),
    '',
    relayTable(report.relay),
    '',
    callsTable(report.calls),
    '',
    'Set-ups, in interleaved rounds, each on fresh node processes and an emptied Redis ' +
      `(${report.rounds} rounds each; medians shown). Every node is the real server in cluster ` +
      'mode, as `REDIS_URL` makes it (shared store, one pub/sub channel per node, shared call ' +
      'timers, the heartbeat and the dead-node check running), built from the compiled code; ' +
      '"no Redis" is the single node of the relay and call-setup benchmarks. The nodes and ' +
      "Redis are all on the servers' one CPU, the load generator on the other, as in those " +
      'benchmarks.',
    '',
    `- **relay**: the relay benchmark's load (50 visitor/agent pairs, each with an answered ` +
      `call, \`ice_candidate\` frames with at most 16 in flight per client, ` +
      `${report.relayMeasureMs / 1000} s measured). Across two nodes each pair's visitor is on ` +
      'node A and its agent on node B, so every frame goes from one node to the other: published ' +
      "once to the other node's channel, as serialised, and written to the socket there.",
    `- **calls**: the call-setup benchmark's loops (100 companies of one agent and one visitor, ` +
      `whole calls with an offer, an answer and ${CANDIDATES_PER_SIDE} candidates each way, ` +
      `presence coalesced every ${CLUSTER_CALLS_TICK_MS} ms; ${report.callsMeasureMs / 1000} s ` +
      'flat out, then paced at half that rate for the latency). Each call on one node: half the ' +
      'companies on each node, both users of a call on the same one (a balancer that keeps a ' +
      'company on one node). Every call across: each visitor on the other node from its agent, the ' +
      'worst a balancer can do. All nodes write the one call log (SQLite, one file), which must ' +
      `hold every call, ended, within ${LOG_SETTLE_MS / 1000} s of the load stopping.`,
    '- **nodes CPU**: user + system CPU of every node process (all threads) over the measured ' +
      'window, summed, per message or call; **per node** splits it. **Redis CPU**: ' +
      '`used_cpu_user + used_cpu_sys` of `INFO cpu`, read at the same moments.',
    '- **calls per node CPU-second**: one second over the nodes CPU per call: what each node ' +
      'sustains with a core of its own, the calls spread evenly. With one core for all the ' +
      "servers here, **calls/s** of two nodes cannot exceed one node's: this machine measures " +
      'what a call costs, not how the nodes scale. **calls per Redis CPU-second** is the rate at ' +
      'which one Redis core would be the limit.',
    '- **servers core busy**: the nodes and Redis together, as a share of their one core.',
  ].join('\n');
}

/** The cluster benchmark: `--only cluster`. */
export const clusterBenchmark: Benchmark = {
  id: 'cluster',
  title: CLUSTER_TITLE,
  async run(ctx: BenchContext) {
    const redisVersion = redisServerVersion();
    if (redisVersion === undefined) {
      return { skipped: 'redis-server is not installed (it runs a private one for the run)' };
    }
    const options = serverOptions(ctx, false);
    const rounds = ctx.rounds ?? CLUSTER_DEFAULTS.rounds;
    const seconds = ctx.seconds === undefined ? undefined : ctx.seconds * 1000;
    const relayTiming = {
      ...CLUSTER_DEFAULTS.relay,
      measureMs: seconds ?? CLUSTER_DEFAULTS.relay.measureMs,
    };
    const callsTiming = {
      ...CLUSTER_DEFAULTS.calls,
      measureMs: seconds ?? CLUSTER_DEFAULTS.calls.measureMs,
    };
    const startLoad = loadAverage();
    const redis = await RedisServer.start(options.serverCpu);
    try {
      ctx.log(`Redis ${redisVersion} on port ${redis.port}.`);
      const relay = await runClusterRelay(redis, { ...options, ...relayTiming, rounds });
      const calls = await runClusterCalls(redis, { ...options, ...callsTiming, rounds });
      const report: ClusterReport = {
        relay,
        calls,
        redisVersion,
        load: [startLoad, loadAverage()],
        rounds,
        relayMeasureMs: relayTiming.measureMs,
        callsMeasureMs: callsTiming.measureMs,
      };
      const machine = machineLine(ctx.machine, ctx.servers().pinning);
      return { figures: figures(report), docSection: docSection(report, machine, ctx.command) };
    } finally {
      await redis.stop();
    }
  },
  async profile(ctx: BenchContext) {
    if (redisServerVersion() === undefined) return 'No profile: redis-server is not installed.';
    ctx.log('Profiling both nodes of one round of calls across two nodes under node --cpu-prof');
    const options = serverOptions(ctx, false);
    const redis = await RedisServer.start(options.serverCpu);
    try {
      const calls = { ...options, ...CLUSTER_DEFAULTS.calls, rounds: 1 };
      return await profileEachInto((dir) => profileCallsAcross(redis, calls, dir));
    } finally {
      await redis.stop();
    }
  },
};
