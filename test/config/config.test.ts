/**
 * Configuration: `loadConfig` with plain objects (defaults, every rejection names its
 * variable), `readEnvironment` with a `.env` file, and the real signaling entry refusing a bad
 * value and shutting down on SIGTERM.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import jwt from 'jsonwebtoken';
import t from 'tap';
import { CloseCode } from '../../server/errors.js';
import {
  ConfigError,
  DEVELOPMENT_JWT_SECRET,
  loadConfig,
  readEnvironment,
} from '../../config/config.js';
import { openClient } from '../helpers.js';

/** The test object tap hands to a subtest callback. */
type Test = Parameters<Parameters<typeof t.test>[0]>[0];
type Env = Record<string, string | undefined>;

const STRONG_SECRET = 'a-production-secret-of-at-least-32-characters!';

/** Asserts that `loadConfig(env)` throws a ConfigError naming `variable`. */
function assertRejects(t: Test, env: Env, variable: string): void {
  let thrown: unknown;
  try {
    loadConfig(env);
  } catch (err) {
    thrown = err;
  }
  t.type(thrown, ConfigError, `${JSON.stringify(env)} is refused`);
  t.equal((thrown as ConfigError | undefined)?.variable, variable, `the error names ${variable}`);
  t.match((thrown as Error | undefined)?.message, variable, 'and so does its message');
}

/** A fresh directory under the system temp dir, removed at teardown. */
function tempDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'calldocker-config-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

// --- Defaults ------------------------------------------------------------------------------

t.test('an empty environment yields every documented default', async (t) => {
  const config = loadConfig({});
  t.equal(config.env, 'development');
  t.equal(config.logLevel, 'info');
  t.equal(config.signaling.port, 8081, 'SIGNALING_PORT');
  t.equal(config.web.port, 3000, 'WEB_PORT');
  t.equal(config.signaling.host, '0.0.0.0', 'HOST (signaling)');
  t.equal(config.web.host, '0.0.0.0', 'HOST (web)');
  t.equal(config.signaling.heartbeatIntervalMs, 25_000, 'HEARTBEAT_INTERVAL_MS');
  t.equal(config.signaling.maxMessageBytes, 65_536, 'MAX_MESSAGE_BYTES');
  t.equal(config.signaling.rateLimitMsgsPerSec, 50, 'RATE_LIMIT_MSGS_PER_SEC');
  t.equal(config.signaling.rateLimitBurst, 200, 'RATE_LIMIT_BURST');
  t.equal(config.signaling.sendHighWaterBytes, 1_048_576, 'send high-water mark 1 MiB');
  t.equal(config.signaling.maxConnectionsPerUser, 5, 'MAX_CONNECTIONS_PER_USER');
  t.equal(config.signaling.trustProxy, false, 'TRUST_PROXY (signaling)');
  t.equal(config.signaling.maxVisitorConnectionsPerAddress, 20);
  t.equal(config.signaling.callRequestsPerVisitorPerMin, 6);
  t.equal(config.signaling.callRequestsPerAddressPerMin, 30);
  t.equal(config.signaling.maxQueuedCallsPerCompany, 100);
  t.equal(config.signaling.turnTtlS, 3600, 'TURN_TTL_S');
  t.equal(config.signaling.missedRingsBeforeAway, 2, 'MISSED_RINGS_BEFORE_AWAY');
  t.equal(config.signaling.ringTimeoutMs, 30_000, 'RING_TIMEOUT_MS');
  t.equal(config.signaling.queueTimeoutMs, 600_000, 'QUEUE_TIMEOUT_MS');
  t.equal(config.signaling.callReconnectGraceMs, 30_000, 'CALL_RECONNECT_GRACE_MS');
  t.equal(config.signaling.queueAnnounceMax, 20, 'QUEUE_ANNOUNCE_MAX');
  t.equal(config.signaling.shutdownTimeoutMs, 10_000, 'shutdown within 10 s');
  t.equal(config.signaling.presenceTickMs, 50, 'PRESENCE_TICK_MS');
  t.equal(config.signaling.listenBacklog, 4096, 'LISTEN_BACKLOG');
  t.equal(config.signaling.accessPollMs, 250, 'ACCESS_POLL_MS');
  t.same(config.signaling.stunUrls, []);
  t.same(config.signaling.turnUrls, []);
  t.same(config.signaling.webOrigins, [], 'WEB_ORIGINS (derived per upgrade)');
  t.equal(config.signaling.webPort, 3000, 'WEB_PORT, as the signaling server sees it');
  t.equal(config.signaling.turnSecret, undefined);
  t.same(config.signaling.jwt, {
    secret: DEVELOPMENT_JWT_SECRET,
    publicKey: undefined,
    issuer: undefined,
    audience: undefined,
  });
  t.equal(config.web.signalingUrl, '');
  t.equal(config.redis, undefined, 'REDIS_URL unset: one node, no cluster');
  t.ok(Object.isFrozen(config) && Object.isFrozen(config.signaling), 'the result is frozen');
});

t.test('blank values count as unset', async (t) => {
  const config = loadConfig({ SIGNALING_PORT: '  ', HOST: '', LOG_LEVEL: ' ', STUN_URLS: '' });
  t.equal(config.signaling.port, 8081);
  t.equal(config.signaling.host, '0.0.0.0');
  t.equal(config.logLevel, 'info');
  t.same(config.signaling.stunUrls, []);
});

t.test('set values override the defaults', async (t) => {
  const config = loadConfig({
    SIGNALING_PORT: '9001',
    WEB_PORT: ' 8080 ',
    HOST: '127.0.0.1',
    HEARTBEAT_INTERVAL_MS: '1000',
    MAX_CONNECTIONS_PER_USER: '2',
    RING_TIMEOUT_MS: '100',
    CALL_RECONNECT_GRACE_MS: '0',
    JWT_SECRET: 'dev-secret',
    JWT_ISSUER: 'issuer',
    JWT_AUDIENCE: 'audience',
    SIGNALING_URL: 'wss://signal.example.test',
  });
  t.equal(config.signaling.port, 9001);
  t.equal(config.web.port, 8080);
  t.equal(config.signaling.host, '127.0.0.1');
  t.equal(config.signaling.heartbeatIntervalMs, 1000);
  t.equal(config.signaling.maxConnectionsPerUser, 2);
  t.equal(config.signaling.ringTimeoutMs, 100);
  t.equal(config.signaling.callReconnectGraceMs, 0);
  t.equal(config.signaling.jwt.secret, 'dev-secret');
  t.equal(config.signaling.jwt.issuer, 'issuer');
  t.equal(config.signaling.jwt.audience, 'audience');
  t.equal(config.web.signalingUrl, 'wss://signal.example.test');
});

t.test('NODE_ENV=test logs nothing unless LOG_LEVEL says otherwise', async (t) => {
  t.equal(loadConfig({ NODE_ENV: 'test' }).logLevel, 'silent');
  t.equal(loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'debug' }).logLevel, 'debug');
});

// --- Numbers -------------------------------------------------------------------------------

t.test('a non-numeric port is refused naming SIGNALING_PORT', async (t) => {
  for (const value of ['abc', '80.5', '8081abc', '0x1f90', '1e3']) {
    assertRejects(t, { SIGNALING_PORT: value }, 'SIGNALING_PORT');
  }
});

t.test('out-of-range numbers are refused naming their variable', async (t) => {
  const cases: Array<[string, string]> = [
    ['SIGNALING_PORT', '65536'],
    ['SIGNALING_PORT', '-1'],
    ['WEB_PORT', '70000'],
    ['WEB_PORT', 'web'],
    ['HEARTBEAT_INTERVAL_MS', '999'],
    ['MAX_MESSAGE_BYTES', '1023'],
    ['RATE_LIMIT_MSGS_PER_SEC', '0'],
    ['RATE_LIMIT_BURST', '0'],
    ['MAX_CONNECTIONS_PER_USER', '0'],
    ['MAX_CONNECTIONS_PER_USER', '1001'],
    ['TURN_TTL_S', '59'],
    ['MISSED_RINGS_BEFORE_AWAY', '-1'],
    ['RING_TIMEOUT_MS', '99'],
    ['QUEUE_TIMEOUT_MS', '99'],
    ['CALL_RECONNECT_GRACE_MS', '-5'],
    ['PRESENCE_TICK_MS', '1001'],
    ['PRESENCE_TICK_MS', '-1'],
    ['LISTEN_BACKLOG', '0'],
    ['LISTEN_BACKLOG', '65536'],
    ['MAX_VISITOR_CONNECTIONS_PER_ADDRESS', '0'],
    ['MAX_VISITOR_CONNECTIONS_PER_ADDRESS', '1000001'],
    ['CALL_REQUESTS_PER_VISITOR_PER_MIN', '0'],
    ['CALL_REQUESTS_PER_VISITOR_PER_MIN', 'six'],
    ['CALL_REQUESTS_PER_ADDRESS_PER_MIN', '0'],
    ['MAX_QUEUED_CALLS_PER_COMPANY', '0'],
    ['MAX_QUEUED_CALLS_PER_COMPANY', '-1'],
    ['ACCESS_POLL_MS', '9'],
    ['ACCESS_POLL_MS', '60001'],
  ];
  for (const [variable, value] of cases) assertRejects(t, { [variable]: value }, variable);
});

t.test('the bounds themselves are accepted', async (t) => {
  const config = loadConfig({
    SIGNALING_PORT: '0',
    WEB_PORT: '65535',
    MAX_MESSAGE_BYTES: '1024',
    TURN_TTL_S: '60',
    MISSED_RINGS_BEFORE_AWAY: '0',
    PRESENCE_TICK_MS: '0',
    LISTEN_BACKLOG: '1',
    MAX_VISITOR_CONNECTIONS_PER_ADDRESS: '1',
    CALL_REQUESTS_PER_VISITOR_PER_MIN: '1',
    CALL_REQUESTS_PER_ADDRESS_PER_MIN: '1000000',
    MAX_QUEUED_CALLS_PER_COMPANY: '1',
    ACCESS_POLL_MS: '10',
  });
  t.equal(config.signaling.maxVisitorConnectionsPerAddress, 1);
  t.equal(config.signaling.callRequestsPerVisitorPerMin, 1);
  t.equal(config.signaling.callRequestsPerAddressPerMin, 1_000_000);
  t.equal(config.signaling.maxQueuedCallsPerCompany, 1);
  t.equal(config.signaling.accessPollMs, 10);
  t.equal(loadConfig({ ACCESS_POLL_MS: '60000' }).signaling.accessPollMs, 60_000);
  t.equal(config.signaling.presenceTickMs, 0);
  t.equal(config.signaling.listenBacklog, 1);
  t.equal(config.signaling.port, 0);
  t.equal(config.web.port, 65535);
  t.equal(config.signaling.maxMessageBytes, 1024);
  t.equal(config.signaling.turnTtlS, 60);
  t.equal(config.signaling.missedRingsBeforeAway, 0);
});

t.test('QUEUE_ANNOUNCE_MAX takes 1 to the largest queue_list page, and nothing past', async (t) => {
  t.equal(loadConfig({ QUEUE_ANNOUNCE_MAX: '1' }).signaling.queueAnnounceMax, 1);
  t.equal(loadConfig({ QUEUE_ANNOUNCE_MAX: '100' }).signaling.queueAnnounceMax, 100);
  for (const value of ['0', '101', '-1', '2.5']) {
    assertRejects(t, { QUEUE_ANNOUNCE_MAX: value }, 'QUEUE_ANNOUNCE_MAX');
  }
});

// --- Secrets and keys ----------------------------------------------------------------------

t.test(
  'production without JWT_SECRET or JWT_PUBLIC_KEY is refused naming JWT_SECRET',
  async (t) => {
    assertRejects(t, { NODE_ENV: 'production' }, 'JWT_SECRET');
  },
);

t.test('production with a short JWT_SECRET is refused', async (t) => {
  assertRejects(t, { NODE_ENV: 'production', JWT_SECRET: 'short-secret' }, 'JWT_SECRET');
  assertRejects(t, { NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(31) }, 'JWT_SECRET');
});

t.test('production with the development secret is refused', async (t) => {
  assertRejects(t, { NODE_ENV: 'production', JWT_SECRET: DEVELOPMENT_JWT_SECRET }, 'JWT_SECRET');
});

t.test('production with a strong secret is accepted', async (t) => {
  const config = loadConfig({ NODE_ENV: 'production', JWT_SECRET: STRONG_SECRET });
  t.equal(config.env, 'production');
  t.equal(config.signaling.jwt.secret, STRONG_SECRET);
});

t.test('development without a secret falls back to the development secret', async (t) => {
  t.equal(loadConfig({}).signaling.jwt.secret, DEVELOPMENT_JWT_SECRET);
  t.equal(loadConfig({ NODE_ENV: 'development' }).signaling.jwt.secret, DEVELOPMENT_JWT_SECRET);
  t.equal(loadConfig({ NODE_ENV: 'test' }).signaling.jwt.secret, DEVELOPMENT_JWT_SECRET);
  t.equal(
    loadConfig({ JWT_SECRET: 'short-is-fine-here' }).signaling.jwt.secret,
    'short-is-fine-here',
  );
});

t.test('JWT_PUBLIC_KEY pointing to a missing file is refused naming it', async (t) => {
  const dir = tempDir(t);
  assertRejects(t, { JWT_PUBLIC_KEY: join(dir, 'no-such-key.pem') }, 'JWT_PUBLIC_KEY');
});

t.test('JWT_PUBLIC_KEY pointing to a file that is not PEM is refused naming it', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'key.txt');
  writeFileSync(path, 'this is not a key\n');
  assertRejects(t, { JWT_PUBLIC_KEY: path }, 'JWT_PUBLIC_KEY');
  assertRejects(t, { JWT_PUBLIC_KEY: dir }, 'JWT_PUBLIC_KEY');
});

t.test('a PEM public key alone disables HS256, in production too', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'public.pem');
  const { publicKey } = generateKeyPairSync('ec', {
    namedCurve: 'P-256',
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  writeFileSync(path, publicKey);
  const config = loadConfig({ NODE_ENV: 'production', JWT_PUBLIC_KEY: path });
  t.equal(config.signaling.jwt.publicKey, publicKey);
  t.equal(config.signaling.jwt.secret, undefined, 'no development secret sneaks in');
  const both = loadConfig({ JWT_PUBLIC_KEY: path, JWT_SECRET: 'dev' });
  t.equal(both.signaling.jwt.secret, 'dev');
  t.equal(both.signaling.jwt.publicKey, publicKey);
});

// --- ICE, logging, environment ---------------------------------------------------------------

t.test('TURN_URLS without TURN_SECRET is refused naming TURN_SECRET', async (t) => {
  assertRejects(t, { TURN_URLS: 'turn:turn.example.test:3478' }, 'TURN_SECRET');
});

t.test('STUN_URLS and TURN_URLS are comma-separated lists of ICE URLs', async (t) => {
  const config = loadConfig({
    STUN_URLS: ' stun:stun.example.test:3478 , stuns:stun.example.test:5349,, ',
    TURN_URLS: 'turn:turn.example.test:3478?transport=udp,turns:turn.example.test:5349',
    TURN_SECRET: 'turn-secret',
    TURN_TTL_S: '600',
  });
  t.same(config.signaling.stunUrls, [
    'stun:stun.example.test:3478',
    'stuns:stun.example.test:5349',
  ]);
  t.same(config.signaling.turnUrls, [
    'turn:turn.example.test:3478?transport=udp',
    'turns:turn.example.test:5349',
  ]);
  t.equal(config.signaling.turnSecret, 'turn-secret');
  t.equal(config.signaling.turnTtlS, 600);
});

t.test('a URL that is not stun:, stuns:, turn: or turns: is refused naming its list', async (t) => {
  assertRejects(t, { STUN_URLS: 'stun:ok.example.test,http://stun.example.test' }, 'STUN_URLS');
  assertRejects(t, { STUN_URLS: 'stun.example.test:3478' }, 'STUN_URLS');
  assertRejects(t, { TURN_URLS: 'udp://turn.example.test', TURN_SECRET: 's' }, 'TURN_URLS');
});

t.test('a bad LOG_LEVEL is refused', async (t) => {
  assertRejects(t, { LOG_LEVEL: 'verbose' }, 'LOG_LEVEL');
});

t.test('a bad NODE_ENV is refused', async (t) => {
  assertRejects(t, { NODE_ENV: 'staging' }, 'NODE_ENV');
});

t.test('a SIGNALING_URL that is not ws:// or wss:// is refused', async (t) => {
  assertRejects(t, { SIGNALING_URL: 'http://signal.example.test' }, 'SIGNALING_URL');
});

t.test('readEnvironment puts a .env file under the process environment', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, '.env');
  writeFileSync(
    path,
    [
      '# a comment',
      'CALLDOCKER_TEST_FROM_FILE=file-value',
      'CALLDOCKER_TEST_BOTH=file-loses',
      'CALLDOCKER_TEST_QUOTED="with spaces"',
      '',
    ].join('\n'),
  );
  process.env['CALLDOCKER_TEST_BOTH'] = 'process-wins';
  t.teardown(() => {
    delete process.env['CALLDOCKER_TEST_BOTH'];
  });
  const env = readEnvironment(path);
  t.equal(env['CALLDOCKER_TEST_FROM_FILE'], 'file-value');
  t.equal(env['CALLDOCKER_TEST_QUOTED'], 'with spaces');
  t.equal(env['CALLDOCKER_TEST_BOTH'], 'process-wins');
  t.equal(env['PATH'], process.env['PATH'], 'the process environment is all there');
  t.equal(process.env['CALLDOCKER_TEST_FROM_FILE'], undefined, 'process.env is left alone');
});

t.test('readEnvironment without a .env file is the process environment', async (t) => {
  const dir = tempDir(t);
  const env = readEnvironment(join(dir, 'missing.env'));
  t.same(env, { ...process.env });
});

t.test('readEnvironment reports a .env it cannot read rather than ignoring it', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'dir.env');
  mkdirSync(path);
  t.throws(() => readEnvironment(path));
});

t.test('values from a .env file are validated like any other', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, '.env');
  writeFileSync(path, 'MAX_CONNECTIONS_PER_USER=lots\n');
  t.equal(process.env['MAX_CONNECTIONS_PER_USER'], undefined, 'precondition: not set here');
  assertRejects(t, readEnvironment(path), 'MAX_CONNECTIONS_PER_USER');
});

// --- The real entry ------------------------------------------------------------------------

const ENTRY = fileURLToPath(new URL('../../server/index.ts', import.meta.url));
const TSX_LOADER = import.meta.resolve('tsx');

/**
 * Starts `server/index.ts` in a fresh directory (so no stray `.env` is read) with exactly
 * `env` plus PATH; stdout and stderr are collected.
 */
function startEntry(t: Test, env: Record<string, string>) {
  const cwd = tempDir(t);
  const child = spawn(process.execPath, ['--import', TSX_LOADER, ENTRY], {
    cwd,
    env: { PATH: process.env['PATH'] ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const output = { stdout: '', stderr: '' };
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output.stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output.stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, output, exited };
}

/** Resolves with the first pino line whose msg is `msg`, parsed; rejects on exit or timeout. */
function waitForLogLine(
  child: ChildProcess,
  output: { stdout: string },
  msg: string,
  timeoutMs: number,
): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const find = () => {
      for (const line of output.stdout.split('\n')) {
        if (!line.startsWith('{')) continue;
        const parsed = JSON.parse(line) as Record<string, unknown>;
        if (parsed['msg'] === msg) return parsed;
      }
      return undefined;
    };
    const timer = setTimeout(
      () => done(new Error(`no "${msg}" line in ${timeoutMs} ms`)),
      timeoutMs,
    );
    const onData = () => {
      const line = find();
      if (line !== undefined) done(undefined, line);
    };
    const onExit = () => done(new Error(`exited before "${msg}": ${output.stdout}`));
    function done(err: Error | undefined, line?: Record<string, unknown>) {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.off('exit', onExit);
      if (err !== undefined) reject(err);
      else resolve(line!);
    }
    child.stdout?.on('data', onData);
    child.on('exit', onExit);
    onData();
  });
}

t.test('the signaling entry refuses to start with a bad SIGNALING_PORT', async (t) => {
  const { output, exited } = startEntry(t, { SIGNALING_PORT: 'abc' });
  const { code } = await exited;
  t.not(code, 0, 'exits with a failure');
  t.not(code, null, 'exits on its own');
  t.match(`${output.stdout}${output.stderr}`, 'SIGNALING_PORT', 'the output names the variable');
});

t.test('the signaling entry refuses to start in production without a secret', async (t) => {
  const { output, exited } = startEntry(t, { NODE_ENV: 'production' });
  const { code } = await exited;
  t.not(code, 0);
  t.match(`${output.stdout}${output.stderr}`, 'JWT_SECRET');
});

t.test('SIGTERM closes clients with 1001 and the entry exits 0 within 10 s', async (t) => {
  const secret = 'entry-test-secret-0123456789-abcdefghij';
  const { child, output, exited } = startEntry(t, {
    NODE_ENV: 'development',
    LOG_LEVEL: 'info',
    HOST: '127.0.0.1',
    SIGNALING_PORT: '0',
    JWT_SECRET: secret,
  });
  const listening = await waitForLogLine(child, output, 'signaling server listening', 15_000);
  const port = listening['port'];
  t.type(port, 'number');
  t.ok((port as number) > 0, 'the bound port is logged');
  t.notMatch(output.stdout, secret, 'the secret is never logged');

  const token = jwt.sign(
    { sub: 'agent-1', role: 'agent', company_id: 'acme', exp: Math.floor(Date.now() / 1000) + 60 },
    secret,
    { algorithm: 'HS256' },
  );
  const client = openClient(`ws://127.0.0.1:${port as number}/`, token);
  t.teardown(() => client.close());
  const established = await client.established();
  t.equal(established.user.id, 'agent-1');

  const sentAt = Date.now();
  t.ok(child.kill('SIGTERM'), 'SIGTERM delivered');
  const closed = await client.closed;
  t.equal(closed.code, CloseCode.GoingAway, 'the client is told the server is going away');
  const { code, signal } = await exited;
  t.equal(code, 0, 'exits 0');
  t.equal(signal, null);
  t.ok(Date.now() - sentAt < 10_000, 'within 10 s');
  t.ok(
    output.stdout.split('\n').some((line) => line.includes('"msg":"shutting down"')),
    'logs the shutdown',
  );
});

t.test('METRICS_TOKEN is optional, at least 16 characters and without spaces', async (t) => {
  const unset = loadConfig({});
  t.equal(unset.signaling.metricsToken, undefined);
  t.equal(unset.signaling.metricsLoopbackOnly, false, 'outside production anyone may scrape');
  const production = loadConfig({ NODE_ENV: 'production', JWT_SECRET: STRONG_SECRET });
  t.equal(production.signaling.metricsLoopbackOnly, true, 'in production loopback only');
  const token = 'm'.repeat(16);
  t.equal(loadConfig({ METRICS_TOKEN: token }).signaling.metricsToken, token, '16 is enough');
  t.equal(loadConfig({ METRICS_TOKEN: ` ${token} ` }).signaling.metricsToken, token, 'trimmed');
  assertRejects(t, { METRICS_TOKEN: 'm'.repeat(15) }, 'METRICS_TOKEN');
  assertRejects(t, { METRICS_TOKEN: `${token} ${token}` }, 'METRICS_TOKEN');
  assertRejects(t, { METRICS_TOKEN: `${token}\t${token}` }, 'METRICS_TOKEN');
});

t.test('TRUST_PROXY accepts false, true, a hop count or proxy addresses', async (t) => {
  t.equal(loadConfig({}).web.trustProxy, false);
  t.equal(loadConfig({ TRUST_PROXY: 'true' }).web.trustProxy, true);
  t.equal(loadConfig({ TRUST_PROXY: '2' }).web.trustProxy, 2);
  t.equal(
    loadConfig({ TRUST_PROXY: '10.0.0.1, 192.168.0.0/16' }).web.trustProxy,
    '10.0.0.1,192.168.0.0/16',
  );
  assertRejects(t, { TRUST_PROXY: 'everyone' }, 'TRUST_PROXY');
  for (const bad of ['10.0.0.0/33', '1.2.3.4.5', ':::1', '10.0.0.1,']) {
    assertRejects(t, { TRUST_PROXY: bad }, 'TRUST_PROXY');
  }
});

t.test('the signaling server trusts the same proxies as the web host', async (t) => {
  for (const raw of ['true', '2', '10.0.0.1, 192.168.0.0/16']) {
    const config = loadConfig({ TRUST_PROXY: raw });
    t.equal(config.signaling.trustProxy, config.web.trustProxy, raw);
  }
});

t.test('WEB_ORIGINS is a comma-separated list of origins, normalised', async (t) => {
  const config = loadConfig({
    WEB_ORIGINS: 'HTTPS://Calls.Example.com:443, http://localhost:3000,https://calls.example.com',
    WEB_PORT: '8000',
  });
  t.same(config.signaling.webOrigins, ['https://calls.example.com', 'http://localhost:3000']);
  t.equal(config.signaling.webPort, 8000);
  t.equal(config.web.port, 8000, 'one WEB_PORT for both');
  for (const bad of [
    '*',
    'https://calls.example.com/app',
    'calls.example.com',
    'ftp://x',
    'a,,b',
  ]) {
    assertRejects(t, { WEB_ORIGINS: bad }, 'WEB_ORIGINS');
  }
});

t.test('DATABASE_URL takes sqlite paths and refuses what it cannot serve', async (t) => {
  t.same(loadConfig({}).database, {
    url: 'sqlite:./data/calldocker.db',
    dialect: 'sqlite',
    path: './data/calldocker.db',
  });
  const pathOf = (url: string) => {
    const database = loadConfig({ DATABASE_URL: url }).database;
    return database.dialect === 'sqlite' ? database.path : undefined;
  };
  t.equal(pathOf('sqlite:/tmp/x.db'), '/tmp/x.db');
  t.equal(pathOf('sqlite://rel/x.db'), 'rel/x.db');
  t.equal(pathOf('sqlite::memory:'), ':memory:');
  for (const bad of ['mysql://x', 'x.db', 'sqlite:']) {
    assertRejects(t, { DATABASE_URL: bad }, 'DATABASE_URL');
  }
});

t.test('DATABASE_URL takes postgres URLs, with a schema of their own', async (t) => {
  t.same(loadConfig({ DATABASE_URL: 'postgres://calls@db.internal:5432/calldocker' }).database, {
    url: 'postgres://calls@db.internal:5432/calldocker',
    dialect: 'postgres',
    connectionString: 'postgres://calls@db.internal:5432/calldocker',
    schema: undefined,
  });
  const withSchema = loadConfig({
    DATABASE_URL:
      'postgresql://calls:s3cret@db.internal/calldocker?schema=tenant_a&sslmode=require',
  }).database;
  t.same(
    withSchema,
    {
      url: 'postgresql://calls:***@db.internal/calldocker?sslmode=require&schema=tenant_a',
      dialect: 'postgres',
      connectionString: 'postgresql://calls:s3cret@db.internal/calldocker?sslmode=require',
      schema: 'tenant_a',
    },
    'the schema is ours, other parameters go to the driver, and the logged URL hides the password',
  );
  for (const bad of [
    'postgres://db.internal', // no database
    'postgres://db.internal/', // no database
    'postgres://db.internal/a/b',
    'postgres://db.internal/x?schema=Tenant', // not a plain lower-case identifier
    'postgres://db.internal/x?schema=a;drop',
    'postgres://db.internal/x?schema=1a',
    'postgres://db.internal/x?schema=a&schema=b',
    'postgres://db.internal/x?schema=',
    'postgres://[bad/x',
  ]) {
    assertRejects(t, { DATABASE_URL: bad }, 'DATABASE_URL');
  }
});

// --- Cluster ------------------------------------------------------------------------------

t.test('REDIS_URL turns cluster mode on, with REDIS_PREFIX and NODE_ID', async (t) => {
  t.same(loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379' }).redis, {
    url: 'redis://127.0.0.1:6379',
    prefix: 'calldocker:',
    nodeId: undefined,
  });
  t.same(
    loadConfig({
      REDIS_URL: 'rediss://user:pw@cache.example:6380/2',
      REDIS_PREFIX: 'acme.prod:',
      NODE_ID: 'node-7',
    }).redis,
    { url: 'rediss://user:pw@cache.example:6380/2', prefix: 'acme.prod:', nodeId: 'node-7' },
  );
  t.equal(loadConfig({ REDIS_URL: '  ' }).redis, undefined, 'a blank REDIS_URL is unset');
});

t.test('bad cluster settings are refused naming their variable', async (t) => {
  assertRejects(t, { REDIS_URL: 'http://127.0.0.1:6379' }, 'REDIS_URL');
  assertRejects(t, { REDIS_URL: '127.0.0.1:6379' }, 'REDIS_URL');
  assertRejects(t, { REDIS_URL: 'redis://a b' }, 'REDIS_URL');
  assertRejects(t, { REDIS_URL: 'redis://r', REDIS_PREFIX: 'has space' }, 'REDIS_PREFIX');
  assertRejects(t, { REDIS_URL: 'redis://r', REDIS_PREFIX: 'x'.repeat(65) }, 'REDIS_PREFIX');
  // A node id is the prefix of its connections' ids, up to a `~`: it may hold none.
  assertRejects(t, { REDIS_URL: 'redis://r', NODE_ID: 'a~b' }, 'NODE_ID');
  assertRejects(t, { REDIS_URL: 'redis://r', NODE_ID: 'x'.repeat(33) }, 'NODE_ID');
  assertRejects(t, { REDIS_URL: 'redis://r', NODE_ID: 'node:1' }, 'NODE_ID');
});
