/**
 * The call log's table layer against a real SQLite file: the row of a call in each state,
 * idempotent upserts where the newest state wins, and the start-up sweep that closes calls a
 * killed server left live (and nothing else). Listing and statistics are covered through the
 * REST API in test/web; the company wall is checked here at the query level too.
 */
import t from 'tap';
import {
  closeInterruptedCalls,
  listCalls,
  rowOf,
  upsertCall,
  upsertCalls,
} from '../../db/calls.js';
import type { Database } from '../../db/database.js';
import type { CallRow } from '../../db/schema.js';
import { ALICE, callRecord, openTestDatabase } from './helpers.js';

const T0 = 1_700_000_000_000;
const NOW = T0 + 3_600_000;

/**
 * The rows, with the columns the call log writes: the rating columns are the visitor's (see
 * test/web/ratings.test.ts), and each must still be unset here.
 */
async function rowsOf(database: Database): Promise<Omit<CallRow, RatingColumn>[]> {
  const rows = await database.db.selectFrom('calls').selectAll().orderBy('id').execute();
  return rows.map(({ rating, rating_comment, rated_at, ...logged }) => {
    if (rating !== null || rating_comment !== null || rated_at !== null) {
      throw new Error(`the call log wrote a rating: ${logged.id}`);
    }
    return logged;
  });
}

type RatingColumn = 'rating' | 'rating_comment' | 'rated_at';

// --- rowOf ---------------------------------------------------------------------------------

t.test('a queued call becomes a row created at its queue time, with no agent yet', async (t) => {
  const call = callRecord({ queuedAt: T0, purpose: 'billing', callType: 'video' });
  t.same(rowOf(call, NOW), {
    id: call.callId,
    company_id: 'acme',
    visitor_id: 'visitor-1',
    visitor_name: 'Victor Visitor',
    target_agent_id: null,
    agent_id: null,
    agent_name: null,
    call_type: 'video',
    purpose: 'billing',
    state: 'queued',
    end_reason: null,
    created_at: T0,
    queued_at: T0,
    ringing_at: null,
    answered_at: null,
    ended_at: null,
    duration_sec: null,
    updated_at: NOW,
  });
});

t.test('a ringing direct call is created at its ring time and names its target', async (t) => {
  const call = callRecord({
    state: 'ringing',
    queuedAt: undefined,
    ringingAt: T0 + 5,
    targetAgentId: 'agent-1',
  });
  const row = rowOf(call, NOW);
  t.equal(row.state, 'ringing');
  t.equal(row.created_at, T0 + 5);
  t.equal(row.ringing_at, T0 + 5);
  t.equal(row.queued_at, null);
  t.equal(row.target_agent_id, 'agent-1');
  t.equal(row.agent_id, null, 'nobody answered yet');
  t.equal(row.purpose, null, 'no purpose is null, not undefined');
});

t.test('an answered call names its agent and has no duration until it ends', async (t) => {
  const call = callRecord({ state: 'answered', queuedAt: T0, agent: ALICE, answeredAt: T0 + 7000 });
  const row = rowOf(call, NOW);
  t.equal(row.state, 'answered');
  t.equal(row.agent_id, 'agent-1');
  t.equal(row.agent_name, 'Alice Agent');
  t.equal(row.answered_at, T0 + 7000);
  t.equal(row.ended_at, null);
  t.equal(row.duration_sec, null);
});

t.test('an ended call lasts from answer to end, in whole seconds rounded', async (t) => {
  const ended = (ms: number) =>
    rowOf(
      callRecord({
        state: 'ended',
        queuedAt: T0,
        agent: ALICE,
        answeredAt: T0 + 1000,
        endedAt: T0 + 1000 + ms,
        endReason: 'hangup',
      }),
      NOW,
    );
  t.equal(ended(61_499).duration_sec, 61);
  t.equal(ended(61_500).duration_sec, 62);
  t.equal(ended(0).duration_sec, 0);
  t.equal(ended(-2000).duration_sec, 0, 'a clock stepping back never makes it negative');
  const row = ended(90_000);
  t.equal(row.state, 'ended');
  t.equal(row.end_reason, 'hangup');
  t.equal(row.ended_at, T0 + 91_000);
  t.equal(row.created_at, T0, 'created_at stays the queue time');
});

t.test('calls that end unanswered have an end and a reason but no duration', async (t) => {
  const cases = [
    { state: 'missed', endReason: 'ring_timeout' },
    { state: 'missed', endReason: 'queue_timeout' },
    { state: 'declined', endReason: 'declined' },
    { state: 'abandoned', endReason: 'cancelled' },
    { state: 'abandoned', endReason: 'disconnected' },
  ] as const;
  for (const { state, endReason } of cases) {
    const row = rowOf(callRecord({ state, endReason, queuedAt: T0, endedAt: T0 + 3000 }), NOW);
    t.equal(row.state, state);
    t.equal(row.end_reason, endReason);
    t.equal(row.ended_at, T0 + 3000);
    t.equal(row.answered_at, null);
    t.equal(row.duration_sec, null, `${state}/${endReason} has no duration`);
  }
});

// --- upsertCall ----------------------------------------------------------------------------

t.test('writing the same row twice leaves one identical row', async (t) => {
  const database = await openTestDatabase(t);
  const row = rowOf(callRecord({ queuedAt: T0 }), NOW);
  await upsertCall(database.db, row);
  await upsertCall(database.db, row);
  t.same(await rowsOf(database), [row]);
});

t.test("each transition's row replaces the previous one: the newest state wins", async (t) => {
  const database = await openTestDatabase(t);
  const queued = callRecord({ queuedAt: T0 });
  const answered = { ...queued, state: 'answered' as const, agent: ALICE, answeredAt: T0 + 4000 };
  const ended = {
    ...answered,
    state: 'ended' as const,
    endedAt: T0 + 64_000,
    endReason: 'hangup',
  };
  await upsertCall(database.db, rowOf(queued, T0));
  await upsertCall(database.db, rowOf(answered, T0 + 4000));
  await upsertCall(database.db, rowOf(ended, T0 + 64_000));
  t.same(await rowsOf(database), [rowOf(ended, T0 + 64_000)]);
});

t.test('an older row arriving late never moves a call back', async (t) => {
  const database = await openTestDatabase(t);
  const queued = callRecord({ queuedAt: T0 });
  const answered = { ...queued, state: 'answered' as const, agent: ALICE, answeredAt: T0 + 4000 };
  const ended = { ...answered, state: 'ended' as const, endedAt: T0 + 9000, endReason: 'hangup' };
  await upsertCall(database.db, rowOf(ended, T0 + 9000));
  await upsertCall(database.db, rowOf(answered, T0 + 4000));
  await upsertCall(database.db, rowOf(queued, T0));
  t.same(await rowsOf(database), [rowOf(ended, T0 + 9000)], 'final stays final');

  const other = callRecord({ queuedAt: T0 });
  const otherAnswered = { ...other, state: 'answered' as const, agent: ALICE, answeredAt: T0 + 1 };
  await upsertCall(database.db, rowOf(otherAnswered, T0 + 1));
  await upsertCall(database.db, rowOf(other, T0));
  const [, second] = await rowsOf(database);
  t.equal(second?.state, 'answered', 'answered never goes back to queued');
});

t.test('a batch larger than one statement is written whole', async (t) => {
  const database = await openTestDatabase(t);
  const rows = Array.from({ length: 1234 }, (_, i) => rowOf(callRecord({ queuedAt: T0 + i }), NOW));
  await upsertCalls(database.db, rows);
  t.same(await rowsOf(database), rows);
  const later = rows.map((r) => ({ ...r, state: 'abandoned', end_reason: 'cancelled' }));
  await upsertCalls(database.db, later);
  const states = new Set((await rowsOf(database)).map((r) => r.state));
  t.same([...states], ['abandoned'], 'and updated whole');
  await upsertCalls(database.db, []);
  t.equal((await rowsOf(database)).length, 1234, 'an empty batch writes nothing');
});

// --- closeInterruptedCalls -----------------------------------------------------------------

t.test(
  'the start-up sweep fails live calls as server_restart and touches nothing else',
  async (t) => {
    const database = await openTestDatabase(t);
    const live = [
      callRecord({ state: 'queued', queuedAt: T0 }),
      callRecord({
        state: 'ringing',
        queuedAt: undefined,
        ringingAt: T0,
        targetAgentId: 'agent-1',
      }),
      callRecord({ state: 'answered', queuedAt: T0, agent: ALICE, answeredAt: T0 + 1000 }),
    ];
    const final = [
      callRecord({
        state: 'ended',
        queuedAt: T0,
        agent: ALICE,
        answeredAt: T0 + 1000,
        endedAt: T0 + 5000,
        endReason: 'hangup',
      }),
      callRecord({
        state: 'missed',
        queuedAt: T0,
        endedAt: T0 + 30_000,
        endReason: 'queue_timeout',
      }),
      callRecord({ state: 'declined', queuedAt: T0, endedAt: T0 + 2000, endReason: 'declined' }),
      callRecord({ state: 'abandoned', queuedAt: T0, endedAt: T0 + 2000, endReason: 'cancelled' }),
      callRecord({
        state: 'failed',
        queuedAt: T0,
        endedAt: T0 + 2000,
        endReason: 'server_restart',
      }),
    ];
    await upsertCalls(
      database.db,
      [...live, ...final].map((c) => rowOf(c, T0 + 100)),
    );

    t.equal(await closeInterruptedCalls(database.db, NOW), 3, 'three live calls closed');
    const rows = new Map((await rowsOf(database)).map((r) => [r.id, r]));
    for (const call of live) {
      const row = rows.get(call.callId)!;
      t.match(
        row,
        { state: 'failed', end_reason: 'server_restart', ended_at: NOW, updated_at: NOW },
        `the ${call.state} call is failed`,
      );
      t.equal(row.created_at, T0, 'its history is kept');
    }
    t.equal(rows.get(live[2]!.callId)?.answered_at, T0 + 1000);
    for (const call of final) {
      t.same(rows.get(call.callId), rowOf(call, T0 + 100), `the ${call.state} call is untouched`);
    }
    t.equal(await closeInterruptedCalls(database.db, NOW + 1), 0, 'a second sweep finds nothing');
  },
);

// --- The company wall ----------------------------------------------------------------------

t.test('listing calls never crosses companies, and an agent sees only its own', async (t) => {
  const database = await openTestDatabase(t);
  const mine = callRecord({ state: 'answered', agent: ALICE, answeredAt: T0 + 1, queuedAt: T0 });
  const colleague = callRecord({
    state: 'answered',
    agent: { ...ALICE, id: 'agent-2', name: 'Bob' },
    answeredAt: T0 + 2,
    queuedAt: T0 + 1,
  });
  const rung = callRecord({
    state: 'missed',
    queuedAt: undefined,
    ringingAt: T0 + 2,
    targetAgentId: 'agent-1',
    endedAt: T0 + 3,
    endReason: 'ring_timeout',
  });
  const otherCompany = callRecord({ companyId: 'globex', agent: ALICE, queuedAt: T0 + 3 });
  await upsertCalls(
    database.db,
    [mine, colleague, rung, otherCompany].map((c) => rowOf(c, NOW)),
  );
  const ids = async (viewer: Parameters<typeof listCalls>[1]) =>
    (await listCalls(database.db, viewer, {}, { limit: 50 })).calls.map((c) => c.id);

  t.same(
    await ids({ companyId: 'acme', userId: 'admin-1', role: 'admin' }),
    [rung.callId, colleague.callId, mine.callId],
    "an admin sees its company's calls, newest first",
  );
  t.same(
    await ids({ companyId: 'acme', userId: 'agent-1', role: 'agent' }),
    [rung.callId, mine.callId],
    'an agent sees the calls it answered or that rang it',
  );
  t.same(
    await ids({ companyId: 'globex', userId: 'agent-1', role: 'agent' }),
    [otherCompany.callId],
    'the same agent id in another company sees only that company',
  );
});
