/**
 * Why a token was refused, shared by the signaling server (the reason of a 4001 close) and the
 * web host (a 401). The signaling catalog (`server/errors.ts`) re-exports both.
 */
import { CloseCode } from '../client-lib/constants.js';

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
   * was disabled and enabled again, or its role changed (see `auth/access.ts`). Sent at the
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
