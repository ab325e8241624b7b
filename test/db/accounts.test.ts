import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import {
  AccountError,
  activeCompany,
  createAgent,
  createCompany,
  findAgent,
  getAgent,
  getCompany,
} from '../../db/companies.js';
import { resetPassword, setAgentDisabled, setCompanyDisabled } from '../../db/access.js';
import { openDatabase } from '../../db/database.js';
import { dummyHash, hashPassword, verifyPassword } from '../../db/passwords.js';

interface Teardown {
  teardown(fn: () => unknown): void;
}

/** A migrated SQLite file in a temporary directory, gone at teardown. */
async function openDb(t: Teardown) {
  const dir = mkdtempSync(join(tmpdir(), 'calldocker-accounts-'));
  const path = join(dir, 'accounts.db');
  const database = openDatabase({ url: `sqlite:${path}`, dialect: 'sqlite', path });
  t.teardown(async () => {
    await database.close();
    rmSync(dir, { recursive: true, force: true });
  });
  await database.migrate();
  return database.db;
}

/** The code of the AccountError `promise` rejects with. */
async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof AccountError) return err.code;
    throw err;
  }
  return 'resolved';
}

t.test('companies: slug ids, trimmed names, no duplicates, enable and disable', async (t) => {
  const db = await openDb(t);
  const acme = await createCompany(db, 'acme-2', '  Acme Two ');
  t.match(acme, { id: 'acme-2', name: 'Acme Two', disabled: 0, settings: '{}' });
  t.same(await getCompany(db, 'acme-2'), acme);
  for (const id of ['', 'Acme', '-acme', 'ac me', 'a'.repeat(64), 'acme_2']) {
    t.equal(await codeOf(createCompany(db, id, 'X')), 'invalid', JSON.stringify(id));
  }
  t.equal(await codeOf(createCompany(db, 'other', '   ')), 'invalid', 'empty name');
  t.equal(await codeOf(createCompany(db, 'acme-2', 'Again')), 'exists');

  await setCompanyDisabled(db, 'acme-2', true);
  t.equal(await activeCompany(db, 'acme-2'), undefined, 'a disabled company is not active');
  t.equal((await getCompany(db, 'acme-2'))?.disabled, 1, 'but still exists');
  await setCompanyDisabled(db, 'acme-2', false);
  t.equal((await activeCompany(db, 'acme-2'))?.id, 'acme-2');
  t.equal(await activeCompany(db, 'nope'), undefined);
  t.equal(await codeOf(setCompanyDisabled(db, 'nope', true)), 'not_found');
});

t.test('agents: lower-cased unique email per company, hashed password, validation', async (t) => {
  const db = await openDb(t);
  await createCompany(db, 'acme', 'Acme');
  await createCompany(db, 'globex', 'Globex');
  const alice = await createAgent(db, {
    companyId: 'acme',
    email: ' Alice@Example.TEST ',
    name: ' Alice ',
    password: 'password-1',
  });
  t.match(alice, { company_id: 'acme', email: 'alice@example.test' });
  t.equal(alice.name, 'Alice');
  t.equal(alice.role, 'agent', 'agent unless told');
  t.match(alice.password_hash, /^scrypt\$32768\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
  t.notMatch(alice.password_hash, /password-1/);
  t.ok(await verifyPassword('password-1', alice.password_hash));
  t.notOk(await verifyPassword('password-2', alice.password_hash));

  t.same(await findAgent(db, 'acme', 'ALICE@example.test'), alice, 'found in any case');
  t.same(await getAgent(db, 'acme', alice.id), alice);
  t.equal(await getAgent(db, 'globex', alice.id), undefined, 'not from another company');
  t.equal(await findAgent(db, 'globex', 'alice@example.test'), undefined);

  const input = {
    companyId: 'acme',
    email: 'bob@example.test',
    name: 'Bob',
    password: 'password-1',
  };
  t.equal(await codeOf(createAgent(db, { ...input, email: 'ALICE@example.test' })), 'exists');
  t.equal(await codeOf(createAgent(db, { ...input, email: 'not-an-email' })), 'invalid');
  t.equal(await codeOf(createAgent(db, { ...input, name: ' ' })), 'invalid');
  t.equal(await codeOf(createAgent(db, { ...input, password: 'short' })), 'invalid');
  t.equal(await codeOf(createAgent(db, { ...input, companyId: 'nope' })), 'not_found');

  const other = await createAgent(db, {
    ...input,
    companyId: 'globex',
    email: 'alice@example.test',
    role: 'admin',
  });
  t.equal(other.role, 'admin');
  t.not(other.id, alice.id, 'the same email in another company is another agent');
});

t.test('two agents created at once with one email: one wins, the other gets exists', async (t) => {
  const db = await openDb(t);
  await createCompany(db, 'acme', 'Acme');
  const input = {
    companyId: 'acme',
    email: 'twin@example.test',
    name: 'Twin',
    password: 'password-1',
  };
  const results = await Promise.allSettled([createAgent(db, input), createAgent(db, input)]);
  t.same(results.map((r) => r.status).sort(), ['fulfilled', 'rejected']);
  const rejected = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
  t.ok(rejected.reason instanceof AccountError);
  t.equal((rejected.reason as AccountError).code, 'exists');
});

t.test('disabling an agent and resetting its password', async (t) => {
  const db = await openDb(t);
  await createCompany(db, 'acme', 'Acme');
  await createAgent(db, {
    companyId: 'acme',
    email: 'a@example.test',
    name: 'A',
    password: 'old-password',
  });
  await setAgentDisabled(db, 'acme', 'A@example.test', true);
  t.equal((await findAgent(db, 'acme', 'a@example.test'))?.disabled, 1);
  await setAgentDisabled(db, 'acme', 'a@example.test', false);
  t.equal((await findAgent(db, 'acme', 'a@example.test'))?.disabled, 0);
  t.equal(await codeOf(setAgentDisabled(db, 'acme', 'nobody@example.test', true)), 'not_found');

  await resetPassword(db, 'acme', 'a@example.test', 'new-password');
  const hash = (await findAgent(db, 'acme', 'a@example.test'))!.password_hash;
  t.ok(await verifyPassword('new-password', hash));
  t.notOk(await verifyPassword('old-password', hash));
  t.equal(await codeOf(resetPassword(db, 'acme', 'a@example.test', 'short')), 'invalid');
  t.equal(
    await codeOf(resetPassword(db, 'acme', 'nobody@example.test', 'long-enough')),
    'not_found',
  );
});

t.test('passwords: salted, NFKC-normalised, and malformed hashes match nothing', async (t) => {
  const [one, two] = await Promise.all([
    hashPassword('same password'),
    hashPassword('same password'),
  ]);
  t.not(one, two, 'a fresh salt per hash');
  t.ok(await verifyPassword('same password', two));
  // U+FB01 (the fi ligature) is NFKC-equivalent to "fi".
  t.ok(await verifyPassword('\uFB01sh and chips', await hashPassword('fish and chips')));
  const [, n, r, p, salt, key] = one.split('$');
  const malformed = [
    '',
    'plain-text',
    `bcrypt$${n}$${r}$${p}$${salt}$${key}`,
    `scrypt$${n}$${r}$${p}$${salt}`,
    `scrypt$${n}$${r}$${p}$${salt}$${key!.slice(0, 20)}`,
    `scrypt$3$${r}$${p}$${salt}$${key}`, // N not a power of two: scrypt refuses it
    `scrypt$${2 ** 24}$${r}$${p}$${salt}$${key}`, // over the memory cap
  ];
  for (const stored of malformed) {
    t.equal(await verifyPassword('same password', stored), false, stored.slice(0, 40));
  }
  t.equal(dummyHash(), dummyHash(), 'the dummy hash is made once');
  t.notOk(await verifyPassword('', await dummyHash()));
});
