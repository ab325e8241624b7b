/**
 * Authenticates API requests by their `Authorization: Bearer <token>` header, with the same
 * verification (claims and rules) as the signaling server's upgrade, and the same revocation
 * check (`auth/access.ts`): a token whose company or account was disabled, whose password was
 * reset or whose role changed since it was issued is refused with 401 `token_revoked`.
 */
import type { FastifyRequest } from 'fastify';
import { AccessVerdict, type AccessGuard } from '../auth/access.js';
import { verifyToken, type Principal } from '../auth/verify.js';
import type { JwtConfig } from '../config/config.js';
import { AuthError } from '../auth/errors.js';
import { ForbiddenError, TokenRevokedError, UnauthorizedError } from './errors.js';

/** An agent or admin, as the call-log queries see it. */
export interface StaffPrincipal extends Principal {
  readonly role: 'agent' | 'admin';
}

/** What a refused verdict says in the `token_revoked` message. */
const REVOKED_BECAUSE: Readonly<Record<Exclude<AccessVerdict, 'ok'>, string>> = {
  [AccessVerdict.CompanyDisabled]: 'company disabled',
  [AccessVerdict.AccountDisabled]: 'account disabled',
  [AccessVerdict.CredentialsChanged]: 'credentials changed',
  [AccessVerdict.RoleChanged]: 'role changed',
};

/** The 401 `token_revoked` of a refused verdict. */
export function revokedError(verdict: Exclude<AccessVerdict, 'ok'>): Error {
  return new TokenRevokedError(REVOKED_BECAUSE[verdict]);
}

/**
 * The principal of `request`'s bearer token, verified but not yet checked against the database
 * (token refresh makes its own, uncached, check).
 * @throws UnauthorizedError (401) for a missing, malformed, invalid or expired token; its
 *   message is the signaling server's close reason (e.g. `token expired`).
 */
export function verifyBearer(request: FastifyRequest, config: JwtConfig): Principal {
  const header = request.headers.authorization;
  if (header === undefined || header === '') throw new UnauthorizedError('token missing');
  const match = /^Bearer +(\S+) *$/i.exec(header);
  if (match === null) throw new UnauthorizedError('expected Authorization: Bearer <token>');
  try {
    return verifyToken(match[1], config);
  } catch (err) {
    if (err instanceof AuthError) throw new UnauthorizedError(err.reason);
    throw err;
  }
}

/**
 * The principal of `request`'s bearer token, when its access still holds.
 * @throws UnauthorizedError as {@link verifyBearer}; TokenRevokedError (401 `token_revoked`)
 *   when the guard refuses it.
 */
export async function authenticate(
  request: FastifyRequest,
  config: JwtConfig,
  access: AccessGuard,
): Promise<Principal> {
  const principal = verifyBearer(request, config);
  const verdict = await access.check(principal);
  // Logged as every refusal is, by the error handler: a client retrying must not flood the log.
  if (verdict !== AccessVerdict.Ok) throw revokedError(verdict);
  return principal;
}

/**
 * The principal of `request` when it is an agent or an admin.
 * @throws as {@link authenticate}; ForbiddenError (403) for a visitor.
 */
export async function authenticateStaff(
  request: FastifyRequest,
  config: JwtConfig,
  access: AccessGuard,
): Promise<StaffPrincipal> {
  const principal = await authenticate(request, config, access);
  if (principal.role === 'visitor') throw new ForbiddenError('agents and admins only');
  return { ...principal, role: principal.role };
}

/**
 * The principal of `request` when it is a visitor.
 * @throws as {@link authenticate}; ForbiddenError (403) for an agent or admin.
 */
export async function authenticateVisitor(
  request: FastifyRequest,
  config: JwtConfig,
  access: AccessGuard,
): Promise<Principal> {
  const principal = await authenticate(request, config, access);
  if (principal.role !== 'visitor') throw new ForbiddenError('visitors only');
  return principal;
}
