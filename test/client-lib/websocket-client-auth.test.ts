/**
 * Close codes that tell the client whether retrying can help (4001 token, 4003 forbidden,
 * 4008 policy), `getToken` (after a refused token, before `exp`, for a stale token), and the
 * reconnect policy giving up.
 */
import t from 'tap';
import { CallDockerError, ConnectionState, tokenExpiry } from '@calldocker/client';
import { buildServer, signToken } from '../helpers.js';
import {
  counterTotal,
  createClient,
  establishedFrame,
  tinyServer,
  until,
  visitorToken,
} from './helpers.js';

const AUTH_FAILURES = 'calldocker_auth_failures_total';

/** The error a promise rejected with; fails the test if it resolved. */
async function rejection(promise: Promise<unknown>): Promise<CallDockerError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof CallDockerError) return err;
    throw err;
  }
  throw new Error('the promise resolved');
}

/** A token signed with the wrong secret: not stale, so the client sends it as is. */
const forgedToken = () => signToken({ sub: 'visitor-1', role: 'visitor' }, 'not-the-secret');

/** Seconds since the epoch, `inMs` from now (JWT `exp`). */
const expIn = (inMs: number) => Math.floor((Date.now() + inMs) / 1000);
// Its whole seconds leave between inMs - 1000 and inMs: margins below stay clear of that.

t.test('a refused token without getToken fails for good: no retry', async (t) => {
  const srv = await buildServer(t);
  const probe = createClient(t, srv.wsUrl, { token: forgedToken() });
  const err = await rejection(probe.client.connect());
  t.equal(err.code, 'unauthorized');
  t.equal(err.closeCode, 4001);
  t.same(probe.failures, [err], 'the failed event carries the same error');
  t.same(probe.disconnects, [
    { code: 4001, reason: 'token signature invalid', willReconnect: false },
  ]);
  t.equal(probe.client.state, ConnectionState.Disconnected);
  t.same(probe.stateNames(), ['connecting', 'disconnected']);

  await new Promise((r) => setTimeout(r, 200));
  t.equal(await counterTotal(srv, AUTH_FAILURES), 1, 'the server saw one attempt');
  t.equal(probe.sockets.length, 1);
});

t.test('a refused token with getToken is replaced and the client connects', async (t) => {
  const srv = await buildServer(t);
  let asked = 0;
  const probe = createClient(t, srv.wsUrl, {
    token: forgedToken(),
    getToken: () => {
      asked++;
      return visitorToken({ name: 'Fresh Token' });
    },
  });
  const established = await probe.client.connect();
  t.equal(established.user.name, 'Fresh Token');
  t.equal(asked, 1);
  t.match(probe.disconnects, [{ code: 4001, willReconnect: true }]);
  t.equal(probe.failures.length, 0);
  t.equal(await counterTotal(srv, AUTH_FAILURES), 1);
});

t.test('an async getToken works too, and is asked when no token is given', async (t) => {
  const srv = await buildServer(t);
  const probe = createClient(t, srv.wsUrl, {
    getToken: async () => {
      await new Promise((r) => setTimeout(r, 10));
      return visitorToken({ name: 'Async' });
    },
  });
  t.equal((await probe.client.connect()).user.name, 'Async');
});

t.test('4003 never retries, even with getToken', async (t) => {
  const tiny = await tinyServer(t, (ws) => ws.close(4003, 'company disabled'));
  let asked = 0;
  const probe = createClient(t, tiny.url, {
    token: visitorToken(),
    getToken: () => {
      asked++;
      return visitorToken();
    },
  });
  const err = await rejection(probe.client.connect());
  t.equal(err.code, 'refused');
  t.equal(err.closeCode, 4003);
  t.same(probe.failures, [err]);
  t.same(probe.disconnects, [{ code: 4003, reason: 'company disabled', willReconnect: false }]);
  await new Promise((r) => setTimeout(r, 200));
  t.equal(tiny.connections.length, 1, 'one attempt only');
  t.equal(asked, 0);
  t.equal(probe.client.state, ConnectionState.Disconnected);
});

t.test('4008 (policy) backs off and retries', async (t) => {
  const tiny = await tinyServer(t, (ws, index) => {
    if (index === 0) ws.close(4008, 'too many connections');
    else ws.send(JSON.stringify(establishedFrame()));
  });
  const probe = createClient(t, tiny.url, { token: visitorToken() });
  await probe.client.connect();
  t.same(probe.disconnects, [{ code: 4008, reason: 'too many connections', willReconnect: true }]);
  t.same(probe.stateNames(), ['connecting', 'reconnecting', 'connected']);
});

t.test('the policy giving up fails the client with gave_up', async (t) => {
  const tiny = await tinyServer(t, (ws) => ws.close(1011, 'internal'));
  const probe = createClient(t, tiny.url, {
    token: visitorToken(),
    reconnectPolicy: { nextRetryDelayMs: ({ retryCount }) => (retryCount < 2 ? 10 : null) },
  });
  const err = await rejection(probe.client.connect());
  t.equal(err.code, 'gave_up');
  t.equal(err.closeCode, 1011);
  t.same(
    probe.disconnects.map((d) => d.willReconnect),
    [true, true, false],
  );
  t.equal(tiny.connections.length, 3);
  t.same(probe.failures, [err]);
  t.equal(probe.client.state, ConnectionState.Disconnected);
});

t.test('getToken is called before exp, and the live connection is kept', async (t) => {
  const srv = await buildServer(t);
  const exp = expIn(3000);
  const calls: number[] = [];
  const probe = createClient(t, srv.wsUrl, {
    token: visitorToken({ exp }),
    tokenRefreshMarginMs: 1800,
    getToken: () => {
      calls.push(Date.now());
      return visitorToken({ name: 'Refreshed' });
    },
  });
  const before = await probe.client.connect();
  t.equal(calls.length, 0, 'the token was fresh enough to connect with');
  await until(() => calls.length === 1, 'the refresh', 3000);
  t.ok(calls[0]! < exp * 1000, 'before exp');
  t.ok(calls[0]! >= exp * 1000 - 1900, 'not much before exp minus the margin');
  t.equal(probe.client.isConnected(), true);
  t.equal(probe.client.session, before, 'the same connection');
  t.equal(probe.disconnects.length, 0);

  probe.socket.terminate();
  await probe.reached(ConnectionState.Connected, 2);
  t.equal(probe.client.session?.user.name, 'Refreshed', 'the next connection uses the new token');
  t.equal(calls.length, 1);
  t.equal(await counterTotal(srv, AUTH_FAILURES), 0);
});

t.test('a token near its exp at connect time is replaced first', async (t) => {
  const srv = await buildServer(t);
  let asked = 0;
  const probe = createClient(t, srv.wsUrl, {
    token: visitorToken({ exp: expIn(5000) }),
    getToken: () => {
      asked++;
      return visitorToken({ name: 'Fresh' });
    },
  });
  t.equal((await probe.client.connect()).user.name, 'Fresh');
  t.equal(asked, 1);
  t.equal(await counterTotal(srv, AUTH_FAILURES), 0, 'the stale token was never sent');
});

t.test('an expired token is replaced before connecting too', async (t) => {
  const srv = await buildServer(t);
  const probe = createClient(t, srv.wsUrl, {
    token: visitorToken({ exp: expIn(-10_000) }),
    getToken: () => visitorToken({ name: 'Fresh' }),
  });
  t.equal((await probe.client.connect()).user.name, 'Fresh');
  t.equal(await counterTotal(srv, AUTH_FAILURES), 0);
});

t.test('a long-lived token does not make the client call getToken in a loop', async (t) => {
  const srv = await buildServer(t);
  let asked = 0;
  // 30 days: more than a timer can wait (2^31 - 1 ms, about 24.8 days).
  const probe = createClient(t, srv.wsUrl, {
    token: visitorToken({ exp: expIn(30 * 86_400_000) }),
    getToken: () => {
      asked++;
      return visitorToken({ exp: expIn(30 * 86_400_000) });
    },
  });
  await probe.client.connect();
  await new Promise((r) => setTimeout(r, 200));
  t.equal(asked, 0);
});

t.test('getToken returning the same near-expiry token is not asked in a loop', async (t) => {
  const srv = await buildServer(t);
  const cached = visitorToken({ exp: expIn(10_000) });
  let asked = 0;
  const probe = createClient(t, srv.wsUrl, {
    token: cached,
    getToken: () => {
      asked++;
      return cached;
    },
  });
  await probe.client.connect();
  await new Promise((r) => setTimeout(r, 200));
  t.ok(asked <= 2, `asked ${asked} times`);
  t.equal(probe.client.isConnected(), true);
});

t.test('a failing getToken goes through the reconnect policy', async (t) => {
  const srv = await buildServer(t);
  let asked = 0;
  const probe = createClient(t, srv.wsUrl, {
    getToken: () => {
      asked++;
      throw new Error('auth service down');
    },
    reconnectPolicy: { nextRetryDelayMs: ({ retryCount }) => (retryCount < 2 ? 10 : null) },
  });
  const err = await rejection(probe.client.connect());
  t.equal(err.code, 'gave_up');
  t.equal(asked, 3, 'asked once per attempt, not in a tight loop');
  t.equal(probe.failures.length, 1);
  t.equal(probe.sockets.length, 0, 'no socket without a token');
});

t.test('a url no WebSocket accepts goes through the policy too', async (t) => {
  const warnings: string[] = [];
  const probe = createClient(t, 'not a url', {
    token: visitorToken(),
    reconnectPolicy: { nextRetryDelayMs: ({ retryCount }) => (retryCount < 1 ? 10 : null) },
    logger: { debug() {}, warn: (message) => warnings.push(message) },
  });
  const err = await rejection(probe.client.connect());
  t.equal(err.code, 'gave_up');
  t.match(probe.disconnects, [
    { code: 1006, reason: 'cannot open socket', willReconnect: true },
    { code: 1006, reason: 'cannot open socket', willReconnect: false },
  ]);
  t.same(warnings, ['cannot open socket', 'cannot open socket'], 'told through the logger');
});

t.test('a getToken that throws at refresh time is logged; the link stays up', async (t) => {
  const srv = await buildServer(t);
  const warnings: string[] = [];
  let asked = 0;
  const probe = createClient(t, srv.wsUrl, {
    token: visitorToken({ exp: expIn(3000) }),
    tokenRefreshMarginMs: 1800,
    getToken: () => {
      asked++;
      throw new Error('auth service down');
    },
    logger: { debug() {}, warn: (message) => warnings.push(message) },
  });
  await probe.client.connect();
  await until(() => warnings.length > 0, 'the refresh to fail', 2000);
  t.same(warnings, ['token refresh failed']);
  t.equal(asked, 1);
  t.equal(probe.client.isConnected(), true);
});

t.test('tokenExpiry reads exp without verifying, and is undefined otherwise', async (t) => {
  const exp = expIn(60_000);
  t.equal(tokenExpiry(signToken({ exp, name: 'Zoë Ünicode ✓' })), exp);
  t.equal(tokenExpiry(signToken({ exp: undefined })), undefined, 'no exp claim');
  t.equal(tokenExpiry('not a jwt'), undefined);
  t.equal(tokenExpiry('a.!!!.c'), undefined);
  t.equal(tokenExpiry(''), undefined);
});
