/**
 * The cluster benchmark's relay part: CPU per relayed message with both parties on one node and
 * with the visitor on node A and its agent on node B, where every frame goes from A through
 * Redis pub/sub to B. The same pairs, frames and load as the relay benchmark
 * (`relay-targets.ts`, `relay-load.ts`), the set-ups in interleaved rounds, each on fresh
 * processes and an emptied Redis.
 */
import type { WebSocket } from 'ws';
import { clusterCpu, splitCpu, startNodes, stopNodes, sum } from './cluster-nodes.js';
import type { RedisServer } from './redis-server.js';
import { runRelayLoad, type LoadOptions } from './relay-load.js';
import { callDocker } from './relay-targets.js';
import { median } from './stats.js';

/** One way of serving the pairs. */
export interface RelaySetUp {
  readonly name: string;
  /** Nodes started (each pair's visitor on the first, its agent on the last). */
  readonly nodes: 1 | 2;
  /** Whether the nodes run in cluster mode, on the benchmark's Redis. */
  readonly redis: boolean;
}

/** Side by side: the single node the relay benchmark measures, a cluster node, two nodes. */
export const RELAY_SET_UPS: readonly RelaySetUp[] = [
  { name: 'one node, no Redis', nodes: 1, redis: false },
  { name: 'one node of a cluster, both parties on it', nodes: 1, redis: true },
  { name: 'two nodes: visitor on A, agent on B', nodes: 2, redis: true },
];

/** How the relay part runs. */
export interface ClusterRelayOptions extends LoadOptions {
  readonly rounds: number;
  readonly pairs: number;
  readonly serversDir: string;
  readonly serverCpu: number | undefined;
  readonly log: (line: string) => void;
}

/** One round's figures. */
export interface ClusterRelayFigures {
  /** Every node's CPU together, per message peers received. */
  readonly nodesUsPerMessage: number;
  /** Each node's share of it. */
  readonly perNodeUsPerMessage: readonly number[];
  /** Redis's CPU per message (0 without Redis). */
  readonly redisUsPerMessage: number;
  readonly messagesPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Share of the servers' one core that the nodes and Redis used together. */
  readonly serversBusy: number;
  readonly generatorBusy: number;
}

/** All rounds of one set-up and their medians. */
export interface ClusterRelayResult {
  readonly setUp: RelaySetUp;
  readonly rounds: readonly ClusterRelayFigures[];
  readonly median: ClusterRelayFigures;
}

async function runRound(
  setUp: RelaySetUp,
  redis: RedisServer,
  options: ClusterRelayOptions,
): Promise<ClusterRelayFigures> {
  const target = callDocker();
  const shared = setUp.redis ? redis : undefined;
  await redis.flush();
  const nodes = await startNodes({
    serversDir: options.serversDir,
    script: target.script,
    count: setUp.nodes,
    redis: shared,
    cpu: options.serverCpu,
    env: target.env,
  });
  const clients: WebSocket[] = [];
  try {
    const pairs = await target.connectAcross(nodes[0]!.port, nodes.at(-1)!.port, options.pairs);
    for (const { a, b } of pairs) clients.push(a, b);
    const load = await runRelayLoad(pairs, target.wire, clusterCpu(nodes, shared), options);
    const { nodesUs, redisUs } = splitCpu(load.serverCpuUs, nodes.length);
    const seconds = load.elapsedMs / 1000;
    return {
      nodesUsPerMessage: sum(nodesUs) / load.messages,
      perNodeUsPerMessage: nodesUs.map((us) => us / load.messages),
      redisUsPerMessage: redisUs / load.messages,
      messagesPerSec: load.messages / seconds,
      p50Ms: load.latencyMs.percentile(50),
      p99Ms: load.latencyMs.percentile(99),
      serversBusy: (sum(nodesUs) + redisUs) / 1e6 / seconds,
      generatorBusy: load.generatorCpuUs / 1e6 / seconds,
    };
  } finally {
    for (const ws of clients) ws.terminate();
    await stopNodes(nodes);
  }
}

function medianOf(rounds: readonly ClusterRelayFigures[]): ClusterRelayFigures {
  const of = (pick: (f: ClusterRelayFigures) => number) => median(rounds.map(pick));
  const nodes = rounds[0]!.perNodeUsPerMessage.length;
  return {
    nodesUsPerMessage: of((f) => f.nodesUsPerMessage),
    perNodeUsPerMessage: Array.from({ length: nodes }, (_, i) =>
      of((f) => f.perNodeUsPerMessage[i]!),
    ),
    redisUsPerMessage: of((f) => f.redisUsPerMessage),
    messagesPerSec: of((f) => f.messagesPerSec),
    p50Ms: of((f) => f.p50Ms),
    p99Ms: of((f) => f.p99Ms),
    serversBusy: of((f) => f.serversBusy),
    generatorBusy: of((f) => f.generatorBusy),
  };
}

/** Runs every set-up's rounds, interleaved, on `redis`. */
export async function runClusterRelay(
  redis: RedisServer,
  options: ClusterRelayOptions,
): Promise<ClusterRelayResult[]> {
  const rounds = new Map<RelaySetUp, ClusterRelayFigures[]>(RELAY_SET_UPS.map((s) => [s, []]));
  for (let round = 1; round <= options.rounds; round++) {
    for (const setUp of RELAY_SET_UPS) {
      const f = await runRound(setUp, redis, options);
      rounds.get(setUp)!.push(f);
      options.log(
        `  relay, ${setUp.name.padEnd(42)} round ${round}: nodes ` +
          `${f.nodesUsPerMessage.toFixed(2)} µs/msg, Redis ${f.redisUsPerMessage.toFixed(2)} ` +
          `µs/msg, ${Math.round(f.messagesPerSec)} msg/s, p50 ${f.p50Ms.toFixed(2)} ms, ` +
          `servers ${(f.serversBusy * 100).toFixed(0)}% busy`,
      );
    }
  }
  return RELAY_SET_UPS.map((setUp) => {
    const all = rounds.get(setUp)!;
    return { setUp, rounds: all, median: medianOf(all) };
  });
}
