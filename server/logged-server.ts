/**
 * The signaling server as the product runs it: on its database (migrated, calls the previous
 * run left live closed as failed), writing every call transition to the call log on a worker
 * thread, refusing connections of disabled companies and agents, revoked tokens and browser
 * pages their company does not allow, and closing live connections whose access is taken away.
 * `server/index.ts` starts it so, and so does the call-setup benchmark, which must measure the
 * same server.
 */
import type { Logger } from 'pino';
import { AccessGuard } from '../auth/access.js';
import { buildSignalingServer, type SignalingServer } from './app.js';
import { CallLogThread } from './call-log-thread.js';
import { CallLogWriter } from './call-log.js';
import type { DatabaseConfig, RedisConfig, SignalingConfig } from '../config/config.js';
import { openCluster } from './cluster/open.js';
import { closeInterruptedCalls } from '../db/calls.js';
import { openDatabase, type Database } from '../db/database.js';

/**
 * How long a call-log write waits for another process's lock (the web host, the admin script)
 * before it fails and is retried. It blocks the log's worker thread only, never signaling.
 */
const CALL_LOG_BUSY_TIMEOUT_MS = 2000;

/** A built, not yet listening, signaling server with its database and call log. */
export interface LoggedSignalingServer {
  readonly server: SignalingServer;
  readonly database: Database;
  readonly callLog: CallLogWriter;
  /** Migrations this start applied. */
  readonly migrations: readonly string[];
  /** Calls the previous run left live, now closed as failed (`server_restart`). */
  readonly interruptedCalls: number;
  /** Closes the server, then the call log (flushing it), then the database. */
  close(): Promise<void>;
}

/**
 * Opens and migrates the database and builds the server on it. The main thread's connection
 * only migrates, tidies up after the previous run and then reads (the access guard); the call log
 * writes on its own worker thread (see call-log-thread.ts), off the event loop. Reads in WAL
 * mode never wait for a writer.
 * @throws when the database cannot be opened or migrated.
 */
export async function buildLoggedSignalingServer(options: {
  readonly signaling: SignalingConfig;
  readonly database: DatabaseConfig;
  /** Cluster mode (`REDIS_URL`); unset, one node on its own memory. */
  readonly redis?: RedisConfig | undefined;
  readonly log: Logger;
}): Promise<LoggedSignalingServer> {
  const { log } = options;
  const cluster =
    options.redis === undefined
      ? undefined
      : await openCluster(options.redis, options.signaling, log.child({ component: 'cluster' }));
  const database = openDatabase(options.database);
  const migrations = await database.migrate();
  // A node of a cluster starting is no sign that the calls in the log were cut off: the other
  // nodes may be carrying them.
  const interruptedCalls = cluster === undefined ? await closeInterruptedCalls(database.db) : 0;
  const callLogLog = log.child({ component: 'call-log' });
  const callLog = new CallLogWriter(
    new CallLogThread({
      database: options.database,
      busyTimeoutMs: CALL_LOG_BUSY_TIMEOUT_MS,
      log: callLogLog,
    }),
    { log: callLogLog },
  );
  const access = new AccessGuard({
    db: database.db,
    pollMs: options.signaling.accessPollMs,
    log: log.child({ component: 'access' }),
  });
  const server = buildSignalingServer({
    config: options.signaling,
    logger: log,
    onCallTransition: (call) => callLog.record(call),
    callLogged: (callId) => callLog.committed(callId),
    access,
    ...(cluster !== undefined && { store: cluster.store, cluster: cluster.node }),
  });
  callLog.registerMetrics(server.metrics.registry);
  return {
    server,
    database,
    callLog,
    migrations,
    interruptedCalls,
    async close() {
      await server.close();
      access.close();
      // Live calls stay live in the log: the next start closes them as failed (server_restart).
      await callLog.close();
      await database.close();
      await cluster?.close();
    },
  };
}
