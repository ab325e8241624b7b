/**
 * The real signaling server as the benchmark runs it: built from the compiled code (this file
 * is transpiled next to `dist/server/`, so it runs as plain `node` with no loader), listening
 * on 127.0.0.1 with an ephemeral port, or on `BENCH_PORT` when set (a restart on the port its
 * clients know, for the reconnect storm).
 *
 * The rate limits are raised so that the benchmark measures the relay path rather than the
 * limiter's refusals; the limiter itself still runs on every message. The logger is the
 * builder's default, which is silent.
 */
import { buildSignalingServer } from '../../server/app.js';
import { signalingDefaults } from '../../config/config.js';
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

const server = buildSignalingServer({ config });
const address = await server.listen(port, '127.0.0.1');
serveBenchmark(address.port);
