/**
 * Helpers for the database tests: a real SQLite file in a fresh temporary directory (or, under
 * `npm run test:postgres`, a schema of its own in PostgreSQL), and call records shaped like the
 * signaling server's.
 */
import { spawn } from 'node:child_process';
import SQLite from 'better-sqlite3';
import pg from 'pg';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseDatabaseUrl, type DatabaseConfig, type SqliteConfig } from '../../config/config.js';
import { openDatabase, type Database, type OpenOptions } from '../../db/database.js';
import type { CallRecord } from '../../server/state/store.js';
import {
  postgresSchemaConfig,
  sweepAbandonedSchemas,
  TEST_DIALECT,
} from '../support/test-database.js';

/** The subset of tap's Test the helpers use. */
interface Teardown {
  teardown(fn: () => unknown): void;
}

/** A fresh directory under the system temp dir, removed at teardown. */
export function tempDir(t: Teardown, prefix = 'calldocker-db-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * The configuration of a new database: a file `name` in a fresh temporary directory, or under
 * `npm run test:postgres` a new schema (`name` unused), gone at teardown.
 */
export function tempDatabaseConfig(t: Teardown, name = 'calls.db'): DatabaseConfig {
  if (TEST_DIALECT === 'postgres') return postgresSchemaConfig(t);
  return parseDatabaseUrl(`sqlite:${join(tempDir(t), name)}`);
}

/**
 * Holds the database's write lock from another connection, as another process's writer would,
 * until the returned function is called (or teardown): SQLite's `BEGIN IMMEDIATE`, or on
 * PostgreSQL an EXCLUSIVE lock on the calls table (writes wait, plain reads do not).
 */
export async function holdWriteLock(
  t: Teardown,
  config: DatabaseConfig,
): Promise<() => Promise<void>> {
  let held = true;
  if (config.dialect === 'sqlite') {
    const holder = new SQLite(config.path);
    holder.exec('BEGIN IMMEDIATE');
    const release = async () => {
      if (held) holder.exec('ROLLBACK');
      held = false;
    };
    t.teardown(async () => {
      await release();
      holder.close();
    });
    return release;
  }
  const holder = new pg.Client({
    connectionString: config.connectionString,
    options: `-c search_path=${config.schema ?? 'public'}`,
  });
  await holder.connect();
  await holder.query('begin');
  await holder.query('lock table calls in exclusive mode');
  const release = async () => {
    if (held) await holder.query('rollback');
    held = false;
  };
  t.teardown(async () => {
    await release();
    await holder.end();
  });
  return release;
}

/** The configuration of a SQLite file `name` in a fresh temporary directory (never PostgreSQL). */
export function tempSqliteConfig(t: Teardown, name = 'calls.db'): SqliteConfig {
  const path = join(tempDir(t), name);
  return { url: `sqlite:${path}`, dialect: 'sqlite', path };
}

/**
 * Opens (and migrates, unless `migrate` is false) a database on `config`, or on a new file;
 * closed at teardown. Teardowns run in reverse order, so the file's directory outlives it.
 */
export async function openTestDatabase(
  t: Teardown,
  config: DatabaseConfig = tempDatabaseConfig(t),
  options: OpenOptions & { migrate?: boolean } = {},
): Promise<Database> {
  if (config.dialect === 'postgres') await sweepAbandonedSchemas();
  const database = openDatabase(config, options);
  t.teardown(() => database.close());
  if (options.migrate !== false) await database.migrate();
  return database;
}

let sequence = 0;

/**
 * A call record as the signaling server holds it; `overrides` replace single fields. The
 * default is a queued audio call of acme from visitor-1 at 1,000,000 ms.
 */
export function callRecord(overrides: Partial<CallRecord> = {}): CallRecord {
  sequence++;
  return {
    callId: `00000000-0000-7000-8000-${String(sequence).padStart(12, '0')}`,
    companyId: 'acme',
    callType: 'audio',
    purpose: undefined,
    state: 'queued',
    visitor: { id: 'visitor-1', role: 'visitor', name: 'Victor Visitor', connId: 'c-v' },
    targetAgentId: undefined,
    agent: undefined,
    queuedAt: 1_000_000,
    ringingAt: undefined,
    answeredAt: undefined,
    endedAt: undefined,
    endReason: undefined,
    rungConnIds: [],
    ...overrides,
  };
}

/** The agent party of a call answered by agent-1 (Alice Agent). */
export const ALICE = { id: 'agent-1', role: 'agent', name: 'Alice Agent', connId: 'c-a' } as const;

const DATABASE_MODULE = pathToFileURL(
  fileURLToPath(new URL('../../db/database.ts', import.meta.url)),
).href;
const TSX_LOADER = import.meta.resolve('tsx');

/**
 * A child process that opens `url`, waits for "go" on its IPC channel, migrates, reports what it
 * applied and exits (1 with the error's message on failure).
 */
export function migratingProcess(url: string) {
  const source = `
    const { openDatabase } = await import(${JSON.stringify(DATABASE_MODULE)});
    const { parseDatabaseUrl } = await import(${JSON.stringify(
      pathToFileURL(fileURLToPath(new URL('../../config/config.ts', import.meta.url))).href,
    )});
    const database = openDatabase(parseDatabaseUrl(${JSON.stringify(url)}));
    process.send('ready');
    process.once('message', async () => {
      try {
        const applied = await database.migrate();
        await database.close();
        process.send({ applied }, () => process.exit(0));
      } catch (err) {
        process.send({ error: String(err) }, () => process.exit(1));
      }
    });
  `;
  const child = spawn(
    process.execPath,
    ['--import', TSX_LOADER, '--input-type=module', '-e', source],
    {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    },
  );
  const messages: unknown[] = [];
  const ready = new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    child.once('exit', (code) => reject(new Error(`exited with ${code} before ready`)));
  });
  child.on('message', (m) => messages.push(m));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, ready, exited, messages };
}

/** The tables and indexes the migrations create, on SQLite and PostgreSQL alike. */
export const EXPECTED_OBJECTS = [
  'index calls_company_agent',
  'index calls_company_created',
  'index calls_company_target',
  'index calls_state',
  'table access_changes',
  'table agents',
  'table calls',
  'table companies',
  'table kysely_migration',
  'table kysely_migration_lock',
];
