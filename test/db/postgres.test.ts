/**
 * PostgreSQL itself (`DATABASE_URL=postgres://...`), each test in a schema of its own: the
 * migrations create what they create on SQLite and are safe when several processes start
 * together; numbers come back as numbers; schemas keep deployments apart; the access journal
 * never lets a reader pass a change not yet committed; a server that is away is a clear error.
 * Everything else the storage layer does runs on PostgreSQL too, under `npm run test:postgres`.
 */
import { sql } from 'kysely';
import pg from 'pg';
import t from 'tap';
import type { PostgresConfig } from '../../config/config.js';
import { parseDatabaseUrl } from '../../config/config.js';
import { accessChangesAfter, JOURNAL_LOCK_ID, recordAccessChange } from '../../db/access.js';
import { callStats, rowOf, upsertCall } from '../../db/calls.js';
import { createCompany } from '../../db/companies.js';
import { openDatabase, type Database } from '../../db/database.js';
import { MIGRATION_NAMES } from '../../db/migrations.js';
import { postgresSchemaConfig, sweepAbandonedSchemas } from '../support/test-database.js';
import { ALICE, callRecord, EXPECTED_OBJECTS, migratingProcess } from './helpers.js';

const url = process.env['DATABASE_URL'];
if (url === undefined || !/^postgres(ql)?:/i.test(url)) {
  t.comment('DATABASE_URL is not a postgres:// URL: the PostgreSQL tests are skipped');
  t.plan(0, 'needs DATABASE_URL=postgres://...');
} else {
  await sweepAbandonedSchemas();
}

/** What the helpers need of tap's `t`. */
interface Tap {
  teardown(fn: () => unknown): void;
}

/** A database on a schema of its own (not migrated), closed and dropped at teardown. */
function open(t: Tap, config: PostgresConfig = postgresSchemaConfig(t)): Database {
  const database = openDatabase(config);
  t.teardown(() => database.close());
  return database;
}

/** Runs one query on a connection of its own, in `schema` when given. */
async function query<R extends pg.QueryResultRow>(
  config: PostgresConfig,
  text: string,
  values: unknown[] = [],
): Promise<R[]> {
  const client = new pg.Client({ connectionString: config.connectionString });
  await client.connect();
  try {
    return (await client.query<R>(text, values)).rows;
  } finally {
    await client.end();
  }
}

/** The schema's tables and indexes, as `table name` / `index name` lines, sorted. */
async function objectsOf(config: PostgresConfig): Promise<string[]> {
  const tables = await query<{ name: string }>(
    config,
    'select table_name as name from information_schema.tables where table_schema = $1',
    [config.schema],
  );
  const indexes = await query<{ name: string }>(
    config,
    "select indexname as name from pg_indexes where schemaname = $1 and indexname not like '%_pkey' and indexname not like '%_email'",
    [config.schema],
  );
  return [...tables.map((r) => `table ${r.name}`), ...indexes.map((r) => `index ${r.name}`)].sort();
}

async function recordedMigrations(config: PostgresConfig): Promise<string[]> {
  const rows = await query<{ name: string }>(
    config,
    `select name from "${config.schema}".kysely_migration order by name`,
  );
  return rows.map((r) => r.name);
}

t.test('migrating a new schema creates it, its tables and indexes, and records them', async (t) => {
  const config = postgresSchemaConfig(t);
  const database = open(t, config);
  t.same(await database.migrate(), MIGRATION_NAMES, 'every migration is applied, in order');
  t.same(await objectsOf(config), EXPECTED_OBJECTS);
  t.same(await recordedMigrations(config), MIGRATION_NAMES, 'and recorded by name');
  const columns = await query<{ name: string }>(
    config,
    'select column_name as name from information_schema.columns where table_schema = $1 and table_name = $2',
    [config.schema, 'calls'],
  );
  const rated = ['rating', 'rating_comment', 'rated_at'];
  t.same(
    columns.map((c) => c.name).sort(),
    [...Object.keys(rowOf(callRecord())), ...rated].sort(),
    'the calls table has every column the call log writes',
  );
});

t.test('migrating an up-to-date schema applies nothing and keeps the data', async (t) => {
  const config = postgresSchemaConfig(t);
  const first = open(t, config);
  await first.migrate();
  await createCompany(first.db, 'acme', 'Acme');
  t.same(await first.migrate(), [], 'the same pool applies nothing');
  const second = open(t, config);
  t.same(await second.migrate(), [], 'a new pool applies nothing');
  t.same(await recordedMigrations(config), MIGRATION_NAMES, 'each migration is recorded once');
  t.same(await second.db.selectFrom('companies').select('id').execute(), [{ id: 'acme' }]);
});

t.test('two pools of one process migrating one new schema at once both succeed', async (t) => {
  const config = postgresSchemaConfig(t);
  const [a, b] = [open(t, config), open(t, config)];
  const [appliedA, appliedB] = await Promise.all([a.migrate(), b.migrate()]);
  t.same(
    [...appliedA, ...appliedB].sort(),
    MIGRATION_NAMES,
    'each migration is applied by exactly one of them',
  );
  t.same(await objectsOf(config), EXPECTED_OBJECTS);
});

t.test('two processes migrating one new schema at once both succeed', async (t) => {
  const config = postgresSchemaConfig(t);
  // The child parses the URL as given (the password is not masked: trust auth in tests).
  const target = new URL(config.connectionString);
  target.searchParams.set('schema', config.schema!);
  const children = [migratingProcess(target.toString()), migratingProcess(target.toString())];
  t.teardown(() => {
    for (const { child } of children) if (child.exitCode === null) child.kill('SIGKILL');
  });
  await Promise.all(children.map((c) => c.ready));
  for (const { child } of children) child.send('go');
  t.same(await Promise.all(children.map((c) => c.exited)), [0, 0], 'both exit 0');
  const reports = children.map((c) => c.messages[1] as { applied?: string[]; error?: string });
  t.same(
    reports.map((r) => r.error),
    [undefined, undefined],
  );
  t.same(reports.flatMap((r) => r.applied ?? []).sort(), MIGRATION_NAMES);
  t.same(await recordedMigrations(config), MIGRATION_NAMES);
});

t.test('schemas keep two deployments on one database apart', async (t) => {
  const a = open(t);
  const b = open(t);
  await a.migrate();
  // Kysely looks for its migration table across every schema: b must not take a's for its own.
  t.same(await b.migrate(), MIGRATION_NAMES, 'the second schema is migrated in full');
  await createCompany(a.db, 'acme', 'Acme');
  t.same(await b.db.selectFrom('companies').selectAll().execute(), [], 'b sees none of a');
  await createCompany(b.db, 'acme', 'Acme of b'); // the same id, no conflict
  const names = await Promise.all(
    [a, b].map((d) => d.db.selectFrom('companies').select('name').executeTakeFirstOrThrow()),
  );
  t.same(
    names.map((n) => n.name),
    ['Acme', 'Acme of b'],
  );
});

t.test("the URL's own options reach the server beside ours", async (t) => {
  const config = postgresSchemaConfig(t);
  const url = new URL(config.connectionString);
  url.searchParams.set('options', '-c statement_timeout=12345');
  url.searchParams.set('schema', config.schema!);
  const database = open(t, parseDatabaseUrl(url.toString()) as PostgresConfig);
  await database.migrate();
  const show = async (setting: string) =>
    (await sql<{ value: string }>`select current_setting(${setting}) as value`.execute(database.db))
      .rows[0]!.value;
  t.equal(await show('statement_timeout'), '12345ms', "the URL's option");
  t.equal(await show('search_path'), config.schema, 'the schema');
  t.equal(await show('lock_timeout'), '5s', 'the lock timeout');
});

t.test('times, counts and averages come back as numbers, as on SQLite', async (t) => {
  const database = open(t);
  await database.migrate();
  const queued = callRecord({ queuedAt: 1_765_000_000_000 });
  await upsertCall(
    database.db,
    rowOf(
      {
        ...queued,
        state: 'ended',
        agent: ALICE,
        answeredAt: queued.queuedAt! + 4000,
        endedAt: queued.queuedAt! + 64_000,
        endReason: 'hangup',
      },
      queued.queuedAt! + 64_000,
    ),
  );
  const row = await database.db.selectFrom('calls').selectAll().executeTakeFirstOrThrow();
  t.equal(row.created_at, 1_765_000_000_000, 'a bigint time is a number');
  t.equal(row.duration_sec, 60);
  const stats = await callStats(
    database.db,
    { companyId: 'acme', userId: 'x', role: 'admin' },
    {},
    20,
  );
  t.match(stats, { offered: 1, answered: 1, averageSpeedOfAnswerSec: 4, averageHandleTimeSec: 60 });
  for (const [key, value] of Object.entries(stats)) t.type(value, 'number', key);
  t.equal(
    pg.types.getTypeParser(pg.types.builtins.INT8)('12'),
    '12',
    "the driver's global parsers are left alone",
  );
});

t.test('the access journal never shows a change after a later one', async (t) => {
  const config = postgresSchemaConfig(t);
  const database = open(t, config);
  await database.migrate();
  const other = open(t, config);
  // A's transaction records its change, then stays open until `commitA`.
  let commitA!: () => void;
  const aWaits = new Promise<void>((resolve) => (commitA = resolve));
  let aRecorded!: () => void;
  const aHasRecorded = new Promise<void>((resolve) => (aRecorded = resolve));
  const a = database.db.transaction().execute(async (trx) => {
    await recordAccessChange(trx, 'acme', 'agent-a');
    aRecorded();
    await aWaits;
  });
  await aHasRecorded;
  let bDone = false;
  const b = other.db
    .transaction()
    .execute((trx) => recordAccessChange(trx, 'acme', 'agent-b'))
    .then(() => (bDone = true));
  // B either waits for A (right) or commits past it (the bug): wait until one is seen.
  for (;;) {
    const waiting = await query<{ n: string }>(
      config,
      // The journal's lock (`db/access.ts`), not a migration's of another test file.
      "select count(*) as n from pg_locks where locktype = 'advisory' and objid = $1 and not granted",
      [JOURNAL_LOCK_ID],
    );
    if (bDone || Number(waiting[0]!.n) > 0) break;
    await new Promise((resolve) => setImmediate(resolve));
  }
  t.notOk(bDone, "the second writer waits for the first's commit");
  t.same(await accessChangesAfter(database.db, 0), [], 'a reader sees neither yet');
  commitA();
  await Promise.all([a, b]);
  const seen = await accessChangesAfter(database.db, 0);
  t.same(
    seen.map((c) => c.agentId),
    ['agent-a', 'agent-b'],
    'then both, in the order they committed',
  );
  t.ok(seen[0]!.seq < seen[1]!.seq);
});

t.test('a server that is away or a database that does not exist is a clear error', async (t) => {
  const away = openDatabase(parseDatabaseUrl('postgres://postgres@127.0.0.1:1/test'));
  t.teardown(() => away.close());
  await t.rejects(away.migrate(), { code: 'ECONNREFUSED' }, 'connection refused');
  const server = new URL(postgresSchemaConfig().connectionString);
  server.pathname = '/calldocker_no_such_database';
  const missing = openDatabase(parseDatabaseUrl(server.toString()));
  t.teardown(() => missing.close());
  await t.rejects(
    missing.migrate(),
    { code: '3D000', message: /calldocker_no_such_database.*does not exist/ },
    'the database is named in the error',
  );
});
