/**
 * Rooms: joining, leaving, and telling the other members. Rooms live inside a company. In every
 * room a visitor's comings and goings are told to staff only: a visitor never learns another
 * visitor's id or name (privacy, issue 11), and in `public-calls` announcing each arrival to
 * every waiting visitor would grow with the square of the crowd. Staff see everyone, and
 * visitors still hear of staff.
 */
import { AGENT_ROOM } from '../../client-lib/constants.js';
import type { Connection } from '../connection.js';
import { SignalingError } from '../errors.js';
import type { Hub } from '../hub.js';
import type { LostConnection } from '../cluster/reaper.js';
import type { RoomMember, StateStore } from '../state/store.js';

/** Rooms one connection may be in at once, so a client cannot grow server state without bound. */
export const MAX_ROOMS_PER_CONNECTION = 32;

export class RoomService {
  constructor(
    private readonly store: StateStore,
    private readonly hub: Hub,
    /** Called after an agent joins agent-room, to hand it the current queue. */
    private readonly onAgentRoomJoined: (conn: Connection) => Promise<void>,
  ) {}

  /**
   * Joins a room; idempotent. Returns whether the connection was newly added. `notifySelf`
   * is false for the starting room, which `connection_established` already names.
   * Others hear of a user once: a second tab of someone already in the room is not news.
   */
  async join(conn: Connection, roomId: string, notifySelf = true): Promise<boolean> {
    if (roomId === AGENT_ROOM && !conn.isAgent) {
      throw SignalingError.forbidden('visitors may not join agent-room');
    }
    if (conn.rooms.has(roomId)) return false;
    if (conn.rooms.size >= MAX_ROOMS_PER_CONNECTION) {
      throw SignalingError.forbidden(`at most ${MAX_ROOMS_PER_CONNECTION} rooms per connection`);
    }
    const { principal } = conn;
    const member: RoomMember = {
      connId: conn.id,
      userId: principal.userId,
      role: principal.role,
      name: principal.name,
    };
    const alreadyThere = await this.userInRoom(
      conn.companyId,
      conn.userId,
      conn.id,
      conn.isAgent,
      roomId,
    );
    conn.rooms.add(roomId);
    await this.store.joinRoom(conn.companyId, roomId, member);
    if (notifySelf) {
      conn.send({ type: 'room_joined', roomId });
      this.hub.recordConnection(conn);
    }
    if (!alreadyThere) {
      await this.hub.broadcast(
        conn.companyId,
        [roomId],
        {
          type: 'user_joined',
          roomId,
          user: { id: member.userId, role: member.role, name: member.name },
        },
        (m) => m.userId === conn.userId,
        this.privateArrival(conn),
      );
    }
    if (roomId === AGENT_ROOM) await this.onAgentRoomJoined(conn);
    return true;
  }

  /** Leaves a room the connection is in. */
  async leave(conn: Connection, roomId: string, notifySelf = true): Promise<void> {
    if (!conn.rooms.has(roomId)) throw SignalingError.notFound(`not in room ${roomId}`);
    conn.rooms.delete(roomId);
    await this.store.leaveRoom(conn.companyId, roomId, conn.id);
    if (notifySelf) {
      conn.send({ type: 'room_left', roomId });
      this.hub.recordConnection(conn);
    }
    await this.announceLeft(conn.companyId, conn.userId, conn.id, conn.isAgent, roomId);
  }

  /**
   * A connection of a node that died leaves its rooms (see `cluster/reaper.ts`): the same as a
   * close on its own node, from what that node recorded of it.
   */
  async leaveLost(lost: LostConnection): Promise<void> {
    const isAgent = lost.role !== 'visitor';
    for (const roomId of lost.rooms) {
      if (!(await this.store.leaveRoom(lost.companyId, roomId, lost.connId))) continue;
      await this.announceLeft(lost.companyId, lost.userId, lost.connId, isAgent, roomId);
    }
  }

  /** Tells the room a user left, unless another connection of the user is still in it. */
  private async announceLeft(
    companyId: string,
    userId: string,
    connId: string,
    isAgent: boolean,
    roomId: string,
  ): Promise<void> {
    if (await this.userInRoom(companyId, userId, connId, isAgent, roomId)) return;
    await this.hub.broadcast(
      companyId,
      [roomId],
      { type: 'user_left', roomId, userId },
      undefined,
      !isAgent,
    );
  }

  /** Leaves every room (the connection closed). */
  async leaveAll(conn: Connection): Promise<void> {
    for (const roomId of [...conn.rooms]) await this.leave(conn, roomId, false);
  }

  /** A visitor's comings and goings, in any room, are told to staff only. */
  private privateArrival(conn: Connection): boolean {
    return !conn.isAgent;
  }

  /** Whether another live connection of the user than `connId` is in the room. */
  private async userInRoom(
    companyId: string,
    userId: string,
    connId: string,
    isAgent: boolean,
    roomId: string,
  ): Promise<boolean> {
    let remote = false;
    for (const other of await this.store.connectionsOf(companyId, userId)) {
      if (other === connId) continue;
      if (this.hub.get(other)?.rooms.has(roomId) === true) return true;
      if (this.hub.remoteNodeOf(other) !== undefined) remote = true;
    }
    if (!remote) return false;
    // Another node holds a connection of the user: the room's members say whether it is in the
    // room (staff only when the user is staff, which skips a public room's visitors).
    const members = await this.store.roomMembers(companyId, roomId, isAgent);
    return members.some((m) => m.userId === userId && m.connId !== connId);
  }
}
