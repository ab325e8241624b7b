/**
 * The plain-HTTP routes on the signaling port: `/healthz` (the process answers), `/readyz`
 * (it accepts connections: 503 once shutting down), `/metrics` (the Prometheus text, for those
 * `metrics-access.ts` lets in), and 426 for anything else, since the port exists for WebSocket
 * upgrades. Only `GET` and `HEAD`; other methods get 405. Errors are JSON with a stable `error`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { SignalingConfig } from '../config/config.js';
import { METRICS_CONTENT_TYPE, type SignalingMetrics } from './metrics.js';
import { metricsVerdict, refuseMetrics } from './metrics-access.js';
import type { StateStore } from './state/store.js';

/** What {@link createHttpHandler} needs from the server. */
export interface HttpEndpointsOptions {
  readonly config: SignalingConfig;
  readonly metrics: SignalingMetrics;
  /** Read at each scrape for the room and call gauges. */
  readonly store: StateStore;
  readonly log: Logger;
  /** Whether the server accepts connections now (listening, not shutting down). */
  readonly ready: () => boolean;
  /** Live connections on this node, told by `/readyz`. */
  readonly connectionCount: () => number;
}

/** The `/metrics` text: the registry's metrics, then the gauges read from the store. */
async function renderMetrics(metrics: SignalingMetrics, store: StateStore): Promise<string> {
  const stats = await store.stats();
  let text = metrics.registry.render();
  text += '# HELP calldocker_rooms Rooms with at least one member\n# TYPE calldocker_rooms gauge\n';
  text += `calldocker_rooms ${stats.rooms}\n`;
  text += '# HELP calldocker_calls Live calls, by state\n# TYPE calldocker_calls gauge\n';
  for (const state of ['queued', 'ringing', 'answered']) {
    text += `calldocker_calls{state="${state}"} ${stats.callsByState[state] ?? 0}\n`;
  }
  return text;
}

/** Makes the HTTP server's `request` listener: every request that is not an upgrade. */
export function createHttpHandler(
  options: HttpEndpointsOptions,
): (req: IncomingMessage, res: ServerResponse) => void {
  const { config, metrics, store, log } = options;
  return function httpOnRequest(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0];
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      json(405, { error: 'method_not_allowed' });
    } else if (path === '/healthz') {
      json(200, { status: 'ok' });
    } else if (path === '/readyz') {
      if (!options.ready()) json(503, { status: 'shutting_down' });
      else json(200, { status: 'ready', connections: options.connectionCount() });
    } else if (path === '/metrics') {
      const verdict = metricsVerdict(config, req.headers.authorization, req.socket.remoteAddress);
      if (verdict !== 'allow') {
        refuseMetrics(res, verdict);
        return;
      }
      renderMetrics(metrics, store).then(
        (text) => res.writeHead(200, { 'content-type': METRICS_CONTENT_TYPE }).end(text),
        (err: unknown) => {
          log.error({ err }, 'metrics failed');
          json(500, { error: 'internal' });
        },
      );
    } else {
      json(426, {
        error: 'upgrade_required',
        message: 'connect with a WebSocket: ws://host:port/?token=<JWT>',
      });
    }
  };
}
