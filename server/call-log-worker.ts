/**
 * The call log's worker thread (started by `call-log-thread.ts`; an entry, hence side effects
 * at import): opens its own connection to the database and commits each batch of rows it is
 * sent, answering every write with `written` or `failed`.
 */
import { performance } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';
import type { CallLogWorkerData, FromCallLogWorker, ToCallLogWorker } from './call-log-thread.js';
import { upsertCalls } from '../db/calls.js';
import { openDatabase } from '../db/database.js';

if (parentPort === null) throw new Error('call-log-worker runs as a worker thread');
const port = parentPort;
const data = workerData as CallLogWorkerData;
// Writes come one at a time: on PostgreSQL one connection serves them, a second covers its loss.
const database = openDatabase(data.database, {
  busyTimeoutMs: data.busyTimeoutMs,
  maxConnections: 2,
});
// The main thread has migrated the file already (a no-op here then), but `:memory:` is a
// private database per connection: this one needs its own tables.
const ready = database.migrate();
// A failure is answered to each write, not thrown at start-up.
ready.catch(() => undefined);

function reply(message: FromCallLogWorker): void {
  port.postMessage(message);
}

// The main thread sends one write at a time and waits for its answer, so they never overlap.
port.on('message', async (message: ToCallLogWorker) => {
  switch (message.type) {
    case 'write': {
      const started = performance.now();
      try {
        await ready;
        await upsertCalls(database.db, message.rows);
        reply({ type: 'written', seq: message.seq, ms: performance.now() - started });
      } catch (err) {
        const code = (err as { code?: unknown }).code;
        reply({
          type: 'failed',
          seq: message.seq,
          message: err instanceof Error ? err.message : String(err),
          code: typeof code === 'string' ? code : undefined,
        });
      }
      break;
    }
    case 'close':
      await database.close();
      port.close();
      break;
    default: {
      const unreachable: never = message;
      throw new Error(`unknown request ${JSON.stringify(unreachable)}`);
    }
  }
});
