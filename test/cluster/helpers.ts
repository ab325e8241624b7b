/**
 * Clusters of signaling nodes for the cluster suites (issue 10): nodes built in this process
 * that share nothing but a Redis (each with its own connections, store and channel), and nodes
 * as real processes of the product's own entry, which a test can kill.
 *
 * Every cluster works under its own key prefix, deleted at teardown, so suites run in parallel
 * on one Redis.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join as joinPath } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import type { Test } from 'tap';
import type { ServerMessage } from '../../client-lib/protocol.js';
import { signalingDefaults, type SignalingConfig } from '../../config/config.js';
import { buildSignalingServer, type SignalingServerOptions } from '../../server/app.js';
import { openCluster, type OpenCluster } from '../../server/cluster/open.js';
import { parseDatabaseUrl } from '../../config/config.js';
import { openDatabase } from '../../db/database.js';
import {
  openClient,
  outcome,
  requestCall,
  signToken,
  TEST_SECRET,
  until,
  type TestClient,
  type TestServer,
} from '../helpers.js';
import { nodeOfConnId } from '../../server/hub.js';
import { openRedis, prefixForTest } from '../redis-helpers.js';
import { sharedDatabaseUrl } from '../support/test-database.js';

/** The subset of tap's Test the helpers use. */
interface TapTest {
  teardown(fn: () => unknown): void;
  comment(...message: unknown[]): void;
  plan(n: number, comment?: string): void;
}

/** A node built in this process, with its share of the cluster. */
export interface TestNode extends TestServer {
  readonly cluster: OpenCluster;
}

/** What every node of a {@link buildCluster} is given besides its configuration and its share. */
export type NodeOptions = Omit<SignalingServerOptions, 'config' | 'store' | 'cluster'>;

/**
 * Builds `count` nodes in this process on one Redis under a fresh prefix, each listening on its
 * own ephemeral port; all closed at teardown. Announcements go out at once, as in
 * `buildServer`. Every node gets the same `overrides` and `options` (one call-log observer, one
 * clock: what the nodes of one deployment share).
 */
export async function buildCluster(
  t: Pick<TapTest, 'teardown'>,
  redisUrl: string,
  count: number,
  overrides: Partial<SignalingConfig> = {},
  options: NodeOptions = {},
): Promise<TestNode[]> {
  const admin = await openRedis(t, redisUrl);
  const prefix = prefixForTest(t, admin);
  const log = pino({ level: 'silent' });
  const nodes: TestNode[] = [];
  for (let i = 0; i < count; i++) {
    const config = signalingDefaults({
      host: '127.0.0.1',
      port: 0,
      jwt: { secret: TEST_SECRET, publicKey: undefined, issuer: undefined, audience: undefined },
      presenceTickMs: 0,
      ...overrides,
    });
    const cluster = await openCluster({ url: redisUrl, prefix, nodeId: `n${i + 1}` }, config, log);
    const server = buildSignalingServer({
      ...options,
      config,
      store: cluster.store,
      cluster: cluster.node,
      logger: options.logger ?? log,
    });
    t.teardown(async () => {
      await server.close();
      await cluster.close();
    });
    const address = await server.listen(0, '127.0.0.1');
    nodes.push({
      server,
      cluster,
      port: address.port,
      wsUrl: `ws://127.0.0.1:${address.port}/`,
      httpUrl: `http://127.0.0.1:${address.port}`,
      config,
    });
  }
  return nodes;
}

/**
 * Has every node of `nodes` but the one holding `connId` hand that connection a message through
 * the cluster's delivery, as it hands any frame: `message(i)` from the i-th of them. Redis
 * delivers one publisher's messages in the order it sent them, so once a client has the message
 * from a node, it has everything that node sent it before. Returns how many went out.
 */
export function sendThroughCluster(
  nodes: readonly TestNode[],
  connId: string,
  message: (i: number) => ServerMessage,
): number {
  const holder = nodeOfConnId(connId);
  if (holder === undefined) throw new Error(`${connId} is no cluster connection id`);
  let sent = 0;
  for (const node of nodes) {
    if (node.cluster.node.nodeId === holder) continue;
    const msg = message(sent++);
    node.cluster.node.deliver(holder, [connId], msg.type, JSON.stringify(msg));
  }
  return sent;
}

const ENTRY = fileURLToPath(new URL('../../server/index.ts', import.meta.url));
const TSX = import.meta.resolve('tsx');

/** A node running as its own process: the product's entry, configured by environment. */
export interface NodeProcess {
  readonly nodeId: string;
  readonly port: number;
  readonly wsUrl: string;
  readonly httpUrl: string;
  readonly child: ChildProcess;
  /** Resolves when the process has exited. */
  readonly exited: Promise<void>;
  /** SIGKILL: a crash, no close frames, nothing cleaned up. */
  kill(): Promise<void>;
}

/** What every process of one cluster shares. */
export interface ProcessCluster {
  readonly prefix: string;
  readonly redisUrl: string;
  /**
   * The database all nodes share: a PostgreSQL schema of the cluster's own when `DATABASE_URL`
   * names a server (CI), else one SQLite file.
   */
  readonly databaseUrl: string;
  /** Starts a node with `env` on top of the cluster's (ports: pass `SIGNALING_PORT`). */
  start(nodeId: string, port: number, env?: Record<string, string>): Promise<NodeProcess>;
}

/** A cluster of node processes on one Redis and one database; all killed at teardown. */
export async function processCluster(t: TapTest, redisUrl: string): Promise<ProcessCluster> {
  const admin = await openRedis(t, redisUrl);
  const prefix = prefixForTest(t, admin);
  const dir = mkdtempSync(joinPath(tmpdir(), 'calldocker-cluster-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // Registered before the nodes: teardowns run last first, so the schema outlives them.
  const databaseUrl = sharedDatabaseUrl(t, dir);
  return {
    prefix,
    redisUrl,
    databaseUrl,
    async start(nodeId, port, env = {}) {
      const child = spawn(process.execPath, ['--import', TSX, ENTRY], {
        env: {
          PATH: process.env['PATH'] ?? '',
          NODE_ENV: 'test',
          LOG_LEVEL: 'warn',
          HOST: '127.0.0.1',
          SIGNALING_PORT: String(port),
          JWT_SECRET: TEST_SECRET,
          DATABASE_URL: databaseUrl,
          REDIS_URL: redisUrl,
          REDIS_PREFIX: prefix,
          NODE_ID: nodeId,
          PRESENCE_TICK_MS: '0',
          ...env,
        },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      t.teardown(async () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        await exited;
      });
      const httpUrl = `http://127.0.0.1:${port}`;
      await until(async () => {
        if (child.exitCode !== null) throw new Error(`node ${nodeId} exited: ${stderr}`);
        const res = await fetch(`${httpUrl}/readyz`).catch(() => undefined);
        return res?.status === 200;
      }, 30_000);
      return {
        nodeId,
        port,
        wsUrl: `ws://127.0.0.1:${port}/`,
        httpUrl,
        child,
        exited,
        async kill() {
          child.kill('SIGKILL');
          await exited;
        },
      };
    },
  };
}

export const VISITOR = { sub: 'visitor-1', role: 'visitor', name: 'Victor Visitor' } as const;
export const AGENT = { sub: 'agent-1', role: 'agent', name: 'Alice Agent' } as const;

/** Connects `claims` to `node` and waits for `connection_established`; closed at teardown. */
export async function join(
  t: TapTest,
  node: NodeProcess,
  claims: Record<string, string>,
): Promise<TestClient> {
  const client = openClient(node.wsUrl, signToken(claims));
  t.teardown(() => client.close());
  await client.established();
  return client;
}

/**
 * The agent joins `agentNode` and the visitor `visitorNode`; the visitor's call is queued and
 * the agent answers it (an ack, asserted). Resolves once both parties heard `call_started`.
 */
export async function answeredCall(
  t: Test,
  visitorNode: NodeProcess,
  agentNode: NodeProcess,
): Promise<{ agent: TestClient; visitor: TestClient; callId: string }> {
  const agent = await join(t, agentNode, AGENT);
  await agent.next('queue_updated');
  const visitor = await join(t, visitorNode, VISITOR);
  const callId = await requestCall(visitor);
  t.equal(outcome(await agent.request({ type: 'call_accept', callId })), 'ack');
  await visitor.next('call_started');
  await agent.next('call_started');
  return { agent, visitor, callId };
}

/** The call's row in the call log the nodes share, once `done` holds for it. */
export async function loggedCall(
  databaseUrl: string,
  callId: string,
  done: (state: string) => boolean,
) {
  const database = openDatabase(parseDatabaseUrl(databaseUrl));
  try {
    let row: { state: string; end_reason: string | null } | undefined;
    await until(async () => {
      row = await database.db
        .selectFrom('calls')
        .select(['state', 'end_reason'])
        .where('id', '=', callId)
        .executeTakeFirst();
      return row !== undefined && done(row.state);
    }, 15_000);
    return row!;
  } finally {
    await database.close();
  }
}
