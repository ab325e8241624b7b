/**
 * A set of strings that costs nothing more than its one member while it has only one: held as
 * `undefined` (empty), the string itself, or a `Set` from the second member on. A `Set` costs
 * several times the memory of the string, and most of what the server keeps per connection
 * (a connection's rooms, a user's connections) holds exactly one member.
 *
 * Plain functions over the value rather than a class, so that a map can hold the value itself
 * (no wrapper object per entry); {@link CompactSetOf} wraps one where a field wants methods.
 */

/** Empty, one member, or a `Set` of them. A `Set` is kept even if it shrinks back to one. */
export type CompactSet = string | Set<string> | undefined;

/** The set with `value` added (the same `Set` when it already was one). */
export function compactAdd(set: CompactSet, value: string): CompactSet {
  if (set === undefined) return value;
  if (typeof set === 'object') return set.add(value);
  return set === value ? set : new Set([set, value]);
}

/** The set without `value` (the same `Set` when it was one). */
export function compactDelete(set: CompactSet, value: string): CompactSet {
  if (typeof set === 'object') {
    set.delete(value);
    return set;
  }
  return set === value ? undefined : set;
}

export function compactSize(set: CompactSet): number {
  return set === undefined ? 0 : typeof set === 'string' ? 1 : set.size;
}

export function compactHas(set: CompactSet, value: string): boolean {
  return typeof set === 'object' ? set.has(value) : set === value;
}

/** The members, in insertion order. */
export function* compactValues(set: CompactSet): IterableIterator<string> {
  if (typeof set === 'object') yield* set;
  else if (set !== undefined) yield set;
}

/** A {@link CompactSet} with the methods of a `Set` (those the server uses). */
export class CompactSetOf implements Iterable<string> {
  private set: CompactSet;

  get size(): number {
    return compactSize(this.set);
  }

  has(value: string): boolean {
    return compactHas(this.set, value);
  }

  add(value: string): this {
    this.set = compactAdd(this.set, value);
    return this;
  }

  delete(value: string): boolean {
    const had = compactHas(this.set, value);
    this.set = compactDelete(this.set, value);
    return had;
  }

  [Symbol.iterator](): IterableIterator<string> {
    return compactValues(this.set);
  }
}
