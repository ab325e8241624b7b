/**
 * `WebSocketClient` against the real signaling server: every method, checked by what the
 * server or the other participant actually receives, and request rejections carrying the
 * server's code. Reconnects, close codes, tokens and queues have their own files.
 */
import t from 'tap';
import { CallDockerError, ConnectionState, type AckResult } from '@calldocker/client';
import { buildServer, connectAgent, connectVisitor } from '../helpers.js';
import { agentToken, callWithClientVisitor, createClient, visitorToken } from './helpers.js';

/** Resolves with the `code` a request was rejected with; fails the test if it resolved. */
async function rejectionCode(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    if (!(err instanceof CallDockerError)) throw err;
    return err.code;
  }
  throw new Error('the request resolved');
}

t.test(
  'connect resolves with connection_established and goes Connecting -> Connected',
  async (t) => {
    const srv = await buildServer(t);
    const probe = createClient(t, srv.wsUrl, { token: visitorToken() });
    const { client } = probe;
    t.equal(client.state, ConnectionState.Disconnected);
    t.equal(client.isConnected(), false);
    t.equal(client.session, undefined);

    const established = await client.connect();
    t.match(established, {
      type: 'connection_established',
      protocolVersion: 1,
      user: { id: 'visitor-1', role: 'visitor', companyId: 'acme', name: 'Victor Visitor' },
      rooms: ['public-calls'],
    });
    t.equal(client.isConnected(), true);
    t.equal(client.session, established);
    t.same(probe.states, [
      { newState: ConnectionState.Connecting, oldState: ConnectionState.Disconnected },
      { newState: ConnectionState.Connected, oldState: ConnectionState.Connecting },
    ]);
    t.equal(
      (await probe.next('connection_established')).connectionId,
      established.connectionId,
      'the same frame is also the connection_established event',
    );
    t.equal(srv.server.connectionCount, 1);

    t.equal(await client.connect(), established, 'connect() when connected resolves at once');
    t.equal(probe.sockets.length, 1, 'and opens no second socket');
  },
);

t.test('connect passes the token in the query string, after any query of the url', async (t) => {
  const srv = await buildServer(t);
  const token = visitorToken();
  const probe = createClient(t, `${srv.wsUrl}?tenant=acme`, { token });
  await probe.client.connect();
  t.equal(probe.socket.url, `${srv.wsUrl}?tenant=acme&token=${token}`);
});

t.test('disconnect closes the socket for good and rejects pending requests', async (t) => {
  const srv = await buildServer(t);
  const watcher = await connectVisitor(t, srv, { sub: 'watcher' });
  await watcher.next('agent_list');
  const probe = createClient(t, srv.wsUrl, { token: agentToken() });
  await probe.client.connect();
  t.match(await watcher.next('agent_status_changed'), { agentId: 'agent-1', status: 'online' });

  const pending = probe.client.joinRoom('lobby');
  probe.client.disconnect();
  t.equal(await rejectionCode(pending), 'closed');
  t.equal(probe.client.state, ConnectionState.Disconnected);
  t.equal(probe.client.isConnected(), false);
  t.equal(probe.client.session, undefined);
  t.same(probe.states.at(-1), {
    newState: ConnectionState.Disconnected,
    oldState: ConnectionState.Connected,
  });

  t.match(
    await watcher.next('agent_status_changed'),
    { agentId: 'agent-1', status: 'offline' },
    'the server saw the agent leave',
  );
  await new Promise((r) => setTimeout(r, 150));
  t.equal(probe.sockets.length, 1, 'no reconnect after disconnect()');
  t.equal(probe.disconnects.length, 0, 'a chosen disconnect is not a drop');
  t.equal(srv.server.connectionCount, 1, 'only the watcher is left');
});

t.test('send transmits a message as given', async (t) => {
  const srv = await buildServer(t);
  const agent = await connectAgent(t, srv);
  t.equal((await agent.request({ type: 'join_room', roomId: 'lobby' })).type, 'ack');
  const probe = createClient(t, srv.wsUrl, { token: visitorToken() });
  await probe.client.connect();

  probe.client.send({ type: 'join_room', roomId: 'lobby' });
  t.same(await probe.next('room_joined'), { type: 'room_joined', roomId: 'lobby' });
  t.same((await agent.next('user_joined')).user, {
    id: 'visitor-1',
    role: 'visitor',
    name: 'Victor Visitor',
  });
  t.equal(probe.all('ack').length, 0, 'no id, so no ack');
});

t.test('request adds an id c<n> and resolves with the ack fields only', async (t) => {
  const srv = await buildServer(t);
  const probe = createClient(t, srv.wsUrl, { token: visitorToken() });
  await probe.client.connect();
  const before = Date.now();
  const result = await probe.client.request({ type: 'ping' });
  t.same(Object.keys(result), ['ts']);
  t.ok(typeof result['ts'] === 'number' && result['ts'] >= before - 1000);
  const ack = await probe.next('ack');
  t.match(ack.id, /^c\d+$/);
  const second = await probe.client.request<AckResult>({ type: 'ping' });
  t.ok(typeof second['ts'] === 'number');
  t.not((await probe.next('ack')).id, ack.id, 'each request gets a fresh id');
});

t.test('joinRoom and leaveRoom are acked and seen by the other members', async (t) => {
  const srv = await buildServer(t);
  const agent = await connectAgent(t, srv);
  t.equal((await agent.request({ type: 'join_room', roomId: 'lobby' })).type, 'ack');
  const probe = createClient(t, srv.wsUrl, { token: visitorToken() });
  await probe.client.connect();

  t.same(await probe.client.joinRoom('lobby'), { roomId: 'lobby' });
  t.match(await agent.next('user_joined'), { roomId: 'lobby', user: { id: 'visitor-1' } });
  t.same(await probe.client.leaveRoom('lobby'), { roomId: 'lobby' });
  t.same(await agent.next('user_left'), {
    type: 'user_left',
    roomId: 'lobby',
    userId: 'visitor-1',
  });
  t.same(await probe.next('room_left'), { type: 'room_left', roomId: 'lobby' });
});

t.test('updateAgentStatus is acked and announced to visitors', async (t) => {
  const srv = await buildServer(t);
  const probe = createClient(t, srv.wsUrl, { token: agentToken() });
  await probe.client.connect();
  const visitor = await connectVisitor(t, srv);
  await visitor.next('agent_list');
  t.same(await probe.client.updateAgentStatus('away'), { status: 'away' });
  t.same(await visitor.next('agent_status_changed'), {
    type: 'agent_status_changed',
    agentId: 'agent-1',
    name: 'Alice Agent',
    status: 'away',
  });
});

t.test('requestCall queues a call the agents see, and cancelCall abandons it', async (t) => {
  const srv = await buildServer(t);
  const agent = await connectAgent(t, srv);
  await agent.next('queue_updated');
  const probe = createClient(t, srv.wsUrl, { token: visitorToken() });
  await probe.client.connect();

  const queued = await probe.client.requestCall('audio', { purpose: 'billing' });
  t.match(queued, { status: 'queued', position: 1 });
  t.match((await agent.next('queue_updated')).calls, [
    { callId: queued.callId, callType: 'audio', purpose: 'billing', position: 1 },
  ]);

  t.same(await probe.client.cancelCall(queued.callId), {});
  t.match(await probe.next('call_ended'), { callId: queued.callId, reason: 'cancelled' });
  t.same((await agent.next('queue_updated')).calls, [], 'the agents see the queue empty');
});

t.test('requestCall with agentId rings that agent, and declineCall refuses it', async (t) => {
  const srv = await buildServer(t);
  const agent = createClient(t, srv.wsUrl, { token: agentToken() });
  await agent.client.connect();
  const visitor = createClient(t, srv.wsUrl, { token: visitorToken() });
  await visitor.client.connect();

  const ringing = await visitor.client.requestCall('video', {
    agentId: 'agent-1',
    purpose: 'demo',
  });
  t.same(Object.keys(ringing).sort(), ['callId', 'status']);
  t.equal(ringing.status, 'ringing');
  t.match(await agent.next('call_incoming'), {
    callId: ringing.callId,
    visitor: { id: 'visitor-1', name: 'Victor Visitor' },
    callType: 'video',
    purpose: 'demo',
    expiresAt: /^\d{4}-\d\d-\d\dT/,
  });

  t.same(await agent.client.declineCall(ringing.callId), {});
  t.same(await visitor.next('call_declined'), { type: 'call_declined', callId: ringing.callId });
});

for (const [accept, end] of [
  ['acceptCall', 'endCall'],
  ['notifyCallStarted', 'notifyCallEnded'],
] as const) {
  t.test(`${accept} starts the call on both sides and ${end} ends it`, async (t) => {
    const srv = await buildServer(t);
    const probe = createClient(t, srv.wsUrl, { token: agentToken() });
    await probe.client.connect();
    const visitor = await connectVisitor(t, srv);
    const asked = await visitor.request({ type: 'call_request', callType: 'audio' });
    const callId = asked.type === 'ack' ? (asked['callId'] as string) : '';
    await probe.next('queue_updated', (m) => m.calls.length === 1);

    t.same(await probe.client[accept](callId), {});
    t.same(await visitor.next('call_started'), {
      type: 'call_started',
      callId,
      callType: 'audio',
      peer: { id: 'agent-1', role: 'agent', name: 'Alice Agent' },
    });
    t.match(await probe.next('call_started'), { callId, peer: { id: 'visitor-1' } });

    t.same(await probe.client[end](callId, 'resolved'), {});
    t.match(await visitor.next('call_ended'), { callId, reason: 'resolved' });
    t.match(await probe.next('call_ended'), { callId, reason: 'resolved' });
  });
}

t.test('endCall without a reason sends none, so the server says hangup', async (t) => {
  const srv = await buildServer(t);
  const { agent, visitor, callId } = await callWithClientVisitor(t, srv);
  t.same(await visitor.client.endCall(callId), {});
  t.match(await agent.next('call_ended'), { callId, reason: 'hangup' });
});

t.test('the relay methods reach the other participant exactly as sent', async (t) => {
  const srv = await buildServer(t);
  const { agent, visitor, callId } = await callWithClientVisitor(t, srv);
  const { client } = visitor;

  client.sendWebRTCOffer(callId, { type: 'offer', sdp: 'v=0 offer' });
  t.same(await agent.next('webrtc_offer'), {
    type: 'webrtc_offer',
    callId,
    offer: { type: 'offer', sdp: 'v=0 offer' },
    fromUserId: 'visitor-1',
  });
  client.sendWebRTCAnswer(callId, { type: 'answer', sdp: 'v=0 answer' }, 'agent-1');
  t.same((await agent.next('webrtc_answer')).answer, { type: 'answer', sdp: 'v=0 answer' });

  const candidate = { candidate: 'candidate:1 1 udp 1 10.0.0.1 9 typ host', sdpMid: '0' };
  client.sendICECandidate(callId, { ...candidate, sdpMLineIndex: 0, usernameFragment: null });
  t.same((await agent.next('ice_candidate')).candidate, {
    ...candidate,
    sdpMLineIndex: 0,
    usernameFragment: null,
  });
  client.sendICECandidate(callId, null);
  t.same(await agent.next('ice_candidate'), {
    type: 'ice_candidate',
    callId,
    candidate: null,
    fromUserId: 'visitor-1',
  });

  client.sendMediaState(callId, { audio: false, video: true, screen: true });
  t.same(await agent.next('media_state'), {
    type: 'media_state',
    callId,
    audio: false,
    video: true,
    screen: true,
    fromUserId: 'visitor-1',
  });

  t.same(await client.sendChat(callId, 'hello there'), {});
  t.same(await agent.next('chat_message'), {
    type: 'chat_message',
    callId,
    text: 'hello there',
    fromUserId: 'visitor-1',
  });
});

t.test('the relay methods send only the description fields a browser object carries', async (t) => {
  const srv = await buildServer(t);
  const { agent, visitor, callId } = await callWithClientVisitor(t, srv);
  // An RTCSessionDescription has toJSON and more; the schema refuses unknown nested fields.
  const description = { type: 'offer' as const, sdp: 'v=0', toJSON: () => ({}), extra: 1 };
  visitor.client.sendWebRTCOffer(callId, description);
  t.same((await agent.next('webrtc_offer')).offer, { type: 'offer', sdp: 'v=0' });
  t.equal(visitor.all('error').length, 0);
});

t.test('a relay to the wrong targetUserId comes back as an error event', async (t) => {
  const srv = await buildServer(t);
  const { agent, visitor, callId } = await callWithClientVisitor(t, srv);
  visitor.client.sendWebRTCOffer(callId, { type: 'offer', sdp: 'v=0' }, 'agent-2');
  const error = await visitor.next('error');
  t.equal(error.code, 'forbidden');
  t.equal(error.id, undefined, 'fire-and-forget: no id');
  t.ok(await agent.quiet('webrtc_offer'), 'nothing reached the agent');
});

t.test('the other participant’s relayed frames arrive as typed events', async (t) => {
  const srv = await buildServer(t);
  const { agent, visitor, callId } = await callWithClientVisitor(t, srv);
  agent.send({ type: 'webrtc_answer', callId, answer: { type: 'answer', sdp: 'v=0 a' } });
  agent.send({ type: 'ice_candidate', callId, candidate: { candidate: 'c', sdpMid: '0' } });
  agent.send({ type: 'media_state', callId, audio: true, video: false, screen: false });
  agent.send({ type: 'chat_message', callId, text: 'hi' });
  t.same((await visitor.next('webrtc_answer')).answer, { type: 'answer', sdp: 'v=0 a' });
  t.same((await visitor.next('ice_candidate')).candidate, { candidate: 'c', sdpMid: '0' });
  t.match(await visitor.next('media_state'), { audio: true, video: false, screen: false });
  t.match(await visitor.next('chat_message'), { text: 'hi', fromUserId: 'agent-1' });
});

t.test('request rejections carry the server’s error code', async (t) => {
  const srv = await buildServer(t);
  const agent = await connectAgent(t, srv);
  await agent.next('queue_updated');
  const probe = createClient(t, srv.wsUrl, { token: visitorToken() });
  const { client } = probe;
  await client.connect();

  t.equal(await rejectionCode(client.joinRoom('agent-room')), 'forbidden');
  t.equal(await rejectionCode(client.joinRoom('Not A Room')), 'bad_request');
  t.equal(await rejectionCode(client.updateAgentStatus('away')), 'forbidden');
  t.equal(await rejectionCode(client.acceptCall('no-such-call')), 'forbidden');
  t.equal(await rejectionCode(client.cancelCall('no-such-call')), 'not_found');
  t.equal(await rejectionCode(client.requestCall('video', { agentId: 'agent-9' })), 'unavailable');

  const { callId } = await client.requestCall('video');
  t.equal(await rejectionCode(client.requestCall('video')), 'conflict', 'a second call_request');
  t.equal(await rejectionCode(client.sendChat(callId, 'hi')), 'conflict', 'call not answered');

  const err = await client.joinRoom('agent-room').catch((e: unknown) => e);
  t.type(err, CallDockerError);
  t.equal((err as CallDockerError).closeCode, undefined, 'not a close');
  t.equal(client.state, ConnectionState.Connected, 'refusals do not touch the connection');
  t.ok(await agent.quiet('user_joined', 50), 'the refused join reached nobody');
});

t.test('a request dropped by the rate limit rejects with rate_limited', async (t) => {
  const srv = await buildServer(t, { rateLimitMsgsPerSec: 5, rateLimitBurst: 1 });
  const probe = createClient(t, srv.wsUrl, { token: visitorToken() });
  await probe.client.connect();
  const codes = await Promise.all(
    [1, 2, 3].map((n) =>
      probe.client.joinRoom(`room-${n}`).then(
        () => 'ok',
        (err: CallDockerError) => err.code,
      ),
    ),
  );
  t.same(codes, ['ok', 'rate_limited', 'rate_limited']);
  t.equal(probe.client.isConnected(), true);
});
