/**
 * The reconnect grace: a participant whose connection drops keeps its call for
 * callReconnectGraceMs, resumes it from a new connection of the same company and sub, and
 * loses it (ended, or abandoned when still queued) when it does not come back.
 */
import t from 'tap';
import {
  buildServer,
  connectAgent,
  connectVisitor,
  establishCall,
  metricTotal,
  type TestClient,
  type TestServer,
  agentReady,
  requestCall,
} from '../helpers.js';

/** Long enough for a reconnect on a loaded machine, short enough to wait out. */
const GRACE_MS = 400;

/**
 * The frames a fresh connection got, without the ones every connection of its role gets on
 * arrival, so "X right after connection_established" reads as the first two entries.
 */
function arrivalOrder(client: TestClient): string[] {
  const setup = new Set(['agent_list', 'queue_updated', 'agent_status_changed']);
  return client
    .types()
    .map((type) => type.replace(/^consumed:/, ''))
    .filter((type) => !setup.has(type));
}

/** Armed call timers, on every node of a cluster. */
function timers(srv: TestServer): Promise<number> {
  return metricTotal(srv, 'calldocker_call_timers');
}

t.test('a visitor that drops mid-call and returns within the grace resumes it', async (t) => {
  const srv = await buildServer(t, { callReconnectGraceMs: GRACE_MS });
  const { agent, visitor, callId } = await establishCall(t, srv, { callType: 'audio' });
  await visitor.close();
  t.same(await agent.next('peer_disconnected'), { type: 'peer_disconnected', callId });

  const back = await connectVisitor(t, srv);
  t.same(await back.next('call_resumed'), {
    type: 'call_resumed',
    callId,
    callType: 'audio',
    peer: { id: 'agent-1', role: 'agent', name: 'Alice Agent' },
    role: 'caller',
  });
  t.same(arrivalOrder(back).slice(0, 2), ['connection_established', 'call_resumed']);
  t.same(await agent.next('peer_reconnected'), { type: 'peer_reconnected', callId });

  back.send({ type: 'webrtc_offer', callId, offer: { type: 'offer', sdp: 'v=0 restart' } });
  const offer = await agent.next('webrtc_offer');
  t.equal(offer.fromUserId, 'visitor-1');
  t.equal(offer.offer.sdp, 'v=0 restart');
  agent.send({ type: 'webrtc_answer', callId, answer: { type: 'answer', sdp: 'v=0 ok' } });
  t.equal((await back.next('webrtc_answer')).answer.sdp, 'v=0 ok');

  await new Promise((r) => setTimeout(r, GRACE_MS + 100));
  t.ok(await agent.quiet('call_ended', 0), 'the call outlives the grace once resumed');
  t.equal((await back.request({ type: 'call_ended', callId })).type, 'ack');
  t.match(await agent.next('call_ended'), { callId, reason: 'hangup' });
});

t.test('an agent that drops mid-call and returns within the grace resumes it', async (t) => {
  const srv = await buildServer(t, { callReconnectGraceMs: GRACE_MS });
  const { agent, visitor, callId } = await establishCall(t, srv);
  await agent.close();
  t.same(await visitor.next('peer_disconnected'), { type: 'peer_disconnected', callId });
  await new Promise((r) => setTimeout(r, 50));
  t.notOk(
    visitor.all('agent_status_changed').some((m) => m.status === 'offline'),
    'an agent held by a call is not announced offline',
  );

  const back = await connectAgent(t, srv);
  t.same(await back.next('call_resumed'), {
    type: 'call_resumed',
    callId,
    callType: 'video',
    peer: { id: 'visitor-1', role: 'visitor', name: 'Victor Visitor' },
    role: 'callee',
  });
  t.same(arrivalOrder(back).slice(0, 2), ['connection_established', 'call_resumed']);
  t.same(await visitor.next('peer_reconnected'), { type: 'peer_reconnected', callId });

  visitor.send({ type: 'ice_candidate', callId, candidate: { candidate: 'a', sdpMid: '0' } });
  t.same((await back.next('ice_candidate')).candidate, { candidate: 'a', sdpMid: '0' });
  back.send({ type: 'chat_message', callId, text: 'sorry, lost you' });
  t.equal((await visitor.next('chat_message')).fromUserId, 'agent-1');
  t.equal((await back.request({ type: 'call_ended', callId })).type, 'ack');
  t.match(await visitor.next('call_ended'), { callId, reason: 'hangup' });
});

for (const side of ['visitor', 'agent'] as const) {
  t.test(
    `${side === 'agent' ? 'an' : 'a'} ${side} that does not return within the grace ends the call`,
    async (t) => {
      const srv = await buildServer(t, { callReconnectGraceMs: GRACE_MS });
      const { agent, visitor, callId } = await establishCall(t, srv);
      const [gone, stays] = side === 'visitor' ? [visitor, agent] : [agent, visitor];
      const droppedAt = Date.now();
      await gone.close();
      await stays.next('peer_disconnected');
      const ended = await stays.next('call_ended', GRACE_MS + 2000);
      t.ok(Date.now() - droppedAt >= GRACE_MS - 20, 'not before the grace');
      t.equal(ended.callId, callId);
      t.equal(ended.reason, 'disconnected');
      t.ok(Number.isInteger(ended.durationSec));
      const back = await (side === 'visitor' ? connectVisitor(t, srv) : connectAgent(t, srv));
      t.ok(await back.quiet('call_resumed', 100), 'nothing to resume after the grace');
      t.equal(await timers(srv), 0);
    },
  );
}

t.test('a queued visitor that drops and does not return is taken off the queue', async (t) => {
  const srv = await buildServer(t, { callReconnectGraceMs: GRACE_MS });
  const agent = await agentReady(t, srv);
  const first = await connectVisitor(t, srv);
  const second = await connectVisitor(t, srv, { sub: 'visitor-2' });
  const callId = await requestCall(first);
  const secondId = await requestCall(second);
  await agent.next('queue_updated');
  await agent.next('queue_updated');
  await first.close();
  t.ok(await agent.quiet('queue_updated', GRACE_MS / 2), 'kept in the queue during the grace');
  const update = await agent.next('queue_updated', GRACE_MS + 2000);
  t.same(
    update.calls.map((c) => [c.callId, c.position]),
    [[secondId, 1]],
  );
  t.same(await second.next('queue_position'), {
    type: 'queue_position',
    callId: secondId,
    position: 1,
  });
  t.match(await agent.request({ type: 'call_accept', callId }), {
    type: 'error',
    code: 'not_found',
  });
  t.equal(await metricTotal(srv, 'calldocker_call_transitions_total{state="abandoned"}'), 1);
});

t.test('a queued visitor that returns within the grace gets call_waiting', async (t) => {
  const srv = await buildServer(t, { callReconnectGraceMs: GRACE_MS });
  const agent = await agentReady(t, srv);
  const ahead = await connectVisitor(t, srv, { sub: 'visitor-0' });
  await requestCall(ahead);
  const visitor = await connectVisitor(t, srv);
  const callId = await requestCall(visitor, { callType: 'audio' });
  await agent.next('queue_updated');
  await agent.next('queue_updated');
  await visitor.close();

  const back = await connectVisitor(t, srv);
  t.same(await back.next('call_waiting'), {
    type: 'call_waiting',
    callId,
    callType: 'audio',
    status: 'queued',
    position: 2,
  });
  t.same(arrivalOrder(back).slice(0, 2), ['connection_established', 'call_waiting']);
  await new Promise((r) => setTimeout(r, GRACE_MS + 100));
  t.ok(await agent.quiet('queue_updated', 0), 'not abandoned once back');

  t.equal((await agent.request({ type: 'call_accept', callId })).type, 'ack');
  t.equal((await back.next('call_started')).peer.id, 'agent-1', 'the new connection is told');
  back.send({ type: 'webrtc_offer', callId, offer: { type: 'offer', sdp: 'v=0' } });
  t.equal((await agent.next('webrtc_offer')).fromUserId, 'visitor-1');
});

t.test('a visitor with the same sub in another company does not resume the call', async (t) => {
  const srv = await buildServer(t, { callReconnectGraceMs: GRACE_MS });
  const { agent, visitor, callId } = await establishCall(t, srv);
  await visitor.close();
  await agent.next('peer_disconnected');
  const impostor = await connectVisitor(t, srv, { company_id: 'globex' });
  t.ok(await impostor.quiet('call_resumed', 100), 'no call_resumed');
  t.ok(await impostor.quiet('call_waiting', 0));
  t.ok(await agent.quiet('peer_reconnected', 0), 'the agent is not told of a return');
  t.match(
    await impostor.request({
      type: 'webrtc_offer',
      callId,
      offer: { type: 'offer', sdp: 'v=0' },
    }),
    { type: 'error', code: 'not_found' },
  );
  t.ok(await agent.quiet('webrtc_offer', 0), 'nothing was relayed');
  t.match(await agent.next('call_ended', GRACE_MS + 2000), { callId, reason: 'disconnected' });
  t.ok(await impostor.quiet('call_ended', 0));
});

t.test('relaying to a peer disconnected during the grace gets unavailable', async (t) => {
  const srv = await buildServer(t, { callReconnectGraceMs: GRACE_MS });
  const { agent, visitor, callId } = await establishCall(t, srv);
  await visitor.close();
  await agent.next('peer_disconnected');
  t.match(
    await agent.request({ type: 'ice_candidate', callId, candidate: { candidate: 'lost' } }),
    { type: 'error', code: 'unavailable' },
  );
  t.match(await agent.request({ type: 'chat_message', callId, text: 'hello?' }), {
    type: 'error',
    code: 'unavailable',
  });
  const back = await connectVisitor(t, srv);
  await back.next('call_resumed');
  await agent.next('peer_reconnected');
  t.ok(await back.quiet('ice_candidate', 100), 'refused frames are not delivered later');
  t.ok(await back.quiet('chat_message', 0));
  t.equal(
    (await agent.request({ type: 'chat_message', callId, text: 'there you are' })).type,
    'ack',
  );
  t.equal((await back.next('chat_message')).text, 'there you are');
});

t.test('a returned queued visitor is sent queue_position only when it moves', async (t) => {
  const srv = await buildServer(t, { callReconnectGraceMs: GRACE_MS });
  const agent = await agentReady(t, srv);
  const ahead = await connectVisitor(t, srv, { sub: 'visitor-0' });
  const aheadId = await requestCall(ahead);
  const visitor = await connectVisitor(t, srv);
  const callId = await requestCall(visitor);
  await visitor.close();
  const back = await connectVisitor(t, srv);
  t.match(await back.next('call_waiting'), { callId, position: 2 });
  const behind = await connectVisitor(t, srv, { sub: 'visitor-9' });
  await requestCall(behind);
  await agent.next('queue_updated', 2000, (m) => m.calls.length === 3);
  t.ok(await back.quiet('queue_position', 100), 'a call queued behind it does not move it');
  t.equal((await ahead.request({ type: 'call_cancel', callId: aheadId })).type, 'ack');
  const moved = await back.next('queue_position', 3000, (m) => m.position === 1);
  t.same(moved, { type: 'queue_position', callId, position: 1 }, 'told when it moves up');
});

t.test('a visitor that drops while its call rings gets call_waiting on return', async (t) => {
  const srv = await buildServer(t, { callReconnectGraceMs: GRACE_MS });
  const agent = await agentReady(t, srv);
  const visitor = await connectVisitor(t, srv);
  const callId = await requestCall(visitor, { agentId: 'agent-1' });
  await agent.next('call_incoming');
  await visitor.close();
  const back = await connectVisitor(t, srv);
  t.same(await back.next('call_waiting'), {
    type: 'call_waiting',
    callId,
    callType: 'video',
    status: 'ringing',
  });
  t.equal((await agent.request({ type: 'call_accept', callId })).type, 'ack');
  t.equal((await back.next('call_started')).peer.id, 'agent-1');
});

t.test(
  'an agent accepting while the visitor is away learns it, and the visitor resumes',
  async (t) => {
    const srv = await buildServer(t, { callReconnectGraceMs: GRACE_MS });
    const agent = await agentReady(t, srv);
    const visitor = await connectVisitor(t, srv);
    const callId = await requestCall(visitor);
    await agent.next('queue_updated');
    await visitor.close();
    t.equal((await agent.request({ type: 'call_accept', callId })).type, 'ack');
    t.equal((await agent.next('call_started')).peer.id, 'visitor-1');
    t.same(await agent.next('peer_disconnected'), { type: 'peer_disconnected', callId });
    const back = await connectVisitor(t, srv);
    t.match(await back.next('call_resumed'), { callId, role: 'caller', peer: { id: 'agent-1' } });
    await agent.next('peer_reconnected');
    back.send({ type: 'webrtc_offer', callId, offer: { type: 'offer', sdp: 'v=0' } });
    t.equal((await agent.next('webrtc_offer')).fromUserId, 'visitor-1');
  },
);

t.test(
  'a call moves at once to a connection the user opened before its old socket dropped',
  async (t) => {
    const srv = await buildServer(t, { callReconnectGraceMs: 300 });
    const { agent, visitor, callId } = await establishCall(t, srv);
    // The client reconnected (network blip) before the server saw the old socket die.
    const newer = await connectVisitor(t, srv);
    await visitor.close();
    await agent.next('peer_disconnected');
    t.match(await newer.next('call_resumed'), { callId, role: 'caller', peer: { id: 'agent-1' } });
    t.same(await agent.next('peer_reconnected'), { type: 'peer_reconnected', callId });
    newer.send({ type: 'ice_candidate', callId, candidate: null });
    t.equal((await agent.next('ice_candidate')).fromUserId, 'visitor-1');
    t.ok(await agent.quiet('call_ended', 500), 'the call outlives the grace');
  },
);
