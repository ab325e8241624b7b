/**
 * The signaling nodes of a cluster under test: server processes of one compiled entry, each with
 * its own node id, sharing the benchmark's private Redis (`redis-server.ts`); or one node on its
 * own, without Redis, for the side-by-side baseline. And a CPU probe over all of them.
 */
import { join } from 'node:path';
import type { CpuProbe } from './call-setup-round.js';
import type { RedisServer } from './redis-server.js';
import { ServerProcess } from './server-process.js';

/** Every key and channel of the benchmark's nodes starts with it (their Redis is private). */
export const BENCH_REDIS_PREFIX = 'bench:';

/** How to start the nodes. */
export interface NodesOptions {
  /** The compiled entry's directory and file name. */
  readonly serversDir: string;
  readonly script: string;
  /** How many nodes. */
  readonly count: number;
  /** Their Redis; undefined for one node on its own memory (`count` must be 1). */
  readonly redis: RedisServer | undefined;
  /** CPU to pin every node to, or undefined. */
  readonly cpu: number | undefined;
  /** Environment of every node, on top of the cluster's. */
  readonly env: Readonly<Record<string, string>>;
  readonly nodeArgs?: readonly string[];
}

/**
 * Starts the nodes one after the other (`n1`, `n2`, ...), so that none migrates a shared call-log
 * file while another does. If one fails to start, those started are stopped.
 */
export async function startNodes(options: NodesOptions): Promise<ServerProcess[]> {
  if (options.redis === undefined && options.count !== 1) {
    throw new Error('several nodes need a Redis to share');
  }
  const nodes: ServerProcess[] = [];
  try {
    for (let i = 0; i < options.count; i++) {
      const cluster: Record<string, string> =
        options.redis === undefined
          ? {}
          : {
              REDIS_URL: options.redis.url,
              REDIS_PREFIX: BENCH_REDIS_PREFIX,
              NODE_ID: `n${i + 1}`,
            };
      nodes.push(
        await ServerProcess.start({
          script: join(options.serversDir, options.script),
          cpu: options.cpu,
          env: { ...options.env, ...cluster },
          nodeArgs: options.nodeArgs ?? [],
        }),
      );
    }
    return nodes;
  } catch (err) {
    await stopNodes(nodes);
    throw err;
  }
}

/** Stops every node, all at once. */
export async function stopNodes(nodes: readonly ServerProcess[]): Promise<void> {
  await Promise.all(nodes.map((node) => node.stop()));
}

/**
 * Reads the CPU time of every node, then of Redis when there is one: the order of the figures
 * the probe gives (see `call-setup-round.ts`).
 */
export function clusterCpu(nodes: readonly ServerProcess[], redis: RedisServer | undefined) {
  const probe: CpuProbe = () =>
    Promise.all([
      ...nodes.map((node) => node.cpuTimeUs()),
      ...(redis === undefined ? [] : [redis.cpuTimeUs()]),
    ]);
  return probe;
}

/** CPU of a window split as {@link clusterCpu} reads it: the nodes' and Redis's. */
export interface CpuSplit {
  /** Each node's, in order. */
  readonly nodesUs: readonly number[];
  /** Redis's; 0 without one. */
  readonly redisUs: number;
}

/** Splits a window's CPU (as {@link clusterCpu} read it for `nodes` nodes) into its parts. */
export function splitCpu(cpuUs: readonly number[], nodes: number): CpuSplit {
  return { nodesUs: cpuUs.slice(0, nodes), redisUs: cpuUs[nodes] ?? 0 };
}

/** The sum of `values`. */
export function sum(values: readonly number[]): number {
  return values.reduce((total, value) => total + value, 0);
}
