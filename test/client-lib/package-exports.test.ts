/**
 * The published client: `package.json` `exports` maps `calldocker/client` to the built
 * `dist/client-lib/` (ESM with `.d.ts`), and what it loads has no runtime dependency.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import t from 'tap';
import { buildServer, signToken } from '../helpers.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const distDir = join(root, 'dist/client-lib');
const entry = join(distDir, 'index.js');

/** The newest modification time of the client's sources, in ms. */
function newestSourceMs(): number {
  const dir = join(root, 'client-lib');
  return Math.max(
    ...readdirSync(dir)
      .filter((name) => name.endsWith('.ts'))
      .map((name) => statSync(join(dir, name)).mtimeMs),
  );
}

// A stale build would test old code, so rebuild when a source is newer than the entry too.
if (!existsSync(entry) || statSync(entry).mtimeMs < newestSourceMs()) {
  execFileSync('npm', ['run', 'build'], { cwd: root, stdio: 'ignore' });
}

/** Module specifiers a compiled ESM file imports or re-exports (static and dynamic). */
function specifiers(source: string): string[] {
  const found: string[] = [];
  const patterns = [
    /^\s*(?:import|export)\s[^'"]*?\sfrom\s*['"]([^'"]+)['"]/gm,
    /^\s*import\s*['"]([^'"]+)['"]/gm,
    /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g,
  ];
  for (const pattern of patterns) {
    for (const match of source.matchAll(pattern)) found.push(match[1]!);
  }
  return found;
}

/** Every file reachable from `start` through relative imports, and the bare specifiers seen. */
function importGraph(start: string): { files: Set<string>; bare: Set<string> } {
  const files = new Set<string>();
  const bare = new Set<string>();
  const todo = [start];
  while (todo.length > 0) {
    const file = todo.pop()!;
    if (files.has(file)) continue;
    files.add(file);
    for (const spec of specifiers(readFileSync(file, 'utf8'))) {
      if (spec.startsWith('.')) todo.push(resolve(dirname(file), spec));
      else bare.add(spec);
    }
  }
  return { files, bare };
}

t.test('package.json exports calldocker/client as ESM with types from dist', async (t) => {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    name: string;
    type: string;
    exports: Record<string, Record<string, string>>;
  };
  t.equal(pkg.name, 'calldocker');
  t.equal(pkg.type, 'module');
  t.same(pkg.exports['./client'], {
    types: './dist/client-lib/index.d.ts',
    import: './dist/client-lib/index.js',
  });
  // `types` must come first: TypeScript uses the first condition that matches.
  t.equal(Object.keys(pkg.exports['./client']!)[0], 'types');
  t.ok(existsSync(join(root, 'dist/client-lib/index.d.ts')), 'index.d.ts is built');
  t.ok(existsSync(entry), 'index.js is built');
});

t.test('node resolves calldocker/client by self-reference and the client connects', async (t) => {
  const { wsUrl } = await buildServer(t);
  const token = signToken({ sub: 'v-exports', role: 'visitor' });
  const script = `
    import { WebSocketClient, CallSession, ConnectionState } from 'calldocker/client';
    import { WebSocket } from 'ws';
    const client = new WebSocketClient({ url: process.env.WS_URL, token: process.env.TOKEN, WebSocket });
    const before = client.state;
    const established = await client.connect();
    const after = client.state;
    client.disconnect();
    console.log(JSON.stringify({
      client: typeof WebSocketClient,
      session: typeof CallSession,
      states: Object.values(ConnectionState),
      before,
      after,
      role: established.user.role,
    }));
  `;
  // Asynchronously: the server under test runs in this process and must keep answering.
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--input-type=module', '-e', script],
    { cwd: root, env: { ...process.env, WS_URL: wsUrl, TOKEN: token }, timeout: 15_000 },
  );
  const out = JSON.parse(stdout.trim()) as Record<string, unknown>;
  t.same(out, {
    client: 'function',
    session: 'function',
    states: ['disconnected', 'connecting', 'connected', 'reconnecting'],
    before: 'disconnected',
    after: 'connected',
    role: 'visitor',
  });
});

t.test('the built client loads no package at run time, so no TypeBox either', async (t) => {
  const { files, bare } = importGraph(entry);
  t.same([...bare], [], 'bare imports reachable from dist/client-lib/index.js');
  t.ok(files.size >= 6, `followed ${files.size} files from the entry`);
  for (const file of files) {
    t.notMatch(readFileSync(file, 'utf8'), /@sinclair\/typebox/, file.slice(root.length));
  }
  // protocol.js (the schemas) is built for the server; the client entry must not pull it in.
  t.notOk(files.has(join(distDir, 'protocol.js')), 'protocol.js is not reachable');
});
