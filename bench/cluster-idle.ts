/**
 * The cluster's idle-connection benchmark (issue 10): the idle connections three nodes on this
 * machine hold, and the memory each connection takes on its node and in Redis. The clients are
 * the idle benchmark's CallDocker visitors, spread over several load processes so that none needs
 * more open files than a process may have; the nodes and Redis share the servers' CPU.
 *
 * Side by side in the same run, from the same load processes: one node without Redis holding
 * one node's share, the single node of the idle benchmark.
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { machineLine, serverOptions, type BenchContext, type Benchmark } from './lib/benchmark.js';
import { BENCH_REDIS_PREFIX, startNodes, stopNodes, sum } from './lib/cluster-nodes.js';
import { startIdleFleet, type IdleLoadProcess } from './lib/idle-fleet.js';
import { loadAverage } from './lib/machine.js';
import { RedisServer, redisServerVersion } from './lib/redis-server.js';
import type { ServerMemory, ServerProcess } from './lib/server-process.js';

/** The benchmark's heading in reports. */
const CLUSTER_IDLE_TITLE = 'Cluster: idle connections three nodes hold';

/**
 * The defaults: 3 nodes, each with as many idle visitors as its open-file limit leaves room for
 * (see {@link visitorsPerNode}), from 4 load processes: several minutes.
 */
const CLUSTER_IDLE_DEFAULTS = {
  nodes: 3,
  loadProcesses: 4,
  /** Connection attempts under way at once, per load process. */
  concurrency: 100,
  /** Wait after start-up and after the last client is idle, so the nodes are quiet. */
  settleMs: 2000,
  /** Bound on connecting all of one set-up's clients. */
  connectTimeoutMs: 600_000,
} as const;

/**
 * Files a node keeps open besides its clients' sockets (listener, Redis connections, stdio, the
 * call log: about two dozen), with room to spare.
 */
const NODE_FILE_HEADROOM = 100;

/**
 * Visitors per node when the open-file limit is unknown, and at most: the clients all connect
 * from 127.0.0.1 to the node's one port, so the loopback's ephemeral ports (about 28,000 by
 * default) bound one node's connections here whatever the limit.
 */
const FALLBACK_PER_NODE = 10_000;
const MAX_PER_NODE = 25_000;

/**
 * As many visitors per node as a process's open-file limit leaves room for (issue 10 asks what
 * three nodes hold where each process may open 20,000 files), in steps that give every load
 * process a whole share.
 */
function visitorsPerNode(limit: number | undefined, loadProcesses: number): number {
  if (limit === undefined) return FALLBACK_PER_NODE;
  const step = 25 * loadProcesses;
  return Math.min(MAX_PER_NODE, Math.floor((limit - NODE_FILE_HEADROOM) / step) * step);
}

type Options = typeof CLUSTER_IDLE_DEFAULTS & {
  readonly perNode: number;
  readonly serversDir: string;
  readonly serverCpu: number | undefined;
  readonly log: (line: string) => void;
};

/** How one node fared. */
interface NodeFigures {
  readonly connections: number;
  readonly openFiles: number;
  readonly before: ServerMemory;
  readonly after: ServerMemory;
  /** CPU it spent while its clients connected (set-up, kernel time included), in µs. */
  readonly connectCpuUs: number;
  /**
   * Its connections as the cluster records them for the dead-node clean-up (`HLEN` of its
   * record): all of them, unless another node took it for dead and cleaned up after it.
   */
  readonly recorded: number | undefined;
}

/**
 * Redis around one set-up: `used_memory` before and after, `used_memory_rss` after, and the CPU
 * it spent while the clients connected.
 */
interface RedisFigures {
  readonly before: number;
  readonly after: number;
  readonly rss: number;
  readonly connectCpuUs: number;
}

/** One set-up: its nodes, its Redis, and its clients. */
interface SetUpFigures {
  readonly name: string;
  readonly nodes: readonly NodeFigures[];
  readonly redis: RedisFigures | undefined;
  readonly connectMs: number;
  /** The most files one load process had open, and how many clients each held. */
  readonly loadOpenFiles: number;
  readonly clientsPerLoad: number;
}

interface ClusterIdleReport {
  readonly single: SetUpFigures;
  readonly cluster: SetUpFigures;
  readonly redisVersion: string;
  readonly options: Options;
  /** 1-minute load average at the start and the end of the run. */
  readonly load: readonly [number | undefined, number | undefined];
  /** `Max open files` of this process (which every process it starts inherits). */
  readonly fileLimit: number | undefined;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Files process `pid` has open, sockets included. */
function openFilesOf(pid: number | undefined): number {
  return pid === undefined ? Number.NaN : readdirSync(`/proc/${pid}/fd`).length;
}

/** The soft limit on open files of this process, from `/proc/self/limits`. */
function fileLimit(): number | undefined {
  try {
    const match = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return match === null ? undefined : Number(match[1]);
  } catch {
    return undefined;
  }
}

/**
 * Starts `count` nodes (on `redis`, or one on its own), has every load process open its share
 * of `perNode` idle visitors to each, and measures each node after a full collection, before any
 * client and once all are idle. The nodes go first at the end (the server side of each
 * connection takes the TIME_WAIT, leaving the clients' ports free), then the clients.
 */
async function runSetUp(
  name: string,
  count: number,
  redis: RedisServer | undefined,
  fleet: readonly IdleLoadProcess[],
  options: Options,
): Promise<SetUpFigures> {
  const secret = randomBytes(32).toString('hex');
  await redis?.flush();
  const nodes: ServerProcess[] = await startNodes({
    serversDir: options.serversDir,
    script: 'calldocker.js',
    count,
    redis,
    cpu: options.serverCpu,
    env: { BENCH_JWT_SECRET: secret },
    nodeArgs: ['--expose-gc'],
  });
  try {
    await sleep(options.settleMs);
    const before = await Promise.all(nodes.map((node) => node.memory()));
    if (before.some((m) => !m.collected)) throw new Error('a node could not collect');
    const redisBefore = await redis?.usedMemory();
    const cpuBefore = await Promise.all(nodes.map((node) => node.cpuTimeUs()));
    const redisCpuBefore = await redis?.cpuTimeUs();
    const perPort = options.perNode / fleet.length;
    const startedAt = performance.now();
    const connected = await Promise.all(
      fleet.map((load, i) =>
        load.request(
          {
            type: 'connect',
            ports: nodes.map((node) => node.port),
            perPort,
            // Every visitor of the set-up has its own user id.
            firstIndex: i * perPort * nodes.length,
            secret,
            concurrency: options.concurrency,
            timeoutMs: options.connectTimeoutMs,
          },
          'connected',
          options.connectTimeoutMs + 10_000,
        ),
      ),
    );
    const cpuAfter = await Promise.all(nodes.map((node) => node.cpuTimeUs()));
    const redisCpuAfter = await redis?.cpuTimeUs();
    const connectMs = performance.now() - startedAt;
    options.log(
      `  ${name}: ${sum(connected.map((c) => c.count)).toLocaleString('en-US')} idle visitors ` +
        `in ${(connectMs / 1000).toFixed(1)} s`,
    );
    await sleep(options.settleMs);
    const after = await Promise.all(nodes.map((node) => node.memory()));
    const checked = await Promise.all(
      fleet.map((load) => load.request({ type: 'check' }, 'checked', 30_000)),
    );
    const dropped = sum(connected.map((c) => c.count)) - sum(checked.map((c) => c.open));
    if (dropped > 0) throw new Error(`${name}: ${dropped} idle clients were disconnected`);
    const redisFigures =
      redis === undefined || redisBefore === undefined
        ? undefined
        : {
            before: redisBefore,
            after: await redis.usedMemory(),
            rss: await redis.rss(),
            connectCpuUs: redisCpuAfter! - redisCpuBefore!,
          };
    const recorded = await Promise.all(
      nodes.map((_node, i) => redis?.hashLength(`${BENCH_REDIS_PREFIX}conns:n${i + 1}`)),
    );
    return {
      name,
      nodes: nodes.map((node, i) => ({
        connections: perPort * fleet.length,
        openFiles: openFilesOf(node.pid),
        before: before[i]!,
        after: after[i]!,
        connectCpuUs: cpuAfter[i]! - cpuBefore[i]!,
        recorded: recorded[i],
      })),
      redis: redisFigures,
      connectMs,
      loadOpenFiles: Math.max(...checked.map((c) => c.fds)),
      clientsPerLoad: perPort * nodes.length,
    };
  } finally {
    await stopNodes(nodes);
    await Promise.all(fleet.map((load) => load.request({ type: 'close' }, 'closed', 30_000)));
  }
}

const heapOf = (memory: ServerMemory) => memory.heapUsed + memory.external;
const number = (value: number, digits = 0) =>
  value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const kb = (bytes: number) => number(bytes / 1000, 2);
const mb = (bytes: number) => number(bytes / 1e6, 1);

function nodeRow(setUp: SetUpFigures, node: NodeFigures, i: number): string {
  const n = node.connections;
  return (
    `| ${setUp.name} | ${setUp.nodes.length > 1 ? `n${i + 1}` : 'alone'} | ${number(n)} | ` +
    `${node.recorded === undefined ? '—' : number(node.recorded)} | ` +
    `${number(node.openFiles)} | ${mb(node.after.rss)} | ` +
    `${kb((heapOf(node.after) - heapOf(node.before)) / n)} | ` +
    `${kb((node.after.rss - node.before.rss) / n)} | ${number(node.connectCpuUs / n)} |`
  );
}

/** Connections whose node's record in Redis is missing: a live node reaped as dead. */
function unrecorded(setUp: SetUpFigures): number {
  return sum(setUp.nodes.map((n) => (n.recorded === undefined ? 0 : n.connections - n.recorded)));
}

/** The table and what it says (for the terminal and the docs alike). */
function table(report: ClusterIdleReport): string {
  const { single, cluster } = report;
  const perConn = (setUp: SetUpFigures, pick: (n: NodeFigures) => number) =>
    sum(setUp.nodes.map(pick)) / sum(setUp.nodes.map((n) => n.connections));
  const heapCluster = perConn(cluster, (n) => heapOf(n.after) - heapOf(n.before));
  const heapSingle = perConn(single, (n) => heapOf(n.after) - heapOf(n.before));
  const rssCluster = perConn(cluster, (n) => n.after.rss - n.before.rss);
  const rssSingle = perConn(single, (n) => n.after.rss - n.before.rss);
  const cpuCluster = perConn(cluster, (n) => n.connectCpuUs);
  const cpuSingle = perConn(single, (n) => n.connectCpuUs);
  const total = sum(cluster.nodes.map((n) => n.connections));
  const redis = cluster.redis!;
  const redisPerConn = (redis.after - redis.before) / total;
  const missing = unrecorded(cluster);
  return [
    '| set-up | node | idle connections | recorded in Redis | open files | RSS MB | heap KB/conn | RSS KB/conn | CPU µs/conn to connect |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...single.nodes.map((node, i) => nodeRow(single, node, i)),
    ...cluster.nodes.map((node, i) => nodeRow(cluster, node, i)),
    '',
    `Three nodes held **${number(total)}** idle connections, ` +
      `${number(cluster.nodes[0]!.connections)} each, at **${kb(heapCluster)} KB heap and ` +
      `${kb(rssCluster)} KB RSS per connection** on its node (one node without Redis: ` +
      `${kb(heapSingle)} KB and ${kb(rssSingle)} KB, so ${number(heapCluster / heapSingle, 2)}x ` +
      `and ${number(rssCluster / rssSingle, 2)}x), and **${number(redisPerConn)} bytes per ` +
      `connection in Redis** (\`used_memory\` ${mb(redis.before)} MB before, ${mb(redis.after)} ` +
      `MB after, RSS ${mb(redis.rss)} MB).`,
    `Connecting cost each node ${number(cpuCluster)} µs of CPU per connection and Redis ` +
      `${number(redis.connectCpuUs / total)} µs (one node alone: ${number(cpuSingle)} µs). It ` +
      `took ${number(cluster.connectMs / 1000, 1)} s for the three nodes ` +
      `(${number(total / (cluster.connectMs / 1000))} connections/s, nodes and Redis on one ` +
      `core) and ${number(single.connectMs / 1000, 1)} s for the one node alone. Each load ` +
      `process held ${number(cluster.clientsPerLoad)} clients and at most ` +
      `${number(cluster.loadOpenFiles)} open files` +
      (report.fileLimit === undefined
        ? '.'
        : ` of the ${number(report.fileLimit)} a process may open.`),
    ...(missing === 0
      ? []
      : [
          `**${number(missing)} connections were missing from their node's record in Redis**: ` +
            'another node took their node for dead (its heartbeat key expired while it was ' +
            'busy connecting) and cleaned up after it, while it still held them.',
        ]),
  ].join('\n');
}

function docSection(report: ClusterIdleReport, machine: string, command: string): string {
  const o = report.options;
  const [start, end] = report.load;
  const loadNote =
    start === undefined || end === undefined
      ? ''
      : ` The machine is shared: its 1-minute load average was ${number(start, 1)} at the ` +
        `start and ${number(end, 1)} at the end (2 CPUs); memory per connection does not depend ` +
        'on it, the connection rate does.';
  return [
    `## ${CLUSTER_IDLE_TITLE}`,
    '',
    `Measured ${new Date().toISOString().slice(0, 10)} with \`${command}\`.`,
    `Machine: ${machine} Redis ${report.redisVersion}, started by the benchmark on a free ` +
      'loopback port (`--save "" --appendonly no`), pinned with the nodes.' +
      loadNote,
    '',
    table(report),
    '',
    `Load: ${number(o.nodes * o.perNode)} idle visitors, ${number(o.perNode)} on each of ` +
      `${o.nodes} nodes in cluster mode (the real server with \`REDIS_URL\`, its store, channel, ` +
      "heartbeat and dead-node check in Redis), each the idle benchmark's connection: a visitor " +
      'authenticated by JWT, all of one company, waiting in `public-calls`, idle once it has ' +
      `\`connection_established\` and \`agent_list\`. They are opened by ${o.loadProcesses} ` +
      `load processes, each holding its share of every node's (${number(report.cluster.clientsPerLoad)} ` +
      `clients), ${o.concurrency} connecting at a time per process, all within ` +
      `${o.connectTimeoutMs / 1000} s or the run fails. Before them, the same processes open ` +
      `${number(o.perNode)} to one node without Redis. ${number(o.perNode)} per node is what ` +
      `the open-file limit leaves room for (${NODE_FILE_HEADROOM} files kept for the node's ` +
      'own). One round: memory per connection ' +
      'hardly varies between rounds (the idle benchmark shows its rounds side by side).',
    '',
    '- **heap**, **RSS**: as in the idle benchmark, each node measures itself after two full ' +
      'garbage collections, once before any client and once ' +
      `${o.settleMs / 1000} s after the last one was idle; the difference over the node's ` +
      "connections. **RSS MB**: the node's whole resident memory with its clients.",
    "- **recorded in Redis**: the node's record of its connections (`HLEN` of its hash), which " +
      'another node uses to clean up after it should it die: all of them, unless another node ' +
      "took it for dead. **CPU µs/conn to connect**: the node's CPU (user + system, its kernel " +
      'time for the sockets included) from the first client to the last idle one, over its ' +
      'connections; the time connecting took depends on what else ran on the machine, this does ' +
      'not.',
    "- **open files**: the node's, from `/proc/<pid>/fd` (its sockets, Redis connections and " +
      'the rest); a node may hold about as many connections as its open-file limit allows, less ' +
      'a few dozen.',
    '- **Redis**: `used_memory` of `INFO memory` before the clients and with them (each ' +
      "connection's entries: its user's connections, its room membership, and its node's record " +
      'of it for the dead-node clean-up).',
  ].join('\n');
}

/** The cluster's idle-connection benchmark: `--only cluster-idle`. */
export const clusterIdleBenchmark: Benchmark = {
  id: 'cluster-idle',
  title: CLUSTER_IDLE_TITLE,
  async run(ctx: BenchContext) {
    const redisVersion = redisServerVersion();
    if (redisVersion === undefined) {
      return { skipped: 'redis-server is not installed (it runs a private one for the run)' };
    }
    const { serversDir, serverCpu, log } = serverOptions(ctx, false);
    const perNode = visitorsPerNode(fileLimit(), CLUSTER_IDLE_DEFAULTS.loadProcesses);
    const options: Options = { ...CLUSTER_IDLE_DEFAULTS, perNode, serversDir, serverCpu, log };
    const startLoad = loadAverage();
    const redis = await RedisServer.start(serverCpu);
    let fleet: IdleLoadProcess[] = [];
    try {
      fleet = await startIdleFleet(options.loadProcesses);
      const single = await runSetUp('one node, no Redis', 1, undefined, fleet, options);
      const cluster = await runSetUp('three nodes', options.nodes, redis, fleet, options);
      const report: ClusterIdleReport = {
        single,
        cluster,
        redisVersion,
        options,
        load: [startLoad, loadAverage()],
        fileLimit: fileLimit(),
      };
      const machine = machineLine(ctx.machine, ctx.servers().pinning);
      return { figures: table(report), docSection: docSection(report, machine, ctx.command) };
    } finally {
      await Promise.all(fleet.map((load) => load.stop()));
      await redis.stop();
    }
  },
};
