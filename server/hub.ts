/**
 * Delivery: this node's live connections, and sending to a connection, a user or a room.
 * Fan-out serialises a message once and hands the same string to every socket.
 */
import type { ServerMessage, ServerMessageType } from '../client-lib/protocol.js';
import type { Connection } from './connection.js';
import type { RoomMember, StateStore } from './state/store.js';

/** This node's connections and the ways to reach them. */
export class Hub {
  private readonly connections = new Map<string, Connection>();

  constructor(private readonly store: StateStore) {}

  add(conn: Connection): void {
    this.connections.set(conn.id, conn);
  }

  remove(conn: Connection): void {
    if (this.connections.get(conn.id) === conn) this.connections.delete(conn.id);
  }

  get(connId: string | null | undefined): Connection | undefined {
    return connId === null || connId === undefined ? undefined : this.connections.get(connId);
  }

  /** Every live connection on this node. */
  all(): IterableIterator<Connection> {
    return this.connections.values();
  }

  get size(): number {
    return this.connections.size;
  }

  /** Sends to one connection if it is live here. */
  sendTo(connId: string | null | undefined, message: ServerMessage): void {
    this.get(connId)?.send(message);
  }

  /** Sends to several connections, serialising once; `exceptConnId` is skipped. */
  sendToMany(connIds: Iterable<string>, message: ServerMessage, exceptConnId?: string): void {
    const data = JSON.stringify(message);
    for (const connId of connIds) {
      if (connId === exceptConnId) continue;
      this.connections.get(connId)?.sendRaw(message.type, data);
    }
  }

  /** Sends to every connection of a user. */
  async sendToUser(companyId: string, userId: string, message: ServerMessage): Promise<void> {
    this.sendToMany(await this.store.connectionsOf(companyId, userId), message);
  }

  /**
   * Sends to the members of several rooms, each connection at most once, skipping members
   * for which `skip` returns true (and visitors altogether with `staffOnly`).
   */
  async broadcast(
    companyId: string,
    roomIds: readonly string[],
    message: ServerMessage,
    skip?: (member: RoomMember) => boolean,
    staffOnly = false,
  ): Promise<void> {
    const data = JSON.stringify(message);
    const type: ServerMessageType = message.type;
    const seen = roomIds.length > 1 ? new Set<string>() : undefined;
    for (const roomId of roomIds) {
      for (const member of await this.store.roomMembers(companyId, roomId, staffOnly)) {
        if (skip?.(member) === true) continue;
        if (seen !== undefined) {
          if (seen.has(member.connId)) continue;
          seen.add(member.connId);
        }
        this.connections.get(member.connId)?.sendRaw(type, data);
      }
    }
  }
}
