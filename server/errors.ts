/**
 * The signaling server's error catalog. Handlers throw (or return) {@link SignalingError}s;
 * the dispatcher turns them into `error` frames with a stable `code`. Tests assert codes and
 * close codes, never message text.
 */
import { CloseCode, ErrorCode } from '../client-lib/constants.js';

export { CloseCode, ErrorCode };

/** An error a client caused or can act on; becomes an `error` frame. */
export class SignalingError extends Error {
  override readonly name = 'SignalingError';
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }

  static badRequest(message: string) {
    return new SignalingError(ErrorCode.BadRequest, message);
  }
  static forbidden(message: string) {
    return new SignalingError(ErrorCode.Forbidden, message);
  }
  static notFound(message: string) {
    return new SignalingError(ErrorCode.NotFound, message);
  }
  static conflict(message: string) {
    return new SignalingError(ErrorCode.Conflict, message);
  }
  static unavailable(message: string) {
    return new SignalingError(ErrorCode.Unavailable, message);
  }
  static busy(message: string) {
    return new SignalingError(ErrorCode.Busy, message);
  }
  static rateLimited(message: string) {
    return new SignalingError(ErrorCode.RateLimited, message);
  }
  static queueFull(message: string) {
    return new SignalingError(ErrorCode.QueueFull, message);
  }
}

export { AuthError, AuthFailure } from '../auth/errors.js';

/** Close reasons for policy closes (4008), stable for tests and dashboards. */
export const PolicyReason = {
  Flooding: 'rate limit exceeded',
  SlowConsumer: 'slow consumer',
  TooManyConnections: 'too many connections',
} as const;

/** Close reasons for 4003: the token is valid but its principal may not connect now. */
export const ForbiddenReason = {
  /**
   * The admission check refused (the company or the agent is disabled), or could not decide.
   * Also the reason a live connection is closed with when its company or agent is disabled.
   */
  NotAdmitted: 'not admitted',
} as const;

/** What a shared state store read that it cannot trust: a server fault, never a client's. */
export const StoreFault = {
  /** Redis answered a script or command with a shape the store does not expect. */
  BadReply: 'unexpected reply',
  /** A stored record is not valid JSON or does not match its schema. */
  BadRecord: 'malformed record',
} as const;
export type StoreFault = (typeof StoreFault)[keyof typeof StoreFault];

/** Thrown by a shared state store when what it read does not hold; `reason` is stable. */
export class StateStoreError extends Error {
  override readonly name = 'StateStoreError';
  constructor(
    readonly reason: StoreFault,
    detail: string,
  ) {
    super(`${reason}: ${detail}`);
  }
}
