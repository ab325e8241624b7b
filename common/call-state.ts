/**
 * Where a call is in its life, as both the signaling server's state and the call log see it.
 */
import type { CallState } from '../client-lib/protocol.js';

/** States in which a call is still going on; every other state is final. */
export const LIVE_CALL_STATES: readonly CallState[] = ['queued', 'ringing', 'answered'];

/** Whether a call in `state` is over. */
export function isFinalCallState(state: CallState): boolean {
  return !LIVE_CALL_STATES.includes(state);
}

/** Whole seconds from answer to end; undefined until an answered call has ended. */
export function callDurationSec(call: {
  readonly answeredAt: number | undefined;
  readonly endedAt: number | undefined;
}): number | undefined {
  if (call.answeredAt === undefined || call.endedAt === undefined) return undefined;
  return Math.max(0, Math.round((call.endedAt - call.answeredAt) / 1000));
}
