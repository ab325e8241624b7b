/**
 * What happens to the connections of a node that died (SIGKILL, a lost machine): the nodes that
 * are left notice within {@link NODE_TTL_MS} that its heartbeat key is gone, and one of them (the
 * one that takes the node's reaping lock) cleans up after each of its connections as the node
 * itself would have on a close: rooms left and announced, calls kept for their reconnect grace
 * (or handed to the user's newer connection on another node), presence removed and announced.
 *
 * Each node keeps a record of its live connections in Redis for this: one hash per node.
 *
 * A node that was only stalled (a long pause of its process or machine) may come back after it
 * was reaped. The reaping lock tells it: it outlives the reaping, and the node that finds it at
 * its next heartbeat ends its connections (`ClusterNode`), so their clients reconnect to what the
 * cluster now holds instead of staying on sockets the others have cleaned up after.
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { Type } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { Role } from '../../client-lib/protocol.js';
import { NODE_HEARTBEAT_MS } from './node.js';

/** A connection whose node died, as its node recorded it. */
export interface LostConnection {
  readonly connId: string;
  readonly companyId: string;
  readonly userId: string;
  readonly role: Role;
  /** The rooms it was in. */
  readonly rooms: readonly string[];
}

/** How long one node may hold a dead node's reaping before another may try again. */
const REAPING_LOCK_MS = 60_000;

const Recorded = Type.Object({
  companyId: Type.String(),
  userId: Type.String(),
  role: Role,
  rooms: Type.Array(Type.String()),
});
const recordedCheck = TypeCompiler.Compile(Recorded);

/** Options of {@link Reaper}. */
export interface ReaperOptions {
  readonly redis: Redis;
  readonly prefix: string;
  readonly nodeId: string;
  readonly log: Logger;
  /** Whether `nodeId`'s heartbeat key is there. */
  readonly alive: (nodeId: string) => Promise<boolean>;
  /** Cleans up after one connection of a dead node. */
  readonly lost: (conn: LostConnection, deadNode: string) => Promise<void>;
  /** Told once a dead node has been cleaned up after. */
  readonly reaped?: (nodeId: string, connections: number) => void;
}

/** Records this node's connections, and cleans up after nodes that died. */
export class Reaper {
  private timer: NodeJS.Timeout | undefined;
  private checking = false;

  constructor(private readonly options: ReaperOptions) {}

  private get nodesKey(): string {
    return `${this.options.prefix}nodes`;
  }

  /** Set by the node that reaps `nodeId`, for one reaping (and for `nodeId` to find). */
  reapingKey(nodeId: string): string {
    return `${this.options.prefix}reaping:${nodeId}`;
  }

  private connsKey(nodeId: string): string {
    return `${this.options.prefix}conns:${nodeId}`;
  }

  /** Joins the set of nodes and starts looking for dead ones every heartbeat. */
  async start(): Promise<void> {
    await this.options.redis.sadd(this.nodesKey, this.options.nodeId);
    this.timer = setInterval(() => void this.check(), NODE_HEARTBEAT_MS);
    this.timer.unref();
  }

  /** Records (or updates) one of this node's live connections. */
  record(connId: string, conn: Omit<LostConnection, 'connId'>): void {
    this.options.redis
      .hset(this.connsKey(this.options.nodeId), connId, JSON.stringify(conn))
      .catch((err: unknown) => this.options.log.warn({ err }, 'connection not recorded'));
  }

  /** Forgets a connection this node cleaned up itself. */
  forget(connId: string): void {
    this.options.redis
      .hdel(this.connsKey(this.options.nodeId), connId)
      .catch((err: unknown) => this.options.log.warn({ err }, 'connection not forgotten'));
  }

  /** Leaves the set of nodes (a clean stop: this node cleaned up its connections itself). */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    try {
      await this.options.redis
        .multi()
        .srem(this.nodesKey, this.options.nodeId)
        .del(this.connsKey(this.options.nodeId))
        .exec();
    } catch (err) {
      this.options.log.warn({ err }, 'node not removed from the cluster');
    }
  }

  /** Looks for nodes whose heartbeat stopped and reaps each one this node gets the lock of. */
  async check(): Promise<void> {
    if (this.checking) return;
    this.checking = true;
    try {
      const nodes = await this.options.redis.smembers(this.nodesKey);
      for (const nodeId of nodes) {
        if (nodeId === this.options.nodeId || (await this.options.alive(nodeId))) continue;
        const won = await this.options.redis.set(
          this.reapingKey(nodeId),
          this.options.nodeId,
          'PX',
          REAPING_LOCK_MS,
          'NX',
        );
        if (won !== 'OK') continue;
        await this.reap(nodeId);
      }
    } catch (err) {
      this.options.log.warn({ err }, 'dead-node check failed');
    } finally {
      this.checking = false;
    }
  }

  private async reap(nodeId: string): Promise<void> {
    const recorded = await this.options.redis.hgetall(this.connsKey(nodeId));
    let count = 0;
    for (const [connId, json] of Object.entries(recorded)) {
      let value: unknown;
      try {
        value = JSON.parse(json) as unknown;
      } catch {
        value = undefined;
      }
      if (!recordedCheck.Check(value)) {
        this.options.log.warn({ nodeId, connId }, 'unreadable connection record dropped');
        continue;
      }
      try {
        await this.options.lost({ connId, ...value }, nodeId);
        count++;
      } catch (err) {
        this.options.log.error({ err, nodeId, connId }, 'clean-up after a dead node failed');
      }
    }
    await this.options.redis.multi().del(this.connsKey(nodeId)).srem(this.nodesKey, nodeId).exec();
    this.options.log.warn({ nodeId, connections: count }, 'cleaned up after a dead node');
    this.options.reaped?.(nodeId, count);
  }
}
