/**
 * `npm run bench`: builds what it needs, runs each benchmark and prints its table. Writes
 * nothing to the repository unless `--write` is given, which rewrites the benchmark's section
 * of docs/BENCHMARKS.md.
 *
 *   npm run bench                  # all benchmarks, print only
 *   npm run bench -- --write       # and update docs/BENCHMARKS.md
 *   npm run bench -- --profile     # and profile CallDocker under the relay and call-setup loads
 *   npm run bench -- --rounds 1 --seconds 2   # a quick smoke run
 *   npm run bench -- --only bundle --write    # one part (ids: relay, idle, bundle, call-log, call-setup, storm, ring), its section only
 *
 * Benchmarks are parts: each one is a file next to this one, added to PARTS below.
 */
import { parseArgs } from 'node:util';
import {
  CALL_LOG_DEFAULTS,
  CALL_LOG_TITLE,
  callLogDocSection,
  callLogTable,
  runCallLogBenchmark,
} from './call-log.js';
import {
  CALL_SETUP_DEFAULTS,
  CALL_SETUP_TITLE,
  callSetupDocSection,
  callSetupTable,
  profileCallSetup,
  runCallSetupBenchmark,
  type CallSetupOptions,
} from './call-setup.js';
import { IDLE_DEFAULTS, IDLE_TITLE, idleDocSection, idleTable, runIdleBenchmark } from './idle.js';
import { compileBenchServers, ensureBuild } from './lib/build.js';
import { profileInto } from './lib/cpuprofile.js';
import { BUNDLE_TITLE, bundleDocSection, bundleTable, runBundleBenchmark } from './bundle.js';
import { writeDocSection } from './lib/docs.js';
import {
  describeMachine,
  onAllCpus,
  pinLoadGenerator,
  type Machine,
  type Pinning,
} from './lib/machine.js';
import {
  profileCallDockerRelay,
  RELAY_DEFAULTS,
  RELAY_TITLE,
  relayDocSection,
  relayTable,
  runRelayBenchmark,
  type RelayOptions,
} from './relay.js';
import { RING_DEFAULTS, RING_TITLE, ringDocSection, ringTable, runRingBenchmark } from './ring.js';
import {
  profileStorm,
  runStormBenchmark,
  STORM_DEFAULTS,
  STORM_TITLE,
  stormDocSection,
  stormTable,
  type StormOptions,
} from './storm.js';

/** What parts that run servers need: a fresh build, compiled entries and CPU pinning. */
interface ServerSetup {
  readonly pinning: Pinning;
  /** Compiled server entries (plain node). */
  readonly serversDir: string;
}

/** What every part gets. */
interface BenchContext {
  readonly machine: Machine;
  /**
   * Builds `dist/` if stale, compiles the benchmark's servers and pins this process, on the
   * first call only: parts that run no server (the bundle sizes) need none of it.
   */
  servers(): ServerSetup;
  /** Rounds per server, when given on the command line (the ring part: calls measured). */
  readonly rounds: number | undefined;
  /** Measured seconds per round, when given on the command line. */
  readonly seconds: number | undefined;
  readonly profile: boolean;
  readonly log: (line: string) => void;
}

/** What a part's run gives: its table (Markdown) and its docs section, or why it did not run. */
type PartResult = { readonly table: string; readonly doc: string } | { readonly skipped: string };

/** One benchmark: runs, and returns its table and its docs section. */
interface BenchPart {
  readonly id: string;
  readonly title: string;
  run(ctx: BenchContext): Promise<PartResult>;
  /** With `--profile`: profiles CallDocker under this part's load and returns a summary. */
  profile?(ctx: BenchContext): Promise<string>;
}

const COMMAND = 'npm run bench -- --write';

function machineLine(machine: Machine, pinning?: Pinning): string {
  const line = `${machine.cpus} CPUs (\`nproc\`), ${machine.cpuModel}, Node ${machine.nodeVersion}`;
  return pinning === undefined ? `${line}.` : `${line}; ${pinning.note}.`;
}

const relayPart: BenchPart = {
  id: 'relay',
  title: RELAY_TITLE,
  async run(ctx) {
    const options = relayOptions(ctx);
    const report = await runRelayBenchmark(options);
    const table = relayTable(report);
    const doc = relayDocSection(report, machineLine(ctx.machine, ctx.servers().pinning), COMMAND);
    return { table, doc };
  },
  profile: profileRelay,
};

/**
 * What every part that runs servers takes from the run: where the compiled servers are, the
 * server's CPU, the log, and the command line's rounds (and seconds, as `measureMs`, for the
 * parts that measure for a set time).
 */
function serverOptions(ctx: BenchContext, timed: boolean) {
  const { serversDir, pinning } = ctx.servers();
  return {
    ...(ctx.rounds !== undefined ? { rounds: ctx.rounds } : {}),
    ...(timed && ctx.seconds !== undefined ? { measureMs: ctx.seconds * 1000 } : {}),
    serversDir,
    serverCpu: pinning.serverCpu,
    log: ctx.log,
  };
}

/** The relay options for `ctx`: the defaults, with the command line's rounds and seconds. */
function relayOptions(ctx: BenchContext): RelayOptions {
  return { ...RELAY_DEFAULTS, ...serverOptions(ctx, true) };
}

function profileRelay(ctx: BenchContext): Promise<string> {
  ctx.log('Profiling one CallDocker relay round under node --cpu-prof (start-up included)');
  return profileInto((dir) => profileCallDockerRelay(relayOptions(ctx), dir));
}

const bundlePart: BenchPart = {
  id: 'bundle',
  title: BUNDLE_TITLE,
  async run(ctx) {
    const report = await runBundleBenchmark({ peers: true, log: ctx.log });
    return {
      table: bundleTable(report),
      doc: bundleDocSection(report, machineLine(ctx.machine), COMMAND),
    };
  },
};

const callLogPart: BenchPart = {
  id: 'call-log',
  title: CALL_LOG_TITLE,
  async run(ctx) {
    // Pinned like the relay's load generator: the writer's event loop and worker share a CPU.
    const { pinning } = ctx.servers();
    const report = await runCallLogBenchmark({
      ...CALL_LOG_DEFAULTS,
      ...(ctx.rounds !== undefined ? { rounds: ctx.rounds } : {}),
      ...(ctx.seconds !== undefined
        ? { measureMs: ctx.seconds * 1000, stepMs: Math.max(1000, ctx.seconds * 400) }
        : {}),
      log: ctx.log,
    });
    return {
      table: callLogTable(report),
      doc: callLogDocSection(report, machineLine(ctx.machine, pinning), COMMAND),
    };
  },
};

const callSetupPart: BenchPart = {
  id: 'call-setup',
  title: CALL_SETUP_TITLE,
  async run(ctx) {
    const report = await runCallSetupBenchmark(callSetupOptions(ctx));
    return {
      table: callSetupTable(report),
      doc: callSetupDocSection(report, machineLine(ctx.machine, ctx.servers().pinning), COMMAND),
    };
  },
  profile: (ctx) => profileCallSetup(callSetupOptions(ctx)),
};

/** The call-setup options for `ctx`: the defaults, with the command line's rounds and seconds. */
function callSetupOptions(ctx: BenchContext): CallSetupOptions {
  return { ...CALL_SETUP_DEFAULTS, ...serverOptions(ctx, true) };
}

const stormPart: BenchPart = {
  id: 'storm',
  title: STORM_TITLE,
  async run(ctx) {
    const report = await runStormBenchmark(stormOptions(ctx));
    return {
      table: stormTable(report),
      doc: stormDocSection(report, machineLine(ctx.machine, ctx.servers().pinning), COMMAND),
    };
  },
  profile(ctx) {
    ctx.log('Profiling the restarted CallDocker server through one storm round');
    return profileInto((dir) => profileStorm(stormOptions(ctx), dir));
  },
};

/** The storm options for `ctx`: the defaults, with the command line's rounds. */
function stormOptions(ctx: BenchContext): StormOptions {
  return { ...STORM_DEFAULTS, ...serverOptions(ctx, false) };
}

const idlePart: BenchPart = {
  id: 'idle',
  title: IDLE_TITLE,
  async run(ctx) {
    const report = await runIdleBenchmark({ ...IDLE_DEFAULTS, ...serverOptions(ctx, false) });
    return {
      table: idleTable(report),
      doc: idleDocSection(report, machineLine(ctx.machine, ctx.servers().pinning), COMMAND),
    };
  },
};

const ringPart: BenchPart = {
  id: 'ring',
  title: RING_TITLE,
  async run(ctx) {
    // Not `ctx.servers()`: the pages load the built pages, not `dist/`, and the servers,
    // Chromium and this process together are what is timed, on every CPU the machine has.
    const { result: report, note } = await onAllCpus(ctx.machine, () =>
      runRingBenchmark({
        ...RING_DEFAULTS,
        ...(ctx.rounds !== undefined ? { calls: ctx.rounds } : {}),
        log: ctx.log,
      }),
    );
    if ('skipped' in report) return report;
    const machine = machineLine(ctx.machine, { serverCpu: undefined, note });
    return {
      table: ringTable(report),
      doc: ringDocSection(report, machine, 'npm run bench -- --only ring --write'),
    };
  },
};

const PARTS: readonly BenchPart[] = [
  relayPart,
  idlePart,
  bundlePart,
  callLogPart,
  callSetupPart,
  stormPart,
  ringPart,
];

/** The parts `--only` names (comma-separated ids), or all of them. */
function selectParts(only: string | undefined): readonly BenchPart[] {
  if (only === undefined) return PARTS;
  const ids = only.split(',').map((id) => id.trim());
  const unknown = ids.filter((id) => !PARTS.some((part) => part.id === id));
  if (unknown.length > 0) {
    throw new Error(
      `--only: unknown part ${unknown.join(', ')}; parts: ${PARTS.map((p) => p.id).join(', ')}`,
    );
  }
  return PARTS.filter((part) => ids.includes(part.id));
}

function positive(name: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} must be a positive number`);
  return value;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      write: { type: 'boolean', default: false },
      profile: { type: 'boolean', default: false },
      rounds: { type: 'string' },
      seconds: { type: 'string' },
      only: { type: 'string' },
    },
  });
  const log = (line: string) => console.log(line);
  const parts = selectParts(values.only);
  // Before pinning: afterwards this process would see one CPU.
  const machine = describeMachine();
  let setup: ServerSetup | undefined;
  const servers = (): ServerSetup => {
    if (setup === undefined) {
      ensureBuild(log);
      const serversDir = compileBenchServers();
      const pinning = pinLoadGenerator(machine);
      log(`Pinning: ${pinning.note}.`);
      setup = { serversDir, pinning };
    }
    return setup;
  };
  const rounds = positive('rounds', values.rounds);
  const ctx: BenchContext = {
    machine,
    servers,
    rounds: rounds === undefined ? undefined : Math.ceil(rounds),
    seconds: positive('seconds', values.seconds),
    profile: values.profile,
    log,
  };
  log(`Machine: ${machineLine(machine)}`);

  for (const part of parts) {
    log(`\n${part.title}`);
    const result = await part.run(ctx);
    if ('skipped' in result) {
      log(`\nSKIPPED ${part.id}: ${result.skipped}.`);
      continue;
    }
    const { table, doc } = result;
    log(`\n${table}`);
    if (values.write)
      log(`\nWrote the ${part.id} section of ${await writeDocSection(part.id, doc)}.`);
    if (ctx.profile && part.profile !== undefined) log(`\n${await part.profile(ctx)}`);
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
