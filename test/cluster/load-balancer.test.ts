/**
 * Nodes behind the real load balancer (issue 10): HAProxy, run from the repository's own
 * `deploy/haproxy.cfg`, in front of real node processes on one Redis. A client's node must not
 * matter: clients spread over every node and calls work across them; a party whose node is
 * killed comes back through the balancer to another and resumes its call; a node whose
 * `/readyz` says 503, or that is stopping, gets no new connections; the per-address limits
 * see the client's address, not the balancer's; and a node's `/metrics` is not served through it.
 *
 * Skips, saying so, without `REDIS_URL` or without HAProxy.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import t, { type Test } from 'tap';
import type { ClientOptions } from 'ws';
import { ConnectionState } from '@calldocker/client';
import { CloseCode } from '../../client-lib/constants.js';
import { PolicyReason } from '../../server/errors.js';
import { NODE_SEPARATOR } from '../../server/hub.js';
import { createClient, visitorToken } from '../client-lib/helpers.js';
import { openClient, outcome, requestCall, signToken, until, type TestClient } from '../helpers.js';
import { redisProxy, redisUrlOrSkip } from '../redis-helpers.js';
import { freePort } from '../support/stack.js';
import { haproxyOrSkip, startBalancer, type Balancer } from './haproxy.js';
import { processCluster, type NodeProcess, type ProcessCluster } from './helpers.js';

// Ten node processes in all, each a few seconds to start (more on a busy machine).
t.setTimeout(300_000);
const redisUrl = redisUrlOrSkip(t);

const AGENT = { sub: 'agent-1', role: 'agent', name: 'Alice Agent' } as const;
const visitor = (n: number) => ({ sub: `visitor-${n}`, role: 'visitor', name: `Visitor ${n}` });

/** Every node believes the balancer (on loopback) about the client's address. */
const NODE_ENV = { TRUST_PROXY: '127.0.0.1' };
/** A dead or unready node is out of the balancer within about 2.5 s (see haproxy.cfg). */
const OUT_WITHIN_MS = 6000;

/** The node a connection is on: cluster connection ids start with their node's id. */
const nodeOf = (connectionId: string) => connectionId.split(NODE_SEPARATOR)[0]!;

/** Starts nodes `node1`..`nodeN` (HAProxy's names for them too), all ready. */
async function startNodes(
  cluster: ProcessCluster,
  count: number,
  env: Record<string, string> = {},
): Promise<NodeProcess[]> {
  // One after another: each has its own start-up budget on a busy machine.
  const nodes: NodeProcess[] = [];
  for (let i = 1; i <= count; i++) {
    nodes.push(await cluster.start(`node${i}`, await freePort(), { ...NODE_ENV, ...env }));
  }
  return nodes;
}

/** HAProxy in front of `nodes`, once it sees every one of them up. */
async function balance(t: Test, nodes: readonly NodeProcess[], web?: readonly string[]) {
  const lb = await startBalancer(
    t,
    nodes.map((node) => `127.0.0.1:${node.port}`),
    web,
  );
  for (const node of nodes) await lb.waitFor(node.nodeId, 'UP', 10_000);
  return lb;
}

/** A client connected through the balancer, and the node it landed on; closed at teardown. */
async function through(
  t: Test,
  lb: Balancer,
  claims: Record<string, string>,
  options?: ClientOptions,
): Promise<{ client: TestClient; node: string }> {
  const client = openClient(lb.wsUrl, signToken(claims), options);
  t.teardown(() => client.close());
  const established = await client.established();
  return { client, node: nodeOf(established.connectionId) };
}

/** One series of a node's `/metrics`; throws when it is missing (a renamed metric fails). */
async function metric(node: NodeProcess, series: string): Promise<number> {
  const body = await (await fetch(`${node.httpUrl}/metrics`)).text();
  const line = body.split('\n').find((l) => l.startsWith(`${series} `));
  if (line === undefined) throw new Error(`no ${series} in the /metrics of ${node.nodeId}`);
  return Number(line.slice(series.length + 1));
}

/** An answered call between `caller` and `agent`, a chat line each way, and the hang-up. */
async function callAcross(t: Test, caller: TestClient, agent: TestClient): Promise<void> {
  const callId = await requestCall(caller);
  t.equal(outcome(await agent.request({ type: 'call_accept', callId })), 'ack', 'accepted');
  await caller.next('call_started');
  await agent.next('call_started');
  const hello = await caller.request({ type: 'chat_message', callId, text: 'hello' });
  t.equal(outcome(hello), 'ack', 'the visitor says hello');
  t.match(await agent.next('chat_message'), { callId, text: 'hello' }, 'the agent hears it');
  const hi = await agent.request({ type: 'chat_message', callId, text: 'hi' });
  t.equal(outcome(hi), 'ack', 'the agent answers');
  t.match(await caller.next('chat_message'), { callId, text: 'hi' }, 'the visitor hears back');
  t.equal(outcome(await agent.request({ type: 'call_ended', callId })), 'ack', 'and hangs up');
  await caller.next('call_ended');
}

if (redisUrl !== undefined && haproxyOrSkip(t)) {
  t.test(
    'clients through the balancer land on every node, and calls work whichever nodes the parties are on',
    async (t) => {
      const cluster = await processCluster(t, redisUrl);
      const nodes = await startNodes(cluster, 3);
      const web = createServer((req, res) => res.end(`web host: ${req.url}`));
      await new Promise<void>((resolve) => web.listen(0, '127.0.0.1', resolve));
      t.teardown(() => web.close());
      const lb = await balance(t, nodes, [`127.0.0.1:${(web.address() as AddressInfo).port}`]);

      const agent = await through(t, lb, AGENT);
      await agent.client.next('queue_updated');
      const visitors = [];
      for (let i = 1; i <= 12; i++) visitors.push(await through(t, lb, visitor(i)));
      const landed = new Set(visitors.map((v) => v.node));
      t.same([...landed].sort(), ['node1', 'node2', 'node3'], 'visitors land on every node');
      const counts = await Promise.all(
        nodes.map((node) => metric(node, 'calldocker_connections{role="visitor"}')),
      );
      t.ok(
        counts.every((n) => n > 0),
        `each node's /metrics counts some of them (${counts.join(', ')})`,
      );
      t.equal(
        counts.reduce((a, b) => a + b, 0),
        12,
        'and together all of them',
      );

      for (const node of ['node1', 'node2', 'node3']) {
        const caller = visitors.find((v) => v.node === node)!;
        const where = node === agent.node ? 'the same node' : 'another node';
        await t.test(`a visitor on ${node}, the agent on ${where}`, (t) =>
          callAcross(t, caller.client, agent.client),
        );
      }

      const page = await fetch(`${lb.httpUrl}/agent`);
      t.equal(await page.text(), 'web host: /agent', 'requests that are no upgrade go to the web');
    },
  );

  t.test(
    "a party's node killed mid-call: the client library reconnects through the balancer and resumes the call, and the node is taken out",
    async (t) => {
      const cluster = await processCluster(t, redisUrl);
      const nodes = await startNodes(cluster, 2);
      const lb = await balance(t, nodes);

      const agent = await through(t, lb, AGENT);
      await agent.client.next('queue_updated');
      // The library's own reconnect policy (full jitter), over `ws`.
      const caller = createClient(t, lb.wsUrl, {
        token: visitorToken(),
        reconnectPolicy: undefined,
      });
      const first = nodeOf((await caller.client.connect()).connectionId);
      t.not(first, agent.node, 'leastconn puts the visitor on a node without the agent');
      const { callId } = await caller.client.requestCall('video');
      const accepted = await agent.client.request({ type: 'call_accept', callId });
      t.equal(outcome(accepted), 'ack', 'the agent accepts the call');
      await caller.next('call_started');
      await agent.client.next('call_started');

      const dying = nodes.find((node) => node.nodeId === first)!;
      await dying.kill();
      const killedAt = Date.now();
      await caller.reached(ConnectionState.Connected, 2, 10_000);
      const second = nodeOf(caller.client.session!.connectionId);
      t.not(second, first, `the visitor came back through the balancer, on ${second}`);
      t.match(
        await caller.next('call_resumed', (m) => m.callId === callId, 10_000),
        { callId, role: 'caller' },
        'and resumed its call there',
      );
      await agent.client.next('peer_reconnected', 10_000);
      t.match(await caller.client.sendChat(callId, 'still here'), {}, 'the call relays again');
      t.match(
        await agent.client.next('chat_message'),
        { callId, text: 'still here' },
        'to the agent',
      );
      t.same(caller.failures, [], 'the client never gave up');

      await lb.waitFor(first, 'DOWN', OUT_WITHIN_MS);
      t.ok(Date.now() - killedAt < OUT_WITHIN_MS, 'HAProxy took the dead node out');
      t.match(lb.output(), `signaling/${first} is DOWN`, 'and said so');
    },
  );

  t.test('a node whose /readyz answers 503 gets no new connections', async (t) => {
    const cluster = await processCluster(t, redisUrl);
    const link = await redisProxy(t, redisUrl);
    const unready = await cluster.start('node1', await freePort(), {
      ...NODE_ENV,
      REDIS_URL: link.url,
    });
    const lb = await balance(t, [
      unready,
      await cluster.start('node2', await freePort(), NODE_ENV),
    ]);

    // Its Redis goes away: node1 cannot serve anyone, though it still listens.
    await link.cut();
    await until(async () => (await fetch(`${unready.httpUrl}/readyz`)).status === 503, 10_000);
    await lb.waitFor('node1', 'DOWN', OUT_WITHIN_MS);
    t.equal((await fetch(`${unready.httpUrl}/healthz`)).status, 200, 'node1 still listens');

    const landed = [];
    for (let i = 1; i <= 4; i++) landed.push((await through(t, lb, visitor(i))).node);
    t.same(landed, ['node2', 'node2', 'node2', 'node2'], 'every visitor lands on node2');
  });

  t.test(
    'a node stopped with SIGTERM: its clients come back through the balancer to the other, none refused, and its call resumes',
    async (t) => {
      const cluster = await processCluster(t, redisUrl);
      const nodes = await startNodes(cluster, 2);
      const lb = await balance(t, nodes);
      const agent = await through(t, lb, AGENT);
      await agent.client.next('queue_updated');
      const visitors = [];
      for (let i = 1; i <= 6; i++) visitors.push({ n: i, ...(await through(t, lb, visitor(i))) });
      // The node without the agent stops, with a visitor of it in a call with the agent.
      const stopping = nodes.find((node) => node.nodeId !== agent.node)!;
      const leaving = visitors.filter((v) => v.node === stopping.nodeId);
      t.ok(leaving.length > 0, `${stopping.nodeId} has ${leaving.length} of them`);
      const caller = leaving[0]!;
      const callId = await requestCall(caller.client);
      const accepted = await agent.client.request({ type: 'call_accept', callId });
      t.equal(outcome(accepted), 'ack', 'the agent accepts the call');
      await caller.client.next('call_started');
      await agent.client.next('call_started');

      stopping.child.kill('SIGTERM');
      for (const v of leaving) {
        t.equal((await v.client.closed).code, CloseCode.GoingAway, 'closed with 1001');
      }
      // Straight back, as a client does on 1001: HAProxy still counts the node up for a moment,
      // so some of these go to it first and are retried on the other node.
      const back = await Promise.all(leaving.map((v) => through(t, lb, visitor(v.n))));
      t.same(
        back.map((b) => b.node),
        leaving.map(() => agent.node),
        `every one is back, on ${agent.node}`,
      );
      t.match(
        await back[0]!.client.next('call_resumed', 10_000),
        { callId, role: 'caller' },
        'the caller resumes its call',
      );
      await agent.client.next('peer_reconnected', 10_000);
      await stopping.exited;
      await lb.waitFor(stopping.nodeId, 'DOWN', OUT_WITHIN_MS);
      const more = await through(t, lb, visitor(99));
      t.equal(more.node, agent.node, 'and a newcomer lands on the node that runs');
    },
  );

  t.test(
    "behind the balancer a node counts the client's address, not the balancer's or a forged one, and keeps its /metrics to itself",
    async (t) => {
      const cluster = await processCluster(t, redisUrl);
      const nodes = await startNodes(cluster, 1, { MAX_VISITOR_CONNECTIONS_PER_ADDRESS: '1' });
      const lb = await balance(t, nodes);
      await through(t, lb, visitor(1), { localAddress: '127.0.0.2' });
      const forged = openClient(lb.wsUrl, signToken(visitor(2)), {
        localAddress: '127.0.0.2',
        headers: { 'X-Forwarded-For': '203.0.113.7' },
      });
      t.teardown(() => forged.close());
      t.match(
        await forged.closed,
        { code: CloseCode.Policy, reason: PolicyReason.TooManyConnections },
        'a second visitor from 127.0.0.2 is refused, whatever X-Forwarded-For it sends',
      );
      const other = await through(t, lb, visitor(3), { localAddress: '127.0.0.3' });
      t.equal(other.node, 'node1', 'a visitor from another address is let in');
      t.equal(
        (await fetch(`${lb.httpUrl}/metrics`)).status,
        403,
        "the balancer refuses /metrics, where the node would take it for a local client's",
      );
      t.equal((await fetch(`${nodes[0]!.httpUrl}/metrics`)).status, 200, 'the node serves it');
    },
  );
}
