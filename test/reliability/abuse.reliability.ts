/**
 * Abuse: what one bad client, or a crowd of them, can do to everyone else on a real signaling
 * server in its own process (see server-process.ts).
 *
 * - A flooding client is throttled (`rate_limited`) and then closed (4008), while the relay
 *   latency of calls in progress stays within 2x of the same calls on an idle server.
 * - A client that stops reading is cut off at the high-water mark (4008 `slow consumer`) and
 *   the server's memory stays bounded; a control server without the mark shows the growth the
 *   mark prevents.
 * - 20,000 connection attempts with bad tokens end in 4001, are all counted in `/metrics`, and
 *   calls in progress stay up and keep relaying.
 *
 * Attackers run in a process of their own at lower priority, so their CPU does not stand in for
 * the server's. Every figure here is a ratio or a generous bound: the machine is shared.
 *
 *   npx tap test/reliability/abuse.reliability.ts --disable-coverage
 */
import { performance } from 'node:perf_hooks';
import jwt from 'jsonwebtoken';
import t from 'tap';
import type { WebSocket } from 'ws';
import { signalingDefaults } from '../../config/config.js';
import { PolicyReason } from '../../server/errors.js';
import {
  delay,
  openClient,
  signToken,
  until,
  type TestClaims,
  type TestClient,
} from '../helpers.js';
import {
  AttackerProcess,
  pinSelfBesideAttacker,
  SignalingProcess,
  type AttackReport,
  type Scrape,
} from './server-process.js';

// ---------------------------------------------------------------------------------------------
// Calls in progress, and their relay latency
// ---------------------------------------------------------------------------------------------

/** The subset of tap's Test the helpers use. */
interface Tap {
  teardown(fn: () => unknown): void;
}

/** Connects a client and waits for `connection_established`; closed at teardown. */
async function connectTo(
  t: Tap,
  server: SignalingProcess,
  claims: TestClaims,
): Promise<TestClient> {
  const client = openClient(server.wsUrl, signToken(claims));
  t.teardown(() => client.close());
  await client.established();
  return client;
}

/** A visitor and an agent of their own company, with an answered call between them. */
interface Pair {
  readonly visitor: TestClient;
  readonly agent: TestClient;
  readonly callId: string;
}

async function answeredPair(t: Tap, server: SignalingProcess, company: string) {
  const agent = await connectTo(t, server, { sub: 'agent', role: 'agent', company_id: company });
  const visitor = await connectTo(t, server, { sub: 'visitor', company_id: company });
  const requested = await visitor.request({ type: 'call_request', callType: 'audio' });
  if (requested.type !== 'ack') throw new Error(`call_request: ${JSON.stringify(requested)}`);
  const callId = requested['callId'] as string;
  const accepted = await agent.request({ type: 'call_accept', callId });
  if (accepted.type !== 'ack') throw new Error(`call_accept: ${JSON.stringify(accepted)}`);
  await visitor.next('call_started');
  await agent.next('call_started');
  return { visitor, agent, callId } satisfies Pair;
}

/** `count` answered pairs, a few set up at a time. */
async function answeredPairs(t: Tap, server: SignalingProcess, prefix: string, count: number) {
  const pairs: Pair[] = [];
  for (let i = 0; i < count; i += 10) {
    const batch = Array.from({ length: Math.min(10, count - i) }, (_, j) =>
      answeredPair(t, server, `${prefix}-${i + j}`),
    );
    pairs.push(...(await Promise.all(batch)));
  }
  return pairs;
}

/** The `p`-th percentile (nearest rank) of `values`. */
function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length))) - 1]!;
}

/** What one measuring window (or several, pooled) saw. */
interface Window {
  readonly sent: number;
  readonly received: number;
  /** Relay latencies, ms. */
  readonly samples: readonly number[];
  readonly p50Ms: number;
  readonly p99Ms: number;
}

function windowOf(sent: number, received: number, samples: readonly number[]): Window {
  return {
    sent,
    received,
    samples,
    p50Ms: percentile(samples, 50),
    p99Ms: percentile(samples, 99),
  };
}

/** Several windows as one: their samples pooled. */
function pooled(windows: readonly Window[]): Window {
  const sum = (key: 'sent' | 'received') => windows.reduce((n, w) => n + w[key], 0);
  return windowOf(
    sum('sent'),
    sum('received'),
    windows.flatMap((w) => w.samples),
  );
}

const ms = (value: number) => value.toFixed(2);
const describe = (w: Window) => `p50 ${ms(w.p50Ms)} ms, p99 ${ms(w.p99Ms)} ms (${w.received})`;

/** Every relayed frame starts so; the sender's clock rides in the candidate's ufrag. */
const RELAYED = Buffer.from('{"type":"ice_candidate"');

/**
 * Both sides of every pair send an ICE candidate every `intervalMs` (well under the rate
 * limit) while a window is open; the peer's receipt time minus the send time is the relay
 * latency, client to client through the server. Both ends live in this process, whose event
 * loop does nothing else meanwhile.
 */
class RelayProbe {
  private samples: number[] = [];
  private sent = 0;
  private received = 0;
  private timers: NodeJS.Timeout[] = [];

  constructor(
    private readonly pairs: readonly Pair[],
    private readonly intervalMs = 50,
  ) {
    for (const pair of pairs) {
      this.listen(pair.visitor.ws);
      this.listen(pair.agent.ws);
    }
  }

  private listen(ws: WebSocket): void {
    ws.on('message', (data: Buffer) => {
      const now = performance.now();
      if (data.compare(RELAYED, 0, RELAYED.length, 0, RELAYED.length) !== 0) return;
      const frame = JSON.parse(data.toString()) as { candidate: { usernameFragment: string } };
      this.samples.push(now - Number(frame.candidate.usernameFragment));
      this.received++;
    });
  }

  private sendFrom(client: TestClient, callId: string): void {
    const candidate = {
      candidate:
        'candidate:842163049 1 udp 1677729535 192.0.2.10 54321 typ srflx raddr 0.0.0.0 rport 0 ' +
        'generation 0 ufrag abcd network-cost 999',
      sdpMid: '0',
      sdpMLineIndex: 0,
      usernameFragment: String(performance.now()),
    };
    client.send({ type: 'ice_candidate', callId, candidate });
    this.sent++;
  }

  /** Opens a window: every client starts sending, each at its own phase. */
  start(): void {
    this.samples = [];
    this.sent = 0;
    this.received = 0;
    for (const { visitor, agent, callId } of this.pairs) {
      for (const client of [visitor, agent]) {
        const phase = setTimeout(() => {
          this.timers.push(setInterval(() => this.sendFrom(client, callId), this.intervalMs));
        }, Math.random() * this.intervalMs);
        this.timers.push(phase);
      }
    }
  }

  /** Closes the window, waits (a while) for frames in flight, and returns its figures. */
  async stop(): Promise<Window> {
    for (const timer of this.timers.splice(0)) clearInterval(timer);
    const deadline = Date.now() + 5000;
    while (this.received < this.sent && Date.now() < deadline) await delay(10);
    return windowOf(this.sent, this.received, this.samples);
  }

  /** A window of `durationMs`. */
  async measure(durationMs: number): Promise<Window> {
    this.start();
    await delay(durationMs);
    return this.stop();
  }

  /** Frames a probe client got that a quiet call in progress never gets. */
  trouble(): string[] {
    const bad = ['error', 'call_ended', 'peer_disconnected', 'call_resumed'];
    return this.pairs.flatMap((p) =>
      [p.visitor, p.agent].flatMap((c) => c.types().filter((type) => bad.includes(type))),
    );
  }
}

/** Sum of every series of `name` in `after` minus the same in `before`. */
const grown = (before: Scrape, after: Scrape, name: string) => after.sum(name) - before.sum(name);

/** The closes of a report, as `key: count` text for messages. */
const closesText = (report: AttackReport) => JSON.stringify(report.closes);

// ---------------------------------------------------------------------------------------------
// 1. Flooding
// ---------------------------------------------------------------------------------------------

const FLOOD = {
  pairs: 20,
  rounds: 8,
  windowMs: 1500,
  flooders: 10,
  /** Per flooding client: 20 times the default rate limit of 50 messages a second. */
  framesPerSec: 1000,
  /**
   * Measurements of the idle/flooded alternation allowed before the latency ratio fails. The
   * machine is shared: another process's burst can land in the flooded windows of one
   * measurement, but a flood that really slows the relay does so in every one.
   */
  attempts: 3,
} as const;

t.test(
  'a flooding client is throttled, then closed, while calls in progress relay as on an idle server',
  { timeout: 180_000 },
  async (t) => {
    const server = await SignalingProcess.start(t);
    pinSelfBesideAttacker(t);

    // One flooder up close: the burst passes, the rest is refused with its id, then the close.
    const flooder = await connectTo(t, server, { sub: 'flooder', company_id: 'flood' });
    const FRAMES = 400;
    for (let i = 1; i <= FRAMES; i++) flooder.send({ type: 'ping', id: `p${i}` });
    const closed = await flooder.closed;
    t.strictSame(closed, { code: 4008, reason: PolicyReason.Flooding }, 'closed with 4008');
    const refused = flooder.all('error');
    t.ok(refused.length > 0, `throttled first: ${refused.length} rate_limited errors`);
    t.ok(
      refused.every((e) => e.code === 'rate_limited' && /^p\d+$/.test(e.id ?? '')),
      'every refusal is rate_limited and names the frame it refused',
    );
    const acked = flooder.all('ack').length;
    t.ok(acked >= 200 && acked < FRAMES, `the burst of 200 passed (${acked} acks), not the rest`);

    // Many flooders, reconnecting each time they are closed, against calls in progress. Idle
    // and flooded windows alternate, so both meet the same background load on the machine.
    const pairs = await answeredPairs(t, server, 'flood-probe', FLOOD.pairs);
    const probe = new RelayProbe(pairs);
    const tokens = Array.from({ length: FLOOD.flooders }, (_, i) =>
      signToken({ sub: `flooder-${i}`, company_id: 'flood' }),
    );
    const attacker = await AttackerProcess.start(
      t,
      { kind: 'flood', url: server.wsUrl, tokens, framesPerSec: FLOOD.framesPerSec },
      { maxMs: FLOOD.attempts * FLOOD.rounds * 2 * (FLOOD.windowMs + 2000) + 30_000 },
    );
    await attacker.pause();
    await probe.measure(1000); // warm-up
    const before = await server.scrape();
    const idle: Window[] = [];
    const flooded: Window[] = [];
    const ratios: number[] = [];
    for (let attempt = 1; attempt <= FLOOD.attempts; attempt++) {
      const idleNow: Window[] = [];
      const floodedNow: Window[] = [];
      for (let round = 1; round <= FLOOD.rounds; round++) {
        idleNow.push(await probe.measure(FLOOD.windowMs));
        await attacker.resume();
        floodedNow.push(await probe.measure(FLOOD.windowMs));
        await attacker.pause();
      }
      idle.push(...idleNow);
      flooded.push(...floodedNow);
      const quiet = pooled(idleNow);
      const loud = pooled(floodedNow);
      ratios.push(loud.p99Ms / quiet.p99Ms);
      t.comment(
        `attempt ${attempt}: ${FLOOD.rounds} x ${FLOOD.windowMs} ms windows each: idle ` +
          `${describe(quiet)}; flooded ${describe(loud)}`,
      );
      if (ratios.at(-1)! <= 2) break;
    }
    const report = await attacker.stop();
    const after = await server.scrape();
    const floodSeconds = (flooded.length * FLOOD.windowMs) / 1000;
    t.comment(
      `flood: ${FLOOD.flooders} clients, ${Math.round(report.framesSent / floodSeconds)} ` +
        `frames/s offered, ${report.connections} connections, ${report.rateLimited} ` +
        `rate_limited, closes ${closesText(report)}`,
    );

    for (const window of [...idle, ...flooded]) {
      t.equal(window.received, window.sent, 'every probe frame was relayed');
    }
    t.strictSame(probe.trouble(), [], 'no probe got an error or lost its call');

    const closes = report.closes[`4008 ${PolicyReason.Flooding}`] ?? 0;
    const otherCloses = Object.keys(report.closes).filter(
      (key) => key !== `4008 ${PolicyReason.Flooding}`,
    );
    t.ok(closes >= FLOOD.flooders * flooded.length, `flooders were closed with 4008 (${closes})`);
    t.strictSame(otherCloses, [], 'and with nothing else');
    // The close comes at the first drop past the limit's worth in a second: each closed
    // flooder had that many rate_limited errors first.
    const perClose = signalingDefaults().rateLimitMsgsPerSec;
    t.ok(
      report.rateLimited >= closes * perClose,
      `each was throttled ${perClose} times before its close (${report.rateLimited} in all)`,
    );
    t.ok(
      grown(before, after, 'calldocker_closes_total{code="4008"}') >= closes,
      '/metrics counts the 4008 closes',
    );
    t.ok(
      grown(before, after, 'calldocker_errors_total{code="rate_limited"}') >= report.rateLimited,
      '/metrics counts the rate_limited errors',
    );

    const shown = ratios.map((r) => `${r.toFixed(2)}x`).join(', ');
    t.ok(
      ratios.at(-1)! <= 2,
      `relay p99 under flood within 2x of idle, in one of ${FLOOD.attempts} measurements (${shown})`,
    );
  },
);

// ---------------------------------------------------------------------------------------------
// 2. Readers that stop reading
// ---------------------------------------------------------------------------------------------

const SLOW = {
  readers: 8,
  /** The largest offer the schema allows, so each frame is about 60 KB. */
  sdpChars: 60_000,
  /** Sent at once, within the rate limit's burst of 200. */
  burst: 180,
  /** Then one frame every this many ms: 40 a second, under the limit of 50. */
  intervalMs: 25,
  /** Frames a pusher sends at most (about 18 MB). */
  maxFrames: 300,
  highWaterBytes: 1_048_576,
} as const;

const SDP = `v=0\r\na=x-padding:${'x'.repeat(SLOW.sdpChars - 20)}\r\n`;

/** One reader that stopped reading and the peer pushing large offers to it. */
interface Pushed {
  /** Frames the server acknowledged (handed on, or refused once the reader was cut). */
  readonly acked: number;
  /** True when the server said the reader was gone (`unavailable`). */
  readonly cut: boolean;
  /** Codes of any other refusal (none expected: the pace is within the rate limit). */
  readonly refusals: readonly string[];
}

/**
 * The agent of `pair` sends large offers to its visitor, which stopped reading, until the
 * server reports the visitor unavailable or `frames` were sent. `onCut` runs at once when the
 * server first refuses.
 */
async function push(pair: Pair, frames: number, onCut: () => void): Promise<Pushed> {
  let acked = 0;
  let cut = false;
  let sent = 0;
  const refusals: string[] = [];
  const listener = (data: Buffer) => {
    const head = data.subarray(0, 15).toString();
    if (head.startsWith('{"type":"ack"')) acked++;
    else if (head.startsWith('{"type":"error"')) {
      const error = JSON.parse(data.toString()) as { code: string };
      if (error.code !== 'unavailable') refusals.push(error.code);
      else if (!cut) {
        cut = true;
        onCut();
      }
    }
  };
  pair.agent.ws.on('message', listener);
  const send = () => {
    sent++;
    pair.agent.send({
      type: 'webrtc_offer',
      id: `o${sent}`,
      callId: pair.callId,
      offer: { type: 'offer', sdp: SDP },
    });
  };
  for (let i = 0; i < SLOW.burst; i++) send();
  while (!cut && sent < frames) {
    await delay(SLOW.intervalMs);
    send();
  }
  await until(() => cut || acked + refusals.length >= sent, 30_000);
  pair.agent.ws.off('message', listener);
  return { acked, cut, refusals };
}

/**
 * Samples the server's memory every 100 ms, each time in the same instant as a full collection
 * (the IPC reply to `gc`: between a collection and an HTTP scrape, arriving frames would already
 * have made new garbage), until stopped; returns the peaks.
 */
function sampleMemory(server: SignalingProcess) {
  let running = true;
  const peak = { rss: 0, retained: 0 };
  const done = (async () => {
    while (running) {
      const m = await server.collect();
      peak.rss = Math.max(peak.rss, m.rss);
      peak.retained = Math.max(peak.retained, m.heapUsed + m.external);
      await delay(100);
    }
  })();
  return async () => {
    running = false;
    await done;
    return peak;
  };
}

/** What the server holds: V8's heap in use (queued strings) plus memory outside it (Buffers). */
const retained = (m: Scrape) =>
  m.value('nodejs_heap_size_used_bytes') + m.value('nodejs_external_memory_bytes');

const mib = (bytes: number) => `${(bytes / 1_048_576).toFixed(1)} MiB`;

/**
 * Every reader of `pairs` stops reading while its peer pushes; `onCut` runs for a reader when
 * its peer is first told it is gone. Returns the pushes and the server's peak memory growth
 * over its collected state before.
 */
async function pushToStoppedReaders(
  server: SignalingProcess,
  pairs: readonly Pair[],
  onCut: (pair: Pair) => void,
) {
  const base = await server.scrapeCollected();
  const stopSampling = sampleMemory(server);
  const results = await Promise.all(
    pairs.map((pair) => {
      pair.visitor.ws.pause();
      return push(pair, SLOW.maxFrames, () => onCut(pair));
    }),
  );
  const peak = await stopSampling();
  return {
    base,
    results,
    pushed: results.reduce((n, r) => n + r.acked, 0) * SDP.length,
    retained: peak.retained - retained(base),
    rss: peak.rss - base.value('process_resident_memory_bytes'),
  };
}

t.test(
  'a client that stops reading is cut off at the high-water mark with server memory bounded',
  { timeout: 180_000 },
  async (t) => {
    // The guarded server: the default high-water mark of 1 MiB.
    const server = await SignalingProcess.start(t, {
      config: { sendHighWaterBytes: SLOW.highWaterBytes },
    });
    const pairs = await answeredPairs(t, server, 'slow', SLOW.readers);
    // Reading again once cut: the backlog drains and the close frame behind it arrives.
    const guarded = await pushToStoppedReaders(server, pairs, (pair) => pair.visitor.ws.resume());
    t.ok(
      guarded.results.every((r) => r.cut),
      'every reader was cut off before its peer ran out of frames',
    );
    t.strictSame(
      guarded.results.flatMap((r) => r.refusals),
      [],
      'pushers were refused nothing but unavailable',
    );
    // A reader that read again within the server's grace of a second found the close frame
    // behind its backlog; one that did not (a busy machine) was destroyed, as documented.
    const readerCloses = await Promise.all(pairs.map((pair) => pair.visitor.closed));
    const toldWhy = readerCloses.filter(
      (c) => c.code === 4008 && c.reason === PolicyReason.SlowConsumer,
    ).length;
    t.ok(toldWhy > 0, `readers reading again found 4008 slow consumer (${toldWhy} of them)`);
    t.strictSame(
      readerCloses.filter((c) => c.code !== 4008 && c.code !== 1006),
      [],
      'the others were destroyed (1006), none closed otherwise',
    );
    for (const pair of pairs) await pair.agent.next('peer_disconnected', 5000);
    await until(
      async () => (await server.scrape()).value('calldocker_connections{role="visitor"}') === 0,
      5000,
    );
    const settled = await server.scrapeCollected();
    t.equal(
      grown(guarded.base, settled, 'calldocker_closes_total{code="4008"}'),
      SLOW.readers,
      '/metrics counts one 4008 per reader',
    );
    const settledGrowth = retained(settled) - retained(guarded.base);
    t.comment(
      `guarded (mark ${mib(SLOW.highWaterBytes)}): peers pushed ${mib(guarded.pushed)} to ` +
        `${SLOW.readers} stopped readers; server peak growth: held ${mib(guarded.retained)}, ` +
        `RSS ${mib(guarded.rss)}; held after the cut ${mib(settledGrowth)}`,
    );
    // What the mark lets each reader hold: the mark, plus the frame that crossed it.
    const bound = SLOW.readers * (SLOW.highWaterBytes + 2 * SDP.length) + 8 * 1_048_576;
    t.ok(guarded.retained <= bound, `held memory within ${mib(bound)}`);
    t.ok(guarded.rss <= bound + 48 * 1_048_576, `resident memory bounded: ${mib(guarded.rss)}`);
    t.ok(settledGrowth <= 4 * 1_048_576, `nothing held after the cut: ${mib(settledGrowth)}`);

    // The control: the same readers and pushes on a server whose mark is out of reach.
    const control = await SignalingProcess.start(t, {
      config: { sendHighWaterBytes: 1024 * 1_048_576 },
    });
    const controlPairs = await answeredPairs(t, control, 'slow-control', SLOW.readers);
    const unguarded = await pushToStoppedReaders(control, controlPairs, () => undefined);
    for (const pair of controlPairs) pair.visitor.ws.terminate();
    t.comment(
      `control (mark out of reach): peers pushed ${mib(unguarded.pushed)}; server peak ` +
        `growth: held ${mib(unguarded.retained)}, RSS ${mib(unguarded.rss)}`,
    );
    t.notOk(
      unguarded.results.some((r) => r.cut),
      'without the mark no reader is cut',
    );
    t.ok(
      unguarded.retained > 2 * bound,
      'without the mark the server holds far more: the bound above is the mark at work',
    );
  },
);

// ---------------------------------------------------------------------------------------------
// 3. A storm of bad tokens
// ---------------------------------------------------------------------------------------------

const STORM = {
  pairs: 20,
  attempts: 20_000,
  concurrency: 50,
  windowMs: 1000,
  /** Bounds the alternation whatever the attack's pace. */
  maxRounds: 120,
  /**
   * Relay p99 during the storm may be at most this multiple of the quiet windows', or this many
   * ms above it, whichever is more: the storm keeps the server's core busy by design.
   */
  p99Ratio: 10,
  p99SlackMs: 50,
} as const;

/** Bad tokens of several kinds, each ending in 4001 with its own reason. */
function badTokens(): (string | null)[] {
  const exp = Math.floor(Date.now() / 1000) + 3600;
  const none = [
    Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url'),
    Buffer.from(JSON.stringify({ sub: 'x', company_id: 'storm', exp })).toString('base64url'),
    '',
  ].join('.');
  return [
    null,
    'not-a-token',
    none,
    signToken({ sub: 'x', company_id: 'storm' }, 'another-secret-entirely-0123456789abcdef'),
    signToken({ sub: 'x', company_id: 'storm', exp: Math.floor(Date.now() / 1000) - 60 }),
    signToken({ sub: 'x', company_id: undefined }),
    jwt.sign({ sub: 'x', company_id: 'storm', exp }, 'x'.repeat(64), { algorithm: 'HS512' }),
  ];
}

t.test(
  '20,000 connection attempts with bad tokens do not disturb calls in progress',
  { timeout: 300_000 },
  async (t) => {
    const server = await SignalingProcess.start(t);
    const pairs = await answeredPairs(t, server, 'storm-probe', STORM.pairs);
    const probe = new RelayProbe(pairs);
    const before = await server.scrape();
    const attacker = await AttackerProcess.start(
      t,
      {
        kind: 'bad-tokens',
        url: server.wsUrl,
        tokens: badTokens(),
        attempts: STORM.attempts,
        concurrency: STORM.concurrency,
      },
      { maxMs: 240_000 },
    );
    await attacker.pause();
    await probe.measure(1000); // warm-up
    // Quiet and storm windows alternate until every attempt is made, so both meet the same
    // background load on the machine.
    const quietWindows: Window[] = [];
    const stormWindows: Window[] = [];
    for (let round = 0; !attacker.done && round < STORM.maxRounds; round++) {
      quietWindows.push(await probe.measure(STORM.windowMs));
      await attacker.resume();
      stormWindows.push(await probe.measure(STORM.windowMs));
      await attacker.pause();
    }
    const report = await attacker.finished();
    const afterStorm = await server.scrape();
    const later = await probe.measure(2 * STORM.windowMs);
    const quiet = pooled(quietWindows);
    const during = pooled(stormWindows);
    const stormSeconds = (stormWindows.length * STORM.windowMs) / 1000;
    t.comment(
      `${report.connections} attempts over ${stormWindows.length} windows of ` +
        `${STORM.windowMs} ms (about ${Math.round(report.connections / stormSeconds)}/s, ` +
        `${STORM.concurrency} at a time); closes ${closesText(report)}`,
    );
    t.comment(
      `relay quiet ${describe(quiet)}; storm ${describe(during)}; after ${describe(later)}`,
    );

    t.equal(report.connections, STORM.attempts, 'every attempt was made');
    const refused = Object.entries(report.closes)
      .filter(([key]) => key.startsWith('4001 '))
      .reduce((n, [, count]) => n + count, 0);
    t.equal(refused, STORM.attempts, 'every attempt ended in 4001');
    t.equal(
      grown(before, afterStorm, 'calldocker_auth_failures_total'),
      STORM.attempts,
      '/metrics counts every refused token',
    );
    t.equal(grown(before, afterStorm, 'calldocker_closes_total{code="4001"}'), STORM.attempts);

    for (const window of [...quietWindows, ...stormWindows, later]) {
      t.equal(window.received, window.sent, 'every probe frame was relayed');
    }
    t.ok(during.sent > 0 && later.sent > 0, 'the calls relayed during and after the storm');
    t.strictSame(probe.trouble(), [], 'no probe got an error or lost its call');
    t.ok(
      pairs.every((p) => [p.visitor, p.agent].every((c) => c.ws.readyState === c.ws.OPEN)),
      'every call participant is still connected',
    );
    t.equal(afterStorm.value('calldocker_calls{state="answered"}'), STORM.pairs, 'calls stay up');
    t.equal(
      grown(before, afterStorm, 'calldocker_call_transitions_total{state="ended"}'),
      0,
      'no call ended',
    );
    t.equal(afterStorm.sum('calldocker_connections'), 2 * STORM.pairs, 'no connection leaked');
    const allowed = Math.max(STORM.p99Ratio * quiet.p99Ms, quiet.p99Ms + STORM.p99SlackMs);
    t.ok(
      during.p99Ms <= allowed,
      `relay p99 during the storm ${ms(during.p99Ms)} ms, within ${ms(allowed)} ms ` +
        `(${(during.p99Ms / quiet.p99Ms).toFixed(2)}x quiet)`,
    );
  },
);
