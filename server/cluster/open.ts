/**
 * Cluster mode from the configuration (`REDIS_URL`): one Redis connection for the shared
 * {@link RedisStore} and this node's publishing, and the {@link ClusterNode} on top.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { RedisConfig, SignalingConfig } from '../../config/config.js';
import { RedisStore } from '../state/redis-store.js';
import { ClusterNode } from './node.js';

/** How long a ring claim outlives the ring timeout, for a node that died mid-ring. */
const RING_CLAIM_MARGIN_MS = 5000;
/** How long start-up waits for Redis before giving up. */
const CONNECT_TIMEOUT_MS = 5000;

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
  const redis = new Redis(config.url, {
    lazyConnect: true,
    connectTimeout: CONNECT_TIMEOUT_MS,
    // While Redis is away a command fails at once (the client gets `unavailable`) rather than
    // waiting in a queue for a reconnect that may take minutes; the connection keeps retrying.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
  });
  redis.on('error', (err: Error) => log.warn({ err }, 'redis error'));
  await redis.connect();
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
    async close() {
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}
