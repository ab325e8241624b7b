/**
 * Both CallDocker servers as the end-to-end tests run them: the signaling server and the web
 * host from their real entries (`server/index.ts`, `web/index.ts`, under tsx), each in its own
 * process, on a fresh SQLite file with one company and its agents. Used by the browser tests'
 * harness (`test/e2e/harness.ts`, which ties {@link RunningStack.stop} to tap's teardown) and
 * by the browser benchmark (`bench/ring.ts`), which measures the stack the tests check. It
 * lives with the tests, not the benchmarks, so that the tests need nothing of the `bench`
 * workspace.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDatabaseUrl } from '../../config/config.js';
import { createAgent, createCompany } from '../../db/companies.js';
import { openDatabase } from '../../db/database.js';
import { isolatedEnv } from './child-env.js';

/** The repository root, where the servers' entries are. */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

const TSX_LOADER = import.meta.resolve('tsx');
const START_TIMEOUT_MS = 30_000;
/** How long a server has to exit after SIGTERM before it gets SIGKILL. */
const STOP_TIMEOUT_MS = 10_000;

/** A port free at the time of asking (the servers need each other's before they start). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** An agent the stack creates. */
export interface StackAgent {
  readonly id: string;
  readonly email: string;
  readonly name: string;
  readonly password: string;
  readonly role: 'agent' | 'admin';
}

/** What {@link launchStack} seeds and where the servers listen. */
export interface Stack {
  /** `http://127.0.0.1:<port>` of the web host. */
  readonly web: string;
  /** `ws://127.0.0.1:<port>/` of the signaling server. */
  readonly signaling: string;
  readonly companyId: string;
  readonly companyName: string;
  readonly agents: readonly StackAgent[];
  /** The SQLite file both servers use. */
  readonly databasePath: string;
  /** What the servers wrote, for a failing test's diagnosis. */
  readonly output: () => string;
}

/** A started stack and how to stop it. */
export interface RunningStack extends Stack {
  /** Stops both servers (SIGTERM, then SIGKILL) and removes the database's directory. */
  stop(): Promise<void>;
}

/** Options of {@link launchStack}. */
export interface StackOptions {
  /** Extra environment for both servers (e.g. `RING_TIMEOUT_MS`). */
  readonly env?: Readonly<Record<string, string>>;
  /** Agents to create; default one admin, Alice, and one agent, Bob. */
  readonly agents?: ReadonlyArray<Omit<StackAgent, 'id'>>;
  readonly companyId?: string;
  readonly companyName?: string;
  /**
   * `false` starts the web host alone: pages load, but their signaling port has nothing
   * listening (for the "service unreachable" case). Default true.
   */
  readonly signaling?: boolean;
}

const DEFAULT_AGENTS: ReadonlyArray<Omit<StackAgent, 'id'>> = [
  { email: 'alice@acme.test', name: 'Alice Agent', password: 'alice-password-1', role: 'admin' },
  { email: 'bob@acme.test', name: 'Bob Agent', password: 'bob-password-1', role: 'agent' },
];

/** Polls `url` until it answers 200. */
async function waitForHttp(url: string, deadline: number, child: ChildProcess): Promise<void> {
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${url}: the server exited (${child.exitCode})`);
    try {
      const res = await fetch(url);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${url} did not answer in time`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Stops `child`: SIGTERM, then SIGKILL if it is still there after {@link STOP_TIMEOUT_MS}. */
function stopChild(child: ChildProcess): Promise<void> {
  return new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const kill = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/**
 * Starts the signaling server and the web host from their entries on a fresh database with
 * one company and its agents, and resolves once both answer their health routes.
 * @throws Error with the servers' output when one does not come up; both are stopped first.
 */
export async function launchStack(options: StackOptions = {}): Promise<RunningStack> {
  const dir = await mkdtemp(join(tmpdir(), 'calldocker-e2e-'));
  const databasePath = join(dir, 'calldocker.db');
  const companyId = options.companyId ?? 'acme';
  const companyName = options.companyName ?? 'Acme Bikes';
  const database = openDatabase(parseDatabaseUrl(`sqlite:${databasePath}`));
  await database.migrate();
  await createCompany(database.db, companyId, companyName);
  const agents: StackAgent[] = [];
  for (const agent of options.agents ?? DEFAULT_AGENTS) {
    const row = await createAgent(database.db, { companyId, ...agent });
    agents.push({ ...agent, id: row.id });
  }
  await database.close();

  const [signalingPort, webPort] = [await freePort(), await freePort()];
  const env: NodeJS.ProcessEnv = {
    ...isolatedEnv(),
    NODE_ENV: 'development',
    HOST: '127.0.0.1',
    SIGNALING_PORT: String(signalingPort),
    WEB_PORT: String(webPort),
    JWT_SECRET: 'e2e-secret-that-is-long-enough-0123456789abcdef',
    DATABASE_URL: `sqlite:${databasePath}`,
    LOG_LEVEL: 'warn',
    ...options.env,
  };
  let output = '';
  const entries =
    options.signaling === false ? ['web/index.ts'] : ['server/index.ts', 'web/index.ts'];
  const children = entries.map((entry) => {
    const child = spawn(process.execPath, ['--import', TSX_LOADER, join(ROOT, entry)], {
      cwd: dir,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    return child;
  });
  const stop = async () => {
    await Promise.all(children.map(stopChild));
    await rm(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + START_TIMEOUT_MS;
  try {
    const web = children.at(-1)!;
    if (options.signaling !== false) {
      await waitForHttp(`http://127.0.0.1:${signalingPort}/readyz`, deadline, children[0]!);
    }
    await waitForHttp(`http://127.0.0.1:${webPort}/api/health`, deadline, web);
  } catch (err) {
    await stop();
    throw new Error(`${(err as Error).message}\n${output}`);
  }
  return {
    web: `http://127.0.0.1:${webPort}`,
    signaling: `ws://127.0.0.1:${signalingPort}/`,
    companyId,
    companyName,
    agents,
    databasePath,
    output: () => output,
    stop,
  };
}
