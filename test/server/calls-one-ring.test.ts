/**
 * One ring per agent at a time (issue 11): a direct call to an agent another call is ringing
 * is refused with `busy` at once, rings no one and leaves the first ring alone; however the
 * ring ends, the agent can be rung again; and simultaneous requests ring the agent once.
 */
import t, { type Test } from 'tap';
import {
  agentReady,
  buildServer,
  code,
  connectVisitor,
  flush,
  ok,
  outcome,
  type TestClient,
  type TestServer,
} from '../helpers.js';

const direct = (agentId = 'agent-1') => ({ type: 'call_request', callType: 'audio', agentId });

/** Rings agent-1 from a new visitor `sub`; returns the visitor and the call id. */
async function ringFrom(t: Test, srv: TestServer, sub: string) {
  const visitor = await connectVisitor(t, srv, { sub, name: sub });
  const ack = await ok(visitor, direct());
  t.equal(ack['status'], 'ringing', `${sub} rings agent-1`);
  return { visitor, callId: ack['callId'] as string };
}

t.test('a second direct call to a ringing agent gets busy and rings no one', async (t) => {
  const srv = await buildServer(t);
  const tabA = await agentReady(t, srv);
  const tabB = await agentReady(t, srv);
  const first = await ringFrom(t, srv, 'visitor-1');
  for (const tab of [tabA, tabB]) await tab.next('call_incoming');

  const second = await connectVisitor(t, srv, { sub: 'visitor-2', name: 'V2' });
  const refused = await second.request(direct());
  t.match(refused, { type: 'error', code: 'busy' });
  await flush(tabA, tabB, first.visitor);
  for (const tab of [tabA, tabB]) {
    t.equal(tab.all('call_incoming').length, 1, 'the agent was rung once');
  }
  t.ok(await tabA.quiet('queue_updated', 0), 'nothing was queued instead');
  t.equal(first.visitor.all('call_declined').length, 0, 'the first ring goes on');
  t.equal(first.visitor.all('call_ended').length, 0);

  t.equal(await code(tabA, { type: 'call_accept', callId: first.callId }), 'ack');
  await first.visitor.next('call_started');
  t.equal(
    (await ok(second, { type: 'call_request', callType: 'audio' }))['status'],
    'queued',
    'the refused visitor has no call and may queue at once',
  );
});

t.test('another agent, or the same id in another company, is still rung', async (t) => {
  const srv = await buildServer(t);
  const alice = await agentReady(t, srv);
  const bob = await agentReady(t, srv, { sub: 'agent-2', name: 'Bob' });
  const globex = await agentReady(t, srv, { company_id: 'globex' });
  await ringFrom(t, srv, 'visitor-1');
  await alice.next('call_incoming');
  const v2 = await connectVisitor(t, srv, { sub: 'visitor-2' });
  t.equal((await ok(v2, direct('agent-2')))['status'], 'ringing');
  await bob.next('call_incoming');
  const foreign = await connectVisitor(t, srv, { sub: 'visitor-3', company_id: 'globex' });
  t.equal((await ok(foreign, direct()))['status'], 'ringing', 'globex’s agent-1 is not acme’s');
  await globex.next('call_incoming');
});

/** How each ring can end, and what the test does to end it. */
const endings: Record<
  string,
  (agent: TestClient, visitor: TestClient, callId: string) => Promise<void>
> = {
  declined: async (agent, visitor, callId) => {
    await ok(agent, { type: 'call_decline', callId });
    await visitor.next('call_declined');
  },
  cancelled: async (_agent, visitor, callId) => {
    await ok(visitor, { type: 'call_cancel', callId });
    await visitor.next('call_ended');
  },
  'timed out': async (_agent, visitor) => {
    await visitor.next('call_missed', 3000);
  },
  'answered and hung up': async (agent, visitor, callId) => {
    await ok(agent, { type: 'call_accept', callId });
    await visitor.next('call_started');
    await ok(visitor, { type: 'call_ended', callId });
    await agent.next('call_ended');
  },
};

for (const [how, end] of Object.entries(endings)) {
  t.test(`once the ring is ${how}, the agent can be rung again`, async (t) => {
    // A short ring for the timeout case; missed rings never set the agent away here.
    const srv = await buildServer(t, { ringTimeoutMs: 300, missedRingsBeforeAway: 0 });
    const agent = await agentReady(t, srv);
    const first = await ringFrom(t, srv, 'visitor-1');
    await agent.next('call_incoming');
    await end(agent, first.visitor, first.callId);
    const again = await ringFrom(t, srv, 'visitor-2');
    const ring = await agent.next('call_incoming');
    t.equal(ring.callId, again.callId, 'the new call rings');
  });
}

t.test('while the agent is in the call it answered, a direct call is unavailable', async (t) => {
  const srv = await buildServer(t);
  const agent = await agentReady(t, srv);
  const first = await ringFrom(t, srv, 'visitor-1');
  await agent.next('call_incoming');
  await ok(agent, { type: 'call_accept', callId: first.callId });
  await first.visitor.next('call_started');
  const second = await connectVisitor(t, srv, { sub: 'visitor-2' });
  t.equal(await code(second, direct()), 'unavailable', 'in a call is what it was: unavailable');
});

t.test('visitors ringing one idle agent at the same instant: exactly one rings', async (t) => {
  const srv = await buildServer(t);
  const agent = await agentReady(t, srv);
  const visitors = await Promise.all(
    [1, 2, 3, 4, 5, 6].map((i) => connectVisitor(t, srv, { sub: `visitor-${i}` })),
  );
  const answers = await Promise.all(visitors.map((v) => v.request(direct())));
  t.same(answers.map(outcome).sort(), ['ack', 'busy', 'busy', 'busy', 'busy', 'busy']);
  const winner = answers.find((a) => a.type === 'ack')!;
  const ring = await agent.next('call_incoming');
  t.equal(ring.callId, winner.type === 'ack' ? winner['callId'] : '', 'the winner rings');
  await flush(agent);
  t.equal(agent.all('call_incoming').length, 1, 'and no one else');
});
