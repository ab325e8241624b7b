/**
 * What the client's reconnect policy alone costs a crowd after a restart, apart from the
 * server's speed and the load generator's: clients that see the drop at the moment of the kill
 * (each on its own machine, unlike the benchmark's, which share one core) retry through the
 * policy, every attempt before the new server listens is refused at once, and the figure is
 * when the last of them makes its first attempt after that. It runs the client library's own
 * policy code, so it moves with it.
 */
import type { ReconnectPolicy } from '../../client-lib/reconnect-policy.js';
import { median } from './stats.js';

/** When one client makes its first attempt at or after `downtimeMs` (ms from the drop). */
function firstAttemptAfter(policy: ReconnectPolicy, downtimeMs: number): number {
  let at = 0;
  for (let retryCount = 0; ; retryCount++) {
    const delay = policy.nextRetryDelayMs({
      retryCount,
      elapsedMs: at,
      closeCode: 1006,
      reason: '',
    });
    if (delay === null) return Number.NaN; // gave up: never back
    at += delay;
    if (at >= downtimeMs) return at;
  }
}

/**
 * For `clients` clients dropped together and a server down for `downtimeMs`: when the last
 * one makes its first attempt after the server is back, in ms from the drop (the median of
 * `trials` draws, the policies being random).
 */
export function policyTailMs(
  policy: () => ReconnectPolicy,
  downtimeMs: number,
  clients: number,
  trials = 5,
): number {
  const tails = Array.from({ length: trials }, () => {
    let last = 0;
    for (let n = 0; n < clients; n++) {
      last = Math.max(last, firstAttemptAfter(policy(), downtimeMs));
    }
    return last;
  });
  return median(tails);
}
