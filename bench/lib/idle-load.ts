/**
 * A load process of the cluster's idle-connection benchmark (started by `idle-fleet.ts`): opens
 * its share of idle CallDocker visitors, each as the idle benchmark opens one
 * (`idle-targets.ts`), and holds them until told otherwise.
 *
 * Transpiled next to `dist/` and run as plain `node`. Exits when told to, when the channel closes
 * (the benchmark is gone) or after `IDLE_LOAD_LIFETIME_MS`, whatever happens.
 */
import { readdirSync } from 'node:fs';
import type { WebSocket } from 'ws';
import type { FromIdleLoad, ToIdleLoad } from './idle-fleet.js';
import { callDockerIdle } from './idle-targets.js';

const send = process.send?.bind(process);
if (send === undefined) throw new Error('idle-load is started by the benchmark, over IPC');
// A failed send means the benchmark is gone (its `disconnect` may not have arrived yet).
const reply = (message: FromIdleLoad) =>
  send(message, (err: Error | null) => {
    if (err !== null) process.exit(0);
  });

const lifetimeMs = Number(process.env['IDLE_LOAD_LIFETIME_MS'] ?? '900000');
setTimeout(() => process.exit(2), lifetimeMs).unref();
process.on('disconnect', () => process.exit(0));

let clients: WebSocket[] = [];

/** Files this process has open (sockets included). */
const openFiles = () => readdirSync('/proc/self/fd').length;

/** Opens the share; the k-th client goes to `ports[k % ports.length]`. */
async function connect(spec: Extract<ToIdleLoad, { type: 'connect' }>): Promise<void> {
  const target = callDockerIdle(spec.secret);
  const total = spec.perPort * spec.ports.length;
  const startedAt = performance.now();
  const deadline = Date.now() + spec.timeoutMs;
  let next = 0;
  let failure: Error | undefined;
  const worker = async () => {
    while (failure === undefined && next < total) {
      const k = next++;
      if (Date.now() > deadline) {
        failure = new Error(`${total} connections took over ${spec.timeoutMs} ms`);
        return;
      }
      try {
        clients.push(await target.connect(spec.ports[k % spec.ports.length]!, spec.firstIndex + k));
      } catch (err) {
        failure ??= new Error(
          `client ${spec.firstIndex + k} did not reach its idle state: ` +
            (err instanceof Error ? err.message : String(err)),
        );
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(spec.concurrency, total) }, worker));
  if (failure !== undefined) {
    drop();
    reply({ type: 'failed', message: failure.message });
    return;
  }
  reply({
    type: 'connected',
    count: clients.length,
    ms: performance.now() - startedAt,
    fds: openFiles(),
  });
}

function drop(): void {
  for (const ws of clients) ws.terminate();
  clients = [];
}

function isToIdleLoad(value: unknown): value is ToIdleLoad {
  if (typeof value !== 'object' || value === null) return false;
  const type = (value as { type?: unknown }).type;
  return type === 'connect' || type === 'check' || type === 'close' || type === 'stop';
}

process.on('message', (message: unknown) => {
  if (!isToIdleLoad(message)) return;
  switch (message.type) {
    case 'connect':
      void connect(message);
      break;
    case 'check':
      reply({
        type: 'checked',
        open: clients.filter((ws) => ws.readyState === ws.OPEN).length,
        fds: openFiles(),
      });
      break;
    case 'close':
      drop();
      reply({ type: 'closed' });
      break;
    case 'stop':
      drop();
      process.exit(0);
      break;
    default: {
      const unreachable: never = message;
      throw new Error(`unknown request ${JSON.stringify(unreachable)}`);
    }
  }
});

reply({ type: 'ready' });
