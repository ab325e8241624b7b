/**
 * Opens the database named by `DATABASE_URL` and brings its schema up to date. SQLite runs in
 * WAL mode, so the web host's reads never wait for the signaling server's writes.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect, sql } from 'kysely';
import type { DatabaseConfig } from '../config/config.js';
import { MIGRATION_NAMES, migrationProvider } from './migrations.js';
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
   * web host and scripts can wait longer.
   */
  busyTimeoutMs?: number;
}

/** Opens (creating if needed) the database; call `migrate()` before use. */
export function openDatabase(config: DatabaseConfig, options: OpenOptions = {}): Database {
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
        const migrator = new Migrator({ db, provider: migrationProvider });
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
