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
 * | `{p}ended:{call}`                  | string     | a call deleted lately (`restoreCall`)   |
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
import { RedisCalls } from './redis-calls.js';
import { RedisKeys } from './redis-keys.js';
import { RedisPresence } from './redis-presence.js';
import { RedisQueue } from './redis-queue.js';
import { replyFieldMap, replyInteger, replyStrings } from './redis-records.js';
import { RedisRooms } from './redis-rooms.js';
import { SCRIPTS, type ScriptCommand } from './redis-scripts.js';
import type {
  AgentRecord,
  CallPatch,
  CallRecord,
  MissedRing,
  QueueWaitSample,
  RoomMember,
  StateStore,
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
 * State in Redis, shared by every node that uses the same Redis and prefix.
 *
 * Each section of {@link StateStore} is a part of its own (`redis-presence.ts`, `redis-rooms.ts`,
 * `redis-queue.ts`, `redis-calls.ts`) on the same client and keys; this class checks the options,
 * defines the scripts, hands each operation to its part, and reads the counters for `stats()`.
 */
export class RedisStore implements StateStore {
  private readonly keys: RedisKeys;
  private readonly presence: RedisPresence;
  private readonly rooms: RedisRooms;
  private readonly queues: RedisQueue;
  private readonly calls: RedisCalls;

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
    for (const [name, script] of Object.entries(SCRIPTS)) redis.defineCommand(name, script);
    this.presence = new RedisPresence(redis, this.keys, options.ringClaimTtlMs);
    this.rooms = new RedisRooms(redis, this.keys);
    this.queues = new RedisQueue(redis, this.keys);
    this.calls = new RedisCalls(redis, this.keys);
  }

  // Presence --------------------------------------------------------------------------------

  addConnection(companyId: string, userId: string, connId: string): Promise<number> {
    return this.presence.addConnection(companyId, userId, connId);
  }

  removeConnection(companyId: string, userId: string, connId: string): Promise<number> {
    return this.presence.removeConnection(companyId, userId, connId);
  }

  connectionsOf(companyId: string, userId: string): Promise<readonly string[]> {
    return this.presence.connectionsOf(companyId, userId);
  }

  agentPresent(companyId: string, agent: { id: string; name: string }): Promise<AgentRecord> {
    return this.presence.agentPresent(companyId, agent);
  }

  setAgentStatus(
    companyId: string,
    agentId: string,
    status: AgentStatus,
    statusBeforeCall: AgentStatus | null,
  ): Promise<AgentRecord | undefined> {
    return this.presence.setAgentStatus(companyId, agentId, status, statusBeforeCall);
  }

  countMissedRing(
    companyId: string,
    agentId: string,
    reset?: boolean,
    ring?: MissedRing,
  ): Promise<number> {
    return this.presence.countMissedRing(companyId, agentId, reset, ring);
  }

  claimRing(companyId: string, agentId: string, callId: string): Promise<boolean> {
    return this.presence.claimRing(companyId, agentId, callId);
  }

  releaseRing(companyId: string, agentId: string, callId: string): Promise<void> {
    return this.presence.releaseRing(companyId, agentId, callId);
  }

  claimCallRequest(companyId: string, visitorId: string, callId: string): Promise<boolean> {
    return this.presence.claimCallRequest(companyId, visitorId, callId);
  }

  releaseCallRequest(companyId: string, visitorId: string, callId: string): Promise<void> {
    return this.presence.releaseCallRequest(companyId, visitorId, callId);
  }

  agentGone(companyId: string, agentId: string): Promise<void> {
    return this.presence.agentGone(companyId, agentId);
  }

  getAgent(companyId: string, agentId: string): Promise<AgentRecord | undefined> {
    return this.presence.getAgent(companyId, agentId);
  }

  listAgents(companyId: string): Promise<readonly AgentRecord[]> {
    return this.presence.listAgents(companyId);
  }

  // Rooms -----------------------------------------------------------------------------------

  joinRoom(companyId: string, roomId: string, member: RoomMember): Promise<boolean> {
    return this.rooms.joinRoom(companyId, roomId, member);
  }

  leaveRoom(companyId: string, roomId: string, connId: string): Promise<boolean> {
    return this.rooms.leaveRoom(companyId, roomId, connId);
  }

  roomMembers(
    companyId: string,
    roomId: string,
    staffOnly?: boolean,
  ): Promise<readonly RoomMember[]> {
    return this.rooms.roomMembers(companyId, roomId, staffOnly);
  }

  // Queue -----------------------------------------------------------------------------------

  enqueue(companyId: string, callId: string, maxLength?: number): Promise<boolean> {
    return this.queues.enqueue(companyId, callId, maxLength);
  }

  dequeue(companyId: string, callId: string): Promise<boolean> {
    return this.queues.dequeue(companyId, callId);
  }

  queue(companyId: string): Promise<readonly string[]> {
    return this.queues.queue(companyId);
  }

  recordQueueWait(companyId: string, sample: QueueWaitSample): Promise<void> {
    return this.queues.recordQueueWait(companyId, sample);
  }

  recentQueueWaits(companyId: string, now: number): Promise<readonly QueueWaitSample[]> {
    return this.queues.recentQueueWaits(companyId, now);
  }

  // Calls -----------------------------------------------------------------------------------

  createCall(call: CallRecord): Promise<void> {
    return this.calls.createCall(call);
  }

  getCall(callId: string): Promise<CallRecord | undefined> {
    return this.calls.getCall(callId);
  }

  updateCall(
    callId: string,
    from: readonly CallState[],
    patch: CallPatch,
  ): Promise<CallRecord | undefined> {
    return this.calls.updateCall(callId, from, patch);
  }

  deleteCall(callId: string): Promise<void> {
    return this.calls.deleteCall(callId);
  }

  restoreCall(call: CallRecord): Promise<boolean> {
    return this.calls.restoreCall(call);
  }

  callsOf(companyId: string, userId: string): Promise<readonly CallRecord[]> {
    return this.calls.callsOf(companyId, userId);
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
