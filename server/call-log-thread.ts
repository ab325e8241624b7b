/**
 * The call log's database connection on a worker thread.
 *
 * better-sqlite3 is synchronous: on the event loop, each commit's disk writes, a WAL checkpoint
 * (an fsync of the whole log) or a wait for another process's lock would stall every relay
 * behind it. Here the worker (`call-log-worker.ts`) owns its own connection and the event loop
 * only copies each batch of rows to it, so a slow or locked database delays the log, never the
 * signaling. See the call-log section of docs/BENCHMARKS.md for the figures.
 */
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { CallLogSink } from './call-log.js';
import type { DatabaseConfig } from '../config/config.js';
import type { NewCallRow } from '../db/schema.js';

/** What the worker is started with. */
export interface CallLogWorkerData {
  readonly database: DatabaseConfig;
  readonly busyTimeoutMs: number;
}

/** Requests to the worker. */
export type ToCallLogWorker =
  | { readonly type: 'write'; readonly seq: number; readonly rows: readonly NewCallRow[] }
  | { readonly type: 'close' };

/** Replies from the worker, one per write. */
export type FromCallLogWorker =
  | { readonly type: 'written'; readonly seq: number; readonly ms: number }
  | {
      readonly type: 'failed';
      readonly seq: number;
      readonly message: string;
      readonly code: string | undefined;
    };

function isFromWorker(value: unknown): value is FromCallLogWorker {
  if (typeof value !== 'object' || value === null) return false;
  const { type, seq } = value as { type?: unknown; seq?: unknown };
  return (type === 'written' || type === 'failed') && typeof seq === 'number';
}

/** A write the worker refused, with SQLite's error code (e.g. `SQLITE_BUSY`, `SQLITE_FULL`). */
export class CallLogWriteError extends Error {
  override readonly name = 'CallLogWriteError';
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
  }
}

/** Options of {@link CallLogThread}. */
export interface CallLogThreadOptions {
  readonly database: DatabaseConfig;
  /**
   * How long the worker waits for another connection's write lock before a write fails. The
   * wait blocks only the worker, so it can be generous.
   */
  readonly busyTimeoutMs?: number;
  readonly log: Logger;
  /** Told how long each committed batch took in the worker (for the benchmark). */
  readonly onWritten?: (rows: number, ms: number) => void;
}

/** How long {@link CallLogThread.close} waits for the worker before terminating it. */
const CLOSE_TIMEOUT_MS = 2000;

/**
 * The worker's entry. From the build it is the compiled `.js` next to this file; from source
 * (tsx, tap) the worker needs the TypeScript loader registered first, because Node does not
 * carry the parent's `--import` hooks over to worker threads.
 */
function startWorker(workerData: CallLogWorkerData): Worker {
  const extension = extname(fileURLToPath(import.meta.url));
  const entry = new URL(`./call-log-worker${extension}`, import.meta.url);
  if (extension !== '.ts') return new Worker(entry, { workerData });
  const loader = import.meta.resolve('tsx/esm/api');
  const source =
    `import(${JSON.stringify(loader)}).then((tsx) => tsx.register())` +
    `.then(() => import(${JSON.stringify(entry.href)}))`;
  return new Worker(source, { eval: true, workerData });
}

/** A {@link CallLogSink} writing on a worker thread; the worker starts on the first write. */
export class CallLogThread implements CallLogSink {
  private worker: Worker | undefined;
  private readonly waiting = new Map<
    number,
    { rows: number; resolve: () => void; reject: (err: Error) => void }
  >();
  private seq = 0;
  private closed = false;

  constructor(private readonly options: CallLogThreadOptions) {}

  write(rows: readonly NewCallRow[]): Promise<void> {
    if (this.closed) return Promise.reject(new Error('the call log thread is closed'));
    const worker = this.worker ?? this.start();
    const seq = ++this.seq;
    return new Promise((resolve, reject) => {
      this.waiting.set(seq, { rows: rows.length, resolve, reject });
      // Referenced only while a write waits for it: an idle log never keeps a process alive,
      // and a pending write always learns its outcome.
      worker.ref();
      const message: ToCallLogWorker = { type: 'write', seq, rows };
      worker.postMessage(message);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    const worker = this.worker;
    if (worker === undefined) return;
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    const message: ToCallLogWorker = { type: 'close' };
    worker.postMessage(message);
    const timer = setTimeout(() => void worker.terminate(), CLOSE_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  }

  private start(): Worker {
    const worker = startWorker({
      database: this.options.database,
      busyTimeoutMs: this.options.busyTimeoutMs ?? 5000,
    });
    worker.on('message', (message: unknown) => this.workerOnMessage(message));
    worker.on('error', (err) => {
      this.options.log.error({ err }, 'call log worker failed');
    });
    worker.on('exit', (code) => {
      if (this.worker === worker) this.worker = undefined;
      // Writes it never answered failed; the writer retries them on a new worker.
      const err = new Error(`call log worker exited with code ${code}`);
      for (const waiter of this.waiting.values()) waiter.reject(err);
      this.waiting.clear();
    });
    this.worker = worker;
    return worker;
  }

  private workerOnMessage(message: unknown): void {
    if (!isFromWorker(message)) return;
    const waiter = this.waiting.get(message.seq);
    if (waiter === undefined) return;
    this.waiting.delete(message.seq);
    if (this.waiting.size === 0) this.worker?.unref();
    if (message.type === 'written') {
      this.options.onWritten?.(waiter.rows, message.ms);
      waiter.resolve();
    } else {
      waiter.reject(new CallLogWriteError(message.message, message.code));
    }
  }
}
