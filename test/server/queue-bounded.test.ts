/**
 * Agents' queue announcements stay bounded however long the queue (issue 11): `queue_updated`
 * and the snapshot on connecting carry at most QUEUE_ANNOUNCE_MAX of the oldest entries plus
 * the queue's `total`, and `queue_list` pages through the rest, for agents and admins of the
 * company only.
 */
import t, { type Test } from 'tap';
import {
  agentReady,
  buildServer,
  code,
  connectAgent,
  connectVisitor,
  ok,
  requestCall,
  type TestClient,
  type TestServer,
} from '../helpers.js';

/** Queues `n` calls from new visitors of `company`; returns their ids, oldest first. */
async function queueCalls(t: Test, srv: TestServer, n: number, company = 'acme') {
  const ids: string[] = [];
  for (let i = 1; i <= n; i++) {
    const visitor = await connectVisitor(t, srv, {
      sub: `${company}-visitor-${i}`,
      name: `V${i}`,
      company_id: company,
    });
    ids.push(await requestCall(visitor, { purpose: `question ${i}` }));
  }
  return ids;
}

/** The queue_updated that reports a queue of `total` calls. */
const updateOf = (agent: TestClient, total: number) =>
  agent.next('queue_updated', 3000, (m) => m.total === total);

const idsOf = (calls: ReadonlyArray<{ callId: string }>) => calls.map((c) => c.callId);
const positionsOf = (calls: ReadonlyArray<{ position: number }>) => calls.map((c) => c.position);

t.test(
  'queue_updated carries up to QUEUE_ANNOUNCE_MAX entries, then the oldest ones',
  async (t) => {
    const srv = await buildServer(t, { queueAnnounceMax: 3 });
    const agent = await agentReady(t, srv);
    const ids = await queueCalls(t, srv, 3);
    const atMax = await updateOf(agent, 3);
    t.same(idsOf(atMax.calls), ids, 'N queued: all N');
    const v4 = await connectVisitor(t, srv, { sub: 'visitor-4' });
    const fourth = await requestCall(v4);
    const pastMax = await updateOf(agent, 4);
    t.same(idsOf(pastMax.calls), ids, 'N + 1 queued: the oldest N');
    t.same(positionsOf(pastMax.calls), [1, 2, 3]);
    t.equal(pastMax.total, 4, 'and the total');

    t.equal(await code(agent, { type: 'call_accept', callId: ids[0] }), 'ack');
    const after = await updateOf(agent, 3);
    t.same(idsOf(after.calls), [ids[1], ids[2], fourth], 'the next oldest moves in');
    t.same(positionsOf(after.calls), [1, 2, 3]);
  },
);

t.test(
  'by default 20 entries: 21 queued calls with long purposes reach agents as 20',
  async (t) => {
    // 21 visitors from one address: the per-address connection limit (20) is not under test.
    const srv = await buildServer(t, { maxVisitorConnectionsPerAddress: 21 });
    const agent = await agentReady(t, srv);
    for (let i = 1; i <= 21; i++) {
      const visitor = await connectVisitor(t, srv, { sub: `visitor-${i}` });
      await requestCall(visitor, { purpose: 'x'.repeat(500) });
    }
    const update = await updateOf(agent, 21);
    t.equal(update.calls.length, 20, 'the default QUEUE_ANNOUNCE_MAX');
    t.same(
      positionsOf(update.calls),
      Array.from({ length: 20 }, (_, i) => i + 1),
    );
  },
);

t.test('an agent connecting gets the same bounded queue, first thing', async (t) => {
  const srv = await buildServer(t, { queueAnnounceMax: 2 });
  const ids = await queueCalls(t, srv, 2);
  const atMax = await connectAgent(t, srv);
  const first = await atMax.next('queue_updated');
  t.same(atMax.types().slice(0, 2), ['consumed:connection_established', 'consumed:queue_updated']);
  t.same(first, { type: 'queue_updated', calls: first.calls, total: 2 });
  t.same(idsOf(first.calls), ids, 'N queued: all N');

  const v3 = await connectVisitor(t, srv, { sub: 'visitor-3' });
  await requestCall(v3);
  await updateOf(atMax, 3);
  const late = await connectAgent(t, srv, { sub: 'agent-2' });
  const snapshot = await late.next('queue_updated');
  t.same(idsOf(snapshot.calls), ids, 'N + 1 queued: the oldest N');
  t.equal(snapshot.total, 3);

  // Joining agent-room again hands over the queue again, bounded the same way.
  await ok(late, { type: 'leave_room', roomId: 'agent-room' });
  await ok(late, { type: 'join_room', roomId: 'agent-room' });
  const rejoined = await late.next('queue_updated');
  t.same(idsOf(rejoined.calls), ids);
  t.equal(rejoined.total, 3);
});

t.test('queue_list pages through the queue at its edges', async (t) => {
  const srv = await buildServer(t, { queueAnnounceMax: 2 });
  const agent = await agentReady(t, srv);
  const ids = await queueCalls(t, srv, 5);
  await updateOf(agent, 5);
  const list = async (fields: Record<string, unknown>) => {
    const ack = await ok(agent, { type: 'queue_list', ...fields });
    return ack as unknown as { calls: Array<{ callId: string; position: number }>; total: number };
  };

  const first = await list({});
  t.same(idsOf(first.calls), ids.slice(0, 2), 'by default from 0, QUEUE_ANNOUNCE_MAX entries');
  t.equal(first.total, 5);
  const second = await list({ offset: 2 });
  t.same(idsOf(second.calls), ids.slice(2, 4), 'the next page');
  t.same(positionsOf(second.calls), [3, 4], 'with positions in the whole queue');
  t.same(idsOf((await list({ offset: 4 })).calls), [ids[4]], 'the last entry alone');
  const end = await list({ offset: 5 });
  t.same([end.calls, end.total], [[], 5], 'at the end: empty, with the total');
  t.same(Object.keys(end).sort(), ['calls', 'id', 'total', 'type'], 'and nothing else');
  t.same((await list({ offset: 6 })).calls, [], 'past the end: empty, not an error');
  t.same(idsOf((await list({ limit: 1 })).calls), [ids[0]], 'limit 1');
  t.same(idsOf((await list({ offset: 1, limit: 100 })).calls), ids.slice(1), 'limit 100');
  const [entry] = (await list({ offset: 3, limit: 1 })).calls;
  t.match(entry, { callId: ids[3], visitor: { name: 'V4' }, purpose: 'question 4', position: 4 });
});

t.test('queue_list refuses bad offsets and limits with bad_request', async (t) => {
  const srv = await buildServer(t, { queueAnnounceMax: 2 });
  const agent = await agentReady(t, srv);
  await queueCalls(t, srv, 1);
  for (const fields of [
    { limit: 0 },
    { limit: 101 },
    { limit: 1.5 },
    { limit: '2' },
    { limit: null },
    { offset: -1 },
    { offset: 0.5 },
    { offset: '0' },
  ]) {
    t.equal(
      await code(agent, { type: 'queue_list', ...fields }),
      'bad_request',
      JSON.stringify(fields),
    );
  }
  agent.send({ type: 'queue_list' });
  const error = await agent.next('error', 3000, (e) => !('id' in e));
  t.equal(error.code, 'bad_request', 'without an id there is no one to answer the page to');
});

t.test('visitors get forbidden; another company’s queue is never visible', async (t) => {
  const srv = await buildServer(t, { queueAnnounceMax: 2 });
  const acme = await agentReady(t, srv);
  const admin = await agentReady(t, srv, { sub: 'admin-1', role: 'admin' });
  const globex = await agentReady(t, srv, { company_id: 'globex', sub: 'agent-g' });
  const acmeIds = await queueCalls(t, srv, 3);
  const globexIds = await queueCalls(t, srv, 1, 'globex');
  await updateOf(acme, 3);
  await updateOf(globex, 1);

  const visitor = await connectVisitor(t, srv, { sub: 'curious' });
  t.equal(await code(visitor, { type: 'queue_list' }), 'forbidden');
  t.equal(await code(visitor, { type: 'queue_list', offset: 0, limit: 100 }), 'forbidden');

  const mine = await ok(admin, { type: 'queue_list', limit: 100 });
  t.same(idsOf(mine['calls'] as Array<{ callId: string }>), acmeIds, 'admins page too');
  t.equal(mine['total'], 3);
  const theirs = await ok(globex, { type: 'queue_list', limit: 100 });
  t.same(idsOf(theirs['calls'] as Array<{ callId: string }>), globexIds, 'only its own calls');
  t.equal(theirs['total'], 1, 'and its own total');
  const update = globex.all('queue_updated').at(-1)!;
  t.notOk(
    idsOf(update.calls).some((id) => acmeIds.includes(id)),
    'no acme call reached globex',
  );
});
