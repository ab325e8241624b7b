/**
 * A ring timeout armed by a node that was then killed with SIGKILL (issue 10) still fires, once,
 * on a node left. Each node is a real process of the product's entry.
 */
import t from 'tap';
import { requestCall } from '../helpers.js';
import { redisUrlOrSkip } from '../redis-helpers.js';
import { freePort } from '../support/stack.js';
import { AGENT, join, loggedCall, processCluster, VISITOR } from './helpers.js';

// Each scenario starts three node processes: far slower on a loaded machine than one file's default.
t.setTimeout(300_000);
const redisUrl = redisUrlOrSkip(t);

if (redisUrl !== undefined) {
  t.test('a ring timeout whose arming node was killed still fires, once', async (t) => {
    const cluster = await processCluster(t, redisUrl);
    const env = { RING_TIMEOUT_MS: '1500' };
    const n1 = await cluster.start('n1', await freePort(), env);
    const n2 = await cluster.start('n2', await freePort(), env);
    const agent = await join(t, n2, AGENT);
    const visitor = await join(t, n1, VISITOR);
    const callId = await requestCall(visitor, { agentId: 'agent-1' });
    await agent.next('call_incoming');
    await n1.kill();
    t.match(
      await agent.next('call_missed', 6000),
      { callId, reason: 'ring_timeout' },
      'the node left fires the dead node’s ring timeout',
    );
    t.ok(await agent.quiet('call_missed', 1500), 'and only once');
    const row = await loggedCall(cluster.databaseUrl, callId, (s) => s === 'missed');
    t.match(row, { state: 'missed', end_reason: 'ring_timeout' }, 'the call log says so');
  });
}
