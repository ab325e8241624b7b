/**
 * Agent presence: status changes, their announcement, the agent list visitors get, and the
 * status a call imposes (busy) and gives back when it ends.
 */
import type { Logger } from 'pino';
import { AGENT_ROOM, PUBLIC_ROOM } from '../../client-lib/constants.js';
import type { AgentStatus } from '../../client-lib/protocol.js';
import type { Connection } from '../connection.js';
import type { Hub } from '../hub.js';
import type { AgentRecord, StateStore } from '../state/store.js';

/** Rooms that hear every agent status change. */
const STATUS_ROOMS = [AGENT_ROOM, PUBLIC_ROOM] as const;

export class PresenceService {
  constructor(
    private readonly store: StateStore,
    private readonly hub: Hub,
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
    if (before === undefined) await this.announce(conn.companyId, record);
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
    // An agent that already chose to appear offline was announced then.
    if (record.status !== 'offline')
      await this.announce(companyId, { ...record, status: 'offline' });
  }

  /** An explicit choice by the agent; it wins over a call's busy (nothing is restored later). */
  async setStatus(conn: Connection, status: AgentStatus): Promise<AgentStatus> {
    const before = await this.store.getAgent(conn.companyId, conn.userId);
    const record = await this.store.setAgentStatus(conn.companyId, conn.userId, status, null);
    if (record === undefined) return status;
    if (status === 'online') await this.store.countMissedRing(conn.companyId, conn.userId, true);
    if (before?.status !== status) await this.announce(conn.companyId, record);
    return status;
  }

  /** Accepting a call makes the agent busy, remembering what to restore. */
  async markBusy(companyId: string, agentId: string): Promise<void> {
    const record = await this.store.getAgent(companyId, agentId);
    if (record === undefined) return;
    const restore = record.statusBeforeCall ?? record.status;
    const updated = await this.store.setAgentStatus(companyId, agentId, 'busy', restore);
    if (updated !== undefined && record.status !== 'busy') await this.announce(companyId, updated);
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
      await this.announce(companyId, updated);
    }
  }

  /** A ring aimed at the agent timed out; enough in a row and it is set away. */
  async ringMissed(companyId: string, agentId: string): Promise<void> {
    // A ring that times out while the agent is busy with another call (or already away) says
    // nothing about whether it is at its desk.
    if ((await this.store.getAgent(companyId, agentId))?.status !== 'online') return;
    const missed = await this.store.countMissedRing(companyId, agentId);
    if (this.missedRingsBeforeAway <= 0 || missed < this.missedRingsBeforeAway) return;
    const updated = await this.store.setAgentStatus(companyId, agentId, 'away', null);
    await this.store.countMissedRing(companyId, agentId, true);
    this.log.info({ companyId, agentId, missed }, 'agent set away after missed rings');
    if (updated !== undefined) await this.announce(companyId, updated);
  }

  /** The agent answered or declined a ring: the streak is broken. */
  async ringAnswered(companyId: string, agentId: string): Promise<void> {
    await this.store.countMissedRing(companyId, agentId, true);
  }

  /** Sends a visitor the company's present agents. */
  async sendAgentList(conn: Connection): Promise<void> {
    const agents = await this.store.listAgents(conn.companyId);
    conn.send({
      type: 'agent_list',
      agents: agents.map((a) => ({ id: a.id, name: a.name, status: a.status })),
    });
  }

  private async announce(companyId: string, record: Pick<AgentRecord, 'id' | 'name' | 'status'>) {
    await this.hub.broadcast(companyId, STATUS_ROOMS, {
      type: 'agent_status_changed',
      agentId: record.id,
      name: record.name,
      status: record.status,
    });
  }
}
