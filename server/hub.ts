/**
 * Delivery: this node's live connections, and sending to a connection, a user or a room.
 * Fan-out serialises a message once and hands the same string to every socket.
 *
 * In a cluster (`REDIS_URL` set, see `server/cluster/`), a connection id names the node that
 * holds its socket. Ids of other nodes go to those nodes over {@link RemoteNodes}, one message per
 * node however many of its connections a fan-out reaches, carrying the frame as already
 * serialised here.
 */
import { randomUUID } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';
import type { ServerMessage, ServerMessageOf, ServerMessageType } from '../client-lib/protocol.js';
import type { LostConnection } from './cluster/reaper.js';
import type { Connection } from './connection.js';
import type { CallRecord, RoomMember, StateStore } from './state/store.js';

/**
 * What a visitor is told of its call's place: a new queue position, or, when another node
 * resumed the call onto it, where the call waits. Its own node keeps what it was told.
 */
export type PlaceMessage = ServerMessageOf<'queue_position' | 'call_waiting'>;

/** How this node reaches connections held by the other nodes of its cluster. */
export interface RemoteNodes {
  /** This node's id: the prefix of the ids of the connections it holds. */
  readonly nodeId: string;
  /** Hands a serialised frame to `nodeId` for its connections `connIds`. */
  deliver(nodeId: string, connIds: readonly string[], type: ServerMessageType, data: string): void;
  /** Tells `nodeId` that `call` changed, so that it mirrors the record into its links. */
  mirror(nodeId: string, call: CallRecord): void;
  /**
   * Asks `nodeId` to tell its connection its call's place: a new queue position unless it told
   * it already, or where a call resumed onto it waits.
   */
  position(nodeId: string, connId: string, message: PlaceMessage): void;
  /** Records one of this node's connections, for the clean-up should this node die. */
  record(connId: string, conn: Omit<LostConnection, 'connId'>): void;
  /** Forgets a connection this node cleaned up itself. */
  forget(connId: string): void;
}

/** Separates a cluster connection id's node from its own part; ids of nodes never hold it. */
export const NODE_SEPARATOR = '~';

/** The node part of a cluster connection id; undefined for a single node's plain ids. */
export function nodeOfConnId(connId: string): string | undefined {
  const at = connId.indexOf(NODE_SEPARATOR);
  return at <= 0 ? undefined : connId.slice(0, at);
}

/**
 * Whether cluster connection `a` opened after `b`. Their ids' time-ordered parts (after the node)
 * are compared, not the whole ids: those would order every connection of node `n1` before every
 * connection of node `n2`, however late it opened.
 */
export function openedAfter(a: string, b: string): boolean {
  return a.slice(a.indexOf(NODE_SEPARATOR) + 1) > b.slice(b.indexOf(NODE_SEPARATOR) + 1);
}

/** This node's connections and the ways to reach them. */
export class Hub {
  private readonly connections = new Map<string, Connection>();
  private remote: RemoteNodes | undefined;
  /**
   * In a cluster, the newest record of each live call with a party on this node, as mirrored:
   * what this node puts back should Redis lose its data (`cluster/rebuild.ts`).
   */
  readonly mirrored = new Map<string, CallRecord>();

  constructor(private readonly store: StateStore) {}

  /** Joins a cluster: ids made from now on name this node, others' ids go through `remote`. */
  attachRemote(remote: RemoteNodes): void {
    this.remote = remote;
  }

  /** Whether this node is part of a cluster. */
  get clustered(): boolean {
    return this.remote !== undefined;
  }

  /**
   * A new connection id: a random UUID on a single node; in a cluster, this node's id and a
   * time-ordered UUID (v7), so that any node can tell which node holds a connection and which
   * of a user's connections opened later.
   */
  newConnectionId(): string {
    return this.remote === undefined
      ? randomUUID()
      : `${this.remote.nodeId}${NODE_SEPARATOR}${uuidv7()}`;
  }

  /** The other node that holds `connId`; undefined when it is this node's (or no node's). */
  remoteNodeOf(connId: string | null | undefined): string | undefined {
    if (this.remote === undefined || connId === null || connId === undefined) return undefined;
    const node = nodeOfConnId(connId);
    return node === this.remote.nodeId ? undefined : node;
  }

  /** Records `conn` as it is now (rooms included) with the cluster, should this node die. */
  recordConnection(conn: Connection): void {
    this.remote?.record(conn.id, {
      companyId: conn.companyId,
      userId: conn.userId,
      role: conn.principal.role,
      rooms: [...conn.rooms],
    });
  }

  /** The cluster's record of a connection this node cleaned up. */
  forgetConnection(conn: Connection): void {
    this.remote?.forget(conn.id);
  }

  add(conn: Connection): void {
    this.connections.set(conn.id, conn);
  }

  remove(conn: Connection): void {
    if (this.connections.get(conn.id) === conn) this.connections.delete(conn.id);
  }

  /** A live connection of this node; connections of other nodes are not here. */
  get(connId: string | null | undefined): Connection | undefined {
    return connId === null || connId === undefined ? undefined : this.connections.get(connId);
  }

  /**
   * Whether a message sent to `connId` can arrive: a live connection of this node, or one that
   * another node of the cluster holds (which notices a close itself and says so).
   */
  reachable(connId: string | null | undefined): boolean {
    return this.get(connId) !== undefined || this.remoteNodeOf(connId) !== undefined;
  }

  /** Every live connection on this node. */
  all(): IterableIterator<Connection> {
    return this.connections.values();
  }

  get size(): number {
    return this.connections.size;
  }

  /** Sends to one connection, on this node or another. */
  sendTo(connId: string | null | undefined, message: ServerMessage): void {
    const conn = this.get(connId);
    if (conn !== undefined) {
      conn.send(message);
      return;
    }
    const node = this.remoteNodeOf(connId);
    if (node !== undefined)
      this.remote!.deliver(node, [connId!], message.type, JSON.stringify(message));
  }

  /**
   * Sends an already serialised frame to one connection: false when it cannot arrive (gone from
   * this node, closing, or a slow consumer closed).
   */
  sendRawTo(connId: string | null | undefined, type: ServerMessageType, data: string): boolean {
    const conn = this.get(connId);
    if (conn !== undefined) return conn.sendRaw(type, data);
    const node = this.remoteNodeOf(connId);
    if (node === undefined) return false;
    this.remote!.deliver(node, [connId!], type, data);
    return true;
  }

  /** Sends to several connections, serialising once; `exceptConnId` is skipped. */
  sendToMany(connIds: Iterable<string>, message: ServerMessage, exceptConnId?: string): void {
    const data = JSON.stringify(message);
    let away: Map<string, string[]> | undefined;
    for (const connId of connIds) {
      if (connId === exceptConnId) continue;
      away = this.sendOrCollect(connId, message.type, data, away);
    }
    this.flush(away, message.type, data);
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
    let away: Map<string, string[]> | undefined;
    for (const roomId of roomIds) {
      for (const member of await this.store.roomMembers(companyId, roomId, staffOnly)) {
        if (skip?.(member) === true) continue;
        if (seen !== undefined) {
          if (seen.has(member.connId)) continue;
          seen.add(member.connId);
        }
        away = this.sendOrCollect(member.connId, type, data, away);
      }
    }
    this.flush(away, type, data);
  }

  /** Delivers a frame another node sent to connections of this one. */
  deliverLocal(connIds: readonly string[], type: ServerMessageType, data: string): void {
    for (const connId of connIds) this.connections.get(connId)?.sendRaw(type, data);
  }

  /** Tells the nodes holding `call`'s other parties that the record changed. */
  mirrorRemote(call: CallRecord): void {
    if (this.remote === undefined) return;
    const visitorNode = this.remoteNodeOf(call.visitor.connId);
    const agentNode = this.remoteNodeOf(call.agent?.connId);
    if (visitorNode !== undefined) this.remote.mirror(visitorNode, call);
    if (agentNode !== undefined && agentNode !== visitorNode) this.remote.mirror(agentNode, call);
  }

  /** Asks the node of a remote visitor to tell it its call's place (see `publishQueue`). */
  positionRemote(connId: string, message: PlaceMessage): boolean {
    const node = this.remoteNodeOf(connId);
    if (node === undefined) return false;
    this.remote!.position(node, connId, message);
    return true;
  }

  /** Sends to a local connection, or files a remote one under its node for {@link flush}. */
  private sendOrCollect(
    connId: string,
    type: ServerMessageType,
    data: string,
    away: Map<string, string[]> | undefined,
  ): Map<string, string[]> | undefined {
    const conn = this.connections.get(connId);
    if (conn !== undefined) {
      conn.sendRaw(type, data);
      return away;
    }
    const node = this.remoteNodeOf(connId);
    if (node === undefined) return away;
    away ??= new Map();
    const ids = away.get(node);
    if (ids === undefined) away.set(node, [connId]);
    else ids.push(connId);
    return away;
  }

  private flush(away: Map<string, string[]> | undefined, type: ServerMessageType, data: string) {
    if (away === undefined) return;
    for (const [node, ids] of away) this.remote!.deliver(node, ids, type, data);
  }
}
