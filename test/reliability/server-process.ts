/**
 * Processes the reliability suite starts: the real signaling server (`signaling-entry.ts`), so
 * its memory and CPU are its own and `/metrics` reports them, and an attacker
 * (`attacker-entry.ts`), so a flood, a storm of bad tokens or a crowd from several addresses
 * costs the attacker's event loop, not the one measuring everyone else's latency.
 *
 * Both run under `tsx`, talk over Node's IPC channel, exit when their parent goes away, and
 * carry a lifetime after which they exit whatever happens: nothing outlives a run.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { availableParallelism, setPriority } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { SignalingConfig } from '../../config/config.js';
import { UNLIMITED_ANONYMOUS_LOAD } from '../../server/visitor-limits.js';
import { metricValue, TEST_SECRET } from '../helpers.js';
import { isolatedEnv } from '../support/child-env.js';

/** Environment variable carrying the server's configuration (JSON). */
export const CONFIG_ENV = 'RELIABILITY_SIGNALING_CONFIG';
/** Environment variable carrying the attack (JSON {@link AttackTask}). */
export const ATTACK_ENV = 'RELIABILITY_ATTACK';
/** Environment variable bounding a child's life, in milliseconds. */
export const LIFETIME_ENV = 'RELIABILITY_LIFETIME_MS';

const TSX_LOADER = import.meta.resolve('tsx');
const SIGNALING_ENTRY = fileURLToPath(new URL('./signaling-entry.ts', import.meta.url));
const ATTACKER_ENTRY = fileURLToPath(new URL('./attacker-entry.ts', import.meta.url));
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 15_000;
/** Where the server and the attacker run, on a machine with two CPUs or more. */
const SERVER_CPU = 0;
const ATTACKER_CPU = 1;

// ---------------------------------------------------------------------------------------------
// The IPC contract
// ---------------------------------------------------------------------------------------------

/** Requests to the server process. */
export type ToSignaling =
  /** Run a full garbage collection, then report memory. */
  | { readonly type: 'gc' }
  /** Close gracefully (clients get 1001) and exit. */
  | { readonly type: 'stop' };

/** Reports from the server process. */
export type FromSignaling =
  | { readonly type: 'ready'; readonly port: number }
  | {
      readonly type: 'gc';
      /** False when the process was started without `--expose-gc`. */
      readonly collected: boolean;
      readonly rss: number;
      readonly heapUsed: number;
      readonly external: number;
    };

/** What an attacker process does. */
export type AttackTask =
  /**
   * Each token is one flooding client: it sends `ping` frames at `framesPerSec` (far above the
   * rate limit) and, whenever the server closes it, connects again and goes on.
   */
  | {
      readonly kind: 'flood';
      readonly url: string;
      readonly tokens: readonly string[];
      readonly framesPerSec: number;
    }
  /**
   * `attempts` connections, at most `concurrency` at a time, each with the next token of
   * `tokens` (null: no token at all), each waiting for the server to close it.
   */
  | {
      readonly kind: 'bad-tokens';
      readonly url: string;
      readonly tokens: readonly (string | null)[];
      readonly attempts: number;
      readonly concurrency: number;
    }
  /**
   * A crowd of visitors from each of `addresses` (see `crowd-attack.ts`) for `durationMs`: each
   * address asks the web host for visitor tokens, holds more visitor connections than the
   * server allows an address, and sends `call_request`s, queued or ringing the company's first
   * agent, cancelling and redialling every other ring and letting the others time out. It
   * reports and exits by itself; it cannot be paused.
   */
  | {
      readonly kind: 'crowd';
      /** The signaling server's `ws://` URL. */
      readonly url: string;
      /** The web host's `http://` origin, whose `POST /api/visitor-token` gives the tokens. */
      readonly webUrl: string;
      readonly companyId: string;
      /** Local addresses to connect from, one crowd each (loopback: 127.0.0.2 and on). */
      readonly addresses: readonly string[];
      readonly durationMs: number;
      /** Visitor tokens each address asks for at once when it starts. */
      readonly tokenBurst: number;
      /** Visitor connections each address tries to hold at once. */
      readonly connectionsPerAddress: number;
      /** How many of an address's visitors ring the agent; the others queue. */
      readonly ringersPerAddress: number;
      /** Each visitor's pause between two `call_request`s. */
      readonly requestIntervalMs: number;
    };

/** What an attacker saw. */
export interface AttackReport {
  /**
   * Connections opened (flood: including reconnections; bad tokens: attempts made; crowd:
   * attempts, admitted or refused).
   */
  readonly connections: number;
  /** Frames sent (flood, crowd). */
  readonly framesSent: number;
  /** `rate_limited` errors received (flood, crowd). */
  readonly rateLimited: number;
  /** Closes, keyed `<code> <reason>`. */
  readonly closes: Readonly<Record<string, number>>;
  /** Socket errors (an error is followed by a close, which is counted too). */
  readonly errors: number;
  readonly elapsedMs: number;
  /**
   * What the servers answered, counted by `<request> <answer>` (crowd only; empty otherwise),
   * e.g. `token 429`, `queue queue_full`, `ring busy`, `ring missed`.
   */
  readonly answers: Readonly<Record<string, number>>;
  /** Most visitor connections admitted and open at once, by local address (crowd only). */
  readonly peakOpen: Readonly<Record<string, number>>;
}

/** Requests to the attacker process. */
export type ToAttacker =
  /** End the attack, report, and exit. */
  | { readonly type: 'stop' }
  /** Hold the attack (flood: its clients leave; bad tokens: no new attempt), answered `paused`. */
  | { readonly type: 'pause' }
  /** Go on after a pause, answered `started`. */
  | { readonly type: 'resume' };

/** Reports from the attacker process. */
export type FromAttacker =
  /** The attack is under way (flood: a client is connected). */
  | { readonly type: 'started' }
  /** The attack is held: nothing of it is left on the server's side. */
  | { readonly type: 'paused' }
  | { readonly type: 'report'; readonly report: AttackReport };

const hasType = (value: unknown, types: readonly string[]): boolean =>
  typeof value === 'object' &&
  value !== null &&
  types.includes(String((value as { type?: unknown }).type));

export const isToSignaling = (value: unknown): value is ToSignaling =>
  hasType(value, ['gc', 'stop']);
const isFromSignaling = (value: unknown): value is FromSignaling => hasType(value, ['ready', 'gc']);
export const isToAttacker = (value: unknown): value is ToAttacker =>
  hasType(value, ['stop', 'pause', 'resume']);
const isFromAttacker = (value: unknown): value is FromAttacker =>
  hasType(value, ['started', 'paused', 'report']);

// ---------------------------------------------------------------------------------------------
// Parent side
// ---------------------------------------------------------------------------------------------

/** The subset of tap's Test used here. */
interface Teardown {
  teardown(fn: () => unknown): void;
}

/** Spawns `entry` under tsx with an IPC channel; stderr is kept for error messages. */
function spawnChild(
  entry: string,
  env: Record<string, string>,
  nodeArgs: readonly string[] = [],
): { child: ChildProcess; stderr: () => string } {
  const childEnv: NodeJS.ProcessEnv = { ...isolatedEnv(), ...env };
  // The test runner's own loader is not wanted twice; tsx is given explicitly.
  delete childEnv['NODE_OPTIONS'];
  const child = spawn(process.execPath, [...nodeArgs, '--import', TSX_LOADER, entry], {
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    env: childEnv,
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-4000);
  });
  return { child, stderr: () => stderr };
}

/**
 * Pins a child to one CPU (`taskset`), when the machine has two or more and `taskset` exists:
 * the server on one, the attacker on the other, so that what the server's clients measure is
 * the server's own work under attack, not the attacker's process taking the server's CPU.
 * Returns whether it was pinned.
 */
function pin(child: ChildProcess, cpu: number): boolean {
  return child.pid !== undefined && taskset(String(cpu), child.pid);
}

/**
 * Moves this process (the test's own clients) onto the attacker's CPU until teardown, leaving
 * the server's CPU to the server: the attacker runs at a lower priority, so the clients still
 * get their CPU when they need it, and what they measure is the server's work.
 */
export function pinSelfBesideAttacker(t: Teardown): void {
  if (!taskset(String(ATTACKER_CPU), process.pid)) return;
  // Undone at teardown; failing that is not fatal, the process ends with the test file.
  t.teardown(() => taskset(`0-${availableParallelism() - 1}`, process.pid));
}

/** Sets the CPUs `pid` may run on; false on a one-CPU machine or without `taskset`. */
function taskset(cpus: string, pid: number): boolean {
  if (availableParallelism() < 2) return false;
  try {
    execFileSync('taskset', ['-pc', cpus, String(pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Resolves with the first IPC message `accept` takes; rejects if the child exits first. */
function nextMessage<T>(
  child: ChildProcess,
  what: string,
  accept: (message: unknown) => T | undefined,
  stderr: () => string,
  timeoutMs: number,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const done = () => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`no ${what} within ${timeoutMs} ms: ${stderr()}`));
    }, timeoutMs);
    const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
      done();
      reject(new Error(`exited (code ${code}, signal ${signal}) before ${what}: ${stderr()}`));
    };
    const onMessage = (message: unknown) => {
      const value = accept(message);
      if (value === undefined) return;
      done();
      resolve(value);
    };
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

/** Waits for the child to exit, killing it if it takes longer than `timeoutMs`. */
async function reap(child: ChildProcess, timeoutMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  await exited;
  clearTimeout(timer);
}

/** Asks the child to stop with `request`, then reaps it. */
async function stopChild(child: ChildProcess, request: ToSignaling | ToAttacker): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  if (child.connected) child.send(request);
  await reap(child, STOP_TIMEOUT_MS);
}

/** One `/metrics` body, read by series. */
export class Scrape {
  constructor(readonly body: string) {}

  /** One series, exactly as rendered (`name{labels}`); 0 when absent. */
  value(series: string): number {
    return metricValue(this.body, series);
  }

  /** One series, exactly as rendered; throws when absent, so a renamed series cannot read 0. */
  sample(series: string): number {
    const line = this.body.split('\n').find((l) => l.startsWith(`${series} `));
    if (line === undefined) throw new Error(`no ${series} in /metrics`);
    return Number(line.slice(series.length + 1));
  }

  /** The sum of every series of `name`, whatever its labels. */
  sum(name: string): number {
    let total = 0;
    for (const line of this.body.split('\n')) {
      if (line.startsWith(`${name} `) || line.startsWith(`${name}{`)) {
        total += Number(line.slice(line.lastIndexOf(' ') + 1));
      }
    }
    return total;
  }
}

/** Memory as reported right after a full collection. */
export interface Collected {
  readonly rss: number;
  readonly heapUsed: number;
  readonly external: number;
}

/** How to start a signaling process. */
export interface SignalingProcessOptions {
  /** Configuration fields; the JWT secret defaults to the tests' secret. */
  readonly config?: Partial<SignalingConfig>;
  /** Upper bound on the process's life. */
  readonly lifetimeMs?: number;
  /**
   * Keep the server's own limits on anonymous load (per-address connections and call requests,
   * the queue's cap). By default they are put out of reach, since every client of most suites
   * connects from 127.0.0.1; a suite about those limits sets this.
   */
  readonly limitAnonymousLoad?: boolean;
}

/** The real signaling server in its own process, listening on 127.0.0.1. */
export class SignalingProcess {
  private constructor(
    private readonly child: ChildProcess,
    private readonly stderr: () => string,
    readonly port: number,
  ) {}

  /** `ws://127.0.0.1:<port>/` */
  get wsUrl(): string {
    return `ws://127.0.0.1:${this.port}/`;
  }

  /** `http://127.0.0.1:<port>` */
  get httpUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Starts a server process and resolves once it listens; stopped at teardown. */
  static async start(
    t: Teardown,
    options: SignalingProcessOptions = {},
  ): Promise<SignalingProcess> {
    const config: Partial<SignalingConfig> = {
      jwt: { secret: TEST_SECRET, publicKey: undefined, issuer: undefined, audience: undefined },
      // Every client of most suites connects from 127.0.0.1; a suite about the per-address
      // limits keeps them (`limitAnonymousLoad`) or sets them in `options.config`.
      ...(options.limitAnonymousLoad === true ? {} : UNLIMITED_ANONYMOUS_LOAD),
      ...options.config,
    };
    const { child, stderr } = spawnChild(
      SIGNALING_ENTRY,
      {
        [CONFIG_ENV]: JSON.stringify(config),
        [LIFETIME_ENV]: String(options.lifetimeMs ?? 900_000),
      },
      ['--expose-gc'],
    );
    t.teardown(() => stopChild(child, { type: 'stop' }));
    pin(child, SERVER_CPU);
    const port = await nextMessage(
      child,
      'ready',
      (m) => (isFromSignaling(m) && m.type === 'ready' ? m.port : undefined),
      stderr,
      START_TIMEOUT_MS,
    );
    return new SignalingProcess(child, stderr, port);
  }

  /** Reads `/metrics`. */
  async scrape(): Promise<Scrape> {
    const res = await fetch(`${this.httpUrl}/metrics`);
    if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
    return new Scrape(await res.text());
  }

  /** Runs a full garbage collection in the server and returns its memory just after. */
  async collect(): Promise<Collected> {
    const reply = nextMessage(
      this.child,
      'gc',
      (m) => (isFromSignaling(m) && m.type === 'gc' ? m : undefined),
      this.stderr,
      STOP_TIMEOUT_MS,
    );
    this.child.send({ type: 'gc' } satisfies ToSignaling);
    const { collected, rss, heapUsed, external } = await reply;
    if (!collected) throw new Error('the server process cannot collect (no --expose-gc)');
    return { rss, heapUsed, external };
  }

  /** Collects, then reads `/metrics`: memory gauges free of garbage. */
  async scrapeCollected(): Promise<Scrape> {
    await this.collect();
    return this.scrape();
  }

  /** Closes the server gracefully and waits for the process to exit (kills it if it hangs). */
  stop(): Promise<void> {
    return stopChild(this.child, { type: 'stop' });
  }
}

/** How to start an attacker. */
export interface AttackerOptions {
  /** Upper bound on the attack; the attacker then reports and exits by itself. */
  readonly maxMs: number;
  /**
   * Niceness of the attacker process (default 10): on a real deployment the attacker's CPU is
   * not the server's, so here it yields to the server and to the latency probes.
   */
  readonly niceness?: number;
}

/** An attack running in its own process. */
export class AttackerProcess {
  private readonly report: Promise<AttackReport>;
  private isDone = false;

  private constructor(
    private readonly child: ChildProcess,
    private readonly stderr: () => string,
    maxMs: number,
  ) {
    this.report = nextMessage(
      child,
      'report',
      (m) => (isFromAttacker(m) && m.type === 'report' ? m.report : undefined),
      stderr,
      maxMs + STOP_TIMEOUT_MS,
    );
    // Observed here so that a test that never asks for the report leaves no rejection behind.
    this.report.then(
      () => (this.isDone = true),
      () => undefined,
    );
  }

  /** Starts `task` and resolves once it is under way; killed at teardown if still running. */
  static async start(
    t: Teardown,
    task: AttackTask,
    options: AttackerOptions,
  ): Promise<AttackerProcess> {
    const { child, stderr } = spawnChild(ATTACKER_ENTRY, {
      [ATTACK_ENV]: JSON.stringify(task),
      [LIFETIME_ENV]: String(options.maxMs),
    });
    t.teardown(() => stopChild(child, { type: 'stop' }));
    pin(child, ATTACKER_CPU);
    if (child.pid !== undefined) {
      try {
        setPriority(child.pid, options.niceness ?? 10);
      } catch {
        // Not fatal: the attack then competes with the server for CPU, which only hurts us.
      }
    }
    const attacker = new AttackerProcess(child, stderr, options.maxMs);
    await attacker.reported('started');
    return attacker;
  }

  /** Resolves on the attacker's next `type`, or once it has finished (it then says nothing). */
  private async reported(type: 'started' | 'paused'): Promise<void> {
    const said = nextMessage(
      this.child,
      type,
      (m) => (isFromAttacker(m) && m.type === type ? true : undefined),
      this.stderr,
      START_TIMEOUT_MS,
    );
    said.catch(() => undefined);
    await Promise.race([said, this.report]);
  }

  /** Whether the attack has finished and reported. */
  get done(): boolean {
    return this.isDone;
  }

  /** Holds the attack; resolves once none of it is left on the server's side. */
  async pause(): Promise<void> {
    const paused = this.reported('paused');
    if (this.child.connected) this.child.send({ type: 'pause' } satisfies ToAttacker);
    await paused;
  }

  /** Goes on after {@link pause}; resolves once the attack is under way again. */
  async resume(): Promise<void> {
    const started = this.reported('started');
    if (this.child.connected) this.child.send({ type: 'resume' } satisfies ToAttacker);
    await started;
  }

  /** Resolves with the report once the attack finished by itself. */
  async finished(): Promise<AttackReport> {
    const report = await this.report;
    await reap(this.child, STOP_TIMEOUT_MS);
    return report;
  }

  /** Stops the attack now and resolves with its report. */
  async stop(): Promise<AttackReport> {
    if (this.child.connected) this.child.send({ type: 'stop' } satisfies ToAttacker);
    return this.finished();
  }
}
