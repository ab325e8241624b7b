/**
 * A full call between two real WebSocket clients, one readable line per step, then the
 * `/metrics` counters the call moved.
 *
 *   npm run demo:call                                      builds a server in-process
 *   npm run demo:call -- --url ws://HOST:PORT/ --secret S  talks to a running server
 *     [--metrics-token T]                                  whose /metrics needs METRICS_TOKEN
 *
 * Each step must finish within five seconds (`--step-timeout-ms`); the script exits 0 when the call went through and
 * 1 with the failing step when it did not (2 for bad usage). Every frame the clients receive is
 * checked against its schema in `client-lib/protocol.ts`, so the demo also shows that the
 * server speaks the documented protocol.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import type { TSchema } from '@sinclair/typebox';
import jwt from 'jsonwebtoken';
import { WebSocket } from 'ws';
import {
  ServerMessages,
  type ServerMessage,
  type ServerMessageOf,
  type ServerMessageType,
} from '../client-lib/protocol.js';
import { buildSignalingServer, type SignalingServer } from '../server/app.js';
import { signalingDefaults } from '../config/config.js';

/** How long any one step may take, unless `--step-timeout-ms` says otherwise. */
const DEFAULT_STEP_TIMEOUT_MS = 5000;
let stepTimeoutMs = DEFAULT_STEP_TIMEOUT_MS;
/** The running server's METRICS_TOKEN, sent as a bearer when given. */
let metricsToken: string | undefined;

const USAGE = `usage: demo-call [--url ws://HOST:PORT/ --secret JWT_SECRET [--metrics-token T]]
                 [--step-timeout-ms N]

Without --url, builds a signaling server in-process on a free port with a random secret.
With --url, talks to a running server whose HS256 secret is --secret; --metrics-token is its
METRICS_TOKEN, needed to read its /metrics when it has one.
Each step fails after --step-timeout-ms (default ${DEFAULT_STEP_TIMEOUT_MS}).`;

const validators = new Map<string, TypeCheck<TSchema>>(
  Object.entries(ServerMessages).map(([type, schema]) => [type, TypeCompiler.Compile(schema)]),
);

/** A failure with the text the user should see. */
class DemoError extends Error {
  override readonly name = 'DemoError';
}

type Ack = ServerMessageOf<'ack'> & Record<string, unknown>;

/** A real `ws` client that keeps every valid frame until a step takes it. */
class DemoClient {
  private readonly inbox: ServerMessage[] = [];
  private readonly waiters = new Set<() => void>();
  private failure: string | undefined;
  private nextId = 0;
  readonly ws: WebSocket;

  constructor(
    readonly label: string,
    url: string,
    token: string,
  ) {
    const target = new URL(url);
    target.searchParams.set('token', token);
    this.ws = new WebSocket(target);
    this.ws.on('error', (err) => this.fail(`socket error: ${err.message}`));
    this.ws.on('close', (code, reason) => {
      this.fail(`connection closed (${code}${reason.length > 0 ? ` ${reason.toString()}` : ''})`);
    });
    this.ws.on('message', (data, isBinary) => this.socketOnMessage(String(data), isBinary));
  }

  private socketOnMessage(text: string, isBinary: boolean): void {
    let value: unknown;
    try {
      value = isBinary ? undefined : JSON.parse(text);
    } catch {
      value = undefined;
    }
    const type = (value as { type?: unknown } | undefined)?.type;
    const validator = typeof type === 'string' ? validators.get(type) : undefined;
    if (validator === undefined || !validator.Check(value)) {
      this.fail(`received a frame that is not in the protocol: ${text.slice(0, 200)}`);
      return;
    }
    this.inbox.push(value as ServerMessage);
    this.wakeAll();
  }

  private fail(reason: string): void {
    this.failure ??= reason;
    this.wakeAll();
  }

  private wakeAll(): void {
    for (const wake of [...this.waiters]) wake();
  }

  /** Resolves when something arrives or `ms` pass. */
  private wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.waiters.add(done);
    });
  }

  /** Takes the first frame that `pick` accepts; fails on an error frame, a close, or time. */
  private async take<T extends ServerMessage>(
    what: string,
    pick: (msg: ServerMessage) => msg is T,
  ): Promise<T> {
    const deadline = Date.now() + stepTimeoutMs;
    for (;;) {
      const index = this.inbox.findIndex(pick);
      if (index >= 0) return this.inbox.splice(index, 1)[0] as T;
      const error = this.inbox.find((m) => m.type === 'error');
      if (error?.type === 'error') {
        throw new DemoError(`${this.label} got error ${error.code} (${error.message})`);
      }
      if (this.failure !== undefined) {
        throw new DemoError(`${this.label}: ${this.failure} while waiting for ${what}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        const got = this.inbox.map((m) => m.type).join(', ') || 'nothing';
        throw new DemoError(
          `${this.label}: no ${what} within ${stepTimeoutMs} ms (unread: ${got})`,
        );
      }
      await this.wait(left);
    }
  }

  /** The next frame of `type` (that `match` accepts), leaving other frames for later. */
  next<K extends ServerMessageType>(
    type: K,
    match: (msg: ServerMessageOf<K>) => boolean = () => true,
  ): Promise<ServerMessageOf<K>> {
    return this.take(
      type,
      (m): m is ServerMessageOf<K> => m.type === type && match(m as ServerMessageOf<K>),
    );
  }

  send(message: Record<string, unknown>): void {
    if (this.failure !== undefined) throw new DemoError(`${this.label}: ${this.failure}`);
    this.ws.send(JSON.stringify(message));
  }

  /** Sends `message` with a fresh id and returns its ack; an error answer fails the step. */
  async request(message: Record<string, unknown>): Promise<Ack> {
    const id = `${this.label}-${++this.nextId}`;
    this.send({ ...message, id });
    const answer = await this.take(
      `the answer to ${String(message['type'])}`,
      (m): m is Ack | ServerMessageOf<'error'> =>
        (m.type === 'ack' || m.type === 'error') && m.id === id,
    );
    if (answer.type === 'error') {
      throw new DemoError(
        `${this.label}: ${String(message['type'])} refused with ${answer.code} (${answer.message})`,
      );
    }
    return answer;
  }

  close(): void {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) {
      this.ws.close(1000);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Metrics
// ---------------------------------------------------------------------------------------------

/** Counter samples and histogram counts, by series (`name{labels}`), in exposition order. */
function counterSamples(text: string): Map<string, number> {
  const kinds = new Map<string, string>();
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    const typeLine = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (typeLine !== null) {
      kinds.set(typeLine[1]!, typeLine[2]!);
      continue;
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (sample === null) continue;
    const [, name, labels = '', value] = sample;
    const isCounter = kinds.get(name!) === 'counter';
    const isHistogramCount =
      name!.endsWith('_count') && kinds.get(name!.slice(0, -'_count'.length)) === 'histogram';
    if (isCounter || isHistogramCount) samples.set(`${name}${labels}`, Number(value));
  }
  return samples;
}

async function fetchMetrics(metricsUrl: string): Promise<Map<string, number>> {
  let res: Response;
  try {
    res = await fetch(metricsUrl, {
      signal: AbortSignal.timeout(stepTimeoutMs),
      headers: metricsToken === undefined ? {} : { authorization: `Bearer ${metricsToken}` },
    });
  } catch (err) {
    const cause = (err as { cause?: { message?: string } }).cause?.message;
    throw new DemoError(`GET ${metricsUrl} failed: ${cause ?? (err as Error).message}`);
  }
  if (res.status === 401 || res.status === 403) {
    throw new DemoError(
      `GET ${metricsUrl} answered ${res.status}: pass the server's METRICS_TOKEN as --metrics-token`,
    );
  }
  if (res.status !== 200) throw new DemoError(`GET ${metricsUrl} answered ${res.status}`);
  return counterSamples(await res.text());
}

// ---------------------------------------------------------------------------------------------
// The walk
// ---------------------------------------------------------------------------------------------

let stepNumber = 0;

/** Runs one step within the step timeout and prints it as one line. */
async function step(title: string, run: () => Promise<string>): Promise<void> {
  stepNumber++;
  const label = `step ${stepNumber} "${title}"`;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new DemoError(`timed out after ${stepTimeoutMs} ms`)),
      stepTimeoutMs + 100,
    );
  });
  try {
    const detail = await Promise.race([run(), timeout]);
    console.log(`[${String(stepNumber).padStart(2)}] ${title.padEnd(34)} ${detail}`);
  } catch (err) {
    throw new DemoError(`${label} failed: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    clearTimeout(timer);
  }
}

const SDP_OFFER =
  'v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n' +
  'a=group:BUNDLE 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\n' +
  'a=mid:0\r\na=sendrecv\r\na=rtpmap:111 opus/48000/2\r\n';
const SDP_ANSWER = SDP_OFFER.replace('4611731400430051336', '5117214309186214830');
/** Host candidates in TEST-NET address space (RFC 5737). */
const candidate = (n: number, host: string) => ({
  candidate: `candidate:${n} 1 udp ${2122260223 - n} ${host} ${50000 + n} typ host`,
  sdpMid: '0',
  sdpMLineIndex: 0,
});

async function walk(
  wsUrl: string,
  metricsUrl: string,
  secret: string,
  clients: DemoClient[],
): Promise<void> {
  const company = `demo-${randomUUID().slice(0, 8)}`;
  const sign = (sub: string, role: string, name: string) =>
    jwt.sign({ sub, role, company_id: company, name }, secret, {
      algorithm: 'HS256',
      expiresIn: '10m',
    });
  const agentId = `${company}-agent`;
  const visitorId = `${company}-visitor`;
  console.log(`demo-call: company ${company}, agent ${agentId}, visitor ${visitorId}`);

  const before = await fetchMetrics(metricsUrl);

  const agent = new DemoClient('agent', wsUrl, sign(agentId, 'agent', 'Ada Agent'));
  clients.push(agent);
  await step('agent connects', async () => {
    const hello = await agent.next('connection_established');
    await agent.next('queue_updated');
    return `<- connection_established rooms=${hello.rooms.join(',')} protocolVersion=${hello.protocolVersion}`;
  });

  const visitor = new DemoClient('visitor', wsUrl, sign(visitorId, 'visitor', 'Val Visitor'));
  clients.push(visitor);
  await step('visitor connects', async () => {
    const hello = await visitor.next('connection_established');
    const list = await visitor.next('agent_list');
    const agents = list.agents.map((a) => `${a.name} (${a.status})`).join(', ');
    return `<- connection_established rooms=${hello.rooms.join(',')}, agent_list [${agents}]`;
  });

  let callId = '';
  await step('visitor -> call_request', async () => {
    const ack = await visitor.request({ type: 'call_request', callType: 'video', purpose: 'demo' });
    callId = String(ack['callId']);
    return `<- ack status=${String(ack['status'])} position=${String(ack['position'])} callId=${callId}`;
  });

  await step('agent sees the queue', async () => {
    const queue = await agent.next('queue_updated', (m) =>
      m.calls.some((c) => c.callId === callId),
    );
    const entry = queue.calls.find((c) => c.callId === callId)!;
    return `<- queue_updated ${queue.calls.length} call(s): ${entry.visitor.name}, ${entry.callType}, position ${entry.position}`;
  });

  await step('agent -> call_accept', async () => {
    await agent.request({ type: 'call_accept', callId });
    return '<- ack';
  });

  await step('both get call_started', async () => {
    const v = await visitor.next('call_started', (m) => m.callId === callId);
    const a = await agent.next('call_started', (m) => m.callId === callId);
    return `visitor <- call_started peer=${v.peer.name} (${v.peer.role}); agent <- call_started peer=${a.peer.name} (${a.peer.role})`;
  });

  await step('visitor -> webrtc_offer', async () => {
    visitor.send({ type: 'webrtc_offer', callId, offer: { type: 'offer', sdp: SDP_OFFER } });
    const got = await agent.next('webrtc_offer', (m) => m.callId === callId);
    return `agent <- webrtc_offer fromUserId=${got.fromUserId} sdp=${got.offer.sdp.length} chars`;
  });

  await step('agent -> webrtc_answer', async () => {
    agent.send({ type: 'webrtc_answer', callId, answer: { type: 'answer', sdp: SDP_ANSWER } });
    const got = await visitor.next('webrtc_answer', (m) => m.callId === callId);
    return `visitor <- webrtc_answer fromUserId=${got.fromUserId} sdp=${got.answer.sdp.length} chars`;
  });

  const directions = [
    { from: visitor, to: agent, host: '192.0.2.10' },
    { from: agent, to: visitor, host: '198.51.100.20' },
  ];
  for (const { from, to, host } of directions) {
    for (let n = 1; n <= 3; n++) {
      await step(`${from.label} -> ice_candidate ${n}/3`, async () => {
        const sent = candidate(n, host);
        from.send({ type: 'ice_candidate', callId, candidate: sent });
        const got = await to.next(
          'ice_candidate',
          (m) => m.callId === callId && m.candidate?.candidate === sent.candidate,
        );
        return `${to.label} <- ice_candidate "${got.candidate?.candidate}"`;
      });
    }
  }

  await step('visitor -> media_state', async () => {
    visitor.send({ type: 'media_state', callId, audio: true, video: false, screen: false });
    const got = await agent.next('media_state', (m) => m.callId === callId);
    return `agent <- media_state audio=${got.audio} video=${got.video} screen=${got.screen}`;
  });

  await step('agent -> chat_message', async () => {
    agent.send({ type: 'chat_message', callId, text: 'Hello, how can I help?' });
    const got = await visitor.next('chat_message', (m) => m.callId === callId);
    return `visitor <- chat_message "${got.text}" fromUserId=${got.fromUserId}`;
  });

  await step('visitor -> call_ended', async () => {
    await visitor.request({ type: 'call_ended', callId });
    const v = await visitor.next('call_ended', (m) => m.callId === callId);
    const a = await agent.next('call_ended', (m) => m.callId === callId);
    return (
      `<- ack; visitor <- call_ended reason=${v.reason} durationSec=${v.durationSec}; ` +
      `agent <- call_ended reason=${a.reason} durationSec=${a.durationSec}`
    );
  });

  const after = await fetchMetrics(metricsUrl);
  console.log('metrics that moved (name{labels}: before -> after):');
  for (const [series, value] of after) {
    const was = before.get(series) ?? 0;
    if (value !== was) console.log(`  ${series}: ${was} -> ${value}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Entry
// ---------------------------------------------------------------------------------------------

async function main(argv: string[]): Promise<number> {
  let values: {
    url?: string;
    secret?: string;
    'metrics-token'?: string;
    'step-timeout-ms'?: string;
    help?: boolean;
  };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        url: { type: 'string' },
        secret: { type: 'string' },
        'metrics-token': { type: 'string' },
        'step-timeout-ms': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    console.error(`demo-call: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help === true) {
    console.log(USAGE);
    return 0;
  }
  if ((values.url === undefined) !== (values.secret === undefined)) {
    console.error(`demo-call: --url and --secret go together\n${USAGE}`);
    return 2;
  }
  if (values['metrics-token'] !== undefined && values.url === undefined) {
    console.error(`demo-call: --metrics-token goes with --url\n${USAGE}`);
    return 2;
  }
  metricsToken = values['metrics-token'];

  const timeoutArg = values['step-timeout-ms'];
  if (timeoutArg !== undefined) {
    if (!/^[1-9]\d*$/.test(timeoutArg)) {
      console.error(`demo-call: --step-timeout-ms must be a positive integer\n${USAGE}`);
      return 2;
    }
    stepTimeoutMs = Number(timeoutArg);
  }

  let server: SignalingServer | undefined;
  let wsUrl: string;
  let secret: string;
  if (values.url !== undefined && values.secret !== undefined) {
    if (!/^wss?:\/\//.test(values.url)) {
      console.error(`demo-call: --url must be a ws:// or wss:// URL\n${USAGE}`);
      return 2;
    }
    wsUrl = values.url;
    secret = values.secret;
    console.log(`demo-call: talking to ${wsUrl} (other traffic on it shows in the metrics too)`);
  } else {
    secret = randomBytes(32).toString('hex');
    server = buildSignalingServer({
      config: signalingDefaults({
        host: '127.0.0.1',
        port: 0,
        jwt: { secret, publicKey: undefined, issuer: undefined, audience: undefined },
        shutdownTimeoutMs: 1000,
      }),
    });
    const address = await server.listen(0, '127.0.0.1');
    wsUrl = `ws://127.0.0.1:${address.port}/`;
    console.log(`demo-call: built a signaling server in-process at ${wsUrl}`);
  }
  const metricsUrl = new URL(wsUrl);
  metricsUrl.protocol = metricsUrl.protocol === 'wss:' ? 'https:' : 'http:';
  metricsUrl.pathname = '/metrics';
  metricsUrl.search = '';

  const clients: DemoClient[] = [];
  try {
    await walk(wsUrl, metricsUrl.href, secret, clients);
    console.log(`demo-call: ok, a full call in ${stepNumber} steps`);
    return 0;
  } catch (err) {
    const message =
      err instanceof DemoError
        ? err.message
        : `unexpected failure: ${err instanceof Error ? err.message : String(err)}`;
    console.error(`demo-call: FAILED: ${message}`);
    return 1;
  } finally {
    for (const client of clients) client.close();
    await server?.close();
  }
}

process.exitCode = await main(process.argv.slice(2));
// Everything is closed by now; this only guards against a socket that will not let go.
setTimeout(() => process.exit(), 2000).unref();
