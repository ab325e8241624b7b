/**
 * CallLogWriter on its own, against real SQLite files: batching (a call's burst of transitions
 * is one row write), flush() and close() semantics, retries after a locked database, and a
 * worker that cannot open its database.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import t from 'tap';
import { CallLogThread } from '../../server/call-log-thread.js';
import { CallLogWriter, databaseSink, type CallLogSink } from '../../server/call-log.js';
import { parseDatabaseUrl, type DatabaseConfig } from '../../config/config.js';
import type { Database } from '../../db/database.js';
import { Registry } from '../../server/metrics.js';
import type { CallRecord } from '../../server/state/store.js';
import { ALICE, callRecord, holdWriteLock, openTestDatabase, tempDir } from '../db/helpers.js';
import { SQLITE_ONLY, TEST_DIALECT } from '../support/test-database.js';
import { delay } from '../helpers.js';

type Tap = Parameters<typeof openTestDatabase>[0];

/** Log lines a writer emitted, parsed. */
type Lines = Array<Record<string, unknown>>;

/**
 * A writer on a worker thread for `config` (or a fresh migrated file), with its metrics in their
 * own registry and its log lines collected; closed at teardown.
 */
function writerFor(
  t: Tap,
  config: DatabaseConfig,
  options: { busyTimeoutMs?: number; sink?: CallLogSink } = {},
) {
  const lines: Lines = [];
  const log = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });
  const sink =
    options.sink ??
    new CallLogThread({ database: config, busyTimeoutMs: options.busyTimeoutMs ?? 2000, log });
  const writer = new CallLogWriter(sink, { log, retryBaseMs: 50, retryMaxMs: 200 });
  const registry = new Registry();
  writer.registerMetrics(registry);
  t.teardown(() => writer.close(100));
  const counter = (name: string) => {
    const line = registry
      .render()
      .split('\n')
      .find((l) => l.startsWith(`${name} `));
    return line === undefined ? 0 : Number(line.slice(name.length + 1));
  };
  return {
    writer,
    lines,
    writes: () => counter('calldocker_call_log_writes_total'),
    failures: () => counter('calldocker_call_log_failures_total'),
    pendingGauge: () => counter('calldocker_call_log_pending'),
  };
}

async function stateOf(database: Database, callId: string): Promise<string | undefined> {
  const row = await database.db
    .selectFrom('calls')
    .select('state')
    .where('id', '=', callId)
    .executeTakeFirst();
  return row?.state;
}

/** A queued call and its next two transitions. */
function lifeOf(): [CallRecord, CallRecord, CallRecord] {
  const queued = callRecord({ queuedAt: Date.now() });
  const answered = {
    ...queued,
    state: 'answered' as const,
    agent: ALICE,
    answeredAt: Date.now(),
  };
  return [
    queued,
    answered,
    { ...answered, state: 'ended', endedAt: Date.now(), endReason: 'hangup' },
  ];
}

t.test('flush resolves true once every recorded transition is in the database', async (t) => {
  const database = await openTestDatabase(t);
  const { writer, writes } = writerFor(t, database.config);
  const calls = [callRecord(), callRecord(), callRecord()];
  for (const call of calls) writer.record(call);
  t.equal(writer.pending, 3, 'pending until written');
  t.equal(await writer.flush(), true);
  t.equal(writer.pending, 0);
  for (const call of calls) t.equal(await stateOf(database, call.callId), 'queued');
  t.equal(writes(), 3, 'three rows written');
  t.equal(await writer.flush(), true, 'flushing nothing is fine');
});

t.test("a call's transitions recorded in one turn cost one write of its newest row", async (t) => {
  const database = await openTestDatabase(t);
  const { writer, writes } = writerFor(t, database.config);
  const [queued, answered, ended] = lifeOf();
  writer.record(queued);
  writer.record(answered);
  writer.record(ended);
  t.equal(writer.pending, 1, 'one call pending');
  t.equal(await writer.flush(), true);
  t.equal(await stateOf(database, queued.callId), 'ended');
  t.equal(writes(), 1, 'one row written');
});

t.test('transitions recorded while a write is under way follow it in order', async (t) => {
  const database = await openTestDatabase(t);
  const { writer } = writerFor(t, database.config);
  const [queued, answered, ended] = lifeOf();
  writer.record(queued);
  // The first batch starts at the end of this turn; the next transitions arrive during it.
  await new Promise((resolve) => setImmediate(resolve));
  writer.record(answered);
  await delay(1);
  writer.record(ended);
  t.equal(await writer.flush(), true);
  t.equal(await stateOf(database, queued.callId), 'ended', 'the newest state wins');
});

t.test('writes happen without a flush, at the end of the event-loop turn', async (t) => {
  const database = await openTestDatabase(t);
  const { writer } = writerFor(t, database.config);
  const call = callRecord();
  writer.record(call);
  // No flush: `committed` only waits for the writer's own write (which the database shows a
  // moment before the worker's answer reaches this thread). The bound is for a writer that
  // never writes; a loaded machine can start the worker seconds late.
  let bound: NodeJS.Timeout | undefined;
  const written = await Promise.race([
    writer.committed(call.callId).then(() => true),
    new Promise<false>((resolve) => (bound = setTimeout(() => resolve(false), 15_000))),
  ]);
  clearTimeout(bound);
  t.ok(written, 'the row is committed without a flush');
  t.equal(await stateOf(database, call.callId), 'queued');
  t.equal(writer.pending, 0);
});

t.test('flush resolves false on a locked database; the rows stay pending', async (t) => {
  const database = await openTestDatabase(t);
  const { writer, failures, pendingGauge } = writerFor(t, database.config, { busyTimeoutMs: 20 });
  const release = await holdWriteLock(t, database.config);
  const call = callRecord();
  writer.record(call);
  t.equal(await writer.flush(), false, 'the write failed');
  t.equal(writer.pending, 1, 'the call is still pending');
  t.equal(pendingGauge(), 1, 'and the gauge says so');
  t.ok(failures() >= 1, 'the failure is counted');
  t.equal(await stateOf(database, call.callId), undefined);

  await release();
  t.equal(await writer.flush(), true, 'a flush after the lock is gone writes it');
  t.equal(await stateOf(database, call.callId), 'queued');
  t.equal(pendingGauge(), 0);
});

t.test('after a failure the writer retries on its own with backoff', async (t) => {
  const database = await openTestDatabase(t);
  const { writer, failures, lines } = writerFor(t, database.config, { busyTimeoutMs: 20 });
  const release = await holdWriteLock(t, database.config);
  const [queued, answered] = lifeOf();
  writer.record(queued);
  // Generous: a loaded machine (CI runs the browser suites alongside) starts the worker late.
  const deadline = Date.now() + 20_000;
  while (failures() < 3 && Date.now() < deadline) await delay(10);
  t.ok(failures() >= 3, 'it kept trying');
  writer.record(answered);
  t.equal(writer.pending, 1);
  const warnings = lines.filter((l) => l['level'] === 40);
  t.ok(warnings.length >= 3, 'each failure is logged as a warning');
  t.match(warnings[0], { rows: 1 }, 'with how many rows it concerned');
  const delays = warnings.map((w) => w['retryInMs']);
  t.same(delays.slice(0, 3), [50, 100, 200], 'the delay doubles up to its maximum');

  await release();
  // The retry timer is unref'd (a server's sockets keep its process alive); this test has none.
  const alive = setInterval(() => undefined, 1000);
  await writer.committed(queued.callId);
  clearInterval(alive);
  t.equal(await stateOf(database, queued.callId), 'answered', 'the newest row got through');
  t.equal(writer.pending, 0);
});

t.test('close writes what is pending, then drops transitions with an error', async (t) => {
  const database = await openTestDatabase(t);
  const { writer, lines } = writerFor(t, database.config);
  const [queued, answered] = lifeOf();
  writer.record(queued);
  await writer.close();
  t.equal(await stateOf(database, queued.callId), 'queued', 'written before closing');
  writer.record(answered);
  t.equal(writer.pending, 0, 'nothing is taken after close');
  t.match(lines.at(-1), { level: 50, callId: queued.callId, state: 'answered' });
  t.equal(await writer.flush(), true);
  t.equal(await stateOf(database, queued.callId), 'queued');
});

t.test('close gives up after its timeout on a database that stays locked', async (t) => {
  const database = await openTestDatabase(t);
  const { writer, lines } = writerFor(t, database.config, { busyTimeoutMs: 20 });
  await holdWriteLock(t, database.config);
  writer.record(callRecord());
  const started = Date.now();
  await writer.close(300);
  const took = Date.now() - started;
  t.ok(took >= 250 && took < 5000, `it tried for about the timeout, then stopped (${took} ms)`);
  t.equal(writer.pending, 1, 'the row is still pending');
  t.match(lines.at(-1), { level: 50, pending: 1 }, 'and reported as not written');
});

t.test('the in-thread sink writes the same rows', async (t) => {
  const database = await openTestDatabase(t);
  const { writer } = writerFor(t, database.config, { sink: databaseSink(database.db) });
  const [queued, , ended] = lifeOf();
  writer.record(queued);
  t.equal(await writer.flush(), true);
  t.equal(await stateOf(database, queued.callId), 'queued');
  writer.record(ended);
  t.equal(await writer.flush(), true);
  t.equal(await stateOf(database, queued.callId), 'ended');
});

t.test(
  'an in-memory database gets its own tables in the worker',
  { skip: SQLITE_ONLY },
  async (t) => {
    const { writer } = writerFor(t, parseDatabaseUrl('sqlite::memory:'));
    writer.record(callRecord());
    t.equal(await writer.flush(), true);
  },
);

t.test('a worker that cannot open its database fails writes; they stay pending', async (t) => {
  let config;
  if (TEST_DIALECT === 'postgres') {
    // Nothing listens on port 1: the connection is refused.
    config = parseDatabaseUrl('postgres://postgres@127.0.0.1:1/test');
  } else {
    const dir = tempDir(t);
    writeFileSync(join(dir, 'not-a-dir'), '');
    config = parseDatabaseUrl(`sqlite:${join(dir, 'not-a-dir', 'calls.db')}`);
  }
  const { writer, failures, lines } = writerFor(t, config);
  writer.record(callRecord());
  t.equal(await writer.flush(), false);
  t.equal(writer.pending, 1);
  t.ok(failures() >= 1);
  if (TEST_DIALECT === 'postgres') {
    // A server that is away may come back: each failed write is a warning, and retried.
    t.ok(
      lines.some((l) => l['level'] === 40 && /ECONNREFUSED/.test(JSON.stringify(l['err']))),
      'the refused connection is logged',
    );
  } else {
    t.ok(
      lines.some((l) => l['level'] === 50),
      'the worker failure is logged as an error',
    );
  }
});

t.test('committed resolves at once for a call with nothing pending', async (t) => {
  const database = await openTestDatabase(t);
  const { writer } = writerFor(t, database.config);
  await writer.committed('no-such-call');
  const call = callRecord();
  writer.record(call);
  t.equal(await writer.flush(), true);
  await writer.committed(call.callId);
  t.pass('both resolved');
});

t.test(
  "committed waits for the call's newest row, not an older one already in flight",
  async (t) => {
    const database = await openTestDatabase(t);
    const { writer } = writerFor(t, database.config);
    const [queued, answered, ended] = lifeOf();
    writer.record(queued);
    // The queued row's batch starts at the end of this turn; the final row is recorded during it.
    await new Promise((resolve) => setImmediate(resolve));
    writer.record(answered);
    writer.record(ended);
    await writer.committed(ended.callId);
    t.equal(await stateOf(database, ended.callId), 'ended', 'the final row is readable');
  },
);

t.test('committed keeps waiting through failed writes until the row is in', async (t) => {
  const database = await openTestDatabase(t);
  const { writer, failures } = writerFor(t, database.config, { busyTimeoutMs: 0 });
  const release = await holdWriteLock(t, database.config);
  const call = callRecord();
  writer.record(call);
  let done = false;
  const committed = writer.committed(call.callId).then(() => (done = true));
  while (failures() === 0) await new Promise((resolve) => setTimeout(resolve, 10));
  t.equal(done, false, 'not resolved while the database refuses the write');
  await release();
  // The retry timer is unref'd (a server's sockets keep its process alive); this test has none.
  const alive = setInterval(() => undefined, 1000);
  await committed;
  clearInterval(alive);
  t.equal(await stateOf(database, call.callId), 'queued');
});
