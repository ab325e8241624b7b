/**
 * The end-to-end harness: both servers run from their real entries (`server/index.ts`,
 * `web/index.ts`, under tsx) in their own processes, on a fresh SQLite file with one company
 * and its agents, and Debian's Chromium drives the pages the web host serves (built by tap's
 * `before` step, `scripts/build-pages.mjs`).
 *
 * Without Chromium the browser suites skip, loudly, saying how to run them; under CI a missing
 * Chromium fails instead (`.ci/run` installs it).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { access, constants, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import type { Test } from 'tap';
import { parseDatabaseUrl } from '../../server/config.js';
import { createAgent, createCompany } from '../../server/db/companies.js';
import { openDatabase } from '../../server/db/database.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const TSX_LOADER = import.meta.resolve('tsx');
/** Where the tests save screenshots when `SCREENSHOTS=1` (committed, shown in the README). */
export const SCREENSHOT_DIR = join(ROOT, 'docs', 'screenshots');
const START_TIMEOUT_MS = 30_000;
/** How long a condition in a page may take to come true (media on a loaded 2-core machine). */
export const WAIT_MS = 20_000;

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

/**
 * Chromium's path, or undefined after telling loudly that this suite is skipped and how to
 * run it. Under CI (`CI` set) a missing Chromium is a failure, not a skip.
 */
export async function chromiumOrSkip(t: Test, suite: string): Promise<string | undefined> {
  const path = await findChromium();
  if (path !== undefined) return path;
  const how =
    "install Debian's Chromium (`apt-get install -y chromium`) or set CHROMIUM_PATH, then `npm test`";
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

/** A port free at the time of asking (the servers need each other's before they start). */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** An agent the stack creates. */
export interface StackAgent {
  readonly id: string;
  readonly email: string;
  readonly name: string;
  readonly password: string;
  readonly role: 'agent' | 'admin';
}

/** What {@link startStack} seeds and where the servers listen. */
export interface Stack {
  /** `http://127.0.0.1:<port>` of the web host. */
  readonly web: string;
  /** `ws://127.0.0.1:<port>/` of the signaling server. */
  readonly signaling: string;
  readonly companyId: string;
  readonly companyName: string;
  readonly agents: readonly StackAgent[];
  /** The SQLite file both servers use. */
  readonly databasePath: string;
  /** What the servers wrote, for a failing test's diagnosis. */
  readonly output: () => string;
}

/** Options of {@link startStack}. */
export interface StackOptions {
  /** Extra environment for both servers (e.g. `RING_TIMEOUT_MS`). */
  readonly env?: Readonly<Record<string, string>>;
  /** Agents to create; default one admin, Alice, and one agent, Bob. */
  readonly agents?: ReadonlyArray<Omit<StackAgent, 'id'>>;
  readonly companyId?: string;
  readonly companyName?: string;
  /**
   * `false` starts the web host alone: pages load, but their signaling port has nothing
   * listening (for the "service unreachable" case). Default true.
   */
  readonly signaling?: boolean;
}

const DEFAULT_AGENTS: ReadonlyArray<Omit<StackAgent, 'id'>> = [
  { email: 'alice@acme.test', name: 'Alice Agent', password: 'alice-password-1', role: 'admin' },
  { email: 'bob@acme.test', name: 'Bob Agent', password: 'bob-password-1', role: 'agent' },
];

/** Polls `url` until it answers 200. */
async function waitForHttp(url: string, deadline: number, child: ChildProcess): Promise<void> {
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${url}: the server exited (${child.exitCode})`);
    try {
      const res = await fetch(url);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${url} did not answer in time`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Starts the signaling server and the web host from their entries on a fresh database with
 * one company and its agents; both are stopped (SIGTERM, then SIGKILL) at teardown.
 */
export async function startStack(t: Test, options: StackOptions = {}): Promise<Stack> {
  const dir = await mkdtemp(join(tmpdir(), 'calldocker-e2e-'));
  const databasePath = join(dir, 'calldocker.db');
  const companyId = options.companyId ?? 'acme';
  const companyName = options.companyName ?? 'Acme Bikes';
  const database = openDatabase(parseDatabaseUrl(`sqlite:${databasePath}`));
  await database.migrate();
  await createCompany(database.db, companyId, companyName);
  const agents: StackAgent[] = [];
  for (const agent of options.agents ?? DEFAULT_AGENTS) {
    const row = await createAgent(database.db, { companyId, ...agent });
    agents.push({ ...agent, id: row.id });
  }
  await database.close();

  const [signalingPort, webPort] = [await freePort(), await freePort()];
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NODE_ENV: 'development',
    HOST: '127.0.0.1',
    SIGNALING_PORT: String(signalingPort),
    WEB_PORT: String(webPort),
    JWT_SECRET: 'e2e-secret-that-is-long-enough-0123456789abcdef',
    DATABASE_URL: `sqlite:${databasePath}`,
    LOG_LEVEL: 'warn',
    ...options.env,
  };
  let output = '';
  const entries =
    options.signaling === false ? ['web/index.ts'] : ['server/index.ts', 'web/index.ts'];
  const children = entries.map((entry) => {
    const child = spawn(process.execPath, ['--import', TSX_LOADER, join(ROOT, entry)], {
      cwd: dir,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    return child;
  });
  t.teardown(async () => {
    await Promise.all(
      children.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
            child.once('exit', () => {
              clearTimeout(kill);
              resolve();
            });
            child.kill('SIGTERM');
          }),
      ),
    );
    await rm(dir, { recursive: true, force: true });
  });
  const deadline = Date.now() + START_TIMEOUT_MS;
  try {
    const web = children.at(-1)!;
    if (options.signaling !== false) {
      await waitForHttp(`http://127.0.0.1:${signalingPort}/readyz`, deadline, children[0]!);
    }
    await waitForHttp(`http://127.0.0.1:${webPort}/api/health`, deadline, web);
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${output}`);
  }
  return {
    web: `http://127.0.0.1:${webPort}`,
    signaling: `ws://127.0.0.1:${signalingPort}/`,
    companyId,
    companyName,
    agents,
    databasePath,
    output: () => output,
  };
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
