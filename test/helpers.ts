/**
 * Test helpers: build a real signaling server on port 0, sign real tokens, and drive it with
 * real `ws` clients that record every frame they receive.
 */
import type { Redis } from 'ioredis';
import jwt from 'jsonwebtoken';
import { WebSocket, type ClientOptions } from 'ws';
import type { ServerMessage, ServerMessageOf, ServerMessageType } from '../client-lib/protocol.js';
import { AccessGuard, type AccessGuardOptions } from '../auth/access.js';
import {
  buildSignalingServer,
  type SignalingServer,
  type SignalingServerOptions,
} from '../server/app.js';
import { signalingDefaults, type SignalingConfig } from '../config/config.js';

/** The secret every test server verifies with. */
export const TEST_SECRET = 'test-secret-that-is-long-enough-for-hs256-0123456789';

/** The subset of tap's Test the helpers use. */
interface Teardown {
  teardown(fn: () => unknown): void;
  /** Where a helper says what it did differently (tap's `# ...` lines); optional for fakes. */
  comment?(...message: unknown[]): void;
}

/** The variable that runs the suites against a cluster (see {@link buildServer}). */
export const TEST_CLUSTER_ENV = 'CALLDOCKER_TEST_CLUSTER';

/**
 * Nodes per test server: 1, or with `CALLDOCKER_TEST_CLUSTER=<n>` (and `REDIS_URL`) a cluster of
 * n nodes on one Redis (`npm run test:cluster`).
 */
export const TEST_CLUSTER_NODES = clusterNodesFromEnv();

function clusterNodesFromEnv(): number {
  const raw = process.env[TEST_CLUSTER_ENV];
  if (raw === undefined || raw === '') return 1;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) {
    throw new Error(`${TEST_CLUSTER_ENV} must be a whole number of nodes, not ${raw}`);
  }
  return n;
}

/** A test server and its URLs. */
export interface TestServer {
  /** The server; in cluster mode the first node (see {@link buildServer}). */
  readonly server: SignalingServer;
  /** The port; in cluster mode the first node's. */
  readonly port: number;
  /**
   * `ws://127.0.0.1:<port>/`; in cluster mode each read names the next node in turn, so that
   * consecutive clients land on different nodes.
   */
  readonly wsUrl: string;
  /** `http://127.0.0.1:<port>`; in cluster mode the first node's. */
  readonly httpUrl: string;
  readonly config: SignalingConfig;
  /** In cluster mode every node, the first being the one above; absent on a single node. */
  readonly nodes?: readonly TestServer[];
}

/** Options of {@link buildServer}: the server's, and how to build it in cluster mode. */
export type TestServerOptions = Omit<SignalingServerOptions, 'config'> & {
  /**
   * Why this test needs one node even in cluster mode: it inspects something that is each
   * node's own by design (a node's metrics, its connections, its per-address limits). Said in
   * the TAP output when it applies.
   */
  readonly singleNode?: string;
};

/**
 * Builds and starts a signaling server on an ephemeral port; closed at teardown.
 *
 * Presence and queue announcements go out at once here (`presenceTickMs: 0`), so that a
 * suite can assert an absence right after {@link flush}. The coalesced path, the default in
 * production, has its own suite (`test/server/coalescing.test.ts`), and the client library's
 * and the pages' tests run on the production default.
 *
 * In cluster mode ({@link TEST_CLUSTER_NODES} above 1), unless `singleNode` says why not, it
 * builds that many nodes in this process, each with its own Redis connections, under one fresh
 * key prefix, with the same configuration and options (issue 10). The {@link TestServer} then
 * stands for the cluster: `wsUrl` takes turns between the nodes, so the two parties of a call
 * usually sit on different nodes, and {@link flush} waits for cross-node delivery. `server`,
 * `port` and `httpUrl` are the first node's: its `store` is the cluster's shared one, but its
 * `connectionCount`, `metrics`, `/metrics` and `close()` are that node's alone.
 */
export async function buildServer(
  t: Teardown,
  overrides: Partial<SignalingConfig> = {},
  options: TestServerOptions = {},
): Promise<TestServer> {
  const { singleNode, ...serverOptions } = options;
  if (TEST_CLUSTER_NODES > 1) {
    if (singleNode === undefined) return buildClusterServer(t, overrides, serverOptions);
    t.comment?.(`one node, not a cluster: ${singleNode}`);
  }
  const config = signalingDefaults({
    host: '127.0.0.1',
    port: 0,
    jwt: { secret: TEST_SECRET, publicKey: undefined, issuer: undefined, audience: undefined },
    presenceTickMs: 0,
    ...overrides,
  });
  const server = buildSignalingServer({ config, ...serverOptions });
  const address = await server.listen(0, '127.0.0.1');
  t.teardown(() => server.close());
  return {
    server,
    port: address.port,
    wsUrl: `ws://127.0.0.1:${address.port}/`,
    httpUrl: `http://127.0.0.1:${address.port}`,
    config,
  };
}

/** What a client opened on a node of a cluster needs of the cluster (cluster mode). */
interface ClusterLink {
  /**
   * Has each node but the one holding `connId` hand it `message(i)` through the cluster;
   * returns how many went out.
   */
  sendThrough(connId: string, message: (i: number) => ServerMessageOf<'pong'>): number;
  /** Resolves once the node holding `connId` has set the connection up. */
  setUp(connId: string): Promise<void>;
  /** Resolves once no node waits for Redis (see {@link TestClient.settle}). */
  idle(): Promise<void>;
}

/** The cluster of each live cluster-mode node's URL, for the clients opened on it. */
const clusterLinks = new Map<string, ClusterLink>();

/** How long a cluster may keep waiting for Redis before a flush gives up on it. */
const IDLE_TIMEOUT_MS = 10_000;

/**
 * Resolves once no node of `nodes` has a Redis command awaiting its reply, seen between two
 * turns of the event loop. A node's work is a chain of store operations, each issued as the one
 * before it answers (in the same turn), so an empty queue means no chain is under way, however
 * it started: a client's message, a closed socket, a call timer. A single node's chains finish
 * within the turn that started them.
 */
async function clusterIdle(nodes: ReadonlyArray<{ cluster: { redis: Redis } }>): Promise<void> {
  const deadline = Date.now() + IDLE_TIMEOUT_MS;
  for (;;) {
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (nodes.every(({ cluster }) => cluster.redis.commandQueue.length === 0)) return;
    if (Date.now() > deadline)
      throw new Error(`the cluster kept waiting for Redis ${IDLE_TIMEOUT_MS} ms`);
    await delay(2);
  }
}

/** {@link buildServer} in cluster mode. */
async function buildClusterServer(
  t: Teardown,
  overrides: Partial<SignalingConfig>,
  options: Omit<SignalingServerOptions, 'config'>,
): Promise<TestServer> {
  const redisUrl = process.env['REDIS_URL'];
  if (redisUrl === undefined || redisUrl === '') {
    throw new Error(`${TEST_CLUSTER_ENV} needs REDIS_URL: the nodes share a Redis`);
  }
  const { store, cluster, ...nodeOptions } = options;
  if (store !== undefined || cluster !== undefined) {
    throw new Error('a test that brings its own store or cluster runs on one node: singleNode');
  }
  // Imported here only: a single-node run loads no Redis client.
  const { buildCluster, sendThroughCluster } = await import('./cluster/helpers.js');
  const nodes = await buildCluster(t, redisUrl, TEST_CLUSTER_NODES, overrides, nodeOptions);
  // The last step of a connection's set-up records it with the cluster (hub.recordConnection),
  // for the clean-up should its node die: told of that here, `connect` can wait for the end of
  // set-up, which on a single node comes before the client even sees connection_established.
  const setUp = new Map<string, () => void>();
  for (const { cluster } of nodes) {
    const record = cluster.node.record.bind(cluster.node);
    cluster.node.record = (connId, conn) => {
      record(connId, conn);
      setUp.get(connId)?.();
      setUp.set(connId, () => undefined);
    };
  }
  const link: ClusterLink = {
    sendThrough: (connId, message) => sendThroughCluster(nodes, connId, message),
    idle: () => clusterIdle(nodes),
    setUp: (connId) =>
      setUp.has(connId)
        ? Promise.resolve()
        : new Promise((resolve) => setUp.set(connId, () => resolve())),
  };
  for (const node of nodes) clusterLinks.set(node.wsUrl, link);
  t.teardown(() => {
    for (const node of nodes) clusterLinks.delete(node.wsUrl);
  });
  const [first] = nodes;
  let reads = 0;
  return {
    server: first!.server,
    port: first!.port,
    get wsUrl() {
      return nodes[reads++ % nodes.length]!.wsUrl;
    },
    httpUrl: first!.httpUrl,
    config: first!.config,
    nodes,
  };
}

/** An access guard (see `auth/access.ts`) on `db`, closed at teardown. */
export function accessGuard(
  t: Teardown,
  db: AccessGuardOptions['db'],
  options: Omit<AccessGuardOptions, 'db'> = {},
): AccessGuard {
  const guard = new AccessGuard({ db, ...options });
  t.teardown(() => guard.close());
  return guard;
}

/** Claims for {@link signToken}; anything left out gets a sensible default. */
export interface TestClaims {
  sub?: string;
  role?: string;
  company_id?: string;
  name?: string;
  exp?: number;
  [claim: string]: unknown;
}

/** Signs an HS256 token with {@link TEST_SECRET} (or `secret`). Defaults: visitor of acme. */
export function signToken(claims: TestClaims = {}, secret = TEST_SECRET): string {
  const payload: Record<string, unknown> = {
    sub: 'visitor-1',
    role: 'visitor',
    company_id: 'acme',
    exp: Math.floor(Date.now() / 1000) + 3600,
    ...claims,
  };
  for (const key of Object.keys(payload)) if (payload[key] === undefined) delete payload[key];
  return jwt.sign(payload, secret, { algorithm: 'HS256', noTimestamp: true });
}

/** How a socket closed. */
export interface CloseInfo {
  code: number;
  reason: string;
}

/**
 * Cluster-mode barriers (see {@link TestClient.settle}) are `pong`s with a negative `ts`, which no
 * server sends: a client takes them for its barriers and records none.
 */
let barrierMarks = 0;

/** How long a barrier may take before the frames it waits behind count as lost. */
const BARRIER_TIMEOUT_MS = 5000;

/** A real `ws` client that records every frame and lets a test wait for a type. */
export class TestClient {
  /** Every message received, in order. */
  readonly received: ServerMessage[] = [];
  /** Resolves when the socket closes. */
  readonly closed: Promise<CloseInfo>;
  private readonly waiters: Array<() => void> = [];
  /** Barrier marks on their way, each with what it wakes. */
  private readonly marks = new Map<number, () => void>();
  private nextId = 0;

  /** `cluster`: in cluster mode, the cluster of its node (see {@link settle}). */
  constructor(
    readonly ws: WebSocket,
    private readonly cluster?: ClusterLink,
  ) {
    ws.on('error', () => undefined);
    ws.on('message', (data) => {
      const msg = JSON.parse(String(data)) as ServerMessage;
      if (msg.type === 'pong' && msg.ts < 0) {
        this.marks.get(msg.ts)?.();
        this.marks.delete(msg.ts);
        return;
      }
      this.received.push(msg);
      for (const wake of this.waiters.splice(0)) wake();
    });
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        resolve({ code, reason: reason.toString() });
        for (const wake of this.waiters.splice(0)) wake();
      });
    });
  }

  /** The `connection_established` frame (waits for it). */
  async established(): Promise<ServerMessageOf<'connection_established'>> {
    return this.next('connection_established');
  }

  /**
   * The next not yet consumed message of `type` (messages of other types before it are left
   * for later calls). Rejects after `timeoutMs`.
   */
  async next<K extends ServerMessageType>(
    type: K,
    timeoutMs = 3000,
    match: (msg: ServerMessageOf<K>) => boolean = () => true,
  ): Promise<ServerMessageOf<K>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (let i = 0; i < this.received.length; i++) {
        const msg = this.received[i]!;
        if (msg.type === type && match(msg as ServerMessageOf<K>)) {
          // Mark as consumed by swapping in a tombstone that no type matches.
          this.received[i] = { ...msg, type: `consumed:${msg.type}` } as unknown as ServerMessage;
          return msg as ServerMessageOf<K>;
        }
      }
      const left = deadline - Date.now();
      if (left <= 0 || this.ws.readyState === WebSocket.CLOSED) {
        throw new Error(`timed out waiting for ${type}; got ${JSON.stringify(this.types())}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /**
   * Resolves once the work under way in a cluster is done and everything the other nodes sent
   * this client has arrived. A node of a cluster goes on working for Redis round trips after it
   * sent the frame a test waited for (a ring that timed out then counts the miss and may set the
   * agent away), where a single node finishes within the turn: so this first waits until no node
   * waits for Redis; then each other node hands the client a mark through the cluster, behind
   * whatever it sent before. At once on a single node, and for a client that is closed or not
   * yet established.
   */
  async settle(): Promise<void> {
    const established = this.all('connection_established')[0];
    if (this.cluster === undefined || established === undefined) return;
    if (this.ws.readyState !== WebSocket.OPEN) return;
    await this.cluster.idle();
    const arrived: Array<Promise<void>> = [];
    this.cluster.sendThrough(established.connectionId, () => {
      const ts = -++barrierMarks;
      arrived.push(
        new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => {
            this.marks.delete(ts);
            reject(new Error(`a frame through the cluster took over ${BARRIER_TIMEOUT_MS} ms`));
          }, BARRIER_TIMEOUT_MS).unref();
          this.marks.set(ts, () => {
            clearTimeout(timer);
            resolve();
          });
        }),
      );
      return { type: 'pong', ts };
    });
    await Promise.race([Promise.all(arrived), this.closed]);
  }

  /**
   * Resolves once the server has set this connection up (rooms joined, presence announced, calls
   * resumed) and everything set-up sent it has arrived. A single node sets a connection up
   * before the client sees `connection_established`; a node of a cluster takes Redis round trips
   * longer, so in cluster mode this waits for it ({@link connect} does). Waits for
   * `connection_established` first (consuming it unless it was).
   */
  async setUp(): Promise<void> {
    const established = this.all('connection_established')[0] ?? (await this.established());
    if (this.cluster === undefined) return;
    const { connectionId } = established;
    await Promise.race([this.cluster.setUp(connectionId), this.closed]);
    await this.settle();
  }

  /** Types received so far (consumed ones prefixed `consumed:`). */
  types(): string[] {
    return this.received.map((m) => m.type);
  }

  /** Messages of `type` received so far, consumed or not. */
  all<K extends ServerMessageType>(type: K): ServerMessageOf<K>[] {
    return this.received
      .map((m) => (m.type === `consumed:${type}` ? { ...m, type } : m))
      .filter((m) => m.type === type) as ServerMessageOf<K>[];
  }

  /** Sends a raw frame (string) or a JSON-encoded object. */
  send(message: unknown): void {
    this.ws.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  /**
   * Sends `message` with a fresh `id` and resolves with its answer: the `ack` or the `error`
   * carrying that id.
   */
  async request(
    message: Record<string, unknown>,
    timeoutMs = 3000,
  ): Promise<(ServerMessageOf<'ack'> & Record<string, unknown>) | ServerMessageOf<'error'>> {
    const id = (message['id'] as string | undefined) ?? `r${++this.nextId}`;
    this.send({ ...message, id });
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.received.find(
        (m) => (m.type === 'ack' || m.type === 'error') && (m as { id?: string }).id === id,
      );
      if (found !== undefined) {
        return found as
          (ServerMessageOf<'ack'> & Record<string, unknown>) | ServerMessageOf<'error'>;
      }
      if (Date.now() > deadline) throw new Error(`no answer to ${String(message['type'])} ${id}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /** Resolves true if no message of `type` arrives within `ms` (counting unconsumed ones). */
  async quiet(type: ServerMessageType, ms = 200): Promise<boolean> {
    await new Promise((r) => setTimeout(r, ms));
    return !this.received.some((m) => m.type === type);
  }

  close(): Promise<CloseInfo> {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) {
      this.ws.close();
    }
    return this.closed;
  }
}

/** Opens a client for `token` (query string) without waiting for anything. */
export function openClient(
  url: string,
  token: string | undefined,
  options?: ClientOptions,
): TestClient {
  const target = token === undefined ? url : `${url}?token=${encodeURIComponent(token)}`;
  return new TestClient(new WebSocket(target, options), clusterLinks.get(url));
}

/**
 * Connects a client with the given claims and waits for `connection_established` (and in cluster
 * mode for the end of its set-up, see {@link TestClient.setUp}); closed at teardown. `options` are `ws`'s, e.g. `{ localAddress: '127.0.0.2' }` to connect from another
 * loopback address (Linux routes all of 127.0.0.0/8 to loopback).
 */
export async function connect(
  t: Teardown,
  srv: Pick<TestServer, 'wsUrl'>,
  claims: TestClaims = {},
  options?: ClientOptions,
): Promise<TestClient> {
  const client = openClient(srv.wsUrl, signToken(claims), options);
  t.teardown(() => client.close());
  await client.established();
  await client.setUp();
  return client;
}

/** Connects an agent (role agent) of `company_id` acme unless given. */
export function connectAgent(t: Teardown, srv: Pick<TestServer, 'wsUrl'>, claims: TestClaims = {}) {
  return connect(t, srv, { sub: 'agent-1', role: 'agent', name: 'Alice Agent', ...claims });
}

/** Connects a visitor of acme unless given; `options` as {@link connect}'s. */
export function connectVisitor(
  t: Teardown,
  srv: Pick<TestServer, 'wsUrl'>,
  claims: TestClaims = {},
  options?: ClientOptions,
) {
  return connect(
    t,
    srv,
    { sub: 'visitor-1', role: 'visitor', name: 'Victor Visitor', ...claims },
    options,
  );
}

/** Waits for the next message of `type` on a bare `ws` socket (STYLE helper name). */
export function nextMessage<K extends ServerMessageType>(
  ws: WebSocket,
  type: K,
  timeoutMs = 3000,
): Promise<ServerMessageOf<K>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      ws.off('message', onMessage);
      reject(new Error(`timed out waiting for ${type}`));
    }, timeoutMs);
    function onMessage(data: unknown) {
      const msg = JSON.parse(String(data)) as ServerMessage;
      if (msg.type !== type) return;
      clearTimeout(timer);
      ws.off('message', onMessage);
      resolve(msg as ServerMessageOf<K>);
    }
    ws.on('message', onMessage);
  });
}

/**
 * Sets up an answered call between a visitor and an agent of `company` and returns both
 * clients and the call id, with the call_started frames consumed.
 */
export async function establishCall(
  t: Teardown,
  srv: TestServer,
  opts: {
    company?: string;
    visitorSub?: string;
    agentSub?: string;
    callType?: 'audio' | 'video';
  } = {},
) {
  const company = opts.company ?? 'acme';
  const agent = await connectAgent(t, srv, {
    company_id: company,
    sub: opts.agentSub ?? 'agent-1',
  });
  const visitor = await connectVisitor(t, srv, {
    company_id: company,
    sub: opts.visitorSub ?? 'visitor-1',
  });
  const ack = await visitor.request({ type: 'call_request', callType: opts.callType ?? 'video' });
  if (ack.type !== 'ack') throw new Error(`call_request failed: ${JSON.stringify(ack)}`);
  const callId = ack['callId'] as string;
  const accepted = await agent.request({ type: 'call_accept', callId });
  if (accepted.type !== 'ack') throw new Error(`call_accept failed: ${JSON.stringify(accepted)}`);
  await visitor.next('call_started');
  await agent.next('call_started');
  return { agent, visitor, callId };
}

/** Fetches a path from the server's HTTP side. */
export async function httpGet(
  srv: Pick<TestServer, 'httpUrl'>,
  path: string,
): Promise<{ status: number; body: string }> {
  const res = await fetch(`${srv.httpUrl}${path}`);
  return { status: res.status, body: await res.text() };
}

/** Reads one sample from a Prometheus text body (`name{labels}` exactly as rendered). */
export function metricValue(body: string, series: string): number {
  for (const line of body.split('\n')) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  }
  return 0;
}

/**
 * One sample of the server's `/metrics` (`name{labels}` exactly as rendered); throws when the
 * series is missing, so a renamed metric fails rather than reads 0.
 */
export async function metricSample(
  srv: Pick<TestServer, 'httpUrl'>,
  series: string,
): Promise<number> {
  const { body } = await httpGet(srv, '/metrics');
  const line = body.split('\n').find((l) => l.startsWith(`${series} `));
  if (line === undefined) throw new Error(`no ${series} in /metrics`);
  return Number(line.slice(series.length + 1));
}

/**
 * `read` of each node's server, summed (of the one server on a single node): e.g. the live
 * connections of the whole cluster, or the closes each node counted.
 */
export function nodeTotal(srv: TestServer, read: (server: SignalingServer) => number): number {
  return (srv.nodes ?? [srv]).reduce((sum, node) => sum + read(node.server), 0);
}

/** Every node's `/metrics` body, the first node's first (one body on a single node). */
export async function nodeMetrics(srv: TestServer): Promise<string[]> {
  return Promise.all(
    (srv.nodes ?? [srv]).map(async (node) => (await httpGet(node, '/metrics')).body),
  );
}

/**
 * One sample summed over the bodies of {@link nodeMetrics}: what a Prometheus `sum` over the
 * nodes reads, for the series each node counts for itself (call transitions, armed timers,
 * refusals). The gauges read from the store (`calldocker_calls`, `calldocker_rooms`) are the
 * whole cluster's on every node: read those from one. Throws when no body has the series (a
 * node that never counted a label leaves it out).
 */
export function sampleTotal(bodies: readonly string[], series: string): number {
  let total: number | undefined;
  for (const body of bodies) {
    const line = body.split('\n').find((l) => l.startsWith(`${series} `));
    if (line !== undefined) total = (total ?? 0) + Number(line.slice(series.length + 1));
  }
  if (total === undefined) throw new Error(`no ${series} in /metrics`);
  return total;
}

/** {@link sampleTotal} of the server's nodes ({@link metricSample} on a single node). */
export async function metricTotal(srv: TestServer, series: string): Promise<number> {
  return sampleTotal(await nodeMetrics(srv), series);
}

/** Sleeps `ms`. */
export const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// Conversation helpers shared by the suites
// ---------------------------------------------------------------------------------------------

let flushes = 0;

/**
 * Resolves once each client's ping has been answered. The server writes an announcement to
 * every member before it acks the message that caused it, and a socket delivers in order, so
 * after the actor's ack (or another positive signal) and this flush, anything the observers
 * were going to get has arrived: an absence can be asserted without sleeping.
 *
 * In a cluster the actor's node hands an observer on another node its frames through Redis
 * before it acks, but they arrive later: the flush also waits for them ({@link TestClient.settle}).
 */
export async function flush(...clients: TestClient[]): Promise<void> {
  await Promise.all(
    clients.map(async (c) => {
      await c.settle();
      const res = await c.request({ type: 'ping', id: `flush-${++flushes}` });
      if (res.type !== 'ack') throw new Error(`flush failed: ${JSON.stringify(res)}`);
    }),
  );
}

/** Messages of `type` received from index `from` on, consumed by next() or not. */
export function since<K extends ServerMessageType>(
  c: TestClient,
  from: number,
  type: K,
): ServerMessageOf<K>[] {
  return c.received
    .slice(from)
    .map((m) => ({ ...m, type: String(m.type).replace(/^consumed:/, '') }))
    .filter((m) => m.type === type) as unknown as ServerMessageOf<K>[];
}

/** Sends `msg` with an id and returns the ack, failing the test on an error. */
export async function ok(c: TestClient, msg: Record<string, unknown>) {
  const res = await c.request(msg);
  if (res.type !== 'ack') throw new Error(`expected an ack, got ${JSON.stringify(res)}`);
  return res;
}

/** Sends `msg` with an id and returns the error code (or 'ack' when it succeeded). */
export async function code(c: TestClient, msg: Record<string, unknown>): Promise<string> {
  const res = await c.request(msg);
  return res.type === 'error' ? res.code : 'ack';
}

/** The error code of an answer, or 'ack'. */
export const outcome = (res: Awaited<ReturnType<TestClient['request']>>) =>
  res.type === 'ack' ? 'ack' : res.code;

/** Polls `cond` every 10 ms until it holds; fails after `timeoutMs`. */
export async function until(
  cond: () => boolean | Promise<boolean>,
  timeoutMs = 3000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Connects an agent and consumes the queue every agent gets on arrival. */
export async function agentReady(
  t: Teardown,
  srv: Pick<TestServer, 'wsUrl'>,
  claims: TestClaims = {},
) {
  const agent = await connectAgent(t, srv, claims);
  await agent.next('queue_updated');
  return agent;
}

/** Requests a call and returns its id; throws when the server refuses it. */
export async function requestCall(visitor: TestClient, fields: Record<string, unknown> = {}) {
  const res = await visitor.request({ type: 'call_request', callType: 'video', ...fields });
  if (res.type !== 'ack') throw new Error(`call_request refused: ${JSON.stringify(res)}`);
  return res['callId'] as string;
}
