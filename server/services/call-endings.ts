/**
 * Every way a call ends: an agent declines, a visitor cancels, a participant hangs up, a ring or
 * queue wait times out, a reconnect grace runs out. Each is one compare-and-set to a final state
 * (`finish`), after which the queue, timers, links and the agent's status are tidied and the
 * company's agents hear of it once the call log has it.
 */
import { AGENT_ROOM } from '../../client-lib/constants.js';
import type { CallState, ServerMessage, ServerMessageOf } from '../../client-lib/protocol.js';
import type { Connection } from '../connection.js';
import { SignalingError } from '../errors.js';
import { callDurationSec, type CallRecord, type RoomMember } from '../state/store.js';
import { ANSWERED, sideOf, UNANSWERED, type CallContext, type Side } from './call-context.js';
import { mirrorCall } from './call-links.js';
import type { CallQueue } from './call-queue.js';
import { ALL_TIMERS, type TimerKind } from './call-timers.js';

/** Declines, cancels, hang-ups and timeouts. */
export class CallEndings {
  constructor(
    private readonly ctx: CallContext,
    private readonly queue: CallQueue,
  ) {}

  async decline(conn: Connection, callId: string): Promise<void> {
    if (!conn.isAgent) throw SignalingError.forbidden('only agents decline calls');
    const call = await this.ctx.visibleCall(conn, callId);
    if (call.state === 'ringing' && call.targetAgentId !== conn.userId) {
      throw SignalingError.forbidden('call is ringing another agent');
    }
    if (call.state !== 'ringing')
      throw SignalingError.conflict(`call is ${call.state}, not ringing`);
    const declined = await this.finish(call, ['ringing'], 'declined', 'declined');
    if (declined === undefined) throw SignalingError.conflict('call was taken or ended');
    const message: ServerMessage = { type: 'call_declined', callId };
    this.ctx.hub.sendTo(declined.visitor.connId, message);
    this.ctx.hub.sendToMany(declined.rungConnIds, message);
    await this.ctx.presence.ringAnswered(conn.companyId, conn.userId);
  }

  async cancel(conn: Connection, callId: string): Promise<void> {
    const call = await this.ctx.visibleCall(conn, callId);
    if (call.visitor.id !== conn.userId) throw SignalingError.forbidden('not your call');
    if (!UNANSWERED.includes(call.state)) {
      throw SignalingError.conflict(`call is ${call.state}; end an answered call with call_ended`);
    }
    const ended = await this.finish(call, UNANSWERED, 'abandoned', 'cancelled');
    if (ended === undefined) throw SignalingError.conflict('call was taken or ended');
    this.notifyEnded(ended, ended.rungConnIds);
  }

  async end(conn: Connection, callId: string, reason: string | undefined): Promise<void> {
    const call = await this.ctx.visibleCall(conn, callId);
    const side = sideOf(call, conn.userId);
    if (side === undefined) throw SignalingError.forbidden('not a participant of this call');
    // A visitor hanging up before anyone answered is a cancel; accept it under either name.
    if (side === 'visitor' && UNANSWERED.includes(call.state)) return this.cancel(conn, callId);
    if (call.state !== 'answered') throw SignalingError.conflict(`call is ${call.state}`);
    const ended = await this.finish(call, ANSWERED, 'ended', reason ?? 'hangup');
    if (ended === undefined) throw SignalingError.conflict('call already ended');
    this.notifyEnded(ended);
  }

  /** Runs the timer `kind` of `callId` that has fired. */
  timerFired(kind: TimerKind, callId: string): Promise<void> {
    switch (kind) {
      case 'ring':
        return this.ringTimedOut(callId);
      case 'queue':
        return this.queueTimedOut(callId);
      case 'grace-visitor':
        return this.graceExpired(callId, 'visitor');
      case 'grace-agent':
        return this.graceExpired(callId, 'agent');
      default: {
        const never: never = kind;
        throw new Error(`unknown timer ${String(never)}`);
      }
    }
  }

  private async ringTimedOut(callId: string): Promise<void> {
    const call = await this.ctx.store.getCall(callId);
    if (call === undefined) return;
    const missed = await this.finish(call, ['ringing'], 'missed', 'ring_timeout');
    if (missed === undefined) return;
    const message: ServerMessage = { type: 'call_missed', callId, reason: 'ring_timeout' };
    this.ctx.hub.sendTo(missed.visitor.connId, message);
    this.ctx.hub.sendToMany(missed.rungConnIds, message);
    if (missed.targetAgentId !== undefined) {
      await this.ctx.presence.ringMissed(missed.companyId, missed.targetAgentId, missed);
    }
  }

  private async queueTimedOut(callId: string): Promise<void> {
    const call = await this.ctx.store.getCall(callId);
    if (call === undefined) return;
    const missed = await this.finish(call, ['queued'], 'missed', 'queue_timeout');
    if (missed === undefined) return;
    this.ctx.hub.sendTo(missed.visitor.connId, {
      type: 'call_missed',
      callId,
      reason: 'queue_timeout',
    });
  }

  /**
   * The reconnect grace of `side` ran out (or its user is barred and cannot come back): the call
   * ends if that side is still without a connection.
   */
  async graceExpired(callId: string, side: Side): Promise<void> {
    const call = await this.ctx.store.getCall(callId);
    if (call === undefined || call[side]?.connId !== null) return;
    if (call.state === 'answered') {
      const ended = await this.finish(call, ANSWERED, 'ended', 'disconnected');
      if (ended !== undefined) this.notifyEnded(ended);
    } else if (UNANSWERED.includes(call.state) && side === 'visitor') {
      const ended = await this.finish(call, UNANSWERED, 'abandoned', 'disconnected');
      if (ended !== undefined) this.notifyEnded(ended, ended.rungConnIds);
    }
  }

  /**
   * Moves a call to a final state (if it is still in one of `from`), tidies queue, timers and
   * links, gives the agent its status back, and forgets the call.
   */
  private async finish(
    call: CallRecord,
    from: readonly CallState[],
    state: CallState,
    reason: string,
  ): Promise<CallRecord | undefined> {
    const done = await this.ctx.store.updateCall(call.callId, from, {
      state,
      endedAt: this.ctx.now(),
      endReason: reason,
    });
    if (done === undefined) return undefined;
    this.ctx.timers.clear(ALL_TIMERS, call.callId);
    this.ctx.transitioned(done);
    this.announceFinished(done);
    mirrorCall(this.ctx.hub, done);
    // A ring that ended (declined, missed, cancelled) frees the agent to be rung again.
    if (done.targetAgentId !== undefined) {
      await this.ctx.store.releaseRing(done.companyId, done.targetAgentId, call.callId);
    }
    await this.ctx.store.deleteCall(call.callId);
    if (call.state === 'queued' && (await this.ctx.store.dequeue(call.companyId, call.callId))) {
      await this.queue.queueChanged(call.companyId);
    }
    if (done.agent !== undefined && call.state === 'answered') {
      await this.ctx.presence.restoreAfterCall(done.companyId, done.agent.id);
    }
    return done;
  }

  /** Sends `call_ended` to both participants (and any extra connections, e.g. rung agents). */
  private notifyEnded(call: CallRecord, extra: readonly string[] = []): void {
    const targets = new Set<string>(extra);
    if (call.visitor.connId !== null) targets.add(call.visitor.connId);
    if (call.agent?.connId) targets.add(call.agent.connId);
    this.ctx.hub.sendToMany(targets, {
      type: 'call_ended',
      callId: call.callId,
      reason: call.endReason ?? 'hangup',
      durationSec: callDurationSec(call) ?? 0,
    });
  }

  /**
   * Tells the company's agent-room that a call is over, once the call log has it, so that a
   * dashboard re-reading the statistics on receipt finds the call counted.
   */
  private announceFinished(call: CallRecord): void {
    const message: ServerMessage = {
      type: 'call_finished',
      callId: call.callId,
      state: call.state as ServerMessageOf<'call_finished'>['state'],
      ...(call.agent !== undefined ? { agentId: call.agent.id } : {}),
    };
    // Only those whose call log shows the call (as `GET /api/calls` decides): admins see every
    // call, an agent the calls it answered or that rang it. Everyone else would only pay for it:
    // in a company of 100 agents, a frame to each for every call cost two thirds of the
    // call-setup rate.
    const concerned = (member: RoomMember) =>
      member.role === 'admin' ||
      member.userId === call.agent?.id ||
      member.userId === call.targetAgentId;
    const send = () =>
      this.ctx.hub.broadcast(call.companyId, [AGENT_ROOM], message, (m) => !concerned(m), true);
    const logged = this.ctx.hooks.logged?.(call.callId) ?? Promise.resolve();
    logged
      .then(send)
      .catch((err: unknown) =>
        this.ctx.log.error({ err, callId: call.callId }, 'call_finished failed'),
      );
  }
}
