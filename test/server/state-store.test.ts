/**
 * The contract of `StateStore` (server/state/store.ts), run against both implementations: the
 * single-node `MemoryStore` and the shared `RedisStore` (issue 10). Each test gets two handles
 * on one state, as two signaling nodes would have: the same object for the memory store, two
 * Redis connections for the Redis store, and races are split across both.
 *
 * The Redis half needs `REDIS_URL`; without it, it skips and says so.
 */
import t, { type Test } from 'tap';
import { Redis } from 'ioredis';
import { StoreFault } from '../../server/errors.js';
import { MemoryStore } from '../../server/state/memory-store.js';
import { RedisStore } from '../../server/state/redis-store.js';
import {
  QUEUE_WAIT_HISTORY,
  type CallRecord,
  type Party,
  type StateStore,
} from '../../server/state/store.js';
import { keysUnder, openRedis, prefixForTest, redisUrlOrSkip } from '../redis-helpers.js';

/** Two handles on one fresh state; whatever it needs is released when `t` ends. */
type Open = (t: Test) => Promise<readonly [StateStore, StateStore]>;

/** How many callers race for one thing. */
const RACERS = 50;
/** Long enough that no test sees a ring claim expire unless it means to. */
const RING_CLAIM_TTL_MS = 60_000;

const visitor = (id = 'visitor-1'): Party => ({ id, role: 'visitor', name: 'V', connId: 'vc' });
const agent = (id = 'agent-1'): Party => ({ id, role: 'agent', name: 'A', connId: 'ac' });

/** A call with every property written out, as the call service makes them. */
function call(fields: Partial<CallRecord> = {}): CallRecord {
  return {
    callId: 'call-1',
    companyId: 'acme',
    callType: 'audio',
    purpose: undefined,
    state: 'queued',
    visitor: visitor(),
    targetAgentId: undefined,
    agent: undefined,
    queuedAt: 1_000,
    ringingAt: undefined,
    answeredAt: undefined,
    endedAt: undefined,
    endReason: undefined,
    rungConnIds: [],
    ...fields,
  };
}

const ids = (calls: readonly CallRecord[]) => calls.map((c) => c.callId).sort();

/** Registers the contract's tests on `t`, each with its own state from `open`. */
function contract(t: Test, open: Open): void {
  t.test('connections are counted per user through one, two and none', async (t) => {
    const [store, peer] = await open(t);
    t.equal(await store.addConnection('c1', 'u1', 'x'), 1);
    t.equal(await peer.addConnection('c1', 'u1', 'x'), 1, 'adding the same id again is no news');
    t.equal(await store.addConnection('c1', 'u1', 'y'), 2);
    t.equal(await peer.addConnection('c1', 'u1', 'z'), 3);
    t.equal(await store.addConnection('c2', 'u1', 'w'), 1, 'another company, another user');
    t.strictSame(await peer.connectionsOf('c1', 'u1'), ['x', 'y', 'z'], 'in the order opened');
    t.strictSame(await store.connectionsOf('c2', 'u1'), ['w']);
    t.strictSame(await store.connectionsOf('c1', 'nobody'), []);

    t.equal(await store.removeConnection('c1', 'u1', 'y'), 2);
    t.equal(await peer.removeConnection('c1', 'u1', 'unknown'), 2, 'an unknown id changes nothing');
    t.equal(await store.removeConnection('c1', 'u1', 'x'), 1);
    t.equal(await peer.removeConnection('c1', 'u1', 'z'), 0);
    t.strictSame(await store.connectionsOf('c1', 'u1'), []);
    t.equal(await store.removeConnection('c1', 'u1', 'z'), 0, 'removing twice is harmless');

    t.equal(await store.removeConnection('c2', 'u1', 'other'), 1, 'a lone id stays unless named');
    t.strictSame(await store.connectionsOf('c2', 'u1'), ['w']);
    t.equal(await store.removeConnection('c2', 'u1', 'w'), 0);
    t.equal(await peer.addConnection('c2', 'u1', 'v'), 1, 'a user can come back');

    const racing = await Promise.all(
      Array.from({ length: RACERS }, (_, i) =>
        (i % 2 ? store : peer).addConnection('c3', 'u', `conn-${i}`),
      ),
    );
    t.strictSame(
      [...racing].sort((a, b) => a - b),
      Array.from({ length: RACERS }, (_, i) => i + 1),
      'concurrent additions each see their own count',
    );
  });

  t.test('an agent is made present once and keeps its record until gone', async (t) => {
    const [store, peer] = await open(t);
    const fresh = { id: 'a1', name: 'Alice', status: 'online', statusBeforeCall: null };
    t.strictSame(await store.agentPresent('acme', { id: 'a1', name: 'Alice' }), {
      ...fresh,
      missedRings: 0,
    });
    t.strictSame(await peer.setAgentStatus('acme', 'a1', 'busy', 'online'), {
      ...fresh,
      status: 'busy',
      statusBeforeCall: 'online',
      missedRings: 0,
    });
    const again = await peer.agentPresent('acme', { id: 'a1', name: 'Alice (tab 2)' });
    t.equal(again.status, 'busy', 'present again: the record is kept');
    t.equal(again.name, 'Alice', 'and its name too');
    t.strictSame(await store.getAgent('acme', 'a1'), again);

    t.equal(await store.setAgentStatus('acme', 'ghost', 'away', null), undefined, 'absent: none');
    t.equal(await store.getAgent('acme', 'ghost'), undefined, 'and none is made');
    t.equal(await store.getAgent('globex', 'a1'), undefined, "another company's is its own");

    await peer.agentPresent('acme', { id: 'b2', name: 'Bob' });
    await store.agentPresent('acme', { id: 'c3', name: 'Carol' });
    const names = async () => (await peer.listAgents('acme')).map((a) => a.name);
    t.strictSame(await names(), ['Alice', 'Bob', 'Carol'], 'listed in the order they came');
    await store.agentGone('acme', 'a1');
    t.equal(await peer.getAgent('acme', 'a1'), undefined, 'gone');
    t.strictSame(await names(), ['Bob', 'Carol']);
    await store.agentPresent('acme', { id: 'a1', name: 'Alice' });
    t.strictSame(await names(), ['Bob', 'Carol', 'Alice'], 'back: last, and fresh');
    t.equal((await store.getAgent('acme', 'a1'))?.status, 'online');
    await store.agentGone('acme', 'nobody');
    t.strictSame(await store.listAgents('globex'), [], 'no agents: an empty list');
  });

  t.test('a burst of missed rings from one address counts once', async (t) => {
    const [store, peer] = await open(t);
    const window = 500;
    const ring = (address: string, at: number) => ({ address, at, burstWindowMs: window });
    t.equal(await store.countMissedRing('acme', 'a1', false, ring('1.1.1.1', 0)), 0, 'absent: 0');
    await store.agentPresent('acme', { id: 'a1', name: 'A' });

    t.equal(await store.countMissedRing('acme', 'a1', false, ring('1.1.1.1', 1_000)), 1);
    t.strictSame((await peer.getAgent('acme', 'a1'))?.lastMissedRing, {
      address: '1.1.1.1',
      at: 1_000,
    });
    t.equal(await peer.countMissedRing('acme', 'a1', false, ring('1.1.1.1', 1_400)), 1, 'burst');
    t.equal(
      await store.countMissedRing('acme', 'a1', false, ring('1.1.1.1', 1_500)),
      2,
      'the window is measured from the newest counted ring, and ends before its length',
    );
    t.equal(await peer.countMissedRing('acme', 'a1', false, ring('2.2.2.2', 1_600)), 3, 'other');
    t.equal(await store.countMissedRing('acme', 'a1', false, ring('1.1.1.1', 1_700)), 4);
    t.equal(await store.countMissedRing('acme', 'a1'), 5, 'without an address it always counts');
    t.equal((await store.getAgent('acme', 'a1'))?.lastMissedRing, undefined, 'and clears it');
    t.equal(await peer.countMissedRing('acme', 'a1', false, ring('1.1.1.1', 1_800)), 6);
    t.equal(await store.countMissedRing('acme', 'a1', true), 0, 'reset');
    t.equal((await store.getAgent('acme', 'a1'))?.missedRings, 0);
    t.equal((await store.getAgent('acme', 'a1'))?.lastMissedRing, undefined, 'reset clears it');
    t.equal(
      await store.countMissedRing('acme', 'a1', false, ring('1.1.1.1', 1_900)),
      1,
      'after a reset the same address counts again',
    );
    t.equal(await store.countMissedRing('acme', 'a1', true, ring('1.1.1.1', 1_950)), 0);
    t.equal(await store.countMissedRing('globex', 'a1'), 0, "another company's agent is absent");

    await store.agentPresent('acme', { id: 'a2', name: 'B' });
    const racing = await Promise.all(
      Array.from({ length: RACERS }, (_, i) =>
        (i % 2 ? store : peer).countMissedRing('acme', 'a2', false, ring('3.3.3.3', 5_000 + i)),
      ),
    );
    t.equal(Math.max(...racing), 1, 'a burst counted from many nodes at once counts once');
  });

  t.test("an agent's ring goes to one call at a time, per company", async (t) => {
    const [store, peer] = await open(t);
    t.equal(await store.claimRing('acme', 'agent-1', 'call-a'), true, 'the first claim wins');
    t.equal(await peer.claimRing('acme', 'agent-1', 'call-b'), false, 'a second one loses');
    t.equal(await store.claimRing('acme', 'agent-1', 'call-a'), false, 'even by the same call');
    t.equal(await peer.claimRing('acme', 'agent-2', 'call-b'), true, 'another agent is free');
    t.equal(await store.claimRing('globex', 'agent-1', 'call-c'), true, "so is another company's");
    await peer.releaseRing('acme', 'agent-1', 'call-b');
    t.equal(await store.claimRing('acme', 'agent-1', 'call-d'), false, 'only its holder frees it');
    await store.releaseRing('globex', 'agent-1', 'call-a');
    t.equal(await store.claimRing('acme', 'agent-1', 'call-d'), false, 'in its own company');
    await peer.releaseRing('acme', 'agent-1', 'call-a');
    t.equal(await store.claimRing('acme', 'agent-1', 'call-d'), true, 'free again once released');
    await store.releaseRing('acme', 'nobody', 'call-d');

    await store.agentPresent('acme', { id: 'agent-3', name: 'C' });
    const race = await Promise.all(
      Array.from({ length: RACERS }, (_, i) =>
        (i % 2 ? store : peer).claimRing('acme', 'agent-3', `call-${i}`),
      ),
    );
    t.equal(race.filter((won) => won).length, 1, 'simultaneous claims: exactly one wins');
    const winner = `call-${race.indexOf(true)}`;
    await store.agentGone('acme', 'agent-3');
    t.equal(
      await peer.claimRing('acme', 'agent-3', 'call-x'),
      false,
      'the claim outlives presence',
    );
    await peer.releaseRing('acme', 'agent-3', winner);
    t.equal(await store.claimRing('acme', 'agent-3', 'call-x'), true);
  });

  t.test("a visitor's call request is under way once at a time, per company", async (t) => {
    const [store, peer] = await open(t);
    t.equal(await store.claimCallRequest('acme', 'v', 'call-a'), true, 'the first claim wins');
    t.equal(await peer.claimCallRequest('acme', 'v', 'call-b'), false, 'a second one loses');
    t.equal(await peer.claimCallRequest('acme', 'w', 'call-b'), true, 'another visitor is free');
    t.equal(await store.claimCallRequest('globex', 'v', 'call-c'), true, 'so is another company');
    t.equal(await store.claimRing('acme', 'v', 'call-d'), true, 'a ring is another claim');
    await peer.releaseCallRequest('acme', 'v', 'call-b');
    t.equal(await store.claimCallRequest('acme', 'v', 'call-e'), false, 'only its holder frees it');
    await peer.releaseCallRequest('acme', 'v', 'call-a');
    t.equal(await store.claimCallRequest('acme', 'v', 'call-e'), true, 'free again once released');

    const race = await Promise.all(
      Array.from({ length: RACERS }, (_, i) =>
        (i % 2 ? store : peer).claimCallRequest('acme', 'tabs', `call-${i}`),
      ),
    );
    t.equal(race.filter((won) => won).length, 1, 'simultaneous claims: exactly one wins');
  });

  t.test('joining and leaving a room say whether anything changed', async (t) => {
    const [store, peer] = await open(t);
    const v1 = { connId: 'v1', userId: 'visitor-1', role: 'visitor', name: 'V' } as const;
    const a1 = { connId: 'a1', userId: 'agent-1', role: 'agent', name: 'A' } as const;
    const ad = { connId: 'ad', userId: 'admin-1', role: 'admin', name: 'Ad' } as const;
    t.equal(await store.joinRoom('acme', 'lobby', v1), true);
    t.equal(await peer.joinRoom('acme', 'lobby', { ...v1, name: 'again' }), false, 'twice: no');
    t.equal(await peer.joinRoom('acme', 'lobby', a1), true);
    t.equal(await store.joinRoom('acme', 'lobby', ad), true);
    const byConn = (members: readonly { connId: string }[]) =>
      [...members].sort((a, b) => a.connId.localeCompare(b.connId));
    t.strictSame(byConn(await peer.roomMembers('acme', 'lobby')), [a1, ad, v1], 'first wins');
    t.strictSame(byConn(await store.roomMembers('acme', 'lobby', true)), [a1, ad], 'staff only');
    t.strictSame(await store.roomMembers('globex', 'lobby'), [], "another company's is empty");

    t.equal(await peer.leaveRoom('acme', 'lobby', 'a1'), true);
    t.equal(await store.leaveRoom('acme', 'lobby', 'a1'), false, 'leaving twice: no');
    t.equal(await store.leaveRoom('acme', 'elsewhere', 'v1'), false, 'not in that room: no');
    t.strictSame(await peer.roomMembers('acme', 'lobby', true), [ad]);
    t.equal(await store.leaveRoom('acme', 'lobby', 'ad'), true);
    t.strictSame(await peer.roomMembers('acme', 'lobby', true), [], 'no staff left');
    t.strictSame(await peer.roomMembers('acme', 'lobby'), [v1], 'the visitor stays');

    const racing = await Promise.all(
      Array.from({ length: RACERS }, (_, i) => (i % 2 ? store : peer).joinRoom('acme', 'hot', a1)),
    );
    t.equal(racing.filter((joined) => joined).length, 1, 'concurrent joins: one joins');
    const leaving = await Promise.all(
      Array.from({ length: RACERS }, (_, i) =>
        (i % 2 ? store : peer).leaveRoom('acme', 'hot', 'a1'),
      ),
    );
    t.equal(leaving.filter((left) => left).length, 1, 'concurrent leaves: one leaves');
  });

  t.test('stats count rooms with members and stored calls by state', async (t) => {
    const [store, peer] = await open(t);
    t.strictSame(await store.stats(), { rooms: 0, callsByState: {} }, 'empty');
    const member = (connId: string) =>
      ({ connId, userId: connId, role: 'visitor', name: 'V' }) as const;
    await store.joinRoom('acme', 'r1', member('x'));
    await peer.joinRoom('acme', 'r1', member('y'));
    await peer.joinRoom('acme', 'r2', member('x'));
    await store.joinRoom('globex', 'r1', member('x'));
    t.equal((await peer.stats()).rooms, 3, "a room is counted once, each company's apart");
    await store.leaveRoom('acme', 'r1', 'x');
    t.equal((await peer.stats()).rooms, 3, 'a room with one member left is still counted');
    await peer.leaveRoom('acme', 'r1', 'y');
    await store.leaveRoom('acme', 'r1', 'y');
    t.equal((await store.stats()).rooms, 2, 'an empty room is not');

    await store.createCall(call({ callId: 'q1' }));
    await peer.createCall(call({ callId: 'q2', companyId: 'globex' }));
    await store.createCall(call({ callId: 'r1', state: 'ringing' }));
    t.strictSame((await peer.stats()).callsByState, { queued: 2, ringing: 1 });
    await peer.updateCall('q1', ['queued'], { state: 'ringing' });
    await store.updateCall('r1', ['ringing'], { state: 'ended', endedAt: 2_000 });
    t.strictSame(
      (await store.stats()).callsByState,
      { queued: 1, ringing: 1, ended: 1 },
      'a final call counts until it is deleted',
    );
    await peer.updateCall('q2', ['ringing'], { state: 'answered' });
    t.strictSame((await store.stats()).callsByState, { queued: 1, ringing: 1, ended: 1 }, 'lost');
    await store.deleteCall('r1');
    await store.deleteCall('q2');
    await peer.deleteCall('q2');
    t.strictSame((await peer.stats()).callsByState, { ringing: 1 }, 'no zero counts');
  });

  t.test('the queue checks its length and appends in one step', async (t) => {
    const [store, peer] = await open(t);
    t.equal(await store.enqueue('acme', 'c1', 2), true);
    t.equal(await peer.enqueue('acme', 'c2', 2), true, 'at the edge');
    t.equal(await store.enqueue('acme', 'c3', 2), false, 'one past it');
    t.equal(await peer.enqueue('acme', 'c1', 2), true, 'a call already queued stays queued');
    t.equal(await peer.enqueue('acme', 'c2', 1), true, 'even when the queue is over the limit');
    t.strictSame(await store.queue('acme'), ['c1', 'c2'], 'where it was');
    t.equal(await store.enqueue('acme', 'c3'), true, 'without a maximum, no limit');
    t.equal(await store.enqueue('acme', 'c4', 0), false, 'a maximum of 0 refuses all');
    t.strictSame(await peer.queue('acme'), ['c1', 'c2', 'c3'], 'oldest first');
    t.equal(await peer.dequeue('acme', 'c2'), true);
    t.equal(await store.dequeue('acme', 'c2'), false, 'not queued: false');
    t.equal(await store.enqueue('acme', 'c2'), true);
    t.strictSame(await store.queue('acme'), ['c1', 'c3', 'c2'], 'queued again: last');
    t.strictSame(await store.queue('globex'), [], "another company's queue is its own");
    for (const id of ['c1', 'c3', 'c2']) await peer.dequeue('acme', id);
    t.strictSame(await store.queue('acme'), [], 'emptied');
    t.equal(await store.enqueue('acme', 'c5', 1), true, 'an emptied queue takes calls again');

    const racing = await Promise.all(
      Array.from({ length: RACERS }, (_, i) =>
        (i % 2 ? store : peer).enqueue('globex', `call-${i}`, 10),
      ),
    );
    t.equal(racing.filter((queued) => queued).length, 10, 'concurrent appends cannot overfill it');
    t.strictSame(
      [...(await store.queue('globex'))].sort(),
      racing.flatMap((queued, i) => (queued ? [`call-${i}`] : [])).sort(),
      'the calls queued are those told so',
    );
  });

  t.test('queue waits keep the newest samples and age out', async (t) => {
    const [store, peer] = await open(t);
    const { maxSamples, maxAgeMs } = QUEUE_WAIT_HISTORY;
    const start = 10_000_000;
    t.strictSame(await store.recentQueueWaits('acme', start), [], 'none yet');
    for (let i = 0; i < maxSamples + 5; i++) {
      await (i % 2 ? store : peer).recordQueueWait('acme', { at: start + i * 1_000, waitMs: i });
    }
    await store.recordQueueWait('globex', { at: start, waitMs: 99 });
    const all = await peer.recentQueueWaits('acme', start + 30_000);
    t.equal(all.length, maxSamples, `at most ${maxSamples}`);
    t.strictSame(all[0], { at: start + 5_000, waitMs: 5 }, 'the oldest ones went first');
    t.strictSame(all.at(-1), { at: start + 24_000, waitMs: 24 }, 'oldest first');

    const edge = start + 10_000 + maxAgeMs;
    const recent = await store.recentQueueWaits('acme', edge);
    t.equal(recent[0]?.at, start + 10_000, 'a sample exactly the age limit old is kept');
    t.equal(recent.length, 15);
    t.strictSame(
      (await peer.recentQueueWaits('acme', start + 30_000)).map((s) => s.waitMs),
      [10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24],
      'stale samples are dropped for good',
    );
    t.strictSame(await store.recentQueueWaits('acme', start + 25_000 + maxAgeMs), [], 'all stale');
    t.strictSame(await peer.recentQueueWaits('acme', start), [], 'and gone');
    t.strictSame(
      await peer.recentQueueWaits('globex', start),
      [{ at: start, waitMs: 99 }],
      "another company's history is its own",
    );
  });

  t.test('a call reads back as written, undefined properties undefined', async (t) => {
    const [store, peer] = await open(t);
    const queued = call();
    await store.createCall(queued);
    t.strictSame(await peer.getCall('call-1'), queued);
    const full = call({
      callId: 'call-2',
      purpose: 'sales',
      state: 'ringing',
      targetAgentId: 'agent-1',
      ringingAt: 1_500,
      rungConnIds: ['ac', 'ac2'],
      callerAddress: '203.0.113.7',
      visitor: { ...visitor(), connId: null },
    });
    await peer.createCall(full);
    t.strictSame(await store.getCall('call-2'), full, 'with every property set');
    t.equal(await store.getCall('unknown'), undefined);
    await store.createCall(call({ state: 'ringing' }));
    t.equal((await peer.getCall('call-1'))?.state, 'ringing', 'written again: replaced');
  });

  t.test('updateCall applies its patch only from the given states', async (t) => {
    const [store, peer] = await open(t);
    await store.createCall(
      call({ state: 'ringing', targetAgentId: 'agent-1', rungConnIds: ['a'] }),
    );
    t.equal(
      await peer.updateCall('call-1', ['queued'], { state: 'ended' }),
      undefined,
      'wrong state',
    );
    t.equal((await store.getCall('call-1'))?.state, 'ringing', 'and nothing changed');
    t.equal(await store.updateCall('nope', ['ringing'], { state: 'ended' }), undefined, 'no call');
    t.equal(await store.getCall('nope'), undefined, 'and none made');

    const answered = await peer.updateCall('call-1', ['queued', 'ringing'], {
      state: 'answered',
      agent: agent(),
      answeredAt: 2_000,
      rungConnIds: [],
    });
    const expected = call({
      state: 'answered',
      targetAgentId: 'agent-1',
      agent: agent(),
      answeredAt: 2_000,
    });
    t.strictSame(answered, expected, 'the updated call is returned');
    t.strictSame(await store.getCall('call-1'), expected, 'and stored');
    t.strictSame(
      await store.updateCall('call-1', ['answered'], { endReason: 'x' }),
      { ...expected, endReason: 'x' },
      'a patch without a state keeps it',
    );
    t.strictSame(
      await peer.updateCall('call-1', ['answered'], { endReason: undefined, agent: undefined }),
      { ...expected, agent: undefined },
      'a property patched to undefined reads back undefined',
    );
    t.strictSame(await store.updateCall('call-1', ['answered'], {}), {
      ...expected,
      agent: undefined,
    });
  });

  t.test(`of ${RACERS} concurrent updates from one state, exactly one wins`, async (t) => {
    const [store, peer] = await open(t);
    await store.createCall(call({ state: 'ringing' }));
    const results = await Promise.all(
      Array.from({ length: RACERS }, (_, i) =>
        (i % 2 ? store : peer).updateCall('call-1', ['ringing'], {
          state: 'answered',
          agent: agent(`agent-${i}`),
        }),
      ),
    );
    const winners = results.filter((r) => r !== undefined);
    t.equal(winners.length, 1, 'one winner');
    t.strictSame(await store.getCall('call-1'), winners[0], 'its patch is the one stored');
    t.strictSame(ids(await peer.callsOf('acme', winners[0]!.agent!.id)), ['call-1']);
    t.strictSame((await store.stats()).callsByState, { answered: 1 }, 'counted once');
  });

  t.test('patches to different properties from two nodes at once both apply', async (t) => {
    const [store, peer] = await open(t);
    await store.createCall(call({ state: 'answered', agent: agent() }));
    // What two nodes do when both sides of a call lose their connection at the same moment.
    const [one, two] = await Promise.all([
      store.updateCall('call-1', ['answered'], { visitor: { ...visitor(), connId: null } }),
      peer.updateCall('call-1', ['answered'], { agent: { ...agent(), connId: null } }),
    ]);
    t.ok(one !== undefined && two !== undefined, 'neither is refused: the state did not change');
    const stored = await store.getCall('call-1');
    t.equal(stored?.visitor.connId, null, "the visitor's side is kept");
    t.equal(stored?.agent?.connId, null, "and the agent's");

    await peer.updateCall('call-1', ['answered'], { visitor: visitor('visitor-2') });
    t.strictSame(
      ids(await store.callsOf('acme', 'visitor-2')),
      ['call-1'],
      'a new party is indexed',
    );
  });

  t.test('callsOf lists the live calls of their visitor and answering agent', async (t) => {
    const [store, peer] = await open(t);
    await store.createCall(call({ callId: 'q', state: 'queued' }));
    await peer.createCall(call({ callId: 'r', state: 'ringing', targetAgentId: 'agent-1' }));
    await store.createCall(call({ callId: 'g', companyId: 'globex', visitor: visitor() }));
    t.strictSame(ids(await peer.callsOf('acme', 'visitor-1')), ['q', 'r']);
    t.strictSame(ids(await store.callsOf('acme', 'agent-1')), [], 'ringing: not yet the agent’s');
    t.strictSame(ids(await store.callsOf('globex', 'visitor-1')), ['g'], 'per company');

    await store.updateCall('r', ['ringing'], { state: 'answered', agent: agent() });
    t.strictSame(ids(await peer.callsOf('acme', 'agent-1')), ['r'], 'answered: the agent’s too');
    await peer.updateCall('r', ['answered'], { state: 'ended', endedAt: 3_000 });
    t.strictSame(ids(await store.callsOf('acme', 'agent-1')), [], 'ended: no longer');
    t.strictSame(ids(await store.callsOf('acme', 'visitor-1')), ['q']);
    await store.createCall(call({ callId: 'f', state: 'failed' }));
    t.strictSame(
      ids(await store.callsOf('acme', 'visitor-1')),
      ['q'],
      'a final call is never live',
    );
    t.strictSame(await store.callsOf('acme', 'nobody'), []);
  });

  t.test('deleteCall forgets the call and its indexes and counts', async (t) => {
    const [store, peer] = await open(t);
    await store.createCall(call({ state: 'answered', agent: agent() }));
    await store.createCall(call({ callId: 'other' }));
    await peer.deleteCall('call-1');
    t.equal(await store.getCall('call-1'), undefined);
    t.strictSame(await store.callsOf('acme', 'agent-1'), [], "gone from the agent's calls");
    t.strictSame(ids(await store.callsOf('acme', 'visitor-1')), ['other'], "and the visitor's");
    t.strictSame((await peer.stats()).callsByState, { queued: 1 }, 'and the counts');
    await store.deleteCall('call-1');
    await store.deleteCall('never');
    t.equal(await store.updateCall('call-1', ['answered'], { state: 'ended' }), undefined);
    t.strictSame((await peer.stats()).callsByState, { queued: 1 }, 'deleting twice is harmless');
  });

  t.test('restoreCall puts back a lost call, never one there or deleted lately', async (t) => {
    const [store, peer] = await open(t);
    const answered = call({ state: 'answered', agent: agent() });
    t.equal(await store.restoreCall(answered), true, 'a call the store does not know is written');
    t.strictSame(await peer.getCall('call-1'), answered);
    t.strictSame(ids(await peer.callsOf('acme', 'agent-1')), ['call-1'], 'and indexed');
    t.strictSame((await peer.stats()).callsByState, { answered: 1 }, 'and counted');
    const stale = call({ state: 'queued' });
    t.equal(await peer.restoreCall(stale), false, 'a call the store holds is left as it is');
    t.equal((await store.getCall('call-1'))?.state, 'answered');
    await peer.deleteCall('call-1');
    t.equal(
      await store.restoreCall(answered),
      false,
      'a call deleted since (it ended on another node) stays deleted',
    );
    t.equal(await store.getCall('call-1'), undefined);
    t.strictSame((await peer.stats()).callsByState, {});
    await store.deleteCall('never-created');
    t.equal(
      await peer.restoreCall(call({ callId: 'never-created' })),
      false,
      'a delete of a call the store lost still marks it',
    );
  });

  t.test('the same ids in two companies never mix', async (t) => {
    const [store, peer] = await open(t);
    for (const company of ['acme', 'globex']) {
      await store.addConnection(company, 'u', `${company}-conn`);
      await store.agentPresent(company, { id: 'u', name: company });
      await store.joinRoom(company, 'lobby', {
        connId: 'c',
        userId: 'u',
        role: 'agent',
        name: company,
      });
      await store.enqueue(company, `${company}-call`);
      await store.recordQueueWait(company, { at: 1, waitMs: company.length });
      await store.createCall(call({ callId: `${company}-call`, companyId: company }));
    }
    await peer.setAgentStatus('acme', 'u', 'away', null);
    await peer.countMissedRing('acme', 'u');
    await peer.claimRing('acme', 'u', 'x');
    for (const company of ['acme', 'globex']) {
      t.strictSame(await peer.connectionsOf(company, 'u'), [`${company}-conn`], company);
      t.strictSame(
        (await peer.listAgents(company)).map((a) => a.name),
        [company],
      );
      t.strictSame(
        (await peer.roomMembers(company, 'lobby', true)).map((m) => m.name),
        [company],
      );
      t.strictSame(await peer.queue(company), [`${company}-call`]);
      t.strictSame(await peer.recentQueueWaits(company, 1), [{ at: 1, waitMs: company.length }]);
      t.strictSame(ids(await peer.callsOf(company, 'visitor-1')), [`${company}-call`]);
    }
    t.equal((await store.getAgent('globex', 'u'))?.status, 'online', 'status apart');
    t.equal((await store.getAgent('globex', 'u'))?.missedRings, 0, 'missed rings apart');
    t.equal(await store.claimRing('globex', 'u', 'y'), true, 'rings apart');
  });

  t.test("ids with ':', '%', NUL and lone surrogates stay apart and read back", async (t) => {
    const [store, peer] = await open(t);
    // Pairs that a naive join of company and id would send to one key, for each key shape.
    const pairs = [
      ...['u', 'agent', 'ring', 'room'].flatMap((infix) => [
        [`a:${infix}:b`, 'c'],
        ['a', `b:${infix}:c`],
      ]),
      ['a:b', 'c'],
      ['a', 'b:c'],
      ['a%3Ab', 'c'],
      ['a\u0000b', 'c'],
      ['a', 'b\u0000c'],
      ['\ud800', 'x'],
      ['\udc00', 'x'],
      ['\ud83d\ude00', 'x'],
      ['', ':'],
      [':', ''],
    ] as const;
    const tagOf = (company: string, id: string) => JSON.stringify([company, id]);
    for (const [company, id] of pairs) {
      const tag = tagOf(company, id);
      t.equal(await store.addConnection(company, id, `${id}:${tag}`), 1, `${tag}: one connection`);
      t.equal(await peer.claimRing(company, id, tag), true, `${tag}: its own ring`);
      t.equal(await store.enqueue(company, id), true);
      const member = { connId: id, userId: id, role: 'admin', name: tag } as const;
      t.equal(await peer.joinRoom(company, id, member), true, `${tag}: its own room`);
      await store.agentPresent(company, { id, name: tag });
    }
    for (const [company, id] of pairs) {
      const tag = tagOf(company, id);
      const sameCompany = pairs.filter(([other]) => other === company);
      t.strictSame(await peer.connectionsOf(company, id), [`${id}:${tag}`], `${tag}: read back`);
      t.strictSame(
        await store.queue(company),
        sameCompany.map(([, other]) => other),
        'queue',
      );
      t.strictSame(
        (await peer.listAgents(company)).map((a) => a.name),
        sameCompany.map(([c, other]) => tagOf(c, other)),
        `${tag}: agents`,
      );
      t.strictSame(
        (await store.roomMembers(company, id, true)).map((m) => m.name),
        [tag],
      );
      await peer.releaseRing(company, id, tag);
      t.equal(await store.claimRing(company, id, 'again'), true, `${tag}: released by its holder`);
    }
    const odd = call({ callId: 'x:\u0000\ud800', visitor: visitor('y:\udfff') });
    await store.createCall(odd);
    t.strictSame(await peer.getCall(odd.callId), odd, 'a call with odd ids reads back');
    t.strictSame(ids(await peer.callsOf('acme', 'y:\udfff')), [odd.callId]);
    t.strictSame(await peer.callsOf('acme', 'y:\udc00'), [], 'a neighbouring surrogate is another');
  });
}

t.test('MemoryStore', async (t) => {
  contract(t, async () => {
    const store = new MemoryStore();
    return [store, store];
  });
});

t.test('RedisStore', async (t) => {
  const url = redisUrlOrSkip(t);
  if (url === undefined) return;
  const [one, two] = await Promise.all([openRedis(t, url), openRedis(t, url)]);
  const stores = (keyPrefix: string, ringClaimTtlMs = RING_CLAIM_TTL_MS) =>
    [
      new RedisStore(one, { keyPrefix, ringClaimTtlMs }),
      new RedisStore(two, { keyPrefix, ringClaimTtlMs }),
    ] as const;

  contract(t, async (t) => stores(prefixForTest(t, one)));

  t.test('a ring claim expires after ringClaimTtlMs unless released', async (t) => {
    const ttlMs = 200;
    const [store, peer] = stores(prefixForTest(t, one), ttlMs);
    const claimedAt = Date.now();
    t.equal(await store.claimRing('acme', 'agent-1', 'call-a'), true);
    t.equal(await peer.claimRing('acme', 'agent-1', 'call-b'), false, 'held');
    while (!(await peer.claimRing('acme', 'agent-1', 'call-b'))) {
      if (Date.now() - claimedAt > 10 * ttlMs) throw new Error('the claim never expired');
      await new Promise((resolve) => setTimeout(resolve, ttlMs / 10));
    }
    t.ok(Date.now() - claimedAt >= ttlMs - 5, 'free once its time has passed');
  });

  t.test('every key is under the prefix and of the documented shape', async (t) => {
    const prefix = prefixForTest(t, one);
    const [store] = stores(prefix);
    await store.addConnection('acme', 'u', 'c');
    await store.agentPresent('acme', { id: 'u', name: 'U' });
    await store.claimRing('acme', 'u', 'call-1');
    await store.claimCallRequest('acme', 'u', 'call-1');
    await store.joinRoom('acme', 'lobby', { connId: 'c', userId: 'u', role: 'agent', name: 'U' });
    await store.enqueue('acme', 'call-1');
    await store.recordQueueWait('acme', { at: 1, waitMs: 1 });
    await store.createCall(call({ agent: agent('u'), state: 'answered' }));
    await store.createCall(call({ callId: 'call-2' }));
    await store.deleteCall('call-2');
    const shapes = [
      /^c:acme:u:[^:]+:(conns|calls)$/,
      /^c:acme:(agent|ring|request|room):[^:]+$/,
      /^c:acme:room:[^:]+:staff$/,
      /^c:acme:(agents|queue|waits)$/,
      /^call:[^:]+$/,
      /^ended:[^:]+$/,
      /^stats:(rooms|calls)$/,
    ];
    const keys = (await keysUnder(one, prefix)).map((k) => k.slice(prefix.length)).sort();
    t.equal(keys.length, 15, keys.join(' '));
    for (const key of keys)
      t.ok(
        shapes.some((shape) => shape.test(key)),
        key,
      );
  });

  t.test('a malformed record is refused with a stable reason', async (t) => {
    const prefix = prefixForTest(t, one);
    const [store] = stores(prefix);
    await store.createCall(call());
    const refused = { name: 'StateStoreError', reason: StoreFault.BadRecord };
    await one.hset(`${prefix}call:call-1`, 'state', '"lost"');
    await t.rejects(store.getCall('call-1'), refused, 'a value outside its schema');
    await one.hset(`${prefix}call:call-1`, 'state', 'not json');
    await t.rejects(store.getCall('call-1'), refused, 'a value that is not JSON');
  });

  t.test('a client with its own key prefix is refused', async (t) => {
    const prefixed = new Redis(url, { lazyConnect: true, keyPrefix: 'other:' });
    t.teardown(() => prefixed.disconnect());
    t.throws(() => new RedisStore(prefixed, { ringClaimTtlMs: 1_000 }), TypeError);
    t.throws(() => new RedisStore(one, { ringClaimTtlMs: 0 }), RangeError);
  });
});
