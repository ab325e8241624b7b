/**
 * Entry point of the signaling server: reads the configuration, opens the call log, listens,
 * and shuts down gracefully on SIGTERM/SIGINT. The only module with side effects at import.
 */
import { buildSignalingServer } from './app.js';
import { companyAdmission } from './admission.js';
import { bootConfig, stopOnSignals } from './boot.js';
import { CallLogThread } from './call-log-thread.js';
import { CallLogWriter } from './call-log.js';
import { DEVELOPMENT_JWT_SECRET } from './config.js';
import { closeInterruptedCalls } from './db/calls.js';
import { openDatabase, type Database } from './db/database.js';

/**
 * How long a call-log write waits for another process's lock (the web host, the admin script)
 * before it fails and is retried. It blocks the log's worker thread only, never signaling.
 */
const CALL_LOG_BUSY_TIMEOUT_MS = 2000;

const { config, log } = bootConfig('signaling');
if (config.signaling.jwt.secret === DEVELOPMENT_JWT_SECRET) {
  log.warn('JWT_SECRET is not set: using the development secret (never do this in production)');
}

// The main thread's connection migrates, tidies up after the previous run, and then only reads
// (admission: is the company disabled?); the call log writes on its own worker thread (see
// call-log-thread.ts), off the event loop. Reads in WAL mode never wait for a writer.
let database: Database;
try {
  database = openDatabase(config.database);
  const applied = await database.migrate();
  if (applied.length > 0) log.info({ migrations: applied }, 'database migrated');
  const failed = await closeInterruptedCalls(database.db);
  if (failed > 0) {
    log.warn({ calls: failed }, 'calls left live by the previous run closed as failed');
  }
} catch (err) {
  log.fatal({ err, database: config.database.url }, 'cannot open the database');
  process.exit(1);
}
const callLogLog = log.child({ component: 'call-log' });
const callLog = new CallLogWriter(
  new CallLogThread({
    database: config.database,
    busyTimeoutMs: CALL_LOG_BUSY_TIMEOUT_MS,
    log: callLogLog,
  }),
  { log: callLogLog },
);

const server = buildSignalingServer({
  config: config.signaling,
  logger: log,
  onCallTransition: (call) => callLog.record(call),
  admit: companyAdmission(database.db),
});
callLog.registerMetrics(server.metrics.registry);
try {
  const address = await server.listen();
  log.info({ host: address.address, port: address.port }, 'signaling server listening');
} catch (err) {
  log.fatal({ err }, 'cannot listen');
  process.exit(1);
}

stopOnSignals(log, config.signaling.shutdownTimeoutMs, async () => {
  await server.close();
  // Live calls stay live in the log: the next start closes them as failed (server_restart).
  await callLog.close();
  await database.close();
});
