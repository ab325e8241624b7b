/**
 * Entry point of the signaling server: reads the configuration, listens, and shuts down
 * gracefully on SIGTERM/SIGINT. The only module with side effects at import.
 */
import { pino } from 'pino';
import { buildSignalingServer } from './app.js';
import {
  ConfigError,
  DEVELOPMENT_JWT_SECRET,
  loadConfig,
  readEnvironment,
  type Config,
} from './config.js';

const bootLog = pino({ name: 'signaling' });
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

const log = pino({ name: 'signaling', level: config.logLevel });
if (config.signaling.jwt.secret === DEVELOPMENT_JWT_SECRET) {
  log.warn('JWT_SECRET is not set: using the development secret (never do this in production)');
}

const server = buildSignalingServer({ config: config.signaling, logger: log });
try {
  const address = await server.listen();
  log.info({ host: address.address, port: address.port }, 'signaling server listening');
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
  server.close().then(
    () => process.exit(0),
    (err: unknown) => {
      log.error({ err }, 'shutdown failed');
      process.exit(1);
    },
  );
}
process.on('SIGTERM', onSignal);
process.on('SIGINT', onSignal);
