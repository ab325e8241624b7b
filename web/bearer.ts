/**
 * Authenticates API requests by their `Authorization: Bearer <token>` header, with the same
 * verification (claims and rules) as the signaling server's upgrade.
 */
import type { FastifyRequest } from 'fastify';
import { verifyToken, type Principal } from '../server/auth.js';
import type { JwtConfig } from '../server/config.js';
import { AuthError } from '../server/errors.js';
import { ForbiddenError, UnauthorizedError } from './errors.js';

/** An agent or admin, as the call-log queries see it. */
export interface StaffPrincipal extends Principal {
  readonly role: 'agent' | 'admin';
}

/**
 * The principal of `request`'s bearer token.
 * @throws UnauthorizedError (401) for a missing, malformed, invalid or expired token; its
 *   message is the signaling server's close reason (e.g. `token expired`).
 */
export function authenticate(request: FastifyRequest, config: JwtConfig): Principal {
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
 * The principal of `request` when it is an agent or an admin.
 * @throws UnauthorizedError as {@link authenticate}; ForbiddenError (403) for a visitor.
 */
export function authenticateStaff(request: FastifyRequest, config: JwtConfig): StaffPrincipal {
  const principal = authenticate(request, config);
  if (principal.role === 'visitor') throw new ForbiddenError('agents and admins only');
  return { ...principal, role: principal.role };
}

/**
 * The principal of `request` when it is a visitor.
 * @throws UnauthorizedError as {@link authenticate}; ForbiddenError (403) for an agent or admin.
 */
export function authenticateVisitor(request: FastifyRequest, config: JwtConfig): Principal {
  const principal = authenticate(request, config);
  if (principal.role !== 'visitor') throw new ForbiddenError('visitors only');
  return principal;
}
