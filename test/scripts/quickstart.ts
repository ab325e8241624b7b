/**
 * Helpers for the quick-start tests: a copy of the repository (its files as git lists them, and
 * the repository's own node_modules linked in so nothing is downloaded or reinstalled), started
 * with ./start-servers.sh as its own process group, and probes of the ports it opens.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  statSync,
  symlinkSync,
  utimesSync,
} from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { freePort } from '../support/stack.js';
import { isolatedEnv } from '../support/child-env.js';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The subset of tap's Test the helpers use. */
interface Tap {
  teardown(fn: () => unknown): void;
}

/** The status code of `GET http://127.0.0.1:port/path`, or null when nothing answers. */
export async function statusOf(port: number, path: string): Promise<number | null> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, {
      signal: AbortSignal.timeout(1000),
    });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return null;
  }
}

/** True when a TCP connection to the port is refused. */
export async function portClosed(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

/** Polls `check` every 200 ms until it holds or `timeoutMs` passes; returns the last result. */
export async function until(
  check: () => Promise<boolean> | boolean,
  timeoutMs: number,
  stop?: () => boolean,
) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > deadline || stop?.() === true) return false;
    await sleep(200);
  }
}

/** The repository's files, tracked and not ignored (so uncommitted new files come along). */
function repositoryFiles(): string[] | null {
  const git = spawnSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: REPO,
    encoding: 'utf8',
  });
  if (git.status !== 0) return null;
  return git.stdout.split('\0').filter((file) => file !== '');
}

const files = repositoryFiles();

/** Why the quick-start tests cannot run here, or false. */
export const quickstartSkip =
  files === null
    ? 'not a git work tree'
    : !existsSync(join(REPO, 'node_modules', '.package-lock.json'))
      ? 'node_modules was not installed by npm (no node_modules/.package-lock.json)'
      : process.platform === 'win32'
        ? 'start-servers.sh is for POSIX shells'
        : false;

/** Copies the repository into a fresh temporary directory; returns its path. */
export function copyRepository(): string {
  const dir = mkdtempSync(join(tmpdir(), 'calldocker-quickstart-'));
  for (const file of files ?? []) {
    const source = join(REPO, file);
    if (!existsSync(source)) continue; // deleted in the work tree, still in the index
    mkdirSync(dirname(join(dir, file)), { recursive: true });
    copyFileSync(source, join(dir, file));
    chmodSync(join(dir, file), statSync(source).mode);
  }
  symlinkSync(join(REPO, 'node_modules'), join(dir, 'node_modules'), 'dir');
  // The script reinstalls when package-lock.json is newer than the last install; a fresh copy
  // is newer, and `npm ci` through the link would rewrite the repository's own node_modules.
  const past = new Date('2001-01-01T00:00:00Z');
  utimesSync(join(dir, 'package-lock.json'), past, past);
  return dir;
}

/**
 * The environment a quick start gets: this one on the given ports, without what would make the
 * copy use anything but its own secret, database and (with `--nodes`) Redis, or report
 * coverage to tap.
 */
export function quickstartEnv(signalingPort: number, webPort: number): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...isolatedEnv(),
    HOST: '127.0.0.1',
    SIGNALING_PORT: String(signalingPort),
    WEB_PORT: String(webPort),
    LOG_LEVEL: 'warn',
  };
  for (const name of ['JWT_SECRET', 'JWT_PUBLIC_KEY', 'NODE_ENV', 'NODE_V8_COVERAGE']) {
    delete env[name];
  }
  for (const name of ['DATABASE_URL', 'REDIS_URL', 'REDIS_PREFIX', 'NODE_ID']) delete env[name];
  return env;
}

/** A quick start under way and what it printed so far. */
export interface Quickstart {
  readonly child: ChildProcess;
  readonly run: { output: string; exited: boolean; code: number | null };
  readonly exit: Promise<void>;
}

/** ./start-servers.sh `args` running in `dir` as its own process group, output collected. */
export function startQuickstart(
  t: Tap,
  dir: string,
  env: NodeJS.ProcessEnv,
  args: readonly string[] = [],
): Quickstart {
  const run = { output: '', exited: false, code: null as number | null };
  const child: ChildProcess = spawn('./start-servers.sh', args, {
    cwd: dir,
    env,
    detached: true, // its own process group, so one signal reaches npm, node and every server
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (chunk: Buffer) => (run.output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (run.output += chunk.toString()));
  const exit = new Promise<void>((resolve) =>
    child.once('exit', (code) => {
      run.exited = true;
      run.code = code;
      resolve();
    }),
  );
  t.teardown(() => {
    if (!run.exited && child.pid !== undefined) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });
  return { child, run, exit };
}

/** The demo login lines seed-demo prints, parsed; undefined when they are not in `output`. */
export function demoLogin(output: string) {
  const company = /^\s*Company:\s+(\S+)$/m.exec(output)?.[1];
  const email = /^\s*Email:\s+(\S+)$/m.exec(output)?.[1];
  const password = /^\s*Password:\s+(\S+)$/m.exec(output)?.[1];
  const url = /^\s*URL:\s+(\S+)$/m.exec(output)?.[1];
  if (company === undefined && email === undefined && password === undefined) return undefined;
  return { company, email, password, url };
}

/** Whether a loopback port is free now. */
function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** The first of `count` consecutive loopback ports free now (`--nodes` uses the next ones). */
export async function freePorts(count: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const first = await freePort();
    let free = first + count - 1 <= 65_535;
    for (let port = first + 1; free && port < first + count; port++) free = await portFree(port);
    if (free) return first;
  }
  throw new Error(`no ${count} consecutive free ports`);
}
