/**
 * The access guard over a real SQLite file, with changes written through the data layer the
 * admin CLI uses on a second connection to the file (as another process would): its verdicts,
 * its cache and what drops an answer from it, the journal's changes told to listeners, its bound,
 * a database error survived, and a process it never keeps alive.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import t from 'tap';
import { ACCESS_CACHE_ENTRIES, AccessGuard, type AccessChange } from '../../auth/access.js';
import type { Principal } from '../../auth/verify.js';
import {
  resetPassword,
  setAgentDisabled,
  setAgentRole,
  setCompanyDisabled,
} from '../../db/access.js';
import { createAgent, createCompany } from '../../db/companies.js';
import type { Database } from '../../db/database.js';
import { openTestDatabase, tempDatabaseConfig } from '../db/helpers.js';
import { accessGuard, until } from '../helpers.js';

interface Teardown {
  teardown(fn: () => unknown): void;
}

/**
 * A file with companies acme (agent Al, admin Ada) and initech, opened twice: `mine` for the
 * guard, `other` for the changes, as the admin CLI's process would make them.
 */
async function twoConnections(t: Teardown) {
  const config = tempDatabaseConfig(t, 'access.db');
  const mine = await openTestDatabase(t, config);
  const other = await openTestDatabase(t, config);
  await createCompany(other.db, 'acme', 'Acme');
  await createCompany(other.db, 'initech', 'Initech');
  const make = (email: string, role: 'agent' | 'admin') =>
    createAgent(other.db, { companyId: 'acme', email, name: email, password: 'password-1', role });
  const [al, ada] = await Promise.all([
    make('al@acme.test', 'agent'),
    make('ada@acme.test', 'admin'),
  ]);
  return { mine, other, al: al!, ada: ada! };
}

const principal = (fields: Partial<Principal>): Principal => ({
  userId: 'v_1',
  role: 'visitor',
  companyId: 'acme',
  name: 'Someone',
  exp: 0,
  ...fields,
});

/**
 * Resolves with the next batch of changes the guard tells of; rejects after 5 s. The deadline
 * also keeps the test process alive, which the guard's own (unref'd) timer would not.
 */
function nextChanges(guard: AccessGuard): Promise<readonly AccessChange[]> {
  return new Promise((resolve, reject) => {
    const deadline = setTimeout(() => reject(new Error('no access change told')), 5000);
    const stop = guard.onChange((changes) => {
      stop();
      clearTimeout(deadline);
      resolve(changes);
    });
  });
}

t.test('verdicts: what the database took away is refused, what it lacks admitted', async (t) => {
  const { mine, other, al, ada } = await twoConnections(t);
  const guard = accessGuard(t, mine.db, { cacheMs: 0 });
  const alP = principal({ userId: al.id, role: 'agent', credentialsVersion: 0 });
  const adaP = principal({ userId: ada.id, role: 'admin' });
  t.equal(await guard.check(principal({})), 'ok', 'a visitor of an enabled company');
  t.equal(await guard.check(alP), 'ok', 'an agent as issued');
  t.equal(await guard.check(adaP), 'ok', 'a token without ver counts as version 0');
  t.equal(await guard.check(principal({ companyId: 'own-idp' })), 'ok', 'an unknown company');
  t.equal(
    await guard.check(principal({ userId: 'idp-agent', role: 'agent' })),
    'ok',
    'an agent id a known company lacks (staff of its own identity provider)',
  );
  t.equal(
    await guard.check(principal({ companyId: 'initech', userId: al.id, role: 'agent' })),
    'ok',
    "an agent id of another company is not that company's agent",
  );
  t.equal(await guard.check({ ...alP, role: 'admin' }), 'role_changed', 'a role it does not have');
  t.equal(await guard.check({ ...alP, credentialsVersion: 1 }), 'credentials_changed', 'ver 1');

  await resetPassword(other.db, 'acme', 'al@acme.test', 'password-2');
  t.equal(await guard.check(alP), 'credentials_changed', 'after a reset, ver 0 is refused');
  t.equal(await guard.check({ ...alP, credentialsVersion: 1 }), 'ok', 'and ver 1 is current');
  await setAgentRole(other.db, 'acme', 'ada@acme.test', 'agent');
  t.equal(await guard.check(adaP), 'role_changed', 'a demoted admin');
  t.equal(await guard.check({ ...adaP, role: 'agent' }), 'ok', 'as an agent, fine');
  await setAgentDisabled(other.db, 'acme', 'ada@acme.test', true);
  t.equal(await guard.check({ ...adaP, role: 'agent' }), 'account_disabled', 'disabled');
  await setAgentDisabled(other.db, 'acme', 'ada@acme.test', false);
  t.equal(
    await guard.check({ ...adaP, role: 'agent' }),
    'credentials_changed',
    're-enabled: the old token stays dead',
  );
  t.equal(await guard.check({ ...adaP, role: 'agent', credentialsVersion: 1 }), 'ok');
  await setCompanyDisabled(other.db, 'acme', true);
  for (const p of [principal({}), { ...alP, credentialsVersion: 1 }, adaP]) {
    t.equal(await guard.check(p), 'company_disabled', `${p.role} of a disabled company`);
  }
});

t.test('a cached answer holds until the journal names it; fresh reads past it', async (t) => {
  const { mine, other, al } = await twoConnections(t);
  // The timer never fires here: each read of the journal is the test's own poll().
  const guard = accessGuard(t, mine.db, { pollMs: 60_000 });
  const alP = principal({ userId: al.id, role: 'agent' });
  t.equal(await guard.check(alP), 'ok');
  await other.db.updateTable('agents').set({ disabled: 1 }).where('id', '=', al.id).execute();
  t.equal(await guard.check(alP), 'ok', 'a hand edit is not journaled: the cache holds');
  t.equal(await guard.check(alP, { fresh: true }), 'account_disabled', 'fresh reads the row');
  t.equal(await guard.check(alP), 'account_disabled', 'and keeps what it read');
  await other.db.updateTable('agents').set({ disabled: 0 }).where('id', '=', al.id).execute();
  t.equal(await guard.check(alP, { fresh: true }), 'ok');

  await setAgentRole(other.db, 'acme', 'al@acme.test', 'admin');
  t.equal(await guard.check(alP), 'ok', 'not yet read from the journal');
  await guard.poll();
  t.equal(await guard.check(alP), 'role_changed', 'the journal row dropped the answer');
  t.equal(await guard.check(principal({})), 'ok');
  await setCompanyDisabled(other.db, 'acme', true);
  await guard.poll();
  t.equal(await guard.check(principal({})), 'company_disabled', 'a company row too');
  await setCompanyDisabled(other.db, 'acme', false);
  t.equal(
    await guard.check(principal({})),
    'ok',
    'a refusal is read afresh: enabled again, admitted before the journal is read',
  );
});

t.test('changes by another connection reach listeners within the poll interval', async (t) => {
  const { mine, other, al } = await twoConnections(t);
  await setCompanyDisabled(other.db, 'initech', true); // before the guard: never told
  const guard = accessGuard(t, mine.db, { pollMs: 50 });
  const seen: AccessChange[] = [];
  const stop = guard.onChange((changes) => seen.push(...changes));
  await guard.poll();
  t.same(seen, [], 'reading starts after the newest change at start-up');
  const startSeq = guard.seq;
  t.ok(startSeq > 0);

  const told = nextChanges(guard);
  await setAgentDisabled(other.db, 'acme', 'al@acme.test', true);
  const written = Date.now();
  const [change] = await told;
  t.ok(Date.now() - written < 1000, `told within a second (${Date.now() - written} ms)`);
  t.match(change, { seq: startSeq + 1, companyId: 'acme', agentId: al.id });
  t.equal(guard.seq, startSeq + 1);

  await setCompanyDisabled(other.db, 'acme', true);
  await setCompanyDisabled(other.db, 'acme', false);
  await until(() => seen.length >= 3);
  t.same(
    seen.map((c) => [c.seq - startSeq, c.companyId, c.agentId]),
    [
      [1, 'acme', al.id],
      [2, 'acme', undefined],
      [3, 'acme', undefined],
    ],
    'every change once, oldest first; company changes name no agent',
  );
  stop();
  await setCompanyDisabled(other.db, 'acme', true);
  await guard.poll();
  t.equal(seen.length, 3, 'a stopped listener hears no more');
});

t.test('a listener that throws is logged and does not stop the others', async (t) => {
  const { mine, other } = await twoConnections(t);
  const lines: Array<{ msg: string }> = [];
  const log = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });
  const guard = accessGuard(t, mine.db, { pollMs: 60_000, log });
  guard.onChange(() => {
    throw new Error('listener bug');
  });
  const told = nextChanges(guard);
  await setCompanyDisabled(other.db, 'acme', true);
  await guard.poll();
  t.equal((await told).length, 1, 'the second listener heard it');
  t.match(lines, [{ msg: 'access change listener failed' }]);
});

t.test('the cache is bounded: a flood of unknown ids cannot grow it', async (t) => {
  const { mine, al } = await twoConnections(t);
  const small = accessGuard(t, mine.db, { maxEntries: 3 });
  for (const id of ['a', 'b', 'c']) await small.check(principal({ companyId: id }));
  t.equal(small.cacheSize, 3, 'at the bound');
  await small.check(principal({ companyId: 'd' }));
  t.equal(small.cacheSize, 3, 'one past it: the oldest goes');
  await small.check(principal({ userId: al.id, role: 'agent' }));
  t.equal(small.cacheSize, 4, 'agents have their own bound');

  const guard = accessGuard(t, mine.db);
  for (let i = 0; i <= ACCESS_CACHE_ENTRIES; i++) {
    await guard.check(principal({ companyId: `random-${i}` }));
  }
  t.equal(guard.cacheSize, ACCESS_CACHE_ENTRIES, `${ACCESS_CACHE_ENTRIES + 1} companies later`);
});

t.test('a database error is logged once, survived, and the journal read on after', async (t) => {
  const { mine, other } = await twoConnections(t);
  const lines: Array<{ msg: string; level: number }> = [];
  const log = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });
  const guard = accessGuard(t, mine.db, { pollMs: 60_000, log });
  t.equal(await guard.check(principal({})), 'ok', 'cached before the outage');
  await other.db.schema.alterTable('access_changes').renameTo('away').execute();
  await guard.poll();
  await guard.poll();
  t.same(
    lines.map((l) => l.msg),
    ['access journal read failed'],
    'one line for the outage, not one per read',
  );
  t.equal(await guard.check(principal({})), 'ok', 'cached answers still serve');
  await other.db.schema.alterTable('companies').renameTo('companies_away').execute();
  await t.rejects(guard.check(principal({ companyId: 'other' })), 'a read that fails rejects');
  await other.db.schema.alterTable('companies_away').renameTo('companies').execute();
  await other.db.schema.alterTable('away').renameTo('access_changes').execute();

  const told = nextChanges(guard);
  await setCompanyDisabled(other.db, 'acme', true);
  await guard.poll();
  t.match(await told, [{ companyId: 'acme' }], 'changes after the outage are told');
  t.equal(lines.at(-1)?.msg, 'access journal readable again');
  t.equal(await guard.check(principal({})), 'company_disabled');
});

t.test('close() stops reading the journal and telling listeners', async (t) => {
  const { mine, other } = await twoConnections(t);
  const guard = new AccessGuard({ db: mine.db, pollMs: 60_000 });
  let told = 0;
  guard.onChange(() => told++);
  guard.close();
  await setCompanyDisabled(other.db, 'acme', true);
  await guard.poll();
  t.equal(told, 0);
  t.equal(guard.seq, 0, 'nothing read');
  t.equal(await guard.check(principal({})), 'company_disabled', 'checks still work');
});

t.test('a guard left open does not keep its process alive', async (t) => {
  const config = tempDatabaseConfig(t, 'alive.db');
  const database: Database = await openTestDatabase(t, config);
  t.ok(database);
  const root = fileURLToPath(new URL('../../', import.meta.url));
  const script = `
    const { AccessGuard } = await import('./auth/access.ts');
    const { openDatabase } = await import('./db/database.ts');
    const database = openDatabase(${JSON.stringify(config)});
    const guard = new AccessGuard({ db: database.db, pollMs: 10 });
    await guard.poll();
    console.log('polled', guard.seq);`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += String(d)));
  child.stderr.on('data', (d: Buffer) => (out += String(d)));
  // A guard that kept it alive would leave it running: killed then, it exits without a code.
  const kill = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  clearTimeout(kill);
  t.equal(code, 0, out);
  t.match(out, /polled 0/);
});
