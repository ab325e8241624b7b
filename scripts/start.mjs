/**
 * Starts both servers from the build output (`dist/`) and keeps them together: stdio is
 * inherited, SIGINT and SIGTERM are passed to both, and when either exits the other is stopped
 * and this process exits with the first one's code. Plain Node ESM, so `npm start` needs no
 * build step of its own; the ports come from the one config module, compiled.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { request } from 'node:http';
import { dirname, join } from 'node:path';
import process from 'node:process';
import { setTimeout } from 'node:timers';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const READY_TIMEOUT_MS = 20_000;
/** How long a server may take to stop once asked; it has its own shutdown timeout below this. */
const STOP_GRACE_MS = 15_000;

const configModule = join(ROOT, 'dist', 'config', 'config.js');
if (!existsSync(configModule) || !existsSync(join(ROOT, 'dist', 'web', 'index.js'))) {
  process.stderr.write('dist/ is missing or incomplete: run `npm run build` first.\n');
  process.exit(1);
}
const { loadConfig, readEnvironment, ConfigError } = await import(pathToFileURL(configModule).href);

let config;
try {
  config = loadConfig(readEnvironment(join(ROOT, '.env')));
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`Configuration error: ${err.message}\n`);
  process.exit(1);
}

const servers = [
  { name: 'signaling', entry: join('dist', 'server', 'index.js') },
  { name: 'web', entry: join('dist', 'web', 'index.js') },
].map(({ name, entry }) => ({
  name,
  child: spawn(process.execPath, [entry], { cwd: ROOT, stdio: 'inherit' }),
}));

let stopping = false;
let exitCode = 0;
let running = servers.length;

/** Asks every server still running to stop; kills what is left after the grace. */
function stopAll(signal) {
  for (const { child } of servers) {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  }
  setTimeout(() => {
    for (const { child } of servers) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  }, STOP_GRACE_MS).unref();
}

for (const { name, child } of servers) {
  child.on('error', (err) => {
    process.stderr.write(`${name}: cannot start: ${err.message}\n`);
  });
  child.on('exit', (code, signal) => {
    running -= 1;
    if (!stopping) {
      // One server went away on its own: the pair is useless, so stop the other one too.
      stopping = true;
      exitCode = code ?? 1;
      process.stderr.write(`${name} server exited (${signal ?? `code ${code}`}); stopping.\n`);
      stopAll('SIGTERM');
    } else if (code !== 0 && code !== null && exitCode === 0) {
      exitCode = code;
    }
    if (running === 0) process.exit(exitCode);
  });
}

function onSignal(signal) {
  if (stopping) return;
  stopping = true;
  stopAll(signal);
}
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

/** Resolves true once `http://host:port/path` answers 200, false after the timeout. */
async function answers(host, port, path) {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline && !stopping) {
    const ok = await new Promise((resolve) => {
      const req = request({ host, port, path, timeout: 1000 }, (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      });
      req.on('error', () => resolve(false));
      req.on('timeout', () => req.destroy());
      req.end();
    });
    if (ok) return true;
    await sleep(200);
  }
  return false;
}

/** Where to reach a server bound to `host` from this machine. */
function localHost(host) {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '::1';
  return host;
}

const [signalingUp, webUp] = await Promise.all([
  answers(localHost(config.signaling.host), config.signaling.port, '/healthz'),
  answers(localHost(config.web.host), config.web.port, '/api/health'),
]);
if (!stopping) {
  if (!signalingUp || !webUp) process.stderr.write('Warning: a server is not answering yet.\n');
  process.stdout.write(
    `Signaling: ws://localhost:${config.signaling.port}/  Web: http://localhost:${config.web.port}/\n`,
  );
}
