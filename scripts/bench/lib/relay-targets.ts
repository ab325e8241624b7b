/**
 * The servers the relay benchmark compares, and how each gets 50 pairs of clients ready to
 * relay: for CallDocker, authenticated agents and visitors with answered calls; for the bare
 * relay, two sockets per pair.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { WebSocket } from 'ws';

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
  /** File name of the compiled server entry (under `dist/scripts/bench/servers/`). */
  readonly script: string;
  /** Environment for the server process. */
  readonly env: Readonly<Record<string, string>>;
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

/**
 * CallDocker: each pair is a visitor and an agent of their own company (so set-up traffic of
 * one pair never fans out to another), with an answered call between them.
 */
export function callDocker(): RelayTarget {
  const secret = randomBytes(32).toString('hex');
  const exp = Math.floor(Date.now() / 1000) + 3600;
  const token = (claims: Record<string, string>) =>
    jwt.sign({ ...claims, exp }, secret, { algorithm: 'HS256' });
  return {
    name: 'CallDocker',
    script: 'calldocker.js',
    env: { BENCH_JWT_SECRET: secret },
    async connectPairs(port, count) {
      const base = `ws://127.0.0.1:${port}/?token=`;
      return Promise.all(
        Array.from({ length: count }, async (_, n) => {
          const company = `bench-${n}`;
          const agent = await SetupClient.connect(
            base + token({ sub: `agent-${n}`, role: 'agent', company_id: company }),
          );
          await agent.nextOfType('connection_established');
          const visitor = await SetupClient.connect(
            base + token({ sub: `visitor-${n}`, role: 'visitor', company_id: company }),
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
    },
  };
}
