/**
 * Reconnecting: after a server restart, after a drop mid-call (the server resumes the call),
 * through a replaceable policy, at once when the network comes back or the page becomes
 * visible, after a dead link found by the heartbeat, and ignoring a replaced socket.
 */
import t from 'tap';
import {
  CallDockerError,
  ConnectionState,
  type ReconnectContext,
  type ReconnectPolicy,
} from '@calldocker/client';
import { buildServer } from '../helpers.js';
import {
  callWithClientVisitor,
  createClient,
  fastPolicy,
  establishedFrame,
  installGlobalEvents,
  listenSignaling,
  tinyServer,
  until,
  visitorToken,
} from './helpers.js';

/** A policy that answers `delayMs` and records what it was asked. */
function recordingPolicy(delayMs: number): ReconnectPolicy & { asked: ReconnectContext[] } {
  const asked: ReconnectContext[] = [];
  return {
    asked,
    nextRetryDelayMs(ctx) {
      asked.push(ctx);
      return delayMs;
    },
  };
}

t.test('the client reconnects by itself after the server restarts on its port', async (t) => {
  const first = await listenSignaling(t);
  const policy = recordingPolicy(30);
  const probe = createClient(t, first.wsUrl, { token: visitorToken(), reconnectPolicy: policy });
  const before = await probe.client.connect();

  await first.server.close();
  await probe.reached(ConnectionState.Reconnecting);
  t.same(probe.disconnects[0], { code: 1001, reason: 'server shutting down', willReconnect: true });
  t.match(policy.asked[0], { retryCount: 0, closeCode: 1001, reason: 'server shutting down' });
  await until(() => probe.disconnects.length >= 3, 'a few refused attempts');
  t.match(policy.asked.slice(1, 3), [
    { retryCount: 1, closeCode: 1006 },
    { retryCount: 2, closeCode: 1006 },
  ]);
  t.ok(policy.asked[2]!.elapsedMs >= 60, 'elapsedMs counts from the drop');
  t.equal(probe.client.isConnected(), false);

  await listenSignaling(t, first.port);
  await probe.reached(ConnectionState.Connected, 2);
  const after = probe.all('connection_established')[1]!;
  t.not(after.connectionId, before.connectionId, 'a fresh connection');
  t.equal(probe.client.session, after);
  t.same(
    probe.stateNames().filter((s, i, all) => s !== all[i - 1]),
    ['connecting', 'connected', 'reconnecting', 'connected'],
  );
  t.equal(await probe.client.connect(), after);
  t.same(await probe.client.joinRoom('lobby'), { roomId: 'lobby' }, 'and it works');
  t.equal(probe.failures.length, 0);
});

t.test('the default full-jitter policy reconnects too', async (t) => {
  const srv = await buildServer(t);
  const probe = createClient(t, srv.wsUrl, { token: visitorToken(), reconnectPolicy: undefined });
  await probe.client.connect();
  probe.socket.terminate();
  await probe.reached(ConnectionState.Reconnecting);
  t.match(probe.disconnects, [{ code: 1006, willReconnect: true }]);
  // The first ceiling is 500 ms by default.
  await probe.reached(ConnectionState.Connected, 2, 2000);
});

t.test('a call survives a drop of the visitor’s socket within the grace', async (t) => {
  const srv = await buildServer(t, { callReconnectGraceMs: 3000 });
  const { agent, visitor, callId } = await callWithClientVisitor(t, srv);
  visitor.socket.terminate();
  t.same(await agent.next('peer_disconnected'), { type: 'peer_disconnected', callId });
  t.same(await visitor.next('call_resumed'), {
    type: 'call_resumed',
    callId,
    callType: 'video',
    peer: { id: 'agent-1', role: 'agent', name: 'Alice Agent' },
    role: 'caller',
  });
  t.same(await agent.next('peer_reconnected'), { type: 'peer_reconnected', callId });
  visitor.client.sendWebRTCOffer(callId, { type: 'offer', sdp: 'v=0 restart' });
  t.equal((await agent.next('webrtc_offer')).offer.sdp, 'v=0 restart');
});

t.test('pending requests reject with disconnected when the socket drops', async (t) => {
  const tiny = await tinyServer(t, (ws, index) => {
    ws.send(JSON.stringify(establishedFrame({ connectionId: `tiny-${index}` })));
    // The first connection dies as soon as it is asked something.
    if (index === 0) ws.on('message', () => ws.terminate());
  });
  const probe = createClient(t, tiny.url, { token: visitorToken() });
  await probe.client.connect();
  const err = await probe.client.joinRoom('lobby').catch((e: unknown) => e);
  t.type(err, CallDockerError);
  t.equal((err as CallDockerError).code, 'disconnected');
  t.match(probe.disconnects[0], { code: 1006, willReconnect: true });
  await probe.reached(ConnectionState.Connected, 2);
});

t.test('a request with no answer rejects with timeout', async (t) => {
  const tiny = await tinyServer(t, (ws) => ws.send(JSON.stringify(establishedFrame())));
  const probe = createClient(t, tiny.url, { token: visitorToken(), requestTimeoutMs: 100 });
  await probe.client.connect();
  const started = Date.now();
  const err = await probe.client.joinRoom('lobby').catch((e: unknown) => e);
  t.equal((err as CallDockerError).code, 'timeout');
  t.ok(Date.now() - started >= 95, 'not before requestTimeoutMs');
  t.match(JSON.parse(tiny.frames[0]![0]!), { type: 'join_room', roomId: 'lobby', id: /^c\d+$/ });

  const short = await probe.client.request({ type: 'ping' }, 20).catch((e: unknown) => e);
  t.equal((short as CallDockerError).code, 'timeout', 'a per-request timeout');
  t.equal(probe.client.isConnected(), true, 'a timeout does not drop the link');
});

t.test('a late answer to a timed-out request is only an event', async (t) => {
  const tiny = await tinyServer(t, (ws) => {
    ws.send(JSON.stringify(establishedFrame()));
    ws.on('message', (data) => {
      const { id } = JSON.parse(String(data)) as { id?: string };
      setTimeout(() => ws.send(JSON.stringify({ type: 'ack', id, roomId: 'lobby' })), 80);
    });
  });
  const probe = createClient(t, tiny.url, { token: visitorToken(), requestTimeoutMs: 30 });
  await probe.client.connect();
  t.equal(
    ((await probe.client.joinRoom('lobby').catch((e) => e)) as CallDockerError).code,
    'timeout',
  );
  t.match(await probe.next('ack'), { id: /^c\d+$/, roomId: 'lobby' });
});

t.test('the online event retries at once instead of waiting for the policy', async (t) => {
  const events = installGlobalEvents(t);
  const srv = await buildServer(t);
  const probe = createClient(t, srv.wsUrl, {
    token: visitorToken(),
    reconnectPolicy: recordingPolicy(60_000),
  });
  await probe.client.connect();
  t.equal(events.count('online'), 1, 'listening while connected');
  probe.socket.terminate();
  await probe.reached(ConnectionState.Reconnecting);
  await new Promise((r) => setTimeout(r, 50));
  t.equal(probe.sockets.length, 1, 'waiting for the policy');

  const started = Date.now();
  events.dispatch('online');
  await probe.reached(ConnectionState.Connected, 2);
  t.ok(Date.now() - started < 2000, 'reconnected long before the 60 s the policy asked for');
  events.dispatch('online');
  await new Promise((r) => setTimeout(r, 50));
  t.equal(probe.sockets.length, 2, 'online while connected does nothing');

  probe.client.disconnect();
  t.equal(events.count('online'), 0, 'disconnect() stops listening');
});

t.test('the page becoming visible retries at once; hidden does not', async (t) => {
  const listeners = new Set<() => void>();
  const document = {
    visibilityState: 'hidden',
    addEventListener: (_type: string, f: () => void) => listeners.add(f),
    removeEventListener: (_type: string, f: () => void) => listeners.delete(f),
  };
  const g = globalThis as { document?: unknown };
  g.document = document;
  t.teardown(() => delete g.document);
  const srv = await buildServer(t);
  const probe = createClient(t, srv.wsUrl, {
    token: visitorToken(),
    reconnectPolicy: recordingPolicy(60_000),
  });
  await probe.client.connect();
  probe.socket.terminate();
  await probe.reached(ConnectionState.Reconnecting);

  for (const f of listeners) f();
  await new Promise((r) => setTimeout(r, 50));
  t.equal(probe.sockets.length, 1, 'still hidden: no retry');
  document.visibilityState = 'visible';
  for (const f of listeners) f();
  await probe.reached(ConnectionState.Connected, 2);
  probe.client.disconnect();
  t.equal(listeners.size, 0, 'disconnect() stops listening');
});

t.test('the client stops listening to the environment once it has failed', async (t) => {
  const events = installGlobalEvents(t);
  const tiny = await tinyServer(t, (ws) => ws.close(4003, 'company disabled'));
  const probe = createClient(t, tiny.url, { token: visitorToken() });
  await probe.client.connect().catch(() => undefined);
  t.equal(probe.failures.length, 1);
  t.equal(events.count('online'), 0, 'a failed client is not kept alive by a global listener');
});

t.test('a silent server is noticed by the heartbeat within 2-3 intervals', async (t) => {
  const tiny = await tinyServer(t, (ws, index) => {
    // The first connection goes silent after connection_established: no pong, nothing.
    ws.send(JSON.stringify(establishedFrame({ heartbeatIntervalMs: index === 0 ? 200 : 25_000 })));
  });
  const probe = createClient(t, tiny.url, { token: visitorToken() });
  await probe.client.connect();
  const established = Date.now();
  await until(() => probe.disconnects.length === 1, 'the heartbeat to give up', 2000);
  const noticed = Date.now() - established;
  t.ok(noticed >= 380 && noticed < 800, `noticed after ${noticed} ms (interval 200 ms)`);
  t.same(probe.disconnects[0], { code: 1001, reason: 'heartbeat lost', willReconnect: true });
  t.ok(
    tiny.frames[0]!.filter((f) => f === '{"type":"ping"}').length >= 1,
    'it pinged the silent server every interval',
  );
  await probe.reached(ConnectionState.Connected, 2);
  t.equal(tiny.connections.length, 2, 'a new attempt');
  t.equal(tiny.connections[0]!.readyState, tiny.connections[0]!.CLOSED, 'the old socket is closed');
});

t.test('a live link answers the pings, so the heartbeat never fires', async (t) => {
  const srv = await buildServer(t, { heartbeatIntervalMs: 60 });
  const probe = createClient(t, srv.wsUrl, { token: visitorToken() });
  await probe.client.connect();
  // Four pongs span more than two intervals, long enough for the heartbeat to have fired.
  await until(() => probe.all('pong').length >= 4, 'four pongs');
  t.same(probe.disconnects, []);
  t.equal(probe.sockets.length, 1);
});

t.test('a stalled event loop (a throttled tab) is not mistaken for a dead link', async (t) => {
  const tiny = await tinyServer(t, (ws) => {
    ws.send(JSON.stringify(establishedFrame({ heartbeatIntervalMs: 50 })));
    ws.on('message', () => ws.send(JSON.stringify({ type: 'pong', ts: Date.now() })));
  });
  const probe = createClient(t, tiny.url, { token: visitorToken() });
  await probe.client.connect();
  await probe.next('pong');
  // Timers run late after a stall, before the pong that is already on the wire is read.
  const until = Date.now() + 250;
  while (Date.now() < until);
  await new Promise((r) => setTimeout(r, 200));
  t.same(probe.disconnects, []);
  t.equal(tiny.connections.length, 1);
});

t.test('callbacks of a replaced socket are ignored', async (t) => {
  const tiny = await tinyServer(t, (ws, index) => {
    ws.send(JSON.stringify(establishedFrame({ heartbeatIntervalMs: index === 0 ? 50 : 25_000 })));
  });
  const probe = createClient(t, tiny.url, { token: visitorToken() });
  await probe.client.connect();
  await probe.reached(ConnectionState.Connected, 2);
  const [old] = probe.sockets;
  // Late callbacks of the socket the heartbeat gave up on: a frame and a close.
  const frame = { type: 'chat_message', callId: 'x', text: 'stale', fromUserId: 'agent-1' };
  old!.onmessage?.({ data: JSON.stringify(frame) } as never);
  old!.onclose?.({ code: 4001, reason: 'token expired' } as never);
  await new Promise((r) => setTimeout(r, 100));
  t.equal(probe.all('chat_message').length, 0, 'the stale frame is not emitted');
  t.equal(probe.disconnects.length, 1, 'only the heartbeat drop');
  t.equal(probe.failures.length, 0, 'the stale 4001 did not stop the client');
  t.equal(probe.client.state, ConnectionState.Connected);
});

t.test('an attempt that never gets connection_established is abandoned and retried', async (t) => {
  // The first connection is accepted but never welcomed (a stuck proxy); the second is.
  const tiny = await tinyServer(t, (ws, index) => {
    if (index > 0) ws.send(JSON.stringify(establishedFrame({ connectionId: `tiny-${index}` })));
  });
  const probe = createClient(t, tiny.url, {
    token: visitorToken(),
    connectTimeoutMs: 150,
    reconnectPolicy: fastPolicy(),
  });
  const started = Date.now();
  const established = await probe.client.connect();
  t.equal(established.connectionId, 'tiny-1', 'connected on the second attempt');
  t.ok(Date.now() - started >= 140, 'the first attempt was given connectTimeoutMs');
  t.match(probe.disconnects[0], { code: 1006, reason: 'connect timeout', willReconnect: true });
});
