/**
 * Call requests: validation, the company queue (positions, queue_updated, queue_position),
 * one call per visitor, and direct calls that ring one agent.
 */
import t from 'tap';
import {
  buildServer,
  connectAgent,
  connectVisitor,
  type TestClient,
  agentReady,
  requestCall,
} from '../helpers.js';

/** Call ids of a queue_updated frame, in order. */
const idsOf = (msg: { calls: Array<{ callId: string }> }) => msg.calls.map((c) => c.callId);

t.test('a call_request without an id is refused with bad_request and queues nothing', async (t) => {
  const srv = await buildServer(t);
  const agent = await agentReady(t, srv);
  const visitor = await connectVisitor(t, srv);
  visitor.send({ type: 'call_request', callType: 'video' });
  const error = await visitor.next('error');
  t.equal(error.code, 'bad_request');
  t.notOk('id' in error, 'an error about a message without id carries no id');
  t.ok(await agent.quiet('queue_updated'), 'agents saw no queue change');
  t.equal((await visitor.request({ type: 'call_request', callType: 'video' })).type, 'ack');
});

t.test('a call_request with an unknown callType is refused with bad_request', async (t) => {
  const srv = await buildServer(t);
  const agent = await agentReady(t, srv);
  const visitor = await connectVisitor(t, srv);
  const res = await visitor.request({ type: 'call_request', callType: 'hologram' });
  t.match(res, { type: 'error', code: 'bad_request' });
  const missing = await visitor.request({ type: 'call_request' });
  t.match(missing, { type: 'error', code: 'bad_request' });
  const longPurpose = 'x'.repeat(501);
  t.match(
    await visitor.request({ type: 'call_request', callType: 'audio', purpose: longPurpose }),
    {
      type: 'error',
      code: 'bad_request',
    },
  );
  t.match(await visitor.request({ type: 'call_request', callType: 'audio', agentId: '' }), {
    type: 'error',
    code: 'bad_request',
  });
  t.ok(await agent.quiet('queue_updated'), 'agents saw no queue change');
});

t.test('an agent sending call_request gets forbidden and nothing is queued', async (t) => {
  const srv = await buildServer(t);
  const watcher = await agentReady(t, srv);
  const caller = await agentReady(t, srv, { sub: 'agent-2' });
  const res = await caller.request({ type: 'call_request', callType: 'audio' });
  t.match(res, { type: 'error', code: 'forbidden' });
  t.ok(await watcher.quiet('queue_updated'), 'no queue change reached agent-room');
  t.ok(await caller.quiet('queue_updated', 0));
});

t.test(
  'a queued call is acked with position 1 and every agent-room member gets the queue',
  async (t) => {
    const srv = await buildServer(t);
    const tabA = await agentReady(t, srv);
    const tabB = await agentReady(t, srv);
    const other = await agentReady(t, srv, { sub: 'agent-2', name: 'Bob Agent' });
    const admin = await agentReady(t, srv, { sub: 'admin-1', role: 'admin', name: 'Ada Admin' });
    const visitor = await connectVisitor(t, srv);
    const before = Date.now();
    const res = await visitor.request({
      type: 'call_request',
      callType: 'audio',
      purpose: 'billing',
    });
    t.match(res, { type: 'ack', status: 'queued', position: 1 });
    const callId = res.type === 'ack' ? (res['callId'] as string) : '';
    t.type(callId, 'string');
    t.ok(callId.length > 0);
    for (const watcher of [tabA, tabB, other, admin]) {
      const update = await watcher.next('queue_updated');
      t.equal(update.calls.length, 1);
      const { queuedAt, ...entry } = update.calls[0]!;
      t.same(entry, {
        callId,
        visitor: { id: 'visitor-1', name: 'Victor Visitor' },
        callType: 'audio',
        purpose: 'billing',
        position: 1,
      });
      t.equal(new Date(queuedAt).toISOString(), queuedAt, 'queuedAt is ISO 8601');
      t.ok(Date.parse(queuedAt) >= before - 1000 && Date.parse(queuedAt) <= Date.now() + 1000);
    }
    t.ok(await visitor.quiet('queue_updated', 0), 'visitors never see the queue');
    t.ok(await visitor.quiet('queue_position', 0), 'the ack already told the caller its position');
  },
);

t.test('second and third visitors are queued at 2 and 3, the queue oldest first', async (t) => {
  const srv = await buildServer(t);
  const agent = await agentReady(t, srv);
  const ids: string[] = [];
  for (let i = 1; i <= 3; i++) {
    const visitor = await connectVisitor(t, srv, { sub: `visitor-${i}`, name: `V${i}` });
    const res = await visitor.request({ type: 'call_request', callType: 'video' });
    t.match(res, { type: 'ack', status: 'queued', position: i });
    ids.push(res.type === 'ack' ? (res['callId'] as string) : '');
    const update = await agent.next('queue_updated');
    t.same(idsOf(update), ids, `queue_updated after visitor ${i}`);
  }
  const last = agent.all('queue_updated').at(-1)!;
  t.same(
    last.calls.map((c) => [c.position, c.visitor.id]),
    [
      [1, 'visitor-1'],
      [2, 'visitor-2'],
      [3, 'visitor-3'],
    ],
  );
  const times = last.calls.map((c) => Date.parse(c.queuedAt));
  t.ok(times[0]! <= times[1]! && times[1]! <= times[2]!, 'oldest first');
});

t.test('an agent connecting later gets the queue right after connection_established', async (t) => {
  const srv = await buildServer(t);
  const v1 = await connectVisitor(t, srv, { sub: 'visitor-1' });
  const v2 = await connectVisitor(t, srv, { sub: 'visitor-2' });
  const c1 = await requestCall(v1);
  const c2 = await requestCall(v2, { callType: 'audio' });
  const agent = await connectAgent(t, srv);
  const update = await agent.next('queue_updated');
  t.same(agent.types().slice(0, 2), ['consumed:connection_established', 'consumed:queue_updated']);
  t.same(idsOf(update), [c1, c2]);
  t.same(
    update.calls.map((c) => [c.position, c.callType]),
    [
      [1, 'video'],
      [2, 'audio'],
    ],
  );
});

for (const how of ['accepted', 'cancelled'] as const) {
  t.test(`when the first queued call is ${how} the others get their new position`, async (t) => {
    const srv = await buildServer(t);
    const agent = await agentReady(t, srv);
    const visitors: TestClient[] = [];
    const ids: string[] = [];
    for (let i = 1; i <= 3; i++) {
      const visitor = await connectVisitor(t, srv, { sub: `visitor-${i}` });
      visitors.push(visitor);
      ids.push(await requestCall(visitor));
      await agent.next('queue_updated');
    }
    const [v1, v2, v3] = visitors as [TestClient, TestClient, TestClient];
    const res =
      how === 'accepted'
        ? await agent.request({ type: 'call_accept', callId: ids[0] })
        : await v1.request({ type: 'call_cancel', callId: ids[0] });
    t.equal(res.type, 'ack');
    t.same(await v2.next('queue_position'), {
      type: 'queue_position',
      callId: ids[1],
      position: 1,
    });
    t.same(await v3.next('queue_position'), {
      type: 'queue_position',
      callId: ids[2],
      position: 2,
    });
    const update = await agent.next('queue_updated');
    t.same(idsOf(update), [ids[1], ids[2]]);
    t.same(
      update.calls.map((c) => c.position),
      [1, 2],
    );
    t.ok(await v1.quiet('queue_position', 100), 'the first caller gets no position');
    t.equal(v2.all('queue_position').length, 1, 'one position message per change');
  });
}

t.test('a visitor with a call in progress gets conflict on a second call_request', async (t) => {
  const srv = await buildServer(t);
  const agent = await agentReady(t, srv);
  const tabA = await connectVisitor(t, srv);
  const tabB = await connectVisitor(t, srv);
  const callId = await requestCall(tabA);
  await agent.next('queue_updated');
  t.match(await tabA.request({ type: 'call_request', callType: 'video' }), {
    type: 'error',
    code: 'conflict',
  });
  t.match(await tabB.request({ type: 'call_request', callType: 'audio' }), {
    type: 'error',
    code: 'conflict',
  });
  t.match(await tabB.request({ type: 'call_request', callType: 'audio', agentId: 'agent-1' }), {
    type: 'error',
    code: 'conflict',
  });
  t.ok(await agent.quiet('queue_updated'), 'the queue did not change');
  t.ok(await agent.quiet('call_incoming', 0), 'the direct attempt rang no one');
  t.equal((await agent.request({ type: 'call_accept', callId })).type, 'ack');
  t.match(await tabB.request({ type: 'call_request', callType: 'audio' }), {
    type: 'error',
    code: 'conflict',
  });
});

t.test('two tabs of one visitor requesting at the same moment get one call', async (t) => {
  const srv = await buildServer(t);
  const agent = await agentReady(t, srv);
  const tabA = await connectVisitor(t, srv);
  const tabB = await connectVisitor(t, srv);
  const answers = await Promise.all([
    tabA.request({ type: 'call_request', callType: 'video' }),
    tabB.request({ type: 'call_request', callType: 'video' }),
  ]);
  t.same(answers.map((a) => (a.type === 'ack' ? 'ack' : a.code)).sort(), ['ack', 'conflict']);
  const update = await agent.next('queue_updated');
  t.equal(update.calls.length, 1);
  t.ok(await agent.quiet('queue_updated'));
});

t.test('a direct call rings every connection of that agent and no one else', async (t) => {
  const srv = await buildServer(t);
  const tabA = await agentReady(t, srv);
  const tabB = await agentReady(t, srv);
  const other = await agentReady(t, srv, { sub: 'agent-2' });
  const visitor = await connectVisitor(t, srv);
  const res = await visitor.request({
    type: 'call_request',
    callType: 'audio',
    agentId: 'agent-1',
    purpose: 'a refund',
  });
  t.match(res, { type: 'ack', status: 'ringing' });
  t.notOk(res.type === 'ack' && 'position' in res, 'a ringing call has no queue position');
  const callId = res.type === 'ack' ? (res['callId'] as string) : '';
  for (const tab of [tabA, tabB]) {
    const ring = await tab.next('call_incoming');
    const { expiresAt, ...rest } = ring;
    t.same(rest, {
      type: 'call_incoming',
      callId,
      visitor: { id: 'visitor-1', name: 'Victor Visitor' },
      callType: 'audio',
      purpose: 'a refund',
    });
    t.equal(new Date(expiresAt).toISOString(), expiresAt, 'expiresAt is ISO 8601');
    const left = Date.parse(expiresAt) - Date.now();
    t.ok(left > 20_000 && left <= 31_000, 'expires after the ring timeout');
  }
  t.ok(await other.quiet('call_incoming'), 'other agents are not rung');
  for (const agent of [tabA, tabB, other]) {
    const seen = agent.all('queue_updated').flatMap(idsOf);
    t.notOk(seen.includes(callId), 'a direct call never appears in the queue');
  }
});

t.test('a direct call to an agent that is not online is refused with unavailable', async (t) => {
  const srv = await buildServer(t);
  const watcher = await agentReady(t, srv, { sub: 'agent-watcher' });
  const away = await agentReady(t, srv, { sub: 'agent-away' });
  t.match(await away.request({ type: 'agent_status', status: 'away' }), { type: 'ack' });
  const busy = await agentReady(t, srv, { sub: 'agent-busy' });
  t.match(await busy.request({ type: 'agent_status', status: 'busy' }), { type: 'ack' });
  const gone = await agentReady(t, srv, { sub: 'agent-gone' });
  await gone.close();
  await watcher.next(
    'agent_status_changed',
    3000,
    (m) => m.agentId === 'agent-gone' && m.status === 'offline',
  );
  const elsewhere = await agentReady(t, srv, { sub: 'agent-globex', company_id: 'globex' });
  const visitor = await connectVisitor(t, srv);
  await visitor.next('agent_list');
  for (const agentId of [
    'agent-away',
    'agent-busy',
    'agent-gone',
    'agent-nobody',
    'agent-globex',
  ]) {
    const res = await visitor.request({ type: 'call_request', callType: 'video', agentId });
    t.match(res, { type: 'error', code: 'unavailable' }, agentId);
  }
  t.ok(await away.quiet('call_incoming'));
  t.ok(await busy.quiet('call_incoming', 0));
  t.ok(await elsewhere.quiet('call_incoming', 0), 'another company is never rung');
  t.ok(await watcher.quiet('queue_updated', 0), 'nothing was queued instead');
  t.equal((await visitor.request({ type: 'call_request', callType: 'video' })).type, 'ack');
});
