/**
 * `npm run admin`: each command runs in its own process against a temporary SQLite file named
 * by DATABASE_URL; the tests check the output, the exit code (0 done, 1 refused with the
 * error's code in brackets, 2 bad usage) and what the database holds afterwards. No run may
 * print a password hash.
 *
 * Two runs go through `npm run admin` itself (tsx); the others run the same source bundled
 * once by esbuild, which starts four times faster and keeps this file quick. Fixtures are
 * written in-process through the same data layer.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { parseDatabaseUrl } from '../../config/config.js';
import { accessChangesAfter } from '../../db/access.js';
import { rowOf, upsertCalls } from '../../db/calls.js';
import { createAgent, createCompany, getCompany } from '../../db/companies.js';
import { companySettings, setAllowedOrigins } from '../../db/company-settings.js';
import { openDatabase } from '../../db/database.js';
import { verifyPassword } from '../../db/passwords.js';
import { ALICE, callRecord, tempDir } from '../db/helpers.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

// Inside node_modules so that the bundle's imports of packages resolve to the project's own.
const BUNDLE_DIR = join(ROOT, 'node_modules', '.cache', `calldocker-admin-test-${process.pid}`);
const SCRIPT = join(BUNDLE_DIR, 'admin.mjs');
mkdirSync(BUNDLE_DIR, { recursive: true });
t.teardown(() => rmSync(BUNDLE_DIR, { recursive: true, force: true }));
await build({
  entryPoints: [join(ROOT, 'scripts', 'admin.ts')],
  outfile: SCRIPT,
  bundle: true,
  packages: 'external',
  platform: 'node',
  format: 'esm',
  target: 'node20',
  logLevel: 'error',
});

type Tap = Parameters<typeof tempDir>[0];

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Every run's output, checked at the end for password hashes. */
const outputs: string[] = [];

/** Runs `command args` in `cwd` with PATH and `env` only; collects the output. */
function spawnRun(
  command: string,
  args: string[],
  env: Record<string, string>,
  cwd: string,
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd,
      env: { PATH: process.env['PATH'] ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      outputs.push(stdout, stderr);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The admin script with `args`, in `cwd` (a fresh directory, so no stray .env is read). */
function admin(args: string[], env: Record<string, string>, cwd: string): Promise<Run> {
  return spawnRun(process.execPath, [SCRIPT, ...args], env, cwd);
}

/**
 * A temporary database URL, a runner bound to it, and the database opened in this process
 * (migrated, for fixtures and for checking what the runs did).
 */
async function setup(t: Tap) {
  const dir = tempDir(t, 'calldocker-admin-');
  const url = `sqlite:${join(dir, 'admin.db')}`;
  const run = (...args: string[]) => admin(args, { DATABASE_URL: url }, dir);
  const database = openDatabase(parseDatabaseUrl(url));
  t.teardown(() => database.close());
  await database.migrate();
  return { dir, url, run, db: database.db };
}

/** The bracketed error code of a refused run. */
const codeOf = (run: Run) => /\[([a-z_]+)\]/.exec(run.stderr)?.[1];

t.test('npm run admin -- help prints every command and exits 0', async (t) => {
  const run = await spawnRun('npm', ['run', '--silent', 'admin', '--', 'help'], {}, ROOT);
  t.equal(run.code, 0, run.stderr);
  for (const synopsis of [
    'create-company <companyId> <name>',
    'create-agent <companyId> <email> <name> --password <password> [--admin]',
    'disable-company <companyId>',
    'enable-company <companyId>',
    'disable-agent <companyId> <email>',
    'enable-agent <companyId> <email>',
    'set-role <companyId> <email> agent|admin',
    'reset-password <companyId> <email> --password <password>',
    'list-calls <companyId>',
    'set-origins <companyId> [origin...]',
    'list-origins <companyId>',
    'seed-demo',
  ]) {
    t.ok(run.stdout.includes(synopsis), synopsis);
  }
});

t.test('npm run admin honours DATABASE_URL and migrates a new database first', async (t) => {
  const dir = tempDir(t, 'calldocker-admin-npm-');
  const url = `sqlite:${join(dir, 'sub', 'new.db')}`;
  const run = await spawnRun(
    'npm',
    ['run', '--silent', 'admin', '--', 'create-company', 'acme', 'Acme Inc'],
    { DATABASE_URL: url },
    ROOT,
  );
  t.equal(run.code, 0, run.stderr);
  const database = openDatabase(parseDatabaseUrl(url));
  t.teardown(() => database.close());
  t.match(await database.db.selectFrom('companies').selectAll().execute(), [
    { id: 'acme', name: 'Acme Inc' },
  ]);
});

t.test('create-company creates a company and refuses a duplicate or a bad id', async (t) => {
  const { run, db } = await setup(t);
  const created = await run('create-company', 'acme', 'Acme Inc');
  t.equal(created.code, 0, created.stderr);
  t.match(created.stdout, /acme/);
  const [duplicate, badId, emptyName] = await Promise.all([
    run('create-company', 'acme', 'Other'),
    run('create-company', 'Not_A_Slug', 'Bad'),
    run('create-company', 'globex', ' '),
  ]);
  t.same([duplicate.code, codeOf(duplicate)], [1, 'exists'], 'a duplicate id is refused');
  t.same([badId.code, codeOf(badId)], [1, 'invalid'], 'an id that is not a slug is refused');
  t.same([emptyName.code, codeOf(emptyName)], [1, 'invalid'], 'an empty name is refused');
  const companies = await db.selectFrom('companies').selectAll().execute();
  t.match(companies, [{ id: 'acme', name: 'Acme Inc', disabled: 0 }]);
  t.equal(companies.length, 1);
});

t.test('create-agent stores a hash of the password only, and --admin makes an admin', async (t) => {
  const { run, db } = await setup(t);
  await createCompany(db, 'acme', 'Acme');
  const [agent, boss] = await Promise.all([
    run('create-agent', 'acme', 'Al@Example.com', 'Al Agent', '--password', 'pw-al-12345'),
    run(
      'create-agent',
      'acme',
      'boss@example.com',
      'Bo Boss',
      '--password',
      'pw-boss-12345',
      '--admin',
    ),
  ]);
  t.equal(agent.code, 0, agent.stderr);
  t.equal(boss.code, 0, boss.stderr);
  t.notMatch(agent.stdout + boss.stdout, /pw-al-12345|pw-boss-12345/, 'no password is echoed');

  const agents = await db.selectFrom('agents').selectAll().orderBy('email').execute();
  t.match(agents, [
    { email: 'al@example.com', name: 'Al Agent', role: 'agent', company_id: 'acme', disabled: 0 },
    { email: 'boss@example.com', name: 'Bo Boss', role: 'admin', company_id: 'acme' },
  ]);
  t.match(agents[0]!.password_hash, /^scrypt\$/);
  t.notMatch(agents[0]!.password_hash, /pw-al-12345/);
  t.ok(await verifyPassword('pw-al-12345', agents[0]!.password_hash), 'the hash verifies');
  t.ok(agent.stdout.includes(agents[0]!.id), 'the new id is printed');
});

t.test(
  'create-agent refuses a duplicate email, a short password and an unknown company',
  async (t) => {
    const { run, db } = await setup(t);
    await createCompany(db, 'acme', 'Acme');
    await createAgent(db, {
      companyId: 'acme',
      email: 'al@example.com',
      name: 'Al',
      password: 'pw-al-12345',
    });
    const [duplicate, short, unknown, badEmail] = await Promise.all([
      run('create-agent', 'acme', 'AL@EXAMPLE.COM', 'Al Again', '--password', 'pw-al-67890'),
      run('create-agent', 'acme', 'bo@example.com', 'Bo', '--password', 'short'),
      run('create-agent', 'nope', 'cy@example.com', 'Cy', '--password', 'pw-cy-12345'),
      run('create-agent', 'acme', 'not-an-email', 'Di', '--password', 'pw-di-12345'),
    ]);
    t.same([duplicate.code, codeOf(duplicate)], [1, 'exists'], 'the same email in any case');
    t.same([short.code, codeOf(short)], [1, 'invalid'], 'a password under 8 characters');
    t.same([unknown.code, codeOf(unknown)], [1, 'not_found'], 'an unknown company');
    t.same([badEmail.code, codeOf(badEmail)], [1, 'invalid'], 'an address without @');
    const emails = await db.selectFrom('agents').select('email').execute();
    t.same(emails, [{ email: 'al@example.com' }], 'nothing was added');
  },
);

t.test(
  'create-agent and create-company store names as agents and visitors will see them',
  async (t) => {
    const { run, db } = await setup(t);
    const company = await run('create-company', 'acme', '  Acme\u200B \t Inc\u202E ');
    t.equal(company.code, 0, company.stderr);
    const agent = await run(
      'create-agent',
      'acme',
      'al@example.com',
      '\u202Egnp.exe  Al\u200D\u0007\nAgent',
      '--password',
      'pw-al-12345',
    );
    t.equal(agent.code, 0, agent.stderr);
    const invisible = await run(
      'create-agent',
      'acme',
      'bo@example.com',
      '\u200B\u2066 \u3164',
      '--password',
      'pw-bo-12345',
    );
    t.same([invisible.code, codeOf(invisible)], [1, 'invalid'], 'a name with nothing visible');
    t.match(await db.selectFrom('companies').select('name').execute(), [{ name: 'Acme Inc' }]);
    const agents = await db.selectFrom('agents').select(['email', 'name']).execute();
    t.same(agents, [{ email: 'al@example.com', name: 'gnp.exe Al Agent' }]);
    t.ok(agent.stdout.includes('(gnp.exe Al Agent)'), 'the stored name is printed');
  },
);

t.test('disable-company and enable-company journal the change; unknown is not_found', async (t) => {
  const { run, db } = await setup(t);
  await createCompany(db, 'acme', 'Acme');
  const disabledFlag = async () =>
    (
      await db
        .selectFrom('companies')
        .select('disabled')
        .where('id', '=', 'acme')
        .executeTakeFirst()
    )?.disabled;
  const [disabled, unknown, unknownEnable] = await Promise.all([
    run('disable-company', 'acme'),
    run('disable-company', 'nope'),
    run('enable-company', 'nope'),
  ]);
  t.equal(disabled.code, 0, disabled.stderr);
  t.match(disabled.stdout, /Disabled company acme/);
  t.same([unknown.code, codeOf(unknown)], [1, 'not_found']);
  t.same([unknownEnable.code, codeOf(unknownEnable)], [1, 'not_found']);
  t.equal(await disabledFlag(), 1);
  const enabled = await run('enable-company', 'acme');
  t.equal(enabled.code, 0, enabled.stderr);
  t.match(enabled.stdout, /Enabled company acme/);
  t.equal(await disabledFlag(), 0);
  t.match(
    await accessChangesAfter(db, 0),
    [
      { companyId: 'acme', agentId: undefined },
      { companyId: 'acme', agentId: undefined },
    ],
    'each change journaled for the servers, nothing for the refusals',
  );
});

t.test('disable-agent and enable-agent: old tokens stay dead, refusals have codes', async (t) => {
  const { run, db } = await setup(t);
  await createCompany(db, 'acme', 'Acme');
  const al = await createAgent(db, {
    companyId: 'acme',
    email: 'al@example.com',
    name: 'Al',
    password: 'pw-al-12345',
  });
  const row = () =>
    db
      .selectFrom('agents')
      .select(['disabled', 'credentials_version'])
      .where('id', '=', al.id)
      .executeTakeFirstOrThrow();
  const [disabled, unknownEmail, unknownCompany] = await Promise.all([
    run('disable-agent', 'acme', 'AL@example.com'),
    run('disable-agent', 'acme', 'nobody@example.com'),
    run('enable-agent', 'nope', 'al@example.com'),
  ]);
  t.equal(disabled.code, 0, disabled.stderr);
  t.match(disabled.stdout, /Disabled al@example\.com in acme/);
  t.same([unknownEmail.code, codeOf(unknownEmail)], [1, 'not_found']);
  t.same([unknownCompany.code, codeOf(unknownCompany)], [1, 'not_found']);
  t.same(await row(), { disabled: 1, credentials_version: 1 }, 'disabled, its version bumped');
  const enabled = await run('enable-agent', 'acme', 'al@example.com');
  t.equal(enabled.code, 0, enabled.stderr);
  t.match(enabled.stdout, /Enabled al@example\.com in acme/);
  t.same(await row(), { disabled: 0, credentials_version: 1 }, 'enabled, the version kept');
  t.match(await accessChangesAfter(db, 0), [
    { companyId: 'acme', agentId: al.id },
    { companyId: 'acme', agentId: al.id },
  ]);
});

t.test('set-role makes an agent an admin and back; unknown is not_found', async (t) => {
  const { run, db } = await setup(t);
  await createCompany(db, 'acme', 'Acme');
  const al = await createAgent(db, {
    companyId: 'acme',
    email: 'al@example.com',
    name: 'Al',
    password: 'pw-al-12345',
  });
  const role = async () =>
    (await db.selectFrom('agents').select('role').where('id', '=', al.id).executeTakeFirst())?.role;
  const promoted = await run('set-role', 'acme', 'al@example.com', 'admin');
  t.equal(promoted.code, 0, promoted.stderr);
  t.match(promoted.stdout, /al@example\.com in acme is now an admin/);
  t.equal(await role(), 'admin');
  const [again, unknown] = await Promise.all([
    run('set-role', 'acme', 'al@example.com', 'admin'),
    run('set-role', 'acme', 'nobody@example.com', 'agent'),
  ]);
  t.match(again.stdout, /is an admin already/);
  t.same([unknown.code, codeOf(unknown)], [1, 'not_found']);
  const demoted = await run('set-role', 'acme', 'al@example.com', 'agent');
  t.equal(demoted.code, 0, demoted.stderr);
  t.equal(await role(), 'agent');
  const { credentials_version: version } = await db
    .selectFrom('agents')
    .select('credentials_version')
    .executeTakeFirstOrThrow();
  t.equal(version, 0, 'a role change keeps the version: a refresh gets the new role');
  t.equal((await accessChangesAfter(db, 0)).length, 3, 'each journaled');
});

t.test('reset-password replaces the hash; bad input is refused with its code', async (t) => {
  const { run, db } = await setup(t);
  await createCompany(db, 'acme', 'Acme');
  await createAgent(db, {
    companyId: 'acme',
    email: 'al@example.com',
    name: 'Al',
    password: 'old-pw-12345',
  });
  const [reset, unknownEmail, unknownCompany, short] = await Promise.all([
    run('reset-password', 'acme', 'AL@example.com', '--password', 'new-pw-12345'),
    run('reset-password', 'acme', 'nobody@example.com', '--password', 'new-pw-12345'),
    run('reset-password', 'nope', 'al@example.com', '--password', 'new-pw-12345'),
    run('reset-password', 'acme', 'al@example.com', '--password', 'short'),
  ]);
  t.equal(reset.code, 0, reset.stderr);
  t.notMatch(reset.stdout, /new-pw-12345/);
  t.same([unknownEmail.code, codeOf(unknownEmail)], [1, 'not_found']);
  t.same([unknownCompany.code, codeOf(unknownCompany)], [1, 'not_found']);
  t.same([short.code, codeOf(short)], [1, 'invalid']);
  const { password_hash: hash } = await db
    .selectFrom('agents')
    .select('password_hash')
    .executeTakeFirstOrThrow();
  t.ok(await verifyPassword('new-pw-12345', hash), 'the new password works');
  t.notOk(await verifyPassword('old-pw-12345', hash), 'the old one does not');
  t.match(reset.stdout, /old tokens are refused/);
  t.equal((await accessChangesAfter(db, 0)).length, 1, 'journaled, so the servers refuse them');
});

t.test("list-calls prints the company's calls newest first, with --limit", async (t) => {
  const { run, db } = await setup(t);
  await createCompany(db, 'acme', 'Acme');
  await createCompany(db, 'initech', 'Initech');
  const t0 = Date.UTC(2026, 0, 2, 3, 4, 5);
  const answered = callRecord({
    queuedAt: t0,
    state: 'ended',
    agent: ALICE,
    answeredAt: t0 + 4000,
    endedAt: t0 + 65_000,
    endReason: 'hangup',
    visitor: { id: 'v-1', role: 'visitor', name: 'Vera Visitor', connId: null },
  });
  const missed = callRecord({
    queuedAt: t0 + 60_000,
    state: 'missed',
    endedAt: t0 + 90_000,
    endReason: 'queue_timeout',
  });
  const live = callRecord({ queuedAt: t0 + 120_000 });
  const elsewhere = callRecord({ companyId: 'globex', queuedAt: t0 + 180_000 });
  await upsertCalls(
    db,
    [answered, missed, live, elsewhere].map((c) => rowOf(c)),
  );

  const [all, limited, unknown, empty] = await Promise.all([
    run('list-calls', 'acme'),
    run('list-calls', 'acme', '--limit', '2'),
    run('list-calls', 'nope'),
    run('list-calls', 'initech'),
  ]);
  t.equal(all.code, 0, all.stderr);
  const lines = all.stdout.trimEnd().split('\n');
  t.match(lines[0], /created\s+state\s+reason/, 'a header');
  const rows = lines.filter((l) => /^\d{4}-/.test(l));
  t.equal(rows.length, 3, "acme's three calls, not globex's");
  t.ok(rows[0]!.includes(live.callId), 'newest first');
  t.ok(rows[1]!.includes(missed.callId));
  t.ok(rows[2]!.includes(answered.callId), 'oldest last');
  t.match(
    rows[2],
    /^2026-01-02 03:04:05Z\s+ended\s+hangup\s+audio\s+Vera Visitor\s+Alice Agent\s+4\s+61\s/,
    'when, state, reason, type, visitor, agent, wait and talk seconds',
  );
  t.match(rows[1], /missed\s+queue_timeout/);
  t.notOk(all.stdout.includes(elsewhere.callId));

  t.equal(limited.code, 0);
  const limitedRows = limited.stdout.split('\n').filter((l) => /^\d{4}-/.test(l));
  t.equal(limitedRows.length, 2);
  t.ok(limitedRows[0]!.includes(live.callId), 'the newest two');

  t.same([unknown.code, codeOf(unknown)], [1, 'not_found']);
  t.equal(empty.code, 0);
  t.notMatch(empty.stdout, /^\d{4}-/m, 'a company without calls lists none');
});

t.test(
  'set-origins replaces the allowed origins, normalised; no origins clears them',
  async (t) => {
    const { run, db } = await setup(t);
    await createCompany(db, 'acme', 'Acme');
    const set = await run(
      'set-origins',
      'acme',
      'https://Shop.Example.com:443',
      'http://localhost:8080',
    );
    t.equal(set.code, 0, set.stderr);
    t.match(set.stdout, /https:\/\/shop\.example\.com/);
    const origins = async () => companySettings((await getCompany(db, 'acme'))!).allowedOrigins;
    t.same(await origins(), ['https://shop.example.com', 'http://localhost:8080']);

    const listed = await run('list-origins', 'acme');
    t.equal(listed.code, 0, listed.stderr);
    t.equal(listed.stdout, 'https://shop.example.com\nhttp://localhost:8080\n', 'one per line');

    const replaced = await run('set-origins', 'acme', 'https://other.example');
    t.equal(replaced.code, 0, replaced.stderr);
    t.same(await origins(), ['https://other.example'], 'the list is replaced, not appended to');

    const cleared = await run('set-origins', 'acme');
    t.equal(cleared.code, 0, cleared.stderr);
    t.equal((await accessChangesAfter(db, 0)).length, 3, 'each set journaled for the servers');
    t.match(cleared.stdout, /any site/);
    t.same(await origins(), []);
    const empty = await run('list-origins', 'acme');
    t.match(empty.stdout, /any site/, 'an empty list says that any site may embed');
  },
);

t.test(
  'set-origins refuses a bad origin with exit 2, naming it, and changes nothing',
  async (t) => {
    const { run, db } = await setup(t);
    await createCompany(db, 'acme', 'Acme');
    await setAllowedOrigins(db, 'acme', ['https://shop.example.com']);
    for (const bad of ['ftp://x', 'https://x/path', '*', 'not a url']) {
      const refused = await run('set-origins', 'acme', 'https://fine.example', bad);
      t.equal(refused.code, 2, `${bad} exits 2`);
      t.ok(refused.stderr.includes(`"${bad}"`), `the message names ${bad}`);
    }
    t.same(companySettings((await getCompany(db, 'acme'))!).allowedOrigins, [
      'https://shop.example.com',
    ]);
  },
);

t.test('set-origins and list-origins on an unknown company are not_found', async (t) => {
  const { run } = await setup(t);
  const [set, list] = await Promise.all([
    run('set-origins', 'nope', 'https://shop.example.com'),
    run('list-origins', 'nope'),
  ]);
  t.same([set.code, codeOf(set)], [1, 'not_found']);
  t.same([list.code, codeOf(list)], [1, 'not_found']);
});

t.test('list-origins warns of a corrupt settings value and lists none', async (t) => {
  const { run, db } = await setup(t);
  await createCompany(db, 'acme', 'Acme');
  await db.updateTable('companies').set({ settings: '{oops' }).where('id', '=', 'acme').execute();
  const listed = await run('list-origins', 'acme');
  t.equal(listed.code, 0, listed.stderr);
  t.match(listed.stderr, /warning: company settings are not JSON/);
  t.match(listed.stdout, /any site/);
});

t.test('bad usage exits 2 with the usage and never touches the database', async (t) => {
  const dir = tempDir(t, 'calldocker-admin-usage-');
  const path = join(dir, 'never.db');
  const cases: string[][] = [
    [],
    ['frobnicate'],
    ['create-company', 'acme'],
    ['create-company', 'acme', 'Acme', 'Inc'],
    ['create-agent', 'acme', 'al@example.com', 'Al'],
    ['create-agent', 'acme', 'al@example.com', 'Al', '--password'],
    ['reset-password', 'acme', 'al@example.com', '--password', 'pw-12345678', '--admin'],
    ['disable-company', 'acme', '--password', 'pw-12345678'],
    ['enable-company'],
    ['enable-company', 'acme', 'extra'],
    ['disable-agent', 'acme'],
    ['disable-agent', 'acme', 'al@example.com', '--admin'],
    ['enable-agent', 'acme', 'al@example.com', 'extra'],
    ['set-role', 'acme', 'al@example.com'],
    ['set-role', 'acme', 'al@example.com', 'owner'],
    ['set-role', 'acme', 'al@example.com', 'Admin'],
    ['set-role', 'acme', 'al@example.com', 'admin', '--admin'],
    ['list-calls', 'acme', '--limit', 'lots'],
    ['list-calls', 'acme', '--limit', '0'],
    ['list-calls', 'acme', '--force'],
    ['seed-demo', 'extra'],
    ['set-origins'],
    ['set-origins', 'acme', 'ftp://x'],
    ['set-origins', 'acme', '--limit', '3'],
    ['list-origins'],
    ['list-origins', 'acme', 'https://shop.example.com'],
  ];
  const runs = await Promise.all(
    cases.map((args) => admin(args, { DATABASE_URL: `sqlite:${path}` }, dir)),
  );
  runs.forEach((r, i) => {
    t.equal(r.code, 2, `${JSON.stringify(cases[i])} exits 2`);
    t.match(r.stderr, /usage: npm run admin/, 'and shows the usage');
  });
  t.notOk(existsSync(path), 'the database file was never created');
});

t.test('seed-demo creates the demo admin once and prints its login once', async (t) => {
  const { run, db } = await setup(t);
  const first = await run('seed-demo');
  t.equal(first.code, 0, first.stderr);
  t.match(first.stdout, /Company:\s+demo$/m);
  t.match(first.stdout, /Email:\s+demo@example\.com$/m);
  t.match(first.stdout, /URL:\s+http:\/\/localhost:3000\/$/m, 'where the web host is');
  const password = /Password:\s+(\S+)$/m.exec(first.stdout)?.[1] ?? '';
  t.ok(password.length >= 16, 'a long random password');

  const second = await run('seed-demo');
  t.equal(second.code, 0, second.stderr);
  t.equal(second.stdout, '', 'the second run prints nothing');

  t.match(await db.selectFrom('companies').selectAll().execute(), [
    { id: 'demo', name: 'Demo Company', disabled: 0 },
  ]);
  const agents = await db.selectFrom('agents').selectAll().execute();
  t.equal(agents.length, 1, 'one agent');
  t.match(agents[0], { email: 'demo@example.com', role: 'admin', company_id: 'demo' });
  t.ok(await verifyPassword(password, agents[0]!.password_hash), 'the printed password works');
  t.notOk(agents[0]!.password_hash.includes(password), 'and is stored only as a hash');
});

t.test('seed-demo leaves a database that already has a company alone', async (t) => {
  const { run, db } = await setup(t);
  await createCompany(db, 'acme', 'Acme');
  const seeded = await run('seed-demo');
  t.equal(seeded.code, 0);
  t.equal(seeded.stdout, '');
  t.same(await db.selectFrom('companies').select('id').execute(), [{ id: 'acme' }]);
});

t.test('DATABASE_URL is read from .env too, and a bad one is refused', async (t) => {
  const dir = tempDir(t, 'calldocker-admin-env-');
  const path = join(dir, 'from-dotenv.db');
  writeFileSync(join(dir, '.env'), `DATABASE_URL=sqlite:${path}\nWEB_PORT=4321\n`);
  const [seeded, refused] = await Promise.all([
    admin(['seed-demo'], {}, dir),
    admin(['list-calls', 'demo'], { DATABASE_URL: 'mysql://db/calls' }, dir),
  ]);
  t.equal(seeded.code, 0, seeded.stderr);
  t.ok(existsSync(path), 'the database named in .env was created');
  t.match(seeded.stdout, /URL:\s+http:\/\/localhost:4321\/$/m, 'and WEB_PORT from .env is used');
  t.equal(refused.code, 1, 'the environment wins over .env, and mysql: is refused');
  t.match(refused.stderr, /DATABASE_URL/, 'the error names the variable');
});

t.test('no run printed a password hash', async (t) => {
  t.ok(outputs.length > 0);
  t.notOk(
    outputs.some((o) => /scrypt\$/.test(o)),
    'no output holds a hash',
  );
});
