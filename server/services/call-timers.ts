/**
 * The deadlines of calls: a ring's and a queue wait's timeout, and each side's reconnect grace.
 *
 * A timer is named by its kind and call, not by a closure, so that in a cluster any node can fire
 * it (`server/cluster/shared-timers.ts` keeps the deadlines in Redis, and a timer armed by a node
 * that died still fires once, on another). The firing is a compare-and-set from the state the
 * timer was armed for, so a timer that lost its race (the call was answered, or ended) does
 * nothing.
 */
import type { Logger } from 'pino';

/** What a timer, when it fires, checks and ends. */
export type TimerKind = 'ring' | 'queue' | 'grace-visitor' | 'grace-agent';

/** The one wait timer of a call: it rings or it queues, never both. */
export const WAIT_TIMERS: readonly TimerKind[] = ['ring', 'queue'];
/** Every timer a call may have. */
export const ALL_TIMERS: readonly TimerKind[] = ['ring', 'queue', 'grace-visitor', 'grace-agent'];

/** Runs a timer's work; rejections are logged, not thrown. */
export type TimerFired = (kind: TimerKind, callId: string) => Promise<void>;

/** Arms and clears call timers. */
export interface CallTimers {
  /** Arms (or re-arms) `kind` for `callId`, to fire in `ms`. */
  arm(kind: TimerKind, callId: string, ms: number): void;
  /** Clears the named timers of `callId`; clearing an unarmed one does nothing. */
  clear(kinds: readonly TimerKind[], callId: string): void;
  /**
   * Stops this node's own wait for the named timers of `callId` and leaves a shared deadline
   * alone: another node settled them and cleared that (see `CallService.mirrored`). A timer of
   * one process has no shared deadline: this is {@link clear}.
   */
  forget(kinds: readonly TimerKind[], callId: string): void;
  /** Timers this node armed that have neither fired nor been cleared (`/metrics`, leak checks). */
  readonly count: number;
  /** Clears this node's timers and arms no more (shutdown). */
  stop(): void;
}

/** The timer of one process: `setTimeout`, by kind and call. */
export class LocalCallTimers implements CallTimers {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private stopped = false;

  constructor(
    private readonly fired: TimerFired,
    private readonly log: Logger,
  ) {}

  arm(kind: TimerKind, callId: string, ms: number): void {
    const key = `${kind}|${callId}`;
    const existing = this.timers.get(key);
    if (existing !== undefined) clearTimeout(existing);
    if (this.stopped) return;
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.fired(kind, callId).catch((err: unknown) =>
        this.log.error({ err, callId, kind }, 'call timer failed'),
      );
    }, ms);
    this.timers.set(key, timer);
  }

  clear(kinds: readonly TimerKind[], callId: string): void {
    for (const kind of kinds) {
      const key = `${kind}|${callId}`;
      const timer = this.timers.get(key);
      if (timer === undefined) continue;
      clearTimeout(timer);
      this.timers.delete(key);
    }
  }

  forget(kinds: readonly TimerKind[], callId: string): void {
    this.clear(kinds, callId);
  }

  get count(): number {
    return this.timers.size;
  }

  stop(): void {
    this.stopped = true;
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }
}
