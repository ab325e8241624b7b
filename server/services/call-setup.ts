/**
 * Getting a call going: a visitor's request, which queues the call for any agent or rings the one
 * agent it names, and an agent's accept, which exactly one agent wins.
 */
import { v7 as uuidv7 } from 'uuid';
import type { ClientMessageOf } from '../../client-lib/protocol.js';
import type { Connection } from '../connection.js';
import { SignalingError } from '../errors.js';
import type { CallRecord, Party } from '../state/store.js';
import { LimitName } from '../visitor-limits.js';
import { normalisePurpose } from '../../common/text.js';
import { UNANSWERED, type CallContext } from './call-context.js';
import { mirrorCall } from './call-links.js';
import type { CallQueue } from './call-queue.js';
import { WAIT_TIMERS } from './call-timers.js';
import { estimateField } from './wait-estimate.js';

/** Requests and accepts. */
export class CallSetup {
  constructor(
    private readonly ctx: CallContext,
    private readonly queue: CallQueue,
  ) {}

  async request(conn: Connection, msg: ClientMessageOf<'call_request'>) {
    if (conn.isAgent) throw SignalingError.forbidden('only visitors request calls');
    const callId = uuidv7();
    // So two tabs cannot both pass the conflict check below; the store decides, for tabs on two
    // nodes of a cluster as for tabs on one.
    if (!(await this.ctx.store.claimCallRequest(conn.companyId, conn.userId, callId))) {
      throw SignalingError.conflict('a call request is under way');
    }
    try {
      if ((await this.ctx.store.callsOf(conn.companyId, conn.userId)).length > 0) {
        throw SignalingError.conflict('a call is already in progress');
      }
      const now = this.ctx.now();
      const visitor: Party = {
        id: conn.userId,
        role: 'visitor',
        name: conn.principal.name,
        connId: conn.id,
      };
      const base = {
        callId,
        companyId: conn.companyId,
        callType: msg.callType,
        // What agents, the queue and the call log see: never the raw text (common/text.ts).
        purpose: normalisePurpose(msg.purpose),
        visitor,
        agent: undefined,
        answeredAt: undefined,
        endedAt: undefined,
        endReason: undefined,
        callerAddress: conn.address,
      };
      if (msg.agentId !== undefined) return await this.ring(conn, base, msg.agentId, now);

      const call: CallRecord = {
        ...base,
        state: 'queued',
        targetAgentId: undefined,
        queuedAt: now,
        ringingAt: undefined,
        rungConnIds: [],
      };
      await this.ctx.store.createCall(call);
      const { maxQueuedCallsPerCompany } = this.ctx.config;
      if (!(await this.ctx.store.enqueue(conn.companyId, call.callId, maxQueuedCallsPerCompany))) {
        await this.ctx.store.deleteCall(call.callId);
        this.ctx.metrics.limitRefusals.inc(LimitName.QueuedCallsPerCompany);
        throw SignalingError.queueFull('too many callers are waiting; try again in a few minutes');
      }
      this.ctx.transitioned(call);
      // The ack tells the visitor its position; the queue's publication will not repeat it.
      const position = (await this.ctx.store.queue(conn.companyId)).indexOf(call.callId) + 1;
      mirrorCall(this.ctx.hub, call, conn);
      // What this socket was told, not call state: node-local (see call-links.ts).
      conn.calls.get(call.callId)!.lastPosition = position;
      this.ctx.timers.arm('queue', call.callId, this.ctx.config.queueTimeoutMs);
      await this.queue.queueChanged(conn.companyId);
      const estimate = await this.queue.estimator(conn.companyId);
      return {
        callId: call.callId,
        status: 'queued' as const,
        position,
        ...estimateField(estimate(position)),
      };
    } finally {
      // A claim left behind expires: the request's own answer matters more.
      await this.ctx.store
        .releaseCallRequest(conn.companyId, conn.userId, callId)
        .catch((err: unknown) =>
          this.ctx.log.warn({ err, callId }, 'call request claim not released'),
        );
    }
  }

  private async ring(
    conn: Connection,
    base: Omit<CallRecord, 'state' | 'targetAgentId' | 'queuedAt' | 'ringingAt' | 'rungConnIds'>,
    agentId: string,
    now: number,
  ) {
    const agent = await this.ctx.store.getAgent(conn.companyId, agentId);
    if (agent === undefined || agent.status !== 'online') {
      throw SignalingError.unavailable('that agent is not online');
    }
    // One ring per agent (issue 11): a second ring would only stack up and time out, counting
    // towards setting the agent away. The store decides, so simultaneous requests ring once.
    if (!(await this.ctx.store.claimRing(conn.companyId, agentId, base.callId))) {
      throw SignalingError.busy('that agent is being rung by another call');
    }
    const rungConnIds = await this.ctx.store.connectionsOf(conn.companyId, agentId);
    const call: CallRecord = {
      ...base,
      state: 'ringing',
      targetAgentId: agentId,
      queuedAt: undefined,
      ringingAt: now,
      rungConnIds,
    };
    try {
      await this.ctx.store.createCall(call);
    } catch (err) {
      await this.ctx.store.releaseRing(conn.companyId, agentId, call.callId);
      throw err;
    }
    this.ctx.transitioned(call);
    mirrorCall(this.ctx.hub, call, conn);
    this.ctx.timers.arm('ring', call.callId, this.ctx.config.ringTimeoutMs);
    this.ctx.hub.sendToMany(rungConnIds, {
      type: 'call_incoming',
      callId: call.callId,
      visitor: { id: call.visitor.id, name: call.visitor.name },
      callType: call.callType,
      ...(call.purpose !== undefined ? { purpose: call.purpose } : {}),
      expiresAt: new Date(now + this.ctx.config.ringTimeoutMs).toISOString(),
    });
    return { callId: call.callId, status: 'ringing' as const };
  }

  async accept(conn: Connection, callId: string): Promise<void> {
    if (!conn.isAgent) throw SignalingError.forbidden('only agents accept calls');
    const call = await this.ctx.visibleCall(conn, callId);
    if (!UNANSWERED.includes(call.state)) throw SignalingError.conflict(`call is ${call.state}`);
    if (call.state === 'ringing' && call.targetAgentId !== conn.userId) {
      throw SignalingError.forbidden('call is ringing another agent');
    }
    const mine = await this.ctx.store.callsOf(conn.companyId, conn.userId);
    if (mine.some((c) => c.state === 'answered')) {
      throw SignalingError.conflict('already in a call');
    }
    const agent: Party = {
      id: conn.userId,
      role: conn.principal.role,
      name: conn.principal.name,
      connId: conn.id,
    };
    const answeredAt = this.ctx.now();
    const answered = await this.ctx.store.updateCall(callId, [call.state], {
      state: 'answered',
      agent,
      answeredAt,
    });
    if (answered === undefined) throw SignalingError.conflict('call was taken or ended');
    if (call.state === 'queued' && call.queuedAt !== undefined) {
      await this.ctx.store.recordQueueWait(conn.companyId, {
        at: answeredAt,
        waitMs: Math.max(0, answeredAt - call.queuedAt),
      });
    }
    this.ctx.timers.clear(WAIT_TIMERS, callId);
    this.ctx.transitioned(answered);

    mirrorCall(this.ctx.hub, answered, conn);
    const { callType } = answered;
    this.ctx.hub.sendTo(answered.visitor.connId, {
      type: 'call_started',
      callId,
      callType,
      peer: { id: agent.id, role: agent.role, name: agent.name },
    });
    conn.send({
      type: 'call_started',
      callId,
      callType,
      peer: { id: answered.visitor.id, role: 'visitor', name: answered.visitor.name },
    });
    if (!this.ctx.hub.reachable(answered.visitor.connId)) {
      conn.send({ type: 'peer_disconnected', callId });
    }

    if (call.state === 'queued') {
      await this.ctx.store.dequeue(conn.companyId, callId);
      await this.queue.queueChanged(conn.companyId);
    } else {
      this.ctx.hub.sendToMany(
        answered.rungConnIds,
        { type: 'call_answered_elsewhere', callId },
        conn.id,
      );
    }
    // Any answered call shows the agent is at its desk: the missed-ring streak is broken.
    await this.ctx.presence.ringAnswered(conn.companyId, conn.userId);
    await this.ctx.presence.markBusy(conn.companyId, conn.userId);
    // Only now, with the agent busy, may the ring go: no instant in which a direct call finds
    // the agent both online and free to ring.
    if (call.state === 'ringing')
      await this.ctx.store.releaseRing(conn.companyId, conn.userId, callId);
  }
}
