/**
 * The estimated wait of a queued visitor (`estimatedWaitSec` of `call_request`'s ack,
 * `queue_position` and `call_waiting`), from the company's recent queue waits.
 *
 * The estimate is the visitor's position times the median of the recent waits (queued to
 * answered, calls answered from the queue only). The median rather than the mean: one call
 * that sat while every agent was in a long call would otherwise inflate every estimate for the
 * next hour. Scaling by position treats each call ahead as one more typical wait; it
 * overestimates when several agents answer in parallel, which a waiting visitor minds less
 * than an estimate that keeps running out.
 */
import type { QueueWaitSample } from '../state/store.js';

/** Fewer recent samples than this and no estimate is given: two calls are an anecdote. */
export const MIN_QUEUE_WAIT_SAMPLES = 3;

/** The median of `values` (which it does not modify); undefined when empty. */
export function median(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * Estimates in whole seconds for the queue positions, from recent waits: a function of the
 * position that returns undefined (no estimate) when the history is too thin.
 */
export function waitEstimator(
  samples: readonly QueueWaitSample[],
): (position: number) => number | undefined {
  if (samples.length < MIN_QUEUE_WAIT_SAMPLES) return () => undefined;
  const typicalMs = median(samples.map((s) => s.waitMs))!;
  return (position) => Math.max(0, Math.round((position * typicalMs) / 1000));
}

/** `{ estimatedWaitSec }` when there is an estimate, else nothing (to spread into a message). */
export function estimateField(seconds: number | undefined): { estimatedWaitSec?: number } {
  return seconds === undefined ? {} : { estimatedWaitSec: seconds };
}
