/**
 * The quick start end to end, on a copy of the repository (see `quickstart.ts`): started with
 * ./start-servers.sh on free ports, both servers must answer, .env must hold a fresh secret,
 * the first start must print a working demo login (and the second start none), and a SIGTERM
 * to the process group must close both ports. With `--nodes 2`, two nodes on a private Redis
 * behind HAProxy carry a call; a bad `--nodes` is refused before anything is built, and a
 * missing haproxy or redis-server is named with how to get it.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { parseDatabaseUrl } from '../../config/config.js';
import { openDatabase } from '../../db/database.js';
import { verifyPassword } from '../../db/passwords.js';
import { haproxyInstalled } from '../cluster/haproxy.js';
import { openClient, requestCall, outcome } from '../helpers.js';
import { freePort } from '../support/stack.js';
import {
  copyRepository,
  demoLogin,
  freePorts,
  portClosed,
  quickstartEnv,
  quickstartSkip,
  startQuickstart,
  statusOf,
  until,
  type Quickstart,
} from './quickstart.js';

// The first start builds the copy, which can take minutes on a busy machine, and the file starts
// the quick start four times.
t.setTimeout(600_000);

/**
 * The first start builds the project (tsc, the client package, the pages) before it serves:
 * beside the rest of the suite on two cores that has taken over 45 s, and over 100 s on a
 * machine busier still.
 */
const READY_TIMEOUT_MS = 180_000;
const STOP_TIMEOUT_MS = 10_000;

let copy: string | undefined;
/** The copy every test here starts (built once, by the first start); removed at the end. */
function sharedCopy(): string {
  if (copy === undefined) {
    const dir = (copy = copyRepository());
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  }
  return copy;
}

/** The demo login the first start printed, for the tests after it. */
let printedLogin: ReturnType<typeof demoLogin>;

/** `./start-servers.sh args` to its end, in the shared copy. */
function runToEnd(args: string[]) {
  const env = quickstartEnv(1, 2);
  return spawnSync('./start-servers.sh', args, {
    cwd: sharedCopy(),
    env,
    encoding: 'utf8',
    timeout: 30_000,
  });
}

t.test(
  'start-servers.sh refuses a bad --nodes, and answers --help, before installing or building anything',
  { skip: quickstartSkip },
  async (t) => {
    const tooMany = runToEnd(['--nodes', '9']);
    t.equal(tooMany.status, 2, '--nodes 9 exits 2');
    t.match(tooMany.stderr, 'start-servers: --nodes takes a number from 1 to 8, got 9');
    t.match(tooMany.stderr, 'usage: start-servers.sh [--nodes N]', 'with the usage');
    const typo = runToEnd(['--node', '2']);
    t.equal(typo.status, 2, 'an unknown argument exits 2');
    t.match(typo.stderr, 'start-servers: unknown argument "--node"');
    const help = runToEnd(['--help']);
    t.equal(help.status, 0, '--help exits 0');
    t.match(help.stdout, 'usage: start-servers.sh [--nodes N]');
    t.notOk(existsSync(join(sharedCopy(), 'dist')), 'nothing was built');
    t.notOk(existsSync(join(sharedCopy(), '.env')), 'nothing was written');
  },
);

t.test(
  'start-servers.sh builds, writes .env, seeds a demo login once, starts both servers and stops them on SIGTERM',
  { skip: quickstartSkip, timeout: 360_000 },
  async (t) => {
    const dir = sharedCopy();
    const [signalingPort, webPort] = [await freePort(), await freePort()];
    const env = quickstartEnv(signalingPort, webPort);

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
    const stop = async (started: Quickstart) => {
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
    printedLogin = login;
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

const nodesSkip =
  quickstartSkip ||
  (!haproxyInstalled() && 'haproxy is not installed (Debian’s haproxy package)') ||
  (spawnSync('redis-server', ['--version']).status !== 0 && 'redis-server is not installed');

t.test(
  'start-servers.sh --nodes 2 runs two nodes on a private Redis behind HAProxy, which carry a call, and stops them all on SIGTERM',
  { skip: nodesSkip, timeout: 240_000 },
  async (t) => {
    const dir = sharedCopy();
    const [signalingPort, webPort] = [await freePorts(3), await freePort()];
    const started = startQuickstart(t, dir, quickstartEnv(signalingPort, webPort), [
      '--nodes',
      '2',
    ]);
    const { run } = started;
    const nodePorts = [signalingPort + 1, signalingPort + 2];
    const ready = await until(
      async () =>
        (await statusOf(signalingPort, '/readyz')) === 200 &&
        (await statusOf(nodePorts[0]!, '/readyz')) === 200 &&
        (await statusOf(nodePorts[1]!, '/readyz')) === 200 &&
        (await statusOf(webPort, '/api/health')) === 200,
      READY_TIMEOUT_MS,
      () => run.exited,
    );
    if (!ready) t.comment(run.output);
    t.ok(ready, 'both nodes, HAProxy in front of them and the web host answer');
    const banner = `Signaling: ws://localhost:${signalingPort}/  Web: http://localhost:${webPort}/`;
    t.ok(await until(() => run.output.includes(banner), 5000), 'the usual URLs are printed');
    const cluster = new RegExp(
      `^Cluster: node1 on 127\\.0\\.0\\.1:${nodePorts[0]}, node2 on 127\\.0\\.0\\.1:${nodePorts[1]}, ` +
        `behind HAProxy on port ${signalingPort}; a private redis-server on redis://127\\.0\\.0\\.1:(\\d+)$`,
      'm',
    ).exec(run.output);
    t.ok(cluster, 'and where the nodes and their Redis are');
    const redisPort = Number(cluster?.[1]);

    const login = demoLogin(run.output) ?? printedLogin;
    const web = `http://127.0.0.1:${webPort}`;
    const post = async (path: string, body: unknown) => {
      const res = await fetch(`${web}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      return (await res.json()) as { token: string };
    };
    const agentToken = (
      await post('/api/auth/login', {
        companyId: 'demo',
        email: login?.email,
        password: login?.password,
      })
    ).token;
    const visitorToken = (await post('/api/visitor-token', { companyId: 'demo' })).token;
    const agent = openClient(`ws://127.0.0.1:${signalingPort}/`, agentToken);
    t.teardown(() => agent.close());
    const agentNode = (await agent.established()).connectionId.split('~')[0];
    await agent.next('queue_updated');
    const visitor = openClient(`ws://127.0.0.1:${signalingPort}/`, visitorToken);
    t.teardown(() => visitor.close());
    const visitorNode = (await visitor.established()).connectionId.split('~')[0];
    t.same(
      [agentNode, visitorNode].sort(),
      ['node1', 'node2'],
      'the agent and the visitor land on different nodes',
    );
    const callId = await requestCall(visitor);
    t.equal(outcome(await agent.request({ type: 'call_accept', callId })), 'ack');
    await visitor.next('call_started');
    await agent.next('call_started');
    t.pass('a call between them is answered across the nodes');
    await Promise.all([agent.close(), visitor.close()]);

    process.kill(-started.child.pid!, 'SIGTERM');
    const ports = [signalingPort, ...nodePorts, webPort, redisPort];
    const closed = await until(
      async () => (await Promise.all(ports.map(portClosed))).every(Boolean),
      STOP_TIMEOUT_MS,
    );
    if (!closed) t.comment(run.output);
    t.ok(closed, 'HAProxy, both nodes, the web host and Redis are gone after SIGTERM');
    await Promise.race([started.exit, sleep(STOP_TIMEOUT_MS)]);
    t.ok(run.exited, 'the quick start exited');
  },
);

t.test(
  'start-servers.sh --nodes names what it needs when haproxy or redis-server is missing',
  { skip: quickstartSkip, timeout: 240_000 },
  async (t) => {
    const dir = sharedCopy();
    if (!existsSync(join(dir, 'dist', 'config', 'config.js'))) {
      spawnSync('npm', ['run', '--silent', 'build'], { cwd: dir, stdio: 'ignore' });
    }
    // A PATH with only what is linked into `bin`: the script runs under this very node.
    const bin = mkdtempSync(join(tmpdir(), 'calldocker-bin-'));
    t.teardown(() => rmSync(bin, { recursive: true, force: true }));
    const start = () =>
      spawnSync(process.execPath, ['scripts/start.mjs', '--nodes', '2'], {
        cwd: dir,
        env: { ...quickstartEnv(1, 2), PATH: bin },
        encoding: 'utf8',
        timeout: 30_000,
      });
    const noHaproxy = start();
    t.equal(noHaproxy.status, 1, 'without haproxy it exits 1');
    t.match(noHaproxy.stderr, 'haproxy is not installed', 'saying so');
    t.match(noHaproxy.stderr, 'sudo apt-get install haproxy', 'and how to get it');

    const haproxy = spawnSync('sh', ['-c', 'command -v haproxy'], { encoding: 'utf8' });
    if (haproxy.status !== 0) return;
    symlinkSync(haproxy.stdout.trim(), join(bin, 'haproxy'));
    const noRedis = start();
    t.equal(noRedis.status, 1, 'with haproxy but without REDIS_URL or redis-server it exits 1');
    t.match(noRedis.stderr, '--nodes needs Redis', 'saying Redis is needed');
    t.match(noRedis.stderr, 'sudo apt-get install redis-server', 'how to get it');
    t.match(noRedis.stderr, 'set REDIS_URL', 'or how to use a Redis of ones own');
  },
);
