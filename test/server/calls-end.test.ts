/**
 * Ending calls: cancel, hang-up, the ring and queue timeouts, the call metrics (no timer left
 * behind), and the onCallTransition observer.
 */
import t from 'tap';
import type { CallRecord } from '../../server/state/store.js';
import {
  buildServer,
  connectVisitor,
  establishCall,
  flush,
  metricValue,
  nodeMetrics,
  sampleTotal,
  type TestClient,
  type TestServer,
  agentReady,
  requestCall,
} from '../helpers.js';

/**
 * Reads the call metrics this file asserts: transitions and armed timers summed over a cluster's
 * nodes (each counts its own), live calls as any node reads them (from the shared store). The
 * `clients` are flushed first, so that in a cluster their nodes have heard what the others did.
 */
async function callMetrics(srv: TestServer, ...clients: TestClient[]) {
  await flush(...clients);
  const bodies = await nodeMetrics(srv);
  const body = bodies[0]!;
  const transitions = (state: string) =>
    bodies.reduce(
      (sum, b) => sum + metricValue(b, `calldocker_call_transitions_total{state="${state}"}`),
      0,
    );
  return {
    body,
    transitions,
    live: (state: string) => metricValue(body, `calldocker_calls{state="${state}"}`),
    timers: sampleTotal(bodies, 'calldocker_call_timers'),
  };
}

t.test('a visitor cancelling its queued call ends it and updates the queue', async (t) => {
  const srv = await buildServer(t);
  const agent = await agentReady(t, srv);
  const visitor = await connectVisitor(t, srv);
  const next = await connectVisitor(t, srv, { sub: 'visitor-2' });
  const callId = await requestCall(visitor);
  const nextId = await requestCall(next);
  await agent.next('queue_updated');
  await agent.next('queue_updated');
  t.equal((await visitor.request({ type: 'call_cancel', callId })).type, 'ack');
  t.same(await visitor.next('call_ended'), {
    type: 'call_ended',
    callId,
    reason: 'cancelled',
    durationSec: 0,
  });
  const update = await agent.next('queue_updated');
  t.same(
    update.calls.map((c) => [c.callId, c.position]),
    [[nextId, 1]],
  );
  t.same(await next.next('queue_position'), {
    type: 'queue_position',
    callId: nextId,
    position: 1,
  });
  t.ok(await agent.quiet('call_ended', 0), 'queue watchers are not participants');
  t.match(await visitor.request({ type: 'call_cancel', callId }), {
    type: 'error',
    code: 'not_found',
  });
});

t.test('cancelling a ringing call tells the rung agent with call_ended', async (t) => {
  const srv = await buildServer(t);
  const tabA = await agentReady(t, srv);
  const tabB = await agentReady(t, srv);
  const visitor = await connectVisitor(t, srv);
  const callId = await requestCall(visitor, { agentId: 'agent-1' });
  await tabA.next('call_incoming');
  t.equal((await visitor.request({ type: 'call_cancel', callId })).type, 'ack');
  const expected = { type: 'call_ended', callId, reason: 'cancelled', durationSec: 0 };
  t.same(await tabA.next('call_ended'), expected);
  t.same(await tabB.next('call_ended'), expected, 'every rung connection stops ringing');
  t.same(await visitor.next('call_ended'), expected);
  t.match(await tabA.request({ type: 'call_accept', callId }), {
    type: 'error',
    code: 'not_found',
  });
});

t.test("a visitor's call_ended on an unanswered call acts as call_cancel", async (t) => {
  const srv = await buildServer(t);
  const agent = await agentReady(t, srv);
  const visitor = await connectVisitor(t, srv);
  const callId = await requestCall(visitor);
  await agent.next('queue_updated');
  t.equal((await visitor.request({ type: 'call_ended', callId })).type, 'ack');
  t.match(await visitor.next('call_ended'), { callId, reason: 'cancelled', durationSec: 0 });
  t.same((await agent.next('queue_updated')).calls, []);
});

t.test('another visitor cancelling gets forbidden in the company, not_found outside', async (t) => {
  const srv = await buildServer(t);
  const agent = await agentReady(t, srv);
  const owner = await connectVisitor(t, srv);
  const sameCompany = await connectVisitor(t, srv, { sub: 'visitor-2' });
  const otherCompany = await connectVisitor(t, srv, { company_id: 'globex' });
  const callId = await requestCall(owner);
  await agent.next('queue_updated');
  t.match(await sameCompany.request({ type: 'call_cancel', callId }), {
    type: 'error',
    code: 'forbidden',
  });
  t.match(await otherCompany.request({ type: 'call_cancel', callId }), {
    type: 'error',
    code: 'not_found',
  });
  t.match(await sameCompany.request({ type: 'call_ended', callId }), {
    type: 'error',
    code: 'forbidden',
  });
  t.ok(await owner.quiet('call_ended'), 'the call goes on');
  t.ok(await agent.quiet('queue_updated', 0), 'and stays queued');
  t.equal((await agent.request({ type: 'call_accept', callId })).type, 'ack');
});

for (const side of ['visitor', 'agent'] as const) {
  t.test(`the ${side} hanging up ends the call for both with reason hangup`, async (t) => {
    const srv = await buildServer(t);
    const { agent, visitor, callId } = await establishCall(t, srv);
    const who = side === 'visitor' ? visitor : agent;
    t.equal((await who.request({ type: 'call_ended', callId })).type, 'ack');
    const expected = { type: 'call_ended', callId, reason: 'hangup', durationSec: 0 };
    t.same(await visitor.next('call_ended'), expected);
    t.same(await agent.next('call_ended'), expected);
    t.equal(visitor.all('call_ended').length, 1, 'told once');
  });
}

t.test('cancelling an answered call gets conflict and the call goes on', async (t) => {
  const srv = await buildServer(t);
  const { agent, visitor, callId } = await establishCall(t, srv);
  t.match(await visitor.request({ type: 'call_cancel', callId }), {
    type: 'error',
    code: 'conflict',
  });
  t.ok(await agent.quiet('call_ended'), 'nothing ended');
  agent.send({ type: 'chat_message', callId, text: 'still on' });
  t.equal((await visitor.next('chat_message')).text, 'still on');
});

t.test('a reason given with call_ended is passed to both sides', async (t) => {
  const srv = await buildServer(t);
  const { agent, visitor, callId } = await establishCall(t, srv);
  t.equal((await agent.request({ type: 'call_ended', callId, reason: 'resolved' })).type, 'ack');
  for (const side of [visitor, agent]) {
    const ended = await side.next('call_ended');
    t.equal(ended.reason, 'resolved');
    t.equal(ended.callId, callId);
    t.ok(Number.isInteger(ended.durationSec) && ended.durationSec >= 0);
  }
});

t.test('an agent that is not a participant ending a call gets forbidden', async (t) => {
  const srv = await buildServer(t);
  const { agent, visitor, callId } = await establishCall(t, srv);
  const bystander = await agentReady(t, srv, { sub: 'agent-2' });
  const foreign = await agentReady(t, srv, { sub: 'agent-1', company_id: 'globex' });
  t.match(await bystander.request({ type: 'call_ended', callId }), {
    type: 'error',
    code: 'forbidden',
  });
  t.match(await foreign.request({ type: 'call_ended', callId }), {
    type: 'error',
    code: 'not_found',
  });
  t.ok(await visitor.quiet('call_ended'), 'the call goes on');
  t.ok(await agent.quiet('call_ended', 0));
  visitor.send({ type: 'chat_message', callId, text: 'still here' });
  t.equal((await agent.next('chat_message')).text, 'still here');
});

t.test('ending a call twice gets not_found: the call is forgotten once final', async (t) => {
  const srv = await buildServer(t);
  const { agent, visitor, callId } = await establishCall(t, srv);
  t.equal((await visitor.request({ type: 'call_ended', callId })).type, 'ack');
  await agent.next('call_ended');
  t.match(await visitor.request({ type: 'call_ended', callId }), {
    type: 'error',
    code: 'not_found',
  });
  t.match(await agent.request({ type: 'call_ended', callId }), {
    type: 'error',
    code: 'not_found',
  });
  t.ok(await agent.quiet('call_ended', 100), 'no second call_ended');
  t.equal(visitor.all('call_ended').length, 1);
});

t.test('a ringing call unanswered for ringTimeoutMs is missed on both sides', async (t) => {
  const srv = await buildServer(t, { ringTimeoutMs: 200 });
  const agent = await agentReady(t, srv);
  const visitor = await connectVisitor(t, srv);
  const started = Date.now();
  const callId = await requestCall(visitor, { agentId: 'agent-1' });
  const ring = await agent.next('call_incoming');
  t.ok(Math.abs(Date.parse(ring.expiresAt) - (started + 200)) < 500, 'expiresAt is the timeout');
  const expected = { type: 'call_missed', callId, reason: 'ring_timeout' };
  t.same(await visitor.next('call_missed', 2000), expected);
  t.same(await agent.next('call_missed', 2000), expected);
  t.ok(Date.now() - started >= 190, 'not before the timeout');
  t.match(await agent.request({ type: 'call_accept', callId }), {
    type: 'error',
    code: 'not_found',
  });
  t.equal((await visitor.request({ type: 'call_request', callType: 'audio' })).type, 'ack');
});

t.test('a call queued longer than queueTimeoutMs is missed and leaves the queue', async (t) => {
  const srv = await buildServer(t, { queueTimeoutMs: 250 });
  const agent = await agentReady(t, srv);
  const visitor = await connectVisitor(t, srv);
  const callId = await requestCall(visitor);
  t.equal((await agent.next('queue_updated')).calls.length, 1);
  t.same(await visitor.next('call_missed', 2000), {
    type: 'call_missed',
    callId,
    reason: 'queue_timeout',
  });
  t.same((await agent.next('queue_updated', 2000)).calls, [], 'agents get the queue without it');
  t.ok(await agent.quiet('call_missed', 0), 'queue watchers are not told otherwise');
});

t.test('metrics count transitions and the answered gauge goes up then back to 0', async (t) => {
  const srv = await buildServer(t);
  const agent = await agentReady(t, srv);
  const visitor = await connectVisitor(t, srv);
  const callId = await requestCall(visitor);
  let m = await callMetrics(srv);
  t.equal(m.transitions('queued'), 1);
  t.equal(m.live('queued'), 1);
  t.equal(m.timers, 1, 'the queue timeout is armed');
  t.equal((await agent.request({ type: 'call_accept', callId })).type, 'ack');
  m = await callMetrics(srv, agent, visitor);
  t.equal(m.transitions('answered'), 1);
  t.equal(m.live('queued'), 0);
  t.equal(m.live('answered'), 1);
  t.equal(m.timers, 0, 'an answered call with both sides present arms nothing');
  t.equal((await agent.request({ type: 'call_ended', callId })).type, 'ack');
  m = await callMetrics(srv, agent, visitor);
  t.equal(m.transitions('ended'), 1);
  t.match(m.body, /^calldocker_calls\{state="answered"\} 0$/m);
  t.equal(m.timers, 0);
});

t.test('no timer is left armed after calls end in every way', async (t) => {
  const srv = await buildServer(t, {
    ringTimeoutMs: 200,
    // Well past the grace: the last call, queued and then dropped, must be abandoned when its
    // grace ends, not missed when its queue wait does (50 ms apart, a loaded machine missed).
    queueTimeoutMs: 800,
    callReconnectGraceMs: 200,
    missedRingsBeforeAway: 0,
    // One visitor places seven calls here, past the default per minute.
    callRequestsPerVisitorPerMin: 7,
  });
  const agent = await agentReady(t, srv);
  const visitor = await connectVisitor(t, srv);
  const ask = (fields: Record<string, unknown> = {}) => requestCall(visitor, fields);

  let callId = await ask(); // queued, cancelled
  await visitor.request({ type: 'call_cancel', callId });
  await visitor.next('call_ended');
  callId = await ask({ agentId: 'agent-1' }); // ringing, declined
  await agent.request({ type: 'call_decline', callId });
  await visitor.next('call_declined');
  callId = await ask({ agentId: 'agent-1' }); // ringing, missed
  await visitor.next('call_missed', 2000);
  callId = await ask(); // queued, missed
  await visitor.next('call_missed', 2000);
  callId = await ask(); // answered, hung up
  await agent.request({ type: 'call_accept', callId });
  await visitor.request({ type: 'call_ended', callId });
  await agent.next('call_ended');
  const m1 = await callMetrics(srv, agent, visitor);
  t.equal(m1.timers, 0);

  // A visitor that drops from an answered call, then from a queued one, never to return.
  callId = await ask();
  await agent.request({ type: 'call_accept', callId });
  await visitor.close();
  await agent.next('call_ended', 2000, (m) => m.callId === callId);
  const watcher = await agentReady(t, srv, { sub: 'agent-2' });
  const late = await connectVisitor(t, srv);
  callId = await requestCall(late);
  t.equal((await watcher.next('queue_updated')).calls.length, 1);
  await late.close();
  t.same((await watcher.next('queue_updated', 2000)).calls, [], 'abandoned after the grace');

  const m = await callMetrics(srv, agent, watcher);
  t.equal(m.timers, 0, 'no timer leaked');
  for (const state of ['queued', 'ringing', 'answered']) t.equal(m.live(state), 0, state);
  t.equal(m.transitions('queued'), 5);
  t.equal(m.transitions('ringing'), 2);
  t.equal(m.transitions('answered'), 2);
  t.equal(m.transitions('ended'), 2);
  t.equal(m.transitions('declined'), 1);
  t.equal(m.transitions('missed'), 2);
  t.equal(m.transitions('abandoned'), 2);
});

t.test('the onCallTransition observer sees every state of a call in order', async (t) => {
  const seen: CallRecord[] = [];
  const srv = await buildServer(t, {}, { onCallTransition: (call) => seen.push(call) });
  const { agent, callId } = await establishCall(t, srv);
  await agent.request({ type: 'call_ended', callId, reason: 'done' });
  const direct = await connectVisitor(t, srv, { sub: 'visitor-2' });
  const ringId = await requestCall(direct, { agentId: 'agent-1' });
  await agent.next('call_incoming');
  await agent.request({ type: 'call_decline', callId: ringId });
  await direct.next('call_declined');
  t.same(
    seen.filter((c) => c.callId === callId).map((c) => c.state),
    ['queued', 'answered', 'ended'],
  );
  const last = seen.filter((c) => c.callId === callId).at(-1)!;
  t.equal(last.endReason, 'done');
  t.equal(last.agent?.id, 'agent-1');
  t.equal(last.visitor.id, 'visitor-1');
  t.same(
    seen.filter((c) => c.callId === ringId).map((c) => c.state),
    ['ringing', 'declined'],
  );
});
