/**
 * The queue part of {@link RedisStore}: each company's queued calls in the order they came, and
 * its recent queue waits for the estimates. The keys are described at the top of
 * `redis-store.ts`.
 *
 * @module
 */
import type { Redis } from 'ioredis';
import { decodeId, encodeId, type RedisKeys } from './redis-keys.js';
import { queueWaitFromJson, replyInteger, replyStrings } from './redis-records.js';
import { QUEUE_WAIT_HISTORY, type QueueWaitSample, type StateStore } from './store.js';

/** The operations of the `Queue` section of {@link StateStore}. */
export type QueueOperations = Pick<
  StateStore,
  'enqueue' | 'dequeue' | 'queue' | 'recordQueueWait' | 'recentQueueWaits'
>;

/** Queues and queue waits in Redis. */
export class RedisQueue implements QueueOperations {
  /** @param redis The store's client, its scripts defined. */
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
  ) {}

  async enqueue(companyId: string, callId: string, maxLength = Infinity): Promise<boolean> {
    const reply = await this.redis.calldockerEnqueue(
      this.keys.queue(companyId),
      encodeId(callId),
      Number.isFinite(maxLength) ? String(maxLength) : '',
    );
    return replyInteger(reply, 'enqueue') === 1;
  }

  async dequeue(companyId: string, callId: string): Promise<boolean> {
    return (await this.redis.zrem(this.keys.queue(companyId), encodeId(callId))) === 1;
  }

  async queue(companyId: string): Promise<readonly string[]> {
    return (await this.redis.zrange(this.keys.queue(companyId), 0, -1)).map(decodeId);
  }

  async recordQueueWait(companyId: string, sample: QueueWaitSample): Promise<void> {
    await this.redis.calldockerRecordQueueWait(
      this.keys.queueWaits(companyId),
      JSON.stringify({ at: sample.at, waitMs: sample.waitMs }),
      QUEUE_WAIT_HISTORY.maxSamples,
    );
  }

  async recentQueueWaits(companyId: string, now: number): Promise<readonly QueueWaitSample[]> {
    const reply = await this.redis.calldockerRecentQueueWaits(
      this.keys.queueWaits(companyId),
      String(now - QUEUE_WAIT_HISTORY.maxAgeMs),
    );
    return replyStrings(reply, 'recentQueueWaits').map(queueWaitFromJson);
  }
}
