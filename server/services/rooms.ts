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
    const alreadyThere = await this.userInRoom(conn, roomId);
    conn.rooms.add(roomId);
    await this.store.joinRoom(conn.companyId, roomId, member);
    if (notifySelf) conn.send({ type: 'room_joined', roomId });
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
    if (notifySelf) conn.send({ type: 'room_left', roomId });
    if (await this.userInRoom(conn, roomId)) return;
    await this.hub.broadcast(
      conn.companyId,
      [roomId],
      { type: 'user_left', roomId, userId: conn.userId },
      undefined,
      this.privateArrival(conn),
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

  /** Whether another live connection of the same user is in the room. */
  private async userInRoom(conn: Connection, roomId: string): Promise<boolean> {
    for (const connId of await this.store.connectionsOf(conn.companyId, conn.userId)) {
      if (connId === conn.id) continue;
      if (this.hub.get(connId)?.rooms.has(roomId) === true) return true;
    }
    return false;
  }
}
