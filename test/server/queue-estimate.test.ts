/**
 * The estimated wait of queued visitors (`estimatedWaitSec`): absent without enough recent
 * history, then the position times the median recent queue wait, per company. The server's
 * clock is injected, so waits of minutes take no time.
 */
import t from 'tap';
import {
  agentReady,
  buildServer,
  connectVisitor,
  flush,
  ok,
  openClient,
  signToken,
  type TestClient,
  type TestServer,
} from '../helpers.js';

const SEC = 1000;

type Teardown = Parameters<typeof buildServer>[0];

/** A server whose clock moves only when the test says so. */
async function clockedServer(t: Teardown) {
  const clock = { ms: Date.parse('2024-03-01T09:00:00.000Z') };
  const srv = await buildServer(t, {}, { now: () => clock.ms });
  return { srv, clock };
}

/**
 * Queues a call of a fresh visitor, lets `waitMs` pass on the server's clock, has `agent`
 * answer it and hang up: one queue-wait sample of `waitMs` for the agent's company.
 */
async function answeredAfter(
  t: Teardown,
  srv: TestServer,
  clock: { ms: number },
  agent: TestClient,
  visitorSub: string,
  waitMs: number,
  company = 'acme',
) {
  const visitor = await connectVisitor(t, srv, { sub: visitorSub, company_id: company });
  const ack = await ok(visitor, { type: 'call_request', callType: 'audio' });
  const callId = ack['callId'] as string;
  clock.ms += waitMs;
  await ok(agent, { type: 'call_accept', callId });
  await ok(agent, { type: 'call_ended', callId });
  await visitor.close();
}

t.test('a queued visitor gets no estimate while the company has no history', async (t) => {
  const { srv } = await clockedServer(t);
  await agentReady(t, srv);
  const visitor = await connectVisitor(t, srv);
  const ack = await ok(visitor, { type: 'call_request', callType: 'audio' });
  t.match(ack, { status: 'queued', position: 1 });
  t.notOk('estimatedWaitSec' in ack, 'no estimate in the ack');
});

t.test('two answered queue calls are too few for an estimate', async (t) => {
  const { srv, clock } = await clockedServer(t);
  const agent = await agentReady(t, srv);
  await answeredAfter(t, srv, clock, agent, 'v-a', 10 * SEC);
  await answeredAfter(t, srv, clock, agent, 'v-b', 20 * SEC);
  const visitor = await connectVisitor(t, srv);
  const ack = await ok(visitor, { type: 'call_request', callType: 'audio' });
  t.notOk('estimatedWaitSec' in ack);
});

t.test(
  'after three answered queue calls the estimate is the position times the median wait',
  async (t) => {
    const { srv, clock } = await clockedServer(t);
    const agent = await agentReady(t, srv);
    await answeredAfter(t, srv, clock, agent, 'v-a', 10 * SEC);
    await answeredAfter(t, srv, clock, agent, 'v-b', 30 * SEC);
    await answeredAfter(t, srv, clock, agent, 'v-c', 20 * SEC);

    const first = await connectVisitor(t, srv, { sub: 'v-1' });
    const second = await connectVisitor(t, srv, { sub: 'v-2' });
    const firstAck = await ok(first, { type: 'call_request', callType: 'audio' });
    t.match(firstAck, { position: 1, estimatedWaitSec: 20 });
    const secondAck = await ok(second, { type: 'call_request', callType: 'audio' });
    t.match(secondAck, { position: 2, estimatedWaitSec: 40 }, 'twice the wait at position 2');

    // The first call is answered after 20 s (a fourth sample, median still 20 s): the second
    // visitor moves up and is told its new position with its new estimate.
    clock.ms += 20 * SEC;
    await ok(agent, { type: 'call_accept', callId: firstAck['callId'] });
    const moved = await second.next('queue_position');
    t.same(moved, {
      type: 'queue_position',
      callId: secondAck['callId'],
      position: 1,
      estimatedWaitSec: 20,
    });
  },
);

t.test('queue waits older than an hour no longer count', async (t) => {
  const { srv, clock } = await clockedServer(t);
  const agent = await agentReady(t, srv);
  await answeredAfter(t, srv, clock, agent, 'v-a', 10 * SEC);
  await answeredAfter(t, srv, clock, agent, 'v-b', 10 * SEC);
  await answeredAfter(t, srv, clock, agent, 'v-c', 10 * SEC);
  clock.ms += 61 * 60 * SEC;
  const visitor = await connectVisitor(t, srv);
  const ack = await ok(visitor, { type: 'call_request', callType: 'audio' });
  t.notOk('estimatedWaitSec' in ack, 'the old samples are gone');
});

t.test('direct calls that were never queued add no queue-wait sample', async (t) => {
  const { srv, clock } = await clockedServer(t);
  const agent = await agentReady(t, srv);
  for (const sub of ['v-a', 'v-b', 'v-c']) {
    const visitor = await connectVisitor(t, srv, { sub });
    const ack = await ok(visitor, { type: 'call_request', callType: 'audio', agentId: 'agent-1' });
    clock.ms += 10 * SEC;
    await ok(agent, { type: 'call_accept', callId: ack['callId'] });
    await ok(agent, { type: 'call_ended', callId: ack['callId'] });
    await visitor.close();
  }
  const visitor = await connectVisitor(t, srv);
  const ack = await ok(visitor, { type: 'call_request', callType: 'audio' });
  t.notOk('estimatedWaitSec' in ack);
});

t.test("one company's queue history never affects another's estimate", async (t) => {
  const { srv, clock } = await clockedServer(t);
  const globexAgent = await agentReady(t, srv, { company_id: 'globex' });
  await answeredAfter(t, srv, clock, globexAgent, 'g-a', 100 * SEC, 'globex');
  await answeredAfter(t, srv, clock, globexAgent, 'g-b', 100 * SEC, 'globex');
  await answeredAfter(t, srv, clock, globexAgent, 'g-c', 100 * SEC, 'globex');
  const acmeAgent = await agentReady(t, srv);
  await answeredAfter(t, srv, clock, acmeAgent, 'a-a', 5 * SEC);

  const acme = await connectVisitor(t, srv, { sub: 'v-acme' });
  const acmeAck = await ok(acme, { type: 'call_request', callType: 'audio' });
  t.notOk('estimatedWaitSec' in acmeAck, "acme's one sample is not joined by globex's three");

  await answeredAfter(t, srv, clock, acmeAgent, 'a-b', 5 * SEC);
  await answeredAfter(t, srv, clock, acmeAgent, 'a-c', 5 * SEC);
  const acme2 = await connectVisitor(t, srv, { sub: 'v-acme-2' });
  t.match(await ok(acme2, { type: 'call_request', callType: 'audio' }), {
    position: 2,
    estimatedWaitSec: 10,
  });
  const globex = await connectVisitor(t, srv, { sub: 'v-globex', company_id: 'globex' });
  t.match(await ok(globex, { type: 'call_request', callType: 'audio' }), {
    position: 1,
    estimatedWaitSec: 100,
  });
});

t.test('a queued visitor that reconnects gets its estimate in call_waiting', async (t) => {
  const { srv, clock } = await clockedServer(t);
  const agent = await agentReady(t, srv);
  await answeredAfter(t, srv, clock, agent, 'v-a', 12 * SEC);
  await answeredAfter(t, srv, clock, agent, 'v-b', 12 * SEC);
  await answeredAfter(t, srv, clock, agent, 'v-c', 12 * SEC);
  const first = await connectVisitor(t, srv, { sub: 'v-1' });
  const ack = await ok(first, { type: 'call_request', callType: 'video' });
  await first.close();
  await flush(agent);

  const again = openClient(srv.wsUrl, signToken({ sub: 'v-1', role: 'visitor' }));
  t.teardown(() => again.close());
  t.same(await again.next('call_waiting'), {
    type: 'call_waiting',
    callId: ack['callId'],
    callType: 'video',
    status: 'queued',
    position: 1,
    estimatedWaitSec: 12,
  });
});
