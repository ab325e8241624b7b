/**
 * The company's call queue as others see it: the agents' view (`queue_updated`, a page of it for
 * `queue_list`), each queued visitor's position with its estimated wait, and the publication of
 * both once per tick after the queue changes. In a cluster, a visitor's position is sent by the
 * visitor's node, which knows what it told the visitor last.
 */
import { AGENT_ROOM } from '../../client-lib/constants.js';
import type {
  AckResultOf,
  ClientMessageOf,
  QueueEntry,
  ServerMessageOf,
} from '../../client-lib/protocol.js';
import type { Coalescer } from '../coalescer.js';
import type { Connection } from '../connection.js';
import { SignalingError } from '../errors.js';
import type { PlaceMessage } from '../hub.js';
import type { CallRecord } from '../state/store.js';
import type { CallContext } from './call-context.js';
import { estimateField, waitEstimator } from './wait-estimate.js';

/** The queue's views and their publication. */
export class CallQueue {
  constructor(
    private readonly ctx: CallContext,
    private readonly coalescer: Coalescer,
  ) {}

  /** Sends an agent the current queue (on connect and on joining agent-room). */
  async sendQueue(conn: Connection): Promise<void> {
    const { snapshot, total } = await this.queueSnapshot(
      conn.companyId,
      0,
      this.ctx.config.queueAnnounceMax,
    );
    conn.send({ type: 'queue_updated', calls: snapshot.map((s) => s.entry), total });
  }

  /** A page of the company queue for an agent (`queue_list`), beyond what is announced. */
  async listQueue(
    conn: Connection,
    msg: ClientMessageOf<'queue_list'>,
  ): Promise<AckResultOf<'queue_list'>> {
    if (!conn.isAgent) throw SignalingError.forbidden('only agents and admins see the queue');
    const { snapshot, total } = await this.queueSnapshot(
      conn.companyId,
      msg.offset ?? 0,
      msg.limit ?? this.ctx.config.queueAnnounceMax,
    );
    return { calls: snapshot.map((s) => s.entry), total };
  }

  /**
   * A visitor of this node whose queued call another node published: it is told its position
   * unless this node told it that already (see {@link publishQueue}). Or whose call another node
   * resumed onto it (see `CallRecovery.resume`): it is told where the call waits, which this node
   * keeps.
   */
  positionFromAnotherNode(connId: string, message: PlaceMessage): void {
    const link = this.ctx.hub.get(connId)?.calls.get(message.callId);
    if (message.type === 'call_waiting') {
      if (link !== undefined && message.position !== undefined)
        link.lastPosition = message.position;
      this.ctx.hub.sendTo(connId, message);
      return;
    }
    if (link === undefined || link.lastPosition === message.position) return;
    link.lastPosition = message.position;
    this.ctx.hub.sendTo(connId, message);
  }

  /**
   * The company's queue from `offset` on, at most `limit` entries, oldest first: each entry as
   * agents see it, with its call; and the whole queue's length.
   */
  private async queueSnapshot(companyId: string, offset = 0, limit = Infinity) {
    const snapshot: Array<{ entry: QueueEntry; call: CallRecord }> = [];
    const ids = await this.ctx.store.queue(companyId);
    for (const callId of ids.slice(offset, offset + limit)) {
      const call = await this.ctx.store.getCall(callId);
      if (call === undefined) continue;
      const entry: QueueEntry = {
        callId,
        visitor: { id: call.visitor.id, name: call.visitor.name },
        callType: call.callType,
        ...(call.purpose !== undefined ? { purpose: call.purpose } : {}),
        queuedAt: new Date(call.queuedAt ?? call.ringingAt ?? this.ctx.now()).toISOString(),
        position: offset + snapshot.length + 1,
      };
      snapshot.push({ entry, call });
    }
    return { snapshot, total: ids.length };
  }

  /** Estimates of the company's queue positions from its recent queue waits. */
  async estimator(companyId: string) {
    return waitEstimator(await this.ctx.store.recentQueueWaits(companyId, this.ctx.now()));
  }

  /** The company's queue changed: it is published at the end of the tick (latest wins). */
  queueChanged(companyId: string): Promise<void> {
    return this.coalescer.schedule(`queue\u0000${companyId}`, () => this.publishQueue(companyId));
  }

  /**
   * Sends the company's agent-room the queue's oldest entries and its length, and each visitor
   * whose position changed its new position.
   */
  private async publishQueue(companyId: string): Promise<void> {
    const { snapshot, total } = await this.queueSnapshot(companyId);
    // Bounded however long the queue (issue 11): every agent pays for every change.
    const calls = snapshot.slice(0, this.ctx.config.queueAnnounceMax).map((s) => s.entry);
    await this.ctx.hub.broadcast(companyId, [AGENT_ROOM], { type: 'queue_updated', calls, total });
    let estimate: ((position: number) => number | undefined) | undefined;
    for (const { entry, call } of snapshot) {
      const { connId } = call.visitor;
      if (this.ctx.hub.remoteNodeOf(connId) !== undefined) {
        // Its node knows what it told the visitor, and decides (positionFromAnotherNode).
        estimate ??= await this.estimator(companyId);
        this.ctx.hub.positionRemote(connId!, positionMessage(entry, estimate));
        continue;
      }
      // Only a new position is news: a changed estimate alone is not worth a frame per visitor.
      const link = this.ctx.hub.get(connId)?.calls.get(entry.callId);
      if (link === undefined || link.lastPosition === entry.position) continue;
      link.lastPosition = entry.position;
      estimate ??= await this.estimator(companyId);
      this.ctx.hub.sendTo(connId, positionMessage(entry, estimate));
    }
  }
}

/** A visitor's `queue_position` for its queue entry. */
function positionMessage(
  entry: QueueEntry,
  estimate: (position: number) => number | undefined,
): ServerMessageOf<'queue_position'> {
  return {
    type: 'queue_position',
    callId: entry.callId,
    position: entry.position,
    ...estimateField(estimate(entry.position)),
  };
}
