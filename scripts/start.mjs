/**
 * Starts the servers from the build output (`dist/`) and keeps them together: stdio is
 * inherited, SIGINT and SIGTERM are passed on, and when one exits the others are stopped and
 * this process exits with the first one's code. Plain Node ESM, so `npm start` needs no build
 * step of its own; the ports come from the one config module, compiled.
 *
 * `--nodes N` (1 to 8) runs a cluster on this machine instead of one signaling server: N nodes
 * on 127.0.0.1, ports SIGNALING_PORT+1 to SIGNALING_PORT+N, behind HAProxy on SIGNALING_PORT
 * (`deploy/haproxy.cfg`, as docs/DEPLOY.md describes), so pages and clients connect where they
 * always do. The nodes share REDIS_URL's Redis or, without one, a private `redis-server`
 * started here on a free loopback port, saving nothing, stopped after the nodes.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import process from 'node:process';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createSupervisor } from './supervisor.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const READY_TIMEOUT_MS = 20_000;
/** How long a server may take to stop once asked; it has its own shutdown timeout below this. */
const STOP_GRACE_MS = 15_000;
/** As many as `deploy/haproxy.cfg` lists (`LB_NODE1` to `LB_NODE8`). */
const MAX_NODES = 8;
const HAPROXY_CONFIG = join(ROOT, 'deploy', 'haproxy.cfg');

const USAGE = `usage: start-servers.sh [--nodes N]

  --nodes N     N signaling nodes (1 to ${MAX_NODES}) behind HAProxy on SIGNALING_PORT, sharing
                REDIS_URL's Redis or a private redis-server started for them (docs/DEPLOY.md)
  --preflight   check the arguments and what they need, start nothing (start-servers.sh runs
                it before installing and building)
`;

/** Exits 2 with `message` and the usage. */
function usageError(message) {
  process.stderr.write(`start-servers: ${message}\n\n${USAGE}`);
  process.exit(2);
}

/** `--nodes N` (or `--nodes=N`) and `--preflight`. */
function parseArguments(args) {
  let nodes;
  let preflight = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === '-h' || arg === '--help') {
      process.stdout.write(USAGE);
      process.exit(0);
    }
    if (arg === '--preflight') {
      preflight = true;
      continue;
    }
    const value = arg === '--nodes' ? args[++i] : /^--nodes=(.*)$/.exec(arg)?.[1];
    if (value === undefined && arg !== '--nodes') usageError(`unknown argument "${arg}"`);
    if (value === undefined || !/^\d+$/.test(value) || +value < 1 || +value > MAX_NODES) {
      usageError(`--nodes takes a number from 1 to ${MAX_NODES}, got ${value ?? 'nothing'}`);
    }
    nodes = Number(value);
  }
  return { nodes, preflight };
}

/** Whether `command` runs here (on PATH and executable). */
function installed(command, versionFlag) {
  const probe = spawnSync(command, [versionFlag], { stdio: 'ignore' });
  return probe.error === undefined && probe.status === 0;
}

/** Exits 1 with `message`, before anything was started. */
function fail(message) {
  process.stderr.write(`start-servers: ${message}\n`);
  process.exit(1);
}

const { nodes: nodeCount, preflight } = parseArguments(process.argv.slice(2));
const clustered = nodeCount !== undefined;
if (clustered && !installed('haproxy', '-v')) {
  fail(
    '--nodes puts HAProxy in front of the nodes, and haproxy is not installed. On Debian or ' +
      'Ubuntu: sudo apt-get install haproxy. Without --nodes, one signaling server needs neither.',
  );
}

const configModule = join(ROOT, 'dist', 'config', 'config.js');
const built = existsSync(configModule) && existsSync(join(ROOT, 'dist', 'web', 'index.js'));
// Before the first build, what depends on the configuration is checked after it.
if (preflight && (!clustered || !built)) process.exit(0);
if (!built) fail('dist/ is missing or incomplete: run `npm run build` first.');
const { loadConfig, readEnvironment, ConfigError } = await import(pathToFileURL(configModule).href);

let config;
try {
  config = loadConfig(readEnvironment(join(ROOT, '.env')));
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  fail(`configuration error: ${err.message}`);
}

const privateRedis = clustered && config.redis === undefined;
if (privateRedis && !installed('redis-server', '--version')) {
  fail(
    '--nodes needs Redis, where the nodes share calls, queues and presence. REDIS_URL is not ' +
      'set and redis-server is not installed: install it (on Debian or Ubuntu: sudo apt-get ' +
      'install redis-server) and a private one is started, or set REDIS_URL (in .env or the ' +
      'environment) to a Redis of yours.',
  );
}
const signalingPort = config.signaling.port;
if (clustered && signalingPort + nodeCount > 65_535) {
  fail(`SIGNALING_PORT ${signalingPort} leaves no room for ${nodeCount} nodes above it.`);
}
if (preflight) process.exit(0);

const supervisor = createSupervisor({ cwd: ROOT, stopGraceMs: STOP_GRACE_MS });
process.on('SIGINT', () => supervisor.stop('SIGINT'));
process.on('SIGTERM', () => supervisor.stop('SIGTERM'));
// A closed terminal: the servers shut down as on SIGTERM (SIGHUP would kill them outright).
process.on('SIGHUP', () => supervisor.stop('SIGTERM'));

/** Resolves true once `check()` does, false after the timeout or once stopping. */
async function within(check) {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline && !supervisor.stopping) {
    if (await check()) return true;
    await sleep(200);
  }
  return false;
}

/** Whether `http://host:port/path` answers 200. */
function answers(host, port, path) {
  return new Promise((resolve) => {
    const req = request({ host, port, path, timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

/** Where to reach a server bound to `host` from this machine. */
function localHost(host) {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '::1';
  return host;
}

/** Stops everything after `message`, and never resolves: the exit comes from the supervisor. */
async function giveUp(message) {
  if (!supervisor.stopping) {
    process.stderr.write(`start-servers: ${message}\n`);
    supervisor.stop('SIGTERM', 1);
  }
  return new Promise(() => {});
}

const signalingHost = localHost(config.signaling.host);
if (!clustered) {
  supervisor.launch('signaling server', process.execPath, [join('dist', 'server', 'index.js')]);
} else {
  const redis = privateRedis ? await startRedis() : undefined;
  const nodes = [];
  for (let i = 1; i <= nodeCount; i++) {
    const node = { id: `node${i}`, port: signalingPort + i };
    nodes.push(node);
    supervisor.launch(node.id, process.execPath, [join('dist', 'server', 'index.js')], {
      env: {
        ...process.env,
        // Only the balancer faces clients, and it tells the nodes who they are.
        HOST: '127.0.0.1',
        SIGNALING_PORT: String(node.port),
        NODE_ID: node.id,
        ...(redis !== undefined && { REDIS_URL: redis.url }),
        ...(config.signaling.trustProxy === false && { TRUST_PROXY: '127.0.0.1' }),
      },
    });
  }
  // HAProxy after the nodes, so that it never sees them down (and says so) while they start.
  const nodesUp = await within(async () =>
    (await Promise.all(nodes.map((n) => answers('127.0.0.1', n.port, '/readyz')))).every(Boolean),
  );
  if (!nodesUp) await giveUp('the nodes did not become ready.');
  const host = config.signaling.host.includes(':')
    ? `[${config.signaling.host}]`
    : config.signaling.host;
  const lbEnv = { ...process.env, LB_BIND: `${host}:${signalingPort}` };
  for (const [i, node] of nodes.entries()) lbEnv[`LB_NODE${i + 1}`] = `127.0.0.1:${node.port}`;
  // -db: in the foreground, so that it stops with the rest.
  supervisor.launch('haproxy', 'haproxy', ['-db', '-f', HAPROXY_CONFIG], { env: lbEnv });
  const where = nodes.map((node) => `${node.id} on 127.0.0.1:${node.port}`).join(', ');
  const shared = redis === undefined ? 'REDIS_URL' : `a private redis-server on ${redis.url}`;
  process.stdout.write(`Cluster: ${where}, behind HAProxy on port ${signalingPort}; ${shared}\n`);
}
supervisor.launch('web server', process.execPath, [join('dist', 'web', 'index.js')]);

const [signalingUp, webUp] = await Promise.all([
  within(() => answers(signalingHost, signalingPort, clustered ? '/readyz' : '/healthz')),
  within(() => answers(localHost(config.web.host), config.web.port, '/api/health')),
]);
if (!supervisor.stopping) {
  if (!signalingUp || !webUp) process.stderr.write('Warning: a server is not answering yet.\n');
  process.stdout.write(
    `Signaling: ws://localhost:${signalingPort}/  Web: http://localhost:${config.web.port}/\n`,
  );
}

/**
 * A scratch Redis for the nodes: on a free loopback port, nothing written to disk, its log in
 * a temporary directory (printed if it fails), stopped after the nodes.
 */
async function startRedis() {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'calldocker-redis-'));
  supervisor.onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  const log = join(dir, 'redis.log');
  const printLog = () => {
    if (existsSync(log))
      process.stderr.write(readFileSync(log, 'utf8').split('\n').slice(-20).join('\n'));
  };
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', ''];
  args.push('--appendonly', 'no', '--dir', dir, '--logfile', log);
  supervisor.launch('redis-server', 'redis-server', args, {
    last: true,
    stdio: 'ignore',
    onUnexpectedExit: printLog,
  });
  if (!(await within(() => redisAnswers(port)))) {
    printLog();
    await giveUp('the private redis-server did not answer.');
  }
  return { url: `redis://127.0.0.1:${port}` };
}

/** Whether a Redis on 127.0.0.1:`port` answers PING. */
function redisAnswers(port) {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port, timeout: 1000 });
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => {
      socket.destroy();
      resolve(data.toString().startsWith('+PONG'));
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

/** A loopback port free at the time of asking. */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}
