/**
 * Versioned migrations, applied in name order at start-up by Kysely's Migrator (which records
 * them in `kysely_migration`; `database.ts` makes two processes starting together safe). One
 * set for both databases: where SQLite and PostgreSQL need different DDL, a migration asks
 * `dialect`, and what SQLite gets never changes. Never edit a migration that has shipped: add
 * the next one.
 */
import { sql, type Kysely, type Migration, type MigrationProvider } from 'kysely';

/** The databases the migrations are written for. */
export type Dialect = 'sqlite' | 'postgres';

const migrationsFor = (dialect: Dialect): Record<string, Migration> => ({
  '0001_companies_agents_calls': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('companies')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('settings', 'text', (c) => c.notNull().defaultTo('{}'))
        .addColumn('disabled', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('agents')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('company_id', 'text', (c) => c.notNull().references('companies.id'))
        .addColumn('email', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('role', 'text', (c) => c.notNull().check(sql`role in ('agent', 'admin')`))
        .addColumn('password_hash', 'text', (c) => c.notNull())
        .addColumn('disabled', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addUniqueConstraint('agents_company_email', ['company_id', 'email'])
        .execute();
      // The call log deliberately has no foreign keys: a call is logged even when its company
      // or agent exists only in a token (a deployment with its own identity provider).
      await db.schema
        .createTable('calls')
        // The id is the pagination cursor (`id < cursor`, newest first): byte order, which is
        // SQLite's and time order for UUIDv7, whatever collation a PostgreSQL database has.
        .addColumn('id', dialect === 'postgres' ? sql`text collate "C"` : 'text', (c) =>
          c.primaryKey(),
        )
        .addColumn('company_id', 'text', (c) => c.notNull())
        .addColumn('visitor_id', 'text', (c) => c.notNull())
        .addColumn('visitor_name', 'text', (c) => c.notNull())
        .addColumn('target_agent_id', 'text')
        .addColumn('agent_id', 'text')
        .addColumn('agent_name', 'text')
        .addColumn('call_type', 'text', (c) => c.notNull())
        .addColumn('purpose', 'text')
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('end_reason', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('queued_at', 'bigint')
        .addColumn('ringing_at', 'bigint')
        .addColumn('answered_at', 'bigint')
        .addColumn('ended_at', 'bigint')
        .addColumn('duration_sec', 'integer')
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('calls_company_created')
        .on('calls')
        .columns(['company_id', 'created_at'])
        .execute();
      await db.schema
        .createIndex('calls_company_agent')
        .on('calls')
        .columns(['company_id', 'agent_id'])
        .execute();
      await db.schema
        .createIndex('calls_company_target')
        .on('calls')
        .columns(['company_id', 'target_agent_id'])
        .execute();
      await db.schema.createIndex('calls_state').on('calls').column('state').execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('calls').execute();
      await db.schema.dropTable('agents').execute();
      await db.schema.dropTable('companies').execute();
    },
  },
  // Visitors rate answered calls after they end (POST /api/calls/:callId/rating). The call
  // log's upsert never names these columns, so a late transition row cannot wipe a rating.
  '0002_call_ratings': {
    async up(db: Kysely<unknown>) {
      // SQLite adds one column per ALTER TABLE.
      await db.schema
        .alterTable('calls')
        .addColumn('rating', 'integer', (c) => c.check(sql`rating between 1 and 5`))
        .execute();
      await db.schema.alterTable('calls').addColumn('rating_comment', 'text').execute();
      await db.schema.alterTable('calls').addColumn('rated_at', 'bigint').execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.alterTable('calls').dropColumn('rated_at').execute();
      await db.schema.alterTable('calls').dropColumn('rating_comment').execute();
      await db.schema.alterTable('calls').dropColumn('rating').execute();
    },
  },
  // Revocation (issue 11): a token carries its agent's credentials version (`ver`), bumped by a
  // password reset or disabling, and every access change is journaled in the same transaction
  // so the other processes (signaling server, web host) learn of it within a poll interval.
  '0003_access_revocation': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .alterTable('agents')
        .addColumn('credentials_version', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
      // AUTOINCREMENT (an identity column on PostgreSQL): a seq is never reused, even after the
      // newest rows are pruned, so a reader's "everything after seq N" never skips a change.
      // PostgreSQL hands out identities at insert and commits them in any order, so its
      // writers take turns (`recordAccessChange`) for readers never to pass a seq not yet
      // committed.
      await db.schema
        .createTable('access_changes')
        .addColumn('seq', dialect === 'postgres' ? 'bigint' : 'integer', (c) =>
          dialect === 'postgres'
            ? c.primaryKey().generatedByDefaultAsIdentity()
            : c.primaryKey().autoIncrement(),
        )
        .addColumn('company_id', 'text', (c) => c.notNull())
        .addColumn('agent_id', 'text')
        .addColumn('changed_at', 'bigint', (c) => c.notNull())
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('access_changes').execute();
      await db.schema.alterTable('agents').dropColumn('credentials_version').execute();
    },
  },
});

/** The migrations for `dialect`, for Kysely's Migrator. */
export function migrationProviderFor(dialect: Dialect): MigrationProvider {
  return {
    async getMigrations() {
      return migrationsFor(dialect);
    },
  };
}

/** Names of every migration, in order (for tests). */
export const MIGRATION_NAMES = Object.keys(migrationsFor('sqlite')).sort();
