/**
 * Summarises a V8 `.cpuprofile` (from `node --cpu-prof`): where the sampled thread spent its
 * own time, by function and by file, with paths shown relative to the repository.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
}
interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
}
interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

function isProfile(value: unknown): value is Profile {
  if (typeof value !== 'object' || value === null) return false;
  const p = value as Partial<Record<keyof Profile, unknown>>;
  return Array.isArray(p.nodes) && Array.isArray(p.samples) && Array.isArray(p.timeDeltas);
}

/** V8's name for time the thread spent waiting for events. */
const IDLE = '(idle)';

const ROOT_URL = new URL('../../', import.meta.url).href;

function where(url: string): string {
  if (url === '') return '';
  if (url.startsWith(ROOT_URL)) return url.slice(ROOT_URL.length);
  if (url.startsWith('node:')) return url;
  if (url.startsWith('file://')) {
    const path = fileURLToPath(url);
    const modules = path.lastIndexOf('node_modules/');
    return modules >= 0 ? path.slice(modules) : path.slice(path.lastIndexOf('/') + 1);
  }
  return url;
}

/** Self time of one function or file. */
export interface SelfTime {
  readonly name: string;
  readonly ms: number;
  /** Share of the busy (not idle) sampled time. */
  readonly share: number;
}

/** Self time by function and by file, largest first; idle time is left out. */
export interface ProfileSummary {
  /** Sampled time, idle included. */
  readonly totalMs: number;
  /** Sampled time the thread was not idle. */
  readonly busyMs: number;
  readonly functions: readonly SelfTime[];
  readonly files: readonly SelfTime[];
}

/** Reads and summarises the profile at `path`. */
export function summariseProfile(path: string): ProfileSummary {
  const parsed: unknown = JSON.parse(readFileSync(path, 'utf8'));
  if (!isProfile(parsed)) throw new Error(`${path} is not a V8 CPU profile`);
  const nodes = new Map(parsed.nodes.map((n) => [n.id, n.callFrame]));
  const byFunction = new Map<string, number>();
  const byFile = new Map<string, number>();
  let totalUs = 0;
  // timeDeltas[i] is the time from sample i-1 to sample i; it is charged to sample i-1's frame.
  for (let i = 0; i + 1 < parsed.samples.length; i++) {
    const frame = nodes.get(parsed.samples[i]!);
    const us = parsed.timeDeltas[i + 1]!;
    if (frame === undefined) continue;
    totalUs += us;
    const file = where(frame.url);
    const name = frame.functionName === '' ? '(anonymous)' : frame.functionName;
    const key = file === '' ? name : `${name}  ${file}:${frame.lineNumber + 1}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + us);
    const fileKey = file === '' ? name : file;
    byFile.set(fileKey, (byFile.get(fileKey) ?? 0) + us);
  }
  const idleUs = byFile.get(IDLE) ?? 0;
  const busyUs = totalUs - idleUs;
  const ranked = (map: Map<string, number>) =>
    [...map]
      .filter(([name]) => name !== IDLE)
      .map(([name, us]) => ({ name, ms: us / 1000, share: us / busyUs }))
      .sort((x, y) => y.ms - x.ms);
  return {
    totalMs: totalUs / 1000,
    busyMs: busyUs / 1000,
    functions: ranked(byFunction),
    files: ranked(byFile),
  };
}

/** The top `limit` entries of a summary as text. */
export function formatProfile(summary: ProfileSummary, limit = 25): string {
  const lines = (entries: readonly SelfTime[]) =>
    entries
      .slice(0, limit)
      .map(
        (e) =>
          `  ${(e.share * 100).toFixed(1).padStart(5)}%  ${e.ms.toFixed(0).padStart(6)} ms  ${e.name}`,
      );
  return [
    `Self time of the main thread: ${summary.busyMs.toFixed(0)} ms busy of ` +
      `${summary.totalMs.toFixed(0)} ms sampled (shares are of busy time). By function:`,
    ...lines(summary.functions),
    '',
    'By file:',
    ...lines(summary.files),
  ].join('\n');
}

/**
 * Runs `profile` with a fresh directory for `node --cpu-prof --cpu-prof-dir <dir>` to write
 * into, and returns the formatted summary of the profile found there; the directory is removed.
 * @throws Error when no profile was written.
 */
export async function profileInto(profile: (dir: string) => Promise<unknown>): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'calldocker-bench-'));
  try {
    await profile(dir);
    const file = readdirSync(dir).find((name) => name.endsWith('.cpuprofile'));
    if (file === undefined) throw new Error('the server wrote no .cpuprofile');
    return formatProfile(summariseProfile(join(dir, file)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * {@link profileInto} for several processes at once (the nodes of a cluster): each writes its
 * own profile into the directory, and each is summarised in turn, in the order the processes
 * wrote them (by file name: V8 names each after its time and process id).
 * @throws Error when no profile was written.
 */
export async function profileEachInto(
  profile: (dir: string) => Promise<unknown>,
  limit = 25,
): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'calldocker-bench-'));
  try {
    await profile(dir);
    const files = readdirSync(dir)
      .filter((name) => name.endsWith('.cpuprofile'))
      .sort();
    if (files.length === 0) throw new Error('no process wrote a .cpuprofile');
    return files
      .map(
        (file, i) =>
          `Process ${i + 1} of ${files.length}:\n${formatProfile(summariseProfile(join(dir, file)), limit)}`,
      )
      .join('\n\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
