/**
 * Security headers on every answer of the web host: what a document may load and who may frame
 * it (CSP, `X-Frame-Options`), no MIME sniffing, how much of its URL a page tells other sites
 * (`Referrer-Policy`), https only (`Strict-Transport-Security`, behind a trusted proxy that says
 * so), and that no cache keeps what the API answers (`Cache-Control: no-store`).
 *
 * Every header here is a default that yields to one the route set itself: the pages
 * (`routes/pages.ts`) keep their own policy, with `frame-ancestors` from the company's allowed
 * origins so other sites can frame the call page; `/embed-demo`, the loader and the hashed
 * bundles keep theirs; everything else gets the strictest. A new document that forgets its own
 * policy gets `default-src 'none'` and shows nothing, which its tests notice.
 *
 * Written here rather than with helmet: helmet's choices would have to be overridden for nearly
 * every header (its CSP; `X-Frame-Options: SAMEORIGIN` against the per-company
 * `frame-ancestors`; HSTS whatever the scheme; `Cross-Origin-Resource-Policy: same-origin` on
 * the embeddable page), and its hook does not reach the answers given before any route runs (a
 * URL Fastify cannot decode, a timeout or oversized headers on the raw socket), which need the
 * same headers: {@link applySecurityHeaders} and {@link BASE_SECURITY_HEADERS} serve all of them.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';

/**
 * The policy of everything that is not a page (JSON, files, errors): nothing may run in it,
 * load from it as a document, or frame it.
 */
export const STRICT_CSP =
  "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/**
 * The status page (`web/public/status.html`): its script and style sheet from this host, its
 * checks of `/api/config` and of the signaling server's `/healthz` (another port or host).
 */
export const STATUS_PAGE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self' http: https:",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * Headers of an answer no route produced (a framework error, an answer written on the raw
 * socket): the defaults {@link applySecurityHeaders} gives an error, without HSTS, which needs
 * the request's scheme.
 */
export const BASE_SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-security-policy': STRICT_CSP,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
});

/** What decides the headers beyond the request itself. */
export interface SecurityHeadersOptions {
  /**
   * The app's `trustProxy`. HSTS is sent only when a proxy is trusted and it says the request
   * came over https: the web host itself speaks plain HTTP, so https is always a proxy's word.
   */
  readonly trustProxy: boolean | number | string;
  /** `max-age` of `Strict-Transport-Security`; 0 sends none. */
  readonly hstsMaxAgeS: number;
}

/**
 * The `X-Frame-Options` equivalent to a CSP's `frame-ancestors`, for browsers that predate CSP
 * level 2; undefined where there is none (a list of sites, or no `frame-ancestors` at all).
 * Newer browsers ignore it when `frame-ancestors` is present, so the two never disagree.
 */
export function frameOptionsFor(csp: string): 'DENY' | 'SAMEORIGIN' | undefined {
  const directive = csp
    .split(';')
    .map((part) => part.trim().split(/\s+/))
    .find(([name]) => name?.toLowerCase() === 'frame-ancestors');
  if (directive?.length !== 2) return undefined;
  if (directive[1] === "'none'") return 'DENY';
  if (directive[1] === "'self'") return 'SAMEORIGIN';
  return undefined;
}

/** Whether `path` is under the JSON API. */
export function isApiPath(url: string): boolean {
  const path = url.split('?')[0] ?? '';
  return path === '/api' || path.startsWith('/api/');
}

function setDefault(reply: FastifyReply, name: string, value: string): void {
  if (!reply.hasHeader(name)) void reply.header(name, value);
}

/**
 * Gives `reply` every security header its route did not set. Call it last before the answer
 * goes out (`onSend`), when the route's own headers, the status and the content type are known.
 *
 * - Every answer: `X-Content-Type-Options: nosniff`, a CSP ({@link STRICT_CSP} unless the route
 *   set one), `X-Frame-Options` when the CSP's `frame-ancestors` has an equivalent.
 * - `Referrer-Policy`: `strict-origin-when-cross-origin` for HTML documents (the framed call page
 *   learns its embedder's origin from the referrer where `location.ancestorOrigins` is missing),
 *   `no-referrer` for the rest.
 * - `/api/*`: `Cache-Control: no-store` (tokens, visitors' names, the call log: no cache may keep
 *   them; a route may opt into caching by setting its own) and
 *   `Cross-Origin-Resource-Policy: same-origin` (cross-site readers use CORS, which it does not
 *   affect). Errors anywhere get `no-store` too: none is worth keeping.
 * - `Strict-Transport-Security` when a trusted proxy says the request came over https.
 */
export function applySecurityHeaders(
  request: FastifyRequest,
  reply: FastifyReply,
  opts: SecurityHeadersOptions,
): void {
  const api = isApiPath(request.url);
  const html = String(reply.getHeader('content-type') ?? '').startsWith('text/html');
  setDefault(reply, 'x-content-type-options', 'nosniff');
  setDefault(reply, 'content-security-policy', STRICT_CSP);
  const frameOptions = frameOptionsFor(String(reply.getHeader('content-security-policy')));
  if (frameOptions !== undefined) setDefault(reply, 'x-frame-options', frameOptions);
  setDefault(reply, 'referrer-policy', html ? 'strict-origin-when-cross-origin' : 'no-referrer');
  if (api) setDefault(reply, 'cross-origin-resource-policy', 'same-origin');
  if (api || reply.statusCode >= 400) setDefault(reply, 'cache-control', 'no-store');
  const proxied = opts.trustProxy !== false && opts.trustProxy !== 0 && opts.trustProxy !== '';
  // `protocol` believes X-Forwarded-Proto only from a trusted proxy (Fastify's trustProxy).
  if (opts.hstsMaxAgeS > 0 && proxied && request.protocol.toLowerCase() === 'https') {
    void reply.header('strict-transport-security', `max-age=${opts.hstsMaxAgeS}`);
  }
}
