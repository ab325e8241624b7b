/**
 * The real signaling server as the benchmark runs it: built from the compiled code (this file
 * is transpiled next to `dist/server/`, so it runs as plain `node` with no loader), listening
 * on 127.0.0.1 with an ephemeral port, or on `BENCH_PORT` when set (a restart on the port its
 * clients know, for the reconnect storm).
 *
 * With `REDIS_URL` (and `REDIS_PREFIX`, `NODE_ID`, parsed as the real server parses them) it is a
 * node of a cluster, as `server/index.ts` makes one: the shared store, its channel, shared call
 * timers (the cluster benchmarks).
 *
 * The rate limits are raised so that the benchmark measures the relay path rather than the
 * limiter's refusals; the limiter itself still runs on every message. The logger is the
 * builder's default, which is silent; a cluster's warnings (Redis errors) are shown.
 */
import { pino } from 'pino';
import { buildSignalingServer } from '../../server/app.js';
import { openCluster } from '../../server/cluster/open.js';
import { loadConfig, signalingDefaults } from '../../config/config.js';
import { UNLIMITED_ANONYMOUS_LOAD } from '../../server/visitor-limits.js';
import { serveBenchmark } from './ipc.js';

const secret = process.env['BENCH_JWT_SECRET'];
if (secret === undefined || secret === '') throw new Error('BENCH_JWT_SECRET is not set');

const port = Number(process.env['BENCH_PORT'] ?? '0');

const config = signalingDefaults({
  host: '127.0.0.1',
  port,
  jwt: { secret, publicKey: undefined, issuer: undefined, audience: undefined },
  rateLimitMsgsPerSec: 1_000_000,
  rateLimitBurst: 1_000_000,
  ...UNLIMITED_ANONYMOUS_LOAD,
});

// Parsed and validated exactly as the real server parses them.
const { redis } = loadConfig({
  REDIS_URL: process.env['REDIS_URL'],
  REDIS_PREFIX: process.env['REDIS_PREFIX'],
  NODE_ID: process.env['NODE_ID'],
});
const cluster =
  redis === undefined ? undefined : await openCluster(redis, config, pino({ level: 'warn' }));

const server = buildSignalingServer({
  config,
  ...(cluster !== undefined && { store: cluster.store, cluster: cluster.node }),
});
const address = await server.listen(port, '127.0.0.1');
serveBenchmark(address.port);
