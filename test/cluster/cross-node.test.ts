/**
 * Two signaling nodes on one Redis (issue 10), each a real process of the product's entry: a
 * visitor on one and an agent on the other see exactly what they would on one node, and the
 * races that one node's event loop used to settle are settled by Redis.
 */
import t, { type Test } from 'tap';
import type { RelayType } from '../../client-lib/protocol.js';
import {
  agentReady,
  connectAgent,
  connectVisitor,
  metricSample,
  outcome,
  requestCall,
  type TestClient,
} from '../helpers.js';
import { redisUrlOrSkip } from '../redis-helpers.js';
import { freePort } from '../support/stack.js';
import { processCluster, type NodeProcess } from './helpers.js';

// Two node processes per test: slower to start than servers in this process.
t.setTimeout(300_000);
const redisUrl = redisUrlOrSkip(t);

/** Two node processes of one cluster (`env` on top of the cluster's), killed at teardown. */
async function twoNodes(t: Test, env: Record<string, string> = {}): Promise<NodeProcess[]> {
  const cluster = await processCluster(t, redisUrl!);
  return Promise.all(['n1', 'n2'].map(async (id) => cluster.start(id, await freePort(), env)));
}

/** Far past the limits on anonymous load: the accept race sends 200 requests in seconds. */
const UNLIMITED = {
  MAX_VISITOR_CONNECTIONS_PER_ADDRESS: '1000000',
  CALL_REQUESTS_PER_VISITOR_PER_MIN: '1000000',
  CALL_REQUESTS_PER_ADDRESS_PER_MIN: '1000000',
  MAX_QUEUED_CALLS_PER_COMPANY: '1000000',
};

const SDP = 'v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n';
const CANDIDATE = 'candidate:842163049 1 udp 1677729535 192.0.2.7 54400 typ srflx';

/** One payload of each relayed type (besides `type` and `callId`). */
const PAYLOADS: ReadonlyArray<{ type: RelayType; fields: Record<string, unknown> }> = [
  { type: 'webrtc_offer', fields: { offer: { type: 'offer', sdp: SDP } } },
  { type: 'webrtc_answer', fields: { answer: { type: 'answer', sdp: SDP } } },
  {
    type: 'ice_candidate',
    fields: { candidate: { candidate: CANDIDATE, sdpMid: '0', sdpMLineIndex: 0 } },
  },
  { type: 'ice_candidate', fields: { candidate: null } },
  { type: 'media_state', fields: { audio: true, video: false, screen: true } },
  { type: 'chat_message', fields: { text: 'hello from the other node' } },
];

/** Sends each payload from `from` and checks that `to` receives it, as sent, from `fromUserId`. */
async function relayAll(
  t: Test,
  from: TestClient,
  to: TestClient,
  callId: string,
  fromUserId: string,
) {
  for (const { type, fields } of PAYLOADS) {
    const res = await from.request({ type, callId, ...fields });
    t.equal(outcome(res), 'ack', `${type} is acknowledged`);
    const got = await to.next(type);
    t.same(got, { type, callId, ...fields, fromUserId }, `${type} arrives whole on the other node`);
  }
}

if (redisUrl !== undefined) {
  t.test(
    'a visitor on one node and an agent on another: a queued call from request to end',
    async (t) => {
      const [n1, n2] = await twoNodes(t);
      const agent = await agentReady(t, n2!, { sub: 'agent-1', name: 'Alice Agent' });
      const visitor = await connectVisitor(t, n1!, { sub: 'visitor-1', name: 'Victor Visitor' });
      t.match(
        await visitor.next('agent_list'),
        { agents: [{ id: 'agent-1', status: 'online' }] },
        'the visitor sees the agent of the other node online',
      );

      const callId = await requestCall(visitor, { purpose: 'billing' });
      const queued = await agent.next('queue_updated', 3000, (m) => m.calls.length === 1);
      t.match(
        queued,
        { total: 1, calls: [{ callId, visitor: { id: 'visitor-1' }, purpose: 'billing' }] },
        "the agent's queue shows the call made on the other node",
      );

      t.equal(outcome(await agent.request({ type: 'call_accept', callId })), 'ack', 'accepted');
      t.match(
        await visitor.next('call_started'),
        { callId, peer: { id: 'agent-1', role: 'agent', name: 'Alice Agent' } },
        'the visitor hears of the answer across nodes',
      );
      t.match(await agent.next('call_started'), { callId, peer: { id: 'visitor-1' } });
      t.match(
        await visitor.next('agent_status_changed', 3000, (m) => m.status === 'busy'),
        { agentId: 'agent-1', status: 'busy' },
        'the agent shows busy to the visitor',
      );

      await relayAll(t, visitor, agent, callId, 'visitor-1');
      await relayAll(t, agent, visitor, callId, 'agent-1');

      t.equal(outcome(await agent.request({ type: 'call_ended', callId })), 'ack');
      t.match(await visitor.next('call_ended'), { callId, reason: 'hangup' });
      t.match(await agent.next('call_ended'), { callId, reason: 'hangup' });
      t.match(
        await visitor.next('agent_status_changed', 3000, (m) => m.status === 'online'),
        { agentId: 'agent-1', status: 'online' },
        'the agent is online again',
      );
      const relay = await visitor.request({
        type: 'chat_message',
        callId,
        text: 'still there?',
      });
      t.equal(outcome(relay), 'not_found', 'the ended call carries nothing more, on either node');

      const frames = 'calldocker_cluster_messages_received_total{kind="frame"}';
      const mirrors = 'calldocker_cluster_messages_received_total{kind="mirror"}';
      t.ok(
        (await metricSample(n1!, frames)) >= PAYLOADS.length,
        "node 1 counts the agent's frames",
      );
      t.ok((await metricSample(n2!, frames)) >= PAYLOADS.length, "node 2 counts the visitor's");
      t.ok((await metricSample(n1!, mirrors)) > 0, "call records crossed to the visitor's node");
    },
  );

  t.test('a direct ring crosses nodes, and a decline comes back', async (t) => {
    const [n1, n2] = await twoNodes(t);
    const agent = await agentReady(t, n2!, { sub: 'agent-7' });
    const visitor = await connectVisitor(t, n1!);
    const callId = await requestCall(visitor, { agentId: 'agent-7' });
    t.match(await agent.next('call_incoming'), { callId, visitor: { id: 'visitor-1' } });
    t.equal(outcome(await agent.request({ type: 'call_decline', callId })), 'ack');
    t.match(await visitor.next('call_declined'), { callId });
  });

  t.test('queue positions reach visitors on every node', async (t) => {
    const [n1, n2] = await twoNodes(t);
    const agent = await agentReady(t, n1!);
    const first = await connectVisitor(t, n1!, { sub: 'visitor-1' });
    const second = await connectVisitor(t, n2!, { sub: 'visitor-2' });
    const firstCall = await requestCall(first);
    const secondAck = await second.request({ type: 'call_request', callType: 'audio' });
    t.match(secondAck, { type: 'ack', position: 2 }, 'the second caller is second, across nodes');
    t.equal(outcome(await agent.request({ type: 'call_accept', callId: firstCall })), 'ack');
    t.match(
      await second.next('queue_position'),
      { callId: (secondAck as Record<string, unknown>)['callId'], position: 1 },
      'the caller on the other node moves up',
    );
  });

  t.test('the accept race across nodes has exactly one winner, 200 times', async (t) => {
    const [n1, n2] = await twoNodes(t, UNLIMITED);
    // Four lanes race side by side, each a visitor and two agents (one per node) that accept
    // only that visitor's calls: an agent in a call cannot accept another, so lanes must not mix.
    const LANES = 4;
    const ROUNDS = 50;
    const winners = [0, 0];
    let clean = 0;
    await Promise.all(
      Array.from({ length: LANES }, async (_, lane) => {
        const agents = [
          await connectAgent(t, n1!, { sub: `agent-${lane}-a` }),
          await connectAgent(t, n2!, { sub: `agent-${lane}-b` }),
        ];
        const visitor = await connectVisitor(t, lane % 2 === 0 ? n1! : n2!, {
          sub: `visitor-${lane}`,
        });
        for (let round = 0; round < ROUNDS; round++) {
          const callId = await requestCall(visitor);
          const answers = await Promise.all(
            agents.map((agent) => agent.request({ type: 'call_accept', callId }, 10_000)),
          );
          const outcomes = answers.map(outcome);
          const won = outcomes.indexOf('ack');
          if (outcomes.filter((o) => o === 'ack').length === 1 && outcomes.includes('conflict')) {
            clean++;
          } else {
            t.fail(`lane ${lane} round ${round}: ${outcomes.join(', ')}`);
          }
          if (won >= 0) winners[won]!++;
          await visitor.next('call_started', 10_000, (m) => m.callId === callId);
          const end = await agents[won >= 0 ? won : 0]!.request({ type: 'call_ended', callId });
          if (outcome(end) !== 'ack') t.fail(`lane ${lane} round ${round}: not ended`);
          await visitor.next('call_ended', 10_000, (m) => m.callId === callId);
        }
      }),
    );
    t.equal(clean, LANES * ROUNDS, 'every round: one accept wins, the other is a conflict');
    t.ok(winners[0]! > 0 && winners[1]! > 0, `both nodes won some rounds (${winners.join('/')})`);
  });
}
