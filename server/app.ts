/**
 * Builds the signaling server without starting it. `server/index.ts` reads the configuration
 * and listens; tests build their own instance on port 0.
 *
 * The composition root: it makes the store, the hub, the metrics and the services, and wires
 * the pieces that each own one concern onto one HTTP server:
 *
 * - `http-endpoints.ts`: `/healthz`, `/readyz`, `/metrics`;
 * - `upgrade.ts`: who may open a WebSocket, decided before one exists;
 * - `connection-lifecycle.ts`: a connection's set-up, its frames and its clean-up;
 * - `connection.ts`: per connection, the rate limiter and the serial task queue;
 * - `dispatch.ts`: parse, validate, route, and exactly one ack or error per message with an id;
 * - `heartbeat.ts`: the ping sweep that terminates dead connections.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino, type Logger } from 'pino';
import { WebSocketServer } from 'ws';
import type { AccessGuard } from '../auth/access.js';
import type { Principal } from '../auth/verify.js';
import { Coalescer } from './coalescer.js';
import type { SignalingConfig } from '../config/config.js';
import { createConnectionLifecycle } from './connection-lifecycle.js';
import { ConnectionSocket } from './connection.js';
import type { DispatchContext } from './dispatch.js';
import { CloseCode } from './errors.js';
import { startHeartbeat } from './heartbeat.js';
import { createHttpHandler } from './http-endpoints.js';
import { Hub } from './hub.js';
import { createSignalingMetrics, type SignalingMetrics } from './metrics.js';
import type { TimerFired } from './services/call-timers.js';
import { CallService, type CallObserver } from './services/calls.js';
import type { ClusterNode } from './cluster/node.js';
import { rebuildFromConnections } from './cluster/rebuild.js';
import { PresenceService } from './services/presence.js';
import { RoomService } from './services/rooms.js';
import { RevocationWatcher } from './revocation.js';
import { MemoryStore } from './state/memory-store.js';
import type { StateStore } from './state/store.js';
import { createUpgradeHandler } from './upgrade.js';
import { VisitorLimits } from './visitor-limits.js';

/** Options of {@link buildSignalingServer}. */
export interface SignalingServerOptions {
  readonly config: SignalingConfig;
  /** Defaults to a silent logger, so tests and embedders are quiet unless they ask. */
  readonly logger?: Logger;
  /** Defaults to a fresh {@link MemoryStore}. */
  readonly store?: StateStore;
  /** Told of every call transition (the call log hooks in here). */
  readonly onCallTransition?: CallObserver;
  /**
   * The clock for call times and queue waits, ms since the epoch; defaults to `Date.now`
   * (tests pass one they can move forward).
   */
  readonly now?: () => number;
  /**
   * Resolves once the newest transition of the call told to `onCallTransition` is committed
   * (the call log's `committed`): `call_finished` goes out only then, so a client reading the
   * call log on receipt finds the call. Without it, `call_finished` goes out at once.
   */
  readonly callLogged?: (callId: string) => Promise<void>;
  /**
   * Decides, after the token verified, whether its principal may connect (e.g. its company is
   * not disabled). A refusal closes with 4003. Errors count as refusals.
   */
  readonly admit?: (principal: Principal) => boolean | Promise<boolean>;
  /**
   * The origins allowed to embed a company (empty: any site), for a visitor token without an
   * `origin` claim presented by a page of another site (see `server/upgrade-origin.ts`). Called
   * only then; unset, every company counts as allowing any site. Errors count as refusals (4003).
   */
  readonly allowedOrigins?: (companyId: string) => readonly string[] | Promise<readonly string[]>;
  /**
   * Revocation (see `auth/access.ts`): every upgrade is checked against the database (4003
   * `not admitted` for a disabled company or agent, 4001 `revoked` for changed credentials or
   * role), live connections are closed the same way when the access journal names them, and,
   * unless `allowedOrigins` is given, the company's allowed origins come from it. The server
   * does not close the guard.
   */
  readonly access?: AccessGuard;
  /**
   * Cluster mode (`REDIS_URL`, see `server/cluster/`): this node's link to the other nodes. The
   * `store` must then be the cluster's shared one. Connection ids name this node, frames for
   * other nodes' connections go to them, and call timers live in Redis.
   */
  readonly cluster?: ClusterNode;
}

/** A built, not yet listening, signaling server. */
export interface SignalingServer {
  readonly config: SignalingConfig;
  readonly httpServer: Server;
  readonly metrics: SignalingMetrics;
  readonly store: StateStore;
  /** Live connections on this node. */
  readonly connectionCount: number;
  /** Starts listening; resolves with the bound address (use port 0 in tests). */
  listen(port?: number, host?: string): Promise<AddressInfo>;
  /** Stops accepting, closes every client with 1001, and resolves once all are gone. */
  close(): Promise<void>;
}

/** Builds a signaling server from its configuration. Nothing listens until `listen()`. */
export function buildSignalingServer(options: SignalingServerOptions): SignalingServer {
  const { config } = options;
  const log = options.logger ?? pino({ level: 'silent' });
  const store = options.store ?? new MemoryStore();
  const metrics = createSignalingMetrics();
  const hub = new Hub(store);
  const { cluster } = options;
  if (cluster !== undefined) hub.attachRemote(cluster);
  const superseded = metrics.registry.counter(
    'calldocker_announcements_coalesced_total',
    'Presence and queue announcements replaced by a later one within the same tick',
  );
  const coalescer = new Coalescer(config.presenceTickMs, log, () => superseded.inc());
  const presence = new PresenceService(store, hub, coalescer, config.missedRingsBeforeAway, log);
  const calls = new CallService(store, hub, presence, coalescer, config, metrics, log, {
    observer: options.onCallTransition,
    now: options.now ?? Date.now,
    logged: options.callLogged,
    ...(cluster !== undefined && { timers: (fired: TimerFired) => cluster.sharedTimers(fired) }),
  });
  const rooms = new RoomService(store, hub, (conn) => calls.sendQueue(conn));
  const limits = new VisitorLimits(config, metrics);
  const ctx: DispatchContext = {
    hub,
    metrics,
    presence,
    rooms,
    calls,
    limits,
    sharedStateReady: cluster === undefined ? undefined : () => cluster.ready,
  };

  let shuttingDown = false;
  let closePromise: Promise<void> | undefined;

  registerGauges();

  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: config.maxMessageBytes,
    clientTracking: false,
    perMessageDeflate: false,
    WebSocket: ConnectionSocket,
  });

  const { access } = options;
  const revocation =
    access === undefined
      ? undefined
      : new RevocationWatcher({ access, connections: () => hub.all(), metrics, log });

  const lifecycle = createConnectionLifecycle({ config, store, log, services: ctx });

  const httpServer = createServer(
    createHttpHandler({
      config,
      metrics,
      store,
      log,
      ready: (): boolean => !shuttingDown && httpServer.listening && (cluster?.ready ?? true),
      connectionCount: () => hub.size,
    }),
  );
  httpServer.on(
    'upgrade',
    createUpgradeHandler({
      config,
      wss,
      metrics,
      log,
      unavailable: () => shuttingDown || (cluster !== undefined && !cluster.ready),
      admit: options.admit,
      allowedOrigins: options.allowedOrigins,
      access,
      revocation,
      accept: lifecycle.accept,
    }),
  );

  const heartbeat = startHeartbeat({
    intervalMs: config.heartbeatIntervalMs,
    connections: () => hub.all(),
    metrics,
    onSweep: () => limits.sweep(),
  });

  // -------------------------------------------------------------------------------------------

  function registerGauges(): void {
    const { registry } = metrics;
    if (cluster !== undefined) {
      const sent = registry.counter(
        'calldocker_cluster_messages_sent_total',
        'Messages published to other nodes, by kind (frame, mirror, position)',
        'kind',
      );
      const received = registry.counter(
        'calldocker_cluster_messages_received_total',
        'Messages from other nodes, by kind (malformed: dropped)',
        'kind',
      );
      const reaped = registry.counter(
        'calldocker_cluster_connections_reaped_total',
        'Connections of dead nodes this node cleaned up after',
      );
      cluster.observe({
        sent: (kind) => sent.inc(kind),
        received: (kind) => received.inc(kind),
        reaped: (n) => reaped.inc('', n),
      });
    }
    registry.gauge('calldocker_connections', 'Live connections on this node, by role', () => {
      const counts = { visitor: 0, agent: 0, admin: 0 };
      for (const conn of hub.all()) counts[conn.principal.role]++;
      return Object.entries(counts).map(([role, n]) => [{ role }, n] as const);
    });
    registry.gauge('calldocker_call_timers', 'Armed ring, queue and reconnect timers', () => [
      [{}, calls.timerCount],
    ]);
    registry.gauge(
      'calldocker_announcements_pending',
      'Presence and queue announcements waiting for the end of their tick',
      () => [[{}, coalescer.size]],
    );
  }

  return {
    config,
    httpServer,
    metrics,
    store,
    get connectionCount() {
      return hub.size;
    },
    async listen(port = config.port, host = config.host) {
      await cluster?.start({
        deliver: (connIds, type, data) => hub.deliverLocal(connIds, type, data),
        mirror: (call) => calls.mirrored(call),
        position: (connId, message) => calls.positionFromAnotherNode(connId, message),
        lost: async (lost, deadNode) => {
          await rooms.leaveLost(lost);
          await calls.connectionLost(lost, deadNode);
          const { companyId, userId } = lost;
          const remaining = await store.removeConnection(companyId, userId, lost.connId);
          if (lost.role !== 'visitor') {
            await presence.agentDisconnected(companyId, userId, remaining);
          }
        },
        reconnected: async () => {
          await rebuildFromConnections({ hub, store, presence, calls, log });
        },
        fenced: () => {
          for (const conn of hub.all()) conn.close(CloseCode.GoingAway, 'node restarting');
        },
      });
      return new Promise<AddressInfo>((resolve, reject) => {
        httpServer.once('error', reject);
        httpServer.listen({ port, host, backlog: config.listenBacklog }, () => {
          httpServer.off('error', reject);
          resolve(httpServer.address() as AddressInfo);
        });
      });
    },
    close() {
      closePromise ??= (async () => {
        shuttingDown = true;
        heartbeat.stop();
        revocation?.close();
        // A cluster's calls outlive this node: the clean-up of its connections below arms their
        // reconnect graces in Redis, for another node to end them if no one comes back.
        if (cluster === undefined) calls.stop();
        coalescer.stop();
        const closed = new Promise<void>((resolve) => httpServer.close(() => resolve()));
        for (const conn of hub.all()) conn.close(CloseCode.GoingAway, 'server shutting down');
        const deadline = Date.now() + config.shutdownTimeoutMs;
        while (hub.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        // A cluster's calls are handed on by the clean-ups (to a newer connection, or a grace
        // timer in Redis): they must finish before the timers and the Redis link go.
        while (cluster !== undefined && lifecycle.cleaningUp() > 0 && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 20));
        }
        for (const conn of hub.all()) conn.socket.terminate();
        httpServer.closeAllConnections();
        if (httpServer.listening) await closed;
        wss.close();
        calls.stop();
        await cluster?.stop();
      })();
      return closePromise;
    },
  };
}
