/**
 * The relay load: every client of every pair keeps at most `window` frames in flight to its
 * peer (a frame leaves flight when the peer receives it), which keeps the server saturated
 * without letting queues grow without bound. The frames of one direction arrive in the order
 * they were sent (one TCP stream in, one out, handled in order), so the send times are a ring
 * buffer and no frame needs to carry a sequence number.
 */
import { performance } from 'node:perf_hooks';
import type { WebSocket } from 'ws';
import type { RelayPair } from './relay-targets.js';
import { Samples } from './stats.js';

/**
 * How a server's frames are told apart without parsing them: every server under test puts
 * the message's kind first, so a prefix is enough.
 */
export interface RelayWire {
  /** How a relayed frame starts. */
  readonly relayed: Buffer;
  /** How an error frame starts, when the server sends any (other frames are ignored). */
  readonly error: Buffer | undefined;
}

function startsWith(data: Buffer, prefix: Buffer): boolean {
  return (
    data.length >= prefix.length && data.compare(prefix, 0, prefix.length, 0, prefix.length) === 0
  );
}

/** One client's sending side: its frame, its window and the send times of frames in flight. */
class Sender {
  private readonly sentAt: Float64Array;
  private head = 0;
  private tail = 0;
  private inflight = 0;

  constructor(
    private readonly ws: WebSocket,
    private readonly frame: Buffer,
    private readonly window: number,
  ) {
    this.sentAt = new Float64Array(window);
  }

  /** Sends until the window is full. */
  fill(): void {
    while (this.inflight < this.window) {
      this.sentAt[this.tail] = performance.now();
      this.tail = (this.tail + 1) % this.window;
      this.inflight++;
      // A text frame from a prepared buffer: no per-send string encoding in the generator.
      this.ws.send(this.frame, { binary: false });
    }
  }

  /** The oldest frame in flight reached the peer; returns when it was sent. */
  delivered(): number {
    const sentAt = this.sentAt[this.head]!;
    this.head = (this.head + 1) % this.window;
    this.inflight--;
    return sentAt;
  }
}

/** Timing of a load run. */
export interface LoadOptions {
  /** Frames each client may have in flight. */
  readonly window: number;
  /** Relaying before the measured window starts (JIT, buffers, steady state). */
  readonly warmupMs: number;
  /** The measured window. */
  readonly measureMs: number;
}

/** What one load run measured, over the measured window only. */
export interface LoadResult {
  /** Frames received by peers. */
  readonly messages: number;
  readonly elapsedMs: number;
  /** CPU time (user + system) of each process the probe reads, in its order. */
  readonly serverCpuUs: readonly number[];
  /** CPU time of this process, the load generator. */
  readonly generatorCpuUs: number;
  /** Send-to-peer-receipt times, in milliseconds. */
  readonly latencyMs: Samples;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Relays between every pair in both directions for warm-up plus the measured window. `wire`
 * tells relayed and error frames; `serverCpuUs` reads the CPU time of every process serving the
 * pairs (one server, or the nodes of a cluster and their Redis), always in the same order.
 * @throws Error when the server answers a frame with an error, a client is disconnected, or
 *   nothing was relayed.
 */
export async function runRelayLoad(
  pairs: readonly RelayPair[],
  wire: RelayWire,
  serverCpuUs: () => Promise<readonly number[]>,
  options: LoadOptions,
): Promise<LoadResult> {
  let sending = true;
  let measuring = false;
  let messages = 0;
  let failure: Error | undefined;
  const latencyMs = new Samples();

  const fail = (err: Error) => {
    failure ??= err;
    sending = false;
  };
  const receive = (receiver: WebSocket, from: Sender) => {
    receiver.on('message', (data: Buffer) => {
      if (startsWith(data, wire.relayed)) {
        const sentAt = from.delivered();
        if (measuring) {
          messages++;
          latencyMs.push(performance.now() - sentAt);
        }
        if (sending) from.fill();
      } else if (wire.error !== undefined && startsWith(data, wire.error)) {
        fail(new Error(`the server answered with an error: ${data.toString('utf8')}`));
      }
    });
    receiver.on('close', (code: number) => {
      if (sending) fail(new Error(`a client was disconnected (close code ${code})`));
    });
  };

  const senders: Sender[] = [];
  for (const pair of pairs) {
    const fromA = new Sender(pair.a, pair.fromA, options.window);
    const fromB = new Sender(pair.b, pair.fromB, options.window);
    receive(pair.b, fromA);
    receive(pair.a, fromB);
    senders.push(fromA, fromB);
  }
  for (const sender of senders) sender.fill();

  await sleep(options.warmupMs);
  if (failure !== undefined) throw failure;
  const serverStart = await serverCpuUs();
  const generatorStart = process.cpuUsage();
  const startedAt = performance.now();
  measuring = true;

  await sleep(options.measureMs);
  const serverEnd = await serverCpuUs();
  const generator = process.cpuUsage(generatorStart);
  const elapsedMs = performance.now() - startedAt;
  measuring = false;
  sending = false;
  if (failure !== undefined) throw failure;
  if (messages === 0) throw new Error('no frame was relayed in the measured window');

  return {
    messages,
    elapsedMs,
    serverCpuUs: serverEnd.map((us, i) => us - serverStart[i]!),
    generatorCpuUs: generator.user + generator.system,
    latencyMs,
  };
}
