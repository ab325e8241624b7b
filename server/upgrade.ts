/**
 * The HTTP `upgrade` handler: who may open a WebSocket, decided before one exists. The token
 * (`?token=` or `Authorization: Bearer`) is verified, the page's origin checked, then, when the
 * server has them, the access guard, the `admit` hook and the company's allowed origins are
 * asked. A refusal still completes the upgrade, only to close with a code and a reason: browsers
 * cannot read an HTTP status from a failed upgrade, but they do get those. During a shutdown,
 * upgrades get HTTP 503.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { Server as WsServer, WebSocket } from 'ws';
import type { AccessGuard } from '../auth/access.js';
import { verifyToken, type Principal } from '../auth/verify.js';
import { compileTrust, requestAddressKey } from '../common/client-address.js';
import type { SignalingConfig } from '../config/config.js';
import type { Connection, ConnectionSocket } from './connection.js';
import { AuthError, AuthFailure, CloseCode, ForbiddenReason } from './errors.js';
import type { SignalingMetrics } from './metrics.js';
import { refusalOf, type Refusal, type RevocationWatcher } from './revocation.js';
import { checkUpgradeOrigin, originListed } from './upgrade-origin.js';

/** How long a socket refused after the upgrade may take to finish the closing handshake. */
const REFUSED_CLOSE_GRACE_MS = 1000;

/**
 * Takes an admitted socket on as a connection; undefined when a limit refused it (the socket is
 * then already closing).
 */
export type AcceptConnection = (
  ws: ConnectionSocket,
  principal: Principal,
  address: string,
) => Connection | undefined;

/** What {@link createUpgradeHandler} needs from the server. */
export interface UpgradeHandlerOptions {
  readonly config: SignalingConfig;
  /** The `noServer` WebSocket server that completes the upgrades. */
  readonly wss: WsServer<typeof ConnectionSocket>;
  readonly metrics: SignalingMetrics;
  readonly log: Logger;
  /**
   * Whether the server cannot take connections now: it is shutting down, or (a node of a
   * cluster) the shared state is out of reach. New upgrades are refused (503), pending ones
   * dropped; the client's reconnect policy tries again (through a load balancer, another node).
   */
  readonly unavailable: () => boolean;
  /** See `SignalingServerOptions.admit`. */
  readonly admit: ((principal: Principal) => boolean | Promise<boolean>) | undefined;
  /** See `SignalingServerOptions.allowedOrigins`; unset, the access guard's are used, if any. */
  readonly allowedOrigins:
    ((companyId: string) => readonly string[] | Promise<readonly string[]>) | undefined;
  /** See `SignalingServerOptions.access`. */
  readonly access: AccessGuard | undefined;
  /** Told of a connection accepted after an access change passed its check by (with `access`). */
  readonly revocation: RevocationWatcher | undefined;
  /** Takes an admitted socket on as a connection. */
  readonly accept: AcceptConnection;
}

/** The token of an upgrade request: `?token=`, else an `Authorization: Bearer` header. */
function readToken(req: IncomingMessage, url: URL): string | null {
  const fromQuery = url.searchParams.get('token');
  if (fromQuery !== null && fromQuery !== '') return fromQuery;
  // Non-browser clients may prefer a header, which keeps the token out of access logs.
  const header = req.headers.authorization;
  if (header?.startsWith('Bearer ') === true) return header.slice(7).trim();
  return null;
}

function rejectUpgrade(socket: Duplex, status: number, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

/**
 * Closes a socket refused once upgraded (by a check here, or by a limit as the connection
 * opens), destroying it if the client does not finish the closing handshake.
 */
export function closeRefused(
  ws: WebSocket,
  code: number,
  reason: string,
  metrics: SignalingMetrics,
): void {
  ws.on('error', () => undefined);
  metrics.closes.inc(String(code));
  ws.close(code, reason);
  setTimeout(() => ws.terminate(), REFUSED_CLOSE_GRACE_MS).unref();
}

/** Makes the HTTP server's `upgrade` listener. */
export function createUpgradeHandler(
  options: UpgradeHandlerOptions,
): (req: IncomingMessage, socket: Duplex, head: Buffer) => void {
  const { config, wss, metrics, log, admit, access, revocation, accept } = options;
  const proxyTrust = compileTrust(config.trustProxy);
  const allowedOrigins =
    options.allowedOrigins ??
    (access === undefined ? undefined : (companyId: string) => access.allowedOrigins(companyId));

  /**
   * Made once here, not in `httpOnUpgrade`: a closure made there would share its scope, and the
   * socket would keep the upgrade request and its first bytes alive for the connection's life.
   */
  function upgradeSocketOnError(err: Error): void {
    log.debug({ err }, 'upgrade socket error');
  }

  /**
   * Completes the upgrade only to close with `code`: browsers cannot read an HTTP status from
   * a failed upgrade, but they do get a close code and reason.
   */
  function refuse(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    code: number,
    reason: string,
  ): void {
    wss.handleUpgrade(req, socket, head, (ws) => closeRefused(ws, code, reason, metrics));
  }

  return function httpOnUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', upgradeSocketOnError);
    if (options.unavailable()) {
      rejectUpgrade(socket, 503, 'Service Unavailable');
      return;
    }
    let principal: Principal;
    try {
      const url = new URL(req.url ?? '/', 'http://localhost');
      principal = verifyToken(readToken(req, url), config.jwt);
    } catch (err) {
      const reason = err instanceof AuthError ? err.reason : 'token malformed';
      metrics.authFailures.inc(reason);
      refuse(req, socket, head, CloseCode.Unauthorized, reason);
      return;
    }
    const address = requestAddressKey(req, proxyTrust);
    const origin = req.headers.origin;
    const verdict = checkUpgradeOrigin(principal, origin, req.headers.host, config);
    if (verdict === 'refuse') {
      metrics.authFailures.inc(AuthFailure.Origin);
      refuse(req, socket, head, CloseCode.Unauthorized, AuthFailure.Origin);
      return;
    }
    const checkCompany = verdict === 'check-company' && allowedOrigins !== undefined;
    if (admit === undefined && access === undefined && !checkCompany) {
      wss.handleUpgrade(req, socket, head, (ws) => accept(ws, principal, address));
      return;
    }
    const notAdmitted: Refusal = { code: CloseCode.Forbidden, reason: ForbiddenReason.NotAdmitted };
    // A change read while this upgrade was being checked may have passed it by: see below.
    const seqAtCheck = access?.seq;
    Promise.resolve()
      .then(async (): Promise<Refusal | undefined> => {
        const revoked = access === undefined ? undefined : refusalOf(await access.check(principal));
        if (revoked !== undefined) return revoked;
        if (admit !== undefined && !(await admit(principal))) return notAdmitted;
        if (checkCompany && !originListed(await allowedOrigins(principal.companyId), origin!)) {
          return { code: CloseCode.Unauthorized, reason: AuthFailure.Origin };
        }
        return undefined;
      })
      .catch((err: unknown) => {
        log.error({ err, companyId: principal.companyId }, 'admission check failed');
        return notAdmitted;
      })
      .then((refusal) => {
        if (options.unavailable() || socket.destroyed) {
          socket.destroy();
          return;
        }
        if (refusal === undefined) {
          wss.handleUpgrade(req, socket, head, (ws) => {
            const conn = accept(ws, principal, address);
            // Refused by a limit: nothing to check again.
            if (conn === undefined) return;
            if (access !== undefined && access.seq !== seqAtCheck) revocation?.recheck(conn);
          });
          return;
        }
        if (refusal.code === CloseCode.Unauthorized) metrics.authFailures.inc(refusal.reason);
        refuse(req, socket, head, refusal.code, refusal.reason);
      });
  };
}
