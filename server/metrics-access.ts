/**
 * Who may read the signaling server's `/metrics`. The counters name companies' traffic and the
 * server's memory; they are for the operator's scraper, not the public (issue 11):
 *
 * - with `METRICS_TOKEN` set, only a request carrying it as a bearer (`Authorization: Bearer
 *   <token>`), from any address, loopback included;
 * - without it, in production, only loopback clients (127.0.0.0/8, ::1, ::ffff:127.x.y.z);
 * - without it, outside production, anyone (a laptop's, the tests' and the benchmarks' scrapes).
 *
 * The address is the TCP peer's, never `X-Forwarded-For`: a header anyone can write cannot
 * prove where a request came from. A reverse proxy on the same machine therefore makes every
 * request it forwards look local; do not route `/metrics` through one without a token.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { ServerResponse } from 'node:http';

/** The part of the configuration that decides. */
export interface MetricsAccessConfig {
  /** `METRICS_TOKEN`: when set, the bearer every scrape must carry. */
  readonly metricsToken: string | undefined;
  /** Without a token, whether only loopback clients are answered (production). */
  readonly metricsLoopbackOnly: boolean;
}

/** What to answer: the metrics, 401 (token missing or wrong) or 403 (not loopback). */
export type MetricsVerdict = 'allow' | 'unauthorized' | 'forbidden';

/** Whether `address` (a socket's `remoteAddress`) is this machine's loopback. */
export function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  if (/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4)) return true;
  return address === '::1' || address === '0:0:0:0:0:0:0:1';
}

// Both sides are hashed first, so the comparison takes the same time whatever the lengths.
const digest = (text: string) => createHash('sha256').update(text).digest();

/** Whether `authorization` (the header) is `Bearer <token>`, compared in constant time. */
function bearerMatches(authorization: string | undefined, token: string): boolean {
  // The scheme is case-insensitive (RFC 7235); the credentials are not.
  const match = /^bearer +(\S+) *$/i.exec(authorization ?? '');
  // Compared even when absent, so a missing header costs what a wrong one does.
  const given = match?.[1] ?? '';
  return timingSafeEqual(digest(given), digest(token)) && match !== null;
}

/**
 * Decides a `/metrics` request from its `Authorization` header and its peer's address.
 */
export function metricsVerdict(
  config: MetricsAccessConfig,
  authorization: string | undefined,
  remoteAddress: string | undefined,
): MetricsVerdict {
  if (config.metricsToken !== undefined) {
    return bearerMatches(authorization, config.metricsToken) ? 'allow' : 'unauthorized';
  }
  if (config.metricsLoopbackOnly && !isLoopback(remoteAddress)) return 'forbidden';
  return 'allow';
}

/** Answers a refused `/metrics` request in the JSON error style of the server's other paths. */
export function refuseMetrics(res: ServerResponse, verdict: Exclude<MetricsVerdict, 'allow'>) {
  if (verdict === 'unauthorized') {
    res
      .writeHead(401, {
        'content-type': 'application/json',
        // RFC 6750: a 401 names the scheme it wants.
        'www-authenticate': 'Bearer realm="metrics"',
      })
      .end(
        JSON.stringify({
          error: 'unauthorized',
          message: 'send Authorization: Bearer <METRICS_TOKEN>',
        }),
      );
    return;
  }
  res.writeHead(403, { 'content-type': 'application/json' }).end(
    JSON.stringify({
      error: 'forbidden',
      message: 'metrics are served to loopback clients only; set METRICS_TOKEN to scrape remotely',
    }),
  );
}
