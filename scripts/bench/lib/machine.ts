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
