/**
 * Entry point of the signaling server: reads the configuration, opens the call log, listens,
 * and shuts down gracefully on SIGTERM/SIGINT. The only module with side effects at import.
 */
import { bootConfig, stopOnSignals } from '../config/boot.js';
import { DEVELOPMENT_JWT_SECRET } from '../config/config.js';
import { buildLoggedSignalingServer, type LoggedSignalingServer } from './logged-server.js';

const { config, log } = bootConfig('signaling');
if (config.signaling.jwt.secret === DEVELOPMENT_JWT_SECRET) {
  log.warn('JWT_SECRET is not set: using the development secret (never do this in production)');
}

let built: LoggedSignalingServer;
try {
  built = await buildLoggedSignalingServer({
    signaling: config.signaling,
    database: config.database,
    redis: config.redis,
    log,
  });
} catch (err) {
  log.fatal({ err, database: config.database.url }, 'cannot open the database or Redis');
  process.exit(1);
}
if (built.migrations.length > 0) log.info({ migrations: built.migrations }, 'database migrated');
if (built.interruptedCalls > 0) {
  log.warn(
    { calls: built.interruptedCalls },
    'calls left live by the previous run closed as failed',
  );
}

try {
  const address = await built.server.listen();
  log.info({ host: address.address, port: address.port }, 'signaling server listening');
} catch (err) {
  log.fatal({ err }, 'cannot listen');
  process.exit(1);
}

stopOnSignals(log, config.signaling.shutdownTimeoutMs, () => built.close());
