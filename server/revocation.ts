/**
 * Revocation of live connections: when the access journal names a company or an agent (see
 * `access.ts`), every connection of it on this node is checked again, and those the guard now
 * refuses are closed the way a new upgrade of theirs would be: 4003 `not admitted` when the
 * company or the agent is disabled (a new token will not help), 4001 `revoked` when the
 * credentials or the role changed (a refresh tells whether a new token can be had).
 *
 * The close goes through the connection's normal close path, so its calls get what any dropped
 * connection's calls get; a connection barred for good (4003) is marked so that its calls end at
 * once instead of waiting out the reconnect grace for a client that cannot come back.
 */
import type { Logger } from 'pino';
import { AccessVerdict, type AccessChange, type AccessGuard } from '../auth/access.js';
import type { Connection } from './connection.js';
import { AuthFailure, CloseCode, ForbiddenReason } from './errors.js';
import type { SignalingMetrics } from './metrics.js';

/** How a refused principal is closed. */
export interface Refusal {
  readonly code: number;
  readonly reason: string;
}

/** The close code and reason of a verdict; undefined when it admits. */
export function refusalOf(verdict: AccessVerdict): Refusal | undefined {
  switch (verdict) {
    case AccessVerdict.Ok:
      return undefined;
    case AccessVerdict.CompanyDisabled:
    case AccessVerdict.AccountDisabled:
      return { code: CloseCode.Forbidden, reason: ForbiddenReason.NotAdmitted };
    case AccessVerdict.CredentialsChanged:
    case AccessVerdict.RoleChanged:
      return { code: CloseCode.Unauthorized, reason: AuthFailure.Revoked };
    default: {
      const unreachable: never = verdict;
      throw new Error(`unknown verdict ${String(unreachable)}`);
    }
  }
}

/** How long a check that failed (database unreadable) waits before it is tried again. */
const RETRY_MS = 1000;

/** Options of {@link RevocationWatcher}. */
export interface RevocationWatcherOptions {
  readonly access: AccessGuard;
  /** This node's live connections. */
  readonly connections: () => Iterable<Connection>;
  readonly metrics: SignalingMetrics;
  readonly log: Logger;
}

/** Closes the live connections that an access change refuses. */
export class RevocationWatcher {
  private readonly unsubscribe: () => void;
  /** Connections whose check failed, tried again after {@link RETRY_MS}. */
  private readonly retry = new Set<Connection>();
  private retryTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: RevocationWatcherOptions) {
    this.unsubscribe = options.access.onChange((changes) => this.accessOnChange(changes));
  }

  /** Checks one connection again (e.g. one admitted while the journal moved on). */
  recheck(conn: Connection): void {
    if (conn.closing) return;
    this.options.access.check(conn.principal).then(
      (verdict) => this.apply(conn, verdict),
      (err: unknown) => {
        conn.log.error({ err }, 'access re-check failed');
        this.retryLater(conn);
      },
    );
  }

  /** Stops watching. */
  close(): void {
    this.unsubscribe();
    clearTimeout(this.retryTimer);
    this.retry.clear();
  }

  private accessOnChange(changes: readonly AccessChange[]): void {
    // By company: null for the whole company, else the agents named.
    const targets = new Map<string, Set<string> | null>();
    for (const { companyId, agentId } of changes) {
      const named = targets.get(companyId);
      if (agentId === undefined) targets.set(companyId, null);
      else if (named === undefined) targets.set(companyId, new Set([agentId]));
      else named?.add(agentId);
    }
    // One pass over this node's connections per batch: changes are rare, connections many.
    for (const conn of this.options.connections()) {
      const named = targets.get(conn.companyId);
      if (named === undefined || (named !== null && !named.has(conn.userId))) continue;
      this.recheck(conn);
    }
  }

  private apply(conn: Connection, verdict: AccessVerdict): void {
    const refusal = refusalOf(verdict);
    if (refusal === undefined || conn.closing) return;
    conn.log.info({ verdict }, 'access revoked; connection closed');
    if (refusal.code === CloseCode.Unauthorized) {
      this.options.metrics.authFailures.inc(refusal.reason);
    } else {
      conn.barred = true;
    }
    conn.close(refusal.code, refusal.reason);
  }

  private retryLater(conn: Connection): void {
    this.retry.add(conn);
    this.retryTimer ??= setTimeout(() => {
      this.retryTimer = undefined;
      const due = [...this.retry];
      this.retry.clear();
      for (const c of due) this.recheck(c);
    }, RETRY_MS);
    this.retryTimer.unref();
  }
}
