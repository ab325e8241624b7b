/**
 * The web host's timeouts: read and bounded by the config module, and enforced over real
 * sockets: a body or headers trickled past their timeout are answered 408 `request_timeout` and
 * cut off, a connection on which nothing is sent is closed, a kept-alive one too once idle, and
 * one whose answer stalls. Each is checked just inside its timeout as well as past it.
 */
import t from 'tap';
import { ConfigError, loadConfig } from '../../config/config.js';
import { timeoutCheckIntervalMs } from '../../web/timeouts.js';
import { errorOf, listenTestApp } from './helpers.js';
import { openRaw } from './raw-http.js';

/** The test object tap hands to a subtest callback. */
type Test = Parameters<Parameters<typeof t.test>[0]>[0];

// Small, so the tests take a second each; the config module allows 1 s at least.
const TIMEOUTS = {
  requestTimeoutMs: 800,
  headersTimeoutMs: 400,
  keepAliveTimeoutMs: 500,
  connectionTimeoutMs: 60_000,
};
// Node looks for late requests every tenth of the shorter timeout; a busy machine adds more.
const LATE_MS = 1000;
// Timers may fire a millisecond early against performance.now().
const EARLY_MS = 5;

/** Asserts that `elapsedMs` is at `timeoutMs` or later, but not by more than `lateMs`. */
function assertCutAt(t: Test, elapsedMs: number, timeoutMs: number, lateMs = LATE_MS) {
  t.ok(elapsedMs >= timeoutMs - EARLY_MS, `not before ${timeoutMs} ms (${Math.round(elapsedMs)})`);
  t.ok(elapsedMs < timeoutMs + lateMs, `soon after ${timeoutMs} ms (${Math.round(elapsedMs)})`);
}

/** The variable a ConfigError from `loadConfig(env)` names; undefined when it loads. */
function refused(env: Record<string, string>): string | undefined {
  try {
    loadConfig(env);
    return undefined;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return err.variable;
  }
}

/** Headers of a login whose body is `length` bytes. */
const loginHead = (length: number) =>
  `POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n\r\n`;

t.test('WEB_*_TIMEOUT_MS and HSTS_MAX_AGE_S: defaults, values and bounds', async (t) => {
  t.match(loadConfig({}).web, {
    requestTimeoutMs: 30_000,
    headersTimeoutMs: 10_000,
    keepAliveTimeoutMs: 72_000,
    connectionTimeoutMs: 60_000,
    hstsMaxAgeS: 31_536_000,
  });
  const names = {
    WEB_REQUEST_TIMEOUT_MS: 'requestTimeoutMs',
    WEB_HEADERS_TIMEOUT_MS: 'headersTimeoutMs',
    WEB_KEEP_ALIVE_TIMEOUT_MS: 'keepAliveTimeoutMs',
    WEB_CONNECTION_TIMEOUT_MS: 'connectionTimeoutMs',
  } as const;
  for (const [variable, field] of Object.entries(names)) {
    for (const value of [1000, 3_600_000]) {
      // The headers timeout may not exceed the request's.
      const env = {
        WEB_REQUEST_TIMEOUT_MS: '3600000',
        WEB_HEADERS_TIMEOUT_MS: '1000',
        [variable]: String(value),
      };
      t.equal(loadConfig(env).web[field], value, `${variable}=${value} is accepted`);
    }
    for (const value of ['999', '3600001', '0', 'soon']) {
      t.equal(refused({ [variable]: value }), variable, `${variable}=${value} is refused`);
    }
  }
  t.equal(loadConfig({ HSTS_MAX_AGE_S: '0' }).web.hstsMaxAgeS, 0, 'HSTS can be turned off');
  t.equal(loadConfig({ HSTS_MAX_AGE_S: '63072000' }).web.hstsMaxAgeS, 63_072_000);
  t.equal(refused({ HSTS_MAX_AGE_S: '63072001' }), 'HSTS_MAX_AGE_S');
  t.equal(refused({ HSTS_MAX_AGE_S: '-1' }), 'HSTS_MAX_AGE_S');
});

t.test('a headers timeout longer than the request timeout is refused', async (t) => {
  const equal = { WEB_REQUEST_TIMEOUT_MS: '5000', WEB_HEADERS_TIMEOUT_MS: '5000' };
  t.equal(loadConfig(equal).web.headersTimeoutMs, 5000, 'equal is accepted');
  const longer = { WEB_REQUEST_TIMEOUT_MS: '5000', WEB_HEADERS_TIMEOUT_MS: '5001' };
  t.equal(refused(longer), 'WEB_HEADERS_TIMEOUT_MS');
});

t.test(
  'Node checks for late requests every tenth of the shorter timeout, 10 ms to 1 s',
  async (t) => {
    t.equal(timeoutCheckIntervalMs(loadConfig({}).web), 1000);
    t.equal(timeoutCheckIntervalMs(TIMEOUTS), 40);
    t.equal(
      timeoutCheckIntervalMs({ ...TIMEOUTS, requestTimeoutMs: 50, headersTimeoutMs: 50 }),
      10,
    );
  },
);

t.test('a body trickled one byte at a time is cut off at the request timeout', async (t) => {
  const { port } = await listenTestApp(t, { config: TIMEOUTS });
  const connection = await openRaw(t, port);
  await connection.write(loginHead(200));
  // 200 bytes at 50 ms each would take 10 s.
  const sent = await connection.trickle('x'.repeat(200), 50);
  const closedAfterMs = await connection.closed;
  assertCutAt(t, closedAfterMs, TIMEOUTS.requestTimeoutMs);
  t.ok(sent < 200, `the server stopped it before the body was whole (${sent} bytes)`);
  const answer = await connection.answer();
  t.equal(answer.status, 408);
  t.same(errorOf(answer.body), { keys: ['error', 'message'], error: 'request_timeout' });
  t.equal(answer.headers['x-content-type-options'], 'nosniff');
  t.equal(answer.headers['connection'], 'close');
});

t.test('a body trickled in within the request timeout is answered', async (t) => {
  const { port } = await listenTestApp(t, { config: TIMEOUTS });
  const connection = await openRaw(t, port);
  const body = JSON.stringify({ companyId: 'acme', email: 'a@b.c', password: 'pw' });
  await connection.write(loginHead(Buffer.byteLength(body)));
  // The body in 10-byte pieces 50 ms apart: about 300 ms, well inside 800.
  await connection.trickle(body, 50, 10);
  const answer = await connection.answer();
  t.equal(answer.status, 401, 'read whole and refused as a login, not as late');
  t.equal(errorOf(answer.body).error, 'invalid_credentials');
});

t.test('headers trickled past the headers timeout get 408 and a closed connection', async (t) => {
  const { port } = await listenTestApp(t, { config: TIMEOUTS });
  const connection = await openRaw(t, port);
  await connection.trickle('GET /api/health HTTP/1.1\r\nHost: x\r\nX-Slow: ' + 'y'.repeat(100), 20);
  assertCutAt(t, await connection.closed, TIMEOUTS.headersTimeoutMs);
  t.equal((await connection.answer()).status, 408);
});

t.test('a connection on which nothing is sent is closed at the headers timeout', async (t) => {
  const { port } = await listenTestApp(t, { config: TIMEOUTS });
  const idle = await openRaw(t, port);
  const early = await openRaw(t, port);
  // Just inside the timeout a request is still read and answered.
  await new Promise((resolve) => setTimeout(resolve, TIMEOUTS.headersTimeoutMs / 2));
  await early.write('GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n');
  t.equal((await early.answer()).status, 200);
  assertCutAt(t, await idle.closed, TIMEOUTS.headersTimeoutMs);
  t.equal((await idle.answer()).status, 408);
});

t.test('a kept-alive connection is reused within its timeout and closed after', async (t) => {
  const { port } = await listenTestApp(t, { config: TIMEOUTS });
  const connection = await openRaw(t, port);
  const request = 'GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n';
  await connection.write(request);
  t.equal((await connection.answer()).status, 200);
  const answeredAt = performance.now() - connection.openedAt;
  await new Promise((resolve) => setTimeout(resolve, TIMEOUTS.keepAliveTimeoutMs / 2));
  connection.received = '';
  await connection.write(request);
  t.equal((await connection.answer()).status, 200, 'the same connection serves a second request');
  const secondAt = performance.now() - connection.openedAt;
  const closedAfterMs = await connection.closed;
  // Some Node versions keep the socket a second past the advertised timeout, so that a
  // client's request crossing the close on the wire is not lost.
  assertCutAt(t, closedAfterMs - secondAt, TIMEOUTS.keepAliveTimeoutMs, 1000 + LATE_MS);
  t.ok(closedAfterMs - answeredAt > TIMEOUTS.keepAliveTimeoutMs, 'the reuse restarted the clock');
});

t.test('a connection whose answer stalls is closed at the connection timeout', async (t) => {
  let release = () => {};
  const stalled = new Promise<void>((resolve) => (release = resolve));
  t.teardown(() => release());
  const config = { ...TIMEOUTS, connectionTimeoutMs: 600 };
  const { port } = await listenTestApp(t, { config }, (app) => {
    app.get('/test/stall', async () => {
      await stalled;
      return { late: true };
    });
  });
  const connection = await openRaw(t, port);
  await connection.write('GET /test/stall HTTP/1.1\r\nHost: x\r\n\r\n');
  assertCutAt(t, await connection.closed, config.connectionTimeoutMs);
  t.equal(connection.received, '', 'nothing was answered');
});
