/**
 * The end-to-end harness: both servers run from their real entries (`server/index.ts`,
 * `web/index.ts`, under tsx) in their own processes, on a fresh SQLite file with one company
 * and its agents, and Debian's Chromium drives the pages the web host serves (built by tap's
 * `before` step, `scripts/build-pages.mjs`).
 *
 * Without Chromium the browser suites skip, loudly, saying how to run them; under CI a missing
 * Chromium fails instead (`.ci/run` installs it).
 */
import { mkdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import type { Test } from 'tap';
import { CHROMIUM_ARGS, CHROMIUM_HOW, findChromium, GRANT_ARGS } from '../support/chromium.js';
import { launchStack, type Stack, type StackOptions } from '../support/stack.js';

// The browser benchmark (`npm run bench -- --only ring`) runs Chromium and the servers the same
// way, so both live in test/support/; the suites keep importing them from here.
export { CHROMIUM_ARGS, findChromium, GRANT_ARGS };
export type { Stack, StackAgent, StackOptions } from '../support/stack.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** Where the tests save screenshots when `SCREENSHOTS=1` (committed, shown in the README). */
export const SCREENSHOT_DIR = join(ROOT, 'docs', 'screenshots');
/** How long a condition in a page may take to come true (media on a loaded 2-core machine). */
export const WAIT_MS = 20_000;

/**
 * Chromium's path, or undefined after telling loudly that this suite is skipped and how to
 * run it. Under CI (`CI` set) a missing Chromium is a failure, not a skip.
 */
export async function chromiumOrSkip(t: Test, suite: string): Promise<string | undefined> {
  const path = await findChromium();
  if (path !== undefined) return path;
  const how = `${CHROMIUM_HOW}, then \`npm test\``;
  if (
    process.env['CI'] !== undefined &&
    process.env['CI'] !== '' &&
    process.env['CI'] !== 'false'
  ) {
    t.fail(`${suite}: Chromium is missing under CI; ${how}`);
    return undefined;
  }
  process.stderr.write(
    `\n*** BROWSER TESTS SKIPPED: ${suite} needs Chromium, which this machine lacks.\n` +
      `*** To run them: ${how}.\n\n`,
  );
  t.comment(`SKIPPED ${suite}: no Chromium; ${how}`);
  t.pass(`${suite} skipped: no Chromium on this machine`);
  return undefined;
}

/** Launches Chromium for the test, closed at teardown. */
export async function launchBrowser(
  t: Test,
  executablePath: string,
  options: { grantMedia?: boolean; extraArgs?: readonly string[] } = {},
): Promise<Browser> {
  // Playwright gives every launch a fresh temporary profile (the guide's fresh user-data-dir).
  const args = [
    ...CHROMIUM_ARGS,
    ...(options.grantMedia === false ? [] : GRANT_ARGS),
    ...(options.extraArgs ?? []),
  ];
  const browser = await chromium.launch({ executablePath, args, headless: true });
  t.teardown(() => browser.close());
  return browser;
}

/**
 * Starts both servers (see {@link launchStack}) for the test; they are stopped at teardown.
 */
export async function startStack(t: Test, options: StackOptions = {}): Promise<Stack> {
  const stack = await launchStack(options);
  t.teardown(() => stack.stop());
  return stack;
}

/** A new browser context (its own storage and permissions) and a page in it, closed at teardown. */
export async function newPage(
  t: Test,
  browser: Browser,
  options: Parameters<Browser['newContext']>[0] = {},
): Promise<{ context: BrowserContext; page: Page; errors: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, ...options });
  t.teardown(() => context.close());
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(`console: ${msg.text()}`);
  });
  return { context, page, errors };
}

/**
 * Saves a screenshot of `page` at 1280 px and 360 px wide as `docs/screenshots/<name>-1280.png`
 * and `-360.png`, when `SCREENSHOTS=1` (the committed set is made that way); otherwise nothing.
 */
export async function screenshot(page: Page, name: string): Promise<void> {
  if (process.env['SCREENSHOTS'] !== '1') return;
  await mkdir(SCREENSHOT_DIR, { recursive: true });
  const before = page.viewportSize() ?? { width: 1280, height: 800 };
  for (const width of [1280, 360]) {
    await page.setViewportSize({ width, height: width === 360 ? 740 : 800 });
    await page.screenshot({ path: join(SCREENSHOT_DIR, `${name}-${width}.png`), fullPage: true });
  }
  await page.setViewportSize(before);
}

let axeSource: string | undefined;

/** A violation axe-core reports. */
export interface AxeViolation {
  readonly id: string;
  readonly impact: string | null;
  readonly help: string;
  readonly nodes: ReadonlyArray<{ target: unknown; failureSummary?: string }>;
}

/**
 * Runs axe-core in the page (evaluated through the debugging protocol, so the page's strict
 * CSP does not stand in the way) and returns the serious and critical violations.
 */
export async function seriousViolations(page: Page): Promise<AxeViolation[]> {
  axeSource ??= await readFile(join(ROOT, 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');
  await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(): Promise<{ violations: AxeViolation[] }> } })
      .axe;
    const result = await axe.run();
    return result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.map((n) => ({ target: n.target, failureSummary: n.failureSummary })),
    }));
  });
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

/** Polls `probe` until `done(value)`, at most {@link WAIT_MS}; throws with the last value. */
export async function until<T>(
  what: string,
  probe: () => Promise<T>,
  done: (value: T) => boolean,
  timeoutMs = WAIT_MS,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out: ${what}; last ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Video frames decoded so far on `page`, read from `getStats()` of every RTCPeerConnection the
 * page made (the harness records them with {@link recordPeerConnections}).
 */
export async function framesDecoded(page: Page): Promise<number> {
  return page.evaluate(async () => {
    const pcs = (window as unknown as { __pcs?: RTCPeerConnection[] }).__pcs ?? [];
    let frames = 0;
    for (const pc of pcs) {
      if (pc.connectionState === 'closed') continue;
      const report = await pc.getStats();
      report.forEach((s: { type: string; kind?: string; framesDecoded?: number }) => {
        if (s.type === 'inbound-rtp' && s.kind === 'video') frames += s.framesDecoded ?? 0;
      });
    }
    return frames;
  });
}

/**
 * Makes every RTCPeerConnection the page creates reachable to {@link framesDecoded}: the test
 * observes the browser's own object, the page's code is untouched. Call before `goto`.
 */
export async function recordPeerConnections(context: BrowserContext): Promise<void> {
  await context.addInitScript(() => {
    const Native = window.RTCPeerConnection;
    const pcs: RTCPeerConnection[] = [];
    (window as unknown as { __pcs: RTCPeerConnection[] }).__pcs = pcs;
    window.RTCPeerConnection = class extends Native {
      constructor(config?: RTCConfiguration) {
        super(config);
        pcs.push(this);
      }
    } as typeof RTCPeerConnection;
  });
}

/** Waits until video frames decoded on `page` grow past what they are now (and past zero). */
export async function framesFlowing(page: Page): Promise<number> {
  const first = await until(
    `frames decoded`,
    () => framesDecoded(page),
    (n) => n > 0,
  );
  return until(
    `more frames decoded`,
    () => framesDecoded(page),
    (n) => n > first,
  );
}
