/**
 * A load process of the reconnect-storm benchmark (started by `storm.ts`): a share of the
 * fleet's clients, of two kinds. A sample are real `WebSocketClient`s over `ws` with the
 * library's default reconnect policy, so whether a client comes back after the server
 * restarts, and when, is decided by the code a browser runs. The rest are light clients
 * (`storm-light-client.ts`): a bare socket that retries through the same policy code, cheap
 * enough that thousands of them on one core measure the server rather than their own
 * handshakes. One process holds at most a few thousand sockets, well under its file
 * descriptor limit.
 *
 * Transpiled next to `dist/` and run as plain `node` (see `storm-fleet.ts`): the relative
 * imports of `client-lib/` then land on the built library. Steered over the IPC channel
 * (`storm-protocol.ts`); exits when told to, when the channel closes (the benchmark is gone)
 * or after `STORM_LIFETIME_MS`, whatever happens.
 */
import { createSecretKey } from 'node:crypto';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import jwt from 'jsonwebtoken';
import { WebSocket } from 'ws';
import { WebSocketClient, type WebSocketFactory } from '../../client-lib/index.js';
import {
  LightClient,
  upgradeRequest,
  type AttemptOutcome,
  type LightObserver,
} from './storm-light-client.js';
import type { FromLoad, StormLoadResult, StormLoadSpec, ToLoad } from './storm-protocol.js';

const send = process.send?.bind(process);
if (send === undefined) throw new Error('storm-load is started by the benchmark, over IPC');
// A failed send means the benchmark is gone (its `disconnect` may not have arrived yet).
const reply = (message: FromLoad) =>
  send(message, (err: Error | null) => {
    if (err !== null) process.exit(0);
  });

const lifetimeMs = Number(process.env['STORM_LIFETIME_MS'] ?? '180000');
setTimeout(() => process.exit(2), lifetimeMs).unref();
process.on('disconnect', () => process.exit(0));

/** Wall-clock milliseconds with sub-millisecond resolution: comparable across processes. */
const now = () => performance.timeOrigin + performance.now();

/** What happened to the share's clients since the round was armed; both kinds report here. */
class Round implements LightObserver {
  armed = false;
  droppedAt = new Float64Array(0);
  backAt = new Float64Array(0);
  firstAttemptAt = new Float64Array(0);
  lastAttemptAt = new Float64Array(0);
  /** Per client: when its current attempt opened its socket. */
  openedAt = new Float64Array(0);
  attempts = new Uint32Array(0);
  gaveUp = new Uint8Array(0);
  back = 0;
  gaveUpCount = 0;
  refused = 0;
  upgraded = 0;
  otherFailures = 0;
  closeCodes = new Map<number, number>();
  cpuAtArm = process.cpuUsage();
  readonly loopDelay = monitorEventLoopDelay({ resolution: 10 });

  arm(clients: number): void {
    this.armed = true;
    this.droppedAt = new Float64Array(clients).fill(Number.NaN);
    this.backAt = new Float64Array(clients).fill(Number.NaN);
    this.firstAttemptAt = new Float64Array(clients).fill(Number.NaN);
    this.lastAttemptAt = new Float64Array(clients).fill(Number.NaN);
    this.openedAt = new Float64Array(clients).fill(Number.NaN);
    this.attempts = new Uint32Array(clients);
    this.gaveUp = new Uint8Array(clients);
    this.back = this.gaveUpCount = this.refused = this.upgraded = this.otherFailures = 0;
    this.closeCodes.clear();
    this.cpuAtArm = process.cpuUsage();
    this.loopDelay.enable();
    this.loopDelay.reset();
  }

  attempt(n: number): void {
    if (!this.armed) return;
    this.attempts[n]++;
    const at = now();
    this.openedAt[n] = at;
    if (Number.isNaN(this.firstAttemptAt[n])) this.firstAttemptAt[n] = at;
  }

  outcome(n: number, outcome: AttemptOutcome): void {
    if (!this.armed) return;
    if (outcome === 'upgraded') {
      this.upgraded++;
      this.lastAttemptAt[n] = this.openedAt[n]!;
    } else if (outcome === 'refused') this.refused++;
    else this.otherFailures++;
  }

  disconnected(n: number, code: number): void {
    if (!this.armed) return;
    if (Number.isNaN(this.droppedAt[n])) this.droppedAt[n] = now();
    if (code !== 1006) this.closeCodes.set(code, (this.closeCodes.get(code) ?? 0) + 1);
  }

  established(n: number): void {
    if (!this.armed || Number.isNaN(this.droppedAt[n]) || !Number.isNaN(this.backAt[n])) return;
    this.backAt[n] = now();
    this.back++;
  }

  failed(n: number): void {
    if (!this.armed || this.gaveUp[n] === 1) return;
    this.gaveUp[n] = 1;
    this.gaveUpCount++;
  }

  result(): StormLoadResult {
    const cpu = process.cpuUsage(this.cpuAtArm);
    const orNull = (t: number) => (Number.isNaN(t) ? null : t);
    return {
      light: Array.from(clients, (c) => c instanceof LightClient),
      droppedAt: Array.from(this.droppedAt, orNull),
      backAt: Array.from(this.backAt, orNull),
      firstAttemptAt: Array.from(this.firstAttemptAt, orNull),
      lastAttemptAt: Array.from(this.lastAttemptAt, orNull),
      attempts: Array.from(this.attempts),
      gaveUp: Array.from(this.gaveUp, (g) => g === 1),
      refused: this.refused,
      upgraded: this.upgraded,
      otherFailures: this.otherFailures,
      closeCodes: Object.fromEntries(this.closeCodes),
      cpuUs: cpu.user + cpu.system,
      // The histogram counts in nanoseconds, from its resolution up.
      loopDelayP99Ms: this.loopDelay.percentile(99) / 1e6,
      loopDelayMaxMs: this.loopDelay.max / 1e6,
    };
  }
}

const round = new Round();
/** Real client number in this share, by the URL it connects to (the token makes each unique). */
const clientByUrl = new Map<string, number>();
/** The share's clients, numbered as in the round's arrays. */
const clients: Array<WebSocketClient | LightClient> = [];

/**
 * `ws`'s WebSocket, counting each attempt and its outcome. Listeners are added beside the
 * client's `on*` slots, which they do not disturb.
 */
class CountingWebSocket extends WebSocket {
  constructor(url: string) {
    super(url);
    const n = clientByUrl.get(url);
    if (n === undefined) return;
    round.attempt(n);
    let outcome: AttemptOutcome | undefined;
    const settle = (o: AttemptOutcome) => {
      if (outcome !== undefined) return;
      outcome = o;
      round.outcome(n, o);
    };
    this.once('open', () => settle('upgraded'));
    this.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNREFUSED') settle('refused');
    });
    this.once('close', () => settle('other'));
  }
}
const factory: WebSocketFactory = CountingWebSocket;

/** Whether fleet client `id` is a real one: every `total / real`-th, so both kinds spread evenly. */
function isReal(id: number, spec: StormLoadSpec): boolean {
  if (spec.realClients >= spec.total) return true;
  if (spec.realClients <= 0) return false;
  return id % Math.max(1, Math.round(spec.total / spec.realClients)) === 0;
}

function createClients(spec: StormLoadSpec): void {
  const exp = Math.floor(Date.now() / 1000) + 3600;
  // A key object: given a string, jsonwebtoken first tries (and fails, expensively) to read it
  // as a private key, which would cost more than a millisecond per token.
  const key = createSecretKey(Buffer.from(spec.secret));
  const base = `ws://127.0.0.1:${spec.port}/`;
  for (let id = spec.index; id < spec.total; id += spec.processes) {
    const company = id % spec.companies;
    const claims =
      id < spec.companies
        ? { sub: `agent-${company}`, role: 'agent', name: `Agent ${company}` }
        : { sub: `visitor-${id}`, role: 'visitor' };
    const token = jwt.sign({ ...claims, company_id: `storm-${company}`, exp }, key, {
      algorithm: 'HS256',
    });
    const n = clients.length;
    if (!isReal(id, spec)) {
      clients.push(new LightClient(n, spec.port, upgradeRequest(spec.port, token), round));
      continue;
    }
    // Built the way the client builds it, so that the socket can tell whose attempt it is.
    clientByUrl.set(`${base}?token=${encodeURIComponent(token)}`, n);
    const client = new WebSocketClient({ url: base, token, WebSocket: factory });
    client.on('disconnected', ({ code }) => round.disconnected(n, code));
    client.on('connection_established', () => round.established(n));
    client.on('failed', () => round.failed(n));
    clients.push(client);
  }
}

/** Connects `share`, `concurrency` attempts at a time; resolves with their errors. */
async function connectAll(
  share: ReadonlyArray<WebSocketClient | LightClient>,
  concurrency: number,
): Promise<string[]> {
  const errors: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < share.length) {
      const client = share[next++]!;
      try {
        await client.connect();
      } catch (err) {
        errors.push(err instanceof Error ? err.message : String(err));
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, worker));
  return errors;
}

/** This process's CPU time in microseconds since `from`. */
const cpuSinceUs = (from: NodeJS.CpuUsage) => {
  const used = process.cpuUsage(from);
  return used.user + used.system;
};

/**
 * Connects the real clients, then the light ones, each kind timed on its own: the CPU that
 * connecting one client of each kind costs this process.
 */
async function connectShare(concurrency: number): Promise<FromLoad> {
  const real = clients.filter((c) => c instanceof WebSocketClient);
  const light = clients.filter((c) => c instanceof LightClient);
  const atStart = process.cpuUsage();
  const realErrors = await connectAll(real, concurrency);
  const realCpuUs = cpuSinceUs(atStart);
  const atLight = process.cpuUsage();
  const lightErrors = await connectAll(light, concurrency);
  const lightCpuUs = cpuSinceUs(atLight);
  const errors = [...realErrors, ...lightErrors];
  return {
    type: 'connected',
    clients: clients.length - errors.length,
    errors,
    real: real.length,
    realCpuUs,
    light: light.length,
    lightCpuUs,
  };
}

function isToLoad(value: unknown): value is ToLoad {
  if (typeof value !== 'object' || value === null) return false;
  const type = (value as { type?: unknown }).type;
  return (
    type === 'connect' ||
    type === 'arm' ||
    type === 'progress' ||
    type === 'collect' ||
    type === 'stop'
  );
}

process.on('message', (message: unknown) => {
  if (!isToLoad(message)) return;
  switch (message.type) {
    case 'connect':
      createClients(message.spec);
      void connectShare(message.spec.connectConcurrency).then(reply);
      break;
    case 'arm':
      round.arm(clients.length);
      reply({ type: 'armed' });
      break;
    case 'progress':
      reply({
        type: 'progress',
        back: round.back,
        gaveUp: round.gaveUpCount,
        connected: clients.reduce((n, client) => (client.isConnected() ? n + 1 : n), 0),
      });
      break;
    case 'collect':
      reply({ type: 'result', ...round.result() });
      break;
    case 'stop':
      // No goodbye frames: the server is stopped next and gains nothing from a clean close.
      process.exit(0);
      break;
    default: {
      const unreachable: never = message;
      throw new Error(`unknown request ${JSON.stringify(unreachable)}`);
    }
  }
});

reply({ type: 'ready' });
