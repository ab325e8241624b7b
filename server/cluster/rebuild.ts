/**
 * After Redis comes back, a node puts back what its own live connections hold, where Redis lost
 * it (a restart without persistence loses everything): each connection's presence and rooms,
 * each agent's presence, and the live calls it carries a party of (from the records it last
 * mirrored). Every step is idempotent, so a Redis that kept its data is left as it was.
 */
import type { Logger } from 'pino';
import type { Hub } from '../hub.js';
import type { CallService } from '../services/calls.js';
import type { PresenceService } from '../services/presence.js';
import type { StateStore } from '../state/store.js';

/** What {@link rebuildFromConnections} puts state back with. */
export interface RebuildContext {
  readonly hub: Hub;
  readonly store: StateStore;
  readonly presence: PresenceService;
  readonly calls: CallService;
  readonly log: Logger;
}

/** Puts this node's share of the shared state back; returns the connections it went through. */
export async function rebuildFromConnections(ctx: RebuildContext): Promise<number> {
  const { hub, store } = ctx;
  let count = 0;
  for (const conn of [...hub.all()]) {
    if (conn.closing) continue;
    const { companyId, userId, principal } = conn;
    await store.addConnection(companyId, userId, conn.id);
    for (const roomId of conn.rooms) {
      await store.joinRoom(companyId, roomId, {
        connId: conn.id,
        userId,
        role: principal.role,
        name: principal.name,
      });
    }
    if (conn.isAgent && (await store.getAgent(companyId, userId)) === undefined) {
      await store.agentPresent(companyId, { id: userId, name: principal.name });
    }
    hub.recordConnection(conn);
    count++;
  }
  for (const callId of [...hub.mirrored.keys()]) {
    // The newest copy, and none for a call that ended while the ones before were put back.
    const call = hub.mirrored.get(callId);
    if (call !== undefined) await ctx.calls.restore(call);
  }
  ctx.log.info({ connections: count, calls: hub.mirrored.size }, 'shared state rebuilt');
  return count;
}
