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

/** Why a token was refused; each becomes the close reason of a 4001. */
export const AuthFailure = {
  Missing: 'token missing',
  Malformed: 'token malformed',
  Algorithm: 'token algorithm not allowed',
  Signature: 'token signature invalid',
  Expired: 'token expired',
  NotYetValid: 'token not yet valid',
  Issuer: 'token issuer invalid',
  Audience: 'token audience invalid',
  MissingExp: 'token missing claim: exp',
  MissingSub: 'token missing claim: sub',
  MissingCompany: 'token missing claim: company_id',
  BadRole: 'token claim role invalid',
  BadClaim: 'token claim invalid',
  /**
   * A browser presented a visitor token from a page it was not issued to: the upgrade's `Origin`
   * is neither the token's `origin` claim nor the web host's own (nor, for a token without the
   * claim, one its company allows). Not a token fault as such, but a 4001 all the same: the page
   * must get a token of its own.
   */
  Origin: 'origin',
  /**
   * The token was valid when issued, but its account changed since: its password was reset, it
   * was disabled and enabled again, or its role changed (see `server/access.ts`). Sent at the
   * upgrade and to live connections; a refresh tells whether a new token can be had (a changed
   * role: yes, with the new role).
   */
  Revoked: 'revoked',
} as const;
export type AuthFailure = (typeof AuthFailure)[keyof typeof AuthFailure];

/** Thrown by token verification; `reason` is safe to send to the client as a close reason. */
export class AuthError extends Error {
  override readonly name = 'AuthError';
  readonly closeCode = CloseCode.Unauthorized;
  constructor(readonly reason: AuthFailure) {
    super(reason);
  }
}

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
