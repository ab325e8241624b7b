/**
 * The control channel between the benchmark and a server process it started: Node's IPC
 * channel (`stdio: [..., 'ipc']`), so measuring the server adds nothing to its HTTP or
 * WebSocket side and works the same for every server under test.
 */

/** Requests from the benchmark to a server process. */
export type ToServer =
  /** Report the process's own CPU time (user + system, every thread). */
  | { readonly type: 'cpu' }
  /**
   * Report the process's memory, after a full garbage collection when the process was started
   * with `--expose-gc` (otherwise as it stands, and `collected` says so).
   */
  | { readonly type: 'memory' }
  /** Exit now (a `--cpu-prof` profile is written on exit). */
  | { readonly type: 'stop' };

/** Reports from a server process to the benchmark. */
export type FromServer =
  /** Listening on 127.0.0.1:`port`. */
  | { readonly type: 'ready'; readonly port: number }
  /** `process.cpuUsage()` at the moment the request was handled, in microseconds. */
  | { readonly type: 'cpu'; readonly userUs: number; readonly systemUs: number }
  /** `process.memoryUsage()` in bytes, and whether a full collection ran just before. */
  | {
      readonly type: 'memory';
      readonly collected: boolean;
      readonly rss: number;
      readonly heapUsed: number;
      /** C++ objects bound to JS objects, ArrayBuffers and Buffers included. */
      readonly external: number;
      /** ArrayBuffers and Buffers alone (already counted in `external`). */
      readonly arrayBuffers: number;
    };

function isToServer(value: unknown): value is ToServer {
  if (typeof value !== 'object' || value === null) return false;
  const type = (value as { type?: unknown }).type;
  return type === 'cpu' || type === 'memory' || type === 'stop';
}

/**
 * Announces `port` to the benchmark and answers its requests until told to stop. The process
 * also exits when the benchmark goes away, so no server outlives an interrupted run.
 * @throws Error when the process was not started with an IPC channel.
 */
export function serveBenchmark(port: number): void {
  const send = process.send?.bind(process);
  if (send === undefined) {
    throw new Error('this server is started by `npm run bench`; it needs an IPC channel');
  }
  const reply = (message: FromServer) => send(message);
  process.on('message', (message: unknown) => {
    if (!isToServer(message)) return;
    switch (message.type) {
      case 'cpu': {
        const { user, system } = process.cpuUsage();
        reply({ type: 'cpu', userUs: user, systemUs: system });
        break;
      }
      case 'memory': {
        const collect = globalThis.gc;
        // Twice: the first pass may only queue finalizers whose memory the second frees.
        collect?.();
        collect?.();
        const { rss, heapUsed, external, arrayBuffers } = process.memoryUsage();
        reply({
          type: 'memory',
          collected: collect !== undefined,
          rss,
          heapUsed,
          external,
          arrayBuffers,
        });
        break;
      }
      case 'stop':
        // No graceful close: the benchmark has already dropped its clients, and a prompt
        // exit keeps the next round's CPU quiet.
        process.exit(0);
        break;
      default: {
        const unreachable: never = message;
        throw new Error(`unknown request ${JSON.stringify(unreachable)}`);
      }
    }
  });
  process.on('disconnect', () => process.exit(0));
  reply({ type: 'ready', port });
}
