/**
 * A node killed with SIGKILL while its visitor's call waits in the queue (issue 10): the call
 * keeps its place through the reconnect grace, the visitor reconnecting to another node is told
 * where it waits, and the call is answered from there. Each node is a real process of the
 * product's entry (helpers in `helpers.ts`).
 */
import t from 'tap';
import { outcome, requestCall } from '../helpers.js';
import { redisUrlOrSkip } from '../redis-helpers.js';
import { freePort } from '../support/stack.js';
import { AGENT, join, loggedCall, processCluster, VISITOR } from './helpers.js';

t.setTimeout(300_000);
const redisUrl = redisUrlOrSkip(t);

if (redisUrl !== undefined) {
  t.test('a queued call whose node was killed keeps its place and is answered', async (t) => {
    const cluster = await processCluster(t, redisUrl);
    const n1 = await cluster.start('n1', await freePort());
    const n2 = await cluster.start('n2', await freePort());
    const n3 = await cluster.start('n3', await freePort());
    // The agent stays away until both calls wait: it joins once they are queued.
    const first = await join(t, n1, VISITOR);
    const firstCall = await requestCall(first);
    const second = await join(t, n2, { sub: 'visitor-2', role: 'visitor', name: 'Vera Visitor' });
    const secondAck = await second.request({ type: 'call_request', callType: 'audio' });
    t.match(secondAck, { type: 'ack', position: 2 }, 'the second caller waits behind the first');
    const secondCall = String((secondAck as Record<string, unknown>)['callId']);

    await n1.kill();
    await first.closed;
    const back = await join(t, n3, VISITOR);
    t.match(
      await back.next('call_waiting', 8000),
      { callId: firstCall, status: 'queued', position: 1 },
      'back on another node, the visitor is told its call still waits first',
    );

    const agent = await join(t, n2, AGENT);
    t.match(
      await agent.next('queue_updated', 8000, (m) => m.total === 2),
      { total: 2, calls: [{ callId: firstCall }, { callId: secondCall }] },
      "the agent's queue holds both calls, in their order",
    );
    t.equal(outcome(await agent.request({ type: 'call_accept', callId: firstCall })), 'ack');
    t.match(
      await back.next('call_started'),
      { callId: firstCall, peer: { id: AGENT.sub } },
      'the call is answered on the node the visitor came back to',
    );
    t.match(
      await second.next('queue_position', 8000),
      { callId: secondCall, position: 1 },
      'and the caller behind moves up',
    );

    t.equal(outcome(await back.request({ type: 'call_ended', callId: firstCall })), 'ack');
    await agent.next('call_ended');
    const row = await loggedCall(cluster.databaseUrl, firstCall, (s) => s === 'ended');
    t.match(row, { state: 'ended', end_reason: 'hangup' }, 'its log row ends as the call did');
  });
}
