/**
 * One authenticated WebSocket: who it speaks for, its rooms and calls, its rate limiter, the
 * serial queue that keeps its work in order, and a send path that refuses to buffer without
 * bound.
 *
 * Kept small, because a server holds tens of thousands of mostly idle connections: what most
 * connections never need (a logger of their own, a calls map, rate-limit state) is made on
 * first use, what every connection shares (limits, metrics, the server's logger) lives once
 * per server in {@link ConnectionShared}, and the socket points back at its connection
 * ({@link ConnectionSocket}) so that its listeners can be shared functions, not closures.
 */
import type { Logger } from 'pino';
import { WebSocket } from 'ws';
import type { ServerMessage, ServerMessageOf, ServerMessageType } from '../client-lib/protocol.js';
import type { Principal } from '../auth/verify.js';
import { CompactSetOf } from './compact-set.js';
import { CloseCode, PolicyReason } from './errors.js';
import type { SignalingMetrics } from './metrics.js';

/**
 * What a connection knows of a call it carries signaling for. Every field but `lastPosition` is
 * derived from the store's call record by `services/call-links.ts`, its only writer.
 */
export interface CallLink {
  readonly callId: string;
  /** The other participant's user id (empty while a queued call has no agent yet). */
  readonly peerUserId: string;
  /** The other participant's connection; null while it is disconnected. */
  readonly peerConnId: string | null;
  /** Whether this side has been answered (relay is allowed only then). */
  readonly answered: boolean;
  /**
   * The queue position last told to this (visitor) connection. Node-local: it records what was
   * sent on this socket, not call state.
   */
  lastPosition?: number;
}

/** A token bucket: `ratePerSec` refill, `burst` capacity. */
export class TokenBucket {
  private tokens: number;
  private last: number;
  constructor(
    private readonly ratePerSec: number,
    private readonly burst: number,
    now = performance.now(),
  ) {
    this.tokens = burst;
    this.last = now;
  }

  /** Takes one token at monotonic time `now` (ms); false when the bucket is empty. */
  take(now: number): boolean {
    const elapsed = now - this.last;
    if (elapsed > 0) {
      this.tokens = Math.min(this.burst, this.tokens + (elapsed * this.ratePerSec) / 1000);
      this.last = now;
    }
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/** A token bucket with the rate limiter's drop counting: made by a connection's first message. */
class RateState extends TokenBucket {
  /** Messages dropped by the rate limiter in the current one-second window. */
  droppedInWindow = 0;

  constructor(
    ratePerSec: number,
    burst: number,
    now: number,
    /** Start of the current drop-counting window, on the `performance.now()` clock. */
    private windowStartedAt: number,
  ) {
    super(ratePerSec, burst, now);
  }

  /**
   * Counts a message dropped at monotonic time `now`; true once the drops of the current
   * one-second window number more than `limit`.
   */
  drop(now: number, limit: number): boolean {
    if (now - this.windowStartedAt >= 1000) {
      this.windowStartedAt = now;
      this.droppedInWindow = 0;
    }
    this.droppedInWindow++;
    return this.droppedInWindow > limit;
  }
}

/** What the rate limiter made of one message (see {@link Connection.rateLimit}). */
export type RateVerdict =
  /** Handle it. */
  | 'allow'
  /** Drop it, answering `rate_limited`. */
  | 'drop'
  /** Drop it: the connection was closed for flooding (4008), so nothing answers. */
  | 'closed';

/**
 * The server's WebSocket class (ws's `WebSocket` option): one field more, the connection it
 * carries, so one set of listener functions serves every socket (`this.connection`).
 */
export class ConnectionSocket extends WebSocket {
  /** Set when the connection is accepted; undefined on a socket refused after the upgrade. */
  connection: Connection | undefined = undefined;
}

/** How long a closed-for-policy socket may linger before it is destroyed. */
const POLICY_CLOSE_GRACE_MS = 1000;

/** What every connection of a server shares: made once per server, not per connection. */
export interface ConnectionShared {
  /** The server's logger; a connection's own logger is its child, made on first use. */
  readonly log: Logger;
  readonly metrics: SignalingMetrics;
  readonly rateLimitMsgsPerSec: number;
  readonly rateLimitBurst: number;
  readonly sendHighWaterBytes: number;
}

/** Options a {@link Connection} needs from the server. */
export interface ConnectionOptions {
  readonly id: string;
  readonly principal: Principal;
  readonly socket: WebSocket;
  readonly shared: ConnectionShared;
  /** The client's address key (see `client-address.ts`). */
  readonly address: string;
}

/** What a connection makes only when it first needs it. */
interface OnDemand {
  /** Made by the first message (see {@link Connection.rateLimit}). */
  rate: RateState | undefined;
  /** Made by the first call (see {@link Connection.calls}). */
  calls: Map<string, CallLink> | undefined;
  /** Made by the first log line (see {@link Connection.log}). */
  log: Logger | undefined;
}

/** Bits of {@link Connection}'s flags. */
const ALIVE = 1;
const CLOSING = 2;
const BUSY = 4;
const BARRED = 8;

/** A live, authenticated connection. */
export class Connection {
  readonly id: string;
  readonly principal: Principal;
  readonly socket: WebSocket;
  /**
   * The client's address as the per-address limits key it (`client-address.ts`): an IPv4
   * address or an IPv6 /64. Server-side only: never sent to anyone.
   */
  readonly address: string;
  /** Rooms this connection joined (names, inside its company). */
  readonly rooms = new CompactSetOf();
  /** When the connection was accepted (`performance.now()`), to tell older from newer. */
  readonly openedAt = performance.now();
  /** Work waiting behind an async handler, so one connection's messages stay in order. */
  readonly backlog: Array<() => unknown> = [];

  private readonly shared: ConnectionShared;
  /** `isAlive`, `closing`, `busy` and `barred`, as bits of one small integer. */
  private flags = ALIVE;
  private onDemand: OnDemand | undefined;

  constructor(options: ConnectionOptions) {
    this.id = options.id;
    this.principal = options.principal;
    this.socket = options.socket;
    this.shared = options.shared;
    this.address = options.address;
  }

  /** Cleared by each heartbeat sweep, set again by the pong. */
  get isAlive(): boolean {
    return (this.flags & ALIVE) !== 0;
  }

  set isAlive(value: boolean) {
    this.flags = value ? this.flags | ALIVE : this.flags & ~ALIVE;
  }

  /** Set once the connection is closing; nothing more is sent or handled. */
  get closing(): boolean {
    return (this.flags & CLOSING) !== 0;
  }

  set closing(value: boolean) {
    this.flags = value ? this.flags | CLOSING : this.flags & ~CLOSING;
  }

  /** True while an async handler (or set-up, or clean-up) of this connection runs. */
  get busy(): boolean {
    return (this.flags & BUSY) !== 0;
  }

  set busy(value: boolean) {
    this.flags = value ? this.flags | BUSY : this.flags & ~BUSY;
  }

  /**
   * Set when the connection is closed because its principal may no longer connect (a disabled
   * company or agent, see `revocation.ts`): its calls end at once rather than wait out the
   * reconnect grace for a client that cannot come back.
   */
  get barred(): boolean {
    return (this.flags & BARRED) !== 0;
  }

  set barred(value: boolean) {
    this.flags = value ? this.flags | BARRED : this.flags & ~BARRED;
  }

  /** Company of the principal, for brevity at call sites. */
  get companyId(): string {
    return this.principal.companyId;
  }

  /** User id of the principal. */
  get userId(): string {
    return this.principal.userId;
  }

  /** Whether the agent-side handlers apply (agents and admins). */
  get isAgent(): boolean {
    return this.principal.role !== 'visitor';
  }

  /**
   * This connection's logger: the server's, with the company, user and connection ids bound.
   * Made on first use: most connections never log a line.
   */
  get log(): Logger {
    const onDemand = this.made();
    onDemand.log ??= this.shared.log.child({
      companyId: this.principal.companyId,
      userId: this.principal.userId,
      connId: this.id,
    });
    return onDemand.log;
  }

  /** Logs at debug level through {@link log}, without making the logger when debug is off. */
  debug(obj: object | string, msg?: string): void {
    if (!this.shared.log.isLevelEnabled('debug')) return;
    if (typeof obj === 'string') this.log.debug(obj);
    else this.log.debug(obj, msg);
  }

  /**
   * Calls whose signaling this connection carries, by call id. The map is made on first use:
   * a visitor waiting for its first call, the usual idle connection, has none.
   */
  get calls(): Map<string, CallLink> {
    const onDemand = this.made();
    onDemand.calls ??= new Map();
    return onDemand.calls;
  }

  /**
   * The rate limiter, run on each message at its arrival, monotonic time `now`
   * (`performance.now()`). A token from the bucket lets the message through; without one it is
   * dropped, and a connection dropping more messages within a second than
   * `RATE_LIMIT_MSGS_PER_SEC` is closed for flooding (4008). The bucket is made, full, by the
   * first message: the same state a bucket made at connection time would have refilled to by
   * then.
   */
  rateLimit(now: number): RateVerdict {
    const onDemand = this.made();
    onDemand.rate ??= new RateState(
      this.shared.rateLimitMsgsPerSec,
      this.shared.rateLimitBurst,
      now,
      this.openedAt,
    );
    const rate = onDemand.rate;
    if (rate.take(now)) return 'allow';
    if (!rate.drop(now, this.shared.rateLimitMsgsPerSec)) return 'drop';
    this.log.warn({ dropped: rate.droppedInWindow }, 'flooding connection closed');
    this.close(CloseCode.Policy, PolicyReason.Flooding);
    return 'closed';
  }

  /**
   * Runs `task` now, or after the connection's current async work, keeping order: set-up, each
   * message, then clean-up. A task that returns a promise holds the connection's later work
   * until it settles; one that throws or rejects is logged, and the queue goes on.
   */
  schedule(task: () => unknown): void {
    if (this.busy) this.backlog.push(task);
    else this.settle(this.runTask(task));
  }

  /**
   * If `result` is a promise, holds the connection's later work (the {@link backlog}) until it
   * settles. For the message path, which runs a handler inline when the connection is not
   * {@link busy} and hands its result here, sparing each frame a closure.
   */
  settle(result: unknown): void {
    if (!(result instanceof Promise)) return;
    this.busy = true;
    result
      .catch((err: unknown) => this.log.error({ err }, 'task failed'))
      .finally(() => {
        this.busy = false;
        while (!this.busy) {
          const next = this.backlog.shift();
          if (next === undefined) return;
          this.settle(this.runTask(next));
        }
      });
  }

  /**
   * Sends an already-serialised frame. A peer that stopped reading is closed as a slow
   * consumer once its buffer passes the high-water mark, so its backlog cannot grow the
   * server's memory without bound.
   */
  sendRaw(type: ServerMessageType, data: string): boolean {
    if (this.closing) return false;
    if (this.socket.bufferedAmount > this.shared.sendHighWaterBytes) {
      this.log.warn({ bufferedAmount: this.socket.bufferedAmount }, 'slow consumer closed');
      this.close(CloseCode.Policy, PolicyReason.SlowConsumer);
      return false;
    }
    this.socket.send(data);
    this.shared.metrics.messagesOut.inc(type);
    return true;
  }

  /** Serialises and sends one message. */
  send(message: ServerMessage | (ServerMessageOf<'ack'> & Record<string, unknown>)): boolean {
    return this.sendRaw(message.type, JSON.stringify(message));
  }

  /**
   * Closes with `code`; a socket that does not finish the closing handshake promptly (it may
   * not be reading at all) is destroyed.
   */
  close(code: number, reason: string): void {
    if (this.closing) return;
    this.closing = true;
    this.shared.metrics.closes.inc(String(code));
    this.socket.close(code, reason);
    if (code !== CloseCode.Normal && code !== CloseCode.GoingAway) {
      setTimeout(() => this.socket.terminate(), POLICY_CLOSE_GRACE_MS).unref();
    }
  }

  private made(): OnDemand {
    this.onDemand ??= { rate: undefined, calls: undefined, log: undefined };
    return this.onDemand;
  }

  private runTask(task: () => unknown): unknown {
    try {
      return task();
    } catch (err) {
      this.log.error({ err }, 'task failed');
      return undefined;
    }
  }
}
