/**
 * Redis restarted under a cluster (issue 10): each node says it is not ready while Redis is away,
 * refuses what needs shared state with `unavailable`, keeps its connections and keeps relaying
 * between two of its own, and once Redis is back (empty, as a restart without persistence
 * leaves it) puts back what its connections hold, so calls go on and new ones work.
 *
 * The suite runs its own Redis, which it kills and starts again: the shared one is left alone.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import t from 'tap';
import { WebSocket } from 'ws';
import {
  type TestClient,
  connectAgent,
  connectVisitor,
  outcome,
  requestCall,
  signToken,
  until,
} from '../helpers.js';
import { freePort } from '../support/stack.js';
import { AGENT, buildCluster, join, processCluster, VISITOR } from './helpers.js';

const hasRedisServer = spawnSync('redis-server', ['--version']).status === 0;

/** A private redis-server on `port`, without persistence; resolves once it answers. */
async function startRedis(port: number): Promise<ChildProcess> {
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  await until(
    () =>
      spawnSync('redis-cli', ['-p', String(port), 'ping'])
        .stdout?.toString()
        .trim() === 'PONG',
    10_000,
  );
  return child;
}

async function stopRedis(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

async function readyz(url: string): Promise<number> {
  return (await fetch(`${url}/readyz`)).status;
}

if (!hasRedisServer) {
  t.comment('skipped: redis-server is not installed');
  t.plan(0, 'redis-server is not installed');
} else {
  t.test('a Redis restart: not ready while it is away, calls go on and work after', async (t) => {
    const port = await freePort();
    let redis = await startRedis(port);
    t.teardown(() => stopRedis(redis));
    const [n1, n2] = await buildCluster(t, `redis://127.0.0.1:${port}`, 2);

    const agent = await connectAgent(t, n1!);
    await agent.next('queue_updated');
    const caller = await connectVisitor(t, n1!, { sub: 'visitor-1' });
    const waiting = await connectVisitor(t, n2!, { sub: 'visitor-2' });
    const callId = await requestCall(caller);
    t.equal(outcome(await agent.request({ type: 'call_accept', callId })), 'ack');
    await caller.next('call_started');

    await stopRedis(redis);
    await until(async () => (await readyz(n1!.httpUrl)) === 503, 10_000);
    await until(async () => (await readyz(n2!.httpUrl)) === 503, 10_000);
    t.pass('both nodes say they are not ready while Redis is away');

    const chat = await caller.request({ type: 'chat_message', callId, text: 'still here?' });
    t.equal(outcome(chat), 'ack', 'a call between two connections of one node keeps relaying');
    t.match(await agent.next('chat_message'), { text: 'still here?' });
    const refused = await waiting.request({ type: 'call_request', callType: 'audio' });
    t.equal(outcome(refused), 'unavailable', 'a request that needs shared state is unavailable');
    const opened = await new Promise<number>((resolve) => {
      const ws = new WebSocket(`${n2!.wsUrl}?token=${signToken({ sub: 'visitor-3' })}`);
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('open', () => {
        ws.close();
        resolve(101);
      });
      ws.on('error', () => undefined);
    });
    t.equal(opened, 503, 'a new connection is refused with 503, to try another node');

    redis = await startRedis(port);
    await until(async () => (await readyz(n1!.httpUrl)) === 200, 15_000);
    await until(async () => (await readyz(n2!.httpUrl)) === 200, 15_000);
    t.pass('both nodes are ready again once Redis is back');

    // Rebuilt from the nodes' connections: the call is known again, and the agent busy with it.
    await until(
      async () => (await n1!.cluster.store.getCall(callId))?.state === 'answered',
      10_000,
    );
    t.match(
      await n2!.cluster.store.getAgent('acme', 'agent-1'),
      { status: 'busy' },
      'the agent is back, busy with its call, for every node to see',
    );
    t.equal(
      outcome(await agent.request({ type: 'call_ended', callId })),
      'ack',
      'the call ends as usual',
    );
    t.match(await caller.next('call_ended'), { callId, reason: 'hangup' });

    const next = await requestCall(waiting);
    t.match(
      await agent.next('queue_updated', 5000, (m) => m.calls.some((c) => c.callId === next)),
      { total: 1 },
      'a new call from the other node reaches the agent',
    );
    t.equal(outcome(await agent.request({ type: 'call_accept', callId: next })), 'ack');
    t.match(await waiting.next('call_started'), { callId: next }, 'and is answered across nodes');
  });

  t.test('a Redis restart under load: no node crashes, and every call carries on', async (t) => {
    t.setTimeout(300_000);
    const port = await freePort();
    let redis = await startRedis(port);
    t.teardown(() => stopRedis(redis));
    const cluster = await processCluster(t, `redis://127.0.0.1:${port}`);
    const nodes = [
      await cluster.start('n1', await freePort()),
      await cluster.start('n2', await freePort()),
    ];
    // PAIRS calls, each between a visitor on one node and an agent on the other, all relaying
    // as fast as their acks come back while Redis goes and returns.
    const PAIRS = 12;
    const pairs = await Promise.all(
      Array.from({ length: PAIRS }, async (_, i) => {
        const agent = await join(t, nodes[i % 2]!, { ...AGENT, sub: `agent-${i}` });
        await agent.next('queue_updated');
        const visitor = await join(t, nodes[(i + 1) % 2]!, { ...VISITOR, sub: `visitor-${i}` });
        // The agent's presence reaches the other node soon after its connection does.
        const online = (a: { id?: string; agentId?: string; status: string }) =>
          (a.id ?? a.agentId) === `agent-${i}` && a.status === 'online';
        await until(
          () =>
            visitor.all('agent_list').some((list) => list.agents.some(online)) ||
            visitor.all('agent_status_changed').some(online),
          10_000,
        );
        const callId = await requestCall(visitor, { agentId: `agent-${i}` });
        await agent.next('call_incoming');
        t.equal(outcome(await agent.request({ type: 'call_accept', callId })), 'ack');
        await visitor.next('call_started');
        return { agent, visitor, callId };
      }),
    );
    let loading = true;
    let sent = 0;
    const load = pairs.map(async ({ visitor, callId }) => {
      while (loading) {
        // During the outage a relay across nodes may fail or time out: the load goes on.
        await visitor
          .request({ type: 'chat_message', callId, text: `load ${sent++}` }, 1000)
          .catch(() => undefined);
      }
    });

    await until(() => sent >= PAIRS * 40, 15_000); // in full swing before Redis goes
    await stopRedis(redis);
    for (const node of nodes) await until(async () => (await readyz(node.httpUrl)) === 503, 10_000);
    redis = await startRedis(port);
    for (const node of nodes) await until(async () => (await readyz(node.httpUrl)) === 200, 15_000);
    loading = false;
    await Promise.all(load);
    t.ok(sent > PAIRS, `the load ran throughout (${sent} relays sent)`);
    t.same(
      nodes.map((n) => n.child.exitCode),
      [null, null],
      'no node crashed',
    );

    const relayed = async (from: TestClient, to: TestClient, callId: string, text: string) => {
      const sent = await from.request({ type: 'chat_message', callId, text }, 5000);
      if (outcome(sent) !== 'ack') return false;
      await to.next('chat_message', 5000, (m) => m.text === text);
      return true;
    };
    let carried = 0;
    for (const { agent, visitor, callId } of pairs) {
      // Until each node has put its calls back into the empty Redis.
      await until(() => relayed(visitor, agent, callId, `after ${callId}`), 15_000);
      if (!(await relayed(agent, visitor, callId, `back ${callId}`))) continue;
      if (outcome(await agent.request({ type: 'call_ended', callId })) !== 'ack') continue;
      await visitor.next('call_ended', 5000, (m) => m.callId === callId);
      carried++;
    }
    t.equal(carried, PAIRS, 'every call relays both ways after the restart, and ends as usual');

    const next = await requestCall(pairs[0]!.visitor, { agentId: 'agent-1' });
    t.match(
      await pairs[1]!.agent.next('call_incoming', 5000, (m) => m.callId === next),
      { callId: next },
      'and a new call rings an agent on the other node',
    );
  });
}
