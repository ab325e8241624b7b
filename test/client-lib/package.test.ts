/**
 * `@calldocker/client` as a developer gets it: packed into a tarball, installed into an empty
 * project without the network, type-checked with `tsc --strict`, and run from Node against a
 * real signaling server, where a visitor and an agent place and answer a call (issue #12).
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import t from 'tap';
import { PROTOCOL_VERSION } from '@calldocker/client';
import { PAGES_DIR } from '../../scripts/build-pages.mjs';
import { buildServer, signToken } from '../helpers.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../', import.meta.url));
/** The whole tarball's budget (issue #12). */
const MAX_TARBALL_BYTES = 60_000;

/** What `npm pack --json` reports of one package. */
interface PackReport {
  filename: string;
  size: number;
  unpackedSize: number;
  files: Array<{ path: string; size: number }>;
}

const work = await mkdtemp(join(tmpdir(), 'calldocker-client-package-'));
t.teardown(() => rm(work, { recursive: true, force: true }));
const consumer = join(work, 'consumer');
await mkdir(consumer);

// Packing runs the package's prepack, which builds it: what is tested is what would ship.
// In the package's folder rather than with -w: npm then does not load the whole workspace.
const { stdout: packed } = await run('npm', ['pack', '--json', '--pack-destination', work], {
  cwd: join(root, 'client-lib'),
  timeout: 60_000,
});
// The build's own output comes first on stdout; the report is the JSON array after it.
const [pack] = JSON.parse(packed.slice(packed.search(/^\[/m))) as [PackReport];

await writeFile(
  join(consumer, 'package.json'),
  JSON.stringify({ name: 'consumer', private: true, type: 'module' }),
);
// No runtime dependency, no peer: nothing to fetch, so it installs offline.
await run(
  'npm',
  [
    'install',
    join(work, pack.filename),
    '--offline',
    '--no-audit',
    '--no-fund',
    '--ignore-scripts',
  ],
  { cwd: consumer, timeout: 30_000 },
);
const installed = join(consumer, 'node_modules', '@calldocker', 'client');

/** Writes a small TypeScript consumer and type-checks it with the repository's `tsc`. */
async function typecheckConsumer(): Promise<{ code: number; out: string }> {
  const dir = join(consumer, 'typed');
  await mkdir(dir);
  await writeFile(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        strict: true,
        noEmit: true,
        target: 'ES2022',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        // The client's types name browser classes (RTCPeerConnection, MediaStream).
        lib: ['ES2022', 'DOM'],
        types: [],
        // The package's own declarations are checked too: a missing package would show here.
        skipLibCheck: false,
      },
      include: ['*.ts'],
    }),
  );
  await writeFile(
    join(dir, 'consumer.ts'),
    `import {
  CallDockerError,
  ConnectionState,
  WebSocketClient,
  type QueueEntry,
  type ServerMessageOf,
} from '@calldocker/client';

const client = new WebSocketClient({ url: 'ws://localhost:8081/', token: 'jwt' });
client.on('queue_updated', ({ calls }) => {
  const first: QueueEntry | undefined = calls[0];
  void first?.position.toFixed();
});
client.on('call_started', (msg: ServerMessageOf<'call_started'>) => void msg.callId);
const state: ConnectionState = client.state;
const result = client.requestCall('video').then(({ callId, status }) => [callId, status] as const);
void result.catch((err: unknown) => err instanceof CallDockerError && err.code === 'conflict');
void state;
// @ts-expect-error: there is no such call type
void client.requestCall('fax');
`,
  );
  // The published types against the sources' types, both ways: the resolved protocol types
  // must say exactly what the schemas say.
  const source = pathToFileURL(join(root, 'client-lib', 'index.ts')).pathname.replace(
    /\.ts$/,
    '.js',
  );
  await writeFile(
    join(dir, 'same-as-sources.ts'),
    `import type * as Pub from '@calldocker/client';
import type * as Src from ${JSON.stringify(source)};

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type EachServer = { [K in Src.ServerMessageType]: Same<Pub.ServerMessageOf<K>, Src.ServerMessageOf<K>> };
type EachClient = { [K in Src.ClientMessageType]: Same<Pub.ClientMessageOf<K>, Src.ClientMessageOf<K>> };
type EachAck = { [K in Src.AckResultType]: Same<Pub.AckResultOf<K>, Src.AckResultOf<K>> };
export const checks: Array<true> = [
  true as EachServer[Src.ServerMessageType],
  true as EachClient[Src.ClientMessageType],
  true as EachAck[Src.AckResultType],
  true as Same<Pub.ServerMessageType, Src.ServerMessageType>,
  true as Same<Pub.ClientMessageType, Src.ClientMessageType>,
  true as Same<Pub.ServerMessage, Src.ServerMessage>,
  true as Same<Pub.ClientMessage, Src.ClientMessage>,
  true as Same<Pub.QueueEntry, Src.QueueEntry>,
  true as Same<Pub.AgentSummary, Src.AgentSummary>,
  true as Same<Pub.UserSummary, Src.UserSummary>,
  true as Same<Pub.IceServer, Src.IceServer>,
  true as Same<Pub.CallState, Src.CallState>,
  true as Same<Pub.Role, Src.Role>,
];
`,
  );
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  return run(process.execPath, [tsc, '-p', dir], { cwd: dir, timeout: 60_000 }).then(
    () => ({ code: 0, out: '' }),
    (err: { code: number; stdout: string }) => ({ code: err.code, out: err.stdout }),
  );
}

// Started now, checked below: it runs while the other tests do.
const typechecked = typecheckConsumer();

t.test('the tarball holds the built package and nothing else', async (t) => {
  t.match(pack.filename, /^calldocker-client-\d+\.\d+\.\d+\.tgz$/);
  t.ok(pack.size < MAX_TARBALL_BYTES, `${pack.size} bytes packed`);
  const files = pack.files.map((f) => f.path).sort();
  t.ok(
    files.every((f) => f === 'package.json' || f === 'README.md' || /^dist\/[\w.-]+$/.test(f)),
    `only package.json, README.md and dist/*: ${files.join(', ')}`,
  );
  for (const f of [
    'dist/index.js',
    'dist/index.d.ts',
    'dist/calldocker.js',
    'dist/calldocker.js.map',
  ]) {
    t.ok(files.includes(f), f);
  }
  t.notOk(
    files.some((f) => /\.ts$/.test(f) && !f.endsWith('.d.ts')),
    'no TypeScript sources',
  );
  t.notOk(
    files.some((f) => /test|bench|server|tsconfig|protocol\.js/.test(f)),
    'no test, benchmark, server, config or schema file',
  );
});

t.test('package.json: ESM, types first, no dependency, version = protocol', async (t) => {
  const pkg = JSON.parse(await readFile(join(installed, 'package.json'), 'utf8')) as Record<
    string,
    unknown
  > & { exports: Record<string, unknown>; version: string };
  t.equal(pkg.name, '@calldocker/client');
  t.equal(pkg.type, 'module');
  t.equal(pkg.sideEffects, false);
  t.same(pkg.engines, { node: '>=20' });
  t.equal(Number(pkg.version.split('.')[0]), PROTOCOL_VERSION, 'major version is the protocol');
  for (const field of ['dependencies', 'peerDependencies', 'optionalDependencies']) {
    t.equal(pkg[field], undefined, `no ${field}`);
  }
  const main = pkg.exports['.'] as Record<string, string>;
  // TypeScript takes the first condition that matches: `types` before `import`.
  t.same(Object.keys(main).slice(-2), ['types', 'import']);
  t.same(main, {
    'calldocker-source': './index.ts',
    types: './dist/index.d.ts',
    import: './dist/index.js',
  });
});

t.test('the browser bundle is the one the web host serves', async (t) => {
  const served = await readFile(join(PAGES_DIR, 'client', `v${PROTOCOL_VERSION}`, 'calldocker.js'));
  t.ok(served.equals(await readFile(join(installed, 'dist', 'calldocker.js'))));
});

t.test('a TypeScript consumer type-checks with --strict and no other package', async (t) => {
  const result = await typechecked;
  t.equal(result.code, 0, result.out);
  const pkgDir = join(installed, 'dist');
  t.notMatch(
    (await readFile(join(pkgDir, 'protocol.d.ts'), 'utf8')) +
      (await readFile(join(pkgDir, 'index.d.ts'), 'utf8')),
    /@sinclair\/typebox/,
    'the declarations name no other package',
  );
});

t.test('a Node consumer places and answers a call through a real server', async (t) => {
  const { wsUrl } = await buildServer(t);
  await writeFile(
    join(consumer, 'call.mjs'),
    `import { WebSocketClient, ConnectionState } from '@calldocker/client';
const { default: WebSocket } = await import(process.env.WS_MODULE);
const { WS_URL: url, AGENT_TOKEN, VISITOR_TOKEN } = process.env;

const agent = new WebSocketClient({ url, token: AGENT_TOKEN, WebSocket });
const visitor = new WebSocketClient({ url, token: VISITOR_TOKEN, WebSocket });
const started = (client) => new Promise((resolve) => client.on('call_started', resolve));
const ringing = new Promise((resolve) => agent.on('call_incoming', resolve));
await agent.connect();
await visitor.connect();
const both = Promise.all([started(visitor), started(agent)]);
const request = await visitor.requestCall('audio', { agentId: 'agent-pkg' });
const incoming = await ringing;
await agent.acceptCall(incoming.callId);
const [seenByVisitor, seenByAgent] = await both;
const states = [agent.state, visitor.state];
agent.disconnect();
visitor.disconnect();
console.log(JSON.stringify({
  request,
  incoming: incoming.callId,
  visitorSees: { callId: seenByVisitor.callId, peer: seenByVisitor.peer.id },
  agentSees: { callId: seenByAgent.callId, peer: seenByAgent.peer.id },
  connected: states.every((s) => s === ConnectionState.Connected),
}));
`,
  );
  const require = createRequire(import.meta.url);
  // Asynchronously: the server under test runs in this process and must keep answering.
  const { stdout } = await run(process.execPath, ['call.mjs'], {
    cwd: consumer,
    timeout: 15_000,
    env: {
      ...process.env,
      // Not this process's --conditions: the consumer resolves the package as published.
      NODE_OPTIONS: '',
      WS_MODULE: pathToFileURL(require.resolve('ws')).href,
      WS_URL: wsUrl,
      AGENT_TOKEN: signToken({ sub: 'agent-pkg', role: 'agent', name: 'Ada Agent' }),
      VISITOR_TOKEN: signToken({ sub: 'visitor-pkg', name: 'Vic Visitor' }),
    },
  });
  const out = JSON.parse(stdout.trim()) as {
    request: { callId: string; status: string };
    incoming: string;
    visitorSees: { callId: string; peer: string };
    agentSees: { callId: string; peer: string };
    connected: boolean;
  };
  const { callId } = out.request;
  t.equal(out.request.status, 'ringing');
  t.equal(out.incoming, callId, 'the agent is rung for the call');
  t.same(out.visitorSees, { callId, peer: 'agent-pkg' }, 'the visitor sees call_started');
  t.same(out.agentSees, { callId, peer: 'visitor-pkg' }, 'the agent sees call_started');
  t.ok(out.connected);
});
