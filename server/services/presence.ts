/**
 * Agent presence: status changes, their announcement, the agent list visitors get, and the
 * status a call imposes (busy) and gives back when it ends.
 *
 * Announcements are coalesced per company (see {@link Coalescer}): at the end of a tick each
 * changed agent's latest status is compared with what the company was last told, and only a
 * difference is announced. A busy-then-online flip within the tick is not news. Nothing final
 * is lost: the latest status always goes out, and a visitor whose `agent_list` was read while
 * changes were pending is sent each changed agent's latest status, news or not.
 *
 * What the company was last told is the agent's record as the store held it before the tick's
 * first change, since every change is announced. It is read from the store, not remembered: in
 * a cluster the other nodes announce changes of the same agent, and a node's memory of what it
 * announced itself would take an agent's return to `online` after another node announced it
 * `away` for no news, or the offline of an agent another node announced online.
 */
import type { Logger } from 'pino';
import { AGENT_ROOM, PUBLIC_ROOM } from '../../client-lib/constants.js';
import type { AgentStatus, ServerMessageOf } from '../../client-lib/protocol.js';
import type { Coalescer } from '../coalescer.js';
import type { Connection } from '../connection.js';
import type { Hub } from '../hub.js';
import type { AgentRecord, CallRecord, StateStore } from '../state/store.js';

/**
 * Missed rings from the address of the streak's newest counted ring count again only this long
 * after it. Ten minutes: a caller from one address (a visitor retrying, or someone with any
 * number of visitor tokens) can then add at most one to a streak in the time it takes a real
 * agent to come back to the desk, answer or decline a ring, and so break the streak; rings from
 * different addresses count as before.
 */
export const SAME_ADDRESS_RING_WINDOW_MS = 10 * 60_000;

/** Rooms that hear every agent status change. */
const STATUS_ROOMS = [AGENT_ROOM, PUBLIC_ROOM] as const;

/** What the company was told of an agent: nothing while it was absent (no record). */
type Told = Pick<AgentRecord, 'name' | 'status'> | undefined;

/** What the company is told of an agent, and what it knew before the tick's changes. */
interface AgentView {
  readonly id: string;
  readonly name: string;
  readonly status: AgentStatus;
  readonly before: Told;
}

export class PresenceService {
  /** Per company: each changed agent's latest view, waiting for the end of the tick. */
  private readonly pending = new Map<string, Map<string, AgentView>>();
  /** Per company: connections that read the agent list during the current tick. */
  private readonly freshViewers = new Map<string, Set<string>>();

  constructor(
    private readonly store: StateStore,
    private readonly hub: Hub,
    private readonly coalescer: Coalescer,
    private readonly missedRingsBeforeAway: number,
    private readonly log: Logger,
  ) {}

  /** An agent's connection arrived: the agent becomes present (online) if it was not. */
  async agentConnected(conn: Connection): Promise<void> {
    const before = await this.store.getAgent(conn.companyId, conn.userId);
    const record = await this.store.agentPresent(conn.companyId, {
      id: conn.userId,
      name: conn.principal.name,
    });
    if (before === undefined) await this.announce(conn.companyId, record, before);
  }

  /**
   * An agent's connection is gone. With no connection left the agent is offline, unless a
   * call still holds it (the call's reconnect grace decides then).
   */
  async agentDisconnected(companyId: string, agentId: string, remaining: number): Promise<void> {
    if (remaining > 0) return;
    const calls = await this.store.callsOf(companyId, agentId);
    if (calls.length > 0) return;
    await this.goOffline(companyId, agentId);
  }

  /** Removes an agent with no connection left and announces it offline. */
  async goOffline(companyId: string, agentId: string): Promise<void> {
    const record = await this.store.getAgent(companyId, agentId);
    if (record === undefined) return;
    if ((await this.store.connectionsOf(companyId, agentId)).length > 0) return;
    await this.store.agentGone(companyId, agentId);
    // An agent that already chose to appear offline was announced then; publish() tells only
    // what changed.
    await this.announce(companyId, { ...record, status: 'offline' }, record);
  }

  /** An explicit choice by the agent; it wins over a call's busy (nothing is restored later). */
  async setStatus(conn: Connection, status: AgentStatus): Promise<AgentStatus> {
    const before = await this.store.getAgent(conn.companyId, conn.userId);
    const record = await this.store.setAgentStatus(conn.companyId, conn.userId, status, null);
    if (record === undefined) return status;
    if (status === 'online') await this.store.countMissedRing(conn.companyId, conn.userId, true);
    if (before?.status !== status) await this.announce(conn.companyId, record, before);
    return status;
  }

  /** Accepting a call makes the agent busy, remembering what to restore. */
  async markBusy(companyId: string, agentId: string): Promise<void> {
    const record = await this.store.getAgent(companyId, agentId);
    if (record === undefined) return;
    const restore = record.statusBeforeCall ?? record.status;
    const updated = await this.store.setAgentStatus(companyId, agentId, 'busy', restore);
    if (updated !== undefined && record.status !== 'busy') {
      await this.announce(companyId, updated, record);
    }
  }

  /** The call ended: give back the status the agent had, or take it offline if it left. */
  async restoreAfterCall(companyId: string, agentId: string): Promise<void> {
    if ((await this.store.connectionsOf(companyId, agentId)).length === 0) {
      await this.goOffline(companyId, agentId);
      return;
    }
    const record = await this.store.getAgent(companyId, agentId);
    if (record === undefined || record.statusBeforeCall === null) return;
    const updated = await this.store.setAgentStatus(
      companyId,
      agentId,
      record.statusBeforeCall,
      null,
    );
    if (updated !== undefined && updated.status !== record.status) {
      await this.announce(companyId, updated, record);
    }
  }

  /**
   * A ring aimed at the agent timed out; enough in a row and it is set away. Rings a visitor
   * cancelled never come here, and a burst from one caller address counts once (see
   * {@link SAME_ADDRESS_RING_WINDOW_MS}), so strangers cannot take an agent off the air.
   */
  async ringMissed(
    companyId: string,
    agentId: string,
    call?: Pick<CallRecord, 'callerAddress' | 'endedAt'>,
  ): Promise<void> {
    // A ring that times out while the agent is busy with another call (or already away) says
    // nothing about whether it is at its desk.
    const before = await this.store.getAgent(companyId, agentId);
    if (before?.status !== 'online') return;
    const ring =
      call?.callerAddress === undefined || call.endedAt === undefined
        ? undefined
        : {
            address: call.callerAddress,
            at: call.endedAt,
            burstWindowMs: SAME_ADDRESS_RING_WINDOW_MS,
          };
    const missed = await this.store.countMissedRing(companyId, agentId, false, ring);
    if (this.missedRingsBeforeAway <= 0 || missed < this.missedRingsBeforeAway) return;
    const updated = await this.store.setAgentStatus(companyId, agentId, 'away', null);
    await this.store.countMissedRing(companyId, agentId, true);
    this.log.info({ companyId, agentId, missed }, 'agent set away after missed rings');
    if (updated !== undefined) await this.announce(companyId, updated, before);
  }

  /** The agent answered or declined a ring: the streak is broken. */
  async ringAnswered(companyId: string, agentId: string): Promise<void> {
    await this.store.countMissedRing(companyId, agentId, true);
  }

  /** Sends a connection (a visitor, or an agent joining its team) the company's present agents. */
  async sendAgentList(conn: Connection): Promise<void> {
    const { companyId } = conn;
    const agents = await this.store.listAgents(companyId);
    conn.send({
      type: 'agent_list',
      agents: agents.map((a) => ({ id: a.id, name: a.name, status: a.status })),
    });
    // The list may show a change the company has not been told yet, which a later change
    // could undo within the tick: this viewer is then owed the latest status all the same.
    let fresh = this.freshViewers.get(companyId);
    if (fresh === undefined) this.freshViewers.set(companyId, (fresh = new Set()));
    fresh.add(conn.id);
    await this.coalescer.schedule(presenceKey(companyId), () => this.publish(companyId));
  }

  /**
   * Records `record` as the agent's latest status and announces it at the end of the tick;
   * `before` is the agent's record as the store held it just before this change.
   */
  private async announce(
    companyId: string,
    record: Pick<AgentRecord, 'id' | 'name' | 'status'>,
    before: Told,
  ): Promise<void> {
    let changes = this.pending.get(companyId);
    if (changes === undefined) this.pending.set(companyId, (changes = new Map()));
    // What the company knew is the record before the tick's first change of this agent.
    const first = changes.get(record.id);
    changes.delete(record.id);
    changes.set(record.id, {
      id: record.id,
      name: record.name,
      status: record.status,
      before: first === undefined ? before : first.before,
    });
    await this.coalescer.schedule(presenceKey(companyId), () => this.publish(companyId));
  }

  /** The end of the tick for `companyId`: tells what changed since it was last told. */
  private async publish(companyId: string): Promise<void> {
    const changes = this.pending.get(companyId);
    const fresh = this.freshViewers.get(companyId);
    this.pending.delete(companyId);
    this.freshViewers.delete(companyId);
    if (changes === undefined) return;
    for (const view of changes.values()) {
      const last = view.before;
      // An agent nobody was told of is news only once it shows (came and went is not news).
      const news =
        last === undefined
          ? view.status !== 'offline'
          : last.status !== view.status || last.name !== view.name;
      const message: ServerMessageOf<'agent_status_changed'> = {
        type: 'agent_status_changed',
        agentId: view.id,
        name: view.name,
        status: view.status,
      };
      if (fresh !== undefined) this.hub.sendToMany(fresh, message);
      if (news) {
        await this.hub.broadcast(
          companyId,
          STATUS_ROOMS,
          message,
          fresh === undefined ? undefined : (member) => fresh.has(member.connId),
        );
      }
    }
  }
}

/** The coalescing key of a company's presence announcements. */
const presenceKey = (companyId: string) => `presence\u0000${companyId}`;
