/**
 * Liveness of the connections, ws's answer to "how to detect broken connections": every
 * `HEARTBEAT_INTERVAL_MS` each connection is pinged, and one that has not answered the previous
 * sweep's ping with a pong is terminated (no close frame: its peer is presumed gone). So a dead
 * link is found within two intervals, and its close runs the usual clean-up.
 */
import type { WebSocket } from 'ws';
import type { Connection, ConnectionSocket } from './connection.js';
import type { SignalingMetrics } from './metrics.js';

/** What {@link startHeartbeat} needs from the server. */
export interface HeartbeatOptions {
  readonly intervalMs: number;
  /** This node's live connections. */
  readonly connections: () => Iterable<Connection>;
  readonly metrics: SignalingMetrics;
  /**
   * Runs first on each sweep: periodic upkeep that needs no timer of its own (the visitor limits
   * drop their ended windows here).
   */
  readonly onSweep?: () => void;
}

/** A running heartbeat. */
export interface Heartbeat {
  /** Stops the sweeps (at shutdown). */
  stop(): void;
}

/**
 * The socket's `pong` listener, one function for every socket (it finds its connection through
 * the socket): the connection answered, so the next sweep pings it again.
 */
export function socketOnPong(this: WebSocket): void {
  const conn = (this as ConnectionSocket).connection;
  if (conn !== undefined) conn.isAlive = true;
}

/** Starts the sweeps. The timer does not keep the process alive. */
export function startHeartbeat(options: HeartbeatOptions): Heartbeat {
  const { connections, metrics, onSweep } = options;

  function sweep(): void {
    onSweep?.();
    for (const conn of connections()) {
      if (!conn.isAlive) {
        conn.log.info('heartbeat missed; terminating');
        metrics.heartbeatTerminations.inc();
        conn.closing = true;
        conn.socket.terminate();
        continue;
      }
      conn.isAlive = false;
      conn.socket.ping();
    }
  }

  const timer = setInterval(sweep, options.intervalMs);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
    },
  };
}
