/**
 * A connection's life on this server, from the admitted upgrade to the last clean-up: taken on
 * (or refused by the per-address limit before it costs anything), its socket's listeners
 * attached, set up (`connection_established`, rooms, presence, calls), each frame through the
 * rate limiter and the connection's serial queue to `dispatch.ts`, and, once the socket
 * closes, cleaned up behind whatever the connection still has queued.
 */
import type { Logger } from 'pino';
import type { WebSocket } from 'ws';
import { AGENT_ROOM, PROTOCOL_VERSION, PUBLIC_ROOM } from '../client-lib/constants.js';
import type { Principal } from '../auth/verify.js';
import type { SignalingConfig } from '../config/config.js';
import { Connection, type ConnectionShared, type ConnectionSocket } from './connection.js';
import { answerDropped, handleFrame, type DispatchContext } from './dispatch.js';
import { CloseCode, PolicyReason } from './errors.js';
import { socketOnPong } from './heartbeat.js';
import { iceServersFor } from './ice-servers.js';
import { isStoreUnavailable, type StateStore } from './state/store.js';
import { closeRefused, type AcceptConnection } from './upgrade.js';

/** What {@link createConnectionLifecycle} needs from the server. */
export interface ConnectionLifecycleOptions {
  readonly config: SignalingConfig;
  readonly store: StateStore;
  readonly log: Logger;
  /** The hub a connection joins and the services that set it up, serve it and clean up. */
  readonly services: DispatchContext;
}

/**
 * Makes the function that takes an admitted socket on as a connection (the upgrade handler's
 * `accept`).
 */
/** The lifecycle of connections: admits them, and tells how many clean-ups are still running. */
export interface ConnectionLifecycle {
  readonly accept: AcceptConnection;
  /** Connections closed whose clean-up has not finished (shutdown waits for them). */
  cleaningUp(): number;
}

export function createConnectionLifecycle(
  options: ConnectionLifecycleOptions,
): ConnectionLifecycle {
  const { config, store, log, services } = options;
  const { hub, metrics, presence, rooms, calls, limits } = services;

  /** What every connection shares, once per server rather than once per connection. */
  const connShared: ConnectionShared = {
    log,
    metrics,
    rateLimitMsgsPerSec: config.rateLimitMsgsPerSec,
    rateLimitBurst: config.rateLimitBurst,
    sendHighWaterBytes: config.sendHighWaterBytes,
  };

  /** Closed connections whose clean-up is still running. */
  let cleanups = 0;

  // One set of socket listeners for every connection, each finding its own through the
  // socket (`wss` makes ConnectionSockets): four closures per connection would outweigh the
  // connection itself.
  function wsOnError(this: WebSocket, err: Error & { code?: string }): void {
    // ws closes an oversized frame's connection with 1009 itself; count it like our closes.
    if (err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') {
      metrics.closes.inc(String(CloseCode.MessageTooBig));
    }
    (this as ConnectionSocket).connection?.debug({ err }, 'socket error');
  }

  function wsOnMessage(this: WebSocket, data: Buffer, isBinary: boolean): void {
    const conn = (this as ConnectionSocket).connection;
    if (conn !== undefined) socketOnMessage(conn, data, isBinary);
  }

  function wsOnClose(this: WebSocket, code: number): void {
    const conn = (this as ConnectionSocket).connection;
    if (conn === undefined) return;
    conn.closing = true;
    hub.remove(conn);
    limits.connectionClosed(conn.principal, conn.address);
    conn.debug({ code }, 'connection closed');
    cleanups++;
    conn.schedule(() => cleanUp(conn).finally(() => cleanups--));
  }

  function socketOnMessage(conn: Connection, data: Buffer, isBinary: boolean): void {
    // One monotonic clock serves the rate limiter and the relay latency histogram.
    const receivedAt = performance.now();
    if (conn.closing) return;
    const verdict = conn.rateLimit(receivedAt);
    if (verdict !== 'allow') {
      if (verdict === 'drop') answerDropped(conn, data, isBinary, metrics);
      return;
    }
    // Run inline when nothing is queued, sparing each frame a closure.
    if (conn.busy) conn.backlog.push(() => handleFrame(services, conn, data, isBinary, receivedAt));
    else conn.settle(handleFrame(services, conn, data, isBinary, receivedAt));
  }

  async function setUp(conn: Connection): Promise<void> {
    const { principal } = conn;
    const count = await store.addConnection(principal.companyId, principal.userId, conn.id);
    if (conn.closing) return;
    if (count > config.maxConnectionsPerUser) {
      conn.log.info({ count }, 'too many connections');
      conn.close(CloseCode.Policy, PolicyReason.TooManyConnections);
      return;
    }
    const room = conn.isAgent ? AGENT_ROOM : PUBLIC_ROOM;
    conn.send({
      type: 'connection_established',
      connectionId: conn.id,
      protocolVersion: PROTOCOL_VERSION,
      user: {
        id: principal.userId,
        role: principal.role,
        companyId: principal.companyId,
        name: principal.name,
      },
      rooms: [room],
      iceServers: iceServersFor(config, principal.userId),
      heartbeatIntervalMs: config.heartbeatIntervalMs,
    });
    if (conn.isAgent) {
      await rooms.join(conn, room, false);
      await presence.agentConnected(conn);
      // The team as it is now (extension of v1): agent_status_changed only tells what changes.
      await presence.sendAgentList(conn);
    } else {
      await presence.sendAgentList(conn);
      await rooms.join(conn, room, false);
    }
    await calls.connectionOpened(conn);
    hub.recordConnection(conn);
    conn.debug('connection established');
  }

  async function cleanUp(conn: Connection): Promise<void> {
    await rooms.leaveAll(conn);
    await calls.connectionClosed(conn);
    const { companyId, userId } = conn.principal;
    const remaining = await store.removeConnection(companyId, userId, conn.id);
    hub.forgetConnection(conn);
    if (conn.isAgent) await presence.agentDisconnected(companyId, userId, remaining);
  }

  return { accept, cleaningUp: () => cleanups };

  function accept(
    ws: ConnectionSocket,
    principal: Principal,
    address: string,
  ): Connection | undefined {
    // Counted once the socket exists, so that its close, which always comes, releases it; and
    // refused before the connection costs any room, presence or queue work.
    if (!limits.connectionOpened(principal, address)) {
      closeRefused(ws, CloseCode.Policy, PolicyReason.TooManyConnections, metrics);
      return undefined;
    }
    const conn = new Connection({
      id: hub.newConnectionId(),
      principal,
      socket: ws,
      shared: connShared,
      address,
    });
    ws.connection = conn;
    ws.on('error', wsOnError);
    ws.on('pong', socketOnPong);
    ws.on('message', wsOnMessage);
    ws.on('close', wsOnClose);
    hub.add(conn);
    metrics.connectionsOpened.inc(principal.role);
    conn.schedule(() =>
      setUp(conn).catch((err: unknown) => {
        if (!isStoreUnavailable(err)) throw err;
        // Half set up is no good to anyone: the client comes back (another node, or later).
        conn.log.warn({ err }, 'shared state unavailable at set-up');
        conn.close(CloseCode.GoingAway, 'service unavailable');
      }),
    );
    return conn;
  }
}
