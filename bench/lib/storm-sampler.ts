/**
 * What the server side looks like while its clients come back, sampled every few hundred
 * milliseconds: the listening socket's accept queue (read with `ss`: the kernel's view, so it
 * shows connections the server has not even accepted yet) and the server's own count of
 * accepted connections (its `/metrics`, over one kept-alive connection opened before the
 * crowd arrives). The clients' timestamps say when each was back; these say whether the
 * server or the clients set the pace.
 */
import { execFile } from 'node:child_process';
import { performance } from 'node:perf_hooks';

/** A listening socket's accept queue: connections waiting for `accept()`, and the limit. */
export interface AcceptQueue {
  readonly queued: number;
  readonly limit: number;
}

/**
 * The accept queue of the TCP listener on 127.0.0.1:`port`, read with `ss` (for a listening
 * socket its Recv-Q is the queue and its Send-Q the limit: the listen backlog, capped by
 * `net.core.somaxconn`); undefined when `ss` is missing or nothing listens.
 */
export function acceptQueue(port: number): Promise<AcceptQueue | undefined> {
  return new Promise((resolve) => {
    execFile('ss', ['-Hltn', `sport = :${port}`], { timeout: 2000 }, (err, stdout) => {
      const fields = err === null ? stdout.trim().split(/\s+/) : [];
      const queued = Number(fields[1]);
      const limit = Number(fields[2]);
      resolve(
        fields[0] === 'LISTEN' && Number.isFinite(queued) && Number.isFinite(limit)
          ? { queued, limit }
          : undefined,
      );
    });
  });
}

/** The server's own counters that the storm reads. */
export interface ServerCounters {
  /** WebSocket connections it accepted (`calldocker_connections_opened_total`). */
  readonly accepted: number;
  /** Tokens it refused (`calldocker_auth_failures_total`). */
  readonly authFailures: number;
}

/** Sums every series of the Prometheus counter `name` in `text`, whatever its labels. */
function counterTotal(text: string, name: string): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) {
      total += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return total;
}

/**
 * Reads the server's counters from its `/metrics`.
 * @throws Error naming the cause when it cannot (e.g. its accept queue is full).
 */
export async function serverCounters(port: number, timeoutMs = 5000): Promise<ServerCounters> {
  let text: string;
  try {
    const response = await fetch(`http://127.0.0.1:${port}/metrics`, {
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (!response.ok) throw new Error(`it answered ${response.status}`);
    text = await response.text();
  } catch (err) {
    const cause = (err as { cause?: unknown }).cause ?? err;
    throw new Error(`cannot read the server's /metrics: ${String(cause)}`);
  }
  return {
    accepted: counterTotal(text, 'calldocker_connections_opened_total'),
    authFailures: counterTotal(text, 'calldocker_auth_failures_total'),
  };
}

/** What a {@link RoundSampler} saw. */
export interface Sampled {
  /** The longest accept queue seen and its limit; NaN for both when `ss` gave nothing. */
  readonly acceptQueuePeak: number;
  readonly acceptQueueLimit: number;
  /** The server's accepted-connection count over time (wall-clock ms), oldest first. */
  readonly accepted: ReadonlyArray<readonly [at: number, count: number]>;
}

const now = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Samples a server's accept queue and accepted count until stopped. */
export class RoundSampler {
  private sampling = true;
  private peak = Number.NaN;
  private limit = Number.NaN;
  private readonly accepted: Array<readonly [number, number]> = [];
  private readonly done: Promise<void>;

  /** Starts sampling the server on `port` every `everyMs`. */
  constructor(
    private readonly port: number,
    private readonly everyMs: number,
  ) {
    this.done = this.run();
  }

  private async run(): Promise<void> {
    // One last sample after stop() was called, so the series ends when the round did.
    for (let last = false; !last;) {
      last = !this.sampling;
      const [queue, counters] = await Promise.all([
        acceptQueue(this.port),
        // A sample that cannot be read in time is skipped; the next one tries again.
        serverCounters(this.port, this.everyMs * 5).catch(() => undefined),
      ]);
      if (queue !== undefined) {
        this.peak = Number.isNaN(this.peak) ? queue.queued : Math.max(this.peak, queue.queued);
        this.limit = queue.limit;
      }
      if (counters !== undefined) this.accepted.push([now(), counters.accepted]);
      if (this.sampling) await sleep(this.everyMs);
    }
  }

  /** Stops sampling and returns what was seen. */
  async stop(): Promise<Sampled> {
    this.sampling = false;
    await this.done;
    return { acceptQueuePeak: this.peak, acceptQueueLimit: this.limit, accepted: this.accepted };
  }
}
