/**
 * The call lifecycle: request, queue or ring, accept (exactly one wins), decline, cancel, end,
 * the ring and queue timeouts, and the reconnect grace for participants whose connection drops.
 *
 * Every transition is a compare-and-set on the store, so two agents racing for one call, or a
 * hang-up racing a timeout, resolve to exactly one outcome. Connection-local links (which call
 * a socket may relay for, and to whom), which keep the relay hot path free of store lookups, are
 * never edited here: each is mirrored from the record a transition returned (`call-links.ts`).
 *
 * {@link CallService} is what the rest of the server uses. It builds the parts that do the work,
 * all on one {@link CallContext} (`call-context.ts`): `call-setup.ts` (request, ring, accept),
 * `call-endings.ts` (decline, cancel, end, every timeout), `call-recovery.ts` (closed and lost
 * connections, resuming, restoring after the store lost a call) and `call-queue.ts` (what agents
 * and queued visitors are told of the queue).
 */
import type { Logger } from 'pino';
import type { AckResultOf, ClientMessageOf } from '../../client-lib/protocol.js';
import type { SignalingConfig } from '../../config/config.js';
import type { Coalescer } from '../coalescer.js';
import type { Connection } from '../connection.js';
import type { LostConnection } from '../cluster/reaper.js';
import type { PlaceMessage, Hub } from '../hub.js';
import type { SignalingMetrics } from '../metrics.js';
import { isFinalCallState, type CallRecord, type StateStore } from '../state/store.js';
import { CallContext, type CallServiceHooks } from './call-context.js';
import { CallEndings } from './call-endings.js';
import { mirrorLocal } from './call-links.js';
import { CallQueue } from './call-queue.js';
import { CallRecovery } from './call-recovery.js';
import { CallSetup } from './call-setup.js';
import {
  ALL_TIMERS,
  LocalCallTimers,
  WAIT_TIMERS,
  type TimerFired,
  type TimerKind,
} from './call-timers.js';
import type { PresenceService } from './presence.js';

export type { CallObserver, CallServiceHooks } from './call-context.js';

/** The calls of one node: every call message, connection event and timer goes through here. */
export class CallService {
  private readonly ctx: CallContext;
  private readonly queue: CallQueue;
  private readonly setup: CallSetup;
  private readonly endings: CallEndings;
  private readonly recovery: CallRecovery;

  constructor(
    store: StateStore,
    hub: Hub,
    presence: PresenceService,
    coalescer: Coalescer,
    config: SignalingConfig,
    metrics: SignalingMetrics,
    log: Logger,
    hooks: CallServiceHooks,
  ) {
    // Every timer ends a call, or finds it already settled.
    const fired: TimerFired = (kind, callId) => this.endings.timerFired(kind, callId);
    const timers = hooks.timers?.(fired) ?? new LocalCallTimers(fired, log);
    this.ctx = new CallContext(store, hub, presence, config, metrics, log, hooks, timers);
    this.queue = new CallQueue(this.ctx, coalescer);
    this.setup = new CallSetup(this.ctx, this.queue);
    this.endings = new CallEndings(this.ctx, this.queue);
    this.recovery = new CallRecovery(this.ctx, this.queue, this.endings);
  }

  /** Timers this node armed that are still pending (for `/metrics` and leak checks). */
  get timerCount(): number {
    return this.ctx.timers.count;
  }

  // -------------------------------------------------------------------------------------------
  // Requests from clients
  // -------------------------------------------------------------------------------------------

  /** `call_request`: queues the call, or rings the agent it names. */
  request(conn: Connection, msg: ClientMessageOf<'call_request'>) {
    return this.setup.request(conn, msg);
  }

  /** `call_accept`: the agent answers a queued call, or the call ringing it. */
  accept(conn: Connection, callId: string): Promise<void> {
    return this.setup.accept(conn, callId);
  }

  /** `call_decline`: the agent being rung will not answer. */
  decline(conn: Connection, callId: string): Promise<void> {
    return this.endings.decline(conn, callId);
  }

  /** `call_cancel`: the visitor gives up a call not yet answered. */
  cancel(conn: Connection, callId: string): Promise<void> {
    return this.endings.cancel(conn, callId);
  }

  /** `call_ended`: a participant hangs up. */
  end(conn: Connection, callId: string, reason: string | undefined): Promise<void> {
    return this.endings.end(conn, callId, reason);
  }

  /** Sends an agent the current queue (on connect and on joining agent-room). */
  sendQueue(conn: Connection): Promise<void> {
    return this.queue.sendQueue(conn);
  }

  /** A page of the company queue for an agent (`queue_list`), beyond what is announced. */
  listQueue(
    conn: Connection,
    msg: ClientMessageOf<'queue_list'>,
  ): Promise<AckResultOf<'queue_list'>> {
    return this.queue.listQueue(conn, msg);
  }

  // -------------------------------------------------------------------------------------------
  // Connections coming and going
  // -------------------------------------------------------------------------------------------

  /** A connection closed: its calls move to the user's newer connection or wait for it. */
  connectionClosed(conn: Connection): Promise<void> {
    return this.recovery.connectionClosed(conn);
  }

  /** A connection of a node that died: its calls are handled as on a close. */
  connectionLost(lost: LostConnection, deadNode: string): Promise<void> {
    return this.recovery.connectionLost(lost, deadNode);
  }

  /** A new connection: take over the user's calls whose side is disconnected. */
  connectionOpened(conn: Connection): Promise<void> {
    return this.recovery.connectionOpened(conn);
  }

  /** Puts back a live call that the shared store lost, from this node's mirror of it. */
  restore(call: CallRecord): Promise<void> {
    return this.recovery.restore(call);
  }

  // -------------------------------------------------------------------------------------------
  // Other nodes
  // -------------------------------------------------------------------------------------------

  /**
   * Another node changed `call` (the record it mirrors here, see `call-links.ts`): this node's
   * links follow, and this node stops waiting for the timers the record shows settled. The node
   * that armed a timer keeps its own `setTimeout` for it, and the node that settled it (an agent
   * answering a queued call on another node) can only remove the shared deadline: without this,
   * a call answered across nodes left its queue timeout counted in `calldocker_call_timers` and
   * pending here for its whole 10 minutes.
   */
  mirrored(call: CallRecord): void {
    mirrorLocal(this.ctx.hub, call);
    this.ctx.timers.forget(settledTimers(call), call.callId);
  }

  /** A queue position or a resumed call's place, sent by another node for a visitor of this one. */
  positionFromAnotherNode(connId: string, message: PlaceMessage): void {
    this.queue.positionFromAnotherNode(connId, message);
  }

  /** Stops every timer (server shutdown). */
  stop(): void {
    this.ctx.timers.stop();
  }
}

/** The timers that `call`'s record shows settled: none of them may fire for it any more. */
function settledTimers(call: CallRecord): readonly TimerKind[] {
  if (isFinalCallState(call.state)) return ALL_TIMERS;
  const settled: TimerKind[] = call.state === 'answered' ? [...WAIT_TIMERS] : [];
  if (call.visitor.connId !== null) settled.push('grace-visitor');
  if (call.agent !== undefined && call.agent.connId !== null) settled.push('grace-agent');
  return settled;
}
