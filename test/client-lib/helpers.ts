/**
 * Helpers for the `WebSocketClient` tests: a probe that records every event a client emits
 * and lets a test wait for one, a `ws` WebSocket that remembers its instances (so a test can
 * cut a client's link the hard way), a tiny scripted `ws` server for behaviours the real
 * server never shows (silence, 4003), and a real signaling server on a chosen port (restarts).
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import {
  FullJitterPolicy,
  WebSocketClient,
  type CallDockerError,
  type ConnectionState,
  type DisconnectInfo,
  type ServerMessage,
  type ServerMessageOf,
  type ServerMessageType,
  type StateChange,
  type WebSocketClientOptions,
  type WebSocketFactory,
} from '@calldocker/client';
import { ServerMessages } from '../../client-lib/protocol.js';
import { buildSignalingServer } from '../../server/app.js';
import { signalingDefaults, type SignalingConfig } from '../../config/config.js';
import {
  connectAgent,
  signToken,
  TEST_SECRET,
  type TestClaims,
  type TestServer,
} from '../helpers.js';

/** The subset of tap's Test the helpers use. */
interface Teardown {
  teardown(fn: () => unknown): void;
}

/** Every server message type, read from the protocol source. */
export const SERVER_TYPES = Object.keys(ServerMessages) as ServerMessageType[];

/** A reconnect policy fast enough for tests: full jitter under 20..40 ms. */
export const fastPolicy = () => new FullJitterPolicy({ baseDelayMs: 20, maxDelayMs: 40 });

/** A visitor token of acme (sub visitor-1 unless given). */
export const visitorToken = (claims: TestClaims = {}) =>
  signToken({ sub: 'visitor-1', role: 'visitor', name: 'Victor Visitor', ...claims });

/** An agent token of acme (sub agent-1 unless given). */
export const agentToken = (claims: TestClaims = {}) =>
  signToken({ sub: 'agent-1', role: 'agent', name: 'Alice Agent', ...claims });

/** A `ws` WebSocket class whose instances are remembered in `sockets`, oldest first. */
export function recordingWebSocket(): { WebSocket: WebSocketFactory; sockets: WebSocket[] } {
  const sockets: WebSocket[] = [];
  class RecordingWebSocket extends WebSocket {
    constructor(url: string) {
      super(url);
      sockets.push(this);
    }
  }
  return { WebSocket: RecordingWebSocket, sockets };
}

/** Resolves once `condition()` holds; rejects after `timeoutMs` naming `what`. */
export async function until(condition: () => boolean, what: string, timeoutMs = 3000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * A `WebSocketClient` under test with everything it emitted recorded: server messages as the
 * `message` event and as their typed events, state changes, drops and failures.
 */
export class ClientProbe {
  /** Server messages in the order of the `message` event. */
  readonly messages: ServerMessage[] = [];
  /** Server messages in the order of their typed events. */
  readonly typed: ServerMessage[] = [];
  readonly states: StateChange[] = [];
  readonly disconnects: DisconnectInfo[] = [];
  readonly failures: CallDockerError[] = [];
  /** The sockets the client opened, oldest first. */
  readonly sockets: WebSocket[];
  private readonly consumed = new Set<ServerMessage>();

  constructor(
    readonly client: WebSocketClient,
    sockets: WebSocket[] = [],
  ) {
    this.sockets = sockets;
    client.on('message', (m) => this.messages.push(m));
    for (const type of SERVER_TYPES) client.on(type, (m) => this.typed.push(m as ServerMessage));
    client.on('state', (s) => this.states.push(s));
    client.on('disconnected', (d) => this.disconnects.push(d));
    client.on('failed', (e) => this.failures.push(e));
  }

  /** The socket the client opened last. */
  get socket(): WebSocket {
    const socket = this.sockets.at(-1);
    if (socket === undefined) throw new Error('the client opened no socket');
    return socket;
  }

  /** The next not yet consumed typed event `type` (matching `match`). */
  async next<K extends ServerMessageType>(
    type: K,
    match: (msg: ServerMessageOf<K>) => boolean = () => true,
    timeoutMs = 3000,
  ): Promise<ServerMessageOf<K>> {
    let found: ServerMessage | undefined;
    await until(
      () => {
        found = this.typed.find(
          (m) => m.type === type && !this.consumed.has(m) && match(m as ServerMessageOf<K>),
        );
        return found !== undefined;
      },
      `event ${type}; got ${JSON.stringify(this.typed.map((m) => m.type))}`,
      timeoutMs,
    );
    this.consumed.add(found!);
    return found as ServerMessageOf<K>;
  }

  /** Typed events of `type` so far, consumed or not. */
  all<K extends ServerMessageType>(type: K): ServerMessageOf<K>[] {
    return this.typed.filter((m) => m.type === type) as ServerMessageOf<K>[];
  }

  /** Resolves once the client has entered `state` `count` times in all. */
  async reached(state: ConnectionState, count = 1, timeoutMs = 3000): Promise<void> {
    await until(
      () => this.states.filter((s) => s.newState === state).length >= count,
      `state ${state} x${count}; got ${JSON.stringify(this.states.map((s) => s.newState))}`,
      timeoutMs,
    );
  }

  /** The `newState`s so far. */
  stateNames(): ConnectionState[] {
    return this.states.map((s) => s.newState);
  }
}

/**
 * Creates a client for `url` over a recording `ws` WebSocket with {@link fastPolicy}, and
 * disconnects it at teardown.
 */
export function createClient(
  t: Teardown,
  url: string,
  options: Partial<WebSocketClientOptions> = {},
): ClientProbe {
  const ws = recordingWebSocket();
  const client = new WebSocketClient({
    url,
    WebSocket: ws.WebSocket,
    reconnectPolicy: fastPolicy(),
    ...options,
  });
  t.teardown(() => client.disconnect());
  return new ClientProbe(client, ws.sockets);
}

/** A real signaling server on `port` (0: any), like `buildServer` but restartable in place. */
export async function listenSignaling(
  t: Teardown,
  port = 0,
  overrides: Partial<SignalingConfig> = {},
): Promise<TestServer> {
  const config = signalingDefaults({
    host: '127.0.0.1',
    port,
    jwt: { secret: TEST_SECRET, publicKey: undefined, issuer: undefined, audience: undefined },
    ...overrides,
  });
  const server = buildSignalingServer({ config });
  const address = await server.listen(port, '127.0.0.1');
  t.teardown(() => server.close());
  return {
    server,
    port: address.port,
    wsUrl: `ws://127.0.0.1:${address.port}/`,
    httpUrl: `http://127.0.0.1:${address.port}`,
    config,
  };
}

/** Sums every series of a Prometheus counter, whatever its labels. */
export async function counterTotal(srv: TestServer, name: string): Promise<number> {
  const body = await (await fetch(`${srv.httpUrl}/metrics`)).text();
  let total = 0;
  for (const line of body.split('\n')) {
    if (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) {
      total += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return total;
}

/** A `connection_established` frame as the real server sends it. */
export function establishedFrame(
  overrides: Partial<ServerMessageOf<'connection_established'>> = {},
): ServerMessageOf<'connection_established'> {
  return {
    type: 'connection_established',
    connectionId: 'tiny-1',
    protocolVersion: 1,
    user: { id: 'visitor-1', role: 'visitor', companyId: 'acme', name: 'Victor Visitor' },
    rooms: ['public-calls'],
    iceServers: [],
    heartbeatIntervalMs: 25_000,
    ...overrides,
  };
}

/** A scripted `ws` server: `onConnection` decides what each connection sees. */
export interface TinyServer {
  readonly url: string;
  /** Every connection accepted, oldest first. */
  readonly connections: WebSocket[];
  /** Text frames received, per connection, in order. */
  readonly frames: string[][];
}

/** Starts a {@link TinyServer} on port 0; every socket is terminated at teardown. */
export async function tinyServer(
  t: Teardown,
  onConnection: (ws: WebSocket, index: number) => void,
): Promise<TinyServer> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await once(wss, 'listening');
  const connections: WebSocket[] = [];
  const frames: string[][] = [];
  wss.on('connection', (ws) => {
    const index = connections.push(ws) - 1;
    const received: string[] = [];
    frames.push(received);
    ws.on('error', () => undefined);
    ws.on('message', (data) => received.push(String(data)));
    onConnection(ws, index);
  });
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        for (const ws of wss.clients) ws.terminate();
        wss.close(() => resolve());
      }),
  );
  const { port } = wss.address() as AddressInfo;
  return { url: `ws://127.0.0.1:${port}/`, connections, frames };
}

/** A stand-in for a browser's `window` events, installed on globalThis until teardown. */
export interface GlobalEvents {
  dispatch(type: string): void;
  /** Listeners currently registered for `type`. */
  count(type: string): number;
}

/** Installs `addEventListener`/`removeEventListener` on globalThis (and removes them after). */
export function installGlobalEvents(t: Teardown): GlobalEvents {
  const g = globalThis as {
    addEventListener?: unknown;
    removeEventListener?: unknown;
  };
  if (g.addEventListener !== undefined) throw new Error('globalThis already has events');
  const listeners = new Map<string, Set<() => void>>();
  g.addEventListener = (type: string, f: () => void) => {
    const set = listeners.get(type) ?? new Set();
    set.add(f);
    listeners.set(type, set);
  };
  g.removeEventListener = (type: string, f: () => void) => listeners.get(type)?.delete(f);
  t.teardown(() => {
    delete g.addEventListener;
    delete g.removeEventListener;
  });
  return {
    dispatch: (type) => {
      for (const f of [...(listeners.get(type) ?? [])]) f();
    },
    count: (type) => listeners.get(type)?.size ?? 0,
  };
}

/**
 * An answered call between a library client as the visitor and a raw agent, with both
 * `call_started` frames consumed.
 */
export async function callWithClientVisitor(
  t: Teardown,
  srv: TestServer,
  options: Partial<WebSocketClientOptions> = {},
) {
  const agent = await connectAgent(t, srv);
  await agent.next('queue_updated');
  const visitor = createClient(t, srv.wsUrl, { token: visitorToken(), ...options });
  await visitor.client.connect();
  const { callId } = await visitor.client.requestCall('video');
  const accepted = await agent.request({ type: 'call_accept', callId });
  if (accepted.type !== 'ack') throw new Error(`call_accept failed: ${JSON.stringify(accepted)}`);
  await visitor.next('call_started');
  await agent.next('call_started');
  return { agent, visitor, callId };
}
