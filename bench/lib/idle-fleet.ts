/**
 * The load processes of the cluster's idle-connection benchmark, seen from the benchmark: each
 * holds a share of the idle clients (`idle-load.ts`), so that no process needs more open files
 * than a process may have. Transpiled next to `dist/` and run as plain `node`, steered over the
 * IPC channel one request at a time.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { compileBenchLib } from './build.js';

/** Requests to a load process. */
export type ToIdleLoad =
  /**
   * Open `perPort` idle visitors to each of `ports` (on 127.0.0.1), numbered from `firstIndex`,
   * at most `concurrency` connecting at once, all within `timeoutMs`; tokens signed with `secret`.
   */
  | {
      readonly type: 'connect';
      readonly ports: readonly number[];
      readonly perPort: number;
      readonly firstIndex: number;
      readonly secret: string;
      readonly concurrency: number;
      readonly timeoutMs: number;
    }
  /** Count the clients still open. */
  | { readonly type: 'check' }
  /** Drop every client. */
  | { readonly type: 'close' }
  /** Exit. */
  | { readonly type: 'stop' };

/** Replies of a load process. */
export type FromIdleLoad =
  | { readonly type: 'ready' }
  /** Every client is idle: how many, how long it took, and the process's open files. */
  | {
      readonly type: 'connected';
      readonly count: number;
      readonly ms: number;
      readonly fds: number;
    }
  | { readonly type: 'checked'; readonly open: number; readonly fds: number }
  | { readonly type: 'closed' }
  /** A request failed (its clients are dropped). */
  | { readonly type: 'failed'; readonly message: string };

type ReplyType = Exclude<FromIdleLoad['type'], 'failed'>;
type Reply<K extends ReplyType> = Extract<FromIdleLoad, { type: K }>;

const START_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 5_000;
/** A load process exits by itself after this long, whatever happens to the benchmark. */
const LIFETIME_MS = 15 * 60_000;

function isFromIdleLoad(value: unknown): value is FromIdleLoad {
  if (typeof value !== 'object' || value === null) return false;
  const type = (value as { type?: unknown }).type;
  return (
    type === 'ready' ||
    type === 'connected' ||
    type === 'checked' ||
    type === 'closed' ||
    type === 'failed'
  );
}

/** Transpiles the load entry and the idle clients it opens; returns the entry. */
export function compileIdleLoad(): string {
  return compileBenchLib(['idle-load', 'idle-targets']);
}

interface Pending {
  readonly type: FromIdleLoad['type'];
  readonly resolve: (message: FromIdleLoad) => void;
  readonly reject: (err: Error) => void;
  readonly timer: ReturnType<typeof setTimeout>;
}

/** One load process. */
export class IdleLoadProcess {
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
      if (!isFromIdleLoad(message)) return;
      const pending = this.pending;
      if (pending === undefined) return;
      this.pending = undefined;
      clearTimeout(pending.timer);
      if (message.type === 'failed') {
        pending.reject(new Error(`load process ${index}: ${message.message}`));
      } else if (message.type !== pending.type) {
        pending.reject(new Error(`load process ${index}: ${message.type}, not ${pending.type}`));
      } else {
        pending.resolve(message);
      }
    });
    child.once('exit', (code, signal) => {
      this.exitError = new Error(`load process ${index} exited (code ${code}, signal ${signal})`);
      const pending = this.pending;
      this.pending = undefined;
      if (pending !== undefined) {
        clearTimeout(pending.timer);
        pending.reject(this.exitError);
      }
    });
  }

  /** Starts the compiled entry `script` (with this process's CPU affinity). */
  static async start(script: string, index: number): Promise<IdleLoadProcess> {
    const env: NodeJS.ProcessEnv = { ...process.env, IDLE_LOAD_LIFETIME_MS: String(LIFETIME_MS) };
    delete env['NODE_OPTIONS'];
    const child = spawn(process.execPath, [script], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env,
    });
    const load = new IdleLoadProcess(child, index);
    await load.expect('ready', START_TIMEOUT_MS);
    return load;
  }

  /** Sends `message` and resolves with its reply `type`, within `timeoutMs`. */
  request<K extends ReplyType>(message: ToIdleLoad, type: K, timeoutMs: number): Promise<Reply<K>> {
    const reply = this.expect(type, timeoutMs);
    this.child.send(message);
    return reply;
  }

  /** Tells the process to exit and waits for it; kills it if it does not go in time. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    if (this.child.connected) this.child.send({ type: 'stop' } satisfies ToIdleLoad);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await this.exited;
    clearTimeout(timer);
  }

  private expect<K extends ReplyType>(type: K, timeoutMs: number): Promise<Reply<K>> {
    if (this.exitError !== undefined) return Promise.reject(this.exitError);
    if (this.pending !== undefined) {
      return Promise.reject(new Error(`load process ${this.index}: a request is under way`));
    }
    return new Promise<Reply<K>>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending = undefined;
        reject(new Error(`load process ${this.index} did not answer ${type} in ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending = { type, resolve: resolve as (m: FromIdleLoad) => void, reject, timer };
    });
  }
}

/** Starts `count` load processes. If one fails to start, the others are stopped. */
export async function startIdleFleet(count: number): Promise<IdleLoadProcess[]> {
  const script = compileIdleLoad();
  const started = await Promise.allSettled(
    Array.from({ length: count }, (_, i) => IdleLoadProcess.start(script, i)),
  );
  const fleet = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed !== undefined) {
    await Promise.all(fleet.map((load) => load.stop()));
    throw failed.reason instanceof Error ? failed.reason : new Error(String(failed.reason));
  }
  return fleet;
}
