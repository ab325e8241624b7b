/**
 * How long the web host waits for a client, as Fastify server options. Without them a client
 * that trickles a body one byte at a time, or opens connections and sends nothing, holds a
 * socket and its memory for as long as it likes (Fastify's own defaults disable the request
 * timeout and the socket timeout).
 *
 * Node answers a request slower than `requestTimeout` or `headersTimeout` with 408 and closes
 * the connection (see `framework-errors.ts` for the body); it closes a keep-alive connection
 * idle for `keepAliveTimeout`, and any connection without traffic for `connectionTimeout`.
 */
import type { WebConfig } from '../config/config.js';

/** The timeouts of {@link WebConfig}. */
export type WebTimeouts = Pick<
  WebConfig,
  'requestTimeoutMs' | 'headersTimeoutMs' | 'keepAliveTimeoutMs' | 'connectionTimeoutMs'
>;

/**
 * How often Node looks for requests past their timeouts. Node checks every 30 s by default, so
 * a 10 s headers timeout would fire anywhere from 10 s to 40 s; a tenth of the shorter timeout
 * (at most a second) keeps the cut-off within 10 % of what is configured.
 */
export function timeoutCheckIntervalMs(timeouts: WebTimeouts): number {
  const shorter = Math.min(timeouts.requestTimeoutMs, timeouts.headersTimeoutMs);
  return Math.min(1000, Math.max(10, Math.floor(shorter / 10)));
}

/** The Fastify server options for `timeouts`. */
export function serverTimeoutOptions(timeouts: WebTimeouts) {
  return {
    requestTimeout: timeouts.requestTimeoutMs,
    connectionTimeout: timeouts.connectionTimeoutMs,
    keepAliveTimeout: timeouts.keepAliveTimeoutMs,
    // Passed to Node's createServer: Fastify has no options of its own for these.
    http: {
      requestTimeout: timeouts.requestTimeoutMs,
      headersTimeout: timeouts.headersTimeoutMs,
      connectionsCheckingInterval: timeoutCheckIntervalMs(timeouts),
    },
  };
}
