/**
 * What every part of the call service shares: its collaborators, its clock, the record of each
 * transition (metrics, log, observer), and the rules for finding a call and a user's side of it.
 *
 * Each part of the call service takes one {@link CallContext}; `calls.ts` builds the parts and
 * is what the rest of the server uses.
 */
import type { Logger } from 'pino';
import type { CallState } from '../../client-lib/protocol.js';
import type { SignalingConfig } from '../../config/config.js';
import type { Connection } from '../connection.js';
import { SignalingError } from '../errors.js';
import type { Hub } from '../hub.js';
import type { SignalingMetrics } from '../metrics.js';
import type { CallPatch, CallRecord, StateStore } from '../state/store.js';
import type { CallTimers, TimerFired } from './call-timers.js';
import type { PresenceService } from './presence.js';

/** Told of every call transition, e.g. to write the call log. Must not throw. */
export type CallObserver = (call: CallRecord) => void;

/** What a `CallService` is told and asks beyond its collaborators. */
export interface CallServiceHooks {
  /** Told of every transition (the call log). */
  readonly observer?: CallObserver;
  /** The clock, ms since the epoch: call times and queue waits are read from it. */
  readonly now: () => number;
  /**
   * Resolves once the call's newest transition told to `observer` is durable (the call log's
   * commit); `call_finished` waits for it. Without it, `call_finished` goes out at once.
   */
  readonly logged?: (callId: string) => Promise<void>;
  /** Makes the call timers from what fires them; defaults to this process's own. */
  readonly timers?: (fired: TimerFired) => CallTimers;
}

/** The states of a call not yet answered. */
export const UNANSWERED: readonly CallState[] = ['queued', 'ringing'];
/** The state of a call in progress. */
export const ANSWERED: readonly CallState[] = ['answered'];

/** A party's side of a call. */
export type Side = 'visitor' | 'agent';

/** The patch that binds one side of a call to a connection (or to none). */
export function withConn(call: CallRecord, side: Side, connId: string | null): CallPatch {
  return side === 'visitor'
    ? { visitor: { ...call.visitor, connId } }
    : { agent: { ...call.agent!, connId } };
}

/** The side of `call` that `userId` takes, if any. */
export function sideOf(call: CallRecord, userId: string): Side | undefined {
  if (call.visitor.id === userId) return 'visitor';
  if (call.agent?.id === userId) return 'agent';
  return undefined;
}

/** The collaborators and shared steps of the call service's parts. */
export class CallContext {
  constructor(
    readonly store: StateStore,
    readonly hub: Hub,
    readonly presence: PresenceService,
    readonly config: SignalingConfig,
    readonly metrics: SignalingMetrics,
    readonly log: Logger,
    readonly hooks: CallServiceHooks,
    /** Ring and queue timeouts and reconnect graces: this node's, or the cluster's. */
    readonly timers: CallTimers,
  ) {}

  /** The time now, ms since the epoch. */
  now(): number {
    return this.hooks.now();
  }

  /** The call if the connection's company owns it; other companies' calls do not exist. */
  async visibleCall(conn: Connection, callId: string): Promise<CallRecord> {
    const call = await this.store.getCall(callId);
    if (call === undefined || call.companyId !== conn.companyId) {
      throw SignalingError.notFound('no such call');
    }
    return call;
  }

  /** Counts, logs and tells the observer of a transition that the store has made. */
  transitioned(call: CallRecord): void {
    this.metrics.callTransitions.inc(call.state);
    this.log.debug(
      { callId: call.callId, companyId: call.companyId, state: call.state },
      'call transition',
    );
    if (this.hooks.observer !== undefined) {
      try {
        this.hooks.observer(call);
      } catch (err) {
        this.log.error({ err, callId: call.callId }, 'call observer failed');
      }
    }
  }
}
