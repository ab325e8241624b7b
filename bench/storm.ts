/**
 * The reconnect-storm benchmark: 15,000 clients connected to one CallDocker server pinned to
 * one CPU, mostly visitors spread over 150 companies plus one agent per company. The server is
 * killed (SIGKILL: a crash, no goodbye) and a new one started on the same port with the same
 * secret, so every token stays valid; the figure is the time from the kill until every client
 * has a new `connection_established`. Target: all back within 5 s of the kill, no client
 * giving up.
 *
 * A sample of the clients (1,000) are the real client library (`WebSocketClient` over `ws`,
 * default reconnect policy); the rest are light clients (`lib/storm-light-client.ts`) that
 * retry through the same policy code on a bare socket. Real clients live on as many machines;
 * here they would share the generator's one core, and their own handshakes, not the server,
 * would set the pace. Both kinds are reported apart, and the headline is over all of them.
 *
 * The clients live in several load processes (a process may hold at most 20,000 open files),
 * steered over IPC like the servers. Rounds restart the server again under the same clients;
 * medians across rounds damp a shared machine's noise.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { machineLine, serverOptions, type BenchContext, type Benchmark } from './lib/benchmark.js';
import { profileInto } from './lib/cpuprofile.js';
import { ServerProcess } from './lib/server-process.js';
import {
  ATTEMPT_BUCKETS,
  busyShare,
  coreTicks,
  listenOverflows,
  ownCpu,
  roundFigures,
  type PopulationFigures,
  type StormFigures,
} from './lib/storm-figures.js';
import { compileStormLoad, startFleet, type LoadProcess } from './lib/storm-fleet.js';
import type { StormLoadSpec } from './lib/storm-protocol.js';
import { RoundSampler, serverCounters } from './lib/storm-sampler.js';
import { median } from './lib/stats.js';

/** The benchmark's heading in reports. */
const STORM_TITLE = 'Reconnect storm: every client back after a server restart';

/** Every client must be back within this long of the kill. */
export const STORM_TARGET_MS = 5000;

/** How the reconnect storm runs. */
export interface StormOptions {
  /** Restarts, each under the same connected clients. */
  readonly rounds: number;
  readonly clients: number;
  /** Of the clients, how many are real `WebSocketClient`s (the rest are light clients). */
  readonly realClients: number;
  /** Companies the clients spread over; each has one agent, the rest are visitors. */
  readonly companies: number;
  /** Load processes the clients are spread over. */
  readonly processes: number;
  /** Initial connection attempts under way at once, per load process. */
  readonly connectConcurrency: number;
  /** How long the initial connection of every client may take. */
  readonly connectTimeoutMs: number;
  /** How long after the kill a round waits for clients before it gives up on them. */
  readonly roundTimeoutMs: number;
  /** Quiet time before each restart (the server finishes announcing presence). */
  readonly settleMs: number;
  /** Where the compiled server entries are. */
  readonly serversDir: string;
  /** CPU to pin the server to, or undefined. */
  readonly serverCpu: number | undefined;
  /** Extra `node` flags for the restarted servers, e.g. `--cpu-prof`. */
  readonly serverNodeArgs?: readonly string[];
  /** Progress output. */
  readonly log: (line: string) => void;
}

/** The defaults: about a minute in all. */
const STORM_DEFAULTS = {
  rounds: 3,
  clients: 15_000,
  realClients: 1000,
  companies: 150,
  processes: 4,
  connectConcurrency: 64,
  connectTimeoutMs: 60_000,
  roundTimeoutMs: 20_000,
  settleMs: 2000,
} as const;

/** The benchmark's outcome. */
export interface StormReport {
  readonly rounds: readonly StormFigures[];
  /** How long the initial connection of every client took. */
  readonly connectMs: number;
  /** What connecting one client cost the load generator, in CPU µs, by kind (initial connect). */
  readonly connectCpuUs: { readonly real: number; readonly light: number };
  /** Why fewer rounds than asked were run, if they were. */
  readonly stoppedEarly: string | undefined;
  readonly options: Omit<StormOptions, 'log' | 'serversDir' | 'serverNodeArgs'>;
}

const now = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const POLL_MS = 50;
const REQUEST_TIMEOUT_MS = 10_000;

/** The server under test, restartable on its port. */
class StormServer {
  private constructor(
    private process: ServerProcess,
    private readonly options: StormOptions,
    private readonly secret: string,
    readonly port: number,
  ) {}

  static async start(options: StormOptions): Promise<StormServer> {
    const secret = randomBytes(32).toString('hex');
    const process = await ServerProcess.start(StormServer.processOptions(options, secret));
    return new StormServer(process, options, secret, process.port);
  }

  private static processOptions(options: StormOptions, secret: string, port?: number) {
    return {
      script: join(options.serversDir, 'calldocker.js'),
      cpu: options.serverCpu,
      nodeArgs: port !== undefined ? (options.serverNodeArgs ?? []) : [],
      env: {
        BENCH_JWT_SECRET: secret,
        ...(port !== undefined ? { BENCH_PORT: String(port) } : {}),
      },
    };
  }

  /**
   * Kills the server (a crash) and, once it is gone, starts a new one on the same port with the
   * same secret. Resolves with when the old process was gone.
   */
  async crashAndRestart(): Promise<number> {
    await this.process.kill();
    const exitedAt = now();
    this.process = await ServerProcess.start(
      StormServer.processOptions(this.options, this.secret, this.port),
    );
    return exitedAt;
  }

  cpuTimeUs(): Promise<number> {
    return this.process.cpuTimeUs();
  }

  stop(): Promise<void> {
    return this.process.stop();
  }

  get jwtSecret(): string {
    return this.secret;
  }
}

const onEvery = <T>(fleet: readonly LoadProcess[], ask: (load: LoadProcess) => Promise<T>) =>
  Promise.all(fleet.map(ask));

/** Connects every client; resolves with how long it took and its CPU cost per client by kind. */
async function connectFleet(
  fleet: readonly LoadProcess[],
  server: StormServer,
  options: StormOptions,
): Promise<{ ms: number; cpuUs: StormReport['connectCpuUs'] }> {
  const startedAt = now();
  const replies = await onEvery(fleet, (load) => {
    const spec: StormLoadSpec = {
      port: server.port,
      secret: server.jwtSecret,
      total: options.clients,
      index: load.index,
      processes: fleet.length,
      companies: options.companies,
      realClients: options.realClients,
      connectConcurrency: options.connectConcurrency,
    };
    return load.request({ type: 'connect', spec }, 'connected', options.connectTimeoutMs);
  });
  const errors = replies.flatMap((r) => r.errors);
  const connected = replies.reduce((n, r) => n + r.clients, 0);
  if (errors.length > 0 || connected !== options.clients) {
    throw new Error(
      `${connected} of ${options.clients} clients connected; first error: ${errors[0] ?? 'none'}`,
    );
  }
  const total = (key: 'real' | 'realCpuUs' | 'light' | 'lightCpuUs') =>
    replies.reduce((n, r) => n + r[key], 0);
  return {
    ms: now() - startedAt,
    cpuUs: {
      real: total('realCpuUs') / total('real'),
      light: total('lightCpuUs') / total('light'),
    },
  };
}

/** Whether every client is connected, waiting up to another round's time for stragglers. */
async function allConnected(fleet: readonly LoadProcess[], options: StormOptions) {
  const deadline = now() + options.roundTimeoutMs;
  for (;;) {
    const progress = await onEvery(fleet, (load) =>
      load.request({ type: 'progress' }, 'progress', REQUEST_TIMEOUT_MS),
    );
    if (progress.reduce((n, p) => n + p.connected, 0) >= options.clients) return true;
    if (now() > deadline) return false;
    await sleep(POLL_MS * 4);
  }
}

/** How often the server side is sampled during a round (each sample runs `ss` once). */
const SAMPLE_MS = 200;

/** One restart: arm the clients, kill, restart, wait for every client, collect. */
async function runRound(
  fleet: readonly LoadProcess[],
  server: StormServer,
  options: StormOptions,
): Promise<StormFigures> {
  const loadCpu = ownCpu();
  const armedAt = now();
  const loadCoreAtArm = coreTicks(loadCpu);
  await onEvery(fleet, (load) => load.request({ type: 'arm' }, 'armed', REQUEST_TIMEOUT_MS));
  const overflowsBefore = listenOverflows();
  const killedAt = now();
  const exitedAt = await server.crashAndRestart();
  const listeningAt = now();
  const cpuAtListening = await server.cpuTimeUs();
  const coreAtListening = coreTicks(options.serverCpu);

  const sampler = new RoundSampler(server.port, SAMPLE_MS);
  const deadline = killedAt + options.roundTimeoutMs;
  for (;;) {
    const progress = await onEvery(fleet, (load) =>
      load.request({ type: 'progress' }, 'progress', REQUEST_TIMEOUT_MS),
    );
    const settled = progress.reduce((n, p) => n + p.back + p.gaveUp, 0);
    if (settled >= options.clients || now() > deadline) break;
    await sleep(POLL_MS);
  }
  const sampled = await sampler.stop();
  const serverCpuUs = (await server.cpuTimeUs()) - cpuAtListening;
  const serverCoreBusy = busyShare(coreAtListening, coreTicks(options.serverCpu));
  const cpuReadAt = now();
  const results = await onEvery(fleet, (load) =>
    load.request({ type: 'collect' }, 'result', REQUEST_TIMEOUT_MS),
  );
  const collectedAt = now();
  const generatorCoreBusy = busyShare(loadCoreAtArm, coreTicks(loadCpu));
  const overflowsAfter = listenOverflows();
  const overflows =
    overflowsBefore === undefined || overflowsAfter === undefined
      ? undefined
      : overflowsAfter - overflowsBefore;
  return roundFigures(
    results,
    {
      killedAt,
      exitedAt,
      listeningAt,
      cpuReadAt,
      serverCpuUs,
      serverCoreBusy,
      armedAt,
      collectedAt,
      generatorCoreBusy,
      sampled,
    },
    await serverCounters(server.port).catch((err: Error) => {
      options.log(`  ${err.message}`);
      return { accepted: Number.NaN, authFailures: Number.NaN };
    }),
    overflows,
  );
}

const number = (value: number, digits = 0) =>
  Number.isNaN(value)
    ? 'n/a'
    : value.toLocaleString('en-US', {
        minimumFractionDigits: digits,
        maximumFractionDigits: digits,
      });
const seconds = (ms: number) => (Number.isNaN(ms) ? 'n/a' : `${number(ms / 1000, 2)} s`);
/** All-back times: NaN means some client never came back. */
const allBackTime = (ms: number) => (Number.isNaN(ms) ? 'not all back' : seconds(ms));
const percent = (share: number) => `${number(share * 100)}%`;
const millis = (ms: number) => `${number(ms)} ms`;
const roundCount = (n: number) => `${n} round${n === 1 ? '' : 's'}`;

function describePopulation(name: string, p: PopulationFigures): string {
  return (
    `${name} ${number(p.back)}/${number(p.clients)} back, all ${allBackTime(p.allBackMs)}, ` +
    `p50 ${seconds(p.p50Ms)}, p99 ${seconds(p.p99Ms)}, ${p.gaveUp} gave up`
  );
}

function describeRound(round: number, f: StormFigures): string {
  return [
    `  round ${round}: all back ${allBackTime(f.allBackMs)} after the kill ` +
      `(server down ${seconds(f.downtimeMs)}), p50 ${seconds(f.p50Ms)}, p99 ${seconds(f.p99Ms)}, ` +
      `${number(f.back)}/${number(f.clients)} back, ${f.gaveUp} gave up`,
    `    ${describePopulation('real', f.real)}; ${describePopulation('light', f.light)}`,
    `    old process gone after ${millis(f.exitMs)}; drop seen p50 ${millis(f.dropSeenP50Ms)}, ` +
      `last ${millis(f.dropSeenMaxMs)}; first attempt p50 ${millis(f.firstAttemptP50Ms)}, last ` +
      `${millis(f.firstAttemptMaxMs)}; load loop delay p99 ${millis(f.loopDelayP99Ms)}, max ` +
      `${millis(f.loopDelayMaxMs)}`,
    `    ${number(f.attempts)} attempts (${number(f.refused)} refused, ${number(f.upgraded)} ` +
      `upgraded, ${number(f.otherFailures)} other), max ${f.maxAttempts} per client; ` +
      `handshake p50 ${millis(f.handshakeP50Ms)}, p99 ${millis(f.handshakeP99Ms)}; ` +
      `server accepted all ${seconds(f.serverAllAcceptedMs)} after the kill, best ` +
      `${number(f.serverPeakAcceptPerSec)}/s; accept queue peak ${number(f.acceptQueuePeak)}/` +
      `${number(f.acceptQueueLimit)}; listen overflows ${f.listenOverflows ?? 'n/a'}`,
    `    server ${percent(f.serverBusy)} busy (its core ${percent(f.serverCoreBusy)}), ` +
      `${number(f.serverCpuPerConnectionUs)} µs per connection; generator ` +
      `${percent(f.generatorBusy)} (its core ${percent(f.generatorCoreBusy)}); close codes ` +
      `${JSON.stringify(f.closeCodes)}`,
  ].join('\n');
}

/**
 * Runs the benchmark: one server, the clients connected once, then `rounds` crash-restarts.
 * @throws Error when the clients cannot all connect in the first place.
 */
async function runStormBenchmark(options: StormOptions): Promise<StormReport> {
  const loadScript = compileStormLoad();
  const server = await StormServer.start(options);
  // Each process's own bound, should this one stop talking to it: every phase's limit, doubled.
  const lifetimeMs =
    2 *
    (options.connectTimeoutMs + options.rounds * (2 * options.roundTimeoutMs + options.settleMs));
  let fleet: LoadProcess[] = [];
  try {
    fleet = await startFleet(loadScript, options.processes, lifetimeMs);
    const connected = await connectFleet(fleet, server, options);
    const connectMs = connected.ms;
    options.log(
      `  ${number(options.clients)} clients connected in ${seconds(connectMs)} ` +
        `over ${fleet.length} load processes; generator CPU per connection: real client ` +
        `${number(connected.cpuUs.real)} µs, light client ${number(connected.cpuUs.light)} µs`,
    );
    const rounds: StormFigures[] = [];
    let stoppedEarly: string | undefined;
    for (let round = 1; round <= options.rounds; round++) {
      await sleep(options.settleMs);
      const figures = await runRound(fleet, server, options);
      rounds.push(figures);
      options.log(describeRound(round, figures));
      // A round may only start with every client connected, or it would count stragglers.
      if (round < options.rounds && !(await allConnected(fleet, options))) {
        stoppedEarly = `after round ${round}: not every client was back ${
          (2 * options.roundTimeoutMs) / 1000
        } s after the kill`;
        options.log(`  stopped ${stoppedEarly}`);
        break;
      }
    }
    const { log: _log, serversDir: _dir, serverNodeArgs: _args, ...rest } = options;
    return { rounds, connectMs, connectCpuUs: connected.cpuUs, stoppedEarly, options: rest };
  } finally {
    await Promise.all(fleet.map((load) => load.stop()));
    await server.stop();
  }
}

/**
 * Runs one round with the restarted server under `node --cpu-prof`; the profile (of the new
 * server from its start until the clients are stopped) is written to `profileDir`.
 */
async function profileStorm(options: StormOptions, profileDir: string): Promise<void> {
  await runStormBenchmark({
    ...options,
    rounds: 1,
    serverNodeArgs: ['--cpu-prof', '--cpu-prof-dir', profileDir],
  });
}

/** The median of a figure across rounds (NaN, shown as "not all back", wins if most are NaN). */
function medianOf(report: StormReport, figure: (f: StormFigures) => number): number {
  const values = report.rounds.map(figure);
  const missing = values.filter(Number.isNaN).length;
  return missing * 2 > values.length ? Number.NaN : median(values.filter((v) => !Number.isNaN(v)));
}

/** Client event loops stalled this long mean the clients, not the server, were late. */
const GENERATOR_STALL_MS = 1000;

/** What set the pace, read from the medians: a few bullets for under the table. */
export function stormDiagnosis(report: StormReport): string[] {
  const m = (figure: (f: StormFigures) => number) => medianOf(report, figure);
  const clients = report.options.clients;
  const downtime = m((f) => f.downtimeMs);
  const serverUs = m((f) => f.serverCpuPerConnectionUs);
  const generatorUs = m((f) => f.generatorCpuPerClientUs);
  const loopDelay = m((f) => f.loopDelayMaxMs);
  const generatorCore = m((f) => f.generatorCoreBusy);
  const { real: realUs, light: lightUs } = report.connectCpuUs;
  const real = report.rounds[0]?.real.clients ?? 0;
  const light = report.rounds[0]?.light.clients ?? 0;
  const lines: string[] = [];
  const kind = (pick: (f: StormFigures) => PopulationFigures) =>
    `p50 ${seconds(m((f) => pick(f).p50Ms))}, p99 ${seconds(m((f) => pick(f).p99Ms))}, all ` +
    `${allBackTime(m((f) => pick(f).allBackMs))} after the kill, ` +
    `${report.rounds.reduce((n, f) => n + pick(f).gaveUp, 0)} gave up`;
  lines.push(
    `- **Two kinds of client.** Connecting one real client (\`WebSocketClient\` over \`ws\`) ` +
      `cost the load generator ${number(realUs)} µs of CPU, a light one ${number(lightUs)} µs ` +
      `(initial connect, kernel included), where the server spends ${number(serverUs)} µs: ` +
      `${number(clients)} real clients would need ${seconds((clients * realUs) / 1000)} of the ` +
      "generator's one core, and the storm would measure it. Real clients live on as many " +
      `machines, so ${number(real)} of them (every ${number(clients / Math.max(1, real))}th, in ` +
      `every load process) run the library's code and the other ${number(light)} are light ` +
      "clients, which retry through the library's own `FullJitterPolicy` with the same " +
      'context, time out like its connect timeout, and give up only when it says so. Both ' +
      `kinds saw the same server and the same storm. Real: ${kind((f) => f.real)}; light: ` +
      `${kind((f) => f.light)}.`,
  );
  if (loopDelay >= GENERATOR_STALL_MS) {
    lines.push(
      `- **The load generator could not keep up.** Its core was ${percent(generatorCore)} busy ` +
        `and its event loops stalled for up to ${millis(loopDelay)}: clients saw the drop ` +
        `${seconds(m((f) => f.dropSeenP50Ms))} after the kill and made their first attempt ` +
        `${seconds(m((f) => f.firstAttemptP50Ms))} after it (p50s). Bringing one client back ` +
        `cost the generator ${number(generatorUs)} µs of CPU on average over both kinds ` +
        `(kernel and refused attempts included), ${number(generatorUs / serverUs, 1)}x what ` +
        'the server spent per connection; so the all-back time is an upper bound on what the ' +
        'server needs.',
    );
  } else {
    lines.push(
      `- **The load generator** kept up: its event loops stalled for at most ` +
        `${millis(loopDelay)}, and bringing one client back cost it ${number(generatorUs)} µs ` +
        `of CPU on average over both kinds (kernel and refused attempts included), ` +
        `${number(generatorUs / serverUs, 1)}x what the server spent per connection. Its core ` +
        `was ${percent(generatorCore)} busy (other work on the machine included).`,
    );
  }
  lines.push(
    `- **The server** used ${percent(m((f) => f.serverBusy))} of its core from listening to all ` +
      `back, ${number(serverUs)} µs per connection (token check, upgrade, set-up, presence, ` +
      `kernel time): ${number(clients)} connections are ${seconds((clients * serverUs) / 1000)} ` +
      `of one core, so with the ${seconds(downtime)} of downtime it could have every client back ` +
      `about ${seconds(downtime + (clients * serverUs) / 1000)} after the kill, given arrivals it ` +
      'can take as they come.',
  );
  const peak = m((f) => f.acceptQueuePeak);
  const limit = m((f) => f.acceptQueueLimit);
  if (peak >= limit) {
    lines.push(
      `- **The listen backlog** (${number(limit)}) filled: the accept queue was sampled full ` +
        `and the kernel counted ${number(m((f) => f.listenOverflows ?? Number.NaN))} overflows ` +
        "(every listener on the machine). A connection dropped there waits for the client's " +
        'TCP to retry its SYN: 1 s, then 3 s.',
    );
  }
  lines.push(
    `- **The reconnect policy**: ${number(m((f) => f.refused))} attempts were refused while the ` +
      `server was down and at most ${number(m((f) => f.maxAttempts))} were needed by one client. ` +
      `With this downtime, ${number(clients)} clients that each see the drop at once (on their ` +
      "own machines) would, by the library's default policy (full jitter, its ceiling held at " +
      '2 s for the first 10 s of an outage), make their last first attempt after the restart ' +
      `${seconds(m((f) => f.policyTailMs))} after the kill (simulated). Without that restart ` +
      'window, where each refusal doubles the ceiling (0.5, 1, 2, 4, 8 s): ' +
      `${seconds(m((f) => f.noWindowPolicyTailMs))}.`,
  );
  return lines;
}

/** The report as a Markdown table and a verdict (for the terminal and the docs alike). */
function stormTable(report: StormReport): string {
  const perRound = (figure: (f: StormFigures) => number, show: (v: number) => string) =>
    report.rounds.map((f) => show(figure(f))).join(', ');
  const row = (
    name: string,
    figure: (f: StormFigures) => number,
    show: (v: number) => string,
    target = '',
  ) => `| ${name} | ${show(medianOf(report, figure))} | ${perRound(figure, show)} | ${target} |`;
  const count = (v: number) => number(v);
  const allBack = medianOf(report, (f) => f.allBackMs);
  const gaveUp = report.rounds.reduce((n, f) => n + f.gaveUp, 0);
  const verdict =
    !Number.isNaN(allBack) && allBack <= STORM_TARGET_MS && gaveUp === 0 ? 'within' : 'OVER';
  const buckets = Array.from({ length: ATTEMPT_BUCKETS }, (_, i) => {
    const label = i === ATTEMPT_BUCKETS - 1 ? `${i + 1}+` : String(i + 1);
    return `${label}: ${perRound((f) => f.attemptsPerClient[i]!, count)}`;
  });
  const kindRows = (name: string, pick: (f: StormFigures) => PopulationFigures, what: string) => [
    row(
      `${name} (${number(report.rounds[0] ? pick(report.rounds[0]).clients : 0)}, ${what}): ` +
        'all back, from the kill',
      (f) => pick(f).allBackMs,
      allBackTime,
    ),
    row('&nbsp;&nbsp;reconnect p50, from the kill', (f) => pick(f).p50Ms, seconds),
    row('&nbsp;&nbsp;reconnect p99, from the kill', (f) => pick(f).p99Ms, seconds),
    row('&nbsp;&nbsp;gave up', (f) => pick(f).gaveUp, count, '0'),
    row('&nbsp;&nbsp;not back when the round ended', (f) => pick(f).clients - pick(f).back, count),
  ];
  return [
    '| figure | median | per round | target |',
    '| --- | ---: | --- | --- |',
    row('all back, from the kill (every client)', (f) => f.allBackMs, allBackTime, 'under 5 s'),
    row('server down (kill to new server listening)', (f) => f.downtimeMs, seconds),
    row('all back, from the new server listening', (f) => f.allBackMs - f.downtimeMs, allBackTime),
    row('per-client reconnect p50, from the kill', (f) => f.p50Ms, seconds),
    row('per-client reconnect p99, from the kill', (f) => f.p99Ms, seconds),
    row('clients that gave up', (f) => f.gaveUp, count, '0'),
    row('clients not back when the round ended', (f) => f.clients - f.back, count, '0'),
    ...kindRows('real clients', (f) => f.real, '`WebSocketClient`'),
    ...kindRows('light clients', (f) => f.light, 'same policy'),
    row('connection attempts by clients', (f) => f.attempts, count),
    row('&nbsp;&nbsp;refused: nothing listening', (f) => f.refused, count),
    row('&nbsp;&nbsp;upgraded to WebSocket', (f) => f.upgraded, count),
    row('&nbsp;&nbsp;failed otherwise', (f) => f.otherFailures, count),
    row('most attempts by one client', (f) => f.maxAttempts, count),
    row('WebSocket connections the new server accepted', (f) => f.serverAccepted, count),
    row('tokens the new server refused', (f) => f.serverAuthFailures, count, '0'),
    row('server had accepted every client, from the kill', (f) => f.serverAllAcceptedMs, seconds),
    row('server accepts per second, best second', (f) => f.serverPeakAcceptPerSec, count),
    row('server CPU µs per accepted connection', (f) => f.serverCpuPerConnectionUs, count),
    row('server core busy, listening to all back', (f) => f.serverBusy, percent),
    row('&nbsp;&nbsp;the same core, all processes', (f) => f.serverCoreBusy, percent),
    row('server accept queue, longest sampled', (f) => f.acceptQueuePeak, count),
    row('&nbsp;&nbsp;its limit (listen backlog)', (f) => f.acceptQueueLimit, count),
    row('listen-queue overflows (kernel, all listeners)', (f) => f.listenOverflows ?? NaN, count),
    row('clients saw the drop, p50 from the kill', (f) => f.dropSeenP50Ms, seconds),
    row("clients' first attempt, p50 from the kill", (f) => f.firstAttemptP50Ms, seconds),
    row(
      'load generator CPU µs per client back (both kinds)',
      (f) => f.generatorCpuPerClientUs,
      count,
    ),
    row('load generator core busy', (f) => f.generatorBusy, percent),
    row('&nbsp;&nbsp;the same core, all processes', (f) => f.generatorCoreBusy, percent),
    row('load processes: longest event-loop stall', (f) => f.loopDelayMaxMs, millis),
    row(
      'simulated, default policy: last first attempt after the restart',
      (f) => f.policyTailMs,
      seconds,
    ),
    row('simulated, without its restart window: the same', (f) => f.noWindowPolicyTailMs, seconds),
    '',
    `All back **${allBackTime(allBack)}** after the kill (median of ${roundCount(report.rounds.length)}, ` +
      `every client of both kinds), ${verdict} the ${STORM_TARGET_MS / 1000} s target; ` +
      `${gaveUp} clients gave up in all.`,
    `Load generator CPU per initial connection: real client ${number(report.connectCpuUs.real)} ` +
      `µs, light client ${number(report.connectCpuUs.light)} µs.`,
    `Clients by attempts they needed, per round: ${buckets.join('; ')}.`,
    ...(report.stoppedEarly !== undefined ? [`Rounds stopped ${report.stoppedEarly}.`] : []),
    '',
    'What set the pace:',
    '',
    ...stormDiagnosis(report),
  ].join('\n');
}

/** The docs/BENCHMARKS.md section: heading, how it was measured, the table, how to read it. */
function stormDocSection(report: StormReport, machine: string, command: string): string {
  const o = report.options;
  const real = report.rounds[0]?.real.clients ?? o.realClients;
  return [
    `## ${STORM_TITLE}`,
    '',
    `Measured ${new Date().toISOString().slice(0, 10)} with \`${command}\`.`,
    `Machine: ${machine}`,
    '',
    stormTable(report),
    '',
    `Load: ${number(o.clients)} clients, ${number(o.companies)} agents (one per company) and ` +
      `${number(o.clients - o.companies)} visitors spread evenly over the companies, in ` +
      `${o.processes} load processes sharing one core; all connected in ` +
      `${seconds(report.connectMs)}. Of them, ${number(real)} (every ` +
      `${number(o.clients / Math.max(1, real))}th, in every process) are the client library ` +
      '(`WebSocketClient` over `ws`, its default reconnect policy: full-jitter backoff from ' +
      '500 ms, the ceiling held at 2 s for the first 10 s of an outage and then doubling to ' +
      '15 s, never giving up, a 10 s connect timeout). The other ' +
      `${number(o.clients - real)} are light clients (\`bench/lib/storm-light-client.ts\`): ` +
      'a bare TCP socket writing a ready-made upgrade request with its token, checking the ' +
      '`101` and its `Sec-WebSocket-Accept`, reading frames only as far as ' +
      '`connection_established`, and answering pings. They decide when to retry with the ' +
      "library's own `FullJitterPolicy`, given the same context (retries since the link was " +
      'up, time since then, close code, reason), time out like its connect timeout, and give ' +
      'up exactly when the policy returns null (or the token is refused). ' +
      `Then ${roundCount(o.rounds)}: ${o.settleMs / 1000} s quiet, the server killed with SIGKILL ` +
      '(a crash: the kernel closes every socket, no close frames) and, once it is gone, a new ' +
      'server process started on the same port with the same JWT secret, so every token stays ' +
      `valid; a round waits at most ${o.roundTimeoutMs / 1000} s after the kill.`,
    '',
    '- **Why light clients**: a real client costs its machine more CPU to connect than the ' +
      'server spends on it (`ws` opens each socket through an HTTP request; the figures are ' +
      'under the table). Real clients each have a machine; here they would share one core, and ' +
      'the storm would measure that core. The light clients cost a fraction of it (most of ' +
      "what is left is the kernel's: on loopback both ends of the TCP handshake run on the " +
      "connecting process's CPU, in its `connect()`), so the times measure the server and the " +
      'reconnect policy far more than the generator. The real sample shows what the ' +
      'library itself does in the same storm (its rows); that no client gives up is judged by ' +
      "the library's code in both kinds: its client in one, its policy in the other.",
    '- **all back, from the kill**: until the last client, of either kind, received its new ' +
      '`connection_established` (authenticated again); the target counts from the kill, so it ' +
      'includes the downtime. The row below it subtracts the downtime.',
    '- **server down**: from the kill until the new process reported it listened: the old ' +
      "process's exit (the kernel closing its sockets) and Node starting the server. " +
      'Attempts in that time are refused by the kernel at once.',
    '- **attempts**: sockets the clients opened after the drop. The server sees only those ' +
      'that reach it; its own count (`/metrics`) equals the clients when each came back once.',
    '- **server accepted every client**, **accepts per second**: its `/metrics` counter, ' +
      'sampled every 200 ms over a connection opened before the crowd arrives.',
    "- **accept queue**: the listening socket's queue of connections not yet accepted (`ss`, " +
      "sampled), and its limit: the server's `LISTEN_BACKLOG` (default 4096), capped by the " +
      "kernel's `net.core.somaxconn`. **Overflows** is the kernel's `ListenOverflows` over the " +
      'round, for every listener on the machine.',
    '- **load generator**: every load process shares one core, so its lateness is shown beside ' +
      "the server's figures: the event-loop delay of its processes, when clients saw the drop " +
      'and first tried again, and its CPU per client (per connection of each kind at the ' +
      'initial connect, where each kind is connected on its own; per client back in a round, ' +
      'over both kinds).',
    "- **simulated**: the client library's reconnect policy run for as many clients as the " +
      "benchmark's, with the round's downtime, every attempt before the restart refused: when " +
      'the last client makes its first attempt after the restart. It is what independent ' +
      "clients would see whatever the server's speed; `bench/lib/storm-policy.ts`. " +
      'The row below runs the same policy without its restart window (`restartWindowMs: 0`), ' +
      'where each refusal doubles the ceiling of the next delay (0.5, 1, 2, 4, 8 s).',
    '- The machine is shared: absolute times drift between runs.',
  ].join('\n');
}

/** The storm options for `ctx`: the defaults, with the command line's rounds. */
function stormOptions(ctx: BenchContext): StormOptions {
  return { ...STORM_DEFAULTS, ...serverOptions(ctx, false) };
}

/** The reconnect storm benchmark: `--only storm`. */
export const stormBenchmark: Benchmark = {
  id: 'storm',
  title: STORM_TITLE,
  async run(ctx) {
    const report = await runStormBenchmark(stormOptions(ctx));
    const machine = machineLine(ctx.machine, ctx.servers().pinning);
    return {
      figures: stormTable(report),
      docSection: stormDocSection(report, machine, ctx.command),
    };
  },
  profile(ctx) {
    ctx.log('Profiling the restarted CallDocker server through one storm round');
    return profileInto((dir) => profileStorm(stormOptions(ctx), dir));
  },
};
