/**
 * Soak: thousands of connections answering heartbeats while a steady stream of calls runs
 * through a real signaling server in its own process (see server-process.ts), watched through
 * `/metrics`. Memory must settle, not creep: after the stream, with every connection still
 * open, the server's collected heap is within 5% of its plateau; and once every client has
 * left, no connection, room, call or call timer is left behind.
 *
 * Bounded: SOAK_SECONDS of calls (150 by default, about 3 minutes in all with set-up and
 * teardown); set it higher for a longer soak.
 *
 *   npx tap test/reliability/soak.reliability.ts --disable-coverage
 *   SOAK_SECONDS=3600 npx tap test/reliability/soak.reliability.ts --disable-coverage --timeout=4200
 */
import { performance } from 'node:perf_hooks';
import t from 'tap';
import { WebSocket } from 'ws';
import { signToken } from '../helpers.js';
import { SignalingProcess, type Scrape } from './server-process.js';

const SOAK = {
  /** Seconds of the call stream. */
  seconds: Number(process.env['SOAK_SECONDS'] ?? 150),
  companies: 10,
  visitorsPerCompany: 300,
  agentsPerCompany: 5,
  /** Calls started per second, over all companies. */
  callsPerSec: 50,
  /** ICE candidates each side sends in every call. */
  candidates: 3,
  /** The server pings every connection this often (and drops those that do not answer). */
  heartbeatIntervalMs: 1000,
  /** `/metrics` is read (after a full collection) this often. */
  sampleEveryMs: 5000,
  /** Connections opened at a time while connecting. */
  connectConcurrency: 100,
  /** Longest any one step of a call may take before the call counts as failed. */
  stepTimeoutMs: 15_000,
} as const;

if (!Number.isFinite(SOAK.seconds) || SOAK.seconds < 10) {
  throw new Error(`SOAK_SECONDS must be a number of at least 10, got ${SOAK.seconds}`);
}

/** A frame as the soak reads it. */
type Frame = Record<string, unknown> & { type: string };

interface Waiter {
  readonly match: (frame: Frame) => boolean;
  readonly resolve: (frame: Frame) => void;
}

/**
 * A light client: it answers pings (ws does) and counts them, and reads frames only while
 * `reading` (an idle visitor's broadcasts are only counted, so 3,000 of them stay cheap).
 */
class SoakClient {
  pings = 0;
  frames = 0;
  reading = true;
  closeCode: number | undefined;
  private readonly waiters = new Set<Waiter>();
  private nextId = 0;

  private constructor(readonly ws: WebSocket) {
    ws.on('ping', () => this.pings++);
    ws.on('error', () => undefined);
    ws.on('close', (code) => (this.closeCode = code));
    ws.on('message', (data: Buffer) => {
      this.frames++;
      if (!this.reading || this.waiters.size === 0) return;
      const frame = JSON.parse(data.toString()) as Frame;
      // Each frame satisfies one waiter at most: three waiting candidates need three frames.
      for (const waiter of this.waiters) {
        if (!waiter.match(frame)) continue;
        this.waiters.delete(waiter);
        waiter.resolve(frame);
        break;
      }
    });
  }

  /** Connects and waits for `connection_established`. */
  static async connect(url: string, token: string): Promise<SoakClient> {
    const ws = new WebSocket(`${url}?token=${encodeURIComponent(token)}`, {
      perMessageDeflate: false,
    });
    const client = new SoakClient(ws);
    await client.waitFor('connection_established', (f) => f.type === 'connection_established');
    return client;
  }

  /** The next frame `match` accepts; register before sending what causes it. */
  waitFor(what: string, match: (frame: Frame) => boolean): Promise<Frame> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`timed out waiting for ${what}`));
      }, SOAK.stepTimeoutMs);
      const waiter: Waiter = {
        match,
        resolve: (frame) => {
          clearTimeout(timer);
          resolve(frame);
        },
      };
      this.waiters.add(waiter);
    });
  }

  send(message: Record<string, unknown>): void {
    this.ws.send(JSON.stringify(message));
  }

  /** Sends `message` with an id and resolves with its ack; an error frame throws. */
  async request(message: Record<string, unknown>): Promise<Frame> {
    const id = `s${++this.nextId}`;
    const answer = this.waitFor(
      `the answer to ${String(message['type'])}`,
      (f) => (f.type === 'ack' || f.type === 'error') && f['id'] === id,
    );
    this.send({ ...message, id });
    const frame = await answer;
    if (frame.type === 'error') throw new Error(`${message['type']}: ${JSON.stringify(frame)}`);
    return frame;
  }
}

/** One company: its agents, and its visitors not in a call. */
interface Company {
  readonly id: string;
  readonly agents: SoakClient[];
  readonly idleVisitors: SoakClient[];
}

/** One full call: request, accept, offer, answer, candidates both ways, hang-up. */
async function oneCall(agent: SoakClient, visitor: SoakClient): Promise<number> {
  const startedAt = performance.now();
  visitor.reading = true;
  try {
    const visitorStarted = visitor.waitFor('call_started', (f) => f.type === 'call_started');
    const requested = await visitor.request({ type: 'call_request', callType: 'audio' });
    const callId = String(requested['callId']);
    const forCall = (type: string) => (f: Frame) => f.type === type && f['callId'] === callId;
    const agentStarted = agent.waitFor('call_started', forCall('call_started'));
    await agent.request({ type: 'call_accept', callId });
    await Promise.all([visitorStarted, agentStarted]);
    const setupMs = performance.now() - startedAt;

    const offer = agent.waitFor('webrtc_offer', forCall('webrtc_offer'));
    visitor.send({ type: 'webrtc_offer', callId, offer: { type: 'offer', sdp: 'v=0\r\n' } });
    await offer;
    const answer = visitor.waitFor('webrtc_answer', forCall('webrtc_answer'));
    agent.send({ type: 'webrtc_answer', callId, answer: { type: 'answer', sdp: 'v=0\r\n' } });
    await answer;
    const candidates: Promise<Frame>[] = [];
    for (let i = 0; i < SOAK.candidates; i++) {
      const candidate = { candidate: `candidate:${i} 1 udp 1 127.0.0.1 ${9000 + i} typ host` };
      candidates.push(agent.waitFor('ice_candidate', forCall('ice_candidate')));
      candidates.push(visitor.waitFor('ice_candidate', forCall('ice_candidate')));
      visitor.send({ type: 'ice_candidate', callId, candidate });
      agent.send({ type: 'ice_candidate', callId, candidate });
    }
    await Promise.all(candidates);

    const ended = [
      visitor.waitFor('call_ended', forCall('call_ended')),
      agent.waitFor('call_ended', forCall('call_ended')),
    ];
    await agent.request({ type: 'call_ended', callId });
    await Promise.all(ended);
    return setupMs;
  } finally {
    visitor.reading = false;
  }
}

/** Connects `count` clients `concurrency` at a time. */
async function connectAll(
  url: string,
  tokens: readonly string[],
  concurrency: number,
): Promise<SoakClient[]> {
  const clients: SoakClient[] = new Array<SoakClient>(tokens.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < tokens.length) {
        const i = next++;
        clients[i] = await SoakClient.connect(url, tokens[i]!);
      }
    }),
  );
  return clients;
}

/** One `/metrics` reading during the run, taken right after a full collection. */
interface Sample {
  /** Seconds since the call stream began. */
  readonly at: number;
  readonly heapUsed: number;
  readonly rss: number;
  readonly connections: number;
  readonly callsLive: number;
}

function sampleOf(scrape: Scrape, at: number): Sample {
  return {
    at,
    heapUsed: scrape.value('nodejs_heap_size_used_bytes'),
    rss: scrape.value('process_resident_memory_bytes'),
    connections: scrape.sum('calldocker_connections'),
    callsLive: scrape.sum('calldocker_calls'),
  };
}

/** The `p`-th percentile (nearest rank) of `values`. */
function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length))) - 1]!;
}

const mib = (bytes: number) => `${(bytes / 1_048_576).toFixed(1)} MiB`;
const pct = (value: number) => `${(value * 100).toFixed(1)}%`;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

t.test(
  'thousands of connections and a steady stream of calls: memory settles, nothing leaks',
  { timeout: SOAK.seconds * 1000 + 300_000 },
  async (t) => {
    const server = await SignalingProcess.start(t, {
      config: { heartbeatIntervalMs: SOAK.heartbeatIntervalMs },
      lifetimeMs: SOAK.seconds * 1000 + 300_000,
    });
    const empty = await server.scrapeCollected();

    // Agents first, so visitors arrive to a staffed company.
    const companies: Company[] = [];
    const everyone: SoakClient[] = [];
    t.teardown(() => everyone.forEach((c) => c.ws.terminate()));
    const connectStarted = performance.now();
    for (let c = 0; c < SOAK.companies; c++) {
      const id = `soak-${c}`;
      const agentTokens = Array.from({ length: SOAK.agentsPerCompany }, (_, i) =>
        signToken({ sub: `agent-${i}`, role: 'agent', company_id: id, name: `Agent ${i}` }),
      );
      const agents = await connectAll(server.wsUrl, agentTokens, SOAK.agentsPerCompany);
      everyone.push(...agents);
      companies.push({ id, agents, idleVisitors: [] });
    }
    for (const company of companies) {
      const tokens = Array.from({ length: SOAK.visitorsPerCompany }, (_, i) =>
        signToken({ sub: `visitor-${i}`, company_id: company.id }),
      );
      const visitors = await connectAll(server.wsUrl, tokens, SOAK.connectConcurrency);
      for (const visitor of visitors) visitor.reading = false;
      everyone.push(...visitors);
      company.idleVisitors.push(...visitors);
    }
    const connectSeconds = (performance.now() - connectStarted) / 1000;
    const total = everyone.length;
    t.comment(`${total} connections open in ${connectSeconds.toFixed(1)} s`);

    // The call stream: every agent runs calls back to back, paced so that all of them together
    // start SOAK.callsPerSec calls a second, each with a visitor of its company not in a call.
    const agentsTotal = SOAK.companies * SOAK.agentsPerCompany;
    const periodMs = (agentsTotal / SOAK.callsPerSec) * 1000;
    const setupMs: number[] = [];
    const failures: string[] = [];
    let completed = 0;
    let running = true;
    const streamStarted = performance.now();
    const at = () => (performance.now() - streamStarted) / 1000;
    const loops = companies.flatMap((company) =>
      company.agents.map(async (agent) => {
        await sleep(Math.random() * periodMs);
        while (running) {
          const began = performance.now();
          const visitor = company.idleVisitors.splice(
            Math.floor(Math.random() * company.idleVisitors.length),
            1,
          )[0]!;
          try {
            setupMs.push(await oneCall(agent, visitor));
            completed++;
          } catch (err) {
            failures.push(`${company.id}: ${(err as Error).message}`);
          }
          company.idleVisitors.push(visitor);
          await sleep(Math.max(0, periodMs - (performance.now() - began)));
        }
      }),
    );

    const samples: Sample[] = [];
    while (at() < SOAK.seconds) {
      await sleep(Math.min(SOAK.sampleEveryMs, (SOAK.seconds - at()) * 1000));
      samples.push(sampleOf(await server.scrapeCollected(), at()));
    }
    running = false;
    await Promise.all(loops);
    const streamSeconds = at();

    // With every connection still open and every call over: memory against its plateau.
    await sleep(2000);
    const settled = await server.scrapeCollected();
    const after = sampleOf(settled, at());
    const secondHalf = samples.filter((s) => s.at >= SOAK.seconds / 2);
    const firstHalf = samples.filter((s) => s.at < SOAK.seconds / 2);
    const plateau = {
      heapUsed: percentile(
        secondHalf.map((s) => s.heapUsed),
        50,
      ),
      rss: percentile(
        secondHalf.map((s) => s.rss),
        50,
      ),
    };
    const early = percentile(
      firstHalf.map((s) => s.heapUsed),
      50,
    );
    const heapDrift = (after.heapUsed - plateau.heapUsed) / plateau.heapUsed;
    const rssDrift = (after.rss - plateau.rss) / plateau.rss;
    t.comment(
      `${completed} calls in ${streamSeconds.toFixed(0)} s ` +
        `(${(completed / streamSeconds).toFixed(1)}/s), set-up p50 ` +
        `${percentile(setupMs, 50).toFixed(1)} ms, p99 ${percentile(setupMs, 99).toFixed(1)} ms; ` +
        `${failures.length} failed`,
    );
    t.comment(
      `heap used (collected): empty ${mib(empty.value('nodejs_heap_size_used_bytes'))}, ` +
        `first-half median ${mib(early)}, plateau ${mib(plateau.heapUsed)} (median of ` +
        `${secondHalf.length} samples), after ${mib(after.heapUsed)} (${pct(heapDrift)}); ` +
        `RSS plateau ${mib(plateau.rss)}, after ${mib(after.rss)} (${pct(rssDrift)})`,
    );

    t.strictSame(failures.slice(0, 5), [], 'every call completed');
    t.ok(completed >= SOAK.callsPerSec * SOAK.seconds * 0.5, `the stream ran (${completed})`);
    t.equal(
      settled.value('calldocker_call_transitions_total{state="ended"}'),
      completed,
      '/metrics counts every call as ended',
    );
    t.ok(secondHalf.length >= 3, `the plateau has samples (${secondHalf.length})`);
    t.ok(
      samples.every((s) => s.connections === total),
      'every sample saw every connection',
    );
    t.ok(
      Math.abs(heapDrift) <= 0.05,
      `heap after the run within 5% of plateau (${pct(heapDrift)})`,
    );
    t.ok(rssDrift <= 0.05, `RSS after the run at most 5% above plateau (${pct(rssDrift)})`);

    // Heartbeats really happened, and every client answered them.
    const fewestPings = Math.min(...everyone.map((c) => c.pings));
    t.comment(`pings per connection: at least ${fewestPings}`);
    t.ok(
      fewestPings >= Math.floor((streamSeconds * 1000) / SOAK.heartbeatIntervalMs / 2),
      `every connection was pinged throughout (${fewestPings} at least)`,
    );
    t.equal(settled.value('calldocker_heartbeat_terminations_total'), 0, 'no heartbeat missed');
    t.equal(
      everyone.filter((c) => c.closeCode !== undefined).length,
      0,
      'no connection was closed during the run',
    );

    // Everyone leaves: nothing may be left behind.
    for (const client of everyone) client.ws.close();
    let gone = settled;
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      gone = await server.scrapeCollected();
      if (gone.sum('calldocker_connections') === 0 && gone.value('calldocker_rooms') === 0) {
        break;
      }
      await sleep(250);
    }
    t.comment(
      `after everyone left: heap used ${mib(gone.value('nodejs_heap_size_used_bytes'))} ` +
        `(empty server ${mib(empty.value('nodejs_heap_size_used_bytes'))})`,
    );
    const given = empty.value('nodejs_heap_size_used_bytes');
    const leftover =
      (gone.value('nodejs_heap_size_used_bytes') - given) / (plateau.heapUsed - given);
    t.ok(leftover <= 0.5, `most of what the run held was given back (${pct(leftover)} kept)`);
    t.equal(gone.sum('calldocker_connections'), 0, 'no connection left');
    t.equal(gone.value('calldocker_rooms'), 0, 'no room left');
    t.equal(gone.sum('calldocker_calls'), 0, 'no call left');
    t.equal(gone.value('calldocker_call_timers'), 0, 'no call timer left');
  },
);
