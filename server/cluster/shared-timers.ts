/**
 * Call timers shared by the nodes of a cluster: each deadline is a member of one Redis sorted set
 * scored by its due time, so that it outlives the node that armed it.
 *
 * The node that armed a timer fires it on time with its own `setTimeout`; every node also sweeps
 * the set for deadlines past due, which is how a timer armed by a node that died still fires.
 * Whoever removes the member first (`ZREM` answers 1 to exactly one caller) fires it: once.
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { CallTimers, TimerFired, TimerKind } from '../services/call-timers.js';

/** How often each node sweeps for deadlines past due (a dead node's timers fire this late). */
export const TIMER_SWEEP_MS = 250;
/** Deadlines taken per sweep; the rest wait for the next. */
const SWEEP_BATCH = 200;

const KINDS = new Set<string>(['ring', 'queue', 'grace-visitor', 'grace-agent']);

function isTimerKind(kind: string): kind is TimerKind {
  return KINDS.has(kind);
}

/** Options of {@link SharedCallTimers}. */
export interface SharedCallTimersOptions {
  readonly redis: Redis;
  /** The sorted set's key. */
  readonly key: string;
  readonly fired: TimerFired;
  readonly log: Logger;
  readonly sweepMs?: number;
}

/** {@link CallTimers} kept in Redis for the whole cluster. */
export class SharedCallTimers implements CallTimers {
  private readonly local = new Map<string, NodeJS.Timeout>();
  private readonly sweeper: NodeJS.Timeout;
  private sweeping = false;
  private stopped = false;

  constructor(private readonly options: SharedCallTimersOptions) {
    this.sweeper = setInterval(() => void this.sweep(), options.sweepMs ?? TIMER_SWEEP_MS);
    this.sweeper.unref();
  }

  arm(kind: TimerKind, callId: string, ms: number): void {
    if (this.stopped) return;
    const member = `${kind}|${callId}`;
    this.clearLocal(member);
    this.options.redis
      .zadd(this.options.key, Date.now() + ms, member)
      .catch((err: unknown) => this.options.log.error({ err, callId, kind }, 'timer not armed'));
    const timer = setTimeout(() => {
      this.local.delete(member);
      void this.claim(member);
    }, ms);
    this.local.set(member, timer);
  }

  clear(kinds: readonly TimerKind[], callId: string): void {
    const members = kinds.map((kind) => `${kind}|${callId}`);
    for (const member of members) this.clearLocal(member);
    this.options.redis
      .zrem(this.options.key, ...members)
      .catch((err: unknown) => this.options.log.warn({ err, callId }, 'timer not cleared'));
  }

  /**
   * The deadline stays in Redis for whoever clears it; should this node have been wrong to
   * forget, the sweep still fires it, a sweep late at most.
   */
  forget(kinds: readonly TimerKind[], callId: string): void {
    for (const kind of kinds) this.clearLocal(`${kind}|${callId}`);
  }

  get count(): number {
    return this.local.size;
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.sweeper);
    for (const timer of this.local.values()) clearTimeout(timer);
    this.local.clear();
  }

  /** Fires every deadline past due that no node has taken yet. */
  async sweep(): Promise<void> {
    if (this.sweeping || this.stopped) return;
    this.sweeping = true;
    try {
      const due = await this.options.redis.zrangebyscore(
        this.options.key,
        '-inf',
        Date.now(),
        'LIMIT',
        0,
        SWEEP_BATCH,
      );
      await Promise.all(due.map((member) => this.claim(member)));
    } catch (err) {
      this.options.log.warn({ err }, 'timer sweep failed');
    } finally {
      this.sweeping = false;
    }
  }

  /** Takes a deadline for this node (exactly one node's `ZREM` removes it) and fires it. */
  private async claim(member: string): Promise<void> {
    if (this.stopped) return;
    const bar = member.indexOf('|');
    const kind = member.slice(0, bar);
    const callId = member.slice(bar + 1);
    try {
      if ((await this.options.redis.zrem(this.options.key, member)) !== 1) return;
      if (!isTimerKind(kind)) {
        this.options.log.warn({ member }, 'unknown timer dropped');
        return;
      }
      await this.options.fired(kind, callId);
    } catch (err) {
      this.options.log.error({ err, callId, kind }, 'call timer failed');
    }
  }

  private clearLocal(member: string): void {
    const timer = this.local.get(member);
    if (timer === undefined) return;
    clearTimeout(timer);
    this.local.delete(member);
  }
}
