/**
 * One authenticated WebSocket: who it speaks for, its rooms and calls, its rate limit, and a
 * send path that refuses to buffer without bound.
 */
import type { Logger } from 'pino';
import type { WebSocket } from 'ws';
import type { ServerMessage, ServerMessageOf, ServerMessageType } from '../client-lib/protocol.js';
import type { Principal } from './auth.js';
import { CloseCode, PolicyReason } from './errors.js';
import type { SignalingMetrics } from './metrics.js';

/** What a connection knows of a call it carries signaling for. */
export interface CallLink {
  readonly callId: string;
  /** The other participant's user id (empty while a queued call has no agent yet). */
  peerUserId: string;
  /** The other participant's connection; null while it is disconnected. */
  peerConnId: string | null;
  /** Whether this side has been answered (relay is allowed only then). */
  answered: boolean;
  /** The queue position last told to this (visitor) connection. */
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

/** How long a closed-for-policy socket may linger before it is destroyed. */
const POLICY_CLOSE_GRACE_MS = 1000;

/** Options a {@link Connection} needs from the server. */
export interface ConnectionOptions {
  readonly id: string;
  readonly principal: Principal;
  readonly socket: WebSocket;
  readonly log: Logger;
  readonly metrics: SignalingMetrics;
  readonly rateLimitMsgsPerSec: number;
  readonly rateLimitBurst: number;
  readonly sendHighWaterBytes: number;
}

/** A live, authenticated connection. */
export class Connection {
  readonly id: string;
  readonly principal: Principal;
  readonly socket: WebSocket;
  readonly log: Logger;
  /** Rooms this connection joined (names, inside its company). */
  readonly rooms = new Set<string>();
  /** Calls whose signaling this connection carries, by call id. */
  readonly calls = new Map<string, CallLink>();
  /** When the connection was accepted (`performance.now()`), to tell older from newer. */
  readonly openedAt = performance.now();
  /** Cleared by each heartbeat sweep, set again by the pong. */
  isAlive = true;
  /** Set once the connection is closing; nothing more is sent or handled. */
  closing = false;
  /** Messages dropped by the rate limiter in the current one-second window. */
  droppedInWindow = 0;
  /** Start of the current drop-counting window, on the `performance.now()` clock. */
  windowStartedAt = performance.now();
  /** Work waiting behind an async handler, so one connection's messages stay in order. */
  readonly backlog: Array<() => unknown> = [];
  /** True while an async handler (or set-up, or clean-up) of this connection runs. */
  busy = false;

  private readonly bucket: TokenBucket;
  private readonly metrics: SignalingMetrics;
  private readonly highWater: number;

  constructor(options: ConnectionOptions) {
    this.id = options.id;
    this.principal = options.principal;
    this.socket = options.socket;
    this.log = options.log;
    this.metrics = options.metrics;
    this.highWater = options.sendHighWaterBytes;
    this.bucket = new TokenBucket(options.rateLimitMsgsPerSec, options.rateLimitBurst);
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

  /** Takes a rate-limit token at monotonic time `now` (`performance.now()`). */
  allowMessage(now: number): boolean {
    return this.bucket.take(now);
  }

  /**
   * Sends an already-serialised frame. A peer that stopped reading is closed as a slow
   * consumer once its buffer passes the high-water mark, so its backlog cannot grow the
   * server's memory without bound.
   */
  sendRaw(type: ServerMessageType, data: string): boolean {
    if (this.closing) return false;
    if (this.socket.bufferedAmount > this.highWater) {
      this.log.warn({ bufferedAmount: this.socket.bufferedAmount }, 'slow consumer closed');
      this.close(CloseCode.Policy, PolicyReason.SlowConsumer);
      return false;
    }
    this.socket.send(data);
    this.metrics.messagesOut.inc(type);
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
    this.metrics.closes.inc(String(code));
    this.socket.close(code, reason);
    if (code !== CloseCode.Normal && code !== CloseCode.GoingAway) {
      setTimeout(() => this.socket.terminate(), POLICY_CLOSE_GRACE_MS).unref();
    }
  }
}
