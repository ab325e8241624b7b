/**
 * Limits on anonymous load: what one client address or one visitor token may cost a company.
 * Anyone can get visitor tokens, so these limits key on the client's address as well as on the
 * visitor (issue 11); agents and admins, whose tokens take a password, are never counted, so an
 * office of agents behind one NAT is not limited by them.
 *
 * - live visitor connections per address on this node (`MAX_VISITOR_CONNECTIONS_PER_ADDRESS`);
 * - `call_request`s per visitor and per address a minute (`CALL_REQUESTS_PER_VISITOR_PER_MIN`,
 *   `CALL_REQUESTS_PER_ADDRESS_PER_MIN`).
 *
 * The queue's own cap is the store's (`MAX_QUEUED_CALLS_PER_COMPANY`, see
 * `services/call-setup.ts`). These counts are this node's: with several nodes each allows its own
 * share.
 */
import type { Principal } from '../auth/verify.js';
import type { SignalingConfig } from '../config/config.js';
import type { Connection } from './connection.js';
import { SignalingError } from './errors.js';
import type { SignalingMetrics } from './metrics.js';
import { WindowLimiter } from './window-limiter.js';

/** The `limit` label of `calldocker_limit_refusals_total` for each limit. */
export const LimitName = {
  VisitorConnectionsPerAddress: 'visitor_connections_per_address',
  CallRequestsPerVisitor: 'call_requests_per_visitor',
  CallRequestsPerAddress: 'call_requests_per_address',
  QueuedCallsPerCompany: 'queued_calls_per_company',
} as const;

/**
 * Most visitors, and most addresses, whose call requests of the last minute are remembered.
 * Far above what one node serves in a minute; a flood of distinct keys past it makes the oldest
 * forgotten early rather than memory grow (see {@link WindowLimiter}).
 */
export const MAX_TRACKED_KEYS = 50_000;

const MINUTE_MS = 60_000;

/**
 * Settings that put these limits and the queue cap out of reach, for benchmarks and load tests
 * whose thousands of clients all connect from one loopback address.
 */
export const UNLIMITED_ANONYMOUS_LOAD = {
  maxVisitorConnectionsPerAddress: 1_000_000,
  callRequestsPerVisitorPerMin: 1_000_000,
  callRequestsPerAddressPerMin: 1_000_000,
  maxQueuedCallsPerCompany: 1_000_000,
} as const satisfies Partial<SignalingConfig>;

/** The settings {@link VisitorLimits} reads. */
export type VisitorLimitsConfig = Pick<
  SignalingConfig,
  | 'maxVisitorConnectionsPerAddress'
  | 'callRequestsPerVisitorPerMin'
  | 'callRequestsPerAddressPerMin'
>;

/** This node's counts of visitor connections and call requests, per address and per visitor. */
export class VisitorLimits {
  /** Live visitor connections per address key; an address with none has no entry. */
  private readonly connections = new Map<string, number>();
  private readonly requestsPerVisitor: WindowLimiter;
  private readonly requestsPerAddress: WindowLimiter;

  constructor(
    private readonly config: VisitorLimitsConfig,
    private readonly metrics: SignalingMetrics,
    /** A monotonic clock in ms (tests move it); defaults to `performance.now`. */
    now?: () => number,
  ) {
    const window = { windowMs: MINUTE_MS, maxKeys: MAX_TRACKED_KEYS, now };
    this.requestsPerVisitor = new WindowLimiter({
      ...window,
      limit: config.callRequestsPerVisitorPerMin,
    });
    this.requestsPerAddress = new WindowLimiter({
      ...window,
      limit: config.callRequestsPerAddressPerMin,
    });
    metrics.registry.gauge(
      'calldocker_limit_keys',
      'Addresses and visitors the limits on anonymous load hold a count for, by limit',
      () => [
        [{ limit: LimitName.VisitorConnectionsPerAddress }, this.connections.size],
        [{ limit: LimitName.CallRequestsPerVisitor }, this.requestsPerVisitor.size],
        [{ limit: LimitName.CallRequestsPerAddress }, this.requestsPerAddress.size],
      ],
    );
  }

  /**
   * Counts a new connection of `principal` from `address`; false, counting nothing, when it is a
   * visitor's and the address already has its maximum. Every true must be matched by one
   * {@link connectionClosed}.
   */
  connectionOpened(principal: Principal, address: string): boolean {
    if (principal.role !== 'visitor') return true;
    const count = this.connections.get(address) ?? 0;
    if (count >= this.config.maxVisitorConnectionsPerAddress) {
      this.metrics.limitRefusals.inc(LimitName.VisitorConnectionsPerAddress);
      return false;
    }
    this.connections.set(address, count + 1);
    return true;
  }

  /** A connection counted by {@link connectionOpened} has closed. */
  connectionClosed(principal: Principal, address: string): void {
    if (principal.role !== 'visitor') return;
    const count = (this.connections.get(address) ?? 0) - 1;
    if (count > 0) this.connections.set(address, count);
    else this.connections.delete(address);
  }

  /**
   * Counts a `call_request` of a visitor's connection, whatever becomes of it.
   * @throws SignalingError `rate_limited` when the visitor or its address is over its limit.
   */
  callRequested(conn: Connection): void {
    // An agent's request is refused as forbidden by the call service; it costs nothing here.
    if (conn.isAgent) return;
    let waitMs = this.requestsPerVisitor.take(`${conn.companyId}\u0000${conn.userId}`);
    let limit: string = LimitName.CallRequestsPerVisitor;
    if (waitMs === 0) {
      waitMs = this.requestsPerAddress.take(conn.address);
      limit = LimitName.CallRequestsPerAddress;
    }
    if (waitMs === 0) return;
    this.metrics.limitRefusals.inc(limit);
    throw SignalingError.rateLimited(
      `too many call requests; try again in ${Math.ceil(waitMs / 1000)} s`,
    );
  }

  /** Forgets the counts of windows that have ended (the heartbeat sweep calls it). */
  sweep(): void {
    this.requestsPerVisitor.sweep();
    this.requestsPerAddress.sweep();
  }
}
