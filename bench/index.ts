/**
 * `npm run bench`: builds what it needs, runs each benchmark and prints its table. Writes
 * nothing to the repository unless `--write` is given, which rewrites the benchmark's section
 * of docs/BENCHMARKS.md.
 *
 *   npm run bench                  # all benchmarks, print only
 *   npm run bench -- --write       # and update docs/BENCHMARKS.md
 *   npm run bench -- --profile     # and profile CallDocker under the relay, call-setup and storm loads
 *   npm run bench -- --rounds 1 --seconds 2   # a quick smoke run
 *   npm run bench -- --only bundle --write    # one benchmark (ids: relay, idle, bundle, call-log, call-setup, storm, ring, cluster, cluster-idle), its section only
 *
 * Each benchmark is one module next to this one exporting one `Benchmark` (lib/benchmark.ts),
 * listed in BENCHMARKS below; their order is the order they run in.
 */
import { parseArgs } from 'node:util';
import { bundleBenchmark } from './bundle.js';
import { callLogBenchmark } from './call-log.js';
import { callSetupBenchmark } from './call-setup.js';
import { clusterBenchmark } from './cluster.js';
import { clusterIdleBenchmark } from './cluster-idle.js';
import { idleBenchmark } from './idle.js';
import {
  benchCommand,
  machineLine,
  type BenchContext,
  type Benchmark,
  type ServerSetup,
} from './lib/benchmark.js';
import { compileBenchServers, ensureBuild } from './lib/build.js';
import { writeDocSection } from './lib/docs.js';
import { describeMachine, pinLoadGenerator } from './lib/machine.js';
import { relayBenchmark } from './relay.js';
import { ringBenchmark } from './ring.js';
import { stormBenchmark } from './storm.js';

/** Every benchmark, in the order a full run runs them. */
const BENCHMARKS: readonly Benchmark[] = [
  relayBenchmark,
  idleBenchmark,
  bundleBenchmark,
  callLogBenchmark,
  callSetupBenchmark,
  stormBenchmark,
  ringBenchmark,
  clusterBenchmark,
  clusterIdleBenchmark,
];

/** The benchmarks `--only` names (comma-separated ids), or all of them. */
function selectBenchmarks(only: string | undefined): readonly Benchmark[] {
  if (only === undefined) return BENCHMARKS;
  const ids = only.split(',').map((id) => id.trim());
  const unknown = ids.filter((id) => !BENCHMARKS.some((benchmark) => benchmark.id === id));
  if (unknown.length > 0) {
    // Worded as it was when the benchmarks were called parts.
    throw new Error(
      `--only: unknown part ${unknown.join(', ')}; parts: ${BENCHMARKS.map((b) => b.id).join(', ')}`,
    );
  }
  return BENCHMARKS.filter((benchmark) => ids.includes(benchmark.id));
}

/** What `--help` prints. */
function usage(): string {
  return [
    'Usage: npm run bench -- [--only <ids>] [--rounds <n>] [--seconds <s>] [--write] [--profile]',
    '',
    '  --only <ids>    comma-separated benchmarks to run (default: all, in this order)',
    '  --rounds <n>    rounds per server (the ring benchmark: calls measured)',
    '  --seconds <s>   measured seconds per round',
    "  --write         rewrite each benchmark's section of docs/BENCHMARKS.md",
    '  --profile       profile CallDocker under the loads that support it',
    '',
    'Benchmarks:',
    ...BENCHMARKS.map((b) => `  ${b.id.padEnd(12)}  ${b.title}${b.profile ? ' (profiles)' : ''}`),
  ].join('\n');
}

function positive(name: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} must be a positive number`);
  return value;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const { values } = parseArgs({
    args,
    options: {
      write: { type: 'boolean', default: false },
      profile: { type: 'boolean', default: false },
      rounds: { type: 'string' },
      seconds: { type: 'string' },
      only: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const log = (line: string) => console.log(line);
  if (values.help) {
    log(usage());
    return;
  }
  const benchmarks = selectBenchmarks(values.only);
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
    command: benchCommand(args),
    log,
  };
  log(`Machine: ${machineLine(machine)}`);

  for (const benchmark of benchmarks) {
    log(`\n${benchmark.title}`);
    const result = await benchmark.run(ctx);
    if ('skipped' in result) {
      log(`\nSKIPPED ${benchmark.id}: ${result.skipped}.`);
      continue;
    }
    log(`\n${result.figures}`);
    if (values.write) {
      const doc = await writeDocSection(benchmark.id, result.docSection);
      log(`\nWrote the ${benchmark.id} section of ${doc}.`);
    }
    if (values.profile && benchmark.profile !== undefined) log(`\n${await benchmark.profile(ctx)}`);
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
