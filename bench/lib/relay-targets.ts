/**
 * The servers the relay benchmark compares, and how each gets 50 pairs of clients ready to
 * relay: for CallDocker, authenticated agents and visitors with answered calls; for the bare
 * relay, two sockets per pair; for the PeerJS server, two registered peers; for Socket.IO,
 * two `socket.io-client` sockets connected over the WebSocket transport.
 *
 * Every target hands the load generator plain `ws` sockets and prepared frames, so the
 * generator's cost per message is the same whichever server it drives.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { io } from 'socket.io-client';
import { WebSocket } from 'ws';
import type { RelayWire } from './relay-load.js';

/** Two connected clients that relay to each other, and the frame each one sends. */
export interface RelayPair {
  readonly a: WebSocket;
  readonly b: WebSocket;
  /** What `a` sends (its peer receives it stamped with `fromUserId`). */
  readonly fromA: Buffer;
  readonly fromB: Buffer;
}

/** A server under test. */
export interface RelayTarget {
  /** Name in the report. */
  readonly name: string;
  /** File name of the compiled server entry (under `dist/bench/servers/`). */
  readonly script: string;
  /** Environment for the server process. */
  readonly env: Readonly<Record<string, string>>;
  /** How the load generator tells relayed and error frames. */
  readonly wire: RelayWire;
  /** What a client sends, as the report describes it. */
  readonly frameNote: string;
  /** A frame of the same length as every frame its clients send. */
  readonly sampleFrame: Buffer;
  /** Connects `count` pairs to the server on `port` and makes them ready to relay. */
  connectPairs(port: number, count: number): Promise<RelayPair[]>;
}

/** The candidate of the benchmark's messages: a typical server-reflexive ICE candidate. */
const CANDIDATE = {
  candidate:
    'candidate:842163049 1 udp 1677729535 192.0.2.10 54321 typ srflx raddr 0.0.0.0 rport 0 ' +
    'generation 0 ufrag abcd network-cost 999',
  sdpMid: '0',
  sdpMLineIndex: 0,
};

/** An `ice_candidate` frame for `callId`, ready to send. */
export function iceCandidateFrame(callId: string): Buffer {
  return Buffer.from(JSON.stringify({ type: 'ice_candidate', callId, candidate: CANDIDATE }));
}

/**
 * A PeerJS `CANDIDATE` frame to peer `dst`, its payload as the PeerJS client sends it (the
 * candidate, the connection's type and id).
 */
export function peerJsCandidateFrame(dst: string, connectionId: string): Buffer {
  return Buffer.from(
    JSON.stringify({
      type: 'CANDIDATE',
      dst,
      payload: { candidate: CANDIDATE, type: 'media', connectionId },
    }),
  );
}

/**
 * A Socket.IO `ice_candidate` event for `callId` as `socket.io-client` would encode
 * `emit('ice_candidate', {callId, candidate})`: an Engine.IO message (`4`) carrying a
 * Socket.IO event (`2`) on the main namespace.
 */
export function socketIoCandidateFrame(callId: string): Buffer {
  return Buffer.from(`42${JSON.stringify(['ice_candidate', { callId, candidate: CANDIDATE }])}`);
}

/** Call ids and peer ids are UUIDs everywhere, so every frame of a target has one length. */
const SAMPLE_ID = '00000000-0000-0000-0000-000000000000';

/** The frames of CallDocker and the bare relay: `type` first. */
const JSON_WIRE: RelayWire = {
  relayed: Buffer.from('{"type":"ice_candidate"'),
  error: Buffer.from('{"type":"error"'),
};

/** Generous: set-up runs on a shared machine that may be busy with other work. */
const SETUP_TIMEOUT_MS = 30_000;

/** Opens a client socket; `prepare` runs before any frame can arrive. */
function open(url: string, prepare: (ws: WebSocket) => void = () => undefined): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    // A server may send its first frame along with the upgrade response, before a promise
    // continuation could attach a listener: whoever reads frames must listen from the start.
    prepare(ws);
    ws.once('open', () => {
      ws.off('error', reject);
      // A socket error is followed by `close`, which is what the load generator watches.
      ws.on('error', () => undefined);
      resolve(ws);
    });
    ws.once('error', reject);
  });
}

type Frame = Record<string, unknown> & { type: string };

/**
 * Parses every frame of a socket during set-up and lets the caller wait for one. Set-up is not
 * measured, so clarity wins over speed here.
 */
class SetupClient {
  private readonly frames: Frame[] = [];
  private wake: (() => void) | undefined;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => {
      const value: unknown = JSON.parse(data.toString('utf8'));
      if (typeof value === 'object' && value !== null && 'type' in value) {
        this.frames.push(value as Frame);
        this.wake?.();
      }
    });
    ws.on('close', () => this.wake?.());
  }

  /** Connects to `url` and records every frame from the first. */
  static async connect(url: string): Promise<SetupClient> {
    let client: SetupClient | undefined;
    await open(url, (ws) => {
      client = new SetupClient(ws);
    });
    return client!;
  }

  /** The first frame so far that `match` accepts, waiting for it if needed. */
  async next(what: string, match: (frame: Frame) => boolean): Promise<Frame> {
    const deadline = Date.now() + SETUP_TIMEOUT_MS;
    for (;;) {
      const index = this.frames.findIndex(match);
      if (index >= 0) return this.frames.splice(index, 1)[0]!;
      if (this.ws.readyState !== WebSocket.OPEN) throw new Error(`closed waiting for ${what}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, deadline - Date.now());
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /** The first frame of `type`. */
  nextOfType(type: string): Promise<Frame> {
    return this.next(type, (f) => f.type === type);
  }

  /** Sends `message` and waits for its answer; an error frame throws. */
  async request(message: Record<string, unknown> & { id: string }): Promise<Frame> {
    this.ws.send(JSON.stringify(message));
    const what = `the answer to ${String(message['type'])}`;
    const answer = await this.next(
      what,
      (f) => (f.type === 'ack' || f.type === 'error') && f['id'] === message.id,
    );
    if (answer.type === 'error') throw new Error(`${what}: ${JSON.stringify(answer)}`);
    return answer;
  }

  /** Stops parsing: the socket is handed to the load generator. */
  release(): WebSocket {
    this.ws.removeAllListeners('message');
    this.ws.removeAllListeners('close');
    return this.ws;
  }
}

/** The bare `ws` relay: pairs are two sockets naming the same pair number. */
export const bareRelay: RelayTarget = {
  name: 'bare ws relay',
  script: 'bare-relay.js',
  env: {},
  wire: JSON_WIRE,
  frameNote: '`ice_candidate` JSON frames',
  sampleFrame: iceCandidateFrame(SAMPLE_ID),
  async connectPairs(port, count) {
    const base = `ws://127.0.0.1:${port}/`;
    return Promise.all(
      Array.from({ length: count }, async (_, n) => {
        const [a, b] = await Promise.all([
          open(`${base}?pair=${n}&side=a`),
          open(`${base}?pair=${n}&side=b`),
        ]);
        // A call id of the same length as CallDocker's, so frames are the same size.
        const frame = iceCandidateFrame(randomUUID());
        return { a, b, fromA: frame, fromB: frame };
      }),
    );
  },
};

/** CallDocker as a relay target, whose pairs may also span two nodes of a cluster. */
export interface CallDockerTarget extends RelayTarget {
  /**
   * Connects `count` pairs, each visitor to the node on `visitorPort` and its agent to the node
   * on `agentPort` (the same port: one node), and makes them ready to relay.
   */
  connectAcross(visitorPort: number, agentPort: number, count: number): Promise<RelayPair[]>;
}

/**
 * CallDocker: each pair is a visitor and an agent of their own company (so set-up traffic of
 * one pair never fans out to another), with an answered call between them.
 */
export function callDocker(): CallDockerTarget {
  const secret = randomBytes(32).toString('hex');
  const exp = Math.floor(Date.now() / 1000) + 3600;
  const token = (claims: Record<string, string>) =>
    jwt.sign({ ...claims, exp }, secret, { algorithm: 'HS256' });
  const connectAcross = (visitorPort: number, agentPort: number, count: number) =>
    Promise.all(
      Array.from({ length: count }, async (_, n) => {
        const company = `bench-${n}`;
        const agent = await SetupClient.connect(
          `ws://127.0.0.1:${agentPort}/?token=` +
            token({ sub: `agent-${n}`, role: 'agent', company_id: company }),
        );
        await agent.nextOfType('connection_established');
        const visitor = await SetupClient.connect(
          `ws://127.0.0.1:${visitorPort}/?token=` +
            token({ sub: `visitor-${n}`, role: 'visitor', company_id: company }),
        );
        await visitor.nextOfType('connection_established');
        const requested = await visitor.request({
          type: 'call_request',
          id: `request-${n}`,
          callType: 'audio',
        });
        const callId = String(requested['callId']);
        await agent.request({ type: 'call_accept', id: `accept-${n}`, callId });
        await Promise.all([visitor.nextOfType('call_started'), agent.nextOfType('call_started')]);
        const frame = iceCandidateFrame(callId);
        return { a: visitor.release(), b: agent.release(), fromA: frame, fromB: frame };
      }),
    );
  return {
    name: 'CallDocker',
    script: 'calldocker.js',
    env: { BENCH_JWT_SECRET: secret },
    wire: JSON_WIRE,
    frameNote: '`ice_candidate` messages',
    sampleFrame: iceCandidateFrame(SAMPLE_ID),
    connectPairs: (port, count) => connectAcross(port, port, count),
    connectAcross,
  };
}

/** A PeerJS media connection id (`mc_` and a random token) from 6 hex-encoded bytes. */
const connectionIdOf = (hex: string) => `mc_${hex.padEnd(12, '0')}`;

/**
 * The PeerJS server: each pair is two peers with random ids, registered with their own tokens
 * (the server answers `OPEN`), sending `CANDIDATE` frames addressed to each other.
 */
export const peerJs: RelayTarget = {
  name: 'PeerJS server',
  script: 'peerjs.js',
  env: {},
  wire: { relayed: Buffer.from('{"type":"CANDIDATE"'), error: Buffer.from('{"type":"ERROR"') },
  frameNote: '`CANDIDATE` frames (`{type, dst, payload}`, the candidate in the payload)',
  sampleFrame: peerJsCandidateFrame(SAMPLE_ID, connectionIdOf('000000')),
  async connectPairs(port, count) {
    const register = async (id: string) => {
      const token = randomBytes(8).toString('hex');
      const client = await SetupClient.connect(
        `ws://127.0.0.1:${port}/peerjs?key=peerjs&id=${id}&token=${token}`,
      );
      await client.nextOfType('OPEN');
      return client.release();
    };
    return Promise.all(
      Array.from({ length: count }, async () => {
        const aId = randomUUID();
        const bId = randomUUID();
        const [a, b] = await Promise.all([register(aId), register(bId)]);
        const connectionId = connectionIdOf(randomBytes(6).toString('hex'));
        return {
          a,
          b,
          fromA: peerJsCandidateFrame(bId, connectionId),
          fromB: peerJsCandidateFrame(aId, connectionId),
        };
      }),
    );
  },
};

const SOCKET_IO_RELAYED = '42["ice_candidate"';

/**
 * Connects a `socket.io-client` socket (WebSocket transport only, its own connection, no
 * reconnection) and returns the WebSocket under it. The library stays attached and keeps
 * handling its protocol (heartbeats, disconnection); relayed frames are held back from it, as
 * the other targets' clients do not parse them either.
 */
async function socketIoSocket(port: number, auth: Record<string, string>): Promise<WebSocket> {
  const socket = io(`http://127.0.0.1:${port}`, {
    transports: ['websocket'],
    auth,
    forceNew: true,
    reconnection: false,
    timeout: SETUP_TIMEOUT_MS,
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('connect_error', reject);
  });
  // Engine.IO's WebSocket transport keeps its `ws` socket in a field its types call protected.
  const ws = (socket.io.engine.transport as unknown as { ws: WebSocket }).ws;
  ws.on('error', () => undefined);
  const libraryOnMessage = ws.onmessage;
  ws.onmessage = (event) => {
    if (typeof event.data === 'string' && event.data.startsWith(SOCKET_IO_RELAYED)) return;
    libraryOnMessage?.call(ws, event);
  };
  return ws;
}

/** A minimal Socket.IO relay: each pair is two sockets naming the same pair number. */
export const socketIoRelay: RelayTarget = {
  name: 'Socket.IO relay',
  script: 'socketio-relay.js',
  env: {},
  wire: { relayed: Buffer.from(SOCKET_IO_RELAYED), error: undefined },
  frameNote: '`ice_candidate` events (`42["ice_candidate",{callId, candidate}]`)',
  sampleFrame: socketIoCandidateFrame(SAMPLE_ID),
  async connectPairs(port, count) {
    return Promise.all(
      Array.from({ length: count }, async (_, n) => {
        const [a, b] = await Promise.all([
          socketIoSocket(port, { pair: String(n), side: 'a' }),
          socketIoSocket(port, { pair: String(n), side: 'b' }),
        ]);
        const frame = socketIoCandidateFrame(randomUUID());
        return { a, b, fromA: frame, fromB: frame };
      }),
    );
  },
};
