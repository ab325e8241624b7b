/** The call log: one row per call, rewritten at every transition; queries for the REST API. */
import { sql, type Expression, type Kysely } from 'kysely';
import type { CallState } from '../client-lib/protocol.js';
import { callDurationSec, LIVE_CALL_STATES } from '../common/call-state.js';
import type { CallRow, NewCallRow, Schema } from './schema.js';

/** A call as the signaling server knows it: the fields of its state record that the log keeps. */
export interface LoggedCall {
  readonly callId: string;
  readonly companyId: string;
  readonly callType: NewCallRow['call_type'];
  readonly purpose: string | undefined;
  readonly state: CallState;
  readonly visitor: { readonly id: string; readonly name: string };
  readonly targetAgentId: string | undefined;
  readonly agent: { readonly id: string; readonly name: string } | undefined;
  readonly queuedAt: number | undefined;
  readonly ringingAt: number | undefined;
  readonly answeredAt: number | undefined;
  readonly endedAt: number | undefined;
  readonly endReason: string | undefined;
}

/** The row for a call as the signaling server knows it now. */
export function rowOf(call: LoggedCall, now = Date.now()): NewCallRow {
  return {
    id: call.callId,
    company_id: call.companyId,
    visitor_id: call.visitor.id,
    visitor_name: call.visitor.name,
    target_agent_id: call.targetAgentId ?? null,
    agent_id: call.agent?.id ?? null,
    agent_name: call.agent?.name ?? null,
    call_type: call.callType,
    purpose: call.purpose ?? null,
    state: call.state,
    end_reason: call.endReason ?? null,
    created_at: call.queuedAt ?? call.ringingAt ?? now,
    queued_at: call.queuedAt ?? null,
    ringing_at: call.ringingAt ?? null,
    answered_at: call.answeredAt ?? null,
    ended_at: call.endedAt ?? null,
    duration_sec: callDurationSec(call) ?? null,
    updated_at: now,
  };
}

/** Rows per INSERT statement: 18 parameters each, well under SQLite's 32,766 variables. */
const UPSERT_CHUNK_ROWS = 500;

/**
 * Where a state sits in a call's life: a row may move forward or stay, never back. Written
 * once in SQL so that an old row can never overwrite a newer state, whatever order writes
 * arrive in (the call log only ever sends the newest row, this makes that a property of the
 * table rather than of the writer).
 */
function stateRank(state: Expression<string>) {
  return sql<number>`(case ${state} when 'queued' then 0 when 'ringing' then 0 when 'answered' then 1 else 2 end)`;
}

/**
 * Inserts or updates calls' rows, each carrying the whole call (so writing a row twice is a
 * no-op and the newest write wins), in one transaction. A row never moves a call back from a
 * final state to a live one, or from answered to unanswered.
 */
export async function upsertCalls(db: Kysely<Schema>, rows: readonly NewCallRow[]): Promise<void> {
  if (rows.length === 0) return;
  const write = async (trx: Kysely<Schema>) => {
    for (let i = 0; i < rows.length; i += UPSERT_CHUNK_ROWS) {
      await trx
        .insertInto('calls')
        .values(rows.slice(i, i + UPSERT_CHUNK_ROWS))
        .onConflict((oc) =>
          oc
            .column('id')
            .doUpdateSet((eb) => ({
              company_id: eb.ref('excluded.company_id'),
              visitor_id: eb.ref('excluded.visitor_id'),
              visitor_name: eb.ref('excluded.visitor_name'),
              target_agent_id: eb.ref('excluded.target_agent_id'),
              agent_id: eb.ref('excluded.agent_id'),
              agent_name: eb.ref('excluded.agent_name'),
              call_type: eb.ref('excluded.call_type'),
              purpose: eb.ref('excluded.purpose'),
              state: eb.ref('excluded.state'),
              end_reason: eb.ref('excluded.end_reason'),
              created_at: eb.ref('excluded.created_at'),
              queued_at: eb.ref('excluded.queued_at'),
              ringing_at: eb.ref('excluded.ringing_at'),
              answered_at: eb.ref('excluded.answered_at'),
              ended_at: eb.ref('excluded.ended_at'),
              duration_sec: eb.ref('excluded.duration_sec'),
              updated_at: eb.ref('excluded.updated_at'),
            }))
            .where(({ eb, ref }) =>
              eb(stateRank(ref('calls.state')), '<=', stateRank(ref('excluded.state'))),
            ),
        )
        .execute();
    }
  };
  // One statement is atomic on its own; several share one transaction (and one commit).
  if (rows.length <= UPSERT_CHUNK_ROWS) await write(db);
  else await db.transaction().execute(write);
}

/** Inserts or updates one call's row; see {@link upsertCalls}. */
export function upsertCall(db: Kysely<Schema>, row: NewCallRow): Promise<void> {
  return upsertCalls(db, [row]);
}

/**
 * Closes every call a previous run left live (it was killed mid-call): state `failed`, reason
 * `server_restart`. Returns how many rows changed.
 */
export async function closeInterruptedCalls(db: Kysely<Schema>, now = Date.now()): Promise<number> {
  const result = await db
    .updateTable('calls')
    .set({ state: 'failed', end_reason: 'server_restart', ended_at: now, updated_at: now })
    .where('state', 'in', LIVE_CALL_STATES)
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/** Who is asking: an agent sees its own calls, an admin its whole company's. */
export interface Viewer {
  companyId: string;
  userId: string;
  role: 'agent' | 'admin';
}

/** Filters of {@link listCalls} and {@link callStats}. */
export interface CallFilter {
  state?: CallState;
  agentId?: string;
  /** Created at or after (ms). */
  from?: number;
  /** Created before (ms). */
  to?: number;
}

function scoped(db: Kysely<Schema>, viewer: Viewer, filter: CallFilter) {
  let q = db.selectFrom('calls').where('company_id', '=', viewer.companyId);
  if (viewer.role !== 'admin') {
    q = q.where((eb) =>
      eb.or([eb('agent_id', '=', viewer.userId), eb('target_agent_id', '=', viewer.userId)]),
    );
  }
  if (filter.agentId !== undefined) {
    const agentId = filter.agentId;
    q = q.where((eb) => eb.or([eb('agent_id', '=', agentId), eb('target_agent_id', '=', agentId)]));
  }
  if (filter.state !== undefined) q = q.where('state', '=', filter.state);
  if (filter.from !== undefined) q = q.where('created_at', '>=', filter.from);
  if (filter.to !== undefined) q = q.where('created_at', '<', filter.to);
  return q;
}

/** A page of calls, newest first; `cursor` is the last id of the previous page. */
export async function listCalls(
  db: Kysely<Schema>,
  viewer: Viewer,
  filter: CallFilter,
  page: { limit: number; cursor?: string },
): Promise<{ calls: CallRow[]; nextCursor: string | null }> {
  let q = scoped(db, viewer, filter).selectAll();
  if (page.cursor !== undefined) q = q.where('id', '<', page.cursor);
  const rows = await q
    .orderBy('id', 'desc')
    .limit(page.limit + 1)
    .execute();
  const calls = rows.slice(0, page.limit);
  const nextCursor = rows.length > page.limit ? calls[calls.length - 1]!.id : null;
  return { calls, nextCursor };
}

/** The figures supervisors manage by; definitions in docs/API.md. */
export interface CallStats {
  offered: number;
  answered: number;
  missed: number;
  declined: number;
  abandoned: number;
  failed: number;
  /** Answered within the service-level threshold, over offered (0 when nothing was offered). */
  serviceLevel: number;
  averageSpeedOfAnswerSec: number;
  /** Abandoned over offered. */
  abandonmentRate: number;
  averageHandleTimeSec: number;
  /** Mean stars of the rated calls (0 when none), to 2 decimals. */
  averageRating: number;
  /** Calls with a rating. */
  rated: number;
}

/** The {@link CallStats} of the calls `viewer` may see that match `filter`. */
export async function callStats(
  db: Kysely<Schema>,
  viewer: Viewer,
  filter: CallFilter,
  serviceLevelS: number,
): Promise<CallStats> {
  const threshold = serviceLevelS * 1000;
  const row = await scoped(db, viewer, filter)
    .select((eb) => [
      eb.fn.countAll<number>().as('offered'),
      sql<number>`sum(case when answered_at is not null then 1 else 0 end)`.as('answered'),
      sql<number>`sum(case when state = 'missed' then 1 else 0 end)`.as('missed'),
      sql<number>`sum(case when state = 'declined' then 1 else 0 end)`.as('declined'),
      sql<number>`sum(case when state = 'abandoned' then 1 else 0 end)`.as('abandoned'),
      sql<number>`sum(case when state = 'failed' then 1 else 0 end)`.as('failed'),
      sql<number>`sum(case when answered_at is not null and answered_at - created_at <= ${threshold} then 1 else 0 end)`.as(
        'withinLevel',
      ),
      sql<
        number | null
      >`avg(case when answered_at is not null then answered_at - created_at end)`.as('asaMs'),
      // Only calls that ended normally: a call cut by a restart gets its ended_at at the next
      // start, and would count the downtime as talk time.
      sql<
        number | null
      >`avg(case when state = 'ended' and answered_at is not null then ended_at - answered_at end)`.as(
        'ahtMs',
      ),
      sql<number | null>`avg(rating)`.as('averageRating'),
      sql<number>`sum(case when rating is not null then 1 else 0 end)`.as('rated'),
    ])
    .executeTakeFirstOrThrow();
  const offered = Number(row.offered);
  const ratio = (n: number) => (offered === 0 ? 0 : n / offered);
  const round = (n: number, digits = 4) => Math.round(n * 10 ** digits) / 10 ** digits;
  return {
    offered,
    answered: Number(row.answered ?? 0),
    missed: Number(row.missed ?? 0),
    declined: Number(row.declined ?? 0),
    abandoned: Number(row.abandoned ?? 0),
    failed: Number(row.failed ?? 0),
    serviceLevel: round(ratio(Number(row.withinLevel ?? 0))),
    averageSpeedOfAnswerSec: round(Number(row.asaMs ?? 0) / 1000, 2),
    abandonmentRate: round(ratio(Number(row.abandoned ?? 0))),
    averageHandleTimeSec: round(Number(row.ahtMs ?? 0) / 1000, 2),
    averageRating: round(Number(row.averageRating ?? 0), 2),
    rated: Number(row.rated ?? 0),
  };
}
