/**
 * Serves the browser tests' call page (`pages/call.html`, `pages/call-page.js`) with the client
 * library bundled as a site would embed it (`/calldocker.js`, with its source map), from a
 * `node:http` server of its own origin on 127.0.0.1, closed at teardown.
 *
 * Each test process bundles the library once into a temporary directory of its own: test files
 * run in parallel, and a bundle written to one shared path could be read half-written.
 */
import { rmSync } from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildClient } from '../../scripts/build-client.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const PAGES = join(HERE, 'pages');

/** What the helpers need of tap's `t`. */
interface Teardown {
  teardown(fn: () => unknown): void;
}

let bundled: Promise<string> | undefined;

/** Bundles the library once per process with `scripts/build-client.mjs`; resolves its path. */
function bundle(): Promise<string> {
  bundled ??= (async () => {
    const dir = await mkdtemp(join(tmpdir(), 'calldocker-test-client-'));
    // 'exit' runs synchronous code only.
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    const { file } = await buildClient({ outfile: join(dir, 'calldocker.js') });
    return file;
  })();
  return bundled;
}

/** Starts the server; resolves with its origin (`http://127.0.0.1:<port>`). */
export async function serveCallPage(t: Teardown): Promise<string> {
  const client = await bundle();
  const files: Record<string, [path: string, type: string]> = {
    '/call.html': [join(PAGES, 'call.html'), 'text/html'],
    '/call-page.js': [join(PAGES, 'call-page.js'), 'text/javascript'],
    '/calldocker.js': [client, 'text/javascript'],
    '/calldocker.js.map': [`${client}.map`, 'application/json'],
  };
  const server = createServer((req, res) => {
    const file = files[new URL(req.url ?? '/', 'http://localhost').pathname];
    if (file === undefined) return void res.writeHead(404).end();
    readFile(file[0]).then(
      (body) => res.writeHead(200, { 'content-type': file[1] }).end(body),
      () => res.writeHead(500).end(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return `http://127.0.0.1:${address.port}`;
}
