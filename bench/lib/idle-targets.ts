/**
 * The servers the idle-connection benchmark compares, and how one client of each reaches the
 * server's natural authenticated (or identified) idle state. Clients are minimal raw `ws`
 * sockets speaking each server's protocol by hand, not its client library: the benchmark
 * measures the server, and 10,000 library clients would cost the load generator more than
 * the servers it measures.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { WebSocket } from 'ws';

/** A server under test. */
export interface IdleTarget {
  /** Name in the report (the same as in the relay benchmark). */
  readonly name: string;
  /** File name of the compiled server entry (under `dist/bench/servers/`). */
  readonly script: string;
  /** Environment for the server process. */
  readonly env: Readonly<Record<string, string>>;
  /** What one idle connection is, for the report. */
  readonly note: string;
  /**
   * Opens client number `index` against the server on `port` and resolves once it is idle:
   * authenticated or identified, with every frame the server sends a new connection received.
   */
  connect(port: number, index: number): Promise<WebSocket>;
}

/** Generous: 10,000 connections are set up on a shared machine that may be busy. */
const CONNECT_TIMEOUT_MS = 30_000;

/**
 * Opens `url` and feeds each text frame to `step` until it returns `'ready'`; an Error it
 * returns (or throws) fails the connection. `step` with no frame (`undefined`) runs once, at
 * open. The frame listener is removed once ready: an idle client reads nothing more, except
 * what `keepAlive` answers.
 */
function openRaw(
  url: string,
  step: (ws: WebSocket, frame: string | undefined) => 'ready' | 'wait' | Error,
  keepAlive?: (ws: WebSocket, frame: string) => void,
): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    const timer = setTimeout(
      () => fail(new Error(`no idle state in ${CONNECT_TIMEOUT_MS} ms`)),
      CONNECT_TIMEOUT_MS,
    );
    const fail = (err: Error) => {
      clearTimeout(timer);
      ws.terminate();
      reject(err);
    };
    const advance = (frame: string | undefined) => {
      let outcome: 'ready' | 'wait' | Error;
      try {
        outcome = step(ws, frame);
      } catch (err) {
        outcome = err instanceof Error ? err : new Error(String(err));
      }
      if (outcome === 'wait') return;
      if (outcome instanceof Error) {
        fail(outcome);
        return;
      }
      clearTimeout(timer);
      ws.off('message', onMessage);
      ws.off('close', onClose);
      if (keepAlive !== undefined)
        ws.on('message', (data: Buffer) => keepAlive(ws, data.toString()));
      resolve(ws);
    };
    const onMessage = (data: Buffer, isBinary: boolean) => {
      if (!isBinary) advance(data.toString('utf8'));
    };
    const onClose = (code: number) => fail(new Error(`closed (${code}) before it was idle`));
    // Listening from the start: a server may send its first frame with the upgrade response.
    ws.on('message', onMessage);
    ws.on('close', onClose);
    ws.on('error', (err) => fail(err));
    ws.once('open', () => advance(undefined));
  });
}

/** Whether `frame` is a JSON message of `type` (every server here puts `type` first). */
const isType = (frame: string, type: string) => frame.startsWith(`{"type":"${type}"`);

/** The bare relay: a socket naming its pair (`?pair&side`); it is idle once open. */
export const bareIdle: IdleTarget = {
  name: 'bare ws relay',
  script: 'bare-relay.js',
  env: {},
  note: "a socket identified by its pair and side, in the relay's map",
  connect(port, index) {
    const side = index % 2 === 0 ? 'a' : 'b';
    return openRaw(`ws://127.0.0.1:${port}/?pair=${index >> 1}&side=${side}`, (_ws, frame) =>
      frame === undefined ? 'ready' : 'wait',
    );
  },
};

/**
 * CallDocker: every client a visitor of one company, authenticated by its JWT, waiting in
 * `public-calls`; idle once it has `connection_established` and `agent_list`. The tokens are
 * signed with `secret` (a fresh one by default; the server is given it in `env`).
 */
export function callDockerIdle(secret = randomBytes(32).toString('hex')): IdleTarget {
  const exp = Math.floor(Date.now() / 1000) + 3600;
  return {
    name: 'CallDocker',
    script: 'calldocker.js',
    env: { BENCH_JWT_SECRET: secret },
    note:
      'a visitor authenticated by JWT, waiting in `public-calls`, all of one company, having ' +
      'received `connection_established` and `agent_list`',
    connect(port, index) {
      const token = jwt.sign(
        { sub: `visitor-${index}`, role: 'visitor', company_id: 'bench-idle', exp },
        secret,
        { algorithm: 'HS256' },
      );
      let established = false;
      return openRaw(`ws://127.0.0.1:${port}/?token=${token}`, (_ws, frame) => {
        if (frame === undefined) return 'wait';
        if (isType(frame, 'connection_established')) established = true;
        else if (isType(frame, 'agent_list')) return established ? 'ready' : new Error(frame);
        else if (isType(frame, 'error')) return new Error(frame);
        return 'wait';
      });
    },
  };
}

/** The PeerJS server: a peer registered with a random id and token, idle once told `OPEN`. */
export const peerJsIdle: IdleTarget = {
  name: 'PeerJS server',
  script: 'peerjs.js',
  env: {},
  note: 'a peer registered with its id and token, having received `OPEN`',
  connect(port) {
    const url =
      `ws://127.0.0.1:${port}/peerjs?key=peerjs&id=${randomUUID()}` +
      `&token=${randomBytes(8).toString('hex')}`;
    return openRaw(url, (_ws, frame) => {
      if (frame === undefined) return 'wait';
      if (isType(frame, 'OPEN')) return 'ready';
      return new Error(frame);
    });
  },
};

/**
 * The Socket.IO relay: an Engine.IO WebSocket session (`0` open packet), then a connection to
 * the main namespace naming its pair (`40{auth}`, answered `40{sid}`). Idle clients answer the
 * server's heartbeat (`2` ping, `3` pong) as the library would.
 */
export const socketIoIdle: IdleTarget = {
  name: 'Socket.IO relay',
  script: 'socketio-relay.js',
  env: {},
  note: 'a socket connected to the main namespace with its pair in `auth`, answering pings',
  connect(port, index) {
    const auth = JSON.stringify({ pair: String(index >> 1), side: index % 2 === 0 ? 'a' : 'b' });
    return openRaw(
      `ws://127.0.0.1:${port}/socket.io/?EIO=4&transport=websocket`,
      (ws, frame) => {
        if (frame === undefined) return 'wait';
        if (frame.startsWith('0{')) {
          ws.send(`40${auth}`);
          return 'wait';
        }
        if (frame.startsWith('40')) return 'ready';
        if (frame === '2') {
          ws.send('3');
          return 'wait';
        }
        return new Error(frame);
      },
      (ws, frame) => {
        if (frame === '2') ws.send('3');
      },
    );
  },
};
