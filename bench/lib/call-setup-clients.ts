/**
 * The call-setup benchmark's clients: one agent and one visitor per call loop, authenticated
 * with real tokens, laid out either one pair per company (no call's status changes reach
 * another loop) or all in one company (every agent's `busy` and `online` reach all 200).
 *
 * Set-up is not measured: agents connect first, so every agent is present and `online` before
 * any visitor can ring it.
 */
import { randomBytes } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { WebSocket } from 'ws';

/** How the loops' users are spread over companies. */
export type Layout = 'spread' | 'one-company';

/** One call loop's two users: the visitor rings `agentId`, and only it. */
export interface CallPair {
  readonly index: number;
  readonly agentId: string;
  readonly visitor: WebSocket;
  readonly agent: WebSocket;
}

/** Signs the benchmark's tokens; the server verifies with `secret`. */
export class TokenIssuer {
  /** The HS256 secret, for the server's environment. */
  readonly secret = randomBytes(32).toString('hex');
  private readonly exp = Math.floor(Date.now() / 1000) + 3600;

  token(sub: string, role: 'agent' | 'visitor', companyId: string): string {
    return jwt.sign({ sub, role, company_id: companyId, exp: this.exp }, this.secret, {
      algorithm: 'HS256',
    });
  }
}

/** Generous: set-up runs on a shared machine that may be busy with other work. */
const CONNECT_TIMEOUT_MS = 30_000;

const ESTABLISHED = Buffer.from('{"type":"connection_established"');

/** Opens a socket and resolves once the server's `connection_established` arrived. */
function connect(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error(`no connection_established within ${CONNECT_TIMEOUT_MS} ms`));
    }, CONNECT_TIMEOUT_MS);
    const done = (err: Error | undefined) => {
      clearTimeout(timer);
      ws.off('message', onMessage);
      ws.off('close', onClose);
      ws.off('error', onError);
      if (err === undefined) {
        // A socket error is followed by `close`, which is what the load watches.
        ws.on('error', () => undefined);
        resolve(ws);
      } else {
        ws.terminate();
        reject(err);
      }
    };
    // The server may send its first frame along with the upgrade response: listen from the start.
    const onMessage = (data: Buffer) => {
      if (data.subarray(0, ESTABLISHED.length).equals(ESTABLISHED)) done(undefined);
    };
    const onClose = (code: number, reason: Buffer) =>
      done(new Error(`closed during set-up (${code} ${reason.toString('utf8')})`));
    const onError = (err: Error) => done(err);
    ws.on('message', onMessage);
    ws.on('close', onClose);
    ws.on('error', onError);
  });
}

const PONG = Buffer.from('{"type":"pong"');

/** Sends `ping` on `ws` and resolves once its `pong` arrived (so did every frame before it). */
function pingPong(ws: WebSocket): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      ws.off('message', onMessage);
      reject(new Error(`no pong within ${CONNECT_TIMEOUT_MS} ms`));
    }, CONNECT_TIMEOUT_MS);
    const onMessage = (data: Buffer) => {
      if (!data.subarray(0, PONG.length).equals(PONG)) return;
      clearTimeout(timer);
      ws.off('message', onMessage);
      resolve();
    };
    ws.on('message', onMessage);
    ws.send('{"type":"ping"}');
  });
}

/**
 * Waits until the set-up's own traffic is over: the `online` announcements of `count` agents
 * reaching up to 200 users each, which a busy server may still be sending when the load
 * starts. A ping answered on every socket means every frame sent to it before was read; the
 * second round, `presenceTickMs` later, covers announcements a coalescing tick held back.
 */
export async function settle(pairs: readonly CallPair[], presenceTickMs: number): Promise<void> {
  const sockets = pairs.flatMap((pair) => [pair.agent, pair.visitor]);
  await Promise.all(sockets.map(pingPong));
  if (presenceTickMs === 0) return;
  await new Promise((resolve) => setTimeout(resolve, 2 * presenceTickMs));
  await Promise.all(sockets.map(pingPong));
}

/** Where loop `index`'s users live. */
function companyOf(layout: Layout, index: number): string {
  return layout === 'spread' ? `bench-${index}` : 'bench';
}

/** The port of the node that loop `index`'s `role` connects to (the nodes of a cluster). */
export type Placement = (role: 'agent' | 'visitor', index: number) => number;

/**
 * Connects `count` agents, then `count` visitors, to the server on `port` (or, in a cluster,
 * each to the node `port` places it on). On failure every socket opened so far is closed.
 */
export async function connectCallPairs(
  port: number | Placement,
  tokens: TokenIssuer,
  layout: Layout,
  count: number,
): Promise<CallPair[]> {
  const portOf: Placement = typeof port === 'number' ? () => port : port;
  const opened: WebSocket[] = [];
  const indexes = Array.from({ length: count }, (_, index) => index);
  // Settled, not raced: a failure closes every socket, those still opening included.
  const openAll = async (role: 'agent' | 'visitor') => {
    const results = await Promise.allSettled(
      indexes.map((i) =>
        connect(
          `ws://127.0.0.1:${portOf(role, i)}/?token=` +
            tokens.token(`${role}-${i}`, role, companyOf(layout, i)),
        ),
      ),
    );
    for (const result of results) if (result.status === 'fulfilled') opened.push(result.value);
    const failed = results.find((result) => result.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
    return results.map((result) => (result as PromiseFulfilledResult<WebSocket>).value);
  };
  try {
    const agents = await openAll('agent');
    const visitors = await openAll('visitor');
    return indexes.map((index) => ({
      index,
      agentId: `agent-${index}`,
      visitor: visitors[index]!,
      agent: agents[index]!,
    }));
  } catch (err) {
    for (const ws of opened) ws.terminate();
    throw err;
  }
}
