/**
 * The calls part of {@link RedisStore}: call records, a field of JSON per property, indexed
 * under their company and parties, and counted by state; `updateCall` is a compare-and-set on
 * the state. The keys and the hidden fields of a call's hash are described at the top of
 * `redis-store.ts`.
 *
 * @module
 */
import type { Redis } from 'ioredis';
import type { CallState } from '../../client-lib/protocol.js';
import { encodeId, type RedisKeys } from './redis-keys.js';
import {
  callFields,
  callFromFields,
  objectFieldMap,
  replyArrays,
  replyFieldMap,
  replyInteger,
} from './redis-records.js';
import {
  CALL_TOMBSTONE_MS,
  isFinalCallState,
  LIVE_CALL_STATES,
  type CallPatch,
  type CallRecord,
  type StateStore,
} from './store.js';

/** Call properties a patch may remove (set to undefined); the others are required. */
const REMOVABLE_CALL_FIELDS: ReadonlySet<string> = new Set([
  'agent',
  'answeredAt',
  'endedAt',
  'endReason',
]);
const PATCH_FIELDS = [
  'state',
  'visitor',
  'agent',
  'answeredAt',
  'endedAt',
  'endReason',
  'rungConnIds',
] as const satisfies readonly (keyof CallPatch)[];

/** The operations of the `Calls` section of {@link StateStore}. */
export type CallOperations = Pick<
  StateStore,
  'createCall' | 'getCall' | 'updateCall' | 'deleteCall' | 'restoreCall' | 'callsOf'
>;

/** Call records in Redis. */
export class RedisCalls implements CallOperations {
  /** @param redis The store's client, its scripts defined. */
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
  ) {}

  async createCall(call: CallRecord): Promise<void> {
    await this.redis.calldockerCreateCall(...this.writeCall(call));
  }

  async restoreCall(call: CallRecord): Promise<boolean> {
    const [callKey, countsKey, ...args] = this.writeCall(call);
    const written = await this.redis.calldockerRestoreCall(
      callKey,
      countsKey,
      this.keys.callEnded(call.callId),
      ...args,
    );
    return replyInteger(written, 'restoreCall') === 1;
  }

  /** The two keys, then the arguments, of a script that writes `call` (`WRITE_CALL`). */
  private writeCall(call: CallRecord): string[] {
    return [
      this.keys.call(call.callId),
      this.keys.callCounts,
      encodeId(call.callId),
      this.keys.company(call.companyId),
      encodeId(call.visitor.id),
      call.agent === undefined ? '0' : '1',
      encodeId(call.agent?.id ?? ''),
      call.state,
      ...callFields(call),
    ];
  }

  async getCall(callId: string): Promise<CallRecord | undefined> {
    const fields = await this.redis.hgetall(this.keys.call(callId));
    return Object.keys(fields).length === 0 ? undefined : callFromFields(objectFieldMap(fields));
  }

  async updateCall(
    callId: string,
    from: readonly CallState[],
    patch: CallPatch,
  ): Promise<CallRecord | undefined> {
    const sets: string[] = [];
    const deletes: string[] = [];
    for (const field of PATCH_FIELDS) {
      if (!(field in patch)) continue;
      const value = patch[field];
      if (value !== undefined) sets.push(field, JSON.stringify(value));
      else if (REMOVABLE_CALL_FIELDS.has(field)) deletes.push(field);
    }
    const agentChange = !('agent' in patch) ? '' : patch.agent === undefined ? '-' : '=';
    const visitorChange = patch.visitor === undefined ? '' : '=';
    const reply = await this.redis.calldockerUpdateCall(
      this.keys.call(callId),
      this.keys.callCounts,
      encodeId(callId),
      LIVE_CALL_STATES.length,
      ...LIVE_CALL_STATES,
      from.length,
      ...from,
      patch.state ?? '',
      visitorChange,
      encodeId(patch.visitor?.id ?? ''),
      agentChange,
      encodeId(patch.agent?.id ?? ''),
      sets.length / 2,
      ...sets,
      deletes.length,
      ...deletes,
    );
    return reply === null ? undefined : callFromFields(replyFieldMap(reply, 'updateCall'));
  }

  async deleteCall(callId: string): Promise<void> {
    await this.redis.calldockerDeleteCall(
      this.keys.call(callId),
      this.keys.callCounts,
      this.keys.callEnded(callId),
      encodeId(callId),
      CALL_TOMBSTONE_MS,
    );
  }

  async callsOf(companyId: string, userId: string): Promise<readonly CallRecord[]> {
    const reply = await this.redis.calldockerCallsOf(
      this.keys.userCalls(companyId, userId),
      this.keys.callBase,
    );
    return replyArrays(reply, 'callsOf')
      .map((fields) => callFromFields(replyFieldMap(fields, 'callsOf')))
      .filter((call) => !isFinalCallState(call.state));
  }
}
