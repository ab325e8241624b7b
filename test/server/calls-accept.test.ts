/**
 * Answering calls: who may accept or decline, exactly one winner among racing agents, one
 * answered call per agent, call_started, and the other tabs of a rung agent.
 */
import t from 'tap';
import {
  buildServer,
  connectVisitor,
  establishCall,
  type TestClient,
  outcome,
  agentReady,
  requestCall,
} from '../helpers.js';

t.test('a visitor sending call_accept gets forbidden and the call stays queued', async (t) => {
  const srv = await buildServer(t);
  const agent = await agentReady(t, srv);
  const visitor = await connectVisitor(t, srv);
  const other = await connectVisitor(t, srv, { sub: 'visitor-2' });
  const callId = await requestCall(visitor);
  await agent.next('queue_updated');
  t.match(await visitor.request({ type: 'call_accept', callId }), {
    type: 'error',
    code: 'forbidden',
  });
  t.match(await other.request({ type: 'call_accept', callId }), {
    type: 'error',
    code: 'forbidden',
  });
  t.ok(await agent.quiet('queue_updated'), 'the queue did not change');
  t.ok(await visitor.quiet('call_started', 0));
  t.equal((await agent.request({ type: 'call_accept', callId })).type, 'ack');
});

t.test('when several agents accept one call at once exactly one wins', async (t) => {
  const srv = await buildServer(t);
  const agents: TestClient[] = [];
  for (let i = 1; i <= 6; i++) agents.push(await agentReady(t, srv, { sub: `agent-${i}` }));
  const visitor = await connectVisitor(t, srv);
  const callId = await requestCall(visitor);
  for (const agent of agents) await agent.next('queue_updated');
  // All frames leave before any answer is awaited, so the server sees them interleaved.
  const answers = await Promise.all(agents.map((a) => a.request({ type: 'call_accept', callId })));
  const outcomes = answers.map(outcome);
  t.equal(outcomes.filter((o) => o === 'ack').length, 1, 'exactly one ack');
  t.equal(outcomes.filter((o) => o === 'conflict').length, agents.length - 1, 'the rest conflict');
  const winnerIndex = outcomes.indexOf('ack');
  const winner = agents[winnerIndex]!;
  t.equal((await visitor.next('call_started')).peer.id, `agent-${winnerIndex + 1}`);
  t.equal((await winner.next('call_started')).peer.id, 'visitor-1');
  t.ok(await visitor.quiet('call_started'), 'the visitor is connected to one agent only');
  t.equal(visitor.all('call_started').length, 1);
  for (const agent of agents) {
    if (agent !== winner) t.notOk(agent.all('call_started').length, 'losers get no call_started');
  }
});

t.test('when the tabs of a rung agent accept at once exactly one wins', async (t) => {
  const srv = await buildServer(t);
  const tabs: TestClient[] = [];
  for (let i = 0; i < 3; i++) tabs.push(await agentReady(t, srv));
  const visitor = await connectVisitor(t, srv);
  const callId = await requestCall(visitor, { agentId: 'agent-1' });
  for (const tab of tabs) await tab.next('call_incoming');
  const answers = await Promise.all(tabs.map((a) => a.request({ type: 'call_accept', callId })));
  const outcomes = answers.map(outcome);
  t.same(outcomes.slice().sort(), ['ack', 'conflict', 'conflict']);
  await visitor.next('call_started');
  t.ok(await visitor.quiet('call_started'), 'one call_started for the visitor');
  const winner = tabs[outcomes.indexOf('ack')]!;
  t.equal((await winner.next('call_started')).callId, callId);
});

t.test('an agent of another company accepting a call gets not_found', async (t) => {
  const srv = await buildServer(t);
  const own = await agentReady(t, srv);
  const foreign = await agentReady(t, srv, { company_id: 'globex', sub: 'agent-x' });
  const visitor = await connectVisitor(t, srv);
  const callId = await requestCall(visitor);
  await own.next('queue_updated');
  t.ok(await foreign.quiet('queue_updated', 100), "another company's queue is not shown");
  t.match(await foreign.request({ type: 'call_accept', callId }), {
    type: 'error',
    code: 'not_found',
  });
  t.match(await foreign.request({ type: 'call_decline', callId }), {
    type: 'error',
    code: 'not_found',
  });
  t.ok(await visitor.quiet('call_started'), 'the call was not answered');
  t.ok(await own.quiet('queue_updated', 0), 'the call is still queued');
  t.equal((await own.request({ type: 'call_accept', callId })).type, 'ack');
  const started = await visitor.next('call_started');
  t.equal(started.peer.id, 'agent-1');
});

t.test('an agent accepting a call ringing another agent gets forbidden', async (t) => {
  const srv = await buildServer(t);
  const target = await agentReady(t, srv);
  const other = await agentReady(t, srv, { sub: 'agent-2' });
  const visitor = await connectVisitor(t, srv);
  const callId = await requestCall(visitor, { agentId: 'agent-1' });
  await target.next('call_incoming');
  t.match(await other.request({ type: 'call_accept', callId }), {
    type: 'error',
    code: 'forbidden',
  });
  t.ok(await visitor.quiet('call_started'));
  t.ok(await target.quiet('call_answered_elsewhere', 0));
  t.equal((await target.request({ type: 'call_accept', callId })).type, 'ack');
});

t.test('an agent already in an answered call gets conflict accepting another', async (t) => {
  const srv = await buildServer(t);
  const { agent } = await establishCall(t, srv);
  const secondTab = await agentReady(t, srv);
  const visitor2 = await connectVisitor(t, srv, { sub: 'visitor-2' });
  const queued = await requestCall(visitor2);
  t.match(await agent.request({ type: 'call_accept', callId: queued }), {
    type: 'error',
    code: 'conflict',
  });
  t.match(await secondTab.request({ type: 'call_accept', callId: queued }), {
    type: 'error',
    code: 'conflict',
  });
  t.ok(await visitor2.quiet('call_started'), 'the queued call was not taken');
  const freeAgent = await agentReady(t, srv, { sub: 'agent-2' });
  t.same(
    (await freeAgent.request({ type: 'call_accept', callId: queued })).type,
    'ack',
    'another agent can still take it',
  );
});

for (const mode of ['queued', 'direct'] as const) {
  t.test(`on accept of a ${mode} call both sides get call_started with their peer`, async (t) => {
    const srv = await buildServer(t);
    const agent = await agentReady(t, srv);
    const visitor = await connectVisitor(t, srv);
    const callId = await requestCall(visitor, {
      callType: 'audio',
      ...(mode === 'direct' ? { agentId: 'agent-1' } : {}),
    });
    t.same(await agent.request({ type: 'call_accept', callId }), { type: 'ack', id: 'r1' });
    t.same(await visitor.next('call_started'), {
      type: 'call_started',
      callId,
      callType: 'audio',
      peer: { id: 'agent-1', role: 'agent', name: 'Alice Agent' },
    });
    t.same(await agent.next('call_started'), {
      type: 'call_started',
      callId,
      callType: 'audio',
      peer: { id: 'visitor-1', role: 'visitor', name: 'Victor Visitor' },
    });
  });
}

t.test("a rung agent's other connections get call_answered_elsewhere", async (t) => {
  const srv = await buildServer(t);
  const tabA = await agentReady(t, srv);
  const tabB = await agentReady(t, srv);
  const tabC = await agentReady(t, srv);
  const other = await agentReady(t, srv, { sub: 'agent-2' });
  const visitor = await connectVisitor(t, srv);
  const callId = await requestCall(visitor, { agentId: 'agent-1' });
  for (const tab of [tabA, tabB, tabC]) await tab.next('call_incoming');
  t.equal((await tabB.request({ type: 'call_accept', callId })).type, 'ack');
  for (const tab of [tabA, tabC]) {
    t.same(await tab.next('call_answered_elsewhere'), { type: 'call_answered_elsewhere', callId });
    t.notOk(tab.all('call_started').length, 'only the accepting tab starts the call');
  }
  t.equal((await tabB.next('call_started')).callId, callId);
  t.ok(await tabB.quiet('call_answered_elsewhere', 0), 'not sent to the tab that accepted');
  t.ok(await other.quiet('call_answered_elsewhere', 0), 'not sent to other agents');
  t.match(await tabA.request({ type: 'call_accept', callId }), { type: 'error', code: 'conflict' });
});

t.test('the rung agent declining tells the visitor with call_declined', async (t) => {
  const srv = await buildServer(t);
  const tabA = await agentReady(t, srv);
  const tabB = await agentReady(t, srv);
  const visitor = await connectVisitor(t, srv);
  const callId = await requestCall(visitor, { agentId: 'agent-1' });
  await tabA.next('call_incoming');
  await tabB.next('call_incoming');
  t.equal((await tabA.request({ type: 'call_decline', callId })).type, 'ack');
  t.same(await visitor.next('call_declined'), { type: 'call_declined', callId });
  t.same(await tabB.next('call_declined'), { type: 'call_declined', callId }, 'other tab stops');
  t.ok(await visitor.quiet('call_started', 0));
  t.match(await tabB.request({ type: 'call_accept', callId }), {
    type: 'error',
    code: 'not_found',
  });
  t.equal(
    (await visitor.request({ type: 'call_request', callType: 'video' })).type,
    'ack',
    'the visitor may call again',
  );
});

t.test('an agent that is not the target declining gets forbidden', async (t) => {
  const srv = await buildServer(t);
  const target = await agentReady(t, srv);
  const other = await agentReady(t, srv, { sub: 'agent-2' });
  const visitor = await connectVisitor(t, srv);
  const callId = await requestCall(visitor, { agentId: 'agent-1' });
  await target.next('call_incoming');
  t.match(await other.request({ type: 'call_decline', callId }), {
    type: 'error',
    code: 'forbidden',
  });
  t.match(await visitor.request({ type: 'call_decline', callId }), {
    type: 'error',
    code: 'forbidden',
  });
  t.ok(await visitor.quiet('call_declined'), 'the ring goes on');
  t.equal((await target.request({ type: 'call_accept', callId })).type, 'ack');
});

t.test('declining a queued call gets conflict and leaves it queued', async (t) => {
  const srv = await buildServer(t);
  const agent = await agentReady(t, srv);
  const visitor = await connectVisitor(t, srv);
  const callId = await requestCall(visitor);
  await agent.next('queue_updated');
  t.match(await agent.request({ type: 'call_decline', callId }), {
    type: 'error',
    code: 'conflict',
  });
  t.ok(await visitor.quiet('call_declined'));
  t.ok(await agent.quiet('queue_updated', 0), 'the queue did not change');
  t.equal((await agent.request({ type: 'call_accept', callId })).type, 'ack');
});
