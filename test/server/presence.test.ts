import t from 'tap';
import { SAME_ADDRESS_RING_WINDOW_MS } from '../../server/services/presence.js';
import {
  buildServer,
  connect,
  connectAgent,
  connectVisitor,
  type TestClient,
  type TestServer,
  flush,
  since,
  ok,
  code,
  until,
} from '../helpers.js';

// ---------------------------------------------------------------------------------------------
// Local helpers
// ---------------------------------------------------------------------------------------------

/** The statuses announced for `agentId` from index `from` on, in order. */
function announced(c: TestClient, from: number, agentId = 'agent-1'): string[] {
  return since(c, from, 'agent_status_changed')
    .filter((m) => m.agentId === agentId)
    .map((m) => m.status);
}

/** Waits for `agent_status_changed` about `agentId` with `status`. */
function status(c: TestClient, status: string, agentId = 'agent-1', timeoutMs = 3000) {
  return c.next(
    'agent_status_changed',
    timeoutMs,
    (m) => m.agentId === agentId && m.status === status,
  );
}

/** The agent list a freshly connected visitor of `company` gets, sorted by id. */
async function agentListOf(t: Tap, srv: TestServer, company = 'acme', sub = 'probe') {
  const probe = await connectVisitor(t, srv, { company_id: company, sub });
  const list = await probe.next('agent_list');
  await probe.close();
  return [...list.agents].sort((a, b) => a.id.localeCompare(b.id));
}

/** What the helpers need of a tap test. */
interface Tap {
  teardown(fn: () => unknown): void;
}

const setStatus = (s: unknown) => ({ type: 'agent_status', status: s });

/** A visitor's direct call to agent-1 that rings out; returns once both sides heard so. */
async function ringOut(visitor: TestClient, agent: TestClient): Promise<void> {
  const res = await ok(visitor, { type: 'call_request', callType: 'audio', agentId: 'agent-1' });
  const callId = res['callId'] as string;
  if (res['status'] !== 'ringing') throw new Error(`expected ringing, got ${JSON.stringify(res)}`);
  await agent.next('call_incoming', 3000, (m) => m.callId === callId);
  await visitor.next('call_missed', 3000, (m) => m.callId === callId);
  await agent.next('call_missed', 3000, (m) => m.callId === callId);
}

/** A visitor's direct call to agent-1 that the agent declines. */
async function declined(visitor: TestClient, agent: TestClient): Promise<void> {
  const res = await ok(visitor, { type: 'call_request', callType: 'audio', agentId: 'agent-1' });
  const callId = res['callId'] as string;
  await agent.next('call_incoming', 3000, (m) => m.callId === callId);
  await ok(agent, { type: 'call_decline', callId });
  await visitor.next('call_declined', 3000, (m) => m.callId === callId);
}

/** A visitor's call answered by agent-1 and hung up by the visitor. */
async function answered(visitor: TestClient, agent: TestClient, direct: boolean) {
  const res = await ok(visitor, {
    type: 'call_request',
    callType: 'audio',
    ...(direct ? { agentId: 'agent-1' } : {}),
  });
  const callId = res['callId'] as string;
  if (direct) await agent.next('call_incoming', 3000, (m) => m.callId === callId);
  await ok(agent, { type: 'call_accept', callId });
  await visitor.next('call_started', 3000, (m) => m.callId === callId);
  await agent.next('call_started', 3000, (m) => m.callId === callId);
  return callId;
}

// ---------------------------------------------------------------------------------------------
// agent_status
// ---------------------------------------------------------------------------------------------

t.test('agent_status from a visitor is forbidden and nothing is announced', async (t) => {
  const srv = await buildServer(t);
  const agent = await connectAgent(t, srv);
  const visitor = await connectVisitor(t, srv);
  const watcher = await connectVisitor(t, srv, { sub: 'visitor-2' });
  const from = [agent.received.length, watcher.received.length, visitor.received.length];

  t.equal(await code(visitor, setStatus('away')), 'forbidden');
  t.equal(await code(visitor, setStatus('online')), 'forbidden');
  visitor.send(setStatus('offline'));
  const err = await visitor.next('error', 3000, (e) => e.id === undefined);
  t.equal(err.code, 'forbidden', 'forbidden without an id too');

  await flush(agent, watcher, visitor);
  t.equal(since(agent, from[0]!, 'agent_status_changed').length, 0);
  t.equal(since(watcher, from[1]!, 'agent_status_changed').length, 0);
  t.equal(since(visitor, from[2]!, 'agent_status_changed').length, 0);
  t.strictSame(await agentListOf(t, srv), [
    { id: 'agent-1', name: 'Alice Agent', status: 'online' },
  ]);
});

t.test("an agent's status change is acked and announced to its company only", async (t) => {
  const srv = await buildServer(t);
  const agent = await connectAgent(t, srv);
  const colleague = await connectAgent(t, srv, { sub: 'agent-2', name: 'Bob Agent' });
  // A colleague in both rooms still hears each change once.
  await ok(colleague, { type: 'join_room', roomId: 'public-calls' });
  const visitor = await connectVisitor(t, srv);
  // Same ids in another company.
  const otherAgent = await connectAgent(t, srv, { company_id: 'globex', name: 'Gina' });
  const otherVisitor = await connectVisitor(t, srv, { company_id: 'globex' });
  const acme = [agent, colleague, visitor];
  const globex = [otherAgent, otherVisitor];
  await flush(...acme, ...globex);
  const from = new Map([...acme, ...globex].map((c) => [c, c.received.length]));

  t.strictSame(await ok(agent, { ...setStatus('away'), id: 's1' }), {
    type: 'ack',
    id: 's1',
    status: 'away',
  });
  const expected = {
    type: 'agent_status_changed',
    agentId: 'agent-1',
    name: 'Alice Agent',
    status: 'away',
  };
  for (const c of acme) t.strictSame(await status(c, 'away'), expected);

  agent.send(setStatus('online'));
  for (const c of acme) await status(c, 'online');

  await flush(...acme, ...globex);
  for (const c of acme) {
    t.strictSame(announced(c, from.get(c)!), ['away', 'online'], 'each change once');
  }
  for (const c of globex) {
    t.equal(since(c, from.get(c)!, 'agent_status_changed').length, 0, 'globex heard nothing');
  }
  t.strictSame(await agentListOf(t, srv, 'globex'), [
    { id: 'agent-1', name: 'Gina', status: 'online' },
  ]);
});

t.test('a visitor that left public-calls hears no status changes', async (t) => {
  const srv = await buildServer(t);
  const agent = await connectAgent(t, srv);
  const visitor = await connectVisitor(t, srv);
  await ok(visitor, { type: 'leave_room', roomId: 'public-calls' });
  // A named room shared with the agent carries no status either.
  await ok(visitor, { type: 'join_room', roomId: 'lobby' });
  await ok(agent, { type: 'join_room', roomId: 'lobby' });
  const from = visitor.received.length;
  await ok(agent, setStatus('away'));
  await flush(visitor);
  t.strictSame(announced(visitor, from), []);
});

t.test('an admin sets its status like an agent', async (t) => {
  const srv = await buildServer(t);
  const admin = await connect(t, srv, { sub: 'admin-1', role: 'admin', name: 'Ada Admin' });
  const visitor = await connectVisitor(t, srv);
  t.strictSame((await ok(admin, setStatus('busy')))['status'], 'busy');
  t.strictSame(await visitor.next('agent_status_changed', 3000, (m) => m.status === 'busy'), {
    type: 'agent_status_changed',
    agentId: 'admin-1',
    name: 'Ada Admin',
    status: 'busy',
  });
});

t.test('a bad status value gets bad_request and changes nothing', async (t) => {
  const srv = await buildServer(t);
  const agent = await connectAgent(t, srv);
  const visitor = await connectVisitor(t, srv);
  const from = [agent.received.length, visitor.received.length];
  for (const bad of ['sleeping', 'ONLINE', '', 42, null, true, ['away']]) {
    t.equal(await code(agent, setStatus(bad)), 'bad_request', `status ${JSON.stringify(bad)}`);
  }
  t.equal(await code(agent, { type: 'agent_status' }), 'bad_request', 'status missing');
  await flush(agent, visitor);
  t.equal(since(agent, from[0]!, 'agent_status_changed').length, 0);
  t.equal(since(visitor, from[1]!, 'agent_status_changed').length, 0);
  t.strictSame(await agentListOf(t, srv), [
    { id: 'agent-1', name: 'Alice Agent', status: 'online' },
  ]);
});

t.test('setting the same status twice announces it once', async (t) => {
  const srv = await buildServer(t);
  const agent = await connectAgent(t, srv);
  const visitor = await connectVisitor(t, srv);
  const from = visitor.received.length;
  t.equal((await ok(agent, setStatus('online')))['status'], 'online', 'already online');
  t.equal((await ok(agent, setStatus('away')))['status'], 'away');
  t.equal((await ok(agent, setStatus('away')))['status'], 'away');
  await flush(visitor);
  t.strictSame(announced(visitor, from), ['away']);
});

// ---------------------------------------------------------------------------------------------
// agent_list and connections
// ---------------------------------------------------------------------------------------------

t.test('a visitor gets agent_list right after connection_established', async (t) => {
  const srv = await buildServer(t);
  t.strictSame(await agentListOf(t, srv), [], 'empty when no agent is present');

  const alice = await connectAgent(t, srv);
  const bob = await connectAgent(t, srv, { sub: 'agent-2', name: 'Bob Agent' });
  await ok(bob, setStatus('away'));
  const admin = await connect(t, srv, { sub: 'admin-1', role: 'admin', name: 'Ada Admin' });
  await flush(admin);
  const gone = await connectAgent(t, srv, { sub: 'agent-3' });
  await gone.close();
  await until(async () => (await srv.server.store.getAgent('acme', 'agent-3')) === undefined);
  await connectAgent(t, srv, { company_id: 'globex', sub: 'agent-9' });

  const visitor = await connectVisitor(t, srv);
  // connect() consumed the first frame, which marks it; the order is what matters here.
  const firstTwo = visitor
    .types()
    .slice(0, 2)
    .map((type) => type.replace(/^consumed:/, ''));
  t.strictSame(firstTwo, ['connection_established', 'agent_list'], 'the second frame');
  const list = visitor.received[1];
  const agents = list?.type === 'agent_list' ? list.agents : [];
  t.strictSame(
    [...agents].sort((a, b) => a.id.localeCompare(b.id)),
    [
      { id: 'admin-1', name: 'Ada Admin', status: 'online' },
      { id: 'agent-1', name: 'Alice Agent', status: 'online' },
      { id: 'agent-2', name: 'Bob Agent', status: 'away' },
    ],
  );
  await flush(alice);
  const own = alice.all('agent_list');
  t.equal(own.length, 1, 'an agent gets agent_list once, on connecting (extension of v1)');
  t.strictSame(
    own[0]?.type === 'agent_list' ? own[0].agents : [],
    [{ id: 'agent-1', name: 'Alice Agent', status: 'online' }],
    'its team as it was then, itself included',
  );
});

t.test("an agent's first connection announces it online, a second one does not", async (t) => {
  const srv = await buildServer(t);
  const visitor = await connectVisitor(t, srv);
  const colleague = await connectAgent(t, srv, { sub: 'agent-2', name: 'Bob Agent' });
  const otherVisitor = await connectVisitor(t, srv, { company_id: 'globex' });
  const from = [visitor.received.length, colleague.received.length, otherVisitor.received.length];

  const first = await connectAgent(t, srv);
  const online = {
    type: 'agent_status_changed',
    agentId: 'agent-1',
    name: 'Alice Agent',
    status: 'online',
  };
  t.strictSame(await status(visitor, 'online'), online);
  t.strictSame(await status(colleague, 'online'), online);

  const second = await connectAgent(t, srv);
  // The second connection's ping is handled after its set-up (same serial queue).
  await flush(second, first);
  await flush(visitor, colleague, otherVisitor);
  t.strictSame(announced(visitor, from[0]!), ['online'], 'announced once');
  t.strictSame(announced(colleague, from[1]!), ['online'], 'announced once');
  t.equal(since(otherVisitor, from[2]!, 'agent_status_changed').length, 0, 'not to globex');
});

t.test('an agent goes offline only when its last connection closes', async (t) => {
  const srv = await buildServer(t);
  const first = await connectAgent(t, srv);
  const second = await connectAgent(t, srv);
  await flush(first, second);
  const visitor = await connectVisitor(t, srv);
  const colleague = await connectAgent(t, srv, { sub: 'agent-2', name: 'Bob Agent' });
  const from = [visitor.received.length, colleague.received.length];

  await first.close();
  await until(async () => (await srv.server.store.connectionsOf('acme', 'agent-1')).length === 1);
  await flush(visitor, colleague);
  t.strictSame(announced(visitor, from[0]!), [], 'still present with one connection');
  t.strictSame(await agentListOf(t, srv), [
    { id: 'agent-1', name: 'Alice Agent', status: 'online' },
    { id: 'agent-2', name: 'Bob Agent', status: 'online' },
  ]);

  await second.close();
  const offline = {
    type: 'agent_status_changed',
    agentId: 'agent-1',
    name: 'Alice Agent',
    status: 'offline',
  };
  t.strictSame(await status(visitor, 'offline'), offline);
  t.strictSame(await status(colleague, 'offline'), offline);
  await flush(visitor, colleague);
  t.strictSame(announced(visitor, from[0]!), ['offline'], 'announced once');
  t.strictSame(await agentListOf(t, srv), [{ id: 'agent-2', name: 'Bob Agent', status: 'online' }]);

  // Coming back is a first connection again.
  await connectAgent(t, srv);
  await status(visitor, 'online');
});

// ---------------------------------------------------------------------------------------------
// MISSED_RINGS_BEFORE_AWAY
// ---------------------------------------------------------------------------------------------

const RINGS = { ringTimeoutMs: 150, missedRingsBeforeAway: 2 };
/** For tests that also answer a ring: long enough to do it in time on a loaded machine. */
const ANSWERABLE_RINGS = { ringTimeoutMs: 400, missedRingsBeforeAway: 2 };

t.test('an agent that lets two direct calls ring out in a row is set away', async (t) => {
  const srv = await buildServer(t, RINGS);
  const agent = await connectAgent(t, srv);
  const visitor = await connectVisitor(t, srv);
  const watcher = await connectVisitor(t, srv, { sub: 'visitor-2' });
  const other = await connectVisitor(t, srv, { sub: 'visitor-3' }, { localAddress: '127.0.0.2' });
  const from = watcher.received.length;

  await ringOut(visitor, agent);
  await flush(watcher);
  t.strictSame(announced(watcher, from), [], 'one miss is not enough');

  // From another address: a second caller, not the first one's burst.
  await ringOut(other, agent);
  const away = {
    type: 'agent_status_changed',
    agentId: 'agent-1',
    name: 'Alice Agent',
    status: 'away',
  };
  t.strictSame(await status(watcher, 'away'), away, 'announced to visitors');
  t.strictSame(await status(visitor, 'away'), away);
  t.strictSame(await status(agent, 'away'), away, 'and to agent-room');

  t.equal(
    await code(visitor, { type: 'call_request', callType: 'audio', agentId: 'agent-1' }),
    'unavailable',
    'a direct call to an away agent',
  );
  await flush(agent);
  t.equal(agent.all('call_incoming').length, 2, 'the away agent was not rung again');
  t.strictSame(announced(watcher, from), ['away'], 'announced once');

  // Coming back online starts a fresh streak: one more miss does not send it away.
  await ok(agent, setStatus('online'));
  await ringOut(visitor, agent);
  await flush(watcher);
  t.strictSame(announced(watcher, from), ['away', 'online']);
});

t.test('a decline between missed rings resets the streak', async (t) => {
  const srv = await buildServer(t, ANSWERABLE_RINGS);
  const agent = await connectAgent(t, srv);
  const visitor = await connectVisitor(t, srv);
  const other = await connectVisitor(t, srv, { sub: 'visitor-2' }, { localAddress: '127.0.0.2' });
  const from = visitor.received.length;

  await ringOut(other, agent);
  await declined(visitor, agent);
  await ringOut(visitor, agent);
  await flush(visitor);
  t.strictSame(announced(visitor, from), [], 'still online');
  // The streak is one now: the next miss (from another address) completes it.
  await ringOut(other, agent);
  await status(visitor, 'away');
});

t.test('an accepted call between missed rings resets the streak', async (t) => {
  const srv = await buildServer(t, ANSWERABLE_RINGS);
  const agent = await connectAgent(t, srv);
  const visitor = await connectVisitor(t, srv);
  const other = await connectVisitor(t, srv, { sub: 'visitor-2' }, { localAddress: '127.0.0.2' });
  const from = visitor.received.length;

  await ringOut(other, agent);
  const callId = await answered(visitor, agent, true);
  await ok(visitor, { type: 'call_ended', callId });
  await status(visitor, 'online');
  await ringOut(visitor, agent);
  await flush(visitor);
  t.strictSame(announced(visitor, from), ['busy', 'online'], 'never away');
  await ringOut(other, agent);
  await status(visitor, 'away');
});

t.test('accepting a queued call between missed rings resets the streak', async (t) => {
  const srv = await buildServer(t, RINGS);
  const agent = await connectAgent(t, srv);
  const visitor = await connectVisitor(t, srv);
  const from = visitor.received.length;

  await ringOut(visitor, agent);
  // Answering any call shows the agent is there, not only answering a ring.
  const callId = await answered(visitor, agent, false);
  await ok(visitor, { type: 'call_ended', callId });
  await status(visitor, 'online');
  await ringOut(visitor, agent);
  await flush(visitor);
  t.strictSame(announced(visitor, from), ['busy', 'online'], 'never away');
});

t.test('missedRingsBeforeAway 0 never sets an agent away', async (t) => {
  const srv = await buildServer(t, { ringTimeoutMs: 150, missedRingsBeforeAway: 0 });
  const agent = await connectAgent(t, srv);
  const visitor = await connectVisitor(t, srv);
  const from = visitor.received.length;
  for (let i = 0; i < 3; i++) await ringOut(visitor, agent);
  await flush(visitor);
  t.strictSame(announced(visitor, from), []);
  const res = await ok(visitor, { type: 'call_request', callType: 'audio', agentId: 'agent-1' });
  t.equal(res['status'], 'ringing', 'still rung directly');
});

// Rings that do not count: cancelled ones, and a burst from one address (issue 11).

/** Visitors of acme with the given subs, each connected from `localAddress`. */
function visitorsFrom(t: Tap, srv: TestServer, localAddress: string, subs: string[]) {
  return Promise.all(subs.map((sub) => connectVisitor(t, srv, { sub }, { localAddress })));
}

t.test('rings the visitor cancels never count toward away', async (t) => {
  const srv = await buildServer(t, RINGS);
  const agent = await connectAgent(t, srv);
  const callers = [
    ...(await visitorsFrom(t, srv, '127.0.0.2', ['v-2'])),
    ...(await visitorsFrom(t, srv, '127.0.0.3', ['v-3'])),
    ...(await visitorsFrom(t, srv, '127.0.0.4', ['v-4'])),
  ];
  const from = agent.received.length;
  for (const caller of callers) {
    const res = await ok(caller, { type: 'call_request', callType: 'audio', agentId: 'agent-1' });
    await agent.next('call_incoming', 3000, (m) => m.callId === res['callId']);
    await ok(caller, { type: 'call_cancel', callId: res['callId'] });
    await agent.next('call_ended', 3000, (m) => m.callId === res['callId']);
  }
  // By the time this ring has rung out the cancelled ones would have too, had they counted.
  await ringOut(callers[0]!, agent);
  await flush(agent);
  t.strictSame(announced(agent, from), [], 'one counted miss, not four');
  await ringOut(callers[1]!, agent);
  await status(agent, 'away');
});

t.test('three visitors of one address letting rings ring out count once', async (t) => {
  const srv = await buildServer(t, { ...RINGS, missedRingsBeforeAway: 3 });
  const agent = await connectAgent(t, srv);
  const burst = await visitorsFrom(t, srv, '127.0.0.5', ['b-1', 'b-2', 'b-3']);
  const from = agent.received.length;
  for (const caller of burst) await ringOut(caller, agent);
  await flush(agent);
  t.strictSame(announced(agent, from), [], 'still online after three missed rings');
  const [second] = await visitorsFrom(t, srv, '127.0.0.6', ['o-1']);
  await ringOut(second!, agent);
  await flush(agent);
  t.strictSame(announced(agent, from), [], 'two counted: the burst, and another address');
  const [third] = await visitorsFrom(t, srv, '127.0.0.7', ['o-2']);
  await ringOut(third!, agent);
  await status(agent, 'away');
});

t.test(
  'three visitors of three addresses set the agent away at the configured count',
  async (t) => {
    const srv = await buildServer(t, { ...RINGS, missedRingsBeforeAway: 3 });
    const agent = await connectAgent(t, srv);
    const from = agent.received.length;
    for (const [i, address] of ['127.0.0.2', '127.0.0.3', '127.0.0.4'].entries()) {
      const [caller] = await visitorsFrom(t, srv, address, [`v-${i}`]);
      await ringOut(caller!, agent);
      await flush(agent);
      t.strictSame(announced(agent, from), i < 2 ? [] : ['away'], `after ${i + 1} missed rings`);
    }
  },
);

t.test('a ring from the same address counts again once the window has passed', async (t) => {
  let clock = Date.now();
  const srv = await buildServer(t, RINGS, { now: () => clock });
  const agent = await connectAgent(t, srv);
  const [visitor] = await visitorsFrom(t, srv, '127.0.0.2', ['v-1']);
  const from = agent.received.length;
  await ringOut(visitor!, agent);
  clock += SAME_ADDRESS_RING_WINDOW_MS - 1;
  await ringOut(visitor!, agent);
  await flush(agent);
  t.strictSame(announced(agent, from), [], 'within the window: not counted');
  clock += 1; // the window counts from the last counted ring
  await ringOut(visitor!, agent);
  await status(agent, 'away');
});

// ---------------------------------------------------------------------------------------------
// Calls and status
// ---------------------------------------------------------------------------------------------

t.test('accepting a call makes the agent busy and its end restores online', async (t) => {
  const srv = await buildServer(t);
  const agent = await connectAgent(t, srv);
  const visitor = await connectVisitor(t, srv);
  const watcher = await connectVisitor(t, srv, { sub: 'visitor-2' });
  const from = [watcher.received.length, agent.received.length];

  const callId = await answered(visitor, agent, false);
  t.strictSame(await status(watcher, 'busy'), {
    type: 'agent_status_changed',
    agentId: 'agent-1',
    name: 'Alice Agent',
    status: 'busy',
  });
  t.strictSame(await agentListOf(t, srv), [{ id: 'agent-1', name: 'Alice Agent', status: 'busy' }]);
  await ok(agent, { type: 'call_ended', callId });
  await status(watcher, 'online');
  await flush(watcher, agent);
  t.strictSame(announced(watcher, from[0]!), ['busy', 'online']);
  t.strictSame(announced(agent, from[1]!), ['busy', 'online'], 'agent-room too');
});

t.test('an agent away before accepting a queued call is away again after it', async (t) => {
  const srv = await buildServer(t);
  const agent = await connectAgent(t, srv);
  const watcher = await connectVisitor(t, srv, { sub: 'visitor-2' });
  await ok(agent, setStatus('away'));
  const visitor = await connectVisitor(t, srv);
  const from = watcher.received.length;

  const callId = await answered(visitor, agent, false);
  await status(watcher, 'busy');
  await ok(visitor, { type: 'call_ended', callId });
  await status(watcher, 'away');
  await flush(watcher);
  t.strictSame(announced(watcher, from), ['busy', 'away']);
  t.strictSame(await agentListOf(t, srv), [{ id: 'agent-1', name: 'Alice Agent', status: 'away' }]);
});

t.test('an explicit status change during a call is kept when the call ends', async (t) => {
  const srv = await buildServer(t);
  const agent = await connectAgent(t, srv);
  const visitor = await connectVisitor(t, srv);
  const watcher = await connectVisitor(t, srv, { sub: 'visitor-2' });
  const from = watcher.received.length;

  const callId = await answered(visitor, agent, false);
  await status(watcher, 'busy');
  await ok(agent, setStatus('away'));
  await status(watcher, 'away');
  await ok(agent, { type: 'call_ended', callId });
  await visitor.next('call_ended');
  await flush(watcher);
  t.strictSame(announced(watcher, from), ['busy', 'away'], 'nothing restored at the end');
  t.strictSame(await agentListOf(t, srv), [{ id: 'agent-1', name: 'Alice Agent', status: 'away' }]);

  // Same with an explicit busy chosen during the call: it outlives the call.
  const second = await answered(visitor, agent, false);
  await ok(agent, setStatus('online'));
  await ok(agent, setStatus('busy'));
  await ok(visitor, { type: 'call_ended', callId: second });
  await agent.next('call_ended', 3000, (m) => m.callId === second);
  await flush(watcher);
  t.strictSame(await agentListOf(t, srv), [{ id: 'agent-1', name: 'Alice Agent', status: 'busy' }]);
});

t.test('an agent that drops mid-call stays busy for the grace, then goes offline', async (t) => {
  // Short, yet long enough for the checks made during the grace on a loaded machine.
  const GRACE_MS = 400;
  const srv = await buildServer(t, { callReconnectGraceMs: GRACE_MS });
  const agent = await connectAgent(t, srv);
  const visitor = await connectVisitor(t, srv);
  const watcher = await connectVisitor(t, srv, { sub: 'visitor-2' });
  const callId = await answered(visitor, agent, false);
  await status(watcher, 'busy');
  const from = watcher.received.length;

  const droppedAt = Date.now();
  await agent.close();
  await visitor.next('peer_disconnected', 3000, (m) => m.callId === callId);
  await until(async () => (await srv.server.store.connectionsOf('acme', 'agent-1')).length === 0);
  await flush(watcher);
  t.strictSame(announced(watcher, from), [], 'not offline during the grace');
  t.strictSame(await agentListOf(t, srv), [{ id: 'agent-1', name: 'Alice Agent', status: 'busy' }]);

  t.strictSame(await status(watcher, 'offline'), {
    type: 'agent_status_changed',
    agentId: 'agent-1',
    name: 'Alice Agent',
    status: 'offline',
  });
  t.ok(Date.now() - droppedAt >= GRACE_MS - 10, 'not before the grace ended');
  const ended = await visitor.next('call_ended', 3000, (m) => m.callId === callId);
  t.equal(ended.reason, 'disconnected');
  await flush(watcher);
  t.strictSame(announced(watcher, from), ['offline'], 'announced once');
  t.strictSame(await agentListOf(t, srv), []);
});

t.test(
  'an agent that chose offline and then disconnects is not announced offline again',
  async (t) => {
    const srv = await buildServer(t);
    const agent = await connectAgent(t, srv);
    const visitor = await connectVisitor(t, srv);
    const from = visitor.received.length;
    t.equal((await agent.request({ type: 'agent_status', status: 'offline' })).type, 'ack');
    await status(visitor, 'offline');
    await agent.close();
    await until(async () => (await srv.server.store.connectionsOf('acme', 'agent-1')).length === 0);
    await flush(visitor);
    t.strictSame(announced(visitor, from), ['offline'], 'announced once, when chosen');
    t.strictSame(await agentListOf(t, srv), []);
  },
);
