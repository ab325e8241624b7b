/**
 * Call requests per visitor and per address a minute, and queued calls per company (issue 11),
 * over a real server: each limit at its edge and one past it, nothing queued or rung past it,
 * per-address keying from several loopback addresses, and the queue cap read from the store.
 */
import t from 'tap';
import { ErrorCode } from '../../client-lib/constants.js';
import type { SignalingServer } from '../../server/app.js';
import { LimitName } from '../../server/visitor-limits.js';
import {
  agentReady,
  buildServer,
  connectVisitor,
  flush,
  nodeTotal,
  ok,
  outcome,
  requestCall,
  type TestClient,
} from '../helpers.js';

const QUEUED = { type: 'call_request', callType: 'audio' } as const;

/** The call-request limits are counted by each node for itself (server/visitor-limits.ts). */
const PER_NODE = { singleNode: 'call requests a minute are counted per node, by design' };

/** Requests a queued call and cancels it at once; resolves with the request's outcome. */
async function requestAndCancel(visitor: TestClient): Promise<string> {
  const res = await visitor.request(QUEUED);
  if (res.type === 'ack') await ok(visitor, { type: 'call_cancel', callId: res['callId'] });
  return outcome(res);
}

t.test("a visitor's call requests past its limit a minute are refused rate_limited", async (t) => {
  const srv = await buildServer(t, { callRequestsPerVisitorPerMin: 3 }, PER_NODE);
  const agent = await agentReady(t, srv);
  const visitor = await connectVisitor(t, srv);
  for (let i = 1; i <= 3; i++) t.equal(await requestAndCancel(visitor), 'ack', `request ${i}`);
  await flush(agent);
  const announcements = agent.all('queue_updated').length;

  const refused = await visitor.request(QUEUED);
  t.equal(outcome(refused), ErrorCode.RateLimited, 'one past the edge');
  t.match(refused, { message: /call requests.*try again in \d+ s/ }, 'the message says so');
  const direct = await visitor.request({ ...QUEUED, agentId: 'agent-1' });
  t.equal(outcome(direct), ErrorCode.RateLimited, 'a direct call too');
  await flush(agent);
  t.equal(agent.all('queue_updated').length, announcements, 'nothing was queued');
  t.strictSame(agent.all('call_incoming'), [], 'nobody was rung');
  t.equal(srv.server.metrics.limitRefusals.get(LimitName.CallRequestsPerVisitor), 2);

  t.equal((await visitor.request({ type: 'ping' })).type, 'ack', 'other messages still pass');
  const again = await connectVisitor(t, srv);
  t.equal(outcome(await again.request(QUEUED)), ErrorCode.RateLimited, 'on a new connection too');
  const other = await connectVisitor(t, srv, { sub: 'visitor-2' });
  t.equal(await requestAndCancel(other), 'ack', 'another visitor is not limited by it');
});

t.test('call requests of one address past its limit a minute are refused', async (t) => {
  const srv = await buildServer(t, { callRequestsPerAddressPerMin: 3 }, PER_NODE);
  const agent = await agentReady(t, srv);
  const local = { localAddress: '127.0.0.2' };
  for (let i = 1; i <= 3; i++) {
    const visitor = await connectVisitor(t, srv, { sub: `same-${i}` }, local);
    t.equal(await requestAndCancel(visitor), 'ack', `visitor ${i} of 127.0.0.2`);
  }
  const fourth = await connectVisitor(t, srv, { sub: 'same-4' }, local);
  t.equal(outcome(await fourth.request(QUEUED)), ErrorCode.RateLimited, 'one past the edge');
  const direct = await fourth.request({ ...QUEUED, agentId: 'agent-1' });
  t.equal(outcome(direct), ErrorCode.RateLimited);
  await flush(agent);
  t.strictSame(agent.all('call_incoming'), [], 'nobody was rung');
  t.equal(srv.server.metrics.limitRefusals.get(LimitName.CallRequestsPerAddress), 2);

  const elsewhere = await connectVisitor(t, srv, { sub: 'else' }, { localAddress: '127.0.0.3' });
  t.equal(await requestAndCancel(elsewhere), 'ack', 'another address has its own count');
});

t.test("an agent's call_request is forbidden, never counted against a limit", async (t) => {
  const srv = await buildServer(t, {
    callRequestsPerVisitorPerMin: 1,
    callRequestsPerAddressPerMin: 1,
  });
  const agent = await agentReady(t, srv);
  for (let i = 0; i < 3; i++) {
    t.equal(outcome(await agent.request(QUEUED)), ErrorCode.Forbidden);
  }
  const visitor = await connectVisitor(t, srv);
  t.equal(await requestAndCancel(visitor), 'ack', 'the address still has its one request');
});

t.test('a company queue takes its maximum; one more call gets queue_full', async (t) => {
  const srv = await buildServer(t, { maxQueuedCallsPerCompany: 3 });
  const agent = await agentReady(t, srv);
  const waiting: Array<{ visitor: TestClient; callId: unknown }> = [];
  for (let i = 1; i <= 3; i++) {
    const visitor = await connectVisitor(t, srv, { sub: `q-${i}` });
    const ack = await ok(visitor, QUEUED);
    t.equal(ack['position'], i, `call ${i} queued`);
    waiting.push({ visitor, callId: ack['callId'] });
  }
  await agent.next('queue_updated', 3000, (m) => m.calls.length === 3);
  const late = await connectVisitor(t, srv, { sub: 'q-late' });
  const refused = await late.request(QUEUED);
  t.equal(outcome(refused), ErrorCode.QueueFull, 'one past the edge');
  t.match(refused, { message: /waiting/ });
  await flush(agent, late);
  t.equal(agent.all('queue_updated').at(-1)?.calls.length, 3, 'the queue did not grow');
  t.strictSame(late.all('queue_position'), [], 'the refused visitor was never placed');
  t.equal((await srv.server.store.queue('acme')).length, 3, 'the store holds three');
  const refusals = (s: SignalingServer) =>
    s.metrics.limitRefusals.get(LimitName.QueuedCallsPerCompany);
  t.equal(nodeTotal(srv, refusals), 1);
  t.equal(
    nodeTotal(srv, (s) => s.metrics.errors.get(ErrorCode.QueueFull)),
    1,
  );

  const ringing = await ok(late, { ...QUEUED, agentId: 'agent-1' });
  t.equal(ringing['status'], 'ringing', 'a direct ring is not queued: it passes');
  await ok(late, { type: 'call_cancel', callId: ringing['callId'] });

  const globex = await connectVisitor(t, srv, { company_id: 'globex', sub: 'g-1' });
  t.equal((await ok(globex, QUEUED))['position'], 1, "another company's queue is its own");

  const [first] = waiting;
  await ok(first!.visitor, { type: 'call_cancel', callId: first!.callId });
  await agent.next('queue_updated', 3000, (m) => m.calls.length === 2);
  const retried = await requestCall(late);
  t.ok(retried, 'a place freed in the queue is taken again');
});
