/**
 * Entry point of the web host: reads the configuration, opens and migrates the database,
 * listens, and shuts down gracefully on SIGTERM/SIGINT. The only module of `web/` with side
 * effects at import.
 */
import { pino } from 'pino';
import { ConfigError, loadConfig, readEnvironment, type Config } from '../server/config.js';
import { openDatabase } from '../server/db/database.js';
import { buildWebApp } from './app.js';

const bootLog = pino({ name: 'web' });
let config: Config;
try {
  config = loadConfig(readEnvironment());
} catch (err) {
  if (err instanceof ConfigError) {
    bootLog.fatal({ variable: err.variable }, err.message);
    process.exit(1);
  }
  throw err;
}

const log = pino({ name: 'web', level: config.logLevel });
if (config.signaling.jwt.secret === undefined) {
  // Public-key deployments get their tokens from their own identity provider.
  log.warn('JWT_SECRET is not set: login, visitor-token and token refresh will answer 503');
}

// The web host only reads the call log and checks passwords, so it can afford to wait out a
// writer's lock for a while instead of failing the request.
const database = openDatabase(config.database, { busyTimeoutMs: 2000 });
try {
  const applied = await database.migrate();
  if (applied.length > 0) log.info({ migrations: applied }, 'database migrated');
} catch (err) {
  log.fatal({ err, database: config.database.url }, 'cannot open the database');
  process.exit(1);
}

const app = buildWebApp({
  config: { ...config.web, signalingPort: config.signaling.port },
  database,
  jwt: config.signaling.jwt,
  logger: log,
  trustProxy: config.web.trustProxy,
});

try {
  await app.listen({ port: config.web.port, host: config.web.host });
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : config.web.port;
  const shownHost =
    config.web.host === '0.0.0.0' || config.web.host === '::' ? 'localhost' : config.web.host;
  log.info({ url: `http://${shownHost}:${port}/` }, 'web host listening');
} catch (err) {
  log.fatal({ err }, 'cannot listen');
  process.exit(1);
}

let stopping = false;
function onSignal(signal: NodeJS.Signals): void {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, 'shutting down');
  // Whatever happens, the process is gone within the shutdown timeout (plus a margin).
  setTimeout(() => process.exit(1), config.signaling.shutdownTimeoutMs + 500).unref();
  app
    .close()
    .then(() => database.close())
    .then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
}
process.on('SIGTERM', onSignal);
process.on('SIGINT', onSignal);
