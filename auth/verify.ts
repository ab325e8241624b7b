/**
 * Token verification for the HTTP upgrade. Runs before a WebSocket exists, so a refused
 * token costs one HMAC and never touches rooms, presence or calls.
 */
import { createPublicKey, createSecretKey, type KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import type { Role } from '../client-lib/protocol.js';
import type { UncheckedClaims } from './claims.js';
import type { JwtConfig } from '../config/config.js';
import { AuthError, AuthFailure } from './errors.js';
import { OPAQUE_ORIGIN, normaliseOrigin } from '../common/origin.js';
import { normaliseName } from '../common/text.js';

/** Who a connection speaks for, taken from a verified token. */
export interface Principal {
  readonly userId: string;
  readonly role: Role;
  readonly companyId: string;
  readonly name: string;
  /** Token expiry, seconds since the epoch. */
  readonly exp: number;
  /**
   * The `origin` claim, normalised: the web origin of the page the token was issued to (the web
   * host sets it on visitor tokens requested from a browser). A browser's upgrade must then come
   * from that origin (or the web host's own); undefined when the token has none.
   */
  readonly origin?: string | undefined;
  /**
   * The `ver` claim: the agent's credentials version when the web host issued the token. A
   * password reset or disabling bumps the version in the database, and `auth/access.ts`
   * refuses a token whose version differs; a token without the claim counts as version 0.
   */
  readonly credentialsVersion?: number | undefined;
}

/** Tokens longer than this are refused unparsed (a URL this long is an attack, not a token). */
export const MAX_TOKEN_LENGTH = 8192;
const MAX_ID_LENGTH = 128;

const HMAC_ALGORITHMS = new Set(['HS256']);
/** Public-key algorithms, with the key type each verifies with. */
const PUBLIC_KEY_ALGORITHMS = new Map([
  ['RS256', 'rsa'],
  ['ES256', 'ec'],
]);

function idClaim(value: unknown): string | undefined {
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
  if (typeof value === 'string' && value.length > 0 && value.length <= MAX_ID_LENGTH) return value;
  return undefined;
}

function roleClaim(value: unknown): Role | undefined {
  if (value === undefined) return 'visitor'; // least privilege when a token names no role
  if (value === 'user') return 'visitor'; // the seed demo's name for a visitor
  if (value === 'visitor' || value === 'agent' || value === 'admin') return value;
  return undefined;
}

/** The `ver` claim: absent, or a whole number from 0; anything else is refused. */
function versionClaim(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value;
  throw new AuthError(AuthFailure.BadClaim);
}

interface Keys {
  readonly secret: KeyObject | undefined;
  readonly publicKey: KeyObject | undefined;
}
// Key objects are built once per configuration: given a string, jsonwebtoken first tries (and
// fails, with a thrown exception) to parse it as a public key on every single verification.
const keyCache = new WeakMap<JwtConfig, Keys>();

function keysOf(config: JwtConfig): Keys {
  let keys = keyCache.get(config);
  if (keys === undefined) {
    keys = {
      secret: config.secret === undefined ? undefined : createSecretKey(Buffer.from(config.secret)),
      publicKey: config.publicKey === undefined ? undefined : createPublicKey(config.publicKey),
    };
    keyCache.set(config, keys);
  }
  return keys;
}

/**
 * Picks the key for the token's declared algorithm. The public key is never handed to an
 * HMAC verifier, which is what HS/RS confusion attacks rely on.
 */
function keyFor(alg: unknown, config: JwtConfig): { key: KeyObject; alg: jwt.Algorithm } {
  const keys = keysOf(config);
  if (typeof alg === 'string') {
    if (HMAC_ALGORITHMS.has(alg) && keys.secret !== undefined) {
      return { key: keys.secret, alg: alg as jwt.Algorithm };
    }
    // An ES256 token against an RSA key (or the reverse) names an algorithm with no key.
    const keyType = PUBLIC_KEY_ALGORITHMS.get(alg);
    if (keyType !== undefined && keys.publicKey?.asymmetricKeyType === keyType) {
      return { key: keys.publicKey, alg: alg as jwt.Algorithm };
    }
  }
  throw new AuthError(AuthFailure.Algorithm);
}

function verifyFailure(err: unknown): AuthError {
  if (err instanceof jwt.TokenExpiredError) return new AuthError(AuthFailure.Expired);
  if (err instanceof jwt.NotBeforeError) return new AuthError(AuthFailure.NotYetValid);
  const message = err instanceof Error ? err.message : '';
  if (message.startsWith('jwt issuer invalid')) return new AuthError(AuthFailure.Issuer);
  if (message.startsWith('jwt audience invalid')) return new AuthError(AuthFailure.Audience);
  if (message === 'invalid signature') return new AuthError(AuthFailure.Signature);
  if (message.startsWith('invalid algorithm')) return new AuthError(AuthFailure.Algorithm);
  return new AuthError(AuthFailure.Malformed);
}

/**
 * Verifies `token` and returns its principal.
 * @throws AuthError whose `reason` says what was wrong (sent as the 4001 close reason).
 */
export function verifyToken(token: string | null | undefined, config: JwtConfig): Principal {
  if (token === undefined || token === null || token === '')
    throw new AuthError(AuthFailure.Missing);
  if (token.length > MAX_TOKEN_LENGTH) throw new AuthError(AuthFailure.Malformed);
  const decoded = jwt.decode(token, { complete: true });
  if (decoded === null || typeof decoded.payload !== 'object') {
    throw new AuthError(AuthFailure.Malformed);
  }
  const { key, alg } = keyFor(decoded.header.alg, config);
  let claims: UncheckedClaims;
  try {
    claims = jwt.verify(token, key, {
      algorithms: [alg],
      ...(config.issuer !== undefined ? { issuer: config.issuer } : {}),
      ...(config.audience !== undefined ? { audience: config.audience } : {}),
    }) as UncheckedClaims;
  } catch (err) {
    throw verifyFailure(err);
  }
  if (typeof claims !== 'object' || claims === null) throw new AuthError(AuthFailure.Malformed);
  const exp = claims.exp;
  if (typeof exp !== 'number' || !Number.isFinite(exp)) throw new AuthError(AuthFailure.MissingExp);
  const userId = idClaim(claims.sub ?? claims.id);
  if (userId === undefined) throw new AuthError(AuthFailure.MissingSub);
  const companyRaw = claims.company_id;
  if (companyRaw === undefined || companyRaw === null || companyRaw === '') {
    throw new AuthError(AuthFailure.MissingCompany);
  }
  const companyId = idClaim(companyRaw);
  if (companyId === undefined) throw new AuthError(AuthFailure.BadClaim);
  const role = roleClaim(claims.role);
  if (role === undefined) throw new AuthError(AuthFailure.BadRole);
  const rawName = claims.name;
  if (rawName !== undefined && typeof rawName !== 'string')
    throw new AuthError(AuthFailure.BadClaim);
  // Whoever issued the token, the name is shown to agents as normalised text (common/text.ts).
  const cleaned = rawName === undefined ? '' : normaliseName(rawName);
  const name = cleaned !== '' ? cleaned : role === 'visitor' ? 'Visitor' : userId;
  const rawOrigin = claims.origin;
  let origin: string | undefined;
  if (rawOrigin !== undefined) {
    origin =
      typeof rawOrigin !== 'string'
        ? undefined
        : rawOrigin === OPAQUE_ORIGIN
          ? OPAQUE_ORIGIN
          : normaliseOrigin(rawOrigin);
    // A claim that cannot be compared cannot be enforced: refused rather than ignored.
    if (origin === undefined) throw new AuthError(AuthFailure.BadClaim);
  }
  const credentialsVersion = versionClaim(claims.ver);
  return { userId, role, companyId, name, exp, origin, credentialsVersion };
}
