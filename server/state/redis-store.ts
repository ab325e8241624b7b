/**
 * The {@link StateStore} shared by several signaling nodes (issue 10), in one Redis.
 *
 * Keys (`{p}` is the store's prefix; `{company}`, `{user}` and the other ids are escaped by
 * `encodeId` in `redis-keys.ts`, which turns `%` into `%25`, `:` into `%3A` and a lone
 * surrogate into `%uXXXX`, so no id contains the separator and two companies can never share a
 * key; ids kept as set members, hash fields and ring values are escaped the same way):
 *
 * | key                                | type       | holds                                   |
 * | ---------------------------------- | ---------- | --------------------------------------- |
 * | `{p}c:{company}:u:{user}:conns`    | list       | the user's connection ids, oldest first |
 * | `{p}c:{company}:u:{user}:calls`    | set        | ids of the calls the user is in         |
 * | `{p}c:{company}:agent:{agent}`     | hash       | an agent's record, a field per property |
 * | `{p}c:{company}:agents`            | sorted set | present agents, in the order they came  |
 * | `{p}c:{company}:ring:{agent}`      | string     | the call holding the agent's ring (TTL) |
 * | `{p}c:{company}:room:{room}`       | hash       | connection id -> member JSON            |
 * | `{p}c:{company}:room:{room}:staff` | hash       | the same, agents and admins only        |
 * | `{p}c:{company}:queue`             | sorted set | queued call ids, in the order they came |
 * | `{p}c:{company}:waits`             | list       | recent queue waits (JSON), oldest first |
 * | `{p}call:{call}`                   | hash       | a call's record, a field per property   |
 * | `{p}stats:rooms`                   | string     | rooms with at least one member          |
 * | `{p}stats:calls`                   | hash       | stored calls by state                   |
 *
 * Besides its properties, a call's hash keeps hidden fields (named with a leading `:`, which no
 * property has) for its scripts: `:base`, what the company's keys start with, and `:visitor`
 * and `:agent`, the escaped user ids it is indexed under. An agent's keeps `:ringAddress`, the
 * escaped address of its newest counted missed ring.
 *
 * The two counters under `stats:` are kept by the scripts that change rooms and calls, so
 * `stats()` reads two keys whatever the size of the cluster, never scans. Like the memory
 * store, `stats:calls` counts every stored call, a final one until `deleteCall`.
 *
 * Every operation is one round trip; those that read and then write are Lua scripts
 * (`redis-scripts.ts`), atomic on the server. Some scripts build keys from stored data, so this
 * store needs a standalone Redis (replicas and Sentinel are fine), not Redis Cluster.
 *
 * @module
 */
import type { ClientContext, Redis, RedisValue, Result } from 'ioredis';
import type { AgentStatus, CallState } from '../../client-lib/protocol.js';
import { decodeId, encodeId, RedisKeys } from './redis-keys.js';
import {
  agentFields,
  agentFromFields,
  callFields,
  callFromFields,
  objectFieldMap,
  queueWaitFromJson,
  replyArrays,
  replyFieldMap,
  replyInteger,
  replyStrings,
  roomMemberFromJson,
} from './redis-records.js';
import { SCRIPTS, type ScriptCommand } from './redis-scripts.js';
import {
  isFinalCallState,
  LIVE_CALL_STATES,
  QUEUE_WAIT_HISTORY,
  type AgentRecord,
  type CallPatch,
  type CallRecord,
  type MissedRing,
  type QueueWaitSample,
  type RoomMember,
  type StateStore,
} from './store.js';

type ScriptCommands<Context extends ClientContext> = {
  [Name in ScriptCommand]: (...keysThenArgs: RedisValue[]) => Result<unknown, Context>;
};

// The scripts become client commands through `defineCommand`; this tells the compiler they
// exist. Replies are `unknown` here and checked where they are read.
declare module 'ioredis' {
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type -- a merge, not a new type
  interface RedisCommander<Context extends ClientContext> extends ScriptCommands<Context> {}
}

/** The key prefix of a store not given one; config can take it from here to state it once. */
export const DEFAULT_REDIS_KEY_PREFIX = 'cd:';

/** Options of {@link RedisStore}. */
export interface RedisStoreOptions {
  /**
   * What every key starts with, so that deployments and tests can share one Redis (each test
   * its own). Default {@link DEFAULT_REDIS_KEY_PREFIX}.
   */
  readonly keyPrefix?: string;
  /**
   * How long a ring claim lasts unless released, in ms: longer than the ring timeout, so that a
   * claim is released by its call in normal running, and a node that dies mid-ring cannot keep
   * the agent from being rung for longer than this.
   */
  readonly ringClaimTtlMs: number;
}

/**
 * How long a visitor's call request claim lasts unless released: far longer than a request takes
 * (a few round trips), and short enough that a node dying mid-request keeps the visitor from
 * calling for a moment only.
 */
const CALL_REQUEST_CLAIM_TTL_MS = 10_000;

/** Call properties a patch may remove (set to undefined); the others are required. */
const REMOVABLE_CALL_FIELDS: ReadonlySet<string> = new Set([
  'agent',
  'answeredAt',
  'endedAt',
  'endReason',
]);
const PATCH_FIELDS = [
  'state',
  'visitor',
  'agent',
  'answeredAt',
  'endedAt',
  'endReason',
  'rungConnIds',
] as const satisfies readonly (keyof CallPatch)[];

/** State in Redis, shared by every node that uses the same Redis and prefix. */
export class RedisStore implements StateStore {
  private readonly keys: RedisKeys;
  private readonly ringClaimTtlMs: number;

  /**
   * @param redis A connected client that the caller owns (and closes); the store defines its
   *   scripts on it as commands named `calldocker*`. It must have no `keyPrefix` of its own,
   *   since the scripts build keys the client cannot prefix: use `options.keyPrefix`.
   */
  constructor(
    private readonly redis: Redis,
    options: RedisStoreOptions,
  ) {
    if (redis.options.keyPrefix !== undefined && redis.options.keyPrefix !== '') {
      throw new TypeError('RedisStore needs a client without keyPrefix: use options.keyPrefix');
    }
    if (!Number.isInteger(options.ringClaimTtlMs) || options.ringClaimTtlMs <= 0) {
      throw new RangeError('ringClaimTtlMs must be a positive whole number of ms');
    }
    this.keys = new RedisKeys(options.keyPrefix ?? DEFAULT_REDIS_KEY_PREFIX);
    this.ringClaimTtlMs = options.ringClaimTtlMs;
    for (const [name, script] of Object.entries(SCRIPTS)) redis.defineCommand(name, script);
  }

  // Presence --------------------------------------------------------------------------------

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

  // Rooms -----------------------------------------------------------------------------------

  async joinRoom(companyId: string, roomId: string, member: RoomMember): Promise<boolean> {
    const reply = await this.redis.calldockerJoinRoom(
      this.keys.room(companyId, roomId),
      this.keys.roomStaff(companyId, roomId),
      this.keys.roomCount,
      encodeId(member.connId),
      JSON.stringify(member),
      member.role === 'visitor' ? '0' : '1',
    );
    return replyInteger(reply, 'joinRoom') === 1;
  }

  async leaveRoom(companyId: string, roomId: string, connId: string): Promise<boolean> {
    const reply = await this.redis.calldockerLeaveRoom(
      this.keys.room(companyId, roomId),
      this.keys.roomStaff(companyId, roomId),
      this.keys.roomCount,
      encodeId(connId),
    );
    return replyInteger(reply, 'leaveRoom') === 1;
  }

  async roomMembers(
    companyId: string,
    roomId: string,
    staffOnly = false,
  ): Promise<readonly RoomMember[]> {
    const key = staffOnly
      ? this.keys.roomStaff(companyId, roomId)
      : this.keys.room(companyId, roomId);
    return (await this.redis.hvals(key)).map(roomMemberFromJson);
  }

  // Queue -----------------------------------------------------------------------------------

  async enqueue(companyId: string, callId: string, maxLength = Infinity): Promise<boolean> {
    const reply = await this.redis.calldockerEnqueue(
      this.keys.queue(companyId),
      encodeId(callId),
      Number.isFinite(maxLength) ? String(maxLength) : '',
    );
    return replyInteger(reply, 'enqueue') === 1;
  }

  async dequeue(companyId: string, callId: string): Promise<boolean> {
    return (await this.redis.zrem(this.keys.queue(companyId), encodeId(callId))) === 1;
  }

  async queue(companyId: string): Promise<readonly string[]> {
    return (await this.redis.zrange(this.keys.queue(companyId), 0, -1)).map(decodeId);
  }

  async recordQueueWait(companyId: string, sample: QueueWaitSample): Promise<void> {
    await this.redis.calldockerRecordQueueWait(
      this.keys.queueWaits(companyId),
      JSON.stringify({ at: sample.at, waitMs: sample.waitMs }),
      QUEUE_WAIT_HISTORY.maxSamples,
    );
  }

  async recentQueueWaits(companyId: string, now: number): Promise<readonly QueueWaitSample[]> {
    const reply = await this.redis.calldockerRecentQueueWaits(
      this.keys.queueWaits(companyId),
      String(now - QUEUE_WAIT_HISTORY.maxAgeMs),
    );
    return replyStrings(reply, 'recentQueueWaits').map(queueWaitFromJson);
  }

  // Calls -----------------------------------------------------------------------------------

  async createCall(call: CallRecord): Promise<void> {
    await this.redis.calldockerCreateCall(
      this.keys.call(call.callId),
      this.keys.callCounts,
      encodeId(call.callId),
      this.keys.company(call.companyId),
      encodeId(call.visitor.id),
      call.agent === undefined ? '0' : '1',
      encodeId(call.agent?.id ?? ''),
      call.state,
      ...callFields(call),
    );
  }

  async getCall(callId: string): Promise<CallRecord | undefined> {
    const fields = await this.redis.hgetall(this.keys.call(callId));
    return Object.keys(fields).length === 0 ? undefined : callFromFields(objectFieldMap(fields));
  }

  async updateCall(
    callId: string,
    from: readonly CallState[],
    patch: CallPatch,
  ): Promise<CallRecord | undefined> {
    const sets: string[] = [];
    const deletes: string[] = [];
    for (const field of PATCH_FIELDS) {
      if (!(field in patch)) continue;
      const value = patch[field];
      if (value !== undefined) sets.push(field, JSON.stringify(value));
      else if (REMOVABLE_CALL_FIELDS.has(field)) deletes.push(field);
    }
    const agentChange = !('agent' in patch) ? '' : patch.agent === undefined ? '-' : '=';
    const visitorChange = patch.visitor === undefined ? '' : '=';
    const reply = await this.redis.calldockerUpdateCall(
      this.keys.call(callId),
      this.keys.callCounts,
      encodeId(callId),
      LIVE_CALL_STATES.length,
      ...LIVE_CALL_STATES,
      from.length,
      ...from,
      patch.state ?? '',
      visitorChange,
      encodeId(patch.visitor?.id ?? ''),
      agentChange,
      encodeId(patch.agent?.id ?? ''),
      sets.length / 2,
      ...sets,
      deletes.length,
      ...deletes,
    );
    return reply === null ? undefined : callFromFields(replyFieldMap(reply, 'updateCall'));
  }

  async deleteCall(callId: string): Promise<void> {
    await this.redis.calldockerDeleteCall(
      this.keys.call(callId),
      this.keys.callCounts,
      encodeId(callId),
    );
  }

  async callsOf(companyId: string, userId: string): Promise<readonly CallRecord[]> {
    const reply = await this.redis.calldockerCallsOf(
      this.keys.userCalls(companyId, userId),
      this.keys.callBase,
    );
    return replyArrays(reply, 'callsOf')
      .map((fields) => callFromFields(replyFieldMap(fields, 'callsOf')))
      .filter((call) => !isFinalCallState(call.state));
  }

  // Introspection ---------------------------------------------------------------------------

  async stats() {
    const reply = await this.redis.calldockerStats(this.keys.roomCount, this.keys.callCounts);
    const [rooms = '0', ...counts] = replyStrings(reply, 'stats');
    const callsByState: Record<string, number> = {};
    for (const [state, n] of replyFieldMap(counts, 'stats')) {
      callsByState[state] = replyInteger(Number(n), 'stats');
    }
    return { rooms: replyInteger(Number(rooms), 'stats'), callsByState };
  }
}
