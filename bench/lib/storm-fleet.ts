/**
 * The reconnect storm's load processes, seen from the benchmark. Each process runs a share of
 * the clients (`storm-load.ts`), transpiled next to `dist/` so that it runs as plain `node` on
 * the built client library, and answers one request at a time over its IPC channel.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { compileBenchLib } from './build.js';
import type { FromLoad, FromLoadType, ToLoad } from './storm-protocol.js';

const START_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 5_000;

/** The load entry and the one module of ours it runs (its other local import is types only). */
const LOAD_SOURCES = ['storm-load', 'storm-light-client'] as const;

/**
 * Transpiles the load entry and its light client to `dist/bench/lib/`, where their
 * relative imports of `client-lib/` are the built library.
 * @returns the compiled entry.
 */
export function compileStormLoad(): string {
  return compileBenchLib(LOAD_SOURCES);
}

function isFromLoad(value: unknown): value is FromLoad {
  if (typeof value !== 'object' || value === null) return false;
  const type = (value as { type?: unknown }).type;
  return (
    type === 'ready' ||
    type === 'connected' ||
    type === 'armed' ||
    type === 'progress' ||
    type === 'result'
  );
}

type Reply<K extends FromLoadType> = Extract<FromLoad, { type: K }>;

interface Pending {
  readonly type: FromLoadType;
  readonly resolve: (message: FromLoad) => void;
  readonly reject: (err: Error) => void;
  readonly timer: ReturnType<typeof setTimeout>;
}

/** One load process. */
export class LoadProcess {
  private pending: Pending | undefined;
  private readonly exited: Promise<void>;
  private exitError: Error | undefined;

  private constructor(
    private readonly child: ChildProcess,
    /** Its number in the fleet, for messages. */
    readonly index: number,
  ) {
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    child.on('message', (message: unknown) => {
      if (!isFromLoad(message)) return;
      const pending = this.pending;
      if (pending === undefined || pending.type !== message.type) return;
      this.pending = undefined;
      clearTimeout(pending.timer);
      pending.resolve(message);
    });
    child.once('exit', (code, signal) => {
      this.exitError = new Error(`load process ${index} exited (code ${code}, signal ${signal})`);
      this.settleWithError(this.exitError);
    });
  }

  /**
   * Starts the compiled entry `script` (inheriting this process's CPU affinity) and resolves
   * once it listens for requests. It exits by itself after `lifetimeMs`.
   */
  static async start(script: string, index: number, lifetimeMs: number): Promise<LoadProcess> {
    const env: NodeJS.ProcessEnv = { ...process.env, STORM_LIFETIME_MS: String(lifetimeMs) };
    delete env['NODE_OPTIONS'];
    const child = spawn(process.execPath, [script], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env,
    });
    const load = new LoadProcess(child, index);
    await load.expect('ready', START_TIMEOUT_MS);
    return load;
  }

  /** Sends `message` and resolves with its reply `type`, within `timeoutMs`. */
  request<K extends FromLoadType>(message: ToLoad, type: K, timeoutMs: number): Promise<Reply<K>> {
    const reply = this.expect(type, timeoutMs);
    this.child.send(message);
    return reply;
  }

  /** Tells the process to exit and waits for it; kills it if it does not go in time. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    if (this.child.connected) this.child.send({ type: 'stop' } satisfies ToLoad);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await this.exited;
    clearTimeout(timer);
  }

  private expect<K extends FromLoadType>(type: K, timeoutMs: number): Promise<Reply<K>> {
    if (this.exitError !== undefined) return Promise.reject(this.exitError);
    if (this.pending !== undefined) {
      return Promise.reject(new Error(`load process ${this.index}: a request is under way`));
    }
    return new Promise<Reply<K>>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.settleWithError(
          new Error(`load process ${this.index} did not answer ${type} in ${timeoutMs} ms`),
        );
      }, timeoutMs);
      this.pending = { type, resolve: resolve as (m: FromLoad) => void, reject, timer };
    });
  }

  private settleWithError(err: Error): void {
    const pending = this.pending;
    this.pending = undefined;
    if (pending === undefined) return;
    clearTimeout(pending.timer);
    pending.reject(err);
  }
}

/** Starts `count` load processes of `script`. If one fails to start, the others are stopped. */
export async function startFleet(
  script: string,
  count: number,
  lifetimeMs: number,
): Promise<LoadProcess[]> {
  const started = await Promise.allSettled(
    Array.from({ length: count }, (_, i) => LoadProcess.start(script, i, lifetimeMs)),
  );
  const fleet = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed !== undefined) {
    await Promise.all(fleet.map((load) => load.stop()));
    throw failed.reason instanceof Error ? failed.reason : new Error(String(failed.reason));
  }
  return fleet;
}
