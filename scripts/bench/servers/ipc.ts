/**
 * The control channel between the benchmark and a server process it started: Node's IPC
 * channel (`stdio: [..., 'ipc']`), so measuring the server adds nothing to its HTTP or
 * WebSocket side and works the same for every server under test.
 */

/** Requests from the benchmark to a server process. */
export type ToServer =
  /** Report the process's own CPU time (user + system, every thread). */
  | { readonly type: 'cpu' }
  /** Exit now (a `--cpu-prof` profile is written on exit). */
  | { readonly type: 'stop' };

/** Reports from a server process to the benchmark. */
export type FromServer =
  /** Listening on 127.0.0.1:`port`. */
  | { readonly type: 'ready'; readonly port: number }
  /** `process.cpuUsage()` at the moment the request was handled, in microseconds. */
  | { readonly type: 'cpu'; readonly userUs: number; readonly systemUs: number };

function isToServer(value: unknown): value is ToServer {
  if (typeof value !== 'object' || value === null) return false;
  const type = (value as { type?: unknown }).type;
  return type === 'cpu' || type === 'stop';
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
