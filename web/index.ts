/**
 * Entry point of the web host: reads the configuration, opens and migrates the database,
 * connects to Redis in cluster mode, listens, and shuts down gracefully on SIGTERM/SIGINT. The
 * only module of `web/` with side effects at import.
 */
import { bootConfig, stopOnSignals } from '../config/boot.js';
import { AccessGuard } from '../auth/access.js';
import { closeRedis, connectRedis } from '../common/redis.js';
import { openDatabase } from '../db/database.js';
import { buildWebApp, type WebRedis } from './app.js';

/**
 * A Redis command (a rate-limit hit, the health probe) not answered within this long fails: a
 * login answers 503 rather than hang on a Redis that accepts connections but stops answering.
 */
const REDIS_COMMAND_TIMEOUT_MS = 2000;

const { config, log } = bootConfig('web');
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

// Cluster mode: the rate limits are shared with the other web hosts through Redis.
let redis: WebRedis | undefined;
if (config.redis !== undefined) {
  try {
    const client = await connectRedis(config.redis.url, log.child({ component: 'redis' }), {
      commandTimeoutMs: REDIS_COMMAND_TIMEOUT_MS,
    });
    redis = { client, prefix: config.redis.prefix };
  } catch (err) {
    log.fatal({ err }, 'cannot connect to Redis');
    await database.close();
    process.exit(1);
  }
}

const access = new AccessGuard({
  db: database.db,
  pollMs: config.signaling.accessPollMs,
  log: log.child({ component: 'access' }),
});
const app = buildWebApp({
  config: { ...config.web, signalingPort: config.signaling.port },
  database,
  access,
  jwt: config.signaling.jwt,
  logger: log,
  trustProxy: config.web.trustProxy,
  redis,
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

stopOnSignals(log, config.signaling.shutdownTimeoutMs, async () => {
  await app.close();
  access.close();
  if (redis !== undefined) await closeRedis(redis.client);
  await database.close();
});
