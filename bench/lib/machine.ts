/**
 * What the benchmark runs on, and CPU pinning. Read the machine before pinning this process:
 * afterwards `nproc` would count only the load generator's CPU.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';

/** The machine a run was measured on. */
export interface Machine {
  /** CPUs this process may use (what `nproc` prints). */
  readonly cpus: number;
  readonly cpuModel: string;
  readonly nodeVersion: string;
}

/** Describes this machine. */
export function describeMachine(): Machine {
  let cpuModel = cpus()[0]?.model ?? 'unknown';
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('model name'));
    if (line !== undefined) cpuModel = line.slice(line.indexOf(':') + 1).trim();
  } catch {
    // Not Linux: os.cpus() is as good as it gets.
  }
  return { cpus: availableParallelism(), cpuModel, nodeVersion: process.version };
}

/** Where the servers and the load generator run. */
export interface Pinning {
  /** CPU for the server processes, or undefined when unpinned. */
  readonly serverCpu: number | undefined;
  /** One line for the report saying how the run was pinned (or why it was not). */
  readonly note: string;
}

/**
 * Pins this process (every thread) to CPU 1 and returns CPU 0 for the servers, when `taskset`
 * exists and there are at least two CPUs; otherwise leaves everything unpinned and says so.
 */
export function pinLoadGenerator(machine: Machine): Pinning {
  const unpinned = (why: string): Pinning => ({
    serverCpu: undefined,
    note: `unpinned (${why}): the load generator and the server share CPUs`,
  });
  if (machine.cpus < 2) return unpinned('fewer than two CPUs');
  const probe = spawnSync('taskset', ['--version'], { stdio: 'ignore' });
  if (probe.error !== undefined || probe.status !== 0) return unpinned('taskset not found');
  try {
    execFileSync('taskset', ['-a', '-p', '-c', '1', String(process.pid)], { stdio: 'ignore' });
  } catch {
    return unpinned('taskset could not pin this process to CPU 1');
  }
  return { serverCpu: 0, note: 'each server pinned to CPU 0, the load generator to CPU 1' };
}

/** This process's CPU affinity as `taskset` lists it (`0-1`, `1`), or undefined without it. */
function currentAffinity(): string | undefined {
  try {
    const out = execFileSync('taskset', ['-c', '-p', String(process.pid)], { encoding: 'utf8' });
    return out.slice(out.lastIndexOf(':') + 1).trim();
  } catch {
    return undefined;
  }
}

/**
 * Runs `fn` with this process (every thread, and so every process it starts) free to use all
 * of the machine's CPUs, and puts back the pinning a server part may have set once `fn` is
 * done. For the browser benchmarks: the servers, Chromium's processes and the driver together
 * are the system under test, and pinning them all to the load generator's one CPU would
 * measure a machine that does not exist.
 * @returns what `fn` returns, and a note on how the run was placed.
 */
export async function onAllCpus<T>(
  machine: Machine,
  fn: () => Promise<T>,
): Promise<{ readonly result: T; readonly note: string }> {
  const all = `0-${machine.cpus - 1}`;
  const before = currentAffinity();
  let widened = false;
  let note = 'unpinned: the servers, Chromium and the driver share every CPU';
  if (before !== undefined && before !== all) {
    try {
      setAffinity(all);
      widened = true;
    } catch {
      // A cpuset that does not start at CPU 0, say: measure as placed, and say so.
      note = `the servers, Chromium and the driver share CPUs ${before} (could not unpin)`;
    }
  }
  try {
    return { result: await fn(), note };
  } finally {
    if (widened) setAffinity(before!);
  }
}

function setAffinity(list: string): void {
  execFileSync('taskset', ['-a', '-p', '-c', list, String(process.pid)], { stdio: 'ignore' });
}

/**
 * The 1-minute load average (`/proc/loadavg`, what `uptime` shows first): on a shared machine,
 * how much else wanted its CPUs while a benchmark ran. Undefined where there is none to read.
 */
export function loadAverage(): number | undefined {
  try {
    const first = Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
    return Number.isFinite(first) ? first : undefined;
  } catch {
    return undefined;
  }
}
