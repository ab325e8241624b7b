/**
 * This node's place in a cluster of signaling nodes sharing one Redis: its channel, on which the
 * other nodes hand it frames and call records for the connections it holds, and its heartbeat.
 *
 * Delivery is addressed: a node publishes to the channel of the node that holds a connection
 * (its id is the connection id's prefix, see `hub.ts`), never to every node. A frame goes as the
 * string the sender serialised, behind a short header, and is written to the socket as is.
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { ServerMessages, type ServerMessageType } from '../../client-lib/protocol.js';
import type { PlaceMessage, RemoteNodes } from '../hub.js';
import type { CallRecord } from '../state/store.js';
import type { CallTimers, TimerFired } from '../services/call-timers.js';
import { SharedCallTimers } from './shared-timers.js';
import { Reaper, type LostConnection } from './reaper.js';
import { parseCallRecord, parsePlaceMessage } from './records.js';

/** How often a node renews its heartbeat key. */
export const NODE_HEARTBEAT_MS = 1000;
/**
 * How long a heartbeat key lives: a node silent this long is dead to the others, who notice within
 * one more heartbeat (5 s in all).
 */
export const NODE_TTL_MS = 4000;

/** What a node does with what the others send it. */
export interface NodeHandlers {
  /** A frame for some of this node's connections. */
  deliver(connIds: readonly string[], type: ServerMessageType, data: string): void;
  /** A call record changed on another node: mirror it into this node's links. */
  mirror(call: CallRecord): void;
  /**
   * Another node published its company's queue, or resumed a call onto this node's visitor: tell
   * the visitor its call's place.
   */
  position(connId: string, message: PlaceMessage): void;
  /** A connection of `deadNode`, which died: clean up after it as after a close. */
  lost(conn: LostConnection, deadNode: string): Promise<void>;
  /** Redis is back after a drop: put back what it may have lost of this node's state. */
  reconnected(): Promise<void>;
  /**
   * The other nodes took this one for dead (it stalled past its heartbeat's lifetime) and cleaned
   * up after its connections: end them all, so that their clients reconnect and resume from what
   * the cluster holds.
   */
  fenced(): void;
}

/** What a node counts of its traffic with the others (the server's `/metrics`). */
export interface ClusterObserver {
  /** A message published to another node, by kind: `frame`, `mirror` or `position`. */
  sent(kind: string): void;
  /** A message from another node, by kind, or `malformed` when it was dropped. */
  received(kind: string): void;
  /** Connections of a dead node this node cleaned up after. */
  reaped(connections: number): void;
}

/** Options of {@link ClusterNode}. */
export interface ClusterNodeOptions {
  /** The connection for commands and publishing (shared with the store). */
  readonly redis: Redis;
  /** Every key and channel starts with it. */
  readonly prefix: string;
  readonly nodeId: string;
  readonly log: Logger;
}

const FRAME = 'f';
const MIRROR = 'm';
const POSITION = 'p';
const KIND_NAMES: Readonly<Record<string, string>> = {
  [FRAME]: 'frame',
  [MIRROR]: 'mirror',
  [POSITION]: 'position',
};

function isServerMessageType(type: string): type is ServerMessageType {
  return Object.hasOwn(ServerMessages, type);
}

/** A signaling node's link to the rest of its cluster. */
export class ClusterNode implements RemoteNodes {
  readonly nodeId: string;
  private readonly subscriber: Redis;
  private heartbeat: NodeJS.Timeout | undefined;
  private handlers: NodeHandlers | undefined;
  private readonly reaper: Reaper;
  private observer: ClusterObserver | undefined;
  /** Set when the command connection dropped; the next `ready` is a reconnection. */
  private redisDropped = false;
  /** Set while this node puts back what Redis lost, after it returned. */
  private rebuilding = false;

  constructor(private readonly options: ClusterNodeOptions) {
    this.nodeId = options.nodeId;
    // A connection in subscriber mode can run no other command: the channel gets its own.
    this.subscriber = options.redis.duplicate();
    this.subscriber.on('error', (err: Error) =>
      options.log.warn({ err }, 'cluster subscriber error'),
    );
    this.reaper = new Reaper({
      redis: options.redis,
      prefix: options.prefix,
      nodeId: options.nodeId,
      log: options.log,
      alive: async (nodeId) => (await options.redis.exists(this.aliveKeyOf(nodeId))) === 1,
      lost: (conn, deadNode) => this.handlers?.lost(conn, deadNode) ?? Promise.resolve(),
      reaped: (_nodeId, connections) => this.observer?.reaped(connections),
    });
  }

  /** Counts this node's traffic with the others from now on. */
  observe(observer: ClusterObserver): void {
    this.observer = observer;
  }

  record(connId: string, conn: Omit<LostConnection, 'connId'>): void {
    this.reaper.record(connId, conn);
  }

  forget(connId: string): void {
    this.reaper.forget(connId);
  }

  /** The channel on which `nodeId` hears what other nodes send it. */
  channelOf(nodeId: string): string {
    return `${this.options.prefix}node:${nodeId}`;
  }

  /** The key whose presence says `nodeId` is alive. */
  aliveKeyOf(nodeId: string): string {
    return `${this.options.prefix}alive:${nodeId}`;
  }

  /** Subscribes to this node's channel and starts the heartbeat. */
  async start(handlers: NodeHandlers): Promise<void> {
    this.handlers = handlers;
    this.options.redis.on('close', () => (this.redisDropped = true));
    this.options.redis.on('ready', () => {
      if (!this.redisDropped) return;
      this.redisDropped = false;
      this.rebuilding = true;
      this.options.log.warn('redis is back');
      void this.beat()
        .then(() => this.handlers?.reconnected())
        .catch((err: unknown) => this.options.log.error({ err }, 'rebuild after redis failed'))
        .finally(() => (this.rebuilding = false));
    });
    this.subscriber.on('message', (_channel: string, payload: string) => this.received(payload));
    // A duplicate of a lazy client is lazy too, and queues nothing while it is not connected.
    if (this.subscriber.status === 'wait') await this.subscriber.connect();
    await this.subscriber.subscribe(this.channelOf(this.nodeId));
    await this.beat();
    this.heartbeat = setInterval(() => void this.beat(), NODE_HEARTBEAT_MS);
    this.heartbeat.unref();
    await this.reaper.start();
  }

  /**
   * Whether both Redis connections are up and what Redis holds can be trusted: the node can
   * reach shared state and its peers, and has put back what a restart of Redis lost. While it
   * has not, a call another node's copy will restore could look unknown, or a visitor's call
   * absent: answers from that state would be wrong, not only late.
   */
  get ready(): boolean {
    return (
      this.options.redis.status === 'ready' &&
      this.subscriber.status === 'ready' &&
      !this.redisDropped &&
      !this.rebuilding
    );
  }

  deliver(nodeId: string, connIds: readonly string[], type: ServerMessageType, data: string): void {
    this.publish(nodeId, `${FRAME}\n${type}\n${connIds.join(',')}\n${data}`);
  }

  mirror(nodeId: string, call: CallRecord): void {
    this.publish(nodeId, `${MIRROR}\n${JSON.stringify(call)}`);
  }

  position(nodeId: string, connId: string, message: PlaceMessage): void {
    this.publish(nodeId, `${POSITION}\n${connId}\n${JSON.stringify(message)}`);
  }

  /** The call timers of this node, kept with the cluster's in Redis. */
  sharedTimers(fired: TimerFired): CallTimers {
    return new SharedCallTimers({
      redis: this.options.redis,
      key: `${this.options.prefix}timers`,
      fired,
      log: this.options.log,
    });
  }

  /** Leaves the cluster: no more deliveries, and the heartbeat key goes at once. */
  async stop(): Promise<void> {
    clearInterval(this.heartbeat);
    this.handlers = undefined;
    await this.reaper.stop();
    try {
      await this.options.redis.del(this.aliveKeyOf(this.nodeId));
    } catch (err) {
      this.options.log.warn({ err }, 'cluster heartbeat key not removed');
    }
    this.subscriber.disconnect();
  }

  private async beat(): Promise<void> {
    try {
      // The node's membership is renewed with its heartbeat: a Redis that restarted empty
      // learns of the node again within a second, so that its death would still be noticed.
      // Taking the reaping lock away (DEL's count) both finds a reaping of this node and lets
      // the next one happen, should this node stall again.
      const replies = await this.options.redis
        .multi()
        .set(this.aliveKeyOf(this.nodeId), '1', 'PX', NODE_TTL_MS)
        .sadd(`${this.options.prefix}nodes`, this.nodeId)
        .del(this.reaper.reapingKey(this.nodeId))
        .exec();
      if (replies?.[2]?.[1] === 1) {
        this.options.log.error('this node was taken for dead and reaped; ending its connections');
        this.handlers?.fenced();
      }
    } catch (err) {
      this.options.log.warn({ err }, 'cluster heartbeat failed');
    }
  }

  private publish(nodeId: string, payload: string): void {
    this.observer?.sent(KIND_NAMES[payload.slice(0, 1)] ?? 'unknown');
    this.options.redis
      .publish(this.channelOf(nodeId), payload)
      .catch((err: unknown) => this.options.log.warn({ err, nodeId }, 'cluster publish failed'));
  }

  /** Parses what another node sent; anything malformed is logged and dropped. */
  private received(payload: string): void {
    const handlers = this.handlers;
    if (handlers === undefined) return;
    const kind = payload.slice(0, 1);
    this.observer?.received(KIND_NAMES[kind] ?? 'unknown');
    if (kind === FRAME) {
      const typeEnd = payload.indexOf('\n', 2);
      const idsEnd = typeEnd < 0 ? -1 : payload.indexOf('\n', typeEnd + 1);
      const type = payload.slice(2, typeEnd);
      if (idsEnd < 0 || !isServerMessageType(type)) return this.dropped(kind);
      const connIds = payload.slice(typeEnd + 1, idsEnd).split(',');
      handlers.deliver(connIds, type, payload.slice(idsEnd + 1));
    } else if (kind === MIRROR) {
      const call = parseCallRecord(payload.slice(2));
      if (call === undefined) return this.dropped(kind);
      handlers.mirror(call);
    } else if (kind === POSITION) {
      const idEnd = payload.indexOf('\n', 2);
      const message = idEnd < 0 ? undefined : parsePlaceMessage(payload.slice(idEnd + 1));
      if (message === undefined) return this.dropped(kind);
      handlers.position(payload.slice(2, idEnd), message);
    } else {
      this.dropped(kind);
    }
  }

  private dropped(kind: string): void {
    this.observer?.received('malformed');
    this.options.log.warn({ kind }, 'malformed cluster message dropped');
  }
}
