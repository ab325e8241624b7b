/**
 * The real signaling server in a process of its own, for the reliability suite: started by
 * `server-process.ts` (with `tsx`, and `--expose-gc` so a test can ask for a full collection
 * before it reads memory), so the memory and CPU `/metrics` reports are the server's alone.
 *
 * Configuration comes from the environment as JSON (fields of `SignalingConfig`); the server
 * always listens on 127.0.0.1 with an ephemeral port, which it reports over the IPC channel.
 * It exits when told to, when its parent goes away, or at the latest after its lifetime.
 */
import { buildSignalingServer } from '../../server/app.js';
import { signalingDefaults, type SignalingConfig } from '../../config/config.js';
import {
  CONFIG_ENV,
  LIFETIME_ENV,
  isToSignaling,
  type FromSignaling,
  type ToSignaling,
} from './server-process.js';

const send = process.send?.bind(process);
if (send === undefined) throw new Error('started by server-process.ts only: no IPC channel');
const reply = (message: FromSignaling) => send(message);

const overrides = JSON.parse(process.env[CONFIG_ENV] ?? '{}') as Partial<SignalingConfig>;
const config = signalingDefaults({ ...overrides, host: '127.0.0.1', port: 0 });
const server = buildSignalingServer({ config });
const address = await server.listen(0, '127.0.0.1');

// A bound on the process whatever happens to the test that started it.
const lifetimeMs = Number(process.env[LIFETIME_ENV] ?? 900_000);
setTimeout(() => process.exit(2), lifetimeMs).unref();
process.on('disconnect', () => process.exit(0));

function collect(): void {
  // Two passes: the first may leave objects whose finalisers free more.
  gc?.();
  gc?.();
}

process.on('message', (message: unknown) => {
  if (!isToSignaling(message)) return;
  const request: ToSignaling = message;
  switch (request.type) {
    case 'gc': {
      collect();
      const { rss, heapUsed, external } = process.memoryUsage();
      reply({ type: 'gc', collected: gc !== undefined, rss, heapUsed, external });
      break;
    }
    case 'stop':
      void server.close().finally(() => process.exit(0));
      break;
    default: {
      const unreachable: never = request;
      throw new Error(`unknown request ${JSON.stringify(unreachable)}`);
    }
  }
});

reply({ type: 'ready', port: address.port });
