/** Small statistics helpers for the benchmark reports. */

/** The median of `values` (NaN for none). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((x, y) => x - y);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * The `p`-th percentile (0 to 100, nearest rank) of the first `count` entries of `samples`.
 * Sorts that part of `samples` in place.
 */
export function percentile(samples: Float64Array, count: number, p: number): number {
  if (count === 0) return Number.NaN;
  const part = samples.subarray(0, count).sort();
  const rank = Math.min(count, Math.max(1, Math.ceil((p / 100) * count)));
  return part[rank - 1]!;
}

/** A growable store of float samples (latencies), cheap to append to on a hot path. */
export class Samples {
  private data = new Float64Array(1 << 16);
  /** Samples stored so far. */
  count = 0;

  push(value: number): void {
    if (this.count === this.data.length) {
      const bigger = new Float64Array(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.count++] = value;
  }

  /** The `p`-th percentile of the samples (sorts them). */
  percentile(p: number): number {
    return percentile(this.data, this.count, p);
  }
}
