/**
 * The Lua scripts of {@link RedisStore}: every operation that reads and then writes, so that it
 * decides in one step on the server what two nodes racing would otherwise both decide (Redis
 * runs a script to its end before any other command). A script rather than `WATCH`/`MULTI`:
 * no retry loop, one round trip, and no lost race for the busiest keys (a popular room, the
 * queue of a busy company).
 *
 * Scripts build some keys from stored data (a call's per-user indexes from the company base
 * and user ids stored in its hash), which a standalone Redis (with replicas or Sentinel)
 * allows and Redis Cluster does not; see `redis-store.ts`.
 *
 * Conventions: ids arrive escaped (`redis-keys.ts`); record values are JSON written by the
 * store, and Lua only decodes them (a call's state, a ring's time), never encodes (see
 * `redis-records.ts`); a false reply (nil) means "no such record".
 *
 * @module
 */

/** Helpers shared by the call scripts. */
const CALL_HELPERS = `
local function count(key, state, by)
  if redis.call('HINCRBY', key, state, by) <= 0 then redis.call('HDEL', key, state) end
end
local function userCalls(base, user) return base .. 'u:' .. user .. ':calls' end
local function stateOf(call) return cjson.decode(redis.call('HGET', call, 'state')) end
`;

/** A script and how many of its arguments are keys. */
export interface ScriptDefinition {
  readonly numberOfKeys: number;
  readonly lua: string;
}

/** Every script, by the name of the client command it is defined as. */
/**
 * Writes a call record (KEYS and ARGV of `calldockerCreateCall`), replacing one of that id:
 * counted by state and indexed under its visitor and agent.
 */
const WRITE_CALL = `
if redis.call('EXISTS', KEYS[1]) == 1 then
  count(KEYS[2], stateOf(KEYS[1]), -1)
  redis.call('DEL', KEYS[1])
end
redis.call('HSET', KEYS[1], ':base', ARGV[2], ':visitor', ARGV[3], unpack(ARGV, 7))
count(KEYS[2], ARGV[6], 1)
redis.call('SADD', userCalls(ARGV[2], ARGV[3]), ARGV[1])
if ARGV[4] == '1' then
  redis.call('HSET', KEYS[1], ':agent', ARGV[5])
  redis.call('SADD', userCalls(ARGV[2], ARGV[5]), ARGV[1])
end`;

export const SCRIPTS = {
  /** KEYS: connections list. ARGV: connId. Appends unless present; the count. */
  calldockerAddConnection: {
    numberOfKeys: 1,
    lua: `
if not redis.call('LPOS', KEYS[1], ARGV[1]) then redis.call('RPUSH', KEYS[1], ARGV[1]) end
return redis.call('LLEN', KEYS[1])`,
  },

  /** KEYS: connections list. ARGV: connId. Removes it; the count left. */
  calldockerRemoveConnection: {
    numberOfKeys: 1,
    lua: `
redis.call('LREM', KEYS[1], 0, ARGV[1])
return redis.call('LLEN', KEYS[1])`,
  },

  /**
   * KEYS: agent hash, company's agents set. ARGV: agentId, then the new record's fields.
   * Creates the agent unless present, last in order; its fields.
   */
  calldockerAgentPresent: {
    numberOfKeys: 2,
    lua: `
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], unpack(ARGV, 2))
  local last = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
  redis.call('ZADD', KEYS[2], (tonumber(last[2]) or 0) + 1, ARGV[1])
end
return redis.call('HGETALL', KEYS[1])`,
  },

  /** KEYS: agent hash. ARGV: status, statusBeforeCall (JSON). Its fields, or nil if absent. */
  calldockerSetAgentStatus: {
    numberOfKeys: 1,
    lua: `
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'statusBeforeCall', ARGV[2])
return redis.call('HGETALL', KEYS[1])`,
  },

  /**
   * KEYS: agent hash. ARGV: reset ('1'), ring given ('1'), ring address (escaped), ring time,
   * burst window, ring as `lastMissedRing` JSON. The streak after the burst rule of
   * `MissedRing`; 0 if the agent is absent. The address is kept escaped in a hidden field to
   * compare, its JSON for the record.
   */
  calldockerCountMissedRing: {
    numberOfKeys: 1,
    lua: `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local missed = tonumber(redis.call('HGET', KEYS[1], 'missedRings'))
local reset, ring = ARGV[1] == '1', ARGV[2] == '1'
if not reset and ring and redis.call('HGET', KEYS[1], ':ringAddress') == ARGV[3] then
  local last = cjson.decode(redis.call('HGET', KEYS[1], 'lastMissedRing'))
  if tonumber(ARGV[4]) - last.at < tonumber(ARGV[5]) then return missed end
end
if reset then missed = 0 else missed = missed + 1 end
redis.call('HSET', KEYS[1], 'missedRings', missed)
if reset or not ring then
  redis.call('HDEL', KEYS[1], 'lastMissedRing', ':ringAddress')
else
  redis.call('HSET', KEYS[1], 'lastMissedRing', ARGV[6], ':ringAddress', ARGV[3])
end
return missed`,
  },

  /**
   * KEYS: a claim (an agent's ring, a visitor's call request). ARGV: callId. Deletes the claim
   * only if this call holds it.
   */
  calldockerReleaseClaim: {
    numberOfKeys: 1,
    lua: `
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0`,
  },

  /** KEYS: agent hash, company's agents set. ARGV: agentId. Forgets the agent. */
  calldockerAgentGone: {
    numberOfKeys: 2,
    lua: `
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return 0`,
  },

  /** KEYS: company's agents set. ARGV: company base. Each agent's fields, in order. */
  calldockerListAgents: {
    numberOfKeys: 1,
    lua: `
local out = {}
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local fields = redis.call('HGETALL', ARGV[1] .. 'agent:' .. id)
  if #fields > 0 then out[#out + 1] = fields end
end
return out`,
  },

  /**
   * KEYS: room hash, room staff hash, room counter. ARGV: connId, member JSON, staff ('1').
   * 1 if added, 0 if the connection was in the room; counts the room when it gains its first.
   */
  calldockerJoinRoom: {
    numberOfKeys: 3,
    lua: `
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
if ARGV[3] == '1' then redis.call('HSET', KEYS[2], ARGV[1], ARGV[2]) end
if redis.call('HLEN', KEYS[1]) == 1 then redis.call('INCR', KEYS[3]) end
return 1`,
  },

  /**
   * KEYS: room hash, room staff hash, room counter. ARGV: connId. 1 if removed, 0 if it was not
   * there; uncounts the room when its last member leaves.
   */
  calldockerLeaveRoom: {
    numberOfKeys: 3,
    lua: `
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HDEL', KEYS[2], ARGV[1])
if redis.call('EXISTS', KEYS[1]) == 0 then redis.call('DECR', KEYS[3]) end
return 1`,
  },

  /**
   * KEYS: queue. ARGV: callId, maxLength ('' for none). 1 if queued (or already queued, where
   * it stays), 0 if the queue was full.
   */
  calldockerEnqueue: {
    numberOfKeys: 1,
    lua: `
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 1 end
local max = tonumber(ARGV[2])
if max and redis.call('ZCARD', KEYS[1]) >= max then return 0 end
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('ZADD', KEYS[1], (tonumber(last[2]) or 0) + 1, ARGV[1])
return 1`,
  },

  /** KEYS: queue-wait list. ARGV: sample JSON, most samples kept. Appends, drops the oldest. */
  calldockerRecordQueueWait: {
    numberOfKeys: 1,
    lua: `
redis.call('RPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[2]), -1)
return 0`,
  },

  /**
   * KEYS: queue-wait list. ARGV: the oldest answer time kept. Drops the samples before the
   * first one that is recent enough (answer times only grow); the rest, oldest first.
   */
  calldockerRecentQueueWaits: {
    numberOfKeys: 1,
    lua: `
local samples = redis.call('LRANGE', KEYS[1], 0, -1)
local oldest = tonumber(ARGV[1])
for i, sample in ipairs(samples) do
  if cjson.decode(sample).at >= oldest then
    if i > 1 then redis.call('LTRIM', KEYS[1], i - 1, -1) end
    return { unpack(samples, i) }
  end
end
redis.call('DEL', KEYS[1])
return {}`,
  },

  /**
   * KEYS: call hash, calls-by-state hash. ARGV: callId, company base, visitor id, has agent
   * ('1'), agent id, state, then the record's fields. Writes the call (replacing one of that
   * id), counts it, and indexes it under its visitor and agent.
   */
  calldockerCreateCall: {
    numberOfKeys: 2,
    lua: `${CALL_HELPERS}
${WRITE_CALL}
return 0`,
  },

  /**
   * KEYS and ARGV as `calldockerCreateCall`'s, then the call's ended marker. Writes the call as
   * it does, unless it is there or ended lately: 1 when written.
   */
  calldockerRestoreCall: {
    numberOfKeys: 3,
    lua: `${CALL_HELPERS}
if redis.call('EXISTS', KEYS[1]) == 1 or redis.call('EXISTS', KEYS[3]) == 1 then return 0 end
${WRITE_CALL}
return 1`,
  },

  /**
   * KEYS: call hash, calls-by-state hash. ARGV: callId; n, then the n live states; m, then the
   * m states to update from; the new state ('' for unchanged); visitor change ('=' set, ''
   * none) and visitor id; agent change ('=' set, '-' removed, '' none) and agent id; k, then k
   * field/JSON pairs to set; d, then d fields to delete. Applies the patch only if the call's
   * state is one of `from`: its new fields, or nil. The call is indexed under its visitor and
   * agent while live, and not once final (as the memory store does, an index left by a
   * replaced party is not removed; `callsOf` skips what is final).
   */
  calldockerUpdateCall: {
    numberOfKeys: 2,
    lua: `${CALL_HELPERS}
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local i = 2
local function take() i = i + 1; return ARGV[i - 1] end
local function takeSet()
  local set = {}
  for _ = 1, tonumber(take()) do set[take()] = true end
  return set
end
local live, from = takeSet(), takeSet()
local state = stateOf(KEYS[1])
if not from[state] then return false end
local newState, visitorChange, visitorId = take(), take(), take()
local agentChange, agentId = take(), take()
local sets = tonumber(take())
if sets > 0 then redis.call('HSET', KEYS[1], unpack(ARGV, i, i + 2 * sets - 1)) end
i = i + 2 * sets
local deletes = tonumber(take())
if deletes > 0 then redis.call('HDEL', KEYS[1], unpack(ARGV, i, i + deletes - 1)) end
if newState ~= '' and newState ~= state then
  count(KEYS[2], state, -1)
  count(KEYS[2], newState, 1)
  state = newState
end
if visitorChange == '=' then redis.call('HSET', KEYS[1], ':visitor', visitorId) end
if agentChange == '=' then redis.call('HSET', KEYS[1], ':agent', agentId) end
if agentChange == '-' then redis.call('HDEL', KEYS[1], ':agent') end
local base, agent = redis.call('HGET', KEYS[1], ':base'), redis.call('HGET', KEYS[1], ':agent')
local index = live[state] and 'SADD' or 'SREM'
redis.call(index, userCalls(base, redis.call('HGET', KEYS[1], ':visitor')), ARGV[1])
if agent then redis.call(index, userCalls(base, agent), ARGV[1]) end
return redis.call('HGETALL', KEYS[1])`,
  },

  /**
   * KEYS: call hash, calls-by-state hash, the call's ended marker. ARGV: callId, how long the
   * marker lives (ms). Deletes, uncounts and unindexes it, and marks it ended.
   */
  calldockerDeleteCall: {
    numberOfKeys: 3,
    lua: `${CALL_HELPERS}
redis.call('SET', KEYS[3], '1', 'PX', ARGV[2])
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
count(KEYS[2], stateOf(KEYS[1]), -1)
local base, agent = redis.call('HGET', KEYS[1], ':base'), redis.call('HGET', KEYS[1], ':agent')
redis.call('SREM', userCalls(base, redis.call('HGET', KEYS[1], ':visitor')), ARGV[1])
if agent then redis.call('SREM', userCalls(base, agent), ARGV[1]) end
redis.call('DEL', KEYS[1])
return 1`,
  },

  /**
   * KEYS: the user's calls index. ARGV: what call keys start with. Each indexed call's fields;
   * drops ids whose call is gone.
   */
  calldockerCallsOf: {
    numberOfKeys: 1,
    lua: `
local out = {}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local fields = redis.call('HGETALL', ARGV[1] .. id)
  if #fields == 0 then redis.call('SREM', KEYS[1], id) else out[#out + 1] = fields end
end
return out`,
  },

  /** KEYS: room counter, calls-by-state hash. `{rooms, state, count, ...}`, read together. */
  calldockerStats: {
    numberOfKeys: 2,
    lua: `
return { redis.call('GET', KEYS[1]) or '0', unpack(redis.call('HGETALL', KEYS[2])) }`,
  },
} as const satisfies Record<string, ScriptDefinition>;

/** The name of a script's client command. */
export type ScriptCommand = keyof typeof SCRIPTS;
