/**
 * Sends while not connected: queued (bounded) and flushed in order on reconnect, or refused
 * with `offline: 'reject'`; never lost silently, and never sent after their promise failed.
 */
import t from 'tap';
import { CallDockerError, ConnectionState, FullJitterPolicy } from '@calldocker/client';
import { buildServer } from '../helpers.js';
import {
  callWithClientVisitor,
  createClient,
  establishedFrame,
  listenSignaling,
  tinyServer,
  until,
  visitorToken,
} from './helpers.js';

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

/** The error `fn` threw; fails the test if it did not throw. */
function thrown(fn: () => void): CallDockerError {
  try {
    fn();
  } catch (err) {
    if (err instanceof CallDockerError) return err;
    throw err;
  }
  throw new Error('it did not throw');
}

/** A policy that always waits `delayMs`. */
const fixedDelay = (delayMs: number) => ({ nextRetryDelayMs: () => delayMs });

t.test('frames sent while reconnecting arrive in order after the reconnect', async (t) => {
  const srv = await buildServer(t, { callReconnectGraceMs: 3000 });
  const { agent, visitor, callId } = await callWithClientVisitor(t, srv, {
    reconnectPolicy: fixedDelay(150),
  });
  const { client } = visitor;
  visitor.socket.terminate();
  await visitor.reached(ConnectionState.Reconnecting);
  t.equal(client.isConnected(), false);

  client.sendWebRTCOffer(callId, { type: 'offer', sdp: 'v=0 restart' });
  for (const n of [1, 2, 3]) client.sendICECandidate(callId, { candidate: `c${n}` });
  client.sendICECandidate(callId, null);
  client.sendMediaState(callId, { audio: true, video: false, screen: false });
  const chat = client.sendChat(callId, 'back');
  t.equal(visitor.sockets.length, 1, 'nothing was sent yet');

  t.same(await chat, {}, 'the queued request resolves once it is sent and acked');
  const relayed = ['webrtc_offer', 'ice_candidate', 'media_state', 'chat_message'];
  const order = agent.received
    .map((m) => m.type.replace(/^consumed:/, ''))
    .filter((type) => relayed.includes(type));
  t.same(order, [
    'webrtc_offer',
    'ice_candidate',
    'ice_candidate',
    'ice_candidate',
    'ice_candidate',
    'media_state',
    'chat_message',
  ]);
  t.same(
    agent.all('ice_candidate').map((m) => m.candidate?.candidate ?? null),
    ['c1', 'c2', 'c3', null],
  );
  t.equal((await visitor.next('call_resumed')).callId, callId, 'after the call resumed');
});

t.test('sends before connect() are queued and flushed on connection', async (t) => {
  const srv = await buildServer(t);
  const probe = createClient(t, srv.wsUrl, { token: visitorToken(), maxQueuedMessages: 2 });
  probe.client.send({ type: 'ping', id: 'p1' });
  probe.client.send({ type: 'ping', id: 'p2' });

  const overflow = thrown(() => probe.client.send({ type: 'ping', id: 'p3' }));
  t.equal(overflow.code, 'queue_full');
  t.equal(overflow.source, 'client', "the offline queue's queue_full is the client's own");
  t.equal((await rejection(probe.client.joinRoom('lobby'))).code, 'queue_full');
  await probe.client.connect();
  await probe.next('ack', (m) => m.id === 'p2');
  t.same(
    probe.all('ack').map((m) => m.id),
    ['p1', 'p2'],
    'the server got the queued frames, in order, and nothing else',
  );
});

t.test('the queue bound holds while reconnecting too', async (t) => {
  const srv = await buildServer(t);
  const probe = createClient(t, srv.wsUrl, {
    token: visitorToken(),
    maxQueuedMessages: 3,
    reconnectPolicy: fixedDelay(60_000),
  });
  await probe.client.connect();
  probe.socket.terminate();
  await probe.reached(ConnectionState.Reconnecting);
  for (const n of [1, 2, 3]) probe.client.send({ type: 'ping', id: `p${n}` });
  t.equal(thrown(() => probe.client.send({ type: 'ping' })).code, 'queue_full');
  probe.client.disconnect();
  t.doesNotThrow(() => probe.client.send({ type: 'ping' }), 'disconnect() emptied the queue');
});

t.test("with offline: 'reject', sends throw and requests reject not_connected", async (t) => {
  const srv = await buildServer(t);
  const probe = createClient(t, srv.wsUrl, {
    token: visitorToken(),
    offline: 'reject',
    reconnectPolicy: fixedDelay(60_000),
  });
  t.equal(thrown(() => probe.client.send({ type: 'ping' })).code, 'not_connected');
  t.equal((await rejection(probe.client.joinRoom('lobby'))).code, 'not_connected');

  await probe.client.connect();
  probe.socket.terminate();
  await probe.reached(ConnectionState.Reconnecting);
  t.equal((await rejection(probe.client.sendChat('x', 'y'))).code, 'not_connected');
  t.equal((await rejection(probe.client.request({ type: 'ping' }))).code, 'not_connected');
  t.equal(
    thrown(() => probe.client.sendMediaState('x', { audio: true, video: true, screen: false }))
      .code,
    'not_connected',
  );
});

t.test('a request queued while the server is down waits for the reconnect', async (t) => {
  const first = await listenSignaling(t);
  const probe = createClient(t, first.wsUrl, {
    token: visitorToken(),
    reconnectPolicy: new FullJitterPolicy({ baseDelayMs: 20, maxDelayMs: 20 }),
  });
  await probe.client.connect();
  await first.server.close();
  await probe.reached(ConnectionState.Reconnecting);
  let settled: unknown = 'pending';
  const join = probe.client.joinRoom('lobby').then(
    (v) => (settled = v),
    (e: CallDockerError) => (settled = e.code),
  );
  await until(() => probe.disconnects.length >= 3, 'attempts to fail');
  t.equal(settled, 'pending', 'failed attempts do not fail a request that was never sent');

  await listenSignaling(t, first.port);
  await join;
  t.same(settled, { roomId: 'lobby' });
  t.equal(probe.all('ack').length, 1, 'sent once');
});

t.test('a queued request that times out is never sent afterwards', async (t) => {
  const srv = await buildServer(t);
  const probe = createClient(t, srv.wsUrl, { token: visitorToken(), requestTimeoutMs: 30 });
  t.equal((await rejection(probe.client.joinRoom('lobby'))).code, 'timeout');
  probe.client.send({ type: 'ping', id: 'after' });
  await probe.client.connect();
  await probe.next('ack', (m) => m.id === 'after');
  t.same(
    probe.messages.filter((m) => m.type === 'ack' || m.type === 'room_joined').map((m) => m.type),
    ['ack'],
    'the server never saw the join it was told had failed',
  );
});

t.test('queued requests are rejected when the client gives up or disconnects', async (t) => {
  const tiny = await tinyServer(t, (ws, index) => {
    if (index > 0) ws.close(4008, 'too many connections');
    else ws.send(JSON.stringify(establishedFrame()), () => setTimeout(() => ws.terminate(), 20));
  });
  const probe = createClient(t, tiny.url, {
    token: visitorToken(),
    reconnectPolicy: { nextRetryDelayMs: ({ retryCount }) => (retryCount >= 2 ? null : 50) },
  });
  // Asked the moment the link drops, so it is queued before any retry.
  const asked = new Promise<CallDockerError>((resolve) => {
    const off = probe.client.on('state', ({ newState }) => {
      if (newState !== ConnectionState.Reconnecting) return;
      off();
      resolve(rejection(probe.client.joinRoom('lobby')));
    });
  });
  await probe.client.connect();
  const err = await asked;
  t.equal(err.code, 'gave_up');
  t.equal(err.closeCode, 4008);
  t.same(probe.failures, [err], 'the same error as the failed event');
  t.equal(probe.client.state, ConnectionState.Disconnected);
  t.same(
    tiny.frames.flat().filter((f) => f.includes('join_room')),
    [],
    'the join was never sent',
  );

  const second = createClient(t, tiny.url, { token: visitorToken() });
  const pending = second.client.joinRoom('lobby');
  second.client.disconnect();
  t.equal((await rejection(pending)).code, 'closed');
});
