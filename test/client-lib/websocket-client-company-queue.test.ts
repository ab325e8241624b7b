/**
 * The company queue through the client (issue 11): `queue_updated` with its `total`,
 * `listQueue` for the pages past it, and `busy` for a direct call to an agent already rung.
 */
import t from 'tap';
import { CallDockerError, ErrorCode } from '@calldocker/client';
import { buildServer, connectVisitor, requestCall } from '../helpers.js';
import { agentToken, createClient, visitorToken } from './helpers.js';

/** The error a promise rejected with; fails the test if it resolved. */
async function rejection(promise: Promise<unknown>): Promise<CallDockerError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof CallDockerError) return err;
    throw err;
  }
  throw new Error('expected a rejection');
}

t.test('queue_updated tells the total; listQueue reads the pages past it', async (t) => {
  const srv = await buildServer(t, { queueAnnounceMax: 2 });
  const agent = createClient(t, srv.wsUrl, { token: agentToken() });
  await agent.client.connect();
  t.same(await agent.next('queue_updated'), { type: 'queue_updated', calls: [], total: 0 });
  const ids: string[] = [];
  for (let i = 1; i <= 3; i++) {
    ids.push(await requestCall(await connectVisitor(t, srv, { sub: `visitor-${i}` })));
  }
  const update = await agent.next('queue_updated', (m) => m.total === 3);
  t.same(
    update.calls.map((c) => c.callId),
    ids.slice(0, 2),
    'the oldest two',
  );

  const rest = await agent.client.listQueue({ offset: update.calls.length });
  t.same(Object.keys(rest).sort(), ['calls', 'total'], 'the result fields, without type and id');
  t.match(rest, { calls: [{ callId: ids[2], position: 3 }], total: 3 });
  const firstPage = await agent.client.listQueue();
  t.same(
    firstPage.calls.map((c) => c.callId),
    ids.slice(0, 2),
    'by default from the oldest, a page as long as the announcement',
  );
  t.equal((await agent.client.listQueue({ limit: 100 })).calls.length, 3);

  const bad = await rejection(agent.client.listQueue({ limit: 101 }));
  t.equal(bad.code, ErrorCode.BadRequest);
});

t.test('a visitor listing the queue is refused with forbidden', async (t) => {
  const srv = await buildServer(t);
  const visitor = createClient(t, srv.wsUrl, { token: visitorToken() });
  await visitor.client.connect();
  t.equal((await rejection(visitor.client.listQueue())).code, ErrorCode.Forbidden);
});

t.test('requestCall to an agent another call is ringing rejects with busy', async (t) => {
  const srv = await buildServer(t);
  const agent = createClient(t, srv.wsUrl, { token: agentToken() });
  await agent.client.connect();
  const first = createClient(t, srv.wsUrl, { token: visitorToken() });
  await first.client.connect();
  t.equal((await first.client.requestCall('audio', { agentId: 'agent-1' })).status, 'ringing');
  const second = createClient(t, srv.wsUrl, { token: visitorToken({ sub: 'visitor-2' }) });
  await second.client.connect();
  const err = await rejection(second.client.requestCall('audio', { agentId: 'agent-1' }));
  t.equal(err.code, ErrorCode.Busy);
  t.equal(err.code, 'busy');
  t.equal(err.source, 'server', "the server's answer, not the client's own");
});
