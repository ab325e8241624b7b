/**
 * A node stopped gracefully (SIGTERM, a deploy) in a cluster (issue 10): its clients are told it
 * is going away, and their calls go on on another node. Each node is a real process.
 */
import t from 'tap';
import { outcome } from '../helpers.js';
import { redisUrlOrSkip } from '../redis-helpers.js';
import { freePort } from '../support/stack.js';
import { answeredCall, join, processCluster, VISITOR } from './helpers.js';

// Each scenario starts three node processes: far slower on a loaded machine than one file's default.
t.setTimeout(300_000);
const redisUrl = redisUrlOrSkip(t);

if (redisUrl !== undefined) {
  t.test('a node stopped gracefully (SIGTERM) hands its calls on', async (t) => {
    const cluster = await processCluster(t, redisUrl);
    const n1 = await cluster.start('n1', await freePort(), { CALL_RECONNECT_GRACE_MS: '20000' });
    const n2 = await cluster.start('n2', await freePort(), { CALL_RECONNECT_GRACE_MS: '20000' });
    const { agent, visitor, callId } = await answeredCall(t, n1, n2);

    n1.child.kill('SIGTERM');
    t.match(await visitor.closed, { code: 1001 }, 'the visitor is told the node is going away');
    t.match(await agent.next('peer_disconnected', 5000), { callId }, 'the agent hears of it');
    await n1.exited;
    const back = await join(t, n2, VISITOR);
    t.match(await back.next('call_resumed', 5000), { callId }, 'the call resumes on the node left');
    await agent.next('peer_reconnected', 5000);
    t.equal(outcome(await back.request({ type: 'call_ended', callId })), 'ack');
    t.match(await agent.next('call_ended'), { callId, reason: 'hangup' });
  });
}
