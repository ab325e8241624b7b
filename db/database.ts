/**
 * Opens the database named by `DATABASE_URL` and brings its schema up to date: one SQLite file
 * (WAL mode, so the web host's reads never wait for the signaling server's writes), or a
 * PostgreSQL database that every node and web host of a cluster shares. Both go through the
 * same Kysely queries (`db/*.ts`) and the same migrations.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, SqliteDialect, sql } from 'kysely';
import pg from 'pg';
import type { DatabaseConfig, PostgresConfig, SqliteConfig } from '../config/config.js';
import { MIGRATION_NAMES, migrationProviderFor } from './migrations.js';
import type { Schema } from './schema.js';

/** An open database. */
export interface Database {
  /** The typed query builder every query goes through. */
  readonly db: Kysely<Schema>;
  readonly config: DatabaseConfig;
  /** Applies pending migrations; throws with the failing migration's error. */
  migrate(): Promise<string[]>;
  close(): Promise<void>;
}

/** How long start-up waits for another process's migration (or any write) to finish. */
const MIGRATION_LOCK_TIMEOUT_MS = 10_000;
const LOCK_POLL_MS = 10;

/**
 * Takes the write lock (`BEGIN IMMEDIATE`), polling without blocking the event loop: SQLite's
 * own busy timeout sleeps inside the call, which would stall this process and, when the lock
 * is held by another connection of the same process, deadlock until the timeout.
 */
async function beginImmediate(sqlite: SQLite.Database, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const previous = sqlite.pragma('busy_timeout', { simple: true }) as number;
  sqlite.pragma('busy_timeout = 0');
  try {
    for (;;) {
      try {
        sqlite.exec('BEGIN IMMEDIATE');
        return;
      } catch (err) {
        if ((err as { code?: unknown }).code !== 'SQLITE_BUSY' || Date.now() >= deadline) throw err;
      }
      await new Promise((resolve) => setTimeout(resolve, LOCK_POLL_MS));
    }
  } finally {
    sqlite.pragma(`busy_timeout = ${previous}`);
  }
}

/** True when every migration is recorded as applied (false also when none ever was). */
async function upToDate(db: Kysely<Schema>): Promise<boolean> {
  let rows: Array<{ name: string }>;
  try {
    rows = (await sql<{ name: string }>`select name from kysely_migration`.execute(db)).rows;
  } catch {
    return false; // no migration table yet
  }
  const applied = new Set(rows.map((r) => r.name));
  return MIGRATION_NAMES.every((name) => applied.has(name));
}

/** Options of {@link openDatabase}. */
export interface OpenOptions {
  /**
   * How long a write waits for another process's lock before failing with SQLITE_BUSY. The
   * signaling server keeps this short (its writes are retried off the event loop's back); the
   * web host and scripts can wait longer. On PostgreSQL: how long a statement waits for a lock
   * (`lock_timeout`).
   */
  busyTimeoutMs?: number;
  /** PostgreSQL: the most connections this process opens (default 10). */
  maxConnections?: number;
}

/** Opens (creating if needed) the database; call `migrate()` before use. */
export function openDatabase(config: DatabaseConfig, options: OpenOptions = {}): Database {
  return config.dialect === 'postgres'
    ? openPostgres(config, options)
    : openSqlite(config, options);
}

function openSqlite(config: SqliteConfig, options: OpenOptions): Database {
  if (config.path !== ':memory:') mkdirSync(dirname(config.path), { recursive: true });
  const sqlite = new SQLite(config.path);
  sqlite.pragma('journal_mode = WAL');
  // NORMAL in WAL mode: a commit survives the process being killed (only an OS crash can lose
  // the last transactions), at a fraction of FULL's fsync cost.
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma(`busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs ?? 5000))}`);
  const db = new Kysely<Schema>({ dialect: new SqliteDialect({ database: sqlite }) });
  return {
    db,
    config,
    async migrate() {
      // Up to date (every start but the first): a read, no lock to wait for.
      if (await upToDate(db)) return [];
      // Kysely's SQLite adapter takes no migration lock and runs DDL outside transactions, so
      // two processes starting on one file (the signaling server and the web host) would both
      // see no migrations applied and the slower one would fail on "table already exists".
      // One IMMEDIATE transaction around the whole run is the lock: the second process waits
      // for the first to commit, then finds every migration recorded. It also makes a failed
      // migration roll back whole (SQLite's DDL is transactional).
      await beginImmediate(sqlite, MIGRATION_LOCK_TIMEOUT_MS);
      try {
        const migrator = new Migrator({ db, provider: migrationProviderFor('sqlite') });
        const { error, results } = await migrator.migrateToLatest();
        if (error !== undefined) throw error instanceof Error ? error : new Error(String(error));
        sqlite.exec('COMMIT');
        return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
      } catch (err) {
        if (sqlite.inTransaction) sqlite.exec('ROLLBACK');
        throw err;
      }
    },
    async close() {
      await db.destroy();
    },
  };
}

/**
 * PostgreSQL's `int8` (bigint: our times in ms, `count(*)`, `sum` of integers) and `numeric`
 * (`avg`) arrive as strings by default, because they can exceed a double's exact range. Ours
 * cannot (times until the year 287,396; counts of calls), and the query layer expects numbers,
 * as SQLite gives them: this pool's own parsers turn them into numbers, leaving the driver's
 * global parsers untouched for anyone else in the process.
 */
function numericTypes(): pg.CustomTypesConfig {
  const types = new pg.TypeOverrides();
  const toNumber = (value: string) => Number(value);
  types.setTypeParser(pg.types.builtins.INT8, toNumber);
  types.setTypeParser(pg.types.builtins.NUMERIC, toNumber);
  return types;
}

/** PostgreSQL error codes of a schema that another process created first. */
const ALREADY_EXISTS = new Set(['42P06', '23505']);

function openPostgres(config: PostgresConfig, options: OpenOptions): Database {
  // At least 1 ms: PostgreSQL reads 0 as "wait for ever", SQLite as "do not wait".
  const lockTimeoutMs = Math.max(1, Math.floor(options.busyTimeoutMs ?? 5000));
  // The driver lets an `options` parameter of the URL replace the one given beside it: ours go
  // after the URL's own, in the one setting it sends.
  const url = new URL(config.connectionString);
  const settings = [url.searchParams.get('options') ?? '', `-c lock_timeout=${lockTimeoutMs}`];
  url.searchParams.delete('options');
  // Unquoted on purpose: the config only lets plain identifiers through.
  if (config.schema !== undefined) settings.push(`-c search_path=${config.schema}`);
  const pool = new pg.Pool({
    connectionString: url.toString(),
    max: options.maxConnections ?? 10,
    options: settings.join(' ').trim(),
    types: numericTypes(),
    // A server that is down fails the first query within this, rather than the default never.
    connectionTimeoutMillis: 10_000,
    // Idle connections do not keep the process alive, as an open SQLite file does not: a
    // script ends when its work does, a server lives on its own sockets.
    allowExitOnIdle: true,
  });
  // An idle client's connection dropping (the server restarted) is reported here; without a
  // listener it would crash the process. The pool replaces the client at its next use.
  pool.on('error', () => undefined);
  const db = new Kysely<Schema>({ dialect: new PostgresDialect({ pool }) });
  const schema = config.schema ?? 'public';
  return {
    db,
    config,
    async migrate() {
      if (await upToDate(db)) return [];
      if (config.schema !== undefined) {
        // Two processes may start on a new schema together: the loser's error means "exists".
        await sql`create schema if not exists ${sql.id(config.schema)}`
          .execute(db)
          .catch((err: unknown) => {
            if (!ALREADY_EXISTS.has(String((err as { code?: unknown }).code))) throw err;
          });
      }
      // Kysely's PostgreSQL adapter takes an advisory lock around the run and applies each
      // migration in a transaction: a second process waits, then finds every migration done.
      // The migration table is named with its schema, since Kysely looks for it across all
      // schemas (another deployment's table in another schema is not ours).
      const migrator = new Migrator({
        db,
        provider: migrationProviderFor('postgres'),
        migrationTableSchema: schema,
      });
      for (let attempt = 1; ; attempt++) {
        const { error, results } = await migrator.migrateToLatest();
        if (error === undefined) {
          return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
        }
        // Kysely looks for its table by listing every schema's tables: a schema that another
        // deployment (or test) drops meanwhile fails that listing with invalid_schema_name,
        // before anything of ours ran. Looking again is safe.
        const code = (error as { code?: unknown }).code;
        if (attempt < 5 && code === '3F000' && !String(error).includes(`"${schema}"`)) continue;
        throw error instanceof Error ? error : new Error(String(error));
      }
    },
    async close() {
      await db.destroy();
    },
  };
}
