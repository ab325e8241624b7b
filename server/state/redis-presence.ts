/**
 * The presence part of {@link RedisStore}: users' live connections, agents and their status, the
 * missed-ring streak, and the two claims (an agent's one ring, a visitor's one call request).
 * The keys are described at the top of `redis-store.ts`.
 *
 * @module
 */
import type { Redis } from 'ioredis';
import type { AgentStatus } from '../../client-lib/protocol.js';
import { decodeId, encodeId, type RedisKeys } from './redis-keys.js';
import {
  agentFields,
  agentFromFields,
  objectFieldMap,
  replyArrays,
  replyFieldMap,
  replyInteger,
} from './redis-records.js';
import type { AgentRecord, MissedRing, StateStore } from './store.js';

/**
 * How long a visitor's call request claim lasts unless released: far longer than a request takes
 * (a few round trips), and short enough that a node dying mid-request keeps the visitor from
 * calling for a moment only.
 */
const CALL_REQUEST_CLAIM_TTL_MS = 10_000;

/** The operations of the `Presence` section of {@link StateStore}. */
export type PresenceOperations = Pick<
  StateStore,
  | 'addConnection'
  | 'removeConnection'
  | 'connectionsOf'
  | 'agentPresent'
  | 'setAgentStatus'
  | 'countMissedRing'
  | 'claimRing'
  | 'releaseRing'
  | 'claimCallRequest'
  | 'releaseCallRequest'
  | 'agentGone'
  | 'getAgent'
  | 'listAgents'
>;

/** Connections, agents and claims in Redis. */
export class RedisPresence implements PresenceOperations {
  /**
   * @param redis The store's client, its scripts defined.
   * @param ringClaimTtlMs How long a ring claim lasts unless released (`RedisStoreOptions`).
   */
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly ringClaimTtlMs: number,
  ) {}

  async addConnection(companyId: string, userId: string, connId: string): Promise<number> {
    const key = this.keys.connections(companyId, userId);
    const reply = await this.redis.calldockerAddConnection(key, encodeId(connId));
    return replyInteger(reply, 'addConnection');
  }

  async removeConnection(companyId: string, userId: string, connId: string): Promise<number> {
    const key = this.keys.connections(companyId, userId);
    const reply = await this.redis.calldockerRemoveConnection(key, encodeId(connId));
    return replyInteger(reply, 'removeConnection');
  }

  async connectionsOf(companyId: string, userId: string): Promise<readonly string[]> {
    const ids = await this.redis.lrange(this.keys.connections(companyId, userId), 0, -1);
    return ids.map(decodeId);
  }

  async agentPresent(companyId: string, agent: { id: string; name: string }): Promise<AgentRecord> {
    const record: AgentRecord = {
      id: agent.id,
      name: agent.name,
      status: 'online',
      statusBeforeCall: null,
      missedRings: 0,
    };
    const reply = await this.redis.calldockerAgentPresent(
      this.keys.agent(companyId, agent.id),
      this.keys.agents(companyId),
      encodeId(agent.id),
      ...agentFields(record),
    );
    return agentFromFields(replyFieldMap(reply, 'agentPresent'));
  }

  async setAgentStatus(
    companyId: string,
    agentId: string,
    status: AgentStatus,
    statusBeforeCall: AgentStatus | null,
  ): Promise<AgentRecord | undefined> {
    const reply = await this.redis.calldockerSetAgentStatus(
      this.keys.agent(companyId, agentId),
      JSON.stringify(status),
      JSON.stringify(statusBeforeCall),
    );
    return reply === null ? undefined : agentFromFields(replyFieldMap(reply, 'setAgentStatus'));
  }

  async countMissedRing(
    companyId: string,
    agentId: string,
    reset = false,
    ring?: MissedRing,
  ): Promise<number> {
    const reply = await this.redis.calldockerCountMissedRing(
      this.keys.agent(companyId, agentId),
      reset ? '1' : '0',
      ring === undefined ? '0' : '1',
      encodeId(ring?.address ?? ''),
      String(ring?.at ?? 0),
      String(ring?.burstWindowMs ?? 0),
      ring === undefined ? '' : JSON.stringify({ address: ring.address, at: ring.at }),
    );
    return replyInteger(reply, 'countMissedRing');
  }

  async claimRing(companyId: string, agentId: string, callId: string): Promise<boolean> {
    const key = this.keys.ring(companyId, agentId);
    const reply = await this.redis.set(key, encodeId(callId), 'PX', this.ringClaimTtlMs, 'NX');
    return reply === 'OK';
  }

  async releaseRing(companyId: string, agentId: string, callId: string): Promise<void> {
    await this.redis.calldockerReleaseClaim(this.keys.ring(companyId, agentId), encodeId(callId));
  }

  async claimCallRequest(companyId: string, visitorId: string, callId: string): Promise<boolean> {
    const key = this.keys.callRequest(companyId, visitorId);
    const reply = await this.redis.set(
      key,
      encodeId(callId),
      'PX',
      CALL_REQUEST_CLAIM_TTL_MS,
      'NX',
    );
    return reply === 'OK';
  }

  async releaseCallRequest(companyId: string, visitorId: string, callId: string): Promise<void> {
    const key = this.keys.callRequest(companyId, visitorId);
    await this.redis.calldockerReleaseClaim(key, encodeId(callId));
  }

  async agentGone(companyId: string, agentId: string): Promise<void> {
    await this.redis.calldockerAgentGone(
      this.keys.agent(companyId, agentId),
      this.keys.agents(companyId),
      encodeId(agentId),
    );
  }

  async getAgent(companyId: string, agentId: string): Promise<AgentRecord | undefined> {
    const fields = await this.redis.hgetall(this.keys.agent(companyId, agentId));
    return Object.keys(fields).length === 0 ? undefined : agentFromFields(objectFieldMap(fields));
  }

  async listAgents(companyId: string): Promise<readonly AgentRecord[]> {
    const reply = await this.redis.calldockerListAgents(
      this.keys.agents(companyId),
      this.keys.company(companyId),
    );
    return replyArrays(reply, 'listAgents').map((f) =>
      agentFromFields(replyFieldMap(f, 'listAgents')),
    );
  }
}
