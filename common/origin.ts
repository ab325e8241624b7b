/**
 * Web origins (RFC 6454) as the embedding rules compare them: `scheme://host[:port]`, scheme
 * http or https, lower-case, default port dropped, no path. Pure and import-free of the rest of
 * the project, so the configuration module, the database layer, both hosts and the admin script
 * share one definition.
 */

/** Longest origin accepted (a 253-character host, a scheme and a port fit well within it). */
export const MAX_ORIGIN_LENGTH = 300;

/**
 * The origin of an opaque document (a sandboxed iframe, a `file:` page). Browsers send it as the
 * `Origin` header; it is never same-origin with anything and can never be listed.
 */
export const OPAQUE_ORIGIN = 'null';

/** The outcome of {@link parseOrigin}: the normalised origin, or why the text is not one. */
export type ParsedOrigin =
  { readonly ok: true; readonly origin: string } | { readonly ok: false; readonly reason: string };

/**
 * Normalises `raw` to a web origin: `HTTPS://Shop.Example.com:443` gives
 * `https://shop.example.com`. A lone trailing `/` is accepted and dropped; any other path, a
 * query, a fragment, credentials, a scheme other than http/https, and `*` are refused.
 */
export function parseOrigin(raw: string): ParsedOrigin {
  if (raw.length > MAX_ORIGIN_LENGTH) {
    return { ok: false, reason: `longer than ${MAX_ORIGIN_LENGTH} characters` };
  }
  // Checked before parsing: the URL parser reads `https:x` and `https:\\x` as `https://x/`.
  if (!/^https?:\/\/[^/\\?#\s]/i.test(raw)) {
    return { ok: false, reason: 'not an http:// or https:// origin' };
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: 'not a URL' };
  }
  if (url.username !== '' || url.password !== '') {
    return { ok: false, reason: 'an origin has no user name or password' };
  }
  if (url.pathname !== '/' || /[?#]/.test(raw)) {
    return { ok: false, reason: 'an origin has no path, query or fragment' };
  }
  return { ok: true, origin: url.origin };
}

/** The normalised form of `raw`, or undefined when it is not an origin (see {@link parseOrigin}). */
export function normaliseOrigin(raw: string): string | undefined {
  const parsed = parseOrigin(raw);
  return parsed.ok ? parsed.origin : undefined;
}
