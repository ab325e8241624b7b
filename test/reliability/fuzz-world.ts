/**
 * Live clients for the fuzz suite. A world is one server on port 0 with agents, admins and
 * visitors of several companies connected to it. Each client sends through a window: the
 * frame, then a fence `ping` with an id of its own. One connection's messages are answered in
 * the order they arrive, so every ack or error between the previous fence and this one answers
 * this frame, ids or not; that is what lets the suite hold the server to "exactly one answer
 * per id" and "a typed error for every bad frame" without guessing.
 *
 * Everything a client sent and received is kept in its {@link ConnRecord} for the delivery
 * oracle, including the records of connections that closed and were replaced.
 */
import { pino } from 'pino';
import { WebSocket } from 'ws';
import type { Role } from '../../client-lib/protocol.js';
import type { SignalingConfig } from '../../config/config.js';
import { buildServer, httpGet, signToken, type TestServer } from '../helpers.js';
import {
  expectFrame,
  judgeAnswers,
  type CloseInfo,
  type ConnRecord,
  type Expectation,
  type Received,
} from './oracle.js';

/** Who a slot of the world connects as. */
export interface UserSpec {
  readonly userId: string;
  readonly role: Role;
  readonly companyId: string;
  readonly name: string;
}

/** The subset of tap's Test the world needs. */
interface Teardown {
  teardown(fn: () => unknown): void;
}

/** How long a window waits for its fence (or close) before calling it a lost answer. */
const WINDOW_TIMEOUT_MS = 5000;

let fences = 0;

/** What one window saw. */
export interface Exchange {
  readonly exp: Expectation;
  readonly answers: readonly Received[];
  /** Set when the connection closed during the window. */
  readonly close: CloseInfo | undefined;
  /** Set when the answers are not what the frame deserved. */
  readonly violation: string | undefined;
}

/** One connection: records every frame and sends through windows. */
export class FuzzClient {
  readonly ws: WebSocket;
  readonly record: ConnRecord;
  readonly closed: Promise<CloseInfo>;
  /** Index in `record.received` up to which answers have been attributed. */
  private cursor = 0;
  private readonly waiters: Array<() => void> = [];

  constructor(url: string, spec: UserSpec, label: string) {
    this.record = {
      label,
      userId: spec.userId,
      role: spec.role,
      companyId: spec.companyId,
      name: spec.name,
      received: [],
      unparsable: [],
      sent: [],
      fences: 0,
      close: undefined,
    };
    const token = signToken({
      sub: spec.userId,
      role: spec.role,
      company_id: spec.companyId,
      name: spec.name,
    });
    this.ws = new WebSocket(`${url}?token=${encodeURIComponent(token)}`);
    this.ws.on('error', () => undefined);
    this.ws.on('message', (data: Buffer, isBinary: boolean) => {
      const text = data.toString('utf8');
      let value: unknown;
      try {
        value = isBinary ? undefined : JSON.parse(text);
      } catch {
        value = undefined;
      }
      const type = (value as { type?: unknown } | undefined)?.type;
      if (typeof value === 'object' && value !== null && typeof type === 'string') {
        this.record.received.push(value as Received);
      } else {
        this.record.unparsable.push(text.slice(0, 200));
      }
      this.wakeAll();
    });
    this.closed = new Promise((resolve) => {
      this.ws.on('close', (code: number, reason: Buffer) => {
        this.record.close = { code, reason: reason.toString() };
        resolve(this.record.close);
        this.wakeAll();
      });
    });
  }

  get isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN && this.record.close === undefined;
  }

  private wakeAll(): void {
    for (const wake of this.waiters.splice(0)) wake();
  }

  /** Resolves true once `cond` holds, false after `timeoutMs`. */
  private async waitUntil(cond: () => boolean, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (cond()) return true;
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Waits for `connection_established`, which must be the first frame. */
  async established(timeoutMs = WINDOW_TIMEOUT_MS): Promise<void> {
    const arrived = await this.waitUntil(
      () => this.record.received.length > 0 || this.record.close !== undefined,
      timeoutMs,
    );
    const first = this.record.received[0];
    if (!arrived || first?.type !== 'connection_established') {
      throw new Error(
        `${this.record.label}: no connection_established (first frame ${JSON.stringify(first)}, ` +
          `close ${JSON.stringify(this.record.close)})`,
      );
    }
  }

  /**
   * Sends `bytes` (as a text frame unless `binary`) and a fence, and collects the answers in
   * between; a frame that must close the connection is sent alone and the close awaited.
   */
  async exchange(bytes: Buffer, binary: boolean, maxMessageBytes: number): Promise<Exchange> {
    const exp = expectFrame(bytes, binary, maxMessageBytes);
    if (!this.isOpen) throw new Error(`test bug: ${this.record.label} is closed`);
    const start = this.cursor;
    const wasOpen = this.record.close === undefined;
    this.ws.send(bytes, { binary });
    const fenceId = exp.kind === 'close' ? undefined : `fence-${++fences}`;
    if (fenceId !== undefined) {
      this.ws.send(JSON.stringify({ type: 'ping', id: fenceId }));
      this.record.fences++;
    }
    let fenceAt = -1;
    const findFence = () => {
      const received = this.record.received;
      for (let i = start; i < received.length; i++) {
        const m = received[i]!;
        if (m.type === 'ack' && m['id'] === fenceId) return i;
      }
      return -1;
    };
    const arrived = await this.waitUntil(() => {
      if (fenceId !== undefined) fenceAt = findFence();
      return fenceAt >= 0 || this.record.close !== undefined;
    }, WINDOW_TIMEOUT_MS);
    const end = fenceAt >= 0 ? fenceAt : this.record.received.length;
    const answers = this.record.received
      .slice(start, end)
      .filter((m) => m.type === 'ack' || m.type === 'error');
    this.cursor = fenceAt >= 0 ? fenceAt + 1 : end;
    const close = wasOpen ? this.record.close : undefined;
    this.record.sent.push({ exp, answers });
    const violation = arrived
      ? judgeAnswers(exp, answers, close)
      : `no answer and no close within ${WINDOW_TIMEOUT_MS} ms; got ${JSON.stringify(answers)}`;
    return {
      exp,
      answers,
      close,
      violation: violation === undefined ? undefined : `${this.record.label}: ${violation}`,
    };
  }

  close(): Promise<CloseInfo> {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) {
      this.ws.close();
    }
    return this.closed;
  }
}

/** One user of the world: its current connection, and a lock so windows never overlap. */
export class Slot {
  client: FuzzClient;
  private generation = 1;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly world: World,
    readonly spec: UserSpec,
    readonly index: number,
  ) {
    this.client = this.open();
  }

  private open(): FuzzClient {
    const label = `${this.spec.companyId}/${this.spec.userId}@${this.index}#${this.generation}`;
    const client = new FuzzClient(this.world.srv.wsUrl, this.spec, label);
    this.world.conns.push(client.record);
    return client;
  }

  /** Runs `fn` once every earlier window of this slot is done. */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** Closes the current connection (normally) and opens a new one for the same user. */
  async reconnect(): Promise<void> {
    await this.client.close();
    this.generation++;
    this.client = this.open();
    await this.client.established();
  }

  /** Opens a new connection if the server closed the current one. */
  async ensureOpen(): Promise<void> {
    if (!this.client.isOpen) await this.reconnect();
  }
}

/** A server with its users connected. */
export interface World {
  readonly srv: TestServer;
  readonly slots: Slot[];
  /** Every connection the world opened, closed ones included. */
  readonly conns: ConnRecord[];
  /** Error-level lines the server logged (a handler or task that threw). */
  readonly errorLogs: string[];
}

/** Builds a server with `overrides` and connects one slot per spec. */
export async function openWorld(
  t: Teardown,
  specs: readonly UserSpec[],
  overrides: Partial<SignalingConfig>,
): Promise<World> {
  const errorLogs: string[] = [];
  const logger = pino({ level: 'error' }, { write: (line: string) => errorLogs.push(line) });
  const srv = await buildServer(t, overrides, { logger });
  const world: World = { srv, slots: [], conns: [], errorLogs };
  specs.forEach((spec, i) => world.slots.push(new Slot(world, spec, i)));
  await Promise.all(world.slots.map((s) => s.client.established()));
  return world;
}

let probes = 0;

/**
 * What shows the server is still whole: `/healthz` answers, a fresh client gets
 * `connection_established` first, nothing was logged at error level, and nothing leaked into
 * `Object.prototype` (the fuzz sends `__proto__` keys). Returns the problems found.
 */
export async function serverProblems(world: World): Promise<string[]> {
  const problems: string[] = [];
  const health = await httpGet(world.srv, '/healthz').catch((err: unknown) => ({
    status: 0,
    body: String(err),
  }));
  if (health.status !== 200) problems.push(`/healthz answered ${health.status} ${health.body}`);
  const probe = new FuzzClient(
    world.srv.wsUrl,
    { userId: `probe-${++probes}`, role: 'visitor', companyId: 'probe-co', name: 'Probe' },
    'probe',
  );
  try {
    await probe.established();
  } catch (err) {
    problems.push(`a fresh client: ${(err as Error).message}`);
  } finally {
    await probe.close();
  }
  for (const line of world.errorLogs) problems.push(`server logged an error: ${line.trim()}`);
  const polluted = Object.keys(Object.prototype as object);
  if (polluted.length > 0) problems.push(`Object.prototype gained ${polluted.join(', ')}`);
  return problems;
}
