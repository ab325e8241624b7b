/**
 * The rooms part of {@link RedisStore}: each room's members, and its agents and admins apart so
 * that they are read without walking the visitors. The keys are described at the top of
 * `redis-store.ts`; the scripts keep the store's count of rooms with a member.
 *
 * @module
 */
import type { Redis } from 'ioredis';
import { encodeId, type RedisKeys } from './redis-keys.js';
import { replyInteger, roomMemberFromJson } from './redis-records.js';
import type { RoomMember, StateStore } from './store.js';

/** The operations of the `Rooms` section of {@link StateStore}. */
export type RoomOperations = Pick<StateStore, 'joinRoom' | 'leaveRoom' | 'roomMembers'>;

/** Room members in Redis. */
export class RedisRooms implements RoomOperations {
  /** @param redis The store's client, its scripts defined. */
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
  ) {}

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
}
