/**
 * The envelope and the limits: malformed frames, the one-answer-per-id rule, ping, oversized
 * frames, floods, dead peers, peers that stop reading, and too many connections per user.
 */
import type { Socket } from 'node:net';
import t from 'tap';
import { WebSocket } from 'ws';
import type { ServerMessageOf } from '../../client-lib/protocol.js';
import type { SignalingServer } from '../../server/app.js';
import { PolicyReason } from '../../server/errors.js';
import {
  buildServer,
  connect,
  connectAgent,
  connectVisitor,
  delay,
  establishCall,
  metricTotal,
  nodeTotal,
  openClient,
  signToken,
  type CloseInfo,
  type TestClient,
} from '../helpers.js';

/** Live connections of a node (summed over a cluster's with {@link nodeTotal}). */
const connections = (server: SignalingServer) => server.connectionCount;
/** Slow-consumer closes a node counted. */
const slowConsumerCloses = (server: SignalingServer) => server.metrics.closes.get('4008');

type ErrorFrame = ServerMessageOf<'error'>;

/** Error frames received so far, in order. */
function errors(client: TestClient): ErrorFrame[] {
  return client.all('error');
}

/** Acks and errors that answer request `id`. */
function answersTo(client: TestClient, id: string): unknown[] {
  return client.received.filter(
    (m) => (m.type === 'ack' || m.type === 'error') && (m as { id?: string }).id === id,
  );
}

/** Resolves with the close, or rejects when it has not come within `ms`. */
function closedWithin(client: TestClient, ms: number): Promise<CloseInfo> {
  return Promise.race([
    client.closed,
    delay(ms).then(() => Promise.reject(new Error(`still open after ${ms} ms`))),
  ]);
}

/** The TCP socket under a `ws` client (to stop reading from it). */
function rawSocket(ws: WebSocket): Socket {
  return (ws as unknown as { _socket: Socket })._socket;
}

t.test('a frame that is not JSON gets bad_request without an id', async (t) => {
  const srv = await buildServer(t);
  const client = await connectVisitor(t, srv);
  client.send('{"type": "ping", "id": "x"'); // truncated: the id cannot be trusted
  const err = await client.next('error');
  t.equal(err.code, 'bad_request');
  t.notOk('id' in err, 'the error carries no id');
  client.send('hello');
  const err2 = await client.next('error');
  t.equal(err2.code, 'bad_request');
  t.notOk('id' in err2);
});

t.test('JSON that is not an object gets bad_request', async (t) => {
  const srv = await buildServer(t);
  const client = await connectVisitor(t, srv);
  for (const frame of ['[{"type":"ping","id":"a"}]', '42', 'null', '"ping"', 'true']) {
    client.send(frame);
    const err = await client.next('error');
    t.equal(err.code, 'bad_request', `${frame} -> bad_request`);
    t.notOk('id' in err, `${frame}: no id`);
  }
});

t.test('a message without a string type gets bad_request, with its id echoed', async (t) => {
  const srv = await buildServer(t);
  const client = await connectVisitor(t, srv);
  client.send({ roomId: 'lobby' });
  const bare = await client.next('error');
  t.equal(bare.code, 'bad_request');
  t.notOk('id' in bare);
  const withId = await client.request({ id: 'no-type', roomId: 'lobby' });
  t.strictSame(withId.type === 'error' ? [withId.code, withId.id] : withId, [
    'bad_request',
    'no-type',
  ]);
  const numeric = await client.request({ id: 'num-type', type: 7 });
  t.equal(numeric.type === 'error' ? numeric.code : numeric.type, 'bad_request');
});

t.test(
  'an unknown type gets bad_request, with the id echoed when it had a valid one',
  async (t) => {
    const srv = await buildServer(t);
    const client = await connectVisitor(t, srv);
    const res = await client.request({ type: 'launch_missiles', id: 'u1' });
    t.equal(res.type, 'error');
    if (res.type === 'error') {
      t.equal(res.code, 'bad_request');
      t.equal(res.id, 'u1');
    }
    client.send({ type: 'launch_missiles' });
    const bare = await client.next('error', 3000, (e) => e.id === undefined);
    t.equal(bare.code, 'bad_request');
    client.send({ type: 'launch_missiles', id: 'z'.repeat(65) });
    const longId = await client.next('error', 3000, (e) => e.id === undefined);
    t.equal(longId.code, 'bad_request', 'an over-long id is not echoed');
  },
);

t.test('a schema violation gets bad_request with the id', async (t) => {
  const srv = await buildServer(t);
  const client = await connectAgent(t, srv);
  const cases: Array<[string, Record<string, unknown>]> = [
    ['join_room without roomId', { type: 'join_room' }],
    ['join_room with a bad room name', { type: 'join_room', roomId: 'Bad Room!' }],
    ['agent_status with an unknown status', { type: 'agent_status', status: 'asleep' }],
    ['call_accept with a numeric callId', { type: 'call_accept', callId: 5 }],
    ['call_accept with an empty callId', { type: 'call_accept', callId: '' }],
  ];
  for (const [i, [what, message]] of cases.entries()) {
    const res = await client.request({ ...message, id: `s${i}` });
    t.equal(res.type, 'error', what);
    if (res.type === 'error') {
      t.equal(res.code, 'bad_request', `${what}: code`);
      t.equal(res.id, `s${i}`, `${what}: id`);
    }
  }
});

t.test('call_request without an id is a schema violation', async (t) => {
  const srv = await buildServer(t);
  const agent = await connectAgent(t, srv);
  const visitor = await connectVisitor(t, srv);
  visitor.send({ type: 'call_request', callType: 'audio' });
  const err = await visitor.next('error');
  t.equal(err.code, 'bad_request');
  await delay(150);
  t.equal(agent.all('queue_updated').length, 1, 'the queue did not change (only the initial one)');
});

t.test('an id longer than 64 characters gets bad_request without an id', async (t) => {
  const srv = await buildServer(t);
  const client = await connectVisitor(t, srv);
  client.send({ type: 'ping', id: 'i'.repeat(65) });
  const err = await client.next('error');
  t.equal(err.code, 'bad_request');
  t.notOk('id' in err, 'the error has no id');
  t.ok(await client.quiet('pong', 100), 'the ping was not answered with a pong');
  const ok = await client.request({ type: 'ping', id: 'i'.repeat(64) });
  t.equal(ok.type, 'ack', 'a 64-character id is fine');
  client.send({ type: 'ping', id: '' });
  const empty = await client.next('error');
  t.equal(empty.code, 'bad_request', 'an empty id is not');
  t.notOk('id' in empty, 'and is not echoed');
});

t.test('a binary frame gets bad_request', async (t) => {
  const srv = await buildServer(t);
  const client = await connectVisitor(t, srv);
  client.ws.send(Buffer.from(JSON.stringify({ type: 'ping', id: 'bin' })), { binary: true });
  const err = await client.next('error');
  t.equal(err.code, 'bad_request');
  t.ok(await client.quiet('pong', 100), 'it was not handled as a ping');
});

t.test('every message with an id is answered exactly once', async (t) => {
  const srv = await buildServer(t);
  const agent = await connectAgent(t, srv);
  const visitor = await connectVisitor(t, srv);
  const messages: Array<[string, TestClient, Record<string, unknown>]> = [
    ['ping', visitor, { type: 'ping' }],
    ['join_room', visitor, { type: 'join_room', roomId: 'lobby' }],
    ['join_room again', visitor, { type: 'join_room', roomId: 'lobby' }],
    ['leave_room', visitor, { type: 'leave_room', roomId: 'lobby' }],
    ['forbidden join', visitor, { type: 'join_room', roomId: 'agent-room' }],
    ['status as visitor', visitor, { type: 'agent_status', status: 'online' }],
    ['status as agent', agent, { type: 'agent_status', status: 'away' }],
    ['unknown type', visitor, { type: 'nope' }],
    ['schema violation', visitor, { type: 'join_room' }],
    ['relay to no call', visitor, { type: 'chat_message', callId: 'none', text: 'hi' }],
    ['accept of no call', agent, { type: 'call_accept', callId: 'none' }],
    ['call_request', visitor, { type: 'call_request', callType: 'audio' }],
  ];
  for (const [i, [, client, message]] of messages.entries()) {
    client.send({ ...message, id: `once-${i}` });
  }
  await visitor.request({ type: 'ping', id: 'flush-v' });
  await agent.request({ type: 'ping', id: 'flush-a' });
  await delay(200);
  for (const [i, [what, client]] of messages.entries()) {
    t.equal(answersTo(client, `once-${i}`).length, 1, `${what}: exactly one answer`);
  }
});

t.test('ping is answered with pong, and with an id also with an ack carrying ts', async (t) => {
  const srv = await buildServer(t);
  const client = await connectVisitor(t, srv);
  const before = Date.now();
  client.send({ type: 'ping' });
  const pong = await client.next('pong');
  t.type(pong.ts, 'number');
  t.ok(pong.ts >= before && pong.ts <= Date.now(), 'ts is the server clock');
  t.strictSame(Object.keys(pong).sort(), ['ts', 'type']);
  t.ok(await client.quiet('ack', 50), 'no ack without an id');

  const ack = await client.request({ type: 'ping', id: 'p1' });
  t.equal(ack.type, 'ack');
  const pong2 = await client.next('pong');
  t.strictSame(ack, { type: 'ack', id: 'p1', ts: pong2.ts }, 'the ack carries the same ts');
});

t.test('a frame over maxMessageBytes closes the connection with 1009', async (t) => {
  const srv = await buildServer(t, { maxMessageBytes: 2048 });
  const client = await connectVisitor(t, srv);
  const near = await client.request({ type: 'ping', pad: 'p'.repeat(1900) });
  t.equal(near.type, 'ack', 'a frame under the limit is handled');
  client.send({ type: 'ping', pad: 'p'.repeat(3000) });
  const close = await closedWithin(client, 2000);
  t.equal(close.code, 1009);
  await delay(20);
  t.equal(nodeTotal(srv, connections), 0, 'the server forgot the connection');
  t.equal(await metricTotal(srv, 'calldocker_closes_total{code="1009"}'), 1, 'counted');
});

t.test('a flood gets rate_limited past the burst, then a 4008 close', async (t) => {
  const srv = await buildServer(t, { rateLimitMsgsPerSec: 10, rateLimitBurst: 20 });
  const client = await connectVisitor(t, srv);
  const other = await connectVisitor(t, srv, { sub: 'visitor-2' });
  for (let i = 0; i < 25; i++) client.send({ type: 'ping', id: `f${i}` });
  await client.next('error', 3000, (e) => e.id === 'f24');
  for (let i = 0; i < 20; i++) {
    const answers = answersTo(client, `f${i}`) as Array<{ type: string }>;
    t.equal(answers.length === 1 ? answers[0]!.type : answers.length, 'ack', `f${i} answered`);
  }
  t.equal(client.all('pong').length, 20, 'twenty pongs');
  const limited = errors(client);
  t.strictSame(
    limited.map((e) => [e.code, e.id]),
    [20, 21, 22, 23, 24].map((i) => ['rate_limited', `f${i}`]),
    'the last five are rate_limited, with their ids',
  );
  t.equal(client.ws.readyState, WebSocket.OPEN, 'a short burst does not close');

  for (let i = 0; i < 100; i++) {
    if (client.ws.readyState !== WebSocket.OPEN) break;
    client.send({ type: 'ping', id: `g${i}` });
  }
  const close = await closedWithin(client, 2000);
  t.equal(close.code, 4008);
  t.equal(close.reason, PolicyReason.Flooding);
  const pinged = await other.request({ type: 'ping' });
  t.equal(pinged.type, 'ack', 'another connection is unaffected');
  t.ok((await metricTotal(srv, 'calldocker_errors_total{code="rate_limited"}')) >= 5);
  t.equal(await metricTotal(srv, 'calldocker_closes_total{code="4008"}'), 1);
});

t.test('a client that never answers pings is terminated; others are kept', async (t) => {
  const INTERVAL_MS = 1000;
  const srv = await buildServer(t, { heartbeatIntervalMs: INTERVAL_MS });
  const healthy = await connectVisitor(t, srv, { sub: 'healthy' });
  const dead = openClient(srv.wsUrl, signToken({ sub: 'dead', role: 'agent' }), {
    autoPong: false,
  });
  t.teardown(() => dead.close());
  await dead.established();
  const watcher = await connectVisitor(t, srv, { sub: 'watcher' });
  const openedAt = Date.now();

  const close = await closedWithin(dead, 2 * INTERVAL_MS + 800);
  const elapsed = Date.now() - openedAt;
  t.equal(close.code, 1006, 'terminated without a closing handshake');
  t.ok(elapsed <= 2 * INTERVAL_MS + 500, `terminated within about two intervals (${elapsed} ms)`);
  const offline = await watcher.next('agent_status_changed', 2000, (m) => m.status === 'offline');
  t.equal(offline.agentId, 'dead', 'its presence was cleaned up');

  t.equal(healthy.ws.readyState, WebSocket.OPEN, 'the healthy client is still open');
  await delay(INTERVAL_MS + 100);
  t.equal(healthy.ws.readyState, WebSocket.OPEN, 'and stays open across another sweep');
  const pinged = await healthy.request({ type: 'ping' });
  t.equal(pinged.type, 'ack');
  t.equal(nodeTotal(srv, connections), 2);
  t.equal(await metricTotal(srv, 'calldocker_heartbeat_terminations_total'), 1);
});

t.test('a client that stops reading is closed as a slow consumer', async (t) => {
  const HIGH_WATER = 65_536;
  const srv = await buildServer(t, {
    sendHighWaterBytes: HIGH_WATER,
    rateLimitMsgsPerSec: 1_000_000,
    rateLimitBurst: 1_000_000,
  });
  const { agent, visitor, callId } = await establishCall(t, srv);
  rawSocket(agent.ws).pause();
  t.teardown(() => agent.ws.terminate());
  const memoryBefore = process.memoryUsage();

  const text = 'z'.repeat(2000);
  const LIMIT_BYTES = 256 * 1024 * 1024;
  let sentBytes = 0;
  let batches = 0;
  while (nodeTotal(srv, slowConsumerCloses) === 0 && sentBytes < LIMIT_BYTES) {
    for (let i = 0; i < 250; i++) visitor.send({ type: 'chat_message', callId, text });
    sentBytes += 250 * text.length;
    batches++;
    // A round trip paces the sender to the server, so the backlog builds on the server side.
    const res = await visitor.request({ type: 'ping' });
    if (res.type !== 'ack') {
      t.fail(`the sender was refused: ${JSON.stringify(res)}`);
      break;
    }
  }
  t.equal(nodeTotal(srv, slowConsumerCloses), 1, 'the reader was closed with 4008');
  t.comment(`closed after ${(sentBytes / 1048576).toFixed(1)} MiB in ${batches} batches`);
  const memoryAfter = process.memoryUsage();
  const grewBy =
    memoryAfter.heapUsed +
    memoryAfter.arrayBuffers -
    memoryBefore.heapUsed -
    memoryBefore.arrayBuffers;
  t.ok(grewBy < 64 * 1024 * 1024, `memory stayed bounded (grew ${grewBy} bytes)`);

  await visitor.next('peer_disconnected', 3000);
  t.equal(nodeTotal(srv, connections), 1, 'the server let go of the slow connection');
  const after = await visitor.request({ type: 'chat_message', callId, text: 'still there?' });
  t.equal(
    after.type === 'error' ? after.code : after.type,
    'unavailable',
    'nothing more is queued',
  );
  t.equal(await metricTotal(srv, 'calldocker_closes_total{code="4008"}'), 1);
});

t.test('a relay that trips the slow-consumer close is not acked', async (t) => {
  const srv = await buildServer(
    t,
    { sendHighWaterBytes: 65_536, rateLimitMsgsPerSec: 1_000_000, rateLimitBurst: 1_000_000 },
    // The peer's node alone sees its socket's buffer: a relay across nodes is acked once handed
    // to that node (no round trip per frame), so acks and frames written part there.
    { singleNode: 'across nodes a relay is acked when handed to the peer’s node' },
  );
  const { agent, visitor, callId } = await establishCall(t, srv);
  rawSocket(agent.ws).pause();
  t.teardown(() => agent.ws.terminate());
  const text = 'z'.repeat(2000);
  let n = 0;
  while (srv.server.metrics.closes.get('4008') === 0 && n < 100_000) {
    const batch = Array.from({ length: 50 }, () => `chat-${++n}`);
    for (const id of batch) visitor.send({ type: 'chat_message', id, callId, text });
    await visitor.request({ type: 'ping' });
  }
  t.equal(srv.server.metrics.closes.get('4008'), 1, 'the reader was closed with 4008');
  const answers = visitor.received.filter(
    (m) => (m.type === 'ack' || m.type === 'error') && String(m.id).startsWith('chat-'),
  );
  const acked = answers.filter((m) => m.type === 'ack').length;
  t.equal(
    acked,
    srv.server.metrics.messagesOut.get('chat_message'),
    'every acked relay was handed to the peer’s socket, and no other',
  );
  t.ok(
    answers.some((m) => m.type === 'error' && m.code === 'unavailable'),
    'the relay that found the peer over its high-water mark got unavailable',
  );
});

t.test('a third connection of the same user is closed with 4008; the first two work', async (t) => {
  const srv = await buildServer(t, { maxConnectionsPerUser: 2 });
  const watcher = await connectVisitor(t, srv);
  const first = await connectAgent(t, srv);
  const second = await connectAgent(t, srv);
  await watcher.next('agent_status_changed', 3000, (m) => m.status === 'online');

  const third = openClient(srv.wsUrl, signToken({ sub: 'agent-1', role: 'agent' }));
  t.teardown(() => third.close());
  const close = await closedWithin(third, 2000);
  t.equal(close.code, 4008);
  t.equal(close.reason, PolicyReason.TooManyConnections);
  t.notOk(third.types().includes('connection_established'), 'it was never established');

  for (const [name, client] of [
    ['first', first],
    ['second', second],
  ] as const) {
    const res = await client.request({ type: 'ping' });
    t.equal(res.type, 'ack', `the ${name} connection still works`);
    t.equal(client.ws.readyState, WebSocket.OPEN);
  }
  t.ok(
    await watcher.quiet('agent_status_changed', 100),
    'the refused connection did not announce the agent offline',
  );

  const elsewhere = await connect(t, srv, { sub: 'agent-1', role: 'agent', company_id: 'globex' });
  const res = await elsewhere.request({ type: 'ping' });
  t.equal(res.type, 'ack', "another company's user with the same sub is unaffected");

  await second.close();
  await delay(50);
  const again = await connectAgent(t, srv);
  t.equal(again.ws.readyState, WebSocket.OPEN, 'a freed slot can be used again');
});
