/**
 * A server under test in its own `node` process, optionally pinned to one CPU with `taskset`,
 * controlled over the IPC channel declared in `servers/ipc.ts`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { FromServer, ToServer } from '../servers/ipc.js';

const START_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 5_000;

/** How to start a server process. */
export interface ServerProcessOptions {
  /** The compiled JavaScript entry (plain `node`, no loader). */
  readonly script: string;
  /** Pin the process to this CPU with `taskset -c`; unpinned when undefined. */
  readonly cpu: number | undefined;
  /** Extra environment variables. */
  readonly env?: Readonly<Record<string, string>>;
  /** Extra `node` flags, e.g. `--cpu-prof`. */
  readonly nodeArgs?: readonly string[];
}

function isFromServer(value: unknown): value is FromServer {
  if (typeof value !== 'object' || value === null) return false;
  const type = (value as { type?: unknown }).type;
  return type === 'ready' || type === 'cpu' || type === 'memory';
}

/** A memory report from a server process (see `servers/ipc.ts`), in bytes. */
export type ServerMemory = Omit<Extract<FromServer, { type: 'memory' }>, 'type'>;

/** The replies a request may wait for, by type. */
interface Replies {
  readonly cpu: number;
  readonly memory: ServerMemory;
}

interface Waiter<T> {
  readonly resolve: (value: T) => void;
  readonly reject: (err: Error) => void;
}

/** A running server process. */
export class ServerProcess {
  /** Requests waiting for their reply, per reply type (each type is answered in order). */
  private readonly waiters: { [K in keyof Replies]: Array<Waiter<Replies[K]>> } = {
    cpu: [],
    memory: [],
  };
  private readonly exited: Promise<void>;
  private exitError: Error | undefined;

  private constructor(
    private readonly child: ChildProcess,
    /** The port it listens on, on 127.0.0.1. */
    readonly port: number,
  ) {
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    child.on('message', (message: unknown) => {
      if (!isFromServer(message)) return;
      if (message.type === 'cpu') {
        this.waiters.cpu.shift()?.resolve(message.userUs + message.systemUs);
      } else if (message.type === 'memory') {
        const { type: _type, ...memory } = message;
        this.waiters.memory.shift()?.resolve(memory);
      }
    });
    child.once('exit', (code, signal) => {
      const err = new Error(`server process exited (code ${code}, signal ${signal})`);
      this.exitError = err;
      for (const waiter of this.waiters.cpu.splice(0)) waiter.reject(err);
      for (const waiter of this.waiters.memory.splice(0)) waiter.reject(err);
    });
  }

  /** Starts the process and resolves once it listens. */
  static start(options: ServerProcessOptions): Promise<ServerProcess> {
    const nodeArgv = [...(options.nodeArgs ?? []), options.script];
    const [command, args] =
      options.cpu === undefined
        ? [process.execPath, nodeArgv]
        : ['taskset', ['-c', String(options.cpu), process.execPath, ...nodeArgv]];
    // Plain node: no inherited NODE_OPTIONS (a loader there would be measured too).
    const env: NodeJS.ProcessEnv = { ...process.env, ...options.env };
    delete env['NODE_OPTIONS'];
    const child = spawn(command, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`${options.script} did not report ready in ${START_TIMEOUT_MS} ms`));
      }, START_TIMEOUT_MS);
      const onExit = (code: number | null) => {
        clearTimeout(timer);
        reject(new Error(`${options.script} exited with code ${code} before it was ready`));
      };
      child.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      child.once('exit', onExit);
      child.on('message', function childOnReady(message: unknown) {
        if (!isFromServer(message) || message.type !== 'ready') return;
        clearTimeout(timer);
        child.off('exit', onExit);
        child.off('message', childOnReady);
        resolve(new ServerProcess(child, message.port));
      });
    });
  }

  /** The process id (of `node`: `taskset` execs it in place). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /** The process's CPU time so far (user + system, all threads), in microseconds. */
  cpuTimeUs(): Promise<number> {
    return this.ask('cpu');
  }

  /**
   * The process's memory, measured after a full garbage collection when it was started with
   * `--expose-gc` (`collected` says whether it was).
   */
  memory(): Promise<ServerMemory> {
    return this.ask('memory');
  }

  /** Asks the process to exit and waits for it; kills it if it does not go in time. */
  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      if (this.child.connected) this.request({ type: 'stop' });
      const timer = setTimeout(() => this.child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await this.exited;
      clearTimeout(timer);
    }
  }

  private ask<K extends keyof Replies>(type: K): Promise<Replies[K]> {
    if (this.exitError !== undefined) return Promise.reject(this.exitError);
    return new Promise((resolve, reject) => {
      (this.waiters[type] as Array<Waiter<Replies[K]>>).push({ resolve, reject });
      this.request({ type });
    });
  }

  /** Kills the process at once (SIGKILL, as a crash) and resolves once it has exited. */
  async kill(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGKILL');
      await this.exited;
    }
  }

  private request(message: ToServer): void {
    this.child.send(message);
  }
}
