/**
 * A crowd of anonymous visitors from several client addresses, for the flood scenario: run in the
 * attacker process (`attacker-entry.ts`), which reports what it counted.
 *
 * Each address (a loopback address the sockets bind to, so the servers see it as the client's)
 * does at once what a visitor page does slowly, and keeps at it until the end:
 *
 * - asks the web host for `tokenBurst` visitor tokens at once (100-character names), then one a
 *   second more;
 * - opens `connectionsPerAddress` visitor connections, one per token, and opens each refused
 *   one again a second later;
 * - its visitors send `call_request`s with 500-character purposes: the first
 *   `ringersPerAddress` ring the company's first agent (from `agent_list`), again as soon as a
 *   ring ends and `requestIntervalMs` after a refusal; the others ask for the queue every
 *   `requestIntervalMs`, queued or not. Of the rings the crowd gets, one is cancelled at once
 *   and redialled, the next left to time out, and so on.
 *
 * The crowd is coordinated: every address has its tokens and connections before any visitor
 * calls, and then they all start together.
 *
 * Every answer is counted by what was asked and what came back (`queue queue_full`, `ring busy`,
 * `ring missed`, `token 429`...), every close by code and reason, and for each address the most
 * visitor connections the server admitted that were open at once.
 */
import { request as httpRequest, type ClientRequest } from 'node:http';
import { WebSocket } from 'ws';
import type { AttackTask } from './server-process.js';

/** The crowd's task. */
export type CrowdTask = Extract<AttackTask, { kind: 'crowd' }>;

/** A refused connection is opened again this long after its close. */
const RECONNECT_MS = 1000;
/** Tokens asked for after the burst, one every this long per address. */
const TOKEN_INTERVAL_MS = 1000;

/** As long as the web host lets a name be. */
const NAME = 'Mallory the Very Long-Named Visitor '.repeat(3).slice(0, 100);
/** As long as the protocol lets a purpose be (the server keeps the first 200 code points). */
const PURPOSE = 'I would like to talk about a rather long and complicated matter. '
  .repeat(8)
  .slice(0, 500);

/** What a request was, to count its answer under. */
type Asked = 'queue' | 'ring' | 'cancel';

/** One address's visitors. */
interface Cell {
  readonly address: string;
  /** Admitted connections open now. */
  open: number;
}

/** A field of a frame, when it is a string. */
function text(frame: unknown, key: string): string | undefined {
  if (typeof frame !== 'object' || frame === null) return undefined;
  const value = (frame as Record<string, unknown>)[key];
  return typeof value === 'string' ? value : undefined;
}

/** The first agent of an `agent_list` frame. */
function firstAgent(frame: unknown): string | undefined {
  const agents = (frame as { agents?: unknown }).agents;
  return Array.isArray(agents) && agents.length > 0 ? text(agents[0], 'id') : undefined;
}

/** A crowd under way; {@link run} resolves once it is over, by its duration or {@link stop}. */
export class Crowd {
  /** Answers by `<asked> <answer>`. */
  readonly answers: Record<string, number> = {};
  /** Closes by `<code> <reason>`. */
  readonly closes: Record<string, number> = {};
  /** Most admitted connections open at once, by address. */
  readonly peakOpen: Record<string, number> = {};
  connections = 0;
  framesSent = 0;
  rateLimited = 0;
  errors = 0;

  private running = true;
  private readonly sockets = new Set<WebSocket>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly pending = new Set<ClientRequest>();
  private ended: () => void = () => undefined;
  private nextId = 0;
  /** Rings the crowd got, to alternate between cancelling one and letting the next run out. */
  private rings = 0;

  constructor(private readonly task: CrowdTask) {}

  /**
   * Gathers the crowd, lets it loose (then calls `onStarted`), and resolves once it is over. A
   * coordinated crowd: every address gets its tokens and opens its connections first, and only
   * then do all visitors start calling, together.
   */
  async run(onStarted: () => void): Promise<void> {
    const over = new Promise<void>((resolve) => (this.ended = resolve));
    this.later(this.task.durationMs, () => this.stop());
    let go: () => void = () => undefined;
    const started = new Promise<void>((resolve) => (go = resolve));
    const gathered = this.task.addresses.map((address) => {
      this.peakOpen[address] = 0;
      return this.cell({ address, open: 0 }, started);
    });
    await Promise.all(gathered);
    go();
    onStarted();
    await over;
  }

  /** Ends the crowd: every socket and request is dropped at once. */
  stop(): void {
    if (!this.running) return;
    this.running = false;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    for (const ws of this.sockets) ws.terminate();
    for (const req of this.pending) req.destroy();
    this.ended();
  }

  private count(key: string): void {
    this.answers[key] = (this.answers[key] ?? 0) + 1;
  }

  /** Runs `fn` after `ms` unless the crowd is over by then. */
  private later(ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (this.running) fn();
    }, ms);
    this.timers.add(timer);
  }

  /**
   * One address: its tokens, then its connections; resolves once each first connection was
   * admitted or refused. Admitted visitors start calling once `started` resolves.
   */
  private async cell(cell: Cell, started: Promise<void>): Promise<void> {
    const { tokenBurst, connectionsPerAddress, ringersPerAddress } = this.task;
    const burst = await Promise.all(
      Array.from({ length: tokenBurst }, () => this.token(cell.address)),
    );
    const tokens = burst.filter((token) => token !== undefined);
    const askAgain = () => {
      void this.token(cell.address);
      this.later(TOKEN_INTERVAL_MS, askAgain);
    };
    this.later(TOKEN_INTERVAL_MS, askAgain);
    await Promise.all(
      tokens
        .slice(0, connectionsPerAddress)
        .map((token, i) => this.visitor(cell, token, i < ringersPerAddress, started)),
    );
  }

  /** Asks the web host for a visitor token from `address`; undefined when refused. */
  private token(address: string): Promise<string | undefined> {
    if (!this.running) return Promise.resolve(undefined);
    const body = JSON.stringify({ companyId: this.task.companyId, name: NAME });
    return new Promise((resolve) => {
      const req = httpRequest(`${this.task.webUrl}/api/visitor-token`, {
        method: 'POST',
        localAddress: address,
        agent: false,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      });
      this.pending.add(req);
      const done = (token: string | undefined) => {
        this.pending.delete(req);
        resolve(token);
      };
      req.on('error', () => done(undefined));
      req.on('response', (res) => {
        let data = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (data += chunk));
        res.on('error', () => done(undefined));
        res.on('end', () => {
          this.count(`token ${res.statusCode}`);
          done(res.statusCode === 200 ? text(JSON.parse(data), 'token') : undefined);
        });
      });
      req.end(body);
    });
  }

  /**
   * One visitor connection with `token`, opened again a second after a refusal; resolves once
   * it is admitted or first refused. Once admitted, it calls from `started` on.
   */
  private visitor(cell: Cell, token: string, ringer: boolean, started: Promise<void>) {
    if (!this.running) return Promise.resolve();
    let settle: () => void = () => undefined;
    const settled = new Promise<void>((resolve) => (settle = resolve));
    const ws = new WebSocket(`${this.task.url}?token=${encodeURIComponent(token)}`, {
      localAddress: cell.address,
      perMessageDeflate: false,
    });
    this.sockets.add(ws);
    this.connections++;
    let admitted = false;
    let agentId: string | undefined;
    const asked = new Map<string, Asked>();
    const send = (kind: Asked, message: Record<string, unknown>) => {
      if (ws.readyState !== WebSocket.OPEN) return;
      const id = `c${++this.nextId}`;
      asked.set(id, kind);
      ws.send(JSON.stringify({ ...message, id }));
      this.framesSent++;
    };
    const queue = () => {
      if (ws.readyState !== WebSocket.OPEN) return;
      send('queue', { type: 'call_request', callType: 'audio', purpose: PURPOSE });
      this.later(this.task.requestIntervalMs, queue);
    };
    const ring = () =>
      send('ring', { type: 'call_request', callType: 'audio', purpose: PURPOSE, agentId });

    ws.on('error', () => this.errors++);
    ws.on('message', (data: Buffer) => {
      const frame: unknown = JSON.parse(data.toString());
      const type = text(frame, 'type');
      if (type === 'connection_established') {
        admitted = true;
        cell.open++;
        this.peakOpen[cell.address] = Math.max(this.peakOpen[cell.address] ?? 0, cell.open);
        this.count('connect admitted');
      } else if (type === 'agent_list') {
        agentId = firstAgent(frame);
        settle();
        void started.then(ringer && agentId !== undefined ? ring : queue);
      } else if (type === 'ack' || type === 'error') {
        const id = text(frame, 'id') ?? '';
        const kind = asked.get(id);
        if (kind === undefined) return;
        asked.delete(id);
        const answer = type === 'ack' ? 'ack' : (text(frame, 'code') ?? 'error');
        this.count(`${kind} ${answer}`);
        if (answer === 'rate_limited') this.rateLimited++;
        if (kind !== 'ring') return;
        if (answer !== 'ack') this.later(this.task.requestIntervalMs, ring);
        // Rings alternate, crowd-wide: one is cancelled at once and redialled (the new ring
        // right behind the cancel, so the freed ring is the crowd's again), the next is left to
        // time out. Cancelled rings never count toward setting the agent away; the crowd tries
        // both.
        else if (this.rings++ % 2 === 0) {
          send('cancel', { type: 'call_cancel', callId: text(frame, 'callId') });
          ring();
        }
      } else if (type === 'call_missed') {
        this.count(`${ringer ? 'ring' : 'queue'} missed`);
        if (ringer) ring();
      }
    });
    ws.on('close', (code, reason) => {
      this.sockets.delete(ws);
      settle();
      if (admitted) cell.open--;
      if (!this.running) return;
      const key = `${code} ${reason.toString()}`;
      this.closes[key] = (this.closes[key] ?? 0) + 1;
      if (!admitted)
        this.later(RECONNECT_MS, () => void this.visitor(cell, token, ringer, started));
    });
    return settled;
  }
}
