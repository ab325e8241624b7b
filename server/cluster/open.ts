/**
 * Cluster mode from the configuration (`REDIS_URL`): one Redis connection for the shared
 * {@link RedisStore} and this node's publishing, and the {@link ClusterNode} on top.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { closeRedis, connectRedis } from '../../common/redis.js';
import type { RedisConfig, SignalingConfig } from '../../config/config.js';
import { RedisStore } from '../state/redis-store.js';
import { ClusterNode } from './node.js';

/** How long a ring claim outlives the ring timeout, for a node that died mid-ring. */
const RING_CLAIM_MARGIN_MS = 5000;

/** This node's share of a cluster: the shared store and its link to the other nodes. */
export interface OpenCluster {
  readonly redis: Redis;
  readonly store: RedisStore;
  readonly node: ClusterNode;
  /** Closes the Redis connection (after the server closed). */
  close(): Promise<void>;
}

/** A random node id: 8 hex digits, unique enough for the nodes of one cluster. */
export function randomNodeId(): string {
  return randomBytes(4).toString('hex');
}

/** Connects to Redis and joins the cluster; rejects when Redis does not answer at start. */
export async function openCluster(
  config: RedisConfig,
  signaling: SignalingConfig,
  log: Logger,
): Promise<OpenCluster> {
  // While Redis is away a command fails at once (the client gets `unavailable`).
  const redis = await connectRedis(config.url, log);
  const store = new RedisStore(redis, {
    keyPrefix: config.prefix,
    ringClaimTtlMs: signaling.ringTimeoutMs + RING_CLAIM_MARGIN_MS,
  });
  const nodeId = config.nodeId ?? randomNodeId();
  const node = new ClusterNode({ redis, prefix: config.prefix, nodeId, log });
  log.info({ nodeId }, 'joining the cluster');
  return {
    redis,
    store,
    node,
    close: () => closeRedis(redis),
  };
}
