/**
 * The access changes and their journal, on a real SQLite file: each change writes its row in its
 * own transaction (no change without its row, no row without its change), disabling and a
 * password reset bump the credentials version while enabling and role changes do not, and rows
 * older than an hour are pruned by the next write.
 */
import t from 'tap';
import {
  ACCESS_JOURNAL_RETENTION_MS,
  accessChangesAfter,
  latestAccessSeq,
  recordAccessChange,
  resetPassword,
  setAgentDisabled,
  setAgentRole,
  setCompanyDisabled,
} from '../../db/access.js';
import { createAgent, createCompany } from '../../db/companies.js';
import { setAllowedOrigins } from '../../db/company-settings.js';
import type { Database } from '../../db/database.js';
import { verifyPassword } from '../../db/passwords.js';
import { openTestDatabase } from './helpers.js';

interface Teardown {
  teardown(fn: () => unknown): void;
}

/** A database with the company acme and its agent Al (al@example.test). */
async function seeded(t: Teardown): Promise<{ database: Database; alId: string }> {
  const database = await openTestDatabase(t);
  await createCompany(database.db, 'acme', 'Acme');
  const al = await createAgent(database.db, {
    companyId: 'acme',
    email: 'al@example.test',
    name: 'Al',
    password: 'al-password-1',
  });
  return { database, alId: al.id };
}

const agentRow = (database: Database, id: string) =>
  database.db.selectFrom('agents').selectAll().where('id', '=', id).executeTakeFirstOrThrow();

/** The journal as `company/agent` strings, oldest first. */
async function journal(database: Database, after = 0): Promise<string[]> {
  const rows = await accessChangesAfter(database.db, after);
  return rows.map((r) => `${r.companyId}/${r.agentId ?? '-'}`);
}

t.test('every access change writes one journal row naming what changed', async (t) => {
  const { database, alId } = await seeded(t);
  const { db } = database;
  t.equal(await latestAccessSeq(db), 0, 'an empty journal starts at 0');
  const before = Date.now();
  await setAgentDisabled(db, 'acme', 'AL@example.test', true);
  await setAgentDisabled(db, 'acme', 'al@example.test', false);
  await resetPassword(db, 'acme', 'al@example.test', 'new-password-1');
  await setAgentRole(db, 'acme', 'al@example.test', 'admin');
  await setCompanyDisabled(db, 'acme', true);
  await setCompanyDisabled(db, 'acme', false);
  await setAllowedOrigins(db, 'acme', ['https://shop.example']);
  t.same(await journal(database), [
    `acme/${alId}`,
    `acme/${alId}`,
    `acme/${alId}`,
    `acme/${alId}`,
    'acme/-',
    'acme/-',
    'acme/-',
  ]);
  const rows = await accessChangesAfter(db, 0);
  t.same(
    rows.map((r) => r.seq),
    [1, 2, 3, 4, 5, 6, 7],
    'seq increases by one per change',
  );
  t.ok(
    rows.every((r) => r.changedAt >= before && r.changedAt <= Date.now()),
    'stamped now',
  );
  t.equal(await latestAccessSeq(db), 7);
  t.same(await journal(database, 5), ['acme/-', 'acme/-'], 'read from after a seq');
  t.equal((await accessChangesAfter(db, 0, 3)).length, 3, 'at most the limit');
});

t.test('disabling and a reset bump the version; enabling and a role change do not', async (t) => {
  const { database, alId } = await seeded(t);
  const { db } = database;
  t.equal((await agentRow(database, alId)).credentials_version, 0, 'a new agent is at 0');
  await setAgentDisabled(db, 'acme', 'al@example.test', true);
  t.match(await agentRow(database, alId), { disabled: 1, credentials_version: 1 });
  await setAgentDisabled(db, 'acme', 'al@example.test', false);
  t.match(await agentRow(database, alId), { disabled: 0, credentials_version: 1 });
  await resetPassword(db, 'acme', 'al@example.test', 'new-password-1');
  const reset = await agentRow(database, alId);
  t.equal(reset.credentials_version, 2);
  t.ok(await verifyPassword('new-password-1', reset.password_hash), 'the new password works');
  t.equal(await setAgentRole(db, 'acme', 'al@example.test', 'admin'), 'agent', 'was an agent');
  t.match(await agentRow(database, alId), { role: 'admin', credentials_version: 2 });
  t.equal(await setAgentRole(db, 'acme', 'al@example.test', 'admin'), 'admin', 'already');
  await setCompanyDisabled(db, 'acme', true);
  t.equal((await agentRow(database, alId)).credentials_version, 2, 'a company change neither');
});

t.test('a refused change writes no row', async (t) => {
  const { database } = await seeded(t);
  const { db } = database;
  const refusals: Array<[() => Promise<unknown>, string]> = [
    [() => setAgentDisabled(db, 'acme', 'nobody@example.test', true), 'not_found'],
    [() => setAgentDisabled(db, 'globex', 'al@example.test', true), 'not_found'],
    [() => resetPassword(db, 'acme', 'nobody@example.test', 'new-password-1'), 'not_found'],
    [() => resetPassword(db, 'acme', 'al@example.test', 'short'), 'invalid'],
    [() => setAgentRole(db, 'acme', 'nobody@example.test', 'admin'), 'not_found'],
    [() => setCompanyDisabled(db, 'nope', true), 'not_found'],
    [() => setAllowedOrigins(db, 'nope', []), 'not_found'],
  ];
  for (const [change, code] of refusals) {
    await t.rejects(change, { name: 'AccountError', code }, code);
  }
  t.same(await journal(database), []);
});

t.test('the change and its row commit together or not at all', async (t) => {
  const { database, alId } = await seeded(t);
  const { db } = database;
  // Without the journal table the row cannot be written: the change must roll back with it.
  await db.schema.alterTable('access_changes').renameTo('access_changes_away').execute();
  await t.rejects(setAgentDisabled(db, 'acme', 'al@example.test', true));
  await t.rejects(setCompanyDisabled(db, 'acme', true));
  await t.rejects(resetPassword(db, 'acme', 'al@example.test', 'new-password-1'));
  await t.rejects(setAllowedOrigins(db, 'acme', ['https://shop.example']));
  t.match(await agentRow(database, alId), { disabled: 0, credentials_version: 0 });
  const company = await db.selectFrom('companies').selectAll().executeTakeFirstOrThrow();
  t.match(company, { disabled: 0, settings: '{}' }, 'the company is unchanged');
});

t.test('rows older than the retention are pruned by the next write, not younger', async (t) => {
  const { database } = await seeded(t);
  const { db } = database;
  const now = Date.now();
  await recordAccessChange(db, 'old', null, now - ACCESS_JOURNAL_RETENTION_MS - 1);
  await recordAccessChange(db, 'edge', null, now - ACCESS_JOURNAL_RETENTION_MS);
  await recordAccessChange(db, 'new', null, now);
  t.same(await journal(database), ['edge/-', 'new/-'], 'one past the hour goes, the hour stays');
  t.equal(await latestAccessSeq(db), 3, 'seq never goes back');
  await recordAccessChange(db, 'later', null, now + 1);
  t.same(
    (await accessChangesAfter(db, 0)).map((r) => r.seq),
    [3, 4],
    'the edge row went one ms later; seq is not reused',
  );
});
