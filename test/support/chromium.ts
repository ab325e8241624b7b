/**
 * Debian's Chromium as the browser tests and the browser benchmarks run it: where it is, and
 * the flags for a headless run on a shared machine without a display, camera or microphone.
 * Used by the browser tests' harness (`test/e2e/harness.ts`) and the browser benchmark
 * (`bench/ring.ts`).
 */
import { access, constants } from 'node:fs/promises';
import { delimiter, join } from 'node:path';

/** The flags the guide names, for a headless Chromium on this kind of machine. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--use-fake-device-for-media-stream',
];

/** Grants camera, microphone and screen without asking (the screen without a picker). */
export const GRANT_ARGS = [
  '--use-fake-ui-for-media-stream',
  '--auto-select-desktop-capture-source=Entire screen',
];

/** How to get Chromium, for the messages of whatever has to go without it. */
export const CHROMIUM_HOW =
  "install Debian's Chromium (`apt-get install -y chromium`) or set CHROMIUM_PATH";

/** Debian's Chromium: CHROMIUM_PATH, else `chromium` on PATH. */
export async function findChromium(): Promise<string | undefined> {
  const dirs = (process.env['PATH'] ?? '').split(delimiter).filter((dir) => dir !== '');
  for (const file of [process.env['CHROMIUM_PATH'], ...dirs.map((d) => join(d, 'chromium'))]) {
    if (file === undefined || file === '') continue;
    try {
      await access(file, constants.X_OK);
      return file;
    } catch {
      // not there; try the next one
    }
  }
  return undefined;
}
