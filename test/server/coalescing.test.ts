/**
 * Presence and queue announcements on the production path: gathered per company over
 * `presenceTickMs` and sent once per tick, each agent's latest status winning, with nothing
 * final lost. (The other suites run with a tick of 0, where every change goes out at once.)
 */
import t from 'tap';
import {
  buildServer,
  connectAgent,
  connectVisitor,
  delay,
  flush,
  httpGet,
  metricValue,
  ok,
  requestCall,
  since,
  type TestClient,
  type TestServer,
  type TestServerOptions,
} from '../helpers.js';

/** Long enough that a test's steps fit inside one tick even on a busy machine. */
const TICK_MS = 400;

const build = (t: Tap, tickMs = TICK_MS, options: TestServerOptions = {}) =>
  buildServer(t, { presenceTickMs: tickMs }, options);

/** Each node of a cluster coalesces the changes it made itself, over a tick of its own. */
const PER_NODE_TICK = { singleNode: 'one tick is one node’s: nodes coalesce apart' };

interface Tap {
  teardown(fn: () => unknown): void;
}

const setStatus = (status: string) => ({ type: 'agent_status', status });

/** `[agentId, status]` of every `agent_status_changed` from index `from` on. */
function statuses(c: TestClient, from = 0): Array<[string, string]> {
  return since(c, from, 'agent_status_changed').map((m) => [m.agentId, m.status]);
}

/** Waits past the end of the current tick (and a margin for a busy machine). */
const tickOver = () => delay(TICK_MS * 2);

/**
 * A visitor observing acme whose agent list was read in an earlier tick than the test's
 * changes (a list read mid-tick is owed every change of that tick: see below).
 */
async function observer(t: Tap, srv: TestServer, sub = 'observer') {
  const visitor = await connectVisitor(t, srv, { sub });
  await visitor.next('agent_list');
  await tickOver();
  return visitor;
}

/** An agent whose arrival has been announced (the tick that told it is over). */
async function settledAgent(t: Tap, srv: TestServer, sub = 'agent-1') {
  const agent = await connectAgent(t, srv, { sub });
  await tickOver();
  return agent;
}

t.test('a status changed and changed back within a tick is not announced', async (t) => {
  const srv = await build(t);
  const agent = await settledAgent(t, srv);
  const visitor = await observer(t, srv);
  const from = visitor.received.length;
  await ok(agent, setStatus('away'));
  await ok(agent, setStatus('online'));
  await tickOver();
  await flush(visitor);
  t.strictSame(statuses(visitor, from), [], 'nothing: the company already knew "online"');
  const body = await httpGet(srv, '/metrics');
  t.ok(metricValue(body.body, 'calldocker_announcements_coalesced_total') >= 1, 'counted');
});

t.test('the latest of several changes within a tick wins, once', async (t) => {
  const srv = await build(t);
  const agent = await settledAgent(t, srv);
  const colleague = await settledAgent(t, srv, 'agent-2');
  const visitor = await observer(t, srv);
  const from = [visitor.received.length, colleague.received.length];
  await ok(agent, setStatus('away'));
  await ok(agent, setStatus('online'));
  await ok(agent, setStatus('offline'));
  const sent = Date.now();
  const seen = await visitor.next('agent_status_changed', TICK_MS * 10);
  t.ok(Date.now() - sent >= TICK_MS / 2, 'announced at the end of the tick, not at once');
  t.strictSame([seen.agentId, seen.status], ['agent-1', 'offline'], 'the latest status');
  await tickOver();
  await flush(visitor, colleague);
  t.strictSame(statuses(visitor, from[0]), [['agent-1', 'offline']], 'the visitor: once');
  t.strictSame(statuses(colleague, from[1]), [['agent-1', 'offline']], 'the agents: once');
});

t.test('changes of several agents within a tick each arrive once, latest first last', async (t) => {
  const srv = await build(t, TICK_MS, PER_NODE_TICK);
  const agents = [
    await connectAgent(t, srv, { sub: 'a-1' }),
    await connectAgent(t, srv, { sub: 'a-2' }),
    await connectAgent(t, srv, { sub: 'a-3' }),
  ];
  await tickOver();
  const visitor = await observer(t, srv);
  const from = visitor.received.length;
  await ok(agents[2]!, setStatus('away'));
  await ok(agents[0]!, setStatus('away'));
  await ok(agents[1]!, setStatus('away'));
  await ok(agents[2]!, setStatus('offline'));
  await tickOver();
  await flush(visitor);
  t.strictSame(
    statuses(visitor, from),
    [
      ['a-1', 'away'],
      ['a-2', 'away'],
      ['a-3', 'offline'],
    ],
    'one message per agent, in the order of each agent’s latest change',
  );
});

t.test('nothing final is lost: an agent that leaves is announced offline', async (t) => {
  const srv = await build(t);
  const agent = await settledAgent(t, srv);
  const visitor = await observer(t, srv);
  await agent.close();
  const offline = await visitor.next('agent_status_changed', TICK_MS * 10);
  t.strictSame([offline.agentId, offline.status], ['agent-1', 'offline']);
});

t.test('an agent that comes and goes within one tick is news to nobody', async (t) => {
  const srv = await build(t);
  const visitor = await observer(t, srv);
  const from = visitor.received.length;
  const agent = await connectAgent(t, srv, { sub: 'brief' });
  await agent.close();
  await tickOver();
  await flush(visitor);
  t.strictSame(statuses(visitor, from), [], 'no online, no offline');
  // And the server forgot it: a new arrival is announced as usual.
  await connectAgent(t, srv, { sub: 'brief' });
  const online = await visitor.next('agent_status_changed', TICK_MS * 10);
  t.strictSame([online.agentId, online.status], ['brief', 'online']);
});

t.test('a visitor that read the agent list mid-tick still gets the latest status', async (t) => {
  const srv = await build(t, 1500);
  const agent = await connectAgent(t, srv);
  await delay(3000);
  const watcher = await connectVisitor(t, srv, { sub: 'watcher' });
  await watcher.next('agent_list');
  await delay(3000);
  const from = watcher.received.length;
  // Within one tick: away, a newcomer reads the list (showing away), back online.
  await ok(agent, setStatus('away'));
  const newcomer = await connectVisitor(t, srv, { sub: 'newcomer' });
  const list = await newcomer.next('agent_list');
  await ok(agent, setStatus('online'));
  t.strictSame(
    list.agents.map((a) => [a.id, a.status]),
    [['agent-1', 'away']],
    'the list showed the change the company had not been told yet',
  );
  const latest = await newcomer.next('agent_status_changed', 6000);
  t.strictSame([latest.agentId, latest.status], ['agent-1', 'online'], 'so it is told the latest');
  await flush(watcher);
  t.strictSame(statuses(watcher, from), [], 'the others, who knew online all along, get nothing');
});

t.test('requests within a tick publish the queue once, with every call', async (t) => {
  const srv = await build(t, TICK_MS, PER_NODE_TICK);
  const agent = await connectAgent(t, srv);
  await agent.next('queue_updated');
  await tickOver();
  const visitors = [
    await connectVisitor(t, srv, { sub: 'v-1' }),
    await connectVisitor(t, srv, { sub: 'v-2' }),
    await connectVisitor(t, srv, { sub: 'v-3' }),
  ];
  const from = agent.received.length;
  const positions: unknown[] = [];
  for (const v of visitors) {
    const res = await ok(v, { type: 'call_request', callType: 'audio' });
    positions.push(res['position']);
  }
  t.strictSame(positions, [1, 2, 3], 'each ack carries its position at once');
  const queue = await agent.next('queue_updated', TICK_MS * 10);
  t.equal(queue.calls.length, 3, 'the one publication holds all three');
  await tickOver();
  await flush(agent, ...visitors);
  t.equal(since(agent, from, 'queue_updated').length, 1, 'published once');
  for (const v of visitors) {
    t.equal(v.all('queue_position').length, 0, 'no queue_position repeats the ack');
  }
});

t.test('a visitor moving up the queue is told its latest position once', async (t) => {
  const srv = await build(t);
  const agent = await connectAgent(t, srv);
  await agent.next('queue_updated');
  const first = await connectVisitor(t, srv, { sub: 'v-1' });
  const second = await connectVisitor(t, srv, { sub: 'v-2' });
  const third = await connectVisitor(t, srv, { sub: 'v-3' });
  const callIds = [await requestCall(first), await requestCall(second), await requestCall(third)];
  await tickOver();
  // Two calls ahead of the third leave within one tick: it moves from 3 to 1 in one step.
  await ok(first, { type: 'call_cancel', callId: callIds[0] });
  await ok(second, { type: 'call_cancel', callId: callIds[1] });
  const moved = await third.next('queue_position', TICK_MS * 10);
  t.equal(moved.position, 1);
  await tickOver();
  await flush(third);
  t.strictSame(
    third.all('queue_position').map((m) => m.position),
    [1],
    'not 2 and then 1',
  );
});

t.test('a tick of 0 sends every change at once', async (t) => {
  const srv = await build(t, 0);
  const agent = await connectAgent(t, srv);
  const visitor = await observer(t, srv);
  const from = visitor.received.length;
  await ok(agent, setStatus('away'));
  await ok(agent, setStatus('online'));
  await flush(visitor);
  t.strictSame(
    statuses(visitor, from),
    [
      ['agent-1', 'away'],
      ['agent-1', 'online'],
    ],
    'both changes, before the acks',
  );
});

t.test('nothing is left waiting after the tick', async (t) => {
  const srv = await build(t);
  const agent = await connectAgent(t, srv);
  await ok(agent, setStatus('away'));
  const during = await httpGet(srv, '/metrics');
  t.ok(metricValue(during.body, 'calldocker_announcements_pending') >= 1, 'one waits mid-tick');
  await tickOver();
  const after = await httpGet(srv, '/metrics');
  t.equal(metricValue(after.body, 'calldocker_announcements_pending'), 0, 'none after it');
});
