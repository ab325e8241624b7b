/**
 * The click-to-ring benchmark: how long after a visitor clicks to place a call the agent's
 * dashboard shows the ring, with both real pages in Debian's Chromium against both real servers
 * (started as the browser tests start them: `test/support/stack.ts`). One visitor calls one
 * named agent again and again; the agent declines each call, so every call is a fresh one.
 *
 * t0 is taken in the visitor's page when the device check's "Start call" is clicked (the start
 * form's "Call" only opens the device check); t1 in the agent's page when the ring dialog with
 * the visitor's name enters the document. Both pages run in one browser on one machine and read
 * the same wall clock; the benchmark measures how far apart the two pages' clocks are and
 * reports it.
 */
import { loadavg } from 'node:os';
import { chromium, type Browser, type Page } from 'playwright-core';
import { buildPages } from '../scripts/build-pages.mjs';
import { CHROMIUM_ARGS, CHROMIUM_HOW, findChromium, GRANT_ARGS } from '../test/support/chromium.js';
import { launchStack, type RunningStack, type StackAgent } from '../test/support/stack.js';
import { machineLine, type Benchmark } from './lib/benchmark.js';
import { onAllCpus } from './lib/machine.js';
import {
  agentProbe,
  clockSkewMs,
  probeMarks,
  resetProbe,
  visitorProbe,
} from './lib/ring-probes.js';
import { median, percentile } from './lib/stats.js';

/** The benchmark's heading in reports. */
const RING_TITLE = "Click to ring: from the visitor's click to the agent's ring";

/** How the ring benchmark runs. */
export interface RingOptions {
  /** Calls measured (after one warm-up call that is reported on its own). */
  readonly calls: number;
  /** Progress output. */
  readonly log: (line: string) => void;
}

/** The defaults: 20 measured calls. */
const RING_DEFAULTS = { calls: 20 } as const;

/** The visitor's name, typed into the start form; the ring dialog shows it. */
const VISITOR_NAME = 'Bench Visitor';
/** The device check's button that places the call: t0 is its click. */
const START_CALL = 'Start call';
/** How long one step of a call may take before the run is given up as broken. */
const STEP_TIMEOUT_MS = 20_000;

/** One call's intervals from the click, in milliseconds. */
export interface RingCall {
  /** To the ring dialog entering the agent's document. */
  readonly ringMs: number;
  /** To the `call_request` frame leaving on the visitor's WebSocket. */
  readonly sentMs: number;
  /** To the `ack` of that request arriving on the visitor's WebSocket. */
  readonly ackMs: number;
}

/** The distribution of one interval over the measured calls. */
export interface Spread {
  readonly median: number;
  readonly p90: number;
  readonly min: number;
  readonly max: number;
  readonly n: number;
}

/** The ring benchmark's outcome. */
export interface RingReport {
  /** The measured calls, in order. */
  readonly calls: readonly RingCall[];
  /** The warm-up call: the first with the typed name, which fetches a token for it. */
  readonly firstCall: RingCall;
  readonly ring: Spread;
  readonly sent: Spread;
  readonly ack: Spread;
  readonly chromiumVersion: string;
  /** How far apart the two pages' clocks were, in milliseconds. */
  readonly clockSkewMs: number;
  /** The machine's 1-minute load average before and after the calls (it is shared). */
  readonly loadAverage: readonly [number, number];
}

/** Why the benchmark did not run. */
export interface RingSkipped {
  readonly skipped: string;
}

function spread(values: readonly number[]): Spread {
  const samples = Float64Array.from(values);
  return {
    median: median(values),
    p90: percentile(samples, samples.length, 90),
    min: Math.min(...values),
    max: Math.max(...values),
    n: values.length,
  };
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Fails on what a page threw or logged as an error: its figures could not be trusted. */
function watchErrors(page: Page, who: string, errors: string[]): void {
  page.on('pageerror', (err) => errors.push(`${who}: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(`${who}: ${msg.text()}`);
  });
}

/** The agent's dashboard, logged in through its form, with the ring probe. */
async function openAgent(
  browser: Browser,
  stack: RunningStack,
  agent: StackAgent,
  errors: string[],
) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  await context.addInitScript({ content: agentProbe(VISITOR_NAME) });
  const page = await context.newPage();
  watchErrors(page, 'agent', errors);
  await page.goto(`${stack.web}/agent`);
  await page.getByLabel('Company').fill(stack.companyId);
  await page.getByLabel('Email').fill(agent.email);
  await page.getByLabel('Password').fill(agent.password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('tab', { name: /Queue/ }).waitFor();
  await page.getByText('Connecting…').waitFor({ state: 'detached' });
  return page;
}

/** The visitor's call page in its own context, camera and microphone granted, with its probe. */
async function openVisitor(browser: Browser, stack: RunningStack, errors: string[]) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  await context.grantPermissions(['camera', 'microphone'], { origin: stack.web });
  await context.addInitScript({ content: visitorProbe(START_CALL) });
  const page = await context.newPage();
  watchErrors(page, 'visitor', errors);
  await page.goto(`${stack.web}/c/${stack.companyId}`);
  await page.getByLabel('Your name (optional)').fill(VISITOR_NAME);
  return page;
}

/**
 * One call: from the start form, the named agent chosen, through the device check; timed from
 * the click on "Start call" to the ring; then declined by the agent, and the visitor back on the
 * start form with the ring dialog gone.
 */
async function oneCall(visitor: Page, agentPage: Page, agent: StackAgent): Promise<RingCall> {
  const timeout = STEP_TIMEOUT_MS;
  await visitor.getByRole('radio', { name: new RegExp(`^${escapeRegExp(agent.name)}`) }).check();
  await visitor.getByRole('button', { name: 'Call', exact: true }).click();
  const start = visitor.getByRole('button', { name: START_CALL });
  // Enabled once the device check has its stream: nothing of the check is timed.
  await visitor.waitForFunction(
    (label) =>
      [...document.querySelectorAll('button')].some(
        (b) => b.textContent?.trim() === label && !b.disabled,
      ),
    START_CALL,
    { timeout },
  );
  await Promise.all([resetProbe(visitor), resetProbe(agentPage)]);
  await start.click();
  const { ringAt } = await probeMarks(agentPage, ['ringAt'], timeout);
  const marks = await probeMarks(visitor, ['clickAt', 'sentAt', 'ackAt'], timeout);

  const dialog = agentPage.getByRole('dialog', { name: new RegExp(escapeRegExp(VISITOR_NAME)) });
  await dialog.getByRole('button', { name: 'Decline' }).click();
  await dialog.waitFor({ state: 'detached', timeout });
  await visitor.getByRole('heading', { name: 'The agent could not take your call' }).waitFor();
  await visitor.getByRole('button', { name: 'Try again' }).click();
  return {
    ringMs: ringAt - marks.clickAt,
    sentMs: marks.sentAt - marks.clickAt,
    ackMs: marks.ackAt - marks.clickAt,
  };
}

const ms = (value: number) => value.toFixed(1);

/**
 * Starts the servers and Chromium, places one warm-up call and `calls` measured ones.
 * @returns the figures, or why the benchmark was skipped (no Chromium).
 * @throws Error when a call does not go through, or a page reports an error.
 */
async function runRingBenchmark(options: RingOptions): Promise<RingReport | RingSkipped> {
  const executablePath = await findChromium();
  if (executablePath === undefined) {
    return { skipped: `it needs Chromium, which this machine lacks; ${CHROMIUM_HOW}` };
  }
  // What tap's `before` step does for the browser tests: the host serves the built pages.
  options.log('Building the pages');
  await buildPages();
  const stack = await launchStack();
  try {
    const browser = await chromium.launch({
      executablePath,
      args: [...CHROMIUM_ARGS, ...GRANT_ARGS],
      headless: true,
    });
    try {
      const errors: string[] = [];
      const agent = stack.agents[0]!;
      const agentPage = await openAgent(browser, stack, agent, errors);
      const visitor = await openVisitor(browser, stack, errors);
      const skew = await clockSkewMs(visitor, agentPage);
      options.log(`  the two pages' clocks agree to ${skew.toFixed(2)} ms`);
      const loadBefore = loadavg()[0]!;
      const firstCall = await oneCall(visitor, agentPage, agent);
      options.log(`  warm-up call: ring after ${ms(firstCall.ringMs)} ms`);
      const calls: RingCall[] = [];
      for (let i = 1; i <= options.calls; i++) {
        const call = await oneCall(visitor, agentPage, agent);
        calls.push(call);
        options.log(
          `  call ${i}: ring after ${ms(call.ringMs)} ms (request sent ${ms(call.sentMs)}, ` +
            `acked ${ms(call.ackMs)})`,
        );
      }
      if (errors.length > 0) throw new Error(`the pages reported errors:\n${errors.join('\n')}`);
      return {
        calls,
        firstCall,
        ring: spread(calls.map((c) => c.ringMs)),
        sent: spread(calls.map((c) => c.sentMs)),
        ack: spread(calls.map((c) => c.ackMs)),
        chromiumVersion: browser.version(),
        clockSkewMs: skew,
        loadAverage: [loadBefore, loadavg()[0]!],
      };
    } finally {
      await browser.close();
    }
  } catch (err) {
    throw new Error(`${(err as Error).message}\nservers' output:\n${stack.output()}`);
  } finally {
    await stack.stop();
  }
}

/** The report as a Markdown table (for the terminal and the docs alike). */
function ringTable(report: RingReport): string {
  const row = (what: string, s: Spread) =>
    `| ${what} | ${ms(s.median)} | ${ms(s.p90)} | ${ms(s.min)} | ${ms(s.max)} | ${s.n} |`;
  return [
    '| from the click on "Start call" to | median ms | p90 ms | min ms | max ms | calls |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
    row("**the ring dialog in the agent's page**", report.ring),
    row("`call_request` leaving the visitor's page", report.sent),
    row("its `ack` back in the visitor's page", report.ack),
    '',
    `Ring per call (ms): ${report.calls.map((c) => ms(c.ringMs)).join(', ')}.`,
  ].join('\n');
}

/** The docs/BENCHMARKS.md section: heading, how it was measured, the table, how to read it. */
function ringDocSection(report: RingReport, machine: string, command: string): string {
  const first = report.firstCall;
  return [
    `## ${RING_TITLE}`,
    '',
    `Measured ${new Date().toISOString().slice(0, 10)} with \`${command}\`.`,
    `Machine: ${machine} Chromium ${report.chromiumVersion}, headless.`,
    '',
    ringTable(report),
    '',
    `What a person sees: the visitor's call page (\`/c/acme\`) and the agent's dashboard ` +
      '(`/agent`, Alice logged in through its form), each in its own browser context of one ' +
      "headless Chromium (the browser tests' flags: fake camera and microphone, granted), " +
      'against both real servers started from their entries as the browser tests start them ' +
      '(under tsx, a fresh SQLite file, logs at `warn`). The visitor, named ' +
      `"${VISITOR_NAME}", calls Alice by name: on the start form picks her, presses "Call", ` +
      'which opens the device check, then "Start call", which places the call. The agent ' +
      'declines each call, the ring dialog goes, and the visitor presses "Try again" to get ' +
      `back to the start form, so each of the ${report.ring.n} calls is a fresh one. One ` +
      'warm-up call before them is not counted: the first call with a typed name fetches a ' +
      `token for that name and reconnects (its ring came after ${ms(first.ringMs)} ms, its ` +
      `request left after ${ms(first.sentMs)} ms).`,
    '',
    "- **t0, the click**: a capture-phase `click` listener on the visitor's `window`, added " +
      'by the benchmark as an init script, reads `performance.timeOrigin + performance.now()` ' +
      'when the target is the "Start call" button, before the page\'s own handler runs. The ' +
      'device check has its stream by then (the button is disabled until it does), so none ' +
      'of the check is timed.',
    "- **t1, the ring**: a `MutationObserver` on the agent's whole document, added the same " +
      'way, reads the same clock when an element with `role="dialog"` holding the ' +
      "visitor's name is first in the document. Its callback runs right after the DOM " +
      'change, in the same task; the frame that paints the dialog comes after and is not ' +
      'in the figure.',
    '- **one clock**: both pages run in one browser on one machine, so both read the ' +
      "machine's wall clock; measured in this run, the two pages' clocks " +
      `(\`performance.timeOrigin + performance.now()\` against \`Date.now()\`) agreed to ` +
      `${report.clockSkewMs.toFixed(2)} ms (median of 20 readings).`,
    "- **`call_request` sent, `ack`**: the benchmark's init script wraps the visitor page's " +
      '`WebSocket`: the moment `send` is called with the `call_request` frame, and the ' +
      "moment that request's `ack` is delivered to the page (a listener added when the socket " +
      "is made, so it runs before the client's). The signaling server sends the agent its " +
      "`call_incoming` just before it acks the visitor's request, so the two frames leave " +
      "together; but the ack's event waits for the visitor page's main thread, busy after the " +
      'click with its own work (rendering the waiting view, among other things), so it can be ' +
      "delivered after the agent's page has already shown the ring.",
    '- Each call is timed by the pages themselves; Playwright only clicks and reads the ' +
      'figures afterwards. p90 is the nearest rank.',
    '- The machine is shared and every process of the run (two servers, Chromium with its ' +
      'renderers, the driver) competes for its CPUs with whatever else runs there: the ' +
      `1-minute load average was ${report.loadAverage[0].toFixed(1)} before the calls and ` +
      `${report.loadAverage[1].toFixed(1)} after. Compare runs made at a similar load; ` +
      'the median is the figure to compare, the max is at the mercy of the machine.',
  ].join('\n');
}

/** The click-to-ring benchmark: `--only ring`. It skips, saying why, without Chromium. */
export const ringBenchmark: Benchmark = {
  id: 'ring',
  title: RING_TITLE,
  async run(ctx) {
    // Not `ctx.servers()`: the pages load the built pages, not `dist/`, and the servers,
    // Chromium and this process together are what is timed, on every CPU the machine has.
    const { result: report, note } = await onAllCpus(ctx.machine, () =>
      runRingBenchmark({
        ...RING_DEFAULTS,
        ...(ctx.rounds !== undefined ? { calls: ctx.rounds } : {}),
        log: ctx.log,
      }),
    );
    if ('skipped' in report) return report;
    const machine = machineLine(ctx.machine, { serverCpu: undefined, note });
    return {
      figures: ringTable(report),
      docSection: ringDocSection(report, machine, 'npm run bench -- --only ring --write'),
    };
  },
};
