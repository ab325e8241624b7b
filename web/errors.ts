/**
 * The web host's error catalog: every error a client can see has a stable `code` and a status,
 * and goes out as the JSON body {@link ErrorBody}. Clients switch on `error`, never on
 * `message`.
 */
import createError, { type FastifyError } from '@fastify/error';
import { Type, type Static } from '@sinclair/typebox';

/** Codes carried in the `error` field of every error body. Stable: clients switch on them. */
export const WebErrorCode = {
  /** Malformed request: bad JSON, a schema violation, a bad header or query value. */
  BadRequest: 'bad_request',
  /**
   * Login refused. One code and one message for an unknown email, a wrong password, an
   * unknown or disabled company and a disabled agent, so the answer tells nothing of which.
   */
  InvalidCredentials: 'invalid_credentials',
  /** No bearer token, or one that is invalid, expired, or whose account is gone or disabled. */
  Unauthorized: 'unauthorized',
  /**
   * A token that was valid when issued but whose access was taken away since: its company or
   * its account is disabled, its password was reset (or it was disabled and enabled again), or
   * its role changed. The message says which. Only for a changed role does
   * `POST /api/token/refresh` issue a new token (with the new role); otherwise log in again.
   */
  TokenRevoked: 'token_revoked',
  /** A valid token whose role or identity does not allow this request. */
  Forbidden: 'forbidden',
  /**
   * A browser page of another site asked for a visitor token of a company whose allowed
   * origins do not name that site (`admin set-origins`).
   */
  OriginNotAllowed: 'origin_not_allowed',
  /**
   * The company exists but is disabled: `GET /api/embed/:companyId` (hide the button), or a
   * login with the right password (told only after the password was verified, so it discloses
   * nothing to someone who does not have it).
   */
  CompanyDisabled: 'company_disabled',
  /** No route, no static file, or no such resource (e.g. an unknown or disabled company). */
  NotFound: 'not_found',
  /** The path exists but not for this method (the `allow` header lists the ones that work). */
  MethodNotAllowed: 'method_not_allowed',
  /** The request conflicts with the current state of a resource. */
  Conflict: 'conflict',
  /**
   * A rating for a call that is not over yet (queued, ringing, answered), or whose final row
   * the call log has not written yet (a moment after it ends): retry shortly.
   */
  CallNotEnded: 'call_not_ended',
  /** A rating for a call that ended without being answered (missed, declined, ...). */
  CallNotRateable: 'call_not_rateable',
  /** The call has its rating already; a rating is given once. */
  AlreadyRated: 'already_rated',
  /** The call ended more than 24 hours ago. */
  RatingWindowClosed: 'rating_window_closed',
  /** The request body is over the size limit. */
  PayloadTooLarge: 'payload_too_large',
  /** The request body's content type is not accepted. */
  UnsupportedMediaType: 'unsupported_media_type',
  /**
   * The request did not arrive in time (`WEB_REQUEST_TIMEOUT_MS`, `WEB_HEADERS_TIMEOUT_MS`);
   * the connection is closed after the answer.
   */
  RequestTimeout: 'request_timeout',
  /** A path segment (e.g. a company id) is longer than the router accepts. */
  UriTooLong: 'uri_too_long',
  /**
   * The request line and headers are over Node's header size limit (16 KiB); the connection is
   * closed after the answer.
   */
  HeadersTooLarge: 'headers_too_large',
  /** Too many requests; the `retry-after` header says how many seconds to wait. */
  RateLimited: 'rate_limited',
  /** A server fault; details are logged, never sent. */
  Internal: 'internal',
  /**
   * This deployment verifies tokens with a public key only (no `JWT_SECRET`), so the web host
   * cannot issue tokens; they come from the deployment's own identity provider.
   */
  TokenSigningUnavailable: 'token_signing_unavailable',
  /**
   * The web host is shutting down (a restart or a deploy) and takes no new requests; retry in a
   * moment or on another host. The connection is closed after the answer. Also: in cluster mode,
   * login or a visitor token while the host cannot reach Redis, where their rate limits are
   * counted (the limits fail closed rather than let guesses through uncounted).
   */
  Unavailable: 'unavailable',
} as const;
/** One of the {@link WebErrorCode} values. */
export type WebErrorCode = (typeof WebErrorCode)[keyof typeof WebErrorCode];

/** The body of every error response. */
export const ErrorBody = Type.Object(
  {
    /** One of the {@link WebErrorCode} values. */
    error: Type.String(),
    /** For people; may change between versions. */
    message: Type.String(),
  },
  { additionalProperties: false, description: 'Every failure: a stable code and a message' },
);
/** @see ErrorBody */
export type ErrorBody = Static<typeof ErrorBody>;

// The stack is never sent, so capturing it for these routine client errors is wasted work.
/** No route at `method url`. Arguments: method, url. */
export const NotFoundError = createError(
  WebErrorCode.NotFound,
  'no route for %s %s',
  404,
  Error,
  false,
);
/** The path exists for other methods. Arguments: method, url. */
export const MethodNotAllowedError = createError(
  WebErrorCode.MethodNotAllowed,
  '%s is not allowed on %s',
  405,
  Error,
  false,
);
/** A request the schema accepted but the handler cannot (e.g. `from` after `to`). Argument: why. */
export const BadRequestError = createError(WebErrorCode.BadRequest, '%s', 400, Error, false);
/** Login refused; the message is the same whatever was wrong. No arguments. */
export const InvalidCredentialsError = createError(
  WebErrorCode.InvalidCredentials,
  'invalid email, password or company',
  401,
  Error,
  false,
);
/** Missing or refused bearer token. Argument: why (safe to send, e.g. `token expired`). */
export const UnauthorizedError = createError(WebErrorCode.Unauthorized, '%s', 401, Error, false);
/** A revoked token (see {@link WebErrorCode.TokenRevoked}). Argument: why, e.g. `role changed`. */
export const TokenRevokedError = createError(
  WebErrorCode.TokenRevoked,
  'token revoked: %s',
  401,
  Error,
  false,
);
/** Argument: why. */
export const ForbiddenError = createError(WebErrorCode.Forbidden, '%s', 403, Error, false);
/** Argument: the origin refused. See {@link WebErrorCode.OriginNotAllowed}. */
export const OriginNotAllowedError = createError(
  WebErrorCode.OriginNotAllowed,
  '%s may not use this company',
  403,
  Error,
  false,
);
/** No arguments. See {@link WebErrorCode.CompanyDisabled}. */
export const CompanyDisabledError = createError(
  WebErrorCode.CompanyDisabled,
  'this company is disabled',
  403,
  Error,
  false,
);
/** A resource, not a route, that does not exist. Argument: what is missing. */
export const ResourceNotFoundError = createError(WebErrorCode.NotFound, '%s', 404, Error, false);
/** Argument: why. */
export const ConflictError = createError(WebErrorCode.Conflict, '%s', 409, Error, false);
/** No arguments; see {@link WebErrorCode.CallNotEnded}. */
export const CallNotEndedError = createError(
  WebErrorCode.CallNotEnded,
  'the call has not ended yet',
  409,
  Error,
  false,
);
/** No arguments; see {@link WebErrorCode.CallNotRateable}. */
export const CallNotRateableError = createError(
  WebErrorCode.CallNotRateable,
  'only answered calls can be rated',
  409,
  Error,
  false,
);
/** No arguments; see {@link WebErrorCode.AlreadyRated}. */
export const AlreadyRatedError = createError(
  WebErrorCode.AlreadyRated,
  'the call is rated already',
  409,
  Error,
  false,
);
/** No arguments; see {@link WebErrorCode.RatingWindowClosed}. */
export const RatingWindowClosedError = createError(
  WebErrorCode.RatingWindowClosed,
  'calls can be rated for 24 hours after they end',
  409,
  Error,
  false,
);
/** No arguments; see {@link WebErrorCode.TokenSigningUnavailable}. */
export const TokenSigningUnavailableError = createError(
  WebErrorCode.TokenSigningUnavailable,
  'this server has no JWT_SECRET and cannot issue tokens',
  503,
  Error,
  false,
);
const RateLimitedError = createError(
  WebErrorCode.RateLimited,
  'too many requests; retry in %d s',
  429,
  Error,
  false,
);

/** No arguments; see {@link WebErrorCode.Unavailable}. */
export const ShuttingDownError = createError(
  WebErrorCode.Unavailable,
  'the server is shutting down; try again in a moment',
  503,
  Error,
  false,
);

/**
 * The shared rate limits cannot be counted (Redis away, in cluster mode); the Redis error is
 * its `cause`, logged and never sent. See {@link WebErrorCode.Unavailable}.
 */
export const RateLimiterUnavailableError = createError(
  WebErrorCode.Unavailable,
  'the server cannot check its rate limits right now; try again in a moment',
  503,
  Error,
  false,
);

/** An error that tells the client when to retry (sent as the `retry-after` header). */
export interface RetryAfter {
  readonly retryAfterS: number;
}

/** A `rate_limited` (429) error whose response carries `retry-after: <retryAfterS>`. */
export function rateLimited(retryAfterS: number): FastifyError & RetryAfter {
  const seconds = Math.max(1, Math.ceil(retryAfterS));
  return Object.assign(new RateLimitedError(seconds), { retryAfterS: seconds });
}

const CODE_BY_STATUS: Readonly<Record<number, WebErrorCode>> = {
  401: WebErrorCode.Unauthorized,
  403: WebErrorCode.Forbidden,
  404: WebErrorCode.NotFound,
  405: WebErrorCode.MethodNotAllowed,
  408: WebErrorCode.RequestTimeout,
  409: WebErrorCode.Conflict,
  413: WebErrorCode.PayloadTooLarge,
  414: WebErrorCode.UriTooLong,
  415: WebErrorCode.UnsupportedMediaType,
  429: WebErrorCode.RateLimited,
  431: WebErrorCode.HeadersTooLarge,
};

const CATALOG_CODES: ReadonlySet<string> = new Set(Object.values(WebErrorCode));
// Server-side failures whose code and message are meant for the client; every other 5xx is
// sent as a bare `internal`, whatever it says, so no detail of a bug leaks.
const PUBLIC_SERVER_CODES: ReadonlySet<string> = new Set([
  WebErrorCode.TokenSigningUnavailable,
  WebErrorCode.Unavailable,
]);

/** What {@link toErrorResponse} answers: the status, the body and any extra headers. */
export interface ErrorResponse {
  status: number;
  body: ErrorBody;
  headers: Record<string, string>;
}

/**
 * Maps any error (ours, Fastify's, or a thrown bug) to a status and a body that is safe to send:
 * client errors keep their message, server errors get a generic one unless the catalog marks
 * them public.
 */
export function toErrorResponse(err: Partial<FastifyError & RetryAfter>): ErrorResponse {
  const raw = err.statusCode ?? 500;
  const status = Number.isInteger(raw) && raw >= 400 && raw <= 599 ? raw : 500;
  // @fastify/error upper-cases codes (`NOT_FOUND`); the wire carries the catalog's lower case.
  const code = err.code?.toLowerCase();
  const catalogCode =
    code !== undefined && CATALOG_CODES.has(code) ? (code as WebErrorCode) : undefined;
  if (status >= 500 && (catalogCode === undefined || !PUBLIC_SERVER_CODES.has(catalogCode))) {
    return {
      status,
      body: { error: WebErrorCode.Internal, message: 'internal server error' },
      headers: {},
    };
  }
  const error = catalogCode ?? CODE_BY_STATUS[status] ?? WebErrorCode.BadRequest;
  const headers: Record<string, string> = {};
  if (typeof err.retryAfterS === 'number') headers['retry-after'] = String(err.retryAfterS);
  // RFC 6750 §3: a 401 for a bearer-protected resource names the scheme it wants.
  if (error === WebErrorCode.Unauthorized || error === WebErrorCode.TokenRevoked)
    headers['www-authenticate'] = 'Bearer realm="calldocker"';
  return { status, body: { error, message: err.message || 'bad request' }, headers };
}
