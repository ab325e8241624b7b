/**
 * Where a browser request comes from, for the routes pages of other sites may call (CORS,
 * https://fetch.spec.whatwg.org/#http-cors-protocol). Browsers send `Origin` on every
 * cross-origin request and on same-origin POSTs; server-side callers usually send none.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { OPAQUE_ORIGIN, normaliseOrigin } from '../common/origin.js';
import { BadRequestError } from './errors.js';

/** How long a browser may reuse a preflight's answer (Chromium caps it at two hours). */
export const PREFLIGHT_MAX_AGE_S = 7200;

/** Where a request comes from, by its `Origin` header. */
export type RequestOrigin =
  /** No `Origin`: a server-side caller (or an old browser's same-origin GET). */
  | { readonly kind: 'none' }
  /** The web host's own origin (its pages). */
  | { readonly kind: 'same'; readonly origin: string }
  /** A page of another site (`origin` normalised, or `null` for an opaque one). */
  | { readonly kind: 'cross'; readonly origin: string };

/**
 * The web host's own origin as this request reached it: scheme and `Host` (with `trustProxy`,
 * `X-Forwarded-Proto` and `X-Forwarded-Host`), normalised. Undefined for an unusable `Host`.
 */
export function ownOrigin(request: FastifyRequest): string | undefined {
  return normaliseOrigin(`${request.protocol}://${request.host}`);
}

/**
 * Classifies `request` by its `Origin` header.
 * @throws BadRequestError (400) for an `Origin` that is neither an http(s) origin nor `null`
 *   (no browser sends one; several `Origin` headers arrive joined, and are refused so).
 */
export function requestOrigin(request: FastifyRequest): RequestOrigin {
  const raw = request.headers.origin;
  if (raw === undefined) return { kind: 'none' };
  if (raw === OPAQUE_ORIGIN) return { kind: 'cross', origin: OPAQUE_ORIGIN };
  const origin = normaliseOrigin(raw);
  if (origin === undefined) throw new BadRequestError('the Origin header is not an origin');
  return origin === ownOrigin(request) ? { kind: 'same', origin } : { kind: 'cross', origin };
}

/**
 * Lets the page of another site that sent `request` read the answer: `access-control-allow-origin`
 * set to its origin. Every answer varies by `Origin`, so `vary: origin` is set whatever it is.
 * Call it from `onSend`, so that errors are readable too (a refused page learns the code).
 */
export function allowRequestOrigin(request: FastifyRequest, reply: FastifyReply): void {
  void reply.header('vary', 'origin');
  let from: RequestOrigin;
  try {
    from = requestOrigin(request);
  } catch {
    return;
  }
  // The header as sent: browsers compare it byte for byte with their own serialisation.
  if (from.kind === 'cross')
    void reply.header('access-control-allow-origin', request.headers.origin);
}

/**
 * Answers a CORS preflight (`OPTIONS`) for a route taking `method` with a JSON body: `204`,
 * allowing the asking origin, `method` and `content-type` for {@link PREFLIGHT_MAX_AGE_S}. An
 * `OPTIONS` without `Origin` is no preflight: it gets `204` and `allow`.
 */
export function answerPreflight(
  request: FastifyRequest,
  reply: FastifyReply,
  method: string,
): FastifyReply {
  void reply.code(204).header('vary', 'origin');
  const origin = request.headers.origin;
  if (origin === undefined) return reply.header('allow', `${method}, OPTIONS`).send(null);
  return reply
    .headers({
      'access-control-allow-origin': origin,
      'access-control-allow-methods': method,
      'access-control-allow-headers': 'content-type',
      'access-control-max-age': String(PREFLIGHT_MAX_AGE_S),
    })
    .send(null);
}
