/**
 * Bundles the web host's pages with esbuild into `dist/pages/`:
 *
 * - `assets/<entry>-<hash>.js` and `.css` for each page (the visitor's call page, the agent's
 *   dashboard), each page bundled on its own, minified, with source maps. The hash is of the
 *   content, so the host serves them with `immutable` caching;
 * - `widget.js`, the embeddable button's loader: a stable name (sites link to it), so it is
 *   served with a short cache;
 * - `client/v<major>/calldocker.js` and its map: the `@calldocker/client` browser bundle, built
 *   as the package builds it, for sites without a bundler (`<script type="module">`); the
 *   path carries the package's major version, which is the protocol version it speaks;
 * - `manifest.json`, which page uses which files: the host reads it to write its HTML;
 * - a `.br` and a `.gz` beside every file, so the host sends compressed bytes without
 *   compressing on each request (`@fastify/static`'s `preCompressed`).
 *
 * Part of `npm run build`; the test suite runs it before any test (tap's `before`), so the
 * browser tests always load what the sources say. Pages import the client library by its
 * package name, `@calldocker/client`, as a developer's page would; the workspace package's
 * `calldocker-source` export condition resolves it to the sources, so no build of the package
 * is needed first.
 */
import { mkdir, readFile, rm, writeFile, rename } from 'node:fs/promises';
import { basename, dirname, join, relative } from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { brotliCompress, constants as zlib, gzip } from 'node:zlib';
import { build } from 'esbuild';
import { buildClient, clientMajorVersion } from './build-client.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Where everything is written. */
export const PAGES_DIR = join(ROOT, 'dist', 'pages');

/** The pages, by the name the host and the manifest use. */
export const PAGE_ENTRIES = {
  visitor: join(ROOT, 'web', 'pages', 'visitor', 'main.tsx'),
  agent: join(ROOT, 'web', 'pages', 'agent', 'main.tsx'),
};
/** The button's loader: one small script, its name fixed. */
export const WIDGET_ENTRY = join(ROOT, 'web', 'pages', 'widget', 'loader.ts');

const brotli = promisify(brotliCompress);
const gzipAsync = promisify(gzip);

/** esbuild options every bundle shares. */
const common = {
  absWorkingDir: ROOT,
  bundle: true,
  platform: 'browser',
  // Browsers with RTCPeerConnection.restartIce(), as the client library itself targets.
  target: 'es2022',
  minify: true,
  sourcemap: true,
  legalComments: 'none',
  logLevel: 'silent',
  metafile: true,
  jsx: 'automatic',
  jsxImportSource: 'preact',
  // `@calldocker/client` through the workspace package's export for its sources.
  conditions: ['calldocker-source'],
  define: { 'process.env.NODE_ENV': '"production"' },
};

/** Writes `file.br` and `file.gz` beside `file`. */
async function precompress(file) {
  const body = await readFile(file);
  await Promise.all([
    brotli(body, { params: { [zlib.BROTLI_PARAM_QUALITY]: 11 } }).then((b) =>
      writeFile(`${file}.br`, b),
    ),
    gzipAsync(body, { level: 9 }).then((b) => writeFile(`${file}.gz`, b)),
  ]);
}

/**
 * Builds every page into `outDir` (default {@link PAGES_DIR}), replacing what was there, and
 * resolves with the manifest. The build goes to a fresh folder that is then renamed into
 * place, so a host reading the old manifest meanwhile never sees half a build.
 * @param {{ outDir?: string }} [options]
 */
export async function buildPages(options = {}) {
  const outDir = options.outDir ?? PAGES_DIR;
  const staging = `${outDir}.${process.pid}.${Date.now()}.tmp`;
  await rm(staging, { recursive: true, force: true });
  await mkdir(join(staging, 'assets'), { recursive: true });

  // One build per page, not one for all: the visitor and the agent are different people, so a
  // chunk of code both pages use (Preact, the client library) is never reused from the cache,
  // and splitting it off only cost the visitor's page a second request and worse compression
  // (0.4 KB gzipped of its 25 KB budget). Splitting stays on for a page's own `import()`s.
  const builds = await Promise.all(
    Object.entries(PAGE_ENTRIES).map(([name, path]) =>
      build({
        ...common,
        entryPoints: { [name]: path },
        outdir: join(staging, 'assets'),
        entryNames: '[name]-[hash]',
        chunkNames: 'chunk-[hash]',
        assetNames: '[name]-[hash]',
        format: 'esm',
        splitting: true,
      }),
    ),
  );
  const pages = {
    metafile: { outputs: Object.assign({}, ...builds.map((b) => b.metafile.outputs)) },
  };
  const clientDir = join(staging, 'client', `v${await clientMajorVersion()}`);
  const client = await buildClient({ outfile: join(clientDir, 'calldocker.js') });
  const widget = await build({
    ...common,
    entryPoints: [WIDGET_ENTRY],
    outfile: join(staging, 'widget.js'),
    // A classic script: it runs on other people's pages, async, without a module graph.
    format: 'iife',
    // The loader's internal property names end in `_` and are shortened: esbuild shortens
    // variables, not properties, and every byte of this script is paid on every page view of
    // every site that has the button. Public names (`window.CallDocker`'s, the messages' fields)
    // never end in `_`.
    mangleProps: /_$/,
    // The map is written for us but not linked: the host serves no `/widget.js.map`, so the
    // link cost every page view bytes and sent the site's developer tools to a 404.
    sourcemap: 'external',
  });

  /** @type {Record<string, { js: string, css: string[], preload: string[], bytes: number }>} */
  const manifest = {};
  for (const [file, output] of Object.entries(pages.metafile.outputs)) {
    if (output.entryPoint === undefined || !file.endsWith('.js')) continue;
    const name = Object.entries(PAGE_ENTRIES).find(
      ([, path]) => relative(ROOT, path) === output.entryPoint,
    )?.[0];
    if (name === undefined) continue;
    const css = output.cssBundle === undefined ? [] : [`/assets/${basename(output.cssBundle)}`];
    // Chunks the entry imports are fetched at once, not after the entry has been parsed.
    const preload = output.imports
      .filter((i) => i.kind === 'import-statement' && !i.external)
      .map((i) => `/assets/${basename(i.path)}`);
    manifest[name] = { js: `/assets/${basename(file)}`, css, preload, bytes: output.bytes };
  }
  for (const name of Object.keys(PAGE_ENTRIES)) {
    if (manifest[name] === undefined) throw new Error(`build-pages: no output for ${name}`);
  }
  const written = [
    ...Object.keys(pages.metafile.outputs),
    ...Object.keys(widget.metafile.outputs),
    relative(ROOT, client.file),
  ].filter((file) => !file.endsWith('.map'));
  await Promise.all(written.map((file) => precompress(join(ROOT, file))));
  await writeFile(join(staging, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);

  const old = `${outDir}.${process.pid}.old`;
  await rm(old, { recursive: true, force: true });
  await rename(outDir, old).catch((err) => {
    if (err.code !== 'ENOENT') throw err;
  });
  await rename(staging, outDir);
  await rm(old, { recursive: true, force: true });
  return manifest;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const manifest = await buildPages();
  for (const [name, { js, bytes }] of Object.entries(manifest)) {
    process.stdout.write(`${name}: ${js} (${bytes} bytes)\n`);
  }
}
