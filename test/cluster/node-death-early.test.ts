/**
 * A node killed with SIGKILL mid-call (issue 10) whose party is back on another node before the
 * death is noticed: its call resumes once it is. Each node is a real process of the product's
 * entry (helpers in `helpers.ts`).
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
  t.test(
    'a party back on a node whose id sorts first, before its dead node is noticed, resumes its call once it is',
    async (t) => {
      // Which of a user's connections is newer must not depend on the nodes' names:
      // `n1~<later>` sorts before `n2~<earlier>`.
      const cluster = await processCluster(t, redisUrl);
      const n1 = await cluster.start('n1', await freePort());
      const n2 = await cluster.start('n2', await freePort());
      const { agent, callId } = await answeredCall(t, n2, n1);

      await n2.kill();
      const back = await join(t, n1, VISITOR);
      t.notOk(
        agent.received.some((m) => m.type === 'peer_disconnected'),
        'back before the dead node was noticed',
      );
      t.match(
        await back.next('call_resumed', 8000),
        { callId, role: 'caller' },
        'the call moves to the newer connection when the dead node is reaped',
      );
      await agent.next('peer_reconnected', 5000);
      t.equal(outcome(await back.request({ type: 'chat_message', callId, text: 'hi' })), 'ack');
      t.match(await agent.next('chat_message'), { callId, text: 'hi' }, 'and relays again');
    },
  );
}
