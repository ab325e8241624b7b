import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { CALL_STATES, CloseCode, ErrorCode } from '../../client-lib/constants.js';
import { ClientMessages, ServerMessages } from '../../client-lib/protocol.js';
import { generateProtocolDoc, main, PROTOCOL_DOC_PATH } from '../../scripts/gen-protocol-doc.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const generated = generateProtocolDoc();

/** The text of a `## title` section, up to the next `## ` heading. */
function section(doc: string, title: string): string {
  const start = doc.indexOf(`\n## ${title}\n`);
  if (start < 0) return '';
  const end = doc.indexOf('\n## ', start + 1);
  return end < 0 ? doc.slice(start) : doc.slice(start, end);
}

t.test('the committed docs/PROTOCOL.md is exactly what the schemas generate', async (t) => {
  const committed = readFileSync(PROTOCOL_DOC_PATH, 'utf8');
  t.ok(
    committed === generated,
    'docs/PROTOCOL.md is out of date: run `npm run docs:protocol` and commit the result',
  );
});

t.test('generating twice gives the same text', async (t) => {
  t.equal(generateProtocolDoc(), generated);
});

t.test('every client message has a heading in the client messages section', async (t) => {
  const client = section(generated, 'Client messages');
  for (const type of Object.keys(ClientMessages)) {
    t.match(client, new RegExp(`^### \`${type}\`$`, 'm'), type);
  }
});

t.test('every server message has a heading in the server messages section', async (t) => {
  const server = section(generated, 'Server messages');
  for (const type of Object.keys(ServerMessages)) {
    t.match(server, new RegExp(`^### \`${type}\`$`, 'm'), type);
  }
});

t.test('every error code, close code and call state is documented in its table', async (t) => {
  const errors = section(generated, 'Error codes');
  for (const code of Object.values(ErrorCode)) t.match(errors, `| \`${code}\` |`, code);
  const closes = section(generated, 'Close codes');
  for (const code of Object.values(CloseCode)) t.match(closes, `| ${code} |`, String(code));
  for (const state of CALL_STATES) t.match(generated, `| \`${state}\` |`, state);
});

t.test('the v1 extensions are marked in the message index', async (t) => {
  const server = section(generated, 'Server messages');
  for (const type of ['room_left', 'call_answered_elsewhere', 'call_waiting', 'pong']) {
    t.match(
      server,
      new RegExp(`^\\| \\[\`${type}\`\\]\\(#${type}\\) \\| .* \\| yes \\|$`, 'm'),
      type,
    );
  }
  const client = section(generated, 'Client messages');
  t.match(client, /^\| \[`ping`\]\(#ping\) \| .* \| yes \|$/m);
});

t.test('the output names no date, so it does not change from run to run', async (t) => {
  t.notMatch(generated, /\b20\d\d-\d\d-\d\d\b/);
});

/** Runs `main` with console output captured instead of printed. */
function runMain(argv: string[]): { code: number; out: string; err: string } {
  const out: string[] = [];
  const err: string[] = [];
  const { log, error } = console;
  console.log = (...args: unknown[]) => void out.push(args.join(' '));
  console.error = (...args: unknown[]) => void err.push(args.join(' '));
  try {
    return { code: main(argv), out: out.join('\n'), err: err.join('\n') };
  } finally {
    console.log = log;
    console.error = error;
  }
}

t.test('--check accepts a current file and refuses a stale one with exit 1', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'protocol-doc-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const current = join(dir, 'current.md');
  const stale = join(dir, 'stale.md');
  const staleText = generated.replace('## Relay', '## Relays');
  writeFileSync(current, generated);
  writeFileSync(stale, staleText);
  t.equal(runMain(['--check', current]).code, 0);
  const bad = runMain(['--check', stale]);
  t.equal(bad.code, 1);
  t.match(bad.err, /out of date/);
  t.equal(readFileSync(stale, 'utf8'), staleText, 'check writes nothing');
  t.equal(runMain(['--check', join(dir, 'missing.md')]).code, 1);
});

t.test('without --check the file is written, and an unknown flag is a usage error', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'protocol-doc-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const target = join(dir, 'PROTOCOL.md');
  t.equal(runMain([target]).code, 0);
  t.equal(readFileSync(target, 'utf8'), generated);
  t.equal(runMain(['--chek', target]).code, 2);
});

t.test('the npm script checks the committed file from the command line', async (t) => {
  const result = spawnSync(
    process.execPath,
    ['--import', 'tsx', 'scripts/gen-protocol-doc.ts', '--check'],
    { cwd: root, encoding: 'utf8' },
  );
  t.equal(result.status, 0, result.stderr);
});
