/**
 * The web host's error catalog: every error a client can see has a stable `code` and a status,
 * and goes out as the JSON body {@link ErrorBody}. Clients switch on `error`, never on
 * `message`.
 */
import createError, { type FastifyError } from '@fastify/error';
import { Type, type Static } from '@sinclair/typebox';

/** Codes carried in the `error` field of every error body. Stable: clients switch on them. */
export const WebErrorCode = {
  /** Malformed request: bad JSON, a schema violation, a bad header. */
  BadRequest: 'bad_request',
  /** No route, and no static file, at this path. */
  NotFound: 'not_found',
  /** The path exists but not for this method (the `allow` header lists the ones that work). */
  MethodNotAllowed: 'method_not_allowed',
  /** The request body is over the size limit. */
  PayloadTooLarge: 'payload_too_large',
  /** The request body's content type is not accepted. */
  UnsupportedMediaType: 'unsupported_media_type',
  /** A server fault; details are logged, never sent. */
  Internal: 'internal',
} as const;
/** One of the {@link WebErrorCode} values. */
export type WebErrorCode = (typeof WebErrorCode)[keyof typeof WebErrorCode];

/** The body of every error response. */
export const ErrorBody = Type.Object(
  { error: Type.String(), message: Type.String() },
  { additionalProperties: false },
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

const CODE_BY_STATUS: Readonly<Record<number, WebErrorCode>> = {
  404: WebErrorCode.NotFound,
  405: WebErrorCode.MethodNotAllowed,
  413: WebErrorCode.PayloadTooLarge,
  415: WebErrorCode.UnsupportedMediaType,
};

const CATALOG_CODES: ReadonlySet<string> = new Set(Object.values(WebErrorCode));

/**
 * Maps any error (ours, Fastify's, or a thrown bug) to a status and a body that is safe to send:
 * client errors keep their message, server errors get a generic one.
 */
export function toErrorResponse(err: Partial<FastifyError>): { status: number; body: ErrorBody } {
  const raw = err.statusCode ?? 500;
  const status = Number.isInteger(raw) && raw >= 400 && raw <= 599 ? raw : 500;
  if (status >= 500) {
    return { status, body: { error: WebErrorCode.Internal, message: 'internal server error' } };
  }
  const error =
    err.code !== undefined && CATALOG_CODES.has(err.code)
      ? (err.code as WebErrorCode)
      : (CODE_BY_STATUS[status] ?? WebErrorCode.BadRequest);
  return { status, body: { error, message: err.message || 'bad request' } };
}
