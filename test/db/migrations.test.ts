/**
 * Migrations against real SQLite files: from empty they create every table and index and record
 * themselves; running them again changes nothing; and two connections or two processes starting
 * on one new file at once (the signaling server and the web host do) both succeed. The same for
 * PostgreSQL: `postgres.test.ts`.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import t from 'tap';
import { parseDatabaseUrl } from '../../config/config.js';
import type { DatabaseConfig } from '../../config/config.js';
import { openDatabase } from '../../db/database.js';
import { rowOf } from '../../db/calls.js';
import { MIGRATION_NAMES } from '../../db/migrations.js';
import {
  callRecord,
  EXPECTED_OBJECTS,
  migratingProcess,
  openTestDatabase,
  tempDir,
  tempSqliteConfig,
} from './helpers.js';

/** Tables and indexes of a database file, as `type name` lines, sorted (SQLite's own left out). */
function schemaOf(path: string): { objects: string[]; sql: string[] } {
  const sqlite = new SQLite(path, { readonly: true });
  try {
    const rows = sqlite
      .prepare(
        "select type, name, sql from sqlite_master where name not like 'sqlite_%' order by type, name",
      )
      .all() as Array<{ type: string; name: string; sql: string | null }>;
    return { objects: rows.map((r) => `${r.type} ${r.name}`), sql: rows.map((r) => r.sql ?? '') };
  } finally {
    sqlite.close();
  }
}

/** Names of the migrations recorded in the file. */
function recordedMigrations(path: string): string[] {
  const sqlite = new SQLite(path, { readonly: true });
  try {
    const rows = sqlite.prepare('select name from kysely_migration order by name').all() as Array<{
      name: string;
    }>;
    return rows.map((r) => r.name);
  } finally {
    sqlite.close();
  }
}

/** The file of a SQLite configuration (what this file's tests open). */
function sqlitePath(config: DatabaseConfig): string {
  if (config.dialect !== 'sqlite') throw new Error('a SQLite test got a PostgreSQL database');
  return config.path;
}

t.test(
  'migrating an empty file creates the tables and indexes and records the migrations',
  async (t) => {
    const config = tempSqliteConfig(t);
    t.notOk(existsSync(config.path), 'precondition: no file yet');
    const database = openDatabase(config);
    t.teardown(() => database.close());
    const applied = await database.migrate();
    t.same(applied, MIGRATION_NAMES, 'every migration is applied, in order');
    t.ok(MIGRATION_NAMES.length >= 1);
    t.same(schemaOf(config.path).objects, EXPECTED_OBJECTS);
    t.same(recordedMigrations(config.path), MIGRATION_NAMES, 'and recorded by name');
  },
);

t.test('the calls table has every column the call log writes', async (t) => {
  const database = await openTestDatabase(t);
  const sqlite = new SQLite(sqlitePath(database.config), { readonly: true });
  t.teardown(() => sqlite.close());
  const columns = (sqlite.prepare('pragma table_info(calls)').all() as Array<{ name: string }>).map(
    (c) => c.name,
  );
  // Besides the call log's columns, only the visitor's rating (never written by the log).
  const rated = ['rating', 'rating_comment', 'rated_at'];
  t.same(columns.sort(), [...Object.keys(rowOf(callRecord())), ...rated].sort());
});

t.test('the database file runs in WAL mode', async (t) => {
  const database = await openTestDatabase(t);
  const sqlite = new SQLite(sqlitePath(database.config), { readonly: true });
  t.teardown(() => sqlite.close());
  t.equal(sqlite.pragma('journal_mode', { simple: true }), 'wal');
});

t.test('migrating an up-to-date file applies nothing and changes no table', async (t) => {
  const config = tempSqliteConfig(t);
  const first = await openTestDatabase(t, config);
  await first.db
    .insertInto('companies')
    .values({ id: 'acme', name: 'Acme', settings: '{}', created_at: 1 })
    .execute();
  const before = schemaOf(config.path);

  t.same(await first.migrate(), [], 'the same connection applies nothing');
  const second = openDatabase(config);
  t.teardown(() => second.close());
  t.same(await second.migrate(), [], 'a new connection applies nothing');

  t.same(schemaOf(config.path), before, 'the schema is unchanged');
  t.same(recordedMigrations(config.path), MIGRATION_NAMES, 'each migration is recorded once');
  const companies = await second.db.selectFrom('companies').select('id').execute();
  t.same(companies, [{ id: 'acme' }], 'and the data is kept');
});

t.test('two connections of one process migrating one new file at once both succeed', async (t) => {
  const config = tempSqliteConfig(t);
  const a = openDatabase(config);
  const b = openDatabase(config);
  t.teardown(() => Promise.all([a.close(), b.close()]));
  const [appliedA, appliedB] = await Promise.all([a.migrate(), b.migrate()]);
  t.same(
    [...appliedA, ...appliedB].sort(),
    MIGRATION_NAMES,
    'each migration is applied by exactly one of them',
  );
  t.same(schemaOf(config.path).objects, EXPECTED_OBJECTS);
  t.same(recordedMigrations(config.path), MIGRATION_NAMES);
});

t.test('two processes migrating one new file at once both succeed', async (t) => {
  const dir = tempDir(t);
  const url = `sqlite:${join(dir, 'shared.db')}`;
  const children = [migratingProcess(url), migratingProcess(url)];
  t.teardown(() => {
    for (const { child } of children) if (child.exitCode === null) child.kill('SIGKILL');
  });
  await Promise.all(children.map((c) => c.ready));
  // Both opened the file; now let them race.
  for (const { child } of children) child.send('go');
  const codes = await Promise.all(children.map((c) => c.exited));
  t.same(codes, [0, 0], 'both exit 0');
  const reports = children.map((c) => c.messages[1] as { applied?: string[]; error?: string });
  t.same(
    reports.map((r) => r.error),
    [undefined, undefined],
    'neither reports an error',
  );
  t.same(
    reports.flatMap((r) => r.applied ?? []).sort(),
    MIGRATION_NAMES,
    'each migration is applied by exactly one of them',
  );
  const path = sqlitePath(parseDatabaseUrl(url));
  t.same(schemaOf(path).objects, EXPECTED_OBJECTS);
  t.same(recordedMigrations(path), MIGRATION_NAMES);
});

t.test('migration waits for a write lock held by another connection, then succeeds', async (t) => {
  const config = tempSqliteConfig(t);
  const holder = new SQLite(config.path);
  t.teardown(() => holder.close());
  holder.pragma('journal_mode = WAL');
  holder.exec('create table other (x integer)');
  holder.exec('BEGIN IMMEDIATE');
  holder.exec('insert into other values (1)');
  const database = openDatabase(config);
  t.teardown(() => database.close());
  let done = false;
  const migrated = database.migrate().finally(() => (done = true));
  await new Promise((r) => setTimeout(r, 150));
  t.notOk(done, 'the migration waits while the lock is held (and the event loop runs)');
  holder.exec('COMMIT');
  t.same(await migrated, MIGRATION_NAMES, 'and applies everything once it is released');
});

t.test('an in-memory database migrates too', async (t) => {
  const database = openDatabase(parseDatabaseUrl('sqlite::memory:'));
  t.teardown(() => database.close());
  t.same(await database.migrate(), MIGRATION_NAMES);
  t.same(await database.db.selectFrom('calls').selectAll().execute(), []);
});
