/**
 * Calls outliving a connection: a closed socket, a node that died, a shared store that restarted
 * empty. A side whose connection is gone moves to the user's newer connection (on this node or,
 * in a cluster, another), or waits out its reconnect grace for the user to come back and resume.
 */
import type { ServerMessage, ServerMessageOf } from '../../client-lib/protocol.js';
import type { Connection } from '../connection.js';
import { nodeOfConnId, openedAfter } from '../hub.js';
import type { LostConnection } from '../cluster/reaper.js';
import { isFinalCallState, type CallRecord } from '../state/store.js';
import { sideOf, withConn, type CallContext, type Side } from './call-context.js';
import type { CallEndings } from './call-endings.js';
import { dropLinks, mirrorCall } from './call-links.js';
import type { CallQueue } from './call-queue.js';
import { estimateField } from './wait-estimate.js';

/** Unbinding, resuming and restoring calls. */
export class CallRecovery {
  constructor(
    private readonly ctx: CallContext,
    private readonly queue: CallQueue,
    private readonly endings: CallEndings,
  ) {}

  /**
   * A connection closed: each call it carried moves to a newer live connection of the same
   * user if there is one (a client that reconnected before the server noticed the old socket
   * was dead), else keeps the participant for the reconnect grace.
   */
  async connectionClosed(conn: Connection): Promise<void> {
    for (const link of conn.calls.values()) {
      const call = await this.ctx.store.getCall(link.callId);
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
    for (const call of await this.ctx.store.callsOf(lost.companyId, lost.userId)) {
      const side = sideOf(call, lost.userId);
      if (side === undefined || call[side]?.connId !== lost.connId) continue;
      await this.unbind(call, side, async () => {
        // Cluster ids are time-ordered: the one opened last is the newest.
        let newest: string | undefined;
        for (const id of await this.ctx.store.connectionsOf(lost.companyId, lost.userId)) {
          if (!openedAfter(id, lost.connId) || nodeOfConnId(id) === deadNode) continue;
          if (newest === undefined || openedAfter(id, newest)) newest = id;
        }
        return this.ctx.hub.get(newest) ?? newest;
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
    mirrorCall(this.ctx.hub, updated);
    if (updated.state === 'answered') {
      const peerConnId = side === 'visitor' ? updated.agent?.connId : updated.visitor.connId;
      this.ctx.hub.sendTo(peerConnId, { type: 'peer_disconnected', callId: call.callId });
    }
    const next = await successor();
    if (next === undefined || !(await this.resume(next, updated, side))) {
      if (barred) await this.endings.graceExpired(call.callId, side);
      else this.ctx.timers.arm(`grace-${side}`, call.callId, this.ctx.config.callReconnectGraceMs);
    }
  }

  /** A new connection: take over the user's calls whose side is disconnected. */
  async connectionOpened(conn: Connection): Promise<void> {
    for (const call of await this.ctx.store.callsOf(conn.companyId, conn.userId)) {
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
    for (const connId of await this.ctx.store.connectionsOf(conn.companyId, conn.userId)) {
      if (this.ctx.hub.remoteNodeOf(connId) !== undefined) {
        if (
          openedAfter(connId, conn.id) &&
          (newestRemote === undefined || openedAfter(connId, newestRemote))
        ) {
          newestRemote = connId;
        }
        continue;
      }
      const other = this.ctx.hub.get(connId);
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
    this.ctx.timers.clear([side === 'visitor' ? 'grace-visitor' : 'grace-agent'], call.callId);
    mirrorCall(this.ctx.hub, updated, conn);
    const send = (message: ServerMessage) =>
      conn !== undefined ? conn.send(message) : this.ctx.hub.sendTo(connId, message);
    const peer = side === 'visitor' ? updated.agent : updated.visitor;
    if (updated.state === 'answered' && peer !== undefined) {
      send({
        type: 'call_resumed',
        callId: call.callId,
        callType: updated.callType,
        peer: { id: peer.id, role: peer.role, name: peer.name },
        role: side === 'visitor' ? 'caller' : 'callee',
      });
      if (this.ctx.hub.reachable(peer.connId)) {
        this.ctx.hub.sendTo(peer.connId, { type: 'peer_reconnected', callId: call.callId });
      } else {
        send({ type: 'peer_disconnected', callId: call.callId });
      }
    } else if (updated.state === 'queued' || updated.state === 'ringing') {
      const position = (await this.ctx.store.queue(call.companyId)).indexOf(call.callId) + 1;
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
      else if (!this.ctx.hub.positionRemote(connId, waiting)) this.ctx.hub.sendTo(connId, waiting);
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
      const updated = await this.ctx.store.updateCall(
        current.callId,
        [current.state],
        withConn(current, side, connId),
      );
      if (updated !== undefined) return updated;
      const fresh = await this.ctx.store.getCall(call.callId);
      if (fresh === undefined || isFinalCallState(fresh.state)) return undefined;
      if (fresh.state === current.state || fresh[side]?.connId !== bound) return undefined;
      current = fresh;
    }
  }

  /**
   * Puts back a live call that the shared store lost (a cluster's Redis restarted empty), from
   * the record this node last mirrored: the record, its place in the queue or its ring, its
   * agent busy, and its timers with what was left of them.
   */
  async restore(call: CallRecord): Promise<void> {
    // The store decides: a call still there, or one that ended since this node's copy (another
    // node ended it while this one was rebuilding), is left as it is.
    if (!(await this.ctx.store.restoreCall(call))) return;
    const now = this.ctx.now();
    if (call.state === 'queued') {
      await this.ctx.store.enqueue(call.companyId, call.callId);
      const left = (call.queuedAt ?? now) + this.ctx.config.queueTimeoutMs - now;
      this.ctx.timers.arm('queue', call.callId, Math.max(0, left));
      await this.queue.queueChanged(call.companyId);
    } else if (call.state === 'ringing' && call.targetAgentId !== undefined) {
      await this.ctx.store.claimRing(call.companyId, call.targetAgentId, call.callId);
      const left = (call.ringingAt ?? now) + this.ctx.config.ringTimeoutMs - now;
      this.ctx.timers.arm('ring', call.callId, Math.max(0, left));
    } else if (call.state === 'answered' && call.agent !== undefined) {
      await this.ctx.presence.markBusy(call.companyId, call.agent.id);
    }
    for (const side of ['visitor', 'agent'] as const) {
      if (call[side]?.connId === null) {
        this.ctx.timers.arm(`grace-${side}`, call.callId, this.ctx.config.callReconnectGraceMs);
      }
    }
  }
}
