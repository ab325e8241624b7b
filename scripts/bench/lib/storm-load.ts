/**
 * A load process of the reconnect-storm benchmark (started by `storm.ts`): a share of the
 * fleet's clients, each a real `WebSocketClient` over `ws` with the library's default reconnect
 * policy, so whether a client comes back after the server restarts, and when, is decided by the
 * code a browser runs. One process holds at most a few thousand sockets, well under its file
 * descriptor limit.
 *
 * Transpiled next to `dist/` and run as plain `node` (see `storm-fleet.ts`): the relative import
 * of `client-lib/` then lands on the built library. Steered over the IPC channel
 * (`storm-protocol.ts`); exits when told to, when the channel closes (the benchmark is gone)
 * or after `STORM_LIFETIME_MS`, whatever happens.
 */
import { createSecretKey } from 'node:crypto';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import jwt from 'jsonwebtoken';
import { WebSocket } from 'ws';
import { WebSocketClient, type WebSocketFactory } from '../../../client-lib/index.js';
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

/** What happened to the share's clients since the round was armed. */
class Round {
  armed = false;
  droppedAt = new Float64Array(0);
  backAt = new Float64Array(0);
  firstAttemptAt = new Float64Array(0);
  lastAttemptAt = new Float64Array(0);
  attempts = new Uint32Array(0);
  back = 0;
  gaveUp = 0;
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
    this.attempts = new Uint32Array(clients);
    this.back = this.gaveUp = this.refused = this.upgraded = this.otherFailures = 0;
    this.closeCodes.clear();
    this.cpuAtArm = process.cpuUsage();
    this.loopDelay.enable();
    this.loopDelay.reset();
  }

  result(): StormLoadResult {
    const cpu = process.cpuUsage(this.cpuAtArm);
    const orNull = (t: number) => (Number.isNaN(t) ? null : t);
    return {
      droppedAt: Array.from(this.droppedAt, orNull),
      backAt: Array.from(this.backAt, orNull),
      firstAttemptAt: Array.from(this.firstAttemptAt, orNull),
      lastAttemptAt: Array.from(this.lastAttemptAt, orNull),
      attempts: Array.from(this.attempts),
      refused: this.refused,
      upgraded: this.upgraded,
      otherFailures: this.otherFailures,
      gaveUp: this.gaveUp,
      closeCodes: Object.fromEntries(this.closeCodes),
      cpuUs: cpu.user + cpu.system,
      // The histogram counts in nanoseconds, from its resolution up.
      loopDelayP99Ms: this.loopDelay.percentile(99) / 1e6,
      loopDelayMaxMs: this.loopDelay.max / 1e6,
    };
  }
}

const round = new Round();
/** Client number in this share, by the URL it connects to (the token makes each unique). */
const clientByUrl = new Map<string, number>();
const clients: WebSocketClient[] = [];

/**
 * `ws`'s WebSocket, counting each attempt and its outcome. Listeners are added beside the
 * client's `on*` slots, which they do not disturb.
 */
class CountingWebSocket extends WebSocket {
  constructor(url: string) {
    super(url);
    const n = clientByUrl.get(url);
    if (!round.armed || n === undefined) return;
    round.attempts[n]++;
    const openedAt = now();
    if (Number.isNaN(round.firstAttemptAt[n])) round.firstAttemptAt[n] = openedAt;
    let outcome: 'pending' | 'upgraded' | 'refused' = 'pending';
    this.once('open', () => {
      outcome = 'upgraded';
      round.upgraded++;
      round.lastAttemptAt[n] = openedAt;
    });
    this.on('error', (err: NodeJS.ErrnoException) => {
      if (outcome === 'pending' && err.code === 'ECONNREFUSED') {
        outcome = 'refused';
        round.refused++;
      }
    });
    this.once('close', () => {
      if (outcome === 'pending') round.otherFailures++;
    });
  }
}
const factory: WebSocketFactory = CountingWebSocket;

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
    // Built the way the client builds it, so that the socket can tell whose attempt it is.
    clientByUrl.set(`${base}?token=${encodeURIComponent(token)}`, n);
    const client = new WebSocketClient({ url: base, token, WebSocket: factory });
    client.on('disconnected', ({ code }) => {
      if (!round.armed) return;
      if (Number.isNaN(round.droppedAt[n])) round.droppedAt[n] = now();
      if (code !== 1006) round.closeCodes.set(code, (round.closeCodes.get(code) ?? 0) + 1);
    });
    client.on('connection_established', () => {
      if (!round.armed || Number.isNaN(round.droppedAt[n]) || !Number.isNaN(round.backAt[n]))
        return;
      round.backAt[n] = now();
      round.back++;
    });
    client.on('failed', () => {
      if (round.armed) round.gaveUp++;
    });
    clients.push(client);
  }
}

/** Connects every client, `concurrency` attempts at a time; resolves with their errors. */
async function connectAll(concurrency: number): Promise<string[]> {
  const errors: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < clients.length) {
      const client = clients[next++]!;
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
      void connectAll(message.spec.connectConcurrency).then((errors) =>
        reply({ type: 'connected', clients: clients.length - errors.length, errors }),
      );
      break;
    case 'arm':
      round.arm(clients.length);
      reply({ type: 'armed' });
      break;
    case 'progress':
      reply({
        type: 'progress',
        back: round.back,
        gaveUp: round.gaveUp,
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
