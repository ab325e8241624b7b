/**
 * The call-setup benchmark: whole calls per second on one server core (request, ring, accept,
 * offer, answer, ten candidates each way, end, and the call's row in the call log), and the
 * set-up latency at half that rate. 100 call loops, each a fixed visitor ringing its own
 * agent, either spread over 100 companies or all in one company, where every agent's `busy`
 * and `online` reach all 200 users: the case presence coalescing is for. Each layout runs with
 * presence coalesced (the default tick) and sent at once (`PRESENCE_TICK_MS=0`), so the table
 * shows what coalescing buys.
 *
 * Every round starts a fresh server (the real entry's call log: SQLite on a worker thread, on
 * a temporary file) and ends by checking, in that file, that every call completed has its row,
 * ended; a missing row fails the benchmark.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signalingDefaults } from '../config/config.js';
import { machineLine, serverOptions, type BenchContext, type Benchmark } from './lib/benchmark.js';
import { connectCallPairs, settle, TokenIssuer, type Layout } from './lib/call-setup-clients.js';
import { CallLoad, CANDIDATES_PER_SIDE, SDP_FRAME_BYTES } from './lib/call-setup-load.js';
import { LOG_SETTLE_MS, measureCallRound, verifyCallLog } from './lib/call-setup-round.js';
import { profileInto } from './lib/cpuprofile.js';
import { ServerProcess } from './lib/server-process.js';
import { median } from './lib/stats.js';

/** The benchmark's heading in reports. */
const CALL_SETUP_TITLE = 'Call setup: whole calls per second on one core';

/** Targets, with presence coalesced, in both layouts. */
export const CALL_SETUP_TARGET_PER_SEC = 1000;
export const CALL_SETUP_TARGET_P99_MS = 50;

/** How the call-setup benchmark runs. */
export interface CallSetupOptions {
  /** Rounds per set-up (layout and presence tick), interleaved. */
  readonly rounds: number;
  /** Concurrent call loops (visitor/agent pairs). */
  readonly loops: number;
  /** Calling before each measured window (JIT, buffers, steady state; the new pace). */
  readonly warmupMs: number;
  /** Each measured window: the flat-out one, then the paced one. */
  readonly measureMs: number;
  /** Where the compiled server entries are. */
  readonly serversDir: string;
  /** CPU to pin the servers to, or undefined. */
  readonly serverCpu: number | undefined;
  /** Progress output. */
  readonly log: (line: string) => void;
}

/** The defaults: about 8 s per set-up and round, 4 set-ups, 3 rounds: under 2 minutes. */
const CALL_SETUP_DEFAULTS = {
  rounds: 3,
  loops: 100,
  warmupMs: 1000,
  measureMs: 2000,
} as const;

/** One server configuration under test. */
interface SetUp {
  readonly layout: Layout;
  /** `PRESENCE_TICK_MS`: the default, or 0 (every change sent at once). */
  readonly tickMs: number;
}

const DEFAULT_TICK_MS = signalingDefaults().presenceTickMs;

const SET_UPS: readonly SetUp[] = [
  { layout: 'spread', tickMs: DEFAULT_TICK_MS },
  { layout: 'spread', tickMs: 0 },
  { layout: 'one-company', tickMs: DEFAULT_TICK_MS },
  { layout: 'one-company', tickMs: 0 },
];

function layoutName(layout: Layout, loops: number): string {
  return layout === 'spread'
    ? `${loops} companies, 1 agent + 1 visitor each`
    : `1 company, ${loops} agents + ${loops} visitors`;
}

function tickName(tickMs: number): string {
  return tickMs === 0 ? 'sent at once (tick 0)' : `coalesced (${tickMs} ms tick)`;
}

/** One round's figures for one set-up. */
export interface CallSetupFigures {
  /** Flat out: calls completed per second. */
  readonly callsPerSec: number;
  /** Flat out: server CPU (every thread, the call log's worker included) per call. */
  readonly cpuUsPerCall: number;
  /** Flat out: share of one core the server used. */
  readonly serverBusy: number;
  /** Flat out: share of one core the load generator used. */
  readonly generatorBusy: number;
  /** Flat out: `agent_status_changed` frames the clients received per call. */
  readonly statusFramesPerCall: number;
  /** Flat out: all frames the clients received per call. */
  readonly framesPerCall: number;
  /** Paced: the rate achieved (asked for: half of `callsPerSec`). */
  readonly pacedPerSec: number;
  /** Paced: share of one core the server used. */
  readonly pacedServerBusy: number;
  /** Paced: set-up latency, `call_request` sent to `webrtc_answer` received. */
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Calls in the round (warm-ups included), each found ended in the call log. */
  readonly loggedCalls: number;
}

/** All rounds of one set-up and the median of each figure. */
export interface CallSetupResult extends SetUp {
  readonly rounds: readonly CallSetupFigures[];
  readonly median: CallSetupFigures;
}

/** The call-setup benchmark's outcome. */
export interface CallSetupReport {
  readonly results: readonly CallSetupResult[];
  readonly options: Omit<CallSetupOptions, 'log' | 'serversDir'>;
}

async function runRound(
  setUp: SetUp,
  options: CallSetupOptions,
  nodeArgs: readonly string[] = [],
): Promise<CallSetupFigures> {
  const dir = mkdtempSync(join(tmpdir(), 'calldocker-bench-calls-'));
  const dbPath = join(dir, 'calls.db');
  const tokens = new TokenIssuer();
  let server: ServerProcess | undefined;
  let load: CallLoad | undefined;
  try {
    server = await ServerProcess.start({
      script: join(options.serversDir, 'calldocker-logged.js'),
      cpu: options.serverCpu,
      env: {
        BENCH_JWT_SECRET: tokens.secret,
        BENCH_DATABASE_URL: `sqlite:${dbPath}`,
        PRESENCE_TICK_MS: String(setUp.tickMs),
      },
      nodeArgs,
    });
    const pairs = await connectCallPairs(server.port, tokens, setUp.layout, options.loops);
    load = new CallLoad(pairs);
    await settle(pairs, setUp.tickMs);
    const probed = server;
    const round = await measureCallRound(load, async () => [await probed.cpuTimeUs()], options);
    const loggedCalls = await verifyCallLog(dbPath, round.totalCalls);
    const { flatOut, paced } = round;
    return {
      callsPerSec: flatOut.calls / flatOut.seconds,
      cpuUsPerCall: flatOut.cpuUs[0]! / flatOut.calls,
      serverBusy: flatOut.cpuUs[0]! / 1e6 / flatOut.seconds,
      generatorBusy: flatOut.generatorUs / 1e6 / flatOut.seconds,
      statusFramesPerCall: flatOut.statusFrames / flatOut.calls,
      framesPerCall: flatOut.frames / flatOut.calls,
      pacedPerSec: paced.calls / paced.seconds,
      pacedServerBusy: paced.cpuUs[0]! / 1e6 / paced.seconds,
      p50Ms: round.p50Ms,
      p99Ms: round.p99Ms,
      loggedCalls,
    };
  } finally {
    load?.close();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const FIGURE_KEYS = [
  'callsPerSec',
  'cpuUsPerCall',
  'serverBusy',
  'generatorBusy',
  'statusFramesPerCall',
  'framesPerCall',
  'pacedPerSec',
  'pacedServerBusy',
  'p50Ms',
  'p99Ms',
  'loggedCalls',
] as const satisfies readonly (keyof CallSetupFigures)[];

function medianOf(rounds: readonly CallSetupFigures[]): CallSetupFigures {
  const entries = FIGURE_KEYS.map((key) => [key, median(rounds.map((r) => r[key]))] as const);
  return Object.fromEntries(entries) as Record<(typeof FIGURE_KEYS)[number], number>;
}

const number = (value: number, digits = 0) =>
  value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const percent = (share: number) => `${number(share * 100)}%`;

function describeRound(setUp: SetUp, round: number, f: CallSetupFigures): string {
  return (
    `  ${shortName(setUp).padEnd(22)} round ${round}: ${number(f.callsPerSec)} calls/s, ` +
    `${number(f.cpuUsPerCall)} µs/call, server ${percent(f.serverBusy)} busy, ` +
    `generator ${percent(f.generatorBusy)} busy, ${number(f.statusFramesPerCall, 1)} status ` +
    `frames/call; at ${number(f.pacedPerSec)}/s (server ${percent(f.pacedServerBusy)} busy): p50 ${number(f.p50Ms, 2)} ms, ` +
    `p99 ${number(f.p99Ms, 2)} ms; ${number(f.loggedCalls)} calls logged`
  );
}

/** Runs the interleaved rounds and returns the medians. */
async function runCallSetupBenchmark(options: CallSetupOptions): Promise<CallSetupReport> {
  const rounds = new Map<SetUp, CallSetupFigures[]>(SET_UPS.map((s) => [s, []]));
  for (let round = 1; round <= options.rounds; round++) {
    for (const setUp of SET_UPS) {
      const figures = await runRound(setUp, options);
      rounds.get(setUp)!.push(figures);
      options.log(describeRound(setUp, round, figures));
    }
  }
  const { rounds: count, loops, warmupMs, measureMs, serverCpu } = options;
  return {
    results: SET_UPS.map((setUp) => {
      const all = rounds.get(setUp)!;
      return { ...setUp, rounds: all, median: medianOf(all) };
    }),
    options: { rounds: count, loops, warmupMs, measureMs, serverCpu },
  };
}

/**
 * Runs one more round of CallDocker in one company with presence coalesced (the fan-out case)
 * under `node --cpu-prof` and returns where the server's main thread spent its time.
 */
function profileCallSetup(options: CallSetupOptions): Promise<string> {
  options.log(
    'Profiling one CallDocker call-setup round (one company, presence coalesced) under ' +
      'node --cpu-prof (start-up included)',
  );
  const setUp = { layout: 'one-company', tickMs: DEFAULT_TICK_MS } as const;
  return profileInto((dir) => runRound(setUp, options, ['--cpu-prof', '--cpu-prof-dir', dir]));
}

function find(report: CallSetupReport, layout: Layout, coalesced: boolean): CallSetupResult {
  const result = report.results.find((r) => r.layout === layout && (r.tickMs === 0) === !coalesced);
  if (result === undefined) throw new Error(`no result for ${layout}`);
  return result;
}

/** A set-up's short name, for the per-round lines. */
function shortName(r: SetUp): string {
  return `${r.layout === 'spread' ? 'spread' : 'one company'}, tick ${r.tickMs}`;
}

/** Below this share of its core, the server was not what set the pace. */
const SATURATED = 0.9;

/** The report as a Markdown table and verdict lines (for the terminal and the docs alike). */
function callSetupTable(report: CallSetupReport): string {
  const loops = report.options.loops;
  const row = (r: CallSetupResult) => {
    const m = r.median;
    return (
      `| ${layoutName(r.layout, loops)} | ${tickName(r.tickMs)} | ${number(m.callsPerSec)} | ` +
      `${number(m.cpuUsPerCall)} | ${number(1e6 / m.cpuUsPerCall)} | ${percent(m.serverBusy)} | ` +
      `${percent(m.generatorBusy)} | ${number(m.framesPerCall, 1)} ` +
      `(${number(m.statusFramesPerCall, 1)}) | ${number(m.pacedPerSec)} | ` +
      `${number(m.p50Ms, 2)} | ${number(m.p99Ms, 2)} |`
    );
  };
  const verdict = (layout: Layout) => {
    const m = find(report, layout, true).median;
    const ok = m.callsPerSec >= CALL_SETUP_TARGET_PER_SEC && m.p99Ms < CALL_SETUP_TARGET_P99_MS;
    return (
      `${layout === 'spread' ? `${loops} companies` : 'one company'}: ` +
      `**${number(m.callsPerSec)} calls/s, p99 ${number(m.p99Ms, 2)} ms** ` +
      `(${ok ? 'within' : 'OUTSIDE'} the targets; ${number(1e6 / m.cpuUsPerCall)} calls per ` +
      'server CPU-second)'
    );
  };
  const one = find(report, 'one-company', true).median;
  const oneAtOnce = find(report, 'one-company', false).median;
  const perRound = (r: CallSetupResult) => r.rounds.map((f) => number(f.callsPerSec)).join(', ');
  // Compared as printed (whole percent), so a row shown at 90% is not called under 90%.
  const unsaturated = report.results.filter(
    (r) => Math.round(r.median.serverBusy * 100) < SATURATED * 100,
  );
  const logged = report.results.reduce(
    (sum, r) => sum + r.rounds.reduce((s, f) => s + f.loggedCalls, 0),
    0,
  );
  return [
    '| loops | presence | calls/s | server CPU µs/call | calls per server CPU-second | ' +
      'server core busy | load generator busy | frames to clients/call (status) | ' +
      'paced at calls/s | setup p50 ms | setup p99 ms |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...report.results.map(row),
    '',
    `With presence coalesced: ${verdict('spread')}; ${verdict('one-company')}. Targets: at ` +
      `least ${number(CALL_SETUP_TARGET_PER_SEC)} calls/s and setup p99 under ` +
      `${CALL_SETUP_TARGET_P99_MS} ms.`,
    `In one company, coalescing takes server CPU per call from ${number(oneAtOnce.cpuUsPerCall)} ` +
      `to ${number(one.cpuUsPerCall)} µs (${number(oneAtOnce.cpuUsPerCall / one.cpuUsPerCall, 2)}x ` +
      `less) and status frames per call from ${number(oneAtOnce.statusFramesPerCall, 1)} to ` +
      `${number(one.statusFramesPerCall, 1)}.`,
    `Calls/s per round: ${report.results.map((r) => `${shortName(r)}: ${perRound(r)}`).join('; ')}.`,
    ...(unsaturated.length > 0
      ? [
          `The server was under ${percent(SATURATED)} busy in ` +
            `${unsaturated
              .map(
                (r) =>
                  `${shortName(r)} (${percent(r.median.serverBusy)}, ` +
                  `load generator ${percent(r.median.generatorBusy)})`,
              )
              .join(', ')}: something ` +
            'else set the pace there (the load generator when it is near 100%, else other work ' +
            'on the machine), so calls/s is a lower bound; server CPU per call still holds.',
        ]
      : []),
    `Call log: all ${number(logged)} calls of the run were found ended in the database.`,
  ].join('\n');
}

/** The docs/BENCHMARKS.md section: heading, how it was measured, the table, how to read it. */
function callSetupDocSection(report: CallSetupReport, machine: string, command: string): string {
  const o = report.options;
  return [
    `## ${CALL_SETUP_TITLE}`,
    '',
    `Measured ${new Date().toISOString().slice(0, 10)} with \`${command}\`.`,
    `Machine: ${machine}`,
    '',
    callSetupTable(report),
    '',
    `Load: ${o.loops} call loops, each a visitor ringing its own agent (\`call_request\` with ` +
      '`agentId`) and going through a whole call: the agent accepts on `call_incoming`, the ' +
      `visitor sends \`webrtc_offer\` (${number(SDP_FRAME_BYTES)} bytes, a browser's audio ` +
      `offer) and ${CANDIDATES_PER_SIDE} \`ice_candidate\` on \`call_started\`, the agent ` +
      `answers and sends ${CANDIDATES_PER_SIDE} candidates on the offer, and the visitor hangs ` +
      `up (\`call_ended\`) once it has the answer and ${CANDIDATES_PER_SIDE} candidates; the ` +
      'call is complete when both sides have `call_ended`. Call messages carry ids (acked) and ' +
      'relays do not, as the browser client sends them. Each round starts a fresh server with ' +
      "the real entry's call log (SQLite in WAL mode on a worker thread of the server process, " +
      'a temporary file) and the rate limits raised (the limiter still runs on every frame). ' +
      `Per round: ${o.warmupMs / 1000} s of calls flat out (each loop starts its next call as ` +
      `soon as one completes), ${o.measureMs / 1000} s measured; then the loops paced to half ` +
      `that rate, each on its own evenly staggered schedule, ${o.warmupMs / 1000} s to settle ` +
      `and ${o.measureMs / 1000} s measured; then the load stops, and every call the round ` +
      'completed must be in the call log database, ended and answered, within ' +
      `${LOG_SETTLE_MS / 1000} s, or the benchmark fails. ${o.rounds} round${o.rounds === 1 ? '' : 's'} per set-up, ` +
      'interleaved; medians shown.',
    '',
    '- **calls/s**: calls completed per second flat out, with the server on one core.',
    '- **server CPU µs/call**: user + system CPU of the server process (every thread: the call ' +
      "log's SQLite worker included) over the flat-out window, divided by the calls completed. " +
      'It holds even when the load generator, not the server, sets the pace.',
    '- **server core busy**: share of its core the server used flat out; well under 100% means ' +
      'something else set the pace (the load generator, or other work on the machine).',
    '- **calls per server CPU-second**: one second over the server CPU per call: the rate one ' +
      'fully busy core would sustain, whatever else ran on the machine. With presence coalesced ' +
      'it understates a starved server: fewer calls per tick fold fewer status changes.',
    '- **frames to clients/call (status)**: frames all clients received per call, and of them ' +
      "`agent_status_changed`. With 100 companies only the loop's own agent and visitor hear " +
      "its agent's `busy` and `online`; in one company all 200 users do, unless coalescing " +
      "folds a tick's changes.",
    '- **setup p50/p99**: at the paced rate (half the flat-out rate, achieved rate shown), from ' +
      "sending `call_request` to the visitor receiving the agent's `webrtc_answer` (ring, " +
      'accept, offer and answer: the signaling a caller waits for before media can flow).',
    `- **presence**: coalesced is the default (\`PRESENCE_TICK_MS=${DEFAULT_TICK_MS}\`: status ` +
      'and queue changes sent once per tick per company, the latest state winning); tick 0 sends ' +
      'every change at once, as a straightforward server does.',
    '- Both processes are on one core each; the generator uses raw `ws` clients that read only ' +
      "a frame's type (and the call id of the frames that bring one), so it stays cheaper than " +
      'the server.',
    '- The machine is shared: compare the rows of one run; the absolute times drift.',
  ].join('\n');
}

/** The call-setup options for `ctx`: the defaults, with the command line's rounds and seconds. */
function callSetupOptions(ctx: BenchContext): CallSetupOptions {
  return { ...CALL_SETUP_DEFAULTS, ...serverOptions(ctx, true) };
}

/** The call-setup benchmark: `--only call-setup`. */
export const callSetupBenchmark: Benchmark = {
  id: 'call-setup',
  title: CALL_SETUP_TITLE,
  async run(ctx) {
    const report = await runCallSetupBenchmark(callSetupOptions(ctx));
    const machine = machineLine(ctx.machine, ctx.servers().pinning);
    return {
      figures: callSetupTable(report),
      docSection: callSetupDocSection(report, machine, ctx.command),
    };
  },
  profile: (ctx) => profileCallSetup(callSetupOptions(ctx)),
};
