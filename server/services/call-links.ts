/**
 * The one writer of call links: each connection's {@link CallLink}s are a mirror of the store's
 * {@link CallRecord}s, derived from the record a store operation returned and from nothing else.
 *
 * The store is the only truth about a call. A node mirrors it into the links of the parties it
 * carries so that relaying stays free of store lookups, and never edits one party's link by hand
 * from another's handler: with a shared store the other party may live on another node, whose
 * mirror is brought up to date by the same record.
 */
import type { CallLink, Connection } from '../connection.js';
import type { Hub } from '../hub.js';
import { isFinalCallState, type CallRecord } from '../state/store.js';

const SIDES = ['visitor', 'agent'] as const;

/** What `side`'s connection knows of `call`, all of it read from the record. */
function linkOf(call: CallRecord, side: (typeof SIDES)[number]): CallLink {
  const peer = side === 'visitor' ? call.agent : call.visitor;
  return {
    callId: call.callId,
    // Before an answer, a visitor's peer is the agent being rung, or no one while queued.
    peerUserId: peer?.id ?? call.targetAgentId ?? '',
    peerConnId: peer?.connId ?? null,
    answered: call.state === 'answered',
  };
}

/**
 * Brings this node's links of `call` into line with the record: each party whose connection is
 * on this node gets its link derived afresh, or loses it once the call is final. The nodes of
 * parties on other nodes are sent the record to mirror there.
 *
 * `held` is the connection the caller's handler runs for. A connection leaves the hub as soon as
 * its socket closes, but its clean-up waits for the handler under way; a call bound to it in the
 * meantime must still be linked there, or the clean-up would not find the call and would leave it
 * bound to a dead connection with no reconnect grace.
 *
 * The queue position last told to a visitor (`lastPosition`) is kept across updates: it records
 * what this node sent on this socket, not call state, so it stays node-local.
 */
export function mirrorCall(hub: Hub, call: CallRecord, held?: Connection): void {
  mirrorLocal(hub, call, held);
  hub.mirrorRemote(call);
}

/**
 * {@link mirrorCall} for this node's parties only: what a node does with a record another node
 * sent it (sending it on would echo it back).
 */
export function mirrorLocal(hub: Hub, call: CallRecord, held?: Connection): void {
  const final = isFinalCallState(call.state);
  if (hub.clustered) {
    if (final) hub.mirrored.delete(call.callId);
    else hub.mirrored.set(call.callId, call);
  }
  for (const side of SIDES) {
    const connId = call[side]?.connId;
    if (connId === undefined || connId === null) continue;
    const conn = held?.id === connId ? held : hub.get(connId);
    if (conn === undefined) continue;
    if (final) {
      conn.calls.delete(call.callId);
      continue;
    }
    const link = linkOf(call, side);
    const lastPosition = conn.calls.get(call.callId)?.lastPosition;
    conn.calls.set(call.callId, lastPosition === undefined ? link : { ...link, lastPosition });
  }
}

/**
 * Drops every link of a connection that has closed: it carries no call any more. Links still
 * there belong to calls that ended or moved to another connection while it was closing.
 */
export function dropLinks(conn: Connection): void {
  conn.calls.clear();
}
