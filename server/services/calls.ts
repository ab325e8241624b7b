/**
 * The call lifecycle: request, queue or ring, accept (exactly one wins), decline, cancel, end,
 * the ring and queue timeouts, and the reconnect grace for participants whose connection drops.
 *
 * Every transition is a compare-and-set on the store, so two agents racing for one call, or a
 * hang-up racing a timeout, resolve to exactly one outcome. Connection-local links (which call
 * a socket may relay for, and to whom), which keep the relay hot path free of store lookups, are
 * never edited here: each is mirrored from the record a transition returned (`call-links.ts`).
 */
import type { Logger } from 'pino';
import type {
  AckResultOf,
  ClientMessageOf,
  ServerMessage,
  ServerMessageOf,
} from '../../client-lib/protocol.js';
import type { Coalescer } from '../coalescer.js';
import type { SignalingConfig } from '../../config/config.js';
import type { Connection } from '../connection.js';
import { nodeOfConnId, openedAfter, type Hub, type PlaceMessage } from '../hub.js';
import type { LostConnection } from '../cluster/reaper.js';
import type { SignalingMetrics } from '../metrics.js';
import { isFinalCallState, type CallRecord, type StateStore } from '../state/store.js';
import { CallContext, sideOf, withConn, type CallServiceHooks, type Side } from './call-context.js';
import { dropLinks, mirrorCall, mirrorLocal } from './call-links.js';
import { CallEndings } from './call-endings.js';
import { CallQueue } from './call-queue.js';
import { CallSetup } from './call-setup.js';
import {
  ALL_TIMERS,
  LocalCallTimers,
  WAIT_TIMERS,
  type CallTimers,
  type TimerFired,
  type TimerKind,
} from './call-timers.js';
import type { PresenceService } from './presence.js';
import { estimateField } from './wait-estimate.js';

export type { CallObserver, CallServiceHooks } from './call-context.js';

export class CallService {
  /** Ring and queue timeouts and reconnect graces: this node's, or the cluster's. */
  private readonly timers: CallTimers;
  private readonly ctx: CallContext;
  private readonly queue: CallQueue;
  private readonly setup: CallSetup;
  private readonly endings: CallEndings;

  constructor(
    private readonly store: StateStore,
    private readonly hub: Hub,
    private readonly presence: PresenceService,
    coalescer: Coalescer,
    private readonly config: SignalingConfig,
    metrics: SignalingMetrics,
    log: Logger,
    private readonly hooks: CallServiceHooks,
  ) {
    // Every timer ends a call, or finds it already settled.
    const fired: TimerFired = (kind, callId) => this.endings.timerFired(kind, callId);
    this.timers = hooks.timers?.(fired) ?? new LocalCallTimers(fired, log);
    this.ctx = new CallContext(store, hub, presence, config, metrics, log, hooks, this.timers);
    this.queue = new CallQueue(this.ctx, coalescer);
    this.setup = new CallSetup(this.ctx, this.queue);
    this.endings = new CallEndings(this.ctx, this.queue);
  }

  private now(): number {
    return this.hooks.now();
  }

  /** Timers this node armed that are still pending (for `/metrics` and leak checks). */
  get timerCount(): number {
    return this.timers.count;
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

  // -------------------------------------------------------------------------------------------
  // Connections coming and going
  // -------------------------------------------------------------------------------------------

  /**
   * A connection closed: each call it carried moves to a newer live connection of the same
   * user if there is one (a client that reconnected before the server noticed the old socket
   * was dead), else keeps the participant for the reconnect grace.
   */
  async connectionClosed(conn: Connection): Promise<void> {
    for (const link of conn.calls.values()) {
      const call = await this.store.getCall(link.callId);
      if (call === undefined) continue;
      const side = sideOf(call, conn.userId);
      if (side === undefined || call[side]?.connId !== conn.id) continue;
      await this.unbind(call, side, () => this.newerConnection(conn), conn.barred);
    }
    dropLinks(conn);
  }

  /**
   * A connection of a node that died (see `cluster/reaper.ts`): each call it carried is handed to
   * the user's newer connection on a live node, or waits out its reconnect grace, as on a close.
   */
  async connectionLost(lost: LostConnection, deadNode: string): Promise<void> {
    for (const call of await this.store.callsOf(lost.companyId, lost.userId)) {
      const side = sideOf(call, lost.userId);
      if (side === undefined || call[side]?.connId !== lost.connId) continue;
      await this.unbind(call, side, async () => {
        // Cluster ids are time-ordered: the one opened last is the newest.
        let newest: string | undefined;
        for (const id of await this.store.connectionsOf(lost.companyId, lost.userId)) {
          if (!openedAfter(id, lost.connId) || nodeOfConnId(id) === deadNode) continue;
          if (newest === undefined || openedAfter(id, newest)) newest = id;
        }
        return this.hub.get(newest) ?? newest;
      });
    }
  }

  /**
   * Unbinds `side` of `call` from its connection, which is gone: the peer hears so, and the call
   * moves to the user's newer connection if `successor` finds one, else waits out the grace
   * (ends at once for a barred user, who cannot come back).
   */
  private async unbind(
    call: CallRecord,
    side: Side,
    successor: () => Promise<Connection | string | undefined>,
    barred = false,
  ): Promise<void> {
    const updated = await this.rebind(call, side, null);
    if (updated === undefined) return;
    mirrorCall(this.hub, updated);
    if (updated.state === 'answered') {
      const peerConnId = side === 'visitor' ? updated.agent?.connId : updated.visitor.connId;
      this.hub.sendTo(peerConnId, { type: 'peer_disconnected', callId: call.callId });
    }
    const next = await successor();
    if (next === undefined || !(await this.resume(next, updated, side))) {
      if (barred) await this.endings.graceExpired(call.callId, side);
      else this.timers.arm(`grace-${side}`, call.callId, this.config.callReconnectGraceMs);
    }
  }

  /** A new connection: take over the user's calls whose side is disconnected. */
  async connectionOpened(conn: Connection): Promise<void> {
    for (const call of await this.store.callsOf(conn.companyId, conn.userId)) {
      const side = sideOf(call, conn.userId);
      if (side === undefined || call[side]?.connId !== null) continue;
      await this.resume(conn, call, side);
    }
  }

  /**
   * The user's newest live connection opened after `conn`, if any: on this node, or in a
   * cluster on another (its id, whose time-ordered part tells when it opened).
   */
  private async newerConnection(conn: Connection): Promise<Connection | string | undefined> {
    let newest: Connection | undefined;
    let newestRemote: string | undefined;
    for (const connId of await this.store.connectionsOf(conn.companyId, conn.userId)) {
      if (this.hub.remoteNodeOf(connId) !== undefined) {
        if (
          openedAfter(connId, conn.id) &&
          (newestRemote === undefined || openedAfter(connId, newestRemote))
        ) {
          newestRemote = connId;
        }
        continue;
      }
      const other = this.hub.get(connId);
      if (other === undefined || other === conn || other.closing) continue;
      if (other.openedAt <= conn.openedAt) continue;
      if (newest === undefined || other.openedAt > newest.openedAt) newest = other;
    }
    // Both kinds only in a cluster, where every id tells when it opened.
    if (newest !== undefined && newestRemote !== undefined) {
      return openedAfter(newestRemote, newest.id) ? newestRemote : newest;
    }
    return newest ?? newestRemote;
  }

  /**
   * Binds a disconnected side of `call` to `successor` (a connection of this node, or the id of
   * one on another node) and tells both sides.
   */
  private async resume(
    successor: Connection | string,
    call: CallRecord,
    side: Side,
  ): Promise<boolean> {
    const conn = typeof successor === 'string' ? undefined : successor;
    const connId = typeof successor === 'string' ? successor : successor.id;
    const updated = await this.rebind(call, side, connId);
    if (updated === undefined) return false;
    this.timers.clear([side === 'visitor' ? 'grace-visitor' : 'grace-agent'], call.callId);
    mirrorCall(this.hub, updated, conn);
    const send = (message: ServerMessage) =>
      conn !== undefined ? conn.send(message) : this.hub.sendTo(connId, message);
    const peer = side === 'visitor' ? updated.agent : updated.visitor;
    if (updated.state === 'answered' && peer !== undefined) {
      send({
        type: 'call_resumed',
        callId: call.callId,
        callType: updated.callType,
        peer: { id: peer.id, role: peer.role, name: peer.name },
        role: side === 'visitor' ? 'caller' : 'callee',
      });
      if (this.hub.reachable(peer.connId)) {
        this.hub.sendTo(peer.connId, { type: 'peer_reconnected', callId: call.callId });
      } else {
        send({ type: 'peer_disconnected', callId: call.callId });
      }
    } else if (updated.state === 'queued' || updated.state === 'ringing') {
      const position = (await this.store.queue(call.companyId)).indexOf(call.callId) + 1;
      // What this socket was told, not call state: node-local (see call-links.ts). Looked up
      // after the await: the call may have moved on, and its link with it.
      const link = conn?.calls.get(call.callId);
      if (position > 0 && link !== undefined) link.lastPosition = position;
      const estimate =
        position > 0 ? (await this.queue.estimator(call.companyId))(position) : undefined;
      const waiting: ServerMessageOf<'call_waiting'> = {
        type: 'call_waiting',
        callId: call.callId,
        callType: updated.callType,
        status: updated.state,
        ...(position > 0 ? { position } : {}),
        ...estimateField(estimate),
      };
      // A connection of another node is told by its node, which keeps the position it was told,
      // or the next publication of the queue would tell it the same position again.
      if (conn !== undefined) conn.send(waiting);
      else if (!this.hub.positionRemote(connId, waiting)) this.hub.sendTo(connId, waiting);
    }
    return true;
  }

  /**
   * Binds `side` of `call` to `connId` (null: to no connection), provided the side is still bound
   * as `call` says and the call is live; the updated record, or undefined.
   *
   * The write is a compare-and-set on the call's state, and the state may move on between the
   * read and the write: in a cluster an agent on another node answers the call of a visitor whose
   * close this node is cleaning up. A failed write is then tried again from the fresh record, or
   * the close would leave the answered call bound to a dead connection, with no reconnect grace.
   * Each retry needs the state to have moved on, and a call's state only moves forward.
   */
  private async rebind(
    call: CallRecord,
    side: Side,
    connId: string | null,
  ): Promise<CallRecord | undefined> {
    const bound = call[side]?.connId;
    for (let current = call; ;) {
      const updated = await this.store.updateCall(
        current.callId,
        [current.state],
        withConn(current, side, connId),
      );
      if (updated !== undefined) return updated;
      const fresh = await this.store.getCall(call.callId);
      if (fresh === undefined || isFinalCallState(fresh.state)) return undefined;
      if (fresh.state === current.state || fresh[side]?.connId !== bound) return undefined;
      current = fresh;
    }
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

  /**
   * Puts back a live call that the shared store lost (a cluster's Redis restarted empty), from
   * the record this node last mirrored: the record, its place in the queue or its ring, its
   * agent busy, and its timers with what was left of them.
   */
  async restore(call: CallRecord): Promise<void> {
    if ((await this.store.getCall(call.callId)) !== undefined) return;
    await this.store.createCall(call);
    const now = this.now();
    if (call.state === 'queued') {
      await this.store.enqueue(call.companyId, call.callId);
      const left = (call.queuedAt ?? now) + this.config.queueTimeoutMs - now;
      this.timers.arm('queue', call.callId, Math.max(0, left));
      await this.queue.queueChanged(call.companyId);
    } else if (call.state === 'ringing' && call.targetAgentId !== undefined) {
      await this.store.claimRing(call.companyId, call.targetAgentId, call.callId);
      const left = (call.ringingAt ?? now) + this.config.ringTimeoutMs - now;
      this.timers.arm('ring', call.callId, Math.max(0, left));
    } else if (call.state === 'answered' && call.agent !== undefined) {
      await this.presence.markBusy(call.companyId, call.agent.id);
    }
    for (const side of ['visitor', 'agent'] as const) {
      if (call[side]?.connId === null) {
        this.timers.arm(`grace-${side}`, call.callId, this.config.callReconnectGraceMs);
      }
    }
  }

  /** Stops every timer (server shutdown). */
  stop(): void {
    this.timers.stop();
  }

  /**
   * Another node changed `call` (the record it mirrors here, see `call-links.ts`): this node's
   * links follow, and this node stops waiting for the timers the record shows settled. The node
   * that armed a timer keeps its own `setTimeout` for it, and the node that settled it (an agent
   * answering a queued call on another node) can only remove the shared deadline: without this,
   * a call answered across nodes left its queue timeout counted in `calldocker_call_timers` and
   * pending here for its whole 10 minutes.
   */
  mirrored(call: CallRecord): void {
    mirrorLocal(this.hub, call);
    this.timers.forget(settledTimers(call), call.callId);
  }

  /** A queue position or a resumed call's place, sent by another node for a visitor of this one. */
  positionFromAnotherNode(connId: string, message: PlaceMessage): void {
    this.queue.positionFromAnotherNode(connId, message);
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
