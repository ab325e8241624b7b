/**
 * Visitors' ratings of their calls: which calls may be rated, and the one write that rates
 * one. The call log's upsert never names the rating columns, so a rating survives any late
 * transition row of its call.
 */
import type { Kysely } from 'kysely';
import type { CallState } from '../client-lib/protocol.js';
import { isFinalCallState } from '../common/call-state.js';
import type { Schema } from './schema.js';

/** How long after a call ended its visitor may rate it. */
export const RATING_WINDOW_MS = 24 * 3_600_000;

/** Why a rating was refused; the web host maps each to an error code. */
export type RatingRefusal =
  /** No such call of this visitor in this company (whether it exists elsewhere is not told). */
  | 'not_found'
  /** Still queued, ringing or answered, or its final row is not in the log yet. */
  | 'not_ended'
  /** Over, but never answered (missed, declined, abandoned, failed): nothing to rate. */
  | 'not_rateable'
  | 'already_rated'
  /** Ended more than {@link RATING_WINDOW_MS} ago. */
  | 'window_closed';

/** A rating to store. */
export interface NewRating {
  readonly callId: string;
  readonly companyId: string;
  readonly visitorId: string;
  /** 1 to 5. */
  readonly stars: number;
  /** Trimmed and non-empty, or null. */
  readonly comment: string | null;
  /** When it is given (ms since the epoch). */
  readonly now: number;
}

/**
 * Rates a call of the visitor's own, answered and ended within {@link RATING_WINDOW_MS}, that
 * has no rating yet. Writes nothing when it refuses.
 */
export async function rateCall(
  db: Kysely<Schema>,
  rating: NewRating,
): Promise<{ ok: true; ratedAt: number } | { ok: false; reason: RatingRefusal }> {
  const row = await db
    .selectFrom('calls')
    .select(['state', 'answered_at', 'ended_at', 'rating'])
    .where('id', '=', rating.callId)
    .where('company_id', '=', rating.companyId)
    .where('visitor_id', '=', rating.visitorId)
    .executeTakeFirst();
  if (row === undefined) return { ok: false, reason: 'not_found' };
  if (!isFinalCallState(row.state as CallState)) return { ok: false, reason: 'not_ended' };
  if (row.state !== 'ended' || row.answered_at === null) {
    return { ok: false, reason: 'not_rateable' };
  }
  if (row.rating !== null) return { ok: false, reason: 'already_rated' };
  if (row.ended_at === null || rating.now - row.ended_at > RATING_WINDOW_MS) {
    return { ok: false, reason: 'window_closed' };
  }
  // Conditional on no rating yet: of two ratings racing, exactly one is stored.
  const result = await db
    .updateTable('calls')
    .set({ rating: rating.stars, rating_comment: rating.comment, rated_at: rating.now })
    .where('id', '=', rating.callId)
    .where('rating', 'is', null)
    .executeTakeFirst();
  if (Number(result.numUpdatedRows) === 0) return { ok: false, reason: 'already_rated' };
  return { ok: true, ratedAt: rating.now };
}
