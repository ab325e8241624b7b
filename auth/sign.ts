/**
 * Issues the tokens the signaling server accepts: HS256 with `JWT_SECRET`, carrying the claims
 * `auth/verify.ts` reads (`auth/claims.ts`) (`sub`, `role`, `company_id`, `name`, `exp`, for visitors asking from a
 * browser `origin`, for agents and admins `ver`) plus `iss`/`aud` when the deployment requires
 * them, so a token from this host always passes `verifyToken`.
 */
import { randomBytes } from 'node:crypto';
import jwt from 'jsonwebtoken';
import type { Role } from '../client-lib/protocol.js';
import type { TokenClaims } from './claims.js';
import type { JwtConfig } from '../config/config.js';

/** Who a token speaks for. */
export interface TokenSubject {
  /** The `sub` claim: an agent's id, or a visitor's `v_…` id. */
  readonly userId: string;
  readonly role: Role;
  readonly companyId: string;
  /** Display name; left out of the token when undefined (visitors then show as `Visitor`). */
  readonly name: string | undefined;
  /**
   * The `origin` claim: the web origin of the page a visitor token was issued to (its request's
   * `Origin` header). Left out when undefined (a server-side caller, or an agent token).
   */
  readonly origin?: string | undefined;
  /**
   * The `ver` claim: the agent's credentials version now (`agents.credentials_version`), so that
   * a later password reset or disabling revokes the token. Left out for visitors.
   */
  readonly credentialsVersion?: number | undefined;
}

/** A signed token and when it expires. */
export interface IssuedToken {
  readonly token: string;
  /** ISO 8601 form of the `exp` claim. */
  readonly expiresAt: string;
}

/** True when this deployment can issue tokens (it has an HS256 secret). */
export function canIssueTokens(config: JwtConfig): boolean {
  return config.secret !== undefined;
}

/**
 * Signs a token for `subject` valid for `ttlS` seconds from `nowMs`.
 * @throws Error when the deployment has no `JWT_SECRET` (check {@link canIssueTokens} first).
 */
export function issueToken(
  config: JwtConfig,
  subject: TokenSubject,
  ttlS: number,
  nowMs = Date.now(),
): IssuedToken {
  // The web host refuses token requests before this on a deployment without a secret.
  if (config.secret === undefined) throw new Error('cannot sign tokens: JWT_SECRET is not set');
  const iat = Math.floor(nowMs / 1000);
  const exp = iat + ttlS;
  const payload: TokenClaims = {
    sub: subject.userId,
    role: subject.role,
    company_id: subject.companyId,
    iat,
    exp,
    ...(subject.name !== undefined && { name: subject.name }),
    ...(subject.origin !== undefined && { origin: subject.origin }),
    ...(subject.credentialsVersion !== undefined && { ver: subject.credentialsVersion }),
    ...(config.issuer !== undefined && { iss: config.issuer }),
    ...(config.audience !== undefined && { aud: config.audience }),
  };
  // `iat` is in the payload, so jsonwebtoken keeps it rather than reading the clock again.
  const token = jwt.sign(payload, config.secret, { algorithm: 'HS256' });
  return { token, expiresAt: new Date(exp * 1000).toISOString() };
}

/** A fresh anonymous visitor id: `v_` and 16 random URL-safe characters (96 bits). */
export function newVisitorId(): string {
  return `v_${randomBytes(12).toString('base64url')}`;
}
