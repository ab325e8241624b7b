/**
 * A node killed with SIGKILL mid-call (issue 10): the nodes left notice within 5 s, clean up after
 * its connections, and its calls go on. Each node is a real process of the product's entry, on
 * one Redis and one call-log file (helpers in `helpers.ts`).
 */
import t from 'tap';
import { outcome } from '../helpers.js';
import { redisUrlOrSkip } from '../redis-helpers.js';
import { freePort } from '../support/stack.js';
import { AGENT, answeredCall, join, loggedCall, processCluster, VISITOR } from './helpers.js';

// Each scenario starts three node processes: far slower on a loaded machine than one file's default.
t.setTimeout(300_000);
const redisUrl = redisUrlOrSkip(t);

if (redisUrl !== undefined) {
  for (const dying of ['visitor', 'agent'] as const) {
    t.test(`the ${dying}'s node killed mid-call: the call resumes on another node`, async (t) => {
      const cluster = await processCluster(t, redisUrl);
      const n1 = await cluster.start('n1', await freePort());
      const n2 = await cluster.start('n2', await freePort());
      const n3 = await cluster.start('n3', await freePort());
      const { agent, visitor, callId } = await answeredCall(
        t,
        dying === 'visitor' ? n1 : n2,
        dying === 'agent' ? n1 : n2,
      );

      const [lost, kept] = dying === 'visitor' ? [visitor, agent] : [agent, visitor];
      const claims = dying === 'visitor' ? VISITOR : AGENT;
      await n1.kill();
      await lost.closed;
      const killedAt = Date.now();
      t.match(
        await kept.next('peer_disconnected', 8000),
        { callId },
        'the other party hears that its peer is gone',
      );
      t.ok(Date.now() - killedAt <= 6000, 'within 5 s of the kill (and a heartbeat)');

      const back = await join(t, n3, claims);
      t.match(
        await back.next('call_resumed', 8000),
        { callId, role: dying === 'visitor' ? 'caller' : 'callee' },
        'the reconnected party resumes its call on another node',
      );
      await kept.next('peer_reconnected', 5000);
      const sent = await back.request({ type: 'chat_message', callId, text: 'back again' });
      t.equal(outcome(sent), 'ack', 'the call relays again');
      t.match(await kept.next('chat_message'), { callId, text: 'back again' });

      t.equal(outcome(await kept.request({ type: 'call_ended', callId })), 'ack');
      await back.next('call_ended');
      const row = await loggedCall(cluster.databaseUrl, callId, (s) => s === 'ended');
      t.match(row, { state: 'ended', end_reason: 'hangup' }, 'its log row ends as the call did');
    });
  }
}
