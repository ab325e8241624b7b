/**
 * Bundles the client library (`client-lib/index.ts`) into one browser-ready ES module,
 * `dist/client-lib/calldocker.js` (minified, with a source map). This is "the built library":
 * what a site embeds, and the only code the browser test pages load.
 *
 * Run it with `npm run build:client`, or import `buildClient()` (the browser tests do).
 */
import { dirname, join } from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Where the bundle is written. */
export const CLIENT_BUNDLE = join(ROOT, 'dist', 'client-lib', 'calldocker.js');

/**
 * Builds the bundle and resolves with its path and size in bytes.
 * @returns {Promise<{ file: string, bytes: number }>}
 */
export async function buildClient() {
  const result = await build({
    entryPoints: [join(ROOT, 'client-lib', 'index.ts')],
    outfile: CLIENT_BUNDLE,
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
  return { file: CLIENT_BUNDLE, bytes: output?.[1].bytes ?? 0 };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { file, bytes } = await buildClient();
  process.stdout.write(`${file.slice(ROOT.length + 1)}: ${bytes} bytes\n`);
}
