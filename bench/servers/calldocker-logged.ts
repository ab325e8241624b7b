/**
 * The real signaling server with its real call log, as the call-setup benchmark runs it:
 * built by `buildLoggedSignalingServer`, as `server/index.ts` builds it (the call log's writes
 * run on a worker thread of this process, so their CPU is counted with the server's). Built
 * from the compiled code, listening on 127.0.0.1 with an ephemeral port.
 *
 * Environment:
 * - `BENCH_JWT_SECRET`: the HS256 secret the benchmark signs its tokens with.
 * - `BENCH_DATABASE_URL`: the call log, `sqlite:<path>` (a temporary file of the benchmark's).
 * - `PRESENCE_TICK_MS`: optional, as for the real server (0: no coalescing).
 * - `REDIS_URL`, `REDIS_PREFIX`, `NODE_ID`: optional, as for the real server: a node of a
 *   cluster (the cluster benchmark), its nodes sharing one call-log file as they share Redis.
 *
 * The rate limits are raised so that the benchmark measures calls rather than the limiter's
 * refusals; the limiter itself still runs on every message. It logs warnings only, so a
 * failing call-log write shows.
 */
import { pino } from 'pino';
import { loadConfig, signalingDefaults } from '../../config/config.js';
import { buildLoggedSignalingServer } from '../../server/logged-server.js';
import { UNLIMITED_ANONYMOUS_LOAD } from '../../server/visitor-limits.js';
import { serveBenchmark } from './ipc.js';

const secret = process.env['BENCH_JWT_SECRET'];
if (secret === undefined || secret === '') throw new Error('BENCH_JWT_SECRET is not set');
const databaseUrl = process.env['BENCH_DATABASE_URL'];
if (databaseUrl === undefined || databaseUrl === '') {
  throw new Error('BENCH_DATABASE_URL is not set');
}

// Parsed and validated exactly as the real server parses them.
const parsed = loadConfig({
  DATABASE_URL: databaseUrl,
  PRESENCE_TICK_MS: process.env['PRESENCE_TICK_MS'],
  REDIS_URL: process.env['REDIS_URL'],
  REDIS_PREFIX: process.env['REDIS_PREFIX'],
  NODE_ID: process.env['NODE_ID'],
});

const { server } = await buildLoggedSignalingServer({
  signaling: signalingDefaults({
    host: '127.0.0.1',
    port: 0,
    jwt: { secret, publicKey: undefined, issuer: undefined, audience: undefined },
    rateLimitMsgsPerSec: 1_000_000,
    rateLimitBurst: 1_000_000,
    ...UNLIMITED_ANONYMOUS_LOAD,
    presenceTickMs: parsed.signaling.presenceTickMs,
  }),
  database: parsed.database,
  redis: parsed.redis,
  // Warnings only, so that a failing call-log write shows.
  log: pino({ level: 'warn' }),
});
const address = await server.listen(0, '127.0.0.1');
serveBenchmark(address.port);
