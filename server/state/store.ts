/**
 * The shared state of the signaling service: presence, rooms, queue and calls.
 *
 * Every change is one explicit, named operation, and every operation is async, so the
 * in-memory implementation used by a single node and a Redis implementation shared by many
 * nodes are interchangeable. Operations that decide races (accepting a call) are
 * compare-and-set: they succeed for exactly one caller.
 *
 * Everything is keyed by company first: the same user, room or agent id in two companies is
 * two different things, and no operation can reach across.
 */
import type { AgentStatus, CallState, CallType, Role } from '../../client-lib/protocol.js';

/** A connection's membership in a room. */

/**
 * How long a store remembers a deleted call against {@link StateStore.restoreCall}: far longer
 * than a rebuild after Redis returns takes.
 */
export const CALL_TOMBSTONE_MS = 120_000;

export interface RoomMember {
  readonly connId: string;
  readonly userId: string;
  readonly role: Role;
  readonly name: string;
}

/** An agent (or admin) with at least one live connection, or one held busy by a call. */
export interface AgentRecord {
  readonly id: string;
  readonly name: string;
  readonly status: AgentStatus;
  /** The status to restore when the current call ends; null when not set busy by a call. */
  readonly statusBeforeCall: AgentStatus | null;
  /** Calls aimed at this agent that rang out in a row (and counted, see {@link MissedRing}). */
  readonly missedRings: number;
  /** The newest ring counted in {@link missedRings}, when it came with an address. */
  readonly lastMissedRing?: { readonly address: string; readonly at: number };
}

/**
 * A ring that timed out, for {@link StateStore.countMissedRing}: it is not counted when the
 * streak's newest counted ring came from the same address less than `burstWindowMs` before, so
 * that a burst of rings from one address (one caller, or one attacker with many tokens) counts
 * once toward setting an agent away.
 */
export interface MissedRing {
  /** The caller's address key (`common/client-address.ts`). */
  readonly address: string;
  /** When it rang out, ms since the epoch. */
  readonly at: number;
  /** How long after a counted ring another from its address is part of the same burst, ms. */
  readonly burstWindowMs: number;
}

/** A call's participant on one side. */
export interface Party {
  readonly id: string;
  readonly role: Role;
  readonly name: string;
  /** The connection carrying this side's signaling; null while it is disconnected. */
  readonly connId: string | null;
}

/** A call from its request to its final state. Times are ms since the epoch. */
export interface CallRecord {
  readonly callId: string;
  readonly companyId: string;
  readonly callType: CallType;
  readonly purpose: string | undefined;
  readonly state: CallState;
  readonly visitor: Party;
  /** The agent a direct call rings; undefined for queued calls. */
  readonly targetAgentId: string | undefined;
  /** The agent that answered. */
  readonly agent: Party | undefined;
  readonly queuedAt: number | undefined;
  readonly ringingAt: number | undefined;
  readonly answeredAt: number | undefined;
  readonly endedAt: number | undefined;
  readonly endReason: string | undefined;
  /** Connections of the target agent that were rung (so each learns how the ring ended). */
  readonly rungConnIds: readonly string[];
  /**
   * The visitor's client address key (`common/client-address.ts`), so that a burst of rings from
   * one address counts once toward setting an agent away. Server-side only: never sent.
   */
  readonly callerAddress?: string;
}

export { callDurationSec, isFinalCallState, LIVE_CALL_STATES } from '../../common/call-state.js';

/**
 * The bounds of each company's queue-wait history (see {@link StateStore.recordQueueWait}): the
 * newest samples only, and none older than the age limit, so the estimate follows the current
 * staffing rather than this morning's.
 */
export const QUEUE_WAIT_HISTORY = {
  /** Most samples kept per company. */
  maxSamples: 20,
  /** Samples older than this (by when the call was answered) are ignored and dropped. */
  maxAgeMs: 3_600_000,
} as const;

/** One queue wait: how long a call waited before an agent answered it, and when. */
export interface QueueWaitSample {
  /** When the call was answered (ms since the epoch). */
  readonly at: number;
  /** From queued to answered, in ms. */
  readonly waitMs: number;
}

/** Fields of a call an update may change. */
export type CallPatch = Partial<
  Pick<
    CallRecord,
    'state' | 'visitor' | 'agent' | 'answeredAt' | 'endedAt' | 'endReason' | 'rungConnIds'
  >
>;

/**
 * Whether `err` says the shared store is out of reach (a cluster's Redis down or restarting),
 * rather than that the operation was wrong: the client is told `unavailable`, and may retry.
 * The Redis client fails such commands at once (no offline queue, one retry) with these.
 */
export function isStoreUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (err.name === 'MaxRetriesPerRequestError') return true;
  const code = (err as { code?: unknown }).code;
  if (code === 'ECONNREFUSED' || code === 'ECONNRESET' || code === 'EPIPE') return true;
  return /enableOfflineQueue|Connection is closed|Stream isn't writeable/.test(err.message);
}

/** The state operations the signaling server performs. */
export interface StateStore {
  // Presence --------------------------------------------------------------------------------
  /** Registers a live connection; returns how many the user now has (this one included). */
  addConnection(companyId: string, userId: string, connId: string): Promise<number>;
  /** Unregisters a connection; returns how many the user still has. */
  removeConnection(companyId: string, userId: string, connId: string): Promise<number>;
  /** Live connections of a user. */
  connectionsOf(companyId: string, userId: string): Promise<readonly string[]>;

  /** Marks an agent present (online) unless already present; returns its record. */
  agentPresent(companyId: string, agent: { id: string; name: string }): Promise<AgentRecord>;
  /** Sets an agent's status and what to restore after its call; undefined if not present. */
  setAgentStatus(
    companyId: string,
    agentId: string,
    status: AgentStatus,
    statusBeforeCall: AgentStatus | null,
  ): Promise<AgentRecord | undefined>;
  /**
   * Adds one to the agent's missed-ring streak, unless `ring` is of a burst already counted (see
   * {@link MissedRing}), or resets it with `reset`; returns the streak.
   */
  countMissedRing(
    companyId: string,
    agentId: string,
    reset?: boolean,
    ring?: MissedRing,
  ): Promise<number>;
  /**
   * Claims the agent's one ring for `callId` (compare-and-set): true when the agent was not
   * being rung, false when another call holds the ring. The claim outlives the agent's presence
   * and lasts until {@link releaseRing}, so two visitors ringing one idle agent at the same
   * instant ring it once (issue 11). A shared store does it in one step (`SET key callId NX`,
   * with an expiry past the ring timeout so that a node dying mid-ring cannot keep the agent
   * from being rung).
   */
  claimRing(companyId: string, agentId: string, callId: string): Promise<boolean>;
  /** Releases the agent's ring if `callId` holds it (compare-and-delete); else does nothing. */
  releaseRing(companyId: string, agentId: string, callId: string): Promise<void>;
  /**
   * Claims the visitor's one call request under way, for the request of `callId`
   * (compare-and-set): false while another request of the visitor holds it. Two tabs of one
   * visitor requesting at the same moment would otherwise both find no call in progress and both
   * make one; with a shared store the tabs may be on two nodes. It lasts until
   * {@link releaseCallRequest}; a shared store lets it expire too, so that a node dying
   * mid-request cannot keep the visitor from calling.
   */
  claimCallRequest(companyId: string, visitorId: string, callId: string): Promise<boolean>;
  /** Releases the visitor's call request if `callId` holds it (compare-and-delete). */
  releaseCallRequest(companyId: string, visitorId: string, callId: string): Promise<void>;
  /** Removes an agent that has gone offline. */
  agentGone(companyId: string, agentId: string): Promise<void>;
  getAgent(companyId: string, agentId: string): Promise<AgentRecord | undefined>;
  listAgents(companyId: string): Promise<readonly AgentRecord[]>;

  // Rooms -----------------------------------------------------------------------------------
  /** Adds a member; false when the connection was already in the room. */
  joinRoom(companyId: string, roomId: string, member: RoomMember): Promise<boolean>;
  /** Removes a member; false when it was not in the room. */
  leaveRoom(companyId: string, roomId: string, connId: string): Promise<boolean>;
  /**
   * The members of a room (a snapshot the caller may iterate while others change it); with
   * `staffOnly`, agents and admins only, without walking the visitors (public-calls may hold
   * thousands of them).
   */
  roomMembers(
    companyId: string,
    roomId: string,
    staffOnly?: boolean,
  ): Promise<readonly RoomMember[]>;

  // Queue -----------------------------------------------------------------------------------
  /**
   * Appends a call to the company's queue unless the queue already holds `maxLength` calls,
   * checked and appended in one step so that concurrent requests cannot overfill it; false
   * when refused. A call already queued stays where it is (true).
   */
  enqueue(companyId: string, callId: string, maxLength?: number): Promise<boolean>;
  /** Removes a call from the queue; false when it was not queued. */
  dequeue(companyId: string, callId: string): Promise<boolean>;
  /** Call ids in the queue, oldest first. */
  queue(companyId: string): Promise<readonly string[]>;

  /**
   * Adds a queue wait to the company's history, keeping at most
   * {@link QUEUE_WAIT_HISTORY}`.maxSamples` of the newest.
   */
  recordQueueWait(companyId: string, sample: QueueWaitSample): Promise<void>;
  /**
   * The company's recorded queue waits answered within {@link QUEUE_WAIT_HISTORY}`.maxAgeMs`
   * before `now`, oldest first.
   */
  recentQueueWaits(companyId: string, now: number): Promise<readonly QueueWaitSample[]>;

  // Calls -----------------------------------------------------------------------------------
  createCall(call: CallRecord): Promise<void>;
  getCall(callId: string): Promise<CallRecord | undefined>;
  /**
   * Applies `patch` only if the call is in one of `from`; returns the updated call, or
   * undefined when the call is gone or was in another state (someone else won the race).
   */
  updateCall(
    callId: string,
    from: readonly CallState[],
    patch: CallPatch,
  ): Promise<CallRecord | undefined>;
  /**
   * Forgets a call that reached a final state, and remembers for {@link CALL_TOMBSTONE_MS} that
   * it did, so that {@link restoreCall} cannot bring it back.
   */
  deleteCall(callId: string): Promise<void>;
  /**
   * Puts back a call that the store lost (a cluster's Redis restarted empty, and a node rebuilds
   * from what it mirrored): writes it as {@link createCall} does, unless the store holds it or
   * deleted it within {@link CALL_TOMBSTONE_MS}. Returns whether it wrote it. Two nodes restore
   * from their own copies while the calls go on: a call that ended meanwhile must stay ended.
   */
  restoreCall(call: CallRecord): Promise<boolean>;
  /** Calls not yet final in which the user takes part (as visitor or answering agent). */
  callsOf(companyId: string, userId: string): Promise<readonly CallRecord[]>;

  // Introspection (metrics) -------------------------------------------------------------------
  /** Counts for `/metrics`: rooms with at least one member, and live calls by state. */
  stats(): Promise<{ rooms: number; callsByState: Readonly<Record<string, number>> }>;
}
