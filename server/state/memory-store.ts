/**
 * The single-node {@link StateStore}: plain maps, every operation atomic because nothing
 * awaits inside it. Keys lead with the length of the company id, so two companies can never
 * share a key whatever their ids hold: ids are JSON strings from verified tokens and may
 * contain a NUL or any other separator.
 */
import {
  compactAdd,
  compactDelete,
  compactSize,
  compactValues,
  type CompactSet,
} from '../compact-set.js';
import type { AgentStatus, CallState } from '../../client-lib/protocol.js';
import {
  CALL_TOMBSTONE_MS,
  isFinalCallState,
  QUEUE_WAIT_HISTORY,
  type AgentRecord,
  type CallPatch,
  type CallRecord,
  type MissedRing,
  type QueueWaitSample,
  type RoomMember,
  type StateStore,
} from './store.js';

const key = (companyId: string, name: string) => `${companyId.length}:${companyId}:${name}`;

/** In-memory state for one signaling node. */
export class MemoryStore implements StateStore {
  /**
   * Live connections of each user, by company then user: no key string is made per user (tens
   * of thousands of idle visitors of one company), and each user's ids are a {@link CompactSet}
   * (its one connection's id alone until it opens a second).
   */
  private readonly connections = new Map<string, Map<string, CompactSet>>();
  private readonly agents = new Map<string, AgentRecord>();
  private readonly agentsByCompany = new Map<string, Set<string>>();
  /** The call ringing each agent, by company and agent: at most one (see `claimRing`). */
  private readonly rings = new Map<string, string>();
  /** The call request under way of each visitor, by company and visitor (`claimCallRequest`). */
  private readonly requests = new Map<string, string>();
  private readonly rooms = new Map<string, Map<string, RoomMember>>();
  /** The agents and admins of each room, so announcements to staff skip the visitors. */
  private readonly staff = new Map<string, Map<string, RoomMember>>();
  private readonly queues = new Map<string, string[]>();
  /** Each company's recent queue waits, oldest first, at most `maxSamples`. */
  private readonly queueWaits = new Map<string, QueueWaitSample[]>();
  private readonly calls = new Map<string, CallRecord>();
  /** Calls deleted lately, and until when a restore must leave them deleted. */
  private readonly ended = new Map<string, number>();
  private readonly callsByUser = new Map<string, Set<string>>();

  async addConnection(companyId: string, userId: string, connId: string): Promise<number> {
    let users = this.connections.get(companyId);
    if (users === undefined) this.connections.set(companyId, (users = new Map()));
    const ids = compactAdd(users.get(userId), connId);
    users.set(userId, ids);
    return compactSize(ids);
  }

  async removeConnection(companyId: string, userId: string, connId: string): Promise<number> {
    const users = this.connections.get(companyId);
    const ids = compactDelete(users?.get(userId), connId);
    const remaining = compactSize(ids);
    if (users !== undefined && remaining === 0) {
      users.delete(userId);
      if (users.size === 0) this.connections.delete(companyId);
    }
    return remaining;
  }

  async connectionsOf(companyId: string, userId: string): Promise<readonly string[]> {
    return [...compactValues(this.connections.get(companyId)?.get(userId))];
  }

  async agentPresent(companyId: string, agent: { id: string; name: string }): Promise<AgentRecord> {
    const k = key(companyId, agent.id);
    const existing = this.agents.get(k);
    if (existing !== undefined) return existing;
    const record: AgentRecord = {
      id: agent.id,
      name: agent.name,
      status: 'online',
      statusBeforeCall: null,
      missedRings: 0,
    };
    this.agents.set(k, record);
    let ids = this.agentsByCompany.get(companyId);
    if (ids === undefined) this.agentsByCompany.set(companyId, (ids = new Set()));
    ids.add(agent.id);
    return record;
  }

  async setAgentStatus(
    companyId: string,
    agentId: string,
    status: AgentStatus,
    statusBeforeCall: AgentStatus | null,
  ): Promise<AgentRecord | undefined> {
    const k = key(companyId, agentId);
    const existing = this.agents.get(k);
    if (existing === undefined) return undefined;
    const record = { ...existing, status, statusBeforeCall };
    this.agents.set(k, record);
    return record;
  }

  async countMissedRing(
    companyId: string,
    agentId: string,
    reset = false,
    ring?: MissedRing,
  ): Promise<number> {
    const k = key(companyId, agentId);
    const existing = this.agents.get(k);
    if (existing === undefined) return 0;
    const last = existing.lastMissedRing;
    if (
      !reset &&
      ring !== undefined &&
      last?.address === ring.address &&
      ring.at - last.at < ring.burstWindowMs
    ) {
      return existing.missedRings;
    }
    const missedRings = reset ? 0 : existing.missedRings + 1;
    const lastMissedRing =
      reset || ring === undefined ? undefined : { address: ring.address, at: ring.at };
    this.agents.set(k, { ...existing, missedRings, lastMissedRing });
    return missedRings;
  }

  async claimRing(companyId: string, agentId: string, callId: string): Promise<boolean> {
    const k = key(companyId, agentId);
    if (this.rings.has(k)) return false;
    this.rings.set(k, callId);
    return true;
  }

  async releaseRing(companyId: string, agentId: string, callId: string): Promise<void> {
    const k = key(companyId, agentId);
    if (this.rings.get(k) === callId) this.rings.delete(k);
  }

  async claimCallRequest(companyId: string, visitorId: string, callId: string): Promise<boolean> {
    const k = key(companyId, visitorId);
    if (this.requests.has(k)) return false;
    this.requests.set(k, callId);
    return true;
  }

  async releaseCallRequest(companyId: string, visitorId: string, callId: string): Promise<void> {
    const k = key(companyId, visitorId);
    if (this.requests.get(k) === callId) this.requests.delete(k);
  }

  async agentGone(companyId: string, agentId: string): Promise<void> {
    this.agents.delete(key(companyId, agentId));
    const ids = this.agentsByCompany.get(companyId);
    ids?.delete(agentId);
    if (ids?.size === 0) this.agentsByCompany.delete(companyId);
  }

  async getAgent(companyId: string, agentId: string): Promise<AgentRecord | undefined> {
    return this.agents.get(key(companyId, agentId));
  }

  async listAgents(companyId: string): Promise<readonly AgentRecord[]> {
    const out: AgentRecord[] = [];
    for (const id of this.agentsByCompany.get(companyId) ?? []) {
      const record = this.agents.get(key(companyId, id));
      if (record !== undefined) out.push(record);
    }
    return out;
  }

  async joinRoom(companyId: string, roomId: string, member: RoomMember): Promise<boolean> {
    const k = key(companyId, roomId);
    let members = this.rooms.get(k);
    if (members === undefined) this.rooms.set(k, (members = new Map()));
    if (members.has(member.connId)) return false;
    members.set(member.connId, member);
    if (member.role !== 'visitor') {
      let staff = this.staff.get(k);
      if (staff === undefined) this.staff.set(k, (staff = new Map()));
      staff.set(member.connId, member);
    }
    return true;
  }

  async leaveRoom(companyId: string, roomId: string, connId: string): Promise<boolean> {
    const k = key(companyId, roomId);
    const members = this.rooms.get(k);
    if (members === undefined || !members.delete(connId)) return false;
    if (members.size === 0) this.rooms.delete(k);
    const staff = this.staff.get(k);
    if (staff?.delete(connId) === true && staff.size === 0) this.staff.delete(k);
    return true;
  }

  async roomMembers(
    companyId: string,
    roomId: string,
    staffOnly = false,
  ): Promise<readonly RoomMember[]> {
    const members = (staffOnly ? this.staff : this.rooms).get(key(companyId, roomId));
    return members === undefined ? [] : [...members.values()];
  }

  async enqueue(companyId: string, callId: string, maxLength = Infinity): Promise<boolean> {
    let queue = this.queues.get(companyId);
    if (queue?.includes(callId) === true) return true;
    if ((queue?.length ?? 0) >= maxLength) return false;
    if (queue === undefined) this.queues.set(companyId, (queue = []));
    queue.push(callId);
    return true;
  }

  async dequeue(companyId: string, callId: string): Promise<boolean> {
    const queue = this.queues.get(companyId);
    const index = queue?.indexOf(callId) ?? -1;
    if (queue === undefined || index < 0) return false;
    queue.splice(index, 1);
    if (queue.length === 0) this.queues.delete(companyId);
    return true;
  }

  async queue(companyId: string): Promise<readonly string[]> {
    return [...(this.queues.get(companyId) ?? [])];
  }

  async recordQueueWait(companyId: string, sample: QueueWaitSample): Promise<void> {
    let samples = this.queueWaits.get(companyId);
    if (samples === undefined) this.queueWaits.set(companyId, (samples = []));
    samples.push(sample);
    if (samples.length > QUEUE_WAIT_HISTORY.maxSamples) samples.shift();
  }

  async recentQueueWaits(companyId: string, now: number): Promise<readonly QueueWaitSample[]> {
    const samples = this.queueWaits.get(companyId);
    if (samples === undefined) return [];
    const oldest = now - QUEUE_WAIT_HISTORY.maxAgeMs;
    // Answer times only grow, so the stale samples are a prefix: drop them for good.
    const stale = samples.findIndex((s) => s.at >= oldest);
    if (stale < 0) {
      this.queueWaits.delete(companyId);
      return [];
    }
    if (stale > 0) samples.splice(0, stale);
    return [...samples];
  }

  async createCall(call: CallRecord): Promise<void> {
    this.calls.set(call.callId, call);
    this.indexCall(call);
  }

  async getCall(callId: string): Promise<CallRecord | undefined> {
    return this.calls.get(callId);
  }

  async updateCall(
    callId: string,
    from: readonly CallState[],
    patch: CallPatch,
  ): Promise<CallRecord | undefined> {
    const existing = this.calls.get(callId);
    if (existing === undefined || !from.includes(existing.state)) return undefined;
    const updated: CallRecord = { ...existing, ...patch };
    this.calls.set(callId, updated);
    this.indexCall(updated);
    if (isFinalCallState(updated.state)) this.unindexCall(updated);
    return updated;
  }

  async deleteCall(callId: string): Promise<void> {
    const now = Date.now();
    // Marks expire in the order they were set: drop the expired ones from the front.
    for (const [id, until] of this.ended) {
      if (until > now) break;
      this.ended.delete(id);
    }
    this.ended.delete(callId);
    this.ended.set(callId, now + CALL_TOMBSTONE_MS);
    const existing = this.calls.get(callId);
    if (existing === undefined) return;
    this.calls.delete(callId);
    this.unindexCall(existing);
  }

  async restoreCall(call: CallRecord): Promise<boolean> {
    const ended = this.ended.get(call.callId);
    if (this.calls.has(call.callId) || (ended !== undefined && ended > Date.now())) return false;
    await this.createCall(call);
    return true;
  }

  async callsOf(companyId: string, userId: string): Promise<readonly CallRecord[]> {
    const out: CallRecord[] = [];
    for (const callId of this.callsByUser.get(key(companyId, userId)) ?? []) {
      const call = this.calls.get(callId);
      if (call !== undefined && !isFinalCallState(call.state)) out.push(call);
    }
    return out;
  }

  async stats() {
    const callsByState: Record<string, number> = {};
    for (const call of this.calls.values()) {
      callsByState[call.state] = (callsByState[call.state] ?? 0) + 1;
    }
    return { rooms: this.rooms.size, callsByState };
  }

  private indexCall(call: CallRecord): void {
    for (const userId of [call.visitor.id, call.agent?.id]) {
      if (userId === undefined) continue;
      const k = key(call.companyId, userId);
      let set = this.callsByUser.get(k);
      if (set === undefined) this.callsByUser.set(k, (set = new Set()));
      set.add(call.callId);
    }
  }

  private unindexCall(call: CallRecord): void {
    for (const userId of [call.visitor.id, call.agent?.id]) {
      if (userId === undefined) continue;
      const k = key(call.companyId, userId);
      const set = this.callsByUser.get(k);
      set?.delete(call.callId);
      if (set?.size === 0) this.callsByUser.delete(k);
    }
  }
}
