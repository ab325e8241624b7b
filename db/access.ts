/**
 * Changes of who may get in, and the journal that tells the other processes of them.
 *
 * Each change (a company disabled or enabled, an agent disabled, enabled, its password reset or
 * its role set; a company's allowed origins, in `company-settings.ts`) writes one
 * `access_changes` row in the change's own transaction: a reader that sees the row sees the
 * change, and no change commits without its row. The signaling server and the web host poll the
 * journal (`auth/access.ts`) and drop what they cached of the company or agent it names.
 */
import { PostgresAdapter, sql, type Kysely } from 'kysely';
import { AccountError, MIN_PASSWORD_LENGTH, normaliseEmail } from './companies.js';
import { hashPassword } from './passwords.js';
import type { Agent, Schema } from './schema.js';

/**
 * How long a journal row is kept. Readers poll every fraction of a second and their caches live
 * for seconds, so an hour is ample; pruning on write keeps the table a few rows long.
 */
export const ACCESS_JOURNAL_RETENTION_MS = 3_600_000;

/** One row of the journal. */
export interface AccessChange {
  /** Increases with every change, never reused. */
  readonly seq: number;
  readonly companyId: string;
  /** The agent changed; undefined for a change of the company itself. */
  readonly agentId: string | undefined;
  /** When it was written, ms since the epoch (the writer's clock). */
  readonly changedAt: number;
}

/** Any constant: the advisory lock that orders PostgreSQL's journal writers. */
export const JOURNAL_LOCK_ID = 0x63646a6c; // "cdjl"

/**
 * Writes the journal row of a change. Call it with the transaction that makes the change; rows
 * older than {@link ACCESS_JOURNAL_RETENTION_MS} are pruned on the way.
 *
 * Readers ask for "every seq after the last one I saw", so a seq must never commit after a
 * higher one. SQLite has one writer at a time. PostgreSQL hands out a seq at insert and commits
 * in any order, so there each writer first takes a transaction-scoped advisory lock, held until
 * its commit: the next writer's seq is drawn only once the previous one is visible. Access
 * changes are an administrator's actions, rare enough for taking turns to cost nothing.
 */
export async function recordAccessChange(
  trx: Kysely<Schema>,
  companyId: string,
  agentId: string | null,
  now = Date.now(),
): Promise<void> {
  if (trx.getExecutor().adapter instanceof PostgresAdapter) {
    await sql`select pg_advisory_xact_lock(${sql.lit(JOURNAL_LOCK_ID)})`.execute(trx);
  }
  await trx
    .insertInto('access_changes')
    .values({ company_id: companyId, agent_id: agentId, changed_at: now })
    .execute();
  await trx
    .deleteFrom('access_changes')
    .where('changed_at', '<', now - ACCESS_JOURNAL_RETENTION_MS)
    .execute();
}

/** The journal's rows after `seq`, oldest first, at most `limit` (a primary-key range read). */
export async function accessChangesAfter(
  db: Kysely<Schema>,
  seq: number,
  limit = 1000,
): Promise<AccessChange[]> {
  const rows = await db
    .selectFrom('access_changes')
    .selectAll()
    .where('seq', '>', seq)
    .orderBy('seq')
    .limit(limit)
    .execute();
  return rows.map((r) => ({
    seq: r.seq,
    companyId: r.company_id,
    agentId: r.agent_id ?? undefined,
    changedAt: r.changed_at,
  }));
}

/** The newest seq in the journal (0 when it is empty): where a new reader starts. */
export async function latestAccessSeq(db: Kysely<Schema>): Promise<number> {
  const row = await db
    .selectFrom('access_changes')
    .select((eb) => eb.fn.max('seq').as('seq'))
    .executeTakeFirst();
  return Number(row?.seq ?? 0);
}

/**
 * Disables (no logins, no visitor tokens, no token refresh, and every token and connection of
 * its members refused) or re-enables a company.
 * @throws AccountError `not_found`.
 */
export async function setCompanyDisabled(
  db: Kysely<Schema>,
  id: string,
  disabled: boolean,
): Promise<void> {
  await db.transaction().execute(async (trx) => {
    const result = await trx
      .updateTable('companies')
      .set({ disabled: disabled ? 1 : 0 })
      .where('id', '=', id)
      .executeTakeFirst();
    if (result.numUpdatedRows === 0n) throw new AccountError('not_found', `no company ${id}`);
    await recordAccessChange(trx, id, null);
  });
}

/** Runs `change` on the agent `email` of `companyId` and journals it, in one transaction. */
async function changeAgent(
  db: Kysely<Schema>,
  companyId: string,
  email: string,
  change: (trx: Kysely<Schema>, agent: Agent) => Promise<unknown>,
): Promise<Agent> {
  return db.transaction().execute(async (trx) => {
    const agent = await trx
      .selectFrom('agents')
      .selectAll()
      .where('company_id', '=', companyId)
      .where('email', '=', normaliseEmail(email))
      .executeTakeFirst();
    if (agent === undefined) {
      throw new AccountError('not_found', `no agent ${email} in ${companyId}`);
    }
    await change(trx, agent);
    await recordAccessChange(trx, companyId, agent.id);
    return agent;
  });
}

/**
 * Disables (no login, and every token and connection refused) or re-enables an agent.
 * Disabling bumps its credentials version, so the tokens issued before stay dead after it is
 * enabled again: re-enabling means a new login.
 * @throws AccountError `not_found`.
 */
export async function setAgentDisabled(
  db: Kysely<Schema>,
  companyId: string,
  email: string,
  disabled: boolean,
): Promise<void> {
  await changeAgent(db, companyId, email, (trx, agent) =>
    trx
      .updateTable('agents')
      .set((eb) => ({
        disabled: disabled ? 1 : 0,
        credentials_version: disabled
          ? eb('credentials_version', '+', 1)
          : eb.ref('credentials_version'),
      }))
      .where('id', '=', agent.id)
      .execute(),
  );
}

/**
 * Replaces an agent's password and bumps its credentials version: every token issued before
 * is refused from then on.
 * @throws AccountError `invalid` (short password) or `not_found`.
 */
export async function resetPassword(
  db: Kysely<Schema>,
  companyId: string,
  email: string,
  password: string,
): Promise<void> {
  if (password.length < MIN_PASSWORD_LENGTH) {
    throw new AccountError(
      'invalid',
      `password must be at least ${MIN_PASSWORD_LENGTH} characters`,
    );
  }
  // Hashed before the transaction: scrypt takes tens of ms, the write lock need not wait.
  const hash = await hashPassword(password);
  await changeAgent(db, companyId, email, (trx, agent) =>
    trx
      .updateTable('agents')
      .set((eb) => ({
        password_hash: hash,
        credentials_version: eb('credentials_version', '+', 1),
      }))
      .where('id', '=', agent.id)
      .execute(),
  );
}

/**
 * Makes an agent an admin or an admin an agent. The credentials version is left alone: tokens
 * carry the role and are compared with it, so a token of the old role is refused while a
 * refresh issues one with the new role (how a demoted admin's page carries on as an agent).
 * Returns the role the agent had.
 * @throws AccountError `not_found`.
 */
export async function setAgentRole(
  db: Kysely<Schema>,
  companyId: string,
  email: string,
  role: Agent['role'],
): Promise<Agent['role']> {
  const agent = await changeAgent(db, companyId, email, (trx, row) =>
    trx.updateTable('agents').set({ role }).where('id', '=', row.id).execute(),
  );
  return agent.role;
}
