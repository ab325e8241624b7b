/**
 * Builds the `@calldocker/client` package (the workspace `client-lib/`) into `client-lib/dist/`:
 *
 * - `index.js` and the modules it imports (ESM, one file per source), with `.d.ts` beside each;
 *   `protocol.d.ts` holds the wire types resolved by `scripts/client-types.mjs`, so the
 *   declarations need no other package, and `protocol.js` (TypeBox schemas, for the server) is
 *   not part of the package;
 * - `calldocker.js`, the whole library as one minified browser ES module with its source map:
 *   what a page without a bundler loads (the web host serves the same build at
 *   `/client/v1/calldocker.js`) and what the browser tests load.
 *
 * Run by `npm run build -w @calldocker/client` and by its `prepack`; `buildClient()` alone
 * (the bundle) is what `scripts/build-pages.mjs` and the browser tests call.
 */
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import { build, transform } from 'esbuild';
import ts from 'typescript';
import { resolvedProtocolTypes } from './client-types.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The package's folder (the workspace). */
export const CLIENT_DIR = join(ROOT, 'client-lib');
/** Where the package build writes. */
export const CLIENT_DIST = join(CLIENT_DIR, 'dist');
/** The browser bundle inside the package; its map is beside it. */
export const CLIENT_BUNDLE = join(CLIENT_DIST, 'calldocker.js');

/**
 * The package's major version, which is the protocol version it speaks: the web host serves
 * the bundle under `/client/v<major>/`.
 * @returns {Promise<number>}
 */
export async function clientMajorVersion() {
  const pkg = JSON.parse(await readFile(join(CLIENT_DIR, 'package.json'), 'utf8'));
  return Number(String(pkg.version).split('.')[0]);
}

/**
 * Bundles `client-lib/index.ts` into one browser ES module (minified, with a source map) at
 * `outfile` (default {@link CLIENT_BUNDLE}) and resolves with its path and size in bytes.
 * @param {{ outfile?: string }} [options]
 * @returns {Promise<{ file: string, bytes: number }>}
 */
export async function buildClient(options = {}) {
  const outfile = options.outfile ?? CLIENT_BUNDLE;
  const result = await build({
    entryPoints: [join(CLIENT_DIR, 'index.ts')],
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    // Browsers with RTCPeerConnection.restartIce() and argument-less setLocalDescription().
    target: 'es2022',
    minify: true,
    sourcemap: true,
    legalComments: 'none',
    logLevel: 'silent',
    metafile: true,
  });
  const output = Object.entries(result.metafile.outputs).find(([file]) => file.endsWith('.js'));
  return { file: outfile, bytes: output?.[1].bytes ?? 0 };
}

/** Compiles the package with its `tsconfig.json`; throws with the compiler's messages. */
function compile() {
  const host = {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic(diagnostic) {
      throw new Error(ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n'));
    },
  };
  const config = ts.getParsedCommandLineOfConfigFile(join(CLIENT_DIR, 'tsconfig.json'), {}, host);
  if (config === undefined) throw new Error('build-client: cannot read client-lib/tsconfig.json');
  const program = ts.createProgram({ rootNames: config.fileNames, options: config.options });
  const emitted = program.emit();
  const diagnostics = [...ts.getPreEmitDiagnostics(program), ...emitted.diagnostics];
  if (diagnostics.length > 0) {
    throw new Error(
      ts.formatDiagnostics(diagnostics, {
        getCanonicalFileName: (f) => f,
        getCurrentDirectory: () => ROOT,
        getNewLine: () => '\n',
      }),
    );
  }
  return program;
}

/**
 * Builds the whole package into {@link CLIENT_DIST}, replacing what was there.
 * @returns {Promise<{ bundleBytes: number }>}
 */
export async function buildClientPackage() {
  await rm(CLIENT_DIST, { recursive: true, force: true });
  const program = compile();
  await writeFile(
    join(CLIENT_DIST, 'protocol.d.ts'),
    resolvedProtocolTypes(program, join(CLIENT_DIR, 'protocol.ts')),
  );
  // Nothing the entry imports at run time reaches it (the client imports only its types).
  await rm(join(CLIENT_DIST, 'protocol.js'));
  // The modules' JSDoc is in the .d.ts beside them, where editors read it; in the JavaScript it
  // only doubled the tarball's code. esbuild keeps the code as written, minus the comments.
  const modules = (await readdir(CLIENT_DIST)).filter((f) => f.endsWith('.js'));
  await Promise.all(
    modules.map(async (name) => {
      const file = join(CLIENT_DIST, name);
      const { code } = await transform(await readFile(file, 'utf8'), {
        loader: 'js',
        format: 'esm',
        target: 'es2022',
        legalComments: 'none',
      });
      await writeFile(file, code);
    }),
  );
  const { bytes } = await buildClient();
  return { bundleBytes: bytes };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { bundleBytes } = await buildClientPackage();
  process.stdout.write(`client-lib/dist: calldocker.js ${bundleBytes} bytes\n`);
}
