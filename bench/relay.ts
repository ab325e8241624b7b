/**
 * The relay benchmark: server CPU per relayed message, throughput and relay latency for
 * CallDocker, a bare `ws` JSON relay and the peers (the PeerJS server, a minimal Socket.IO
 * relay), in interleaved rounds (bare, CallDocker, PeerJS, Socket.IO, bare, ...), each round
 * with a fresh server process. Medians across rounds damp a shared machine's noise; the ratio
 * CallDocker/bare is the figure that matters (target: at most 1.15x), the peers' ratios put it
 * in context.
 */
import { join } from 'node:path';
import { machineLine, serverOptions, type BenchContext, type Benchmark } from './lib/benchmark.js';
import { profileInto } from './lib/cpuprofile.js';
import { runRelayLoad, type LoadOptions } from './lib/relay-load.js';
import {
  bareRelay,
  callDocker,
  peerJs,
  socketIoRelay,
  type RelayTarget,
} from './lib/relay-targets.js';
import { ServerProcess } from './lib/server-process.js';
import { median } from './lib/stats.js';

/** The benchmark's heading in reports. */
const RELAY_TITLE = 'Relay: server CPU per relayed message';

/** CallDocker's CPU per relayed message may be at most this multiple of the bare relay's. */
export const RELAY_TARGET_RATIO = 1.15;

/** How the relay benchmark runs. */
export interface RelayOptions extends LoadOptions {
  /** Rounds per server. */
  readonly rounds: number;
  /** Client pairs (each pair relays in both directions). */
  readonly pairs: number;
  /** Where the compiled server entries are. */
  readonly serversDir: string;
  /** CPU to pin the servers to, or undefined. */
  readonly serverCpu: number | undefined;
  /** Progress output. */
  readonly log: (line: string) => void;
}

/** The defaults: about 7 s per round, 3 rounds of each of the four servers. */
const RELAY_DEFAULTS = {
  rounds: 3,
  pairs: 50,
  window: 16,
  warmupMs: 1000,
  measureMs: 5000,
} as const;

/** One round's figures. */
export interface RelayFigures {
  readonly cpuUsPerMessage: number;
  readonly messagesPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Share of one core the server used over the measured window. */
  readonly serverBusy: number;
  /** Share of one core the load generator used. */
  readonly generatorBusy: number;
}

/** All rounds of one server and the median of each figure. */
export interface RelayResult {
  readonly target: string;
  /** What its clients send, and the size of one frame in bytes. */
  readonly frame: { readonly note: string; readonly bytes: number };
  readonly rounds: readonly RelayFigures[];
  readonly median: RelayFigures;
}

/** The relay benchmark's outcome. */
export interface RelayReport {
  readonly bare: RelayResult;
  readonly callDocker: RelayResult;
  /** The PeerJS server and the Socket.IO relay. */
  readonly peers: readonly RelayResult[];
  /** Median CPU per message of CallDocker over the bare relay's. */
  readonly ratio: number;
  readonly options: Omit<RelayOptions, 'log' | 'serversDir'>;
}

async function runRound(
  target: RelayTarget,
  options: RelayOptions,
  nodeArgs: readonly string[] = [],
): Promise<RelayFigures> {
  const server = await ServerProcess.start({
    script: join(options.serversDir, target.script),
    cpu: options.serverCpu,
    env: target.env,
    nodeArgs,
  });
  const pairs = await target.connectPairs(server.port, options.pairs).catch(async (err) => {
    await server.stop();
    throw err;
  });
  try {
    const cpu = async () => [await server.cpuTimeUs()];
    const load = await runRelayLoad(pairs, target.wire, cpu, options);
    const seconds = load.elapsedMs / 1000;
    const serverUs = load.serverCpuUs[0]!;
    return {
      cpuUsPerMessage: serverUs / load.messages,
      messagesPerSec: load.messages / seconds,
      p50Ms: load.latencyMs.percentile(50),
      p99Ms: load.latencyMs.percentile(99),
      serverBusy: serverUs / 1e6 / seconds,
      generatorBusy: load.generatorCpuUs / 1e6 / seconds,
    };
  } finally {
    for (const { a, b } of pairs) {
      a.terminate();
      b.terminate();
    }
    await server.stop();
  }
}

function medianOf(rounds: readonly RelayFigures[]): RelayFigures {
  const of = (key: keyof RelayFigures) => median(rounds.map((r) => r[key]));
  return {
    cpuUsPerMessage: of('cpuUsPerMessage'),
    messagesPerSec: of('messagesPerSec'),
    p50Ms: of('p50Ms'),
    p99Ms: of('p99Ms'),
    serverBusy: of('serverBusy'),
    generatorBusy: of('generatorBusy'),
  };
}

function describeRound(target: string, round: number, figures: RelayFigures): string {
  return (
    `  ${target.padEnd(16)} round ${round}: ${figures.cpuUsPerMessage.toFixed(2)} µs/msg, ` +
    `${Math.round(figures.messagesPerSec).toLocaleString('en-US')} msg/s, ` +
    `p50 ${figures.p50Ms.toFixed(2)} ms, p99 ${figures.p99Ms.toFixed(2)} ms, ` +
    `server ${(figures.serverBusy * 100).toFixed(0)}% busy, ` +
    `generator ${(figures.generatorBusy * 100).toFixed(0)}% busy`
  );
}

/** Runs the interleaved rounds and returns the medians and the ratio. */
async function runRelayBenchmark(options: RelayOptions): Promise<RelayReport> {
  const targets = [bareRelay, callDocker(), peerJs, socketIoRelay];
  const rounds = new Map<RelayTarget, RelayFigures[]>(targets.map((t) => [t, []]));
  for (let round = 1; round <= options.rounds; round++) {
    for (const target of targets) {
      const figures = await runRound(target, options);
      rounds.get(target)!.push(figures);
      options.log(describeRound(target.name, round, figures));
    }
  }
  const resultOf = (target: RelayTarget): RelayResult => {
    const all = rounds.get(target)!;
    const frame = { note: target.frameNote, bytes: target.sampleFrame.length };
    return { target: target.name, frame, rounds: all, median: medianOf(all) };
  };
  const [bare, ours, ...peers] = targets.map(resultOf) as [
    RelayResult,
    RelayResult,
    ...RelayResult[],
  ];
  const { rounds: count, pairs, window, warmupMs, measureMs, serverCpu } = options;
  return {
    bare,
    callDocker: ours,
    peers,
    ratio: ours.median.cpuUsPerMessage / bare.median.cpuUsPerMessage,
    options: { rounds: count, pairs, window, warmupMs, measureMs, serverCpu },
  };
}

/**
 * Runs one more CallDocker round under `node --cpu-prof`; the profile is written to
 * `profileDir` when the server exits.
 */
async function profileCallDockerRelay(
  options: RelayOptions,
  profileDir: string,
): Promise<RelayFigures> {
  return runRound(callDocker(), options, ['--cpu-prof', '--cpu-prof-dir', profileDir]);
}

const number = (value: number, digits = 0) =>
  value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

/** The report as a Markdown table and a verdict line (for the terminal and the docs alike). */
function relayTable(report: RelayReport): string {
  const bareUs = report.bare.median.cpuUsPerMessage;
  const row = (result: RelayResult) => {
    const m = result.median;
    return (
      `| ${result.target} | ${number(m.cpuUsPerMessage, 2)} | ` +
      `${number(m.cpuUsPerMessage / bareUs, 2)}x | ${number(m.messagesPerSec)} | ` +
      `${number(m.p50Ms, 2)} | ${number(m.p99Ms, 2)} | ${number(m.serverBusy * 100)}% | ` +
      `${number(m.generatorBusy * 100)}% |`
    );
  };
  const all = [report.bare, report.callDocker, ...report.peers];
  const perRound = all
    .map(
      (result) =>
        `${result.target} ${result.rounds.map((r) => number(r.cpuUsPerMessage, 2)).join(', ')}`,
    )
    .join('; ');
  // Each server's round over the bare round of the same pass: shows how much drift there was.
  const paired = (result: RelayResult) =>
    result.rounds
      .map((r, i) => number(r.cpuUsPerMessage / report.bare.rounds[i]!.cpuUsPerMessage, 2))
      .join(', ');
  const peers = report.peers
    .map((peer) => `${peer.target} / bare ${number(peer.median.cpuUsPerMessage / bareUs, 2)}x`)
    .join(', ');
  const verdict = report.ratio <= RELAY_TARGET_RATIO ? 'within' : 'OVER';
  return [
    '| server | server CPU µs/msg | vs bare | msgs/s | latency p50 ms | latency p99 ms | server core busy | generator core busy |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...all.map(row),
    '',
    `CallDocker / bare: **${number(report.ratio, 2)}x** (${verdict} the ${RELAY_TARGET_RATIO}x target). ` +
      `The peers: ${peers}.`,
    `Server CPU µs/msg per round: ${perRound}. Round by round ratios to bare: ` +
      [report.callDocker, ...report.peers]
        .map((result) => `${result.target} ${paired(result)}`)
        .join('; ') +
      '.',
  ].join('\n');
}

/** The docs/BENCHMARKS.md section: heading, how it was measured, the table, how to read it. */
function relayDocSection(report: RelayReport, machine: string, command: string): string {
  const o = report.options;
  const frames = [report.bare, report.callDocker, ...report.peers]
    .map((result) => `${result.target}: ${result.frame.note}, ${result.frame.bytes} bytes`)
    .join('; ');
  return [
    `## ${RELAY_TITLE}`,
    '',
    `Measured ${new Date().toISOString().slice(0, 10)} with \`${command}\`.`,
    `Machine: ${machine}`,
    '',
    relayTable(report),
    '',
    `Load: ${o.pairs} pairs of clients, each client sending ICE candidate frames to its peer ` +
      `with at most ${o.window} in flight; ` +
      `${o.warmupMs / 1000} s warm-up, then ${o.measureMs / 1000} s measured; ` +
      `${o.rounds} rounds per server, interleaved, each with a fresh server process; ` +
      "medians shown. Every frame carries the same ICE candidate, in each server's own " +
      `message format (${frames}). ` +
      'CallDocker relays between a visitor and an agent with an answered call ' +
      '(JWT-authenticated at connection, then every frame rate-limited, schema-validated, ' +
      'authorised and counted in the metrics); the bare relay parses, stamps `fromUserId` and ' +
      're-serialises, nothing else. The peers, as dev dependencies: the PeerJS server ' +
      '(`peer` package, `PeerServer` with its defaults, its client and heartbeat limits raised ' +
      'for the idle benchmark) relays between two registered peers, setting `src`; the ' +
      'Socket.IO relay (`socket.io` server, WebSocket transport only) receives an event, stamps ' +
      '`fromUserId` and emits it to the other socket of the pair, its clients connected by ' +
      "`socket.io-client` with `transports: ['websocket']`. The load generator drives every " +
      'server through plain `ws` sockets with prepared frames (under Socket.IO, the sockets ' +
      '`socket.io-client` opened, the library still handling its heartbeats), so its own cost ' +
      'per message is the same for all four.',
    '',
    '- **server CPU µs/msg**: user + system CPU of the server process over the measured ' +
      'window (`process.cpuUsage()`, every thread) divided by the frames peers received. It ' +
      'holds even when the load generator, not the server, is the bottleneck.',
    '- **latency**: from send to receipt at the peer (both clients live in the load generator).',
    '- **server core busy**: share of its core the server used; well under 100% means the ' +
      'server was not what set the pace (the load generator or other work on the machine was). ' +
      '**generator core busy** is the same for the load generator.',
    '- The ratio is what matters: the machine is shared and absolute times drift between ' +
      'runs, while all servers meet the same conditions within one run.',
  ].join('\n');
}

/** The relay options for `ctx`: the defaults, with the command line's rounds and seconds. */
function relayOptions(ctx: BenchContext): RelayOptions {
  return { ...RELAY_DEFAULTS, ...serverOptions(ctx, true) };
}

/** The relay benchmark: `--only relay`. */
export const relayBenchmark: Benchmark = {
  id: 'relay',
  title: RELAY_TITLE,
  async run(ctx) {
    const report = await runRelayBenchmark(relayOptions(ctx));
    const machine = machineLine(ctx.machine, ctx.servers().pinning);
    return {
      figures: relayTable(report),
      docSection: relayDocSection(report, machine, ctx.command),
    };
  },
  profile(ctx) {
    ctx.log('Profiling one CallDocker relay round under node --cpu-prof (start-up included)');
    return profileInto((dir) => profileCallDockerRelay(relayOptions(ctx), dir));
  },
};
