/**
 * Helpers for the database tests: a real SQLite file in a fresh temporary directory, and call
 * records shaped like the signaling server's.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseDatabaseUrl, type DatabaseConfig } from '../../config/config.js';
import { openDatabase, type Database, type OpenOptions } from '../../db/database.js';
import type { CallRecord } from '../../server/state/store.js';

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

/** The configuration of a database file `name` in a fresh temporary directory. */
export function tempDatabaseConfig(t: Teardown, name = 'calls.db'): DatabaseConfig {
  return parseDatabaseUrl(`sqlite:${join(tempDir(t), name)}`);
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
