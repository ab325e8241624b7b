/**
 * Which database the storage suites run on, and a private PostgreSQL schema per test.
 *
 * `npm test` runs them on SQLite files. `npm run test:postgres` runs the same suites again with
 * `CALLDOCKER_TEST_DATABASE=postgres`: the helpers then hand each test its own schema in the
 * database at `DATABASE_URL`, so test files run in parallel without seeing each other's rows.
 * Schemas are dropped at teardown, and those a killed run left behind are dropped by the next.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import pg from 'pg';
import { parseDatabaseUrl, type PostgresConfig } from '../../config/config.js';

/** The database the storage helpers open. */
export type TestDialect = 'sqlite' | 'postgres';

/** `postgres` under `npm run test:postgres`, else `sqlite`. */
export const TEST_DIALECT: TestDialect =
  process.env['CALLDOCKER_TEST_DATABASE'] === 'postgres' ? 'postgres' : 'sqlite';

/** The subset of tap's Test these helpers use. */
interface Teardown {
  teardown(fn: () => unknown): void;
}

/** Skips (with the reason) a test that is about SQLite itself when the suite runs on PostgreSQL. */
export const SQLITE_ONLY = TEST_DIALECT === 'sqlite' ? false : 'about the SQLite file itself';

/** The server at `DATABASE_URL`, which `npm run test:postgres` requires. */
function serverConfig(): PostgresConfig {
  const config = parseDatabaseUrl(process.env['DATABASE_URL']);
  if (config.dialect !== 'postgres') {
    throw new Error(
      'CALLDOCKER_TEST_DATABASE=postgres needs DATABASE_URL=postgres://user@host:port/database',
    );
  }
  return config;
}

/** Runs `statement` on its own short-lived connection to the test server. */
async function admin(statement: string): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: serverConfig().connectionString });
  await client.connect();
  try {
    return await client.query(statement);
  } finally {
    await client.end();
  }
}

/** Schemas are named `cdt_<pid>_<random>`: the pid tells whose run left them. */
const SCHEMA_PREFIX = 'cdt_';
let swept: Promise<void> | undefined;

/**
 * Drops the schemas of test processes that are gone (killed before their teardown); once per
 * process, before its first schema is used.
 */
export function sweepAbandonedSchemas(): Promise<void> {
  swept ??= (async () => {
    const { rows } = await admin(
      `select nspname from pg_namespace where nspname like '${SCHEMA_PREFIX}%'`,
    );
    for (const { nspname } of rows as Array<{ nspname: string }>) {
      const pid = Number(nspname.slice(SCHEMA_PREFIX.length).split('_')[0]);
      if (Number.isInteger(pid) && !alive(pid)) {
        await admin(`drop schema if exists "${nspname}" cascade`).catch(() => undefined);
      }
    }
  })();
  return swept;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * A new, empty schema of its own on the test server (created by the first migrate), as a
 * database configuration; dropped at `t`'s teardown, or, without `t`, left for the sweep of a
 * later run (a template that lives as long as its process).
 */
export function postgresSchemaConfig(t?: Teardown): PostgresConfig {
  const schema = `${SCHEMA_PREFIX}${process.pid}_${randomBytes(6).toString('hex')}`;
  const config = parseDatabaseUrl(postgresUrlOf({ ...serverConfig(), schema })) as PostgresConfig;
  t?.teardown(() => admin(`drop schema if exists "${schema}" cascade`));
  return config;
}

/** The `DATABASE_URL` that names `config`'s schema, for a process the test starts. */
export function postgresUrlOf(config: PostgresConfig): string {
  const url = new URL(config.connectionString);
  if (config.schema !== undefined) url.searchParams.set('schema', config.schema);
  return url.toString();
}

/**
 * The database that several processes of one test share: a schema of its own when
 * `DATABASE_URL` is a PostgreSQL server (as CI sets it: how a cluster is deployed), else a
 * SQLite file in `dir`.
 */
export function sharedDatabaseUrl(t: Teardown, dir: string): string {
  if (!/^postgres(ql)?:/i.test(process.env['DATABASE_URL'] ?? '')) {
    return `sqlite:${join(dir, 'calls.db')}`;
  }
  return postgresUrlOf(postgresSchemaConfig(t));
}

/** The tables a template's rows are copied from, parents first. */
const TABLES = ['companies', 'agents', 'calls', 'access_changes'] as const;

/**
 * Copies every row of the (migrated) schema `from` into the migrated, empty schema `to`, and
 * moves `to`'s journal sequence past the copied rows.
 */
export async function copySchemaRows(from: string, to: string): Promise<void> {
  const statements = TABLES.map(
    (table) => `insert into "${to}".${table} select * from "${from}".${table};`,
  );
  statements.push(
    `select setval(pg_get_serial_sequence('"${to}".access_changes', 'seq'),
       coalesce((select max(seq) from "${to}".access_changes), 0) + 1, false);`,
  );
  await admin(statements.join('\n'));
}
