/**
 * Flood: a crowd of anonymous visitors from eight client addresses (127.0.0.2 to 127.0.0.9)
 * floods the web host's visitor tokens and the signaling server's connections, call requests and
 * direct rings for a bounded time, with the servers' real limits on anonymous load, while a
 * real agent and real visitors from 127.0.0.1 place and answer calls beside it.
 *
 * The signaling server runs in its own process (see server-process.ts), the crowd in another
 * (`crowd-attack.ts`); the web host, the agent and the real visitors live in this one, and all
 * tokens come from the web host. Every real call must be answered, the agent must never be set
 * away, every queue announcement must stay within its caps, the crowd must have met every
 * limit, and once it is gone the queue must be empty and the server's memory back near where it
 * was before the flood. docs/RELIABILITY.md has the figures.
 *
 *   npx tap --disable-coverage --timeout=900 test/reliability/flood.reliability.ts
 */
import type { TSchema } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import t from 'tap';
import { ServerMessages } from '../../client-lib/protocol.js';
import { signalingDefaults } from '../../config/config.js';
import { PolicyReason } from '../../server/errors.js';
import { LimitName } from '../../server/visitor-limits.js';
import { DEFAULT_RATE_LIMITS } from '../../web/rate-limit.js';
import { delay, openClient, TEST_SECRET, until, type TestClient } from '../helpers.js';
import { listenTestApp, PASSWORD, seedCompany, type Teardown } from '../web/helpers.js';
import {
  AttackerProcess,
  SignalingProcess,
  type Collected,
  type Scrape,
} from './server-process.js';

const FLOOD = {
  addresses: Array.from({ length: 8 }, (_, i) => `127.0.0.${i + 2}`),
  durationMs: 20_000,
  /** Beyond the web host's 30 tokens a minute per address. */
  tokenBurst: 40,
  /** Beyond the 20 visitor connections an address may hold. */
  connectionsPerAddress: 25,
  ringersPerAddress: 4,
  /**
   * Each visitor's pause between call requests: 20 visitors of an address send about 65 a
   * second, far beyond the 30 a minute an address may make and the 6 a visitor may.
   */
  requestIntervalMs: 300,
  /** Short timers, so rings time out during the flood and the queue empties soon after it. */
  ringTimeoutMs: 2000,
  callReconnectGraceMs: 2000,
  /**
   * A real visitor refused (`busy`, then `queue_full`) tries again after this long, as someone
   * reading the page's message would, while its own budget of 6 call requests a minute lasts:
   * three tries, the last one 5 s after the first, by when a ring the crowd holds has timed out.
   */
  retryMs: 2500,
  /**
   * Between two real calls: about 14 in the flood, well within the 30 call requests and 30
   * visitor tokens a minute that 127.0.0.1, the real visitors' one address, may have.
   */
  betweenCallsMs: 1200,
} as const;

/** Most the server may hold after the flood over what it held before it. */
const MEMORY_KEPT_BYTES = 3 * 1_048_576;

const COMPANY = 'flood';
const LIMITS = signalingDefaults();
/** The web host's visitor tokens per address a minute. */
const TOKENS_PER_ADDRESS = DEFAULT_RATE_LIMITS.visitorTokenPerIp.limit;

const mib = (bytes: number) => `${(bytes / 1_048_576).toFixed(1)} MiB`;
/** What the server holds: V8's heap in use plus memory outside it (Buffers). */
const held = (m: Collected) => m.heapUsed + m.external;

// ---------------------------------------------------------------------------------------------
// The real agent and visitors
// ---------------------------------------------------------------------------------------------

const checks = new Map<string, TypeCheck<TSchema>>(
  Object.entries(ServerMessages).map(([type, schema]) => [type, TypeCompiler.Compile(schema)]),
);

/**
 * Opens a client with `token` from 127.0.0.1, closed at teardown; every frame it receives is
 * checked against its schema in `client-lib/protocol.ts`, and the invalid ones kept in `invalid`.
 */
async function realClient(t: Teardown, url: string, token: string, invalid: string[]) {
  const client = openClient(url, token);
  client.ws.on('message', (data: Buffer) => {
    const frame: unknown = JSON.parse(data.toString());
    const type = typeof frame === 'object' && frame !== null && 'type' in frame ? frame.type : 0;
    const check = typeof type === 'string' ? checks.get(type) : undefined;
    if (check?.Check(frame) !== true) invalid.push(data.toString().slice(0, 200));
  });
  t.teardown(() => client.close());
  await client.established();
  return client;
}

/** The web host, as the real visitors and the agent reach it. */
class WebHost {
  constructor(readonly url: string) {}

  private async post(path: string, body: unknown): Promise<Record<string, unknown>> {
    const res = await fetch(`${this.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const answer: unknown = await res.json();
    if (res.status !== 200) {
      throw new Error(`${path} answered ${res.status}: ${JSON.stringify(answer)}`);
    }
    return answer as Record<string, unknown>;
  }

  async visitorToken(name: string): Promise<string> {
    return String((await this.post('/api/visitor-token', { companyId: COMPANY, name }))['token']);
  }

  async login(email: string): Promise<{ token: string; agentId: string }> {
    const answer = await this.post('/api/auth/login', {
      companyId: COMPANY,
      email,
      password: PASSWORD,
    });
    return {
      token: String(answer['token']),
      agentId: String((answer['agent'] as { id: unknown }).id),
    };
  }
}

/** How one real call went. */
interface RealCall {
  /** Each request's answer, in order (`ring ack`, `ring busy`, `queue queue_full`...). */
  readonly answers: string[];
  readonly answered: boolean;
}

/** The real side: the agent, and a call placed by a fresh visitor each time. */
class RealSide {
  private constructor(
    private readonly t: Teardown,
    private readonly server: SignalingProcess,
    private readonly web: WebHost,
    readonly agent: TestClient,
    readonly agentId: string,
    /** Frames of the real clients that failed their schema. */
    readonly invalid: string[],
  ) {}

  /** Logs the agent in through the web host and connects it. */
  static async start(t: Teardown, server: SignalingProcess, web: WebHost, email: string) {
    const { token, agentId } = await web.login(email);
    const invalid: string[] = [];
    const agent = await realClient(t, server.wsUrl, token, invalid);
    return new RealSide(t, server, web, agent, agentId, invalid);
  }

  /**
   * One real call: a new visitor rings the agent; refused as `busy` it asks for the queue, as
   * the visitor page offers; refused again (`queue_full`) it tries again after `FLOOD.retryMs`
   * while its budget of call requests a minute lasts. `via: 'queue'` asks for the queue
   * straight away. The agent accepts the call (finding a queued one with `queue_list`, as the
   * dashboard's Show more does), both hear `call_started`, and the agent hangs up.
   */
  async call(n: number, via: 'ring' | 'queue' = 'ring'): Promise<RealCall> {
    const visitor = await realClient(
      this.t,
      this.server.wsUrl,
      await this.web.visitorToken(`Real visitor ${n}`),
      this.invalid,
    );
    const answers: string[] = [];
    /** Asks for a call; the call's id, or undefined when refused. */
    const ask = async (kind: 'ring' | 'queue') => {
      const res = await visitor.request(
        {
          type: 'call_request',
          callType: 'audio',
          purpose: 'A question about my order',
          ...(kind === 'ring' ? { agentId: this.agentId } : {}),
        },
        10_000,
      );
      answers.push(`${kind} ${res.type === 'ack' ? 'ack' : res.code}`);
      return res.type === 'ack' ? String(res['callId']) : undefined;
    };
    let callId: string | undefined;
    while (callId === undefined && answers.length + 2 <= LIMITS.callRequestsPerVisitorPerMin) {
      if (answers.length > 0) await delay(FLOOD.retryMs);
      if (via === 'ring') {
        const rung = await ask('ring');
        if (rung !== undefined) {
          await this.agent.next('call_incoming', 10_000, (m) => m.callId === rung);
          callId = rung;
          break;
        }
        if (answers.at(-1) !== 'ring busy') continue;
      }
      const queued = await ask('queue');
      if (queued !== undefined) callId = await this.findQueued(queued);
    }
    if (callId !== undefined) await this.answer(visitor, callId);
    await visitor.close();
    return { answers, answered: callId !== undefined };
  }

  /** Pages through the queue until `callId` shows; returns it. */
  private async findQueued(callId: string): Promise<string> {
    for (let offset = 0; ; offset += 100) {
      const res = await this.agent.request({ type: 'queue_list', offset, limit: 100 }, 10_000);
      if (res.type !== 'ack') throw new Error(`queue_list: ${JSON.stringify(res)}`);
      const calls = res['calls'] as { callId: string }[];
      if (calls.some((c) => c.callId === callId)) return callId;
      if (calls.length === 0) throw new Error(`queued call ${callId} is not in the queue`);
    }
  }

  private async answer(visitor: TestClient, callId: string): Promise<void> {
    const forCall = (m: { callId: string }) => m.callId === callId;
    const accepted = await this.agent.request({ type: 'call_accept', callId }, 10_000);
    if (accepted.type !== 'ack') throw new Error(`call_accept: ${JSON.stringify(accepted)}`);
    await visitor.next('call_started', 10_000, forCall);
    await this.agent.next('call_started', 10_000, forCall);
    const ended = await this.agent.request({ type: 'call_ended', callId }, 10_000);
    if (ended.type !== 'ack') throw new Error(`call_ended: ${JSON.stringify(ended)}`);
    await visitor.next('call_ended', 10_000, forCall);
  }

  /** Every status the agent was announced with, in order. */
  statuses(): string[] {
    return this.agent
      .all('agent_status_changed')
      .filter((m) => m.agentId === this.agentId)
      .map((m) => m.status);
  }
}

// ---------------------------------------------------------------------------------------------
// The scenario
// ---------------------------------------------------------------------------------------------

/** Samples the server every second while `running()`: peaks of visitor connections and memory. */
async function watch(server: SignalingProcess, running: () => boolean) {
  const peak = { visitors: 0, held: 0 };
  for (let i = 0; running(); i++) {
    const scrape = await server.scrape();
    peak.visitors = Math.max(
      peak.visitors,
      scrape.sample('calldocker_connections{role="visitor"}'),
    );
    if (i % 2 === 0) peak.held = Math.max(peak.held, held(await server.collect()));
    await delay(1000);
  }
  return peak;
}

/** How much one series grew from `before` to `after` (0 when absent: counters start so). */
const grown = (before: Scrape, after: Scrape, series: string) =>
  after.value(series) - before.value(series);

const refusals = (limit: string) => `calldocker_limit_refusals_total{limit="${limit}"}`;

t.test(
  'a crowd from eight addresses meets every limit; real calls beside it are all answered',
  { timeout: 300_000 },
  async (t) => {
    const server = await SignalingProcess.start(t, {
      limitAnonymousLoad: true,
      config: {
        ringTimeoutMs: FLOOD.ringTimeoutMs,
        callReconnectGraceMs: FLOOD.callReconnectGraceMs,
      },
      lifetimeMs: 300_000,
    });
    const { url: webUrl, database } = await listenTestApp(t, {
      jwt: { secret: TEST_SECRET, publicKey: undefined, issuer: undefined, audience: undefined },
    });
    await seedCompany(database, COMPANY, [{ email: 'alice@example.test', name: 'Alice Agent' }]);
    const web = new WebHost(webUrl);
    const real = await RealSide.start(t, server, web, 'alice@example.test');

    // A warm-up call through the queue, so the baseline includes what any call compiles.
    const warmUp = await real.call(0, 'queue');
    t.ok(warmUp.answered, 'the warm-up call is answered');
    const before = await server.scrape();
    const baseline = await server.collect();

    const attacker = await AttackerProcess.start(
      t,
      {
        kind: 'crowd',
        url: server.wsUrl,
        webUrl,
        companyId: COMPANY,
        addresses: FLOOD.addresses,
        durationMs: FLOOD.durationMs,
        tokenBurst: FLOOD.tokenBurst,
        connectionsPerAddress: FLOOD.connectionsPerAddress,
        ringersPerAddress: FLOOD.ringersPerAddress,
        requestIntervalMs: FLOOD.requestIntervalMs,
      },
      { maxMs: FLOOD.durationMs + 30_000 },
    );
    const startedAt = performance.now();
    const watching = watch(server, () => !attacker.done);
    // The real calls start once the crowd has rung the agent: the first real visitor meets the
    // crowd's ring and its queue, full or filling, the worst the flood does to a caller.
    await real.agent.next('call_incoming', 10_000);
    const duringFlood: RealCall[] = [];
    for (let n = 1; !attacker.done; n++) {
      duringFlood.push(await real.call(n));
      if (!attacker.done) await delay(FLOOD.betweenCallsMs);
    }
    const report = await attacker.finished();
    const floodSeconds = (performance.now() - startedAt) / 1000;
    const peak = await watching;

    // Once the crowd is gone its queued calls end with the reconnect grace.
    await until(async () => {
      const s = await server.scrape();
      return (
        s.sample('calldocker_connections{role="visitor"}') === 0 &&
        s.sample('calldocker_calls{state="queued"}') === 0 &&
        s.sample('calldocker_calls{state="ringing"}') === 0 &&
        s.sample('calldocker_call_timers') === 0
      );
    }, 30_000);
    const after = await server.scrape();
    const settled = await server.collect();

    // What happened, as figures.
    const answers = Object.entries(report.answers)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([key, n]) => `${key}: ${n}`)
      .join(', ');
    const firstAnswers = new Map<string, number>();
    for (const call of duringFlood) {
      const key = call.answers.join(' > ');
      firstAnswers.set(key, (firstAnswers.get(key) ?? 0) + 1);
    }
    t.comment(
      `${floodSeconds.toFixed(1)} s of flood from ${FLOOD.addresses.length} addresses: ` +
        `${report.connections} connection attempts, ${report.framesSent} frames; ${answers}; ` +
        `closes ${JSON.stringify(report.closes)}`,
    );
    t.comment(
      `limit refusals in /metrics: ${Object.values(LimitName)
        .map((l) => `${l} ${grown(before, after, refusals(l))}`)
        .join(', ')}`,
    );
    t.comment(
      `real calls during the flood: ${duringFlood.length}, answered ` +
        `${duringFlood.filter((c) => c.answered).length}; ${[...firstAnswers]
          .map(([k, n]) => `${n} x [${k}]`)
          .join('; ')}`,
    );
    t.comment(
      `server memory held (collected): before ${mib(held(baseline))}, flood peak ` +
        `${mib(peak.held)}, after ${mib(held(settled))}; peak visitor connections ${peak.visitors}`,
    );

    // Every real call was answered, and the agent stayed at its desk.
    t.ok(duringFlood.length >= 5, `real calls were placed throughout (${duringFlood.length})`);
    t.strictSame(
      duringFlood.filter((c) => !c.answered).map((c) => c.answers),
      [],
      'every real call was answered',
    );
    t.notOk(
      duringFlood.some((c) => c.answers.some((a) => a.endsWith('rate_limited'))),
      "no real visitor was throttled: the crowd spends its own addresses' budgets",
    );
    const statuses = real.statuses();
    t.strictSame(
      statuses.filter((s) => s !== 'online' && s !== 'busy'),
      [],
      `the agent was only ever online or busy (${statuses.length} announcements)`,
    );
    t.equal(statuses.at(-1), 'online', 'and is online after the flood');
    t.equal(real.agent.ws.readyState, real.agent.ws.OPEN, 'the agent was never disconnected');
    t.strictSame(real.invalid, [], 'every frame the real clients got matches its schema');

    // The queue and its announcements stayed within their caps.
    const updates = real.agent.all('queue_updated');
    const cap = LIMITS.maxQueuedCallsPerCompany;
    t.strictSame(
      updates
        .filter(
          (u) => u.total > cap || u.calls.length !== Math.min(u.total, LIMITS.queueAnnounceMax),
        )
        .map((u) => `${u.calls.length} of ${u.total}`),
      [],
      `every queue_updated (${updates.length}) carried min(total, ${LIMITS.queueAnnounceMax}) ` +
        `calls of a queue of at most ${cap}`,
    );
    t.equal(Math.max(...updates.map((u) => u.total)), cap, 'the queue reached its cap');

    // The crowd met every limit, so none of the above held for want of trying.
    const count = (key: string) => report.answers[key] ?? 0;
    const tooMany = `4008 ${PolicyReason.TooManyConnections}`;
    t.ok(count('token 429') > 0, `the web host refused tokens (${count('token 429')} x 429)`);
    t.equal(
      count('token 200'),
      TOKENS_PER_ADDRESS * FLOOD.addresses.length,
      `and gave each address its ${TOKENS_PER_ADDRESS}`,
    );
    t.ok((report.closes[tooMany] ?? 0) > 0, `connections past the cap were closed ${tooMany}`);
    t.strictSame(
      Object.values(report.peakOpen),
      FLOOD.addresses.map(() => LIMITS.maxVisitorConnectionsPerAddress),
      `each address held exactly ${LIMITS.maxVisitorConnectionsPerAddress} connections at most`,
    );
    t.ok(
      peak.visitors <= LIMITS.maxVisitorConnectionsPerAddress * FLOOD.addresses.length + 1,
      `/metrics never counted more visitors than the addresses may hold (${peak.visitors})`,
    );
    for (const key of [
      'queue ack',
      'queue queue_full',
      'ring ack',
      'ring busy',
      'ring missed',
      'cancel ack',
    ]) {
      t.ok(count(key) > 0, `the crowd got ${key} (${count(key)})`);
    }
    t.ok(report.rateLimited > 0, `and rate_limited (${report.rateLimited})`);
    for (const limit of Object.values(LimitName)) {
      t.ok(grown(before, after, refusals(limit)) > 0, `/metrics counts refusals by ${limit}`);
    }

    // Once the crowd is gone, nothing of it is left.
    t.equal(after.sample('calldocker_calls{state="queued"}'), 0, 'the queue is empty');
    t.equal(after.sample('calldocker_connections{role="visitor"}'), 0, 'no visitor is connected');
    t.equal(after.sample('calldocker_call_timers'), 0, 'no call timer is armed');
    // What the flood leaves is paid once: code compiled for the refusals, which the warm-up call
    // never took, and a minute's call-request windows of the crowd's 240 visitors. Three floods
    // in a row on one server left 1.2, 1.7 and 1.8 MiB (see docs/RELIABILITY.md).
    const kept = held(settled) - held(baseline);
    t.ok(kept <= MEMORY_KEPT_BYTES, `memory back near its level before (${mib(kept)} more)`);
  },
);
