/**
 * `npm run test:cluster` and `npm run test:postgres`: suites run again on what a scaled-out
 * deployment runs on, one named re-run per argument.
 *
 * - `cluster`: the signaling suites (`test/server/`), each test server a two-node cluster on the
 *   Redis at `REDIS_URL` (`CALLDOCKER_TEST_CLUSTER=2`, see `buildServer` in `test/helpers.ts`):
 *   the two parties of a call then usually sit on different nodes, so every behaviour those
 *   suites pin down is also checked across nodes. Tests that inspect what is each node's own
 *   opt out one by one with `singleNode`, and say so in the TAP output.
 * - `postgres`: the storage suites (the data layer, the call log, the web host's REST API, the
 *   access guard), each test on a schema of its own in the PostgreSQL at `DATABASE_URL`
 *   (`CALLDOCKER_TEST_DATABASE=postgres`, see `test/support/test-database.ts`). Tests about the
 *   SQLite file itself skip, and say so.
 *
 * Without the service it needs, a re-run runs nothing, says so and exits 0, as the suites that
 * need Redis or PostgreSQL skip without them; CI sets both, and fails the step when tap prints
 * no summary.
 *
 * A script rather than a line in package.json: setting a variable and quoting globs differ
 * between shells, and the lists of files left out want their reasons beside them. Arguments
 * after the re-run's name are passed to tap; any that is not an option (a test file) replaces
 * the default selection.
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { constants } from 'node:os';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const JOBS = 2;

/**
 * The re-runs: what they take (folders, searched for `*.test.ts`, and single files), the names
 * of files and folders they leave out (with why), the variable that switches the helpers, and
 * the service they need.
 */
const RERUNS = {
  cluster: {
    take: ['test/server'],
    // Files that build no signaling server, so a cluster re-run would run them exactly as
    // `npm test` does: nothing in them reads `CALLDOCKER_TEST_CLUSTER`. Files where only some
    // tests need one node stay in, and those tests say `singleNode`.
    leaveOut: new Map([
      [
        'call-log-restart.test.ts',
        'spawns the real entry with an environment of its own (no REDIS_URL): a crash and ' +
          'restart of one node on one SQLite file',
      ],
      ['call-log-writer.test.ts', 'the call-log writer and its worker thread alone, no server'],
      ['redis-keys.test.ts', 'a pure function (the key escape), no server and no Redis'],
      ['state-store.test.ts', 'already runs its contract against both stores, Redis included'],
      ['window-limiter.test.ts', 'a pure class on an injected clock, no server'],
    ]),
    env: { CALLDOCKER_TEST_CLUSTER: '2' },
    service: 'REDIS_URL',
    serves: (url) => url !== '',
    example: 'REDIS_URL=redis://127.0.0.1:6379',
    what: 'cluster mode: 2 nodes per test server',
  },
  postgres: {
    // Every file that opens a database through the storage helpers (`test/db/helpers.ts`,
    // `test/web/helpers.ts`); the rest of `test/server` and `test/common` keeps none.
    take: [
      'test/db',
      'test/web',
      'test/auth',
      'test/common/origin.test.ts',
      'test/server/admission.test.ts',
      'test/server/call-log.test.ts',
      'test/server/call-log-writer.test.ts',
      'test/server/revocation.test.ts',
    ],
    leaveOut: new Map([
      ['migrations.test.ts', 'about the SQLite file; postgres.test.ts is its PostgreSQL twin'],
      ['postgres.test.ts', '`npm test` runs it whenever DATABASE_URL is PostgreSQL'],
      ['verify.test.ts', 'token verification alone, no database'],
      ['pages', 'browser tests of the pages, whose hosts run on SQLite files'],
    ]),
    env: { CALLDOCKER_TEST_DATABASE: 'postgres' },
    service: 'DATABASE_URL',
    serves: (url) => /^postgres(ql)?:\/\//i.test(url),
    example: 'DATABASE_URL=postgres://postgres@127.0.0.1:5432/test',
    what: 'storage on PostgreSQL, a schema per test',
  },
};

const [name, ...args] = process.argv.slice(2);
const rerun = RERUNS[name ?? ''];
if (rerun === undefined) {
  process.stderr.write(`usage: test-again.mjs ${Object.keys(RERUNS).join('|')} [tap args]\n`);
  process.exit(2);
}

const isDir = (path) => statSync(join(ROOT, path)).isDirectory();

/** The `*.test.ts` files of `take`, relative to the repository root, `/`-separated for tap. */
function testFiles(take) {
  const out = [];
  for (const path of take) {
    if (rerun.leaveOut.has(basename(path))) continue;
    if (!isDir(path)) out.push(path);
    else {
      const inside = readdirSync(join(ROOT, path)).map((entry) => `${path}/${entry}`);
      out.push(...testFiles(inside.filter((p) => p.endsWith('.test.ts') || isDir(p))));
    }
  }
  return out.sort();
}

const service = process.env[rerun.service] ?? '';
if (!rerun.serves(service)) {
  // TAP's own way of saying a plan ran nothing, as the suites that need the service skip.
  process.stdout.write(
    `1..0 # SKIP ${rerun.service} is not set for this re-run; run with e.g. ` +
      `${rerun.example} npm run test:${name}\n`,
  );
  process.exit(0);
}

const files = args.some((arg) => !arg.startsWith('-')) ? [] : testFiles(rerun.take);
if (files.length > 0) {
  const left = [...rerun.leaveOut].map(([file, why]) => `#   ${file}: ${why}\n`).join('');
  process.stdout.write(`# ${rerun.what}; left out:\n${left}`);
}

// tap's own entry, run by this Node: `node_modules/.bin/tap` is a shell script on Windows.
const tapPackage = createRequire(import.meta.url).resolve('tap/package.json');
const tapBin = join(dirname(tapPackage), JSON.parse(readFileSync(tapPackage, 'utf8')).bin.tap);
const child = spawn(
  process.execPath,
  [tapBin, `--jobs=${JOBS}`, '--disable-coverage', ...files, ...args],
  { cwd: ROOT, stdio: 'inherit', env: { ...process.env, ...rerun.env } },
);
// A CI bound (`timeout`) or Ctrl-C stops tap too, which stops its test processes.
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => child.kill(signal));
}
child.on('exit', (code, signal) =>
  process.exit(code ?? 128 + (signal === null ? 0 : constants.signals[signal])),
);
