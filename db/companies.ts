/** Companies and their agents: the accounts behind logins and visitor tokens. */
import { v7 as uuidv7 } from 'uuid';
import type { Kysely } from 'kysely';
import { normaliseName } from '../common/text.js';
import { hashPassword } from './passwords.js';
import type { Agent, Company, Schema } from './schema.js';

/** Company ids are public slugs: they appear in tokens, URLs and embed snippets. */
export const COMPANY_ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** Thrown for a duplicate or invalid account; `code` is stable. */
export class AccountError extends Error {
  override readonly name = 'AccountError';
  constructor(
    readonly code: 'invalid' | 'exists' | 'not_found',
    message: string,
  ) {
    super(message);
  }
}

/**
 * Creates an enabled company.
 * @throws AccountError `invalid` (bad id or empty name) or `exists`.
 */
export async function createCompany(
  db: Kysely<Schema>,
  id: string,
  name: string,
): Promise<Company> {
  if (!COMPANY_ID_PATTERN.test(id)) {
    throw new AccountError('invalid', `company id "${id}" must match ${COMPANY_ID_PATTERN.source}`);
  }
  // Names are shown on visitors' and agents' screens: normalised like a visitor's (common/text.ts).
  const shown = normaliseName(name);
  if (shown === '') throw new AccountError('invalid', 'company name is empty');
  if ((await getCompany(db, id)) !== undefined)
    throw new AccountError('exists', `company ${id} exists`);
  const row = { id, name: shown, settings: '{}', disabled: 0, created_at: Date.now() };
  await insertUnique(db.insertInto('companies').values(row), `company ${id} exists`);
  return row;
}

/** A company by id, disabled or not. */
export function getCompany(db: Kysely<Schema>, id: string): Promise<Company | undefined> {
  return db.selectFrom('companies').selectAll().where('id', '=', id).executeTakeFirst();
}

/** An enabled company, or undefined (unknown and disabled look the same from outside). */
export async function activeCompany(db: Kysely<Schema>, id: string): Promise<Company | undefined> {
  const company = await getCompany(db, id);
  return company !== undefined && company.disabled === 0 ? company : undefined;
}

/** Emails are stored and compared lower-cased and trimmed. */
export const normaliseEmail = (email: string) => email.trim().toLowerCase();
const EMAIL = /^[^\s@]+@[^\s@]+$/;

/** Options of {@link createAgent}. */
export interface NewAgentInput {
  companyId: string;
  email: string;
  name: string;
  password: string;
  role?: 'agent' | 'admin';
}

/** Minimum password length for agents and admins. */
export const MIN_PASSWORD_LENGTH = 8;

/**
 * Creates an agent (or admin) with a scrypt hash of its password.
 * @throws AccountError `invalid` (bad email, empty name, short password), `not_found` (no such
 *   company) or `exists` (the email is taken in that company).
 */
export async function createAgent(db: Kysely<Schema>, input: NewAgentInput): Promise<Agent> {
  const email = normaliseEmail(input.email);
  if (!EMAIL.test(email))
    throw new AccountError('invalid', `"${input.email}" is not an email address`);
  const name = normaliseName(input.name);
  if (name === '') throw new AccountError('invalid', 'agent name is empty');
  if (input.password.length < MIN_PASSWORD_LENGTH) {
    throw new AccountError(
      'invalid',
      `password must be at least ${MIN_PASSWORD_LENGTH} characters`,
    );
  }
  if ((await getCompany(db, input.companyId)) === undefined) {
    throw new AccountError('not_found', `no company ${input.companyId}`);
  }
  if ((await findAgent(db, input.companyId, email)) !== undefined) {
    throw new AccountError('exists', `${email} already exists in ${input.companyId}`);
  }
  const row = {
    id: uuidv7(),
    company_id: input.companyId,
    email,
    name,
    role: input.role ?? 'agent',
    password_hash: await hashPassword(input.password),
    disabled: 0,
    created_at: Date.now(),
    credentials_version: 0,
  };
  await insertUnique(
    db.insertInto('agents').values(row),
    `${email} already exists in ${input.companyId}`,
  );
  return row;
}

/** An agent by company and email (any case), disabled or not. */
export function findAgent(
  db: Kysely<Schema>,
  companyId: string,
  email: string,
): Promise<Agent | undefined> {
  return db
    .selectFrom('agents')
    .selectAll()
    .where('company_id', '=', companyId)
    .where('email', '=', normaliseEmail(email))
    .executeTakeFirst();
}

/** An agent by company and id, disabled or not. */
export function getAgent(
  db: Kysely<Schema>,
  companyId: string,
  id: string,
): Promise<Agent | undefined> {
  return db
    .selectFrom('agents')
    .selectAll()
    .where('company_id', '=', companyId)
    .where('id', '=', id)
    .executeTakeFirst();
}

/**
 * Runs an insert, turning a unique-key violation into AccountError `exists`: the look-up before
 * it cannot see a row another process inserts between the two.
 */
async function insertUnique(
  query: { execute(): Promise<unknown> },
  message: string,
): Promise<void> {
  try {
    await query.execute();
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    // SQLite's codes, and PostgreSQL's unique_violation.
    if (
      code === 'SQLITE_CONSTRAINT_PRIMARYKEY' ||
      code === 'SQLITE_CONSTRAINT_UNIQUE' ||
      code === '23505'
    ) {
      throw new AccountError('exists', message);
    }
    throw err;
  }
}
