/**
 * The Redis key scheme of {@link RedisStore} (described at the top of `redis-store.ts`), and the
 * escape that keeps every id one key component.
 *
 * Ids come from verified tokens and may hold any character, so each id is escaped before it
 * becomes part of a key, a hash field, a set member or a compared value: `%` becomes `%25` and
 * `:` becomes `%3A`, so a component never contains the separator and two different ids never
 * meet in one key. A lone UTF-16 surrogate becomes `%uD800` (four hex digits), because Redis
 * keys are bytes: the client would encode it as U+FFFD, and two ids differing only in a lone
 * surrogate would share a key. Everything else (NUL included) passes through, since Redis keys
 * and values are binary-safe.
 *
 * @module
 */

const ESCAPED = /[%:]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const ESCAPE_SEQUENCE = /%(?:25|3A|u([0-9A-F]{4}))/g;

/** One id as one key component: no `:`, no lone surrogate, and reversible by {@link decodeId}. */
export function encodeId(id: string): string {
  return id.replace(ESCAPED, (c) => {
    if (c === '%') return '%25';
    if (c === ':') return '%3A';
    return `%u${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`;
  });
}

/** The id {@link encodeId} was given. */
export function decodeId(component: string): string {
  return component.replace(ESCAPE_SEQUENCE, (sequence, hex: string | undefined) => {
    if (hex !== undefined) return String.fromCharCode(parseInt(hex, 16));
    return sequence === '%25' ? '%' : ':';
  });
}

/** The keys of one store, all under one prefix. */
export class RedisKeys {
  /** The counter of rooms with at least one member, across companies. */
  readonly roomCount: string;
  /** The hash of stored calls by state (`state` -> count), across companies. */
  readonly callCounts: string;
  /** What a call's key is made of before its escaped id (see {@link call}). */
  readonly callBase: string;

  constructor(readonly prefix: string) {
    this.roomCount = `${prefix}stats:rooms`;
    this.callCounts = `${prefix}stats:calls`;
    this.callBase = `${prefix}call:`;
  }

  /**
   * What every key of the company starts with. Scripts store it in a call's record and build
   * the company's per-user keys from it (see {@link userCalls}).
   */
  company(companyId: string): string {
    return `${this.prefix}c:${encodeId(companyId)}:`;
  }

  /** A list of the user's live connection ids, in the order opened. */
  connections(companyId: string, userId: string): string {
    return `${this.company(companyId)}u:${encodeId(userId)}:conns`;
  }

  /**
   * A set of the ids of the calls the user takes part in. Scripts build the same key from a
   * company base and an escaped user id: keep the two in step.
   */
  userCalls(companyId: string, userId: string): string {
    return `${this.company(companyId)}u:${encodeId(userId)}:calls`;
  }

  /** A hash: one agent's record, a field per property. */
  agent(companyId: string, agentId: string): string {
    return `${this.company(companyId)}agent:${encodeId(agentId)}`;
  }

  /** A sorted set of the company's present agents, scored in the order they came. */
  agents(companyId: string): string {
    return `${this.company(companyId)}agents`;
  }

  /** A string: the id of the call that holds the agent's ring, with an expiry. */
  ring(companyId: string, agentId: string): string {
    return `${this.company(companyId)}ring:${encodeId(agentId)}`;
  }

  /** A string: the id of the call whose request the visitor has under way, with an expiry. */
  callRequest(companyId: string, visitorId: string): string {
    return `${this.company(companyId)}request:${encodeId(visitorId)}`;
  }

  /** A hash of a room's members (connection id -> member JSON). */
  room(companyId: string, roomId: string): string {
    return `${this.company(companyId)}room:${encodeId(roomId)}`;
  }

  /** A hash of a room's agents and admins only, so staff lookups skip the visitors. */
  roomStaff(companyId: string, roomId: string): string {
    return `${this.room(companyId, roomId)}:staff`;
  }

  /** A sorted set of the queued call ids, scored in the order they came. */
  queue(companyId: string): string {
    return `${this.company(companyId)}queue`;
  }

  /** A list of the company's recent queue waits (JSON), oldest first. */
  queueWaits(companyId: string): string {
    return `${this.company(companyId)}waits`;
  }

  /** A hash: one call's record, a field per property. */
  call(callId: string): string {
    return `${this.callBase}${encodeId(callId)}`;
  }

  /** Set for a while when a call is deleted: a restore must not bring it back. */
  callEnded(callId: string): string {
    return `${this.prefix}ended:${encodeId(callId)}`;
  }
}
