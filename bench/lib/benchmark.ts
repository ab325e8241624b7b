/**
 * The one shape every benchmark has. Each benchmark is one module (`bench/<id>.ts`) that
 * exports one {@link Benchmark}; `bench/index.ts` lists them, parses the command line, runs
 * the ones asked for, prints their figures and, with `--write`, writes their sections.
 */
import type { Machine, Pinning } from './machine.js';

/** What benchmarks that run servers need: a fresh build, compiled entries and CPU pinning. */
export interface ServerSetup {
  readonly pinning: Pinning;
  /** Compiled server entries (plain node). */
  readonly serversDir: string;
}

/** What every benchmark's run gets: the machine, the command line's settings and the log. */
export interface BenchContext {
  readonly machine: Machine;
  /**
   * Builds `dist/` if stale, compiles the benchmark's servers and pins this process, on the
   * first call only: benchmarks that run no server (the bundle sizes) need none of it.
   */
  servers(): ServerSetup;
  /** Rounds per server, when given on the command line (the ring benchmark: calls measured). */
  readonly rounds: number | undefined;
  /** Measured seconds per round, when given on the command line. */
  readonly seconds: number | undefined;
  /**
   * The command this run was started with (see {@link benchCommand}), which a docs section names
   * as the one that measured it: a section written by `--only relay,idle --write` says so.
   */
  readonly command: string;
  readonly log: (line: string) => void;
}

/** What a run measured, written out. */
export interface Measured {
  /** The figures as Markdown (tables and verdicts), printed to the terminal. */
  readonly figures: string;
  /**
   * The benchmark's section of docs/BENCHMARKS.md: its heading, how and where it was measured,
   * the figures and how to read them. Written between the section's markers with `--write`.
   */
  readonly docSection: string;
}

/** Why a benchmark did not run (Chromium missing, say); the others still run. */
export interface Skipped {
  readonly skipped: string;
}

/** One benchmark. */
export interface Benchmark {
  /**
   * What `--only` takes, and the marker of the benchmark's section in docs/BENCHMARKS.md
   * (`<!-- bench:<id> -->`): changing it orphans the written section.
   */
  readonly id: string;
  /** Its heading, in the terminal and in its docs section. */
  readonly title: string;
  /** Measures, and writes the figures out. */
  run(ctx: BenchContext): Promise<Measured | Skipped>;
  /** With `--profile`: profiles CallDocker under this benchmark's load and returns a summary. */
  profile?(ctx: BenchContext): Promise<string>;
}

/** The command a run's arguments (after `--`) amount to, as its docs sections name it. */
export function benchCommand(args: readonly string[]): string {
  return args.length === 0 ? 'npm run bench' : `npm run bench -- ${args.join(' ')}`;
}

/**
 * The machine as a docs section states it: CPUs, model and Node, and how the run was pinned
 * when it was.
 */
export function machineLine(machine: Machine, pinning?: Pinning): string {
  const line = `${machine.cpus} CPUs (\`nproc\`), ${machine.cpuModel}, Node ${machine.nodeVersion}`;
  return pinning === undefined ? `${line}.` : `${line}; ${pinning.note}.`;
}

/**
 * What every benchmark that runs servers takes from the run: where the compiled servers are,
 * the server's CPU, the log, and the command line's rounds (and seconds, as `measureMs`, for
 * the benchmarks that measure for a set time).
 */
export function serverOptions(ctx: BenchContext, timed: boolean) {
  const { serversDir, pinning } = ctx.servers();
  return {
    ...(ctx.rounds !== undefined ? { rounds: ctx.rounds } : {}),
    ...(timed && ctx.seconds !== undefined ? { measureMs: ctx.seconds * 1000 } : {}),
    serversDir,
    serverCpu: pinning.serverCpu,
    log: ctx.log,
  };
}
