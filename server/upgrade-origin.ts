/**
 * Which browser pages may use a visitor token on the upgrade. A browser always sends `Origin`
 * with a WebSocket handshake (RFC 6455 §4.1) and a page cannot forge it, so a visitor token
 * copied out of one site's page can be refused when another site's page presents it. Clients
 * that are not browsers usually send no `Origin` and are not checked: they could claim any.
 *
 * Agent and admin tokens are not checked here: the agent dashboard is the web host's own page,
 * and deployments embed it in their own tools.
 */
import type { Principal } from '../auth/verify.js';
import type { SignalingConfig } from '../config/config.js';
import { normaliseOrigin } from '../common/origin.js';

/** What {@link checkUpgradeOrigin} decided. */
export type OriginVerdict =
  /** Proceed. */
  | 'accept'
  /** Close with 4001 `origin`. */
  | 'refuse'
  /**
   * A visitor token without an `origin` claim from a page of another site: accepted only when
   * its company lists no origins or lists this one (see {@link originListed}).
   */
  | 'check-company';

/**
 * The web host's own origins for an upgrade whose `Host` header is `host`: `WEB_ORIGINS`, or,
 * when unset, `http(s)://<Host's hostname>:<WEB_PORT>` and, for port 80 or 443, both schemes
 * without a port (a TLS proxy in front of the web host).
 */
export function webOriginsFor(
  config: Pick<SignalingConfig, 'webOrigins' | 'webPort'>,
  host: string | undefined,
): readonly string[] {
  if (config.webOrigins.length > 0) return config.webOrigins;
  if (host === undefined || /[/\\@?#\s]/.test(host)) return [];
  let hostname: string;
  try {
    hostname = new URL(`http://${host}`).hostname;
  } catch {
    return [];
  }
  const port = config.webPort;
  const candidates = [`http://${hostname}:${port}`, `https://${hostname}:${port}`];
  if (port === 80 || port === 443) candidates.push(`http://${hostname}`, `https://${hostname}`);
  const result: string[] = [];
  for (const candidate of candidates) {
    const origin = normaliseOrigin(candidate);
    if (origin !== undefined && !result.includes(origin)) result.push(origin);
  }
  return result;
}

/**
 * Decides whether the upgrade may proceed as far as its `Origin` header goes. `origin` and
 * `host` are the upgrade request's headers.
 */
export function checkUpgradeOrigin(
  principal: Pick<Principal, 'role' | 'origin'>,
  origin: string | undefined,
  host: string | undefined,
  config: Pick<SignalingConfig, 'webOrigins' | 'webPort'>,
): OriginVerdict {
  if (principal.role !== 'visitor' || origin === undefined) return 'accept';
  // Browsers send origins already normalised: the common case costs one string comparison.
  if (principal.origin !== undefined && origin === principal.origin) return 'accept';
  const normalised = normaliseOrigin(origin);
  if (normalised !== undefined) {
    if (normalised === principal.origin) return 'accept';
    if (webOriginsFor(config, host).includes(normalised)) return 'accept';
  }
  return principal.origin === undefined ? 'check-company' : 'refuse';
}

/** True when a company listing `allowedOrigins` may be used from a page of `origin`. */
export function originListed(allowedOrigins: readonly string[], origin: string): boolean {
  if (allowedOrigins.length === 0) return true;
  const normalised = normaliseOrigin(origin);
  return normalised !== undefined && allowedOrigins.includes(normalised);
}
