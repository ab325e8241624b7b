/**
 * The quick start end to end: a copy of the repository (its files as git lists them, and the
 * repository's own node_modules linked in so nothing is downloaded) is started with
 * ./start-servers.sh on free ports; both servers must answer, .env must hold a fresh secret,
 * the first start must print a working demo login (and the second start none), and a SIGTERM
 * to the process group must close both ports.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
} from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { parseDatabaseUrl } from '../../config/config.js';
import { openDatabase } from '../../db/database.js';
import { verifyPassword } from '../../db/passwords.js';
import { freePort } from '../support/stack.js';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
/**
 * The first start builds the project (tsc, the client package, the pages) before it serves:
 * beside the rest of the suite on two cores that has taken over 45 s.
 */
const READY_TIMEOUT_MS = 100_000;

/** The subset of tap's Test the helpers use. */
interface Tap {
  teardown(fn: () => unknown): void;
}
const STOP_TIMEOUT_MS = 10_000;

/** The status code of `GET http://127.0.0.1:port/path`, or null when nothing answers. */
async function statusOf(port: number, path: string): Promise<number | null> {
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
async function portClosed(port: number): Promise<boolean> {
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
async function until(
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

/** Copies the repository into a fresh temporary directory; returns its path. */
function copyRepository(files: readonly string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'calldocker-quickstart-'));
  for (const file of files) {
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

const files = repositoryFiles();
const skip =
  files === null
    ? 'not a git work tree'
    : !existsSync(join(REPO, 'node_modules', '.package-lock.json'))
      ? 'node_modules was not installed by npm (no node_modules/.package-lock.json)'
      : process.platform === 'win32'
        ? 'start-servers.sh is for POSIX shells'
        : false;

/** ./start-servers.sh running in `dir` as its own process group, with its output collected. */
function startQuickstart(t: Tap, dir: string, env: NodeJS.ProcessEnv) {
  const run = { output: '', exited: false };
  const child: ChildProcess = spawn('./start-servers.sh', [], {
    cwd: dir,
    env,
    detached: true, // its own process group, so one signal reaches npm, node and both servers
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (chunk: Buffer) => (run.output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (run.output += chunk.toString()));
  const exit = new Promise<void>((resolve) =>
    child.once('exit', () => {
      run.exited = true;
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
function demoLogin(output: string) {
  const company = /^\s*Company:\s+(\S+)$/m.exec(output)?.[1];
  const email = /^\s*Email:\s+(\S+)$/m.exec(output)?.[1];
  const password = /^\s*Password:\s+(\S+)$/m.exec(output)?.[1];
  const url = /^\s*URL:\s+(\S+)$/m.exec(output)?.[1];
  if (company === undefined && email === undefined && password === undefined) return undefined;
  return { company, email, password, url };
}

t.test(
  'start-servers.sh builds, writes .env, seeds a demo login once, starts both servers and stops them on SIGTERM',
  { skip, timeout: 240_000 },
  async (t) => {
    const dir = copyRepository(files ?? []);
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const [signalingPort, webPort] = [await freePort(), await freePort()];
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      HOST: '127.0.0.1',
      SIGNALING_PORT: String(signalingPort),
      WEB_PORT: String(webPort),
      LOG_LEVEL: 'warn',
    };
    // The copy must make its own secret and use its own database, and its children need not
    // report coverage to tap.
    delete env.JWT_SECRET;
    delete env.JWT_PUBLIC_KEY;
    delete env.NODE_ENV;
    delete env.NODE_V8_COVERAGE;
    delete env.DATABASE_URL;

    /** Starts the quick start, checks both servers answer, and returns its output so far. */
    const startAndCheck = async (label: string) => {
      const started = startQuickstart(t, dir, env);
      const ready = await until(
        async () =>
          (await statusOf(signalingPort, '/healthz')) === 200 &&
          (await statusOf(webPort, '/api/health')) === 200,
        READY_TIMEOUT_MS,
        () => started.run.exited,
      );
      if (!ready) t.comment(started.run.output);
      t.ok(ready, `${label}: the signaling server answers /healthz and the web host /api/health`);
      const banner = `Signaling: ws://localhost:${signalingPort}/  Web: http://localhost:${webPort}/`;
      t.ok(await until(() => started.run.output.includes(banner), 5000), 'the URLs are printed');
      t.equal(started.run.output.split(banner).length - 1, 1, 'the URLs are printed once');
      return started;
    };
    /** SIGTERM to the process group; both ports must close and the script exit. */
    const stop = async (started: ReturnType<typeof startQuickstart>) => {
      const { child, run, exit } = started;
      t.ok(child.pid !== undefined && !run.exited, 'the quick start is still running');
      if (child.pid !== undefined && !run.exited) process.kill(-child.pid, 'SIGTERM');
      const closed = await until(
        async () => (await portClosed(signalingPort)) && (await portClosed(webPort)),
        STOP_TIMEOUT_MS,
      );
      if (!closed) t.comment(run.output);
      t.ok(closed, 'both ports are closed after SIGTERM');
      await Promise.race([exit, sleep(STOP_TIMEOUT_MS)]);
      t.ok(run.exited, 'the quick start exited');
    };

    const first = await startAndCheck('first start');
    const dotenv = readFileSync(join(dir, '.env'), 'utf8');
    t.match(dotenv, /^JWT_SECRET=[0-9a-f]{64}$/m, '.env holds a 64-hex-char JWT_SECRET');
    t.equal(statSync(join(dir, '.env')).mode & 0o077, 0, '.env is readable by its owner only');
    t.ok(existsSync(join(dir, 'dist', 'web', 'index.js')), 'the copy was built');

    const login = demoLogin(first.run.output);
    t.match(
      login,
      { company: 'demo', email: 'demo@example.com', url: `http://127.0.0.1:${webPort}/` },
      'the first start prints how to log in to the demo company, and where',
    );
    const database = openDatabase(parseDatabaseUrl(`sqlite:${join(dir, 'data', 'calldocker.db')}`));
    t.teardown(() => database.close());
    const agent = await database.db
      .selectFrom('agents')
      .select(['email', 'role', 'password_hash'])
      .where('company_id', '=', 'demo')
      .executeTakeFirst();
    t.match(agent, { email: 'demo@example.com', role: 'admin' }, 'the demo admin is in ./data');
    t.ok(
      agent !== undefined && (await verifyPassword(login?.password ?? '', agent.password_hash)),
      "the printed password is the demo admin's",
    );
    await stop(first);

    const second = await startAndCheck('second start');
    t.equal(demoLogin(second.run.output), undefined, 'the second start prints no login');
    t.equal(readFileSync(join(dir, '.env'), 'utf8'), dotenv, '.env is kept as it was');
    await stop(second);
  },
);
