/**
 * A node that stalls (its process stopped, as by a long pause or a frozen machine) past its
 * heartbeat's lifetime is reaped by the others while it still holds its sockets. When it runs
 * again it must not carry on as if nothing happened: it finds the reaping at its next heartbeat
 * and ends its connections, whose clients reconnect and resume from what the cluster holds.
 */
import WebSocket from 'ws';
import t from 'tap';
import { outcome } from '../helpers.js';
import { redisUrlOrSkip } from '../redis-helpers.js';
import { freePort } from '../support/stack.js';
import { answeredCall, join, loggedCall, processCluster, VISITOR } from './helpers.js';

t.setTimeout(300_000);
const redisUrl = redisUrlOrSkip(t);

/** `promise`, or undefined once `ms` have passed without it settling. */
function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<undefined>(
    (resolve) => (timer = setTimeout(() => resolve(undefined), ms)),
  );
  return Promise.race([promise, bound]).finally(() => clearTimeout(timer));
}

if (redisUrl !== undefined) {
  t.test('a stalled node that was reaped ends its connections when it runs again', async (t) => {
    const cluster = await processCluster(t, redisUrl);
    // No ping sweep during the test: a socket ended by the sweep would close without a code.
    const n1 = await cluster.start('n1', await freePort(), { HEARTBEAT_INTERVAL_MS: '600000' });
    const n2 = await cluster.start('n2', await freePort());
    const { agent, visitor, callId } = await answeredCall(t, n1, n2);

    n1.child.kill('SIGSTOP');
    t.teardown(() => void n1.child.kill('SIGCONT'));
    t.match(
      await agent.next('peer_disconnected', 10_000),
      { callId },
      'the other nodes take the stopped node for dead and clean up after its visitor',
    );
    n1.child.kill('SIGCONT');

    const closed = await within(visitor.closed, 10_000);
    t.equal(closed?.code, 1001, 'once it runs again, the node ends the reaped connection');

    const fresh = await join(t, n1, { sub: 'visitor-2', role: 'visitor', name: 'Vera Visitor' });
    const back = await join(t, n2, VISITOR);
    t.match(
      await back.next('call_resumed', 8000),
      { callId, role: 'caller' },
      'the visitor resumes its call on reconnecting',
    );
    await agent.next('peer_reconnected', 5000);
    t.equal(outcome(await back.request({ type: 'chat_message', callId, text: 'hi again' })), 'ack');
    t.match(await agent.next('chat_message'), { callId, text: 'hi again' }, 'and it relays');

    t.equal(outcome(await agent.request({ type: 'call_ended', callId })), 'ack');
    await back.next('call_ended');
    const row = await loggedCall(cluster.databaseUrl, callId, (s) => s === 'ended');
    t.match(row, { state: 'ended', end_reason: 'hangup' }, 'its log row ends as the call did');
    t.equal(
      fresh.ws.readyState,
      WebSocket.OPEN,
      'a connection made after the fence stays: the node fences once per reaping',
    );
  });
}
