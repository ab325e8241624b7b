/**
 * `npm run test:cluster`: the signaling suites (`test/server/`) again, each test server a
 * two-node cluster on the Redis at `REDIS_URL` (`CALLDOCKER_TEST_CLUSTER=2`, see `buildServer`
 * in `test/helpers.ts`): the two parties of a call then usually sit on different nodes, so every
 * behaviour those suites pin down is also checked across nodes. Tests that inspect what is each
 * node's own opt out one by one with `singleNode`, and say so in the TAP output.
 *
 * Without `REDIS_URL` it runs nothing, says so and exits 0, as the Redis suites skip without it;
 * CI sets it, and fails the step when tap prints no summary.
 *
 * A script rather than a line in package.json: setting a variable and quoting globs differ
 * between shells, and the list of files left out wants its reasons beside it. Arguments are
 * passed to tap; any that is not an option (a test file) replaces the default selection.
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, sep } from 'node:path';
import { constants } from 'node:os';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const SUITE_DIR = join(ROOT, 'test', 'server');
const NODES = '2';
const JOBS = 2;

/**
 * Files of `test/server/` that build no signaling server, so a cluster re-run would run them
 * exactly as `npm test` does: nothing in them reads `CALLDOCKER_TEST_CLUSTER`. Files where only
 * some tests need one node stay in, and those tests say `singleNode`.
 */
const EXCLUDED = new Map([
  [
    'call-log-restart.test.ts',
    'spawns the real entry with an environment of its own (no REDIS_URL): a crash and restart ' +
      'of one node on one SQLite file',
  ],
  ['call-log-writer.test.ts', 'the call-log writer and its worker thread alone, on SQLite files'],
  ['redis-keys.test.ts', 'a pure function (the key escape), no server and no Redis'],
  ['state-store.test.ts', 'already runs its contract against both stores, Redis included'],
  ['window-limiter.test.ts', 'a pure class on an injected clock, no server'],
]);

/** Every `*.test.ts` under `dir`, relative to the repository root, `/`-separated for tap. */
function testFiles(dir) {
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...testFiles(path));
    else if (entry.name.endsWith('.test.ts') && !EXCLUDED.has(entry.name)) {
      out.push(relative(ROOT, path).split(sep).join('/'));
    }
  }
  return out.sort();
}

const redisUrl = process.env['REDIS_URL'];
if (redisUrl === undefined || redisUrl === '') {
  // TAP's own way of saying a plan ran nothing, as the Redis suites' skip does.
  process.stdout.write(
    '1..0 # SKIP REDIS_URL is not set: the cluster re-run needs a Redis; run with e.g. ' +
      'REDIS_URL=redis://127.0.0.1:6379 npm run test:cluster\n',
  );
  process.exit(0);
}

const args = process.argv.slice(2);
const files = args.some((arg) => !arg.startsWith('-')) ? [] : testFiles(SUITE_DIR);
if (files.length > 0) {
  const left = [...EXCLUDED].map(([file, why]) => `#   ${file}: ${why}\n`).join('');
  process.stdout.write(
    `# cluster mode: ${NODES} nodes per test server; left out (no server to cluster):\n${left}`,
  );
}

// tap's own entry, run by this Node: `node_modules/.bin/tap` is a shell script on Windows.
const tapPackage = createRequire(import.meta.url).resolve('tap/package.json');
const tapBin = join(dirname(tapPackage), JSON.parse(readFileSync(tapPackage, 'utf8')).bin.tap);
const child = spawn(
  process.execPath,
  [tapBin, `--jobs=${JOBS}`, '--disable-coverage', ...files, ...args],
  {
    cwd: ROOT,
    stdio: 'inherit',
    env: { ...process.env, CALLDOCKER_TEST_CLUSTER: NODES },
  },
);
// A CI bound (`timeout`) or Ctrl-C stops tap too, which stops its test processes.
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => child.kill(signal));
}
child.on('exit', (code, signal) =>
  process.exit(code ?? 128 + (signal === null ? 0 : constants.signals[signal])),
);
