/**
 * HAProxy in front of test nodes, run from the repository's own configuration
 * (`deploy/haproxy.cfg`, the one docs/DEPLOY.md documents and `start-servers.sh --nodes` runs),
 * with its addresses passed as environment variables. Suites that need it skip, visibly, when
 * `haproxy` is not installed (Debian's haproxy package; CI installs it).
 */
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../support/stack.js';

/** The configuration the tests and `start-servers.sh --nodes` use. */
export const HAPROXY_CONFIG = fileURLToPath(new URL('../../deploy/haproxy.cfg', import.meta.url));

/** Polls `check` every 100 ms (stats pages are not free) until it holds; false after `ms`. */
async function poll(check: () => Promise<boolean>, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await sleep(100);
  }
}

/** The subset of tap's Test the helpers use. */
interface TapTest {
  teardown(fn: () => unknown): void;
  comment(...message: unknown[]): void;
  plan(n: number, comment?: string): void;
}

/** Why the HAProxy suites skip, and how to run them. */
export const HAPROXY_SKIP_REASON =
  'haproxy is not installed; install Debian’s haproxy package to test behind the load balancer';

/** Whether `haproxy` runs here. */
export function haproxyInstalled(): boolean {
  const probe = spawnSync('haproxy', ['-v'], { stdio: 'ignore' });
  return probe.error === undefined && probe.status === 0;
}

/**
 * True when HAProxy is installed; otherwise marks `t` skipped (`1..0 # SKIP ...` in the output)
 * and returns false, and the caller adds no test.
 */
export function haproxyOrSkip(t: TapTest): boolean {
  if (haproxyInstalled()) return true;
  t.comment(`skipped: ${HAPROXY_SKIP_REASON}`);
  t.plan(0, HAPROXY_SKIP_REASON);
  return false;
}

/** What `deploy/haproxy.cfg` reads: `LB_NODE1..8`, `LB_WEB1..4` from the address lists. */
export function balancerEnv(options: {
  bind: string;
  nodes: readonly string[];
  web?: readonly string[];
  stats?: string;
  tlsCert?: string;
}): Record<string, string> {
  const env: Record<string, string> = { LB_BIND: options.bind };
  options.nodes.forEach((address, i) => (env[`LB_NODE${i + 1}`] = address));
  options.web?.forEach((address, i) => (env[`LB_WEB${i + 1}`] = address));
  if (options.stats !== undefined) env['LB_STATS_BIND'] = options.stats;
  if (options.tlsCert !== undefined) env['LB_TLS_CERT'] = options.tlsCert;
  return env;
}

/** `haproxy -c` on the repository's configuration with `env`: its exit code and output. */
export function checkConfig(env: Record<string, string>): {
  status: number | null;
  output: string;
} {
  const run = spawnSync('haproxy', ['-c', '-f', HAPROXY_CONFIG], {
    env: { PATH: process.env['PATH'] ?? '', ...env },
    encoding: 'utf8',
  });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

/** A running HAProxy. */
export interface Balancer {
  readonly port: number;
  /** `ws://127.0.0.1:<port>/`, where clients connect. */
  readonly wsUrl: string;
  /** `http://127.0.0.1:<port>` */
  readonly httpUrl: string;
  /** What HAProxy wrote (its notices say when a server goes down or up). */
  output(): string;
  /** Each server's status in `backend` from the stats page: `UP`, `DOWN`, `UP 1/2`, ... */
  statuses(backend?: string): Promise<Map<string, string>>;
  /** Resolves once `server` of `backend` shows `status`; rejects after `timeoutMs`. */
  waitFor(server: string, status: string, timeoutMs: number, backend?: string): Promise<void>;
}

/**
 * Starts HAProxy on the repository's configuration in front of `nodes` (`host:port` each) and,
 * when given, `web`, on free loopback ports; resolves once its stats page answers. Stopped at
 * teardown.
 */
export async function startBalancer(
  t: TapTest,
  nodes: readonly string[],
  web?: readonly string[],
): Promise<Balancer> {
  const [port, statsPort] = [await freePort(), await freePort()];
  const env = balancerEnv({
    bind: `127.0.0.1:${port}`,
    nodes,
    ...(web !== undefined && { web }),
    stats: `127.0.0.1:${statsPort}`,
  });
  // -db: in the foreground, not as a daemon, so the test owns the process.
  const child = spawn('haproxy', ['-db', '-f', HAPROXY_CONFIG], {
    env: { PATH: process.env['PATH'] ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(killer);
  });

  const statsUrl = `http://127.0.0.1:${statsPort}/;csv`;
  const statuses = async (backend = 'signaling') => {
    const csv = await (await fetch(statsUrl)).text();
    const [header, ...rows] = csv.split('\n');
    const columns = (header ?? '').replace(/^# /, '').split(',');
    const [px, sv, st] = ['pxname', 'svname', 'status'].map((name) => columns.indexOf(name));
    if (px === -1 || sv === -1 || st === -1) throw new Error(`unexpected stats CSV: ${header}`);
    const result = new Map<string, string>();
    for (const row of rows) {
      const cells = row.split(',');
      if (cells[px!] === backend && cells[sv!] !== 'BACKEND') result.set(cells[sv!]!, cells[st!]!);
    }
    return result;
  };
  const started = await poll(
    async () =>
      child.exitCode === null && (await fetch(statsUrl).catch(() => undefined))?.status === 200,
    10_000,
  );
  if (!started) throw new Error(`haproxy did not start:\n${output}`);
  return {
    port,
    wsUrl: `ws://127.0.0.1:${port}/`,
    httpUrl: `http://127.0.0.1:${port}`,
    output: () => output,
    statuses,
    async waitFor(server, status, timeoutMs, backend = 'signaling') {
      let last: string | undefined;
      const reached = await poll(async () => {
        last = (await statuses(backend)).get(server);
        return last === status;
      }, timeoutMs);
      if (!reached) throw new Error(`${backend}/${server} is ${last}, not ${status}\n${output}`);
    },
  };
}
