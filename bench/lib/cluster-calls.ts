/**
 * The cluster benchmark's call-setup part: whole calls (`call-setup-load.ts`) on one node without
 * Redis (the call-setup benchmark's server), one node with Redis, and two nodes, each call either
 * on one node or across both (the visitor on one, its agent on the other). 100 companies of one
 * agent and one visitor each, presence coalesced at the default tick; every node writes the one
 * call log, as a cluster's nodes do, and every call must be in it at the end of the round.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signalingDefaults } from '../../config/config.js';
import { connectCallPairs, settle, TokenIssuer, type Placement } from './call-setup-clients.js';
import { CallLoad } from './call-setup-load.js';
import { measureCallRound, verifyCallLog, type RoundTiming } from './call-setup-round.js';
import { clusterCpu, splitCpu, startNodes, stopNodes, sum } from './cluster-nodes.js';
import type { RedisServer } from './redis-server.js';
import type { ServerProcess } from './server-process.js';
import { median } from './stats.js';

/** Where each loop's two users connect. */
export type CallPlacement = 'one node' | 'each call on one node' | 'every call across';

/** One way of serving the calls. */
export interface CallSetUp {
  readonly name: string;
  readonly nodes: 1 | 2;
  readonly redis: boolean;
  readonly placement: CallPlacement;
}

/** Side by side, from the call-setup benchmark's server to two nodes carrying every call across. */
export const CALL_SET_UPS: readonly CallSetUp[] = [
  { name: 'one node, no Redis', nodes: 1, redis: false, placement: 'one node' },
  { name: 'one node with Redis', nodes: 1, redis: true, placement: 'one node' },
  {
    name: 'two nodes, each call on one node',
    nodes: 2,
    redis: true,
    placement: 'each call on one node',
  },
  { name: 'two nodes, every call across', nodes: 2, redis: true, placement: 'every call across' },
];

/** The presence tick of every set-up: the default, coalesced. */
export const CLUSTER_CALLS_TICK_MS = signalingDefaults().presenceTickMs;

/** How the call part runs. */
export interface ClusterCallsOptions extends RoundTiming {
  readonly rounds: number;
  readonly loops: number;
  readonly serversDir: string;
  readonly serverCpu: number | undefined;
  readonly log: (line: string) => void;
}

/** One round's figures (flat out, except the latencies). */
export interface ClusterCallsFigures {
  readonly callsPerSec: number;
  /** Every node's CPU together, per call (their call-log workers included). */
  readonly nodesUsPerCall: number;
  readonly redisUsPerCall: number;
  /** Share of the servers' one core that the nodes and Redis used together. */
  readonly serversBusy: number;
  readonly generatorBusy: number;
  /** Paced at half the flat-out rate: `call_request` sent to `webrtc_answer` received. */
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly loggedCalls: number;
}

/** All rounds of one set-up and their medians. */
export interface ClusterCallsResult {
  readonly setUp: CallSetUp;
  readonly rounds: readonly ClusterCallsFigures[];
  readonly median: ClusterCallsFigures;
}

/** Each loop's node: both users on it, or its visitor there and its agent on the other node. */
function placementOf(setUp: CallSetUp, nodes: readonly ServerProcess[]): Placement {
  const port = (i: number) => nodes[i % nodes.length]!.port;
  switch (setUp.placement) {
    case 'one node':
    case 'each call on one node':
      return (_role, index) => port(index);
    case 'every call across':
      // Half the visitors on each node, so that both nodes do the same work.
      return (role, index) => port(role === 'visitor' ? index : index + 1);
    default: {
      const unreachable: never = setUp.placement;
      throw new Error(`unknown placement ${String(unreachable)}`);
    }
  }
}

async function runRound(
  setUp: CallSetUp,
  redis: RedisServer,
  options: ClusterCallsOptions,
  nodeArgs: readonly string[] = [],
): Promise<ClusterCallsFigures> {
  const dir = mkdtempSync(join(tmpdir(), 'calldocker-bench-cluster-'));
  const dbPath = join(dir, 'calls.db');
  const tokens = new TokenIssuer();
  const shared = setUp.redis ? redis : undefined;
  let nodes: ServerProcess[] = [];
  let load: CallLoad | undefined;
  try {
    await redis.flush();
    nodes = await startNodes({
      serversDir: options.serversDir,
      script: 'calldocker-logged.js',
      count: setUp.nodes,
      redis: shared,
      cpu: options.serverCpu,
      env: {
        BENCH_JWT_SECRET: tokens.secret,
        BENCH_DATABASE_URL: `sqlite:${dbPath}`,
        PRESENCE_TICK_MS: String(CLUSTER_CALLS_TICK_MS),
      },
      nodeArgs,
    });
    const pairs = await connectCallPairs(
      placementOf(setUp, nodes),
      tokens,
      'spread',
      options.loops,
    );
    load = new CallLoad(pairs);
    await settle(pairs, CLUSTER_CALLS_TICK_MS);
    const round = await measureCallRound(load, clusterCpu(nodes, shared), options);
    const loggedCalls = await verifyCallLog(dbPath, round.totalCalls);
    const { flatOut } = round;
    const { nodesUs, redisUs } = splitCpu(flatOut.cpuUs, nodes.length);
    return {
      callsPerSec: flatOut.calls / flatOut.seconds,
      nodesUsPerCall: sum(nodesUs) / flatOut.calls,
      redisUsPerCall: redisUs / flatOut.calls,
      serversBusy: (sum(nodesUs) + redisUs) / 1e6 / flatOut.seconds,
      generatorBusy: flatOut.generatorUs / 1e6 / flatOut.seconds,
      p50Ms: round.p50Ms,
      p99Ms: round.p99Ms,
      loggedCalls,
    };
  } finally {
    load?.close();
    await stopNodes(nodes);
    rmSync(dir, { recursive: true, force: true });
  }
}

const KEYS = [
  'callsPerSec',
  'nodesUsPerCall',
  'redisUsPerCall',
  'serversBusy',
  'generatorBusy',
  'p50Ms',
  'p99Ms',
  'loggedCalls',
] as const satisfies readonly (keyof ClusterCallsFigures)[];

function medianOf(rounds: readonly ClusterCallsFigures[]): ClusterCallsFigures {
  const entries = KEYS.map((key) => [key, median(rounds.map((r) => r[key]))] as const);
  return Object.fromEntries(entries) as Record<(typeof KEYS)[number], number>;
}

/** Runs every set-up's rounds, interleaved, on `redis`. */
export async function runClusterCalls(
  redis: RedisServer,
  options: ClusterCallsOptions,
): Promise<ClusterCallsResult[]> {
  const rounds = new Map<CallSetUp, ClusterCallsFigures[]>(CALL_SET_UPS.map((s) => [s, []]));
  for (let round = 1; round <= options.rounds; round++) {
    for (const setUp of CALL_SET_UPS) {
      const f = await runRound(setUp, redis, options);
      rounds.get(setUp)!.push(f);
      options.log(
        `  calls, ${setUp.name.padEnd(33)} round ${round}: ${Math.round(f.callsPerSec)} calls/s, ` +
          `nodes ${Math.round(f.nodesUsPerCall)} µs/call, Redis ${Math.round(f.redisUsPerCall)} ` +
          `µs/call, servers ${(f.serversBusy * 100).toFixed(0)}% busy, p99 ${f.p99Ms.toFixed(1)} ms`,
      );
    }
  }
  return CALL_SET_UPS.map((setUp) => {
    const all = rounds.get(setUp)!;
    return { setUp, rounds: all, median: medianOf(all) };
  });
}

/**
 * Runs one round of two nodes with every call across under `node --cpu-prof`, each node writing
 * its profile into `dir` when it exits.
 */
export function profileCallsAcross(
  redis: RedisServer,
  options: ClusterCallsOptions,
  dir: string,
): Promise<ClusterCallsFigures> {
  const across = CALL_SET_UPS.find((setUp) => setUp.placement === 'every call across')!;
  return runRound(across, redis, options, ['--cpu-prof', '--cpu-prof-dir', dir]);
}
