/**
 * The control channel between the reconnect-storm benchmark and its load processes: Node's IPC
 * channel, like the servers under test (`servers/ipc.ts`), so steering the clients adds nothing
 * to the WebSocket traffic being measured. Types only: both sides import it with `import type`,
 * so the load process, transpiled alone, needs nothing of it at run time.
 *
 * Times are wall-clock milliseconds (`performance.timeOrigin + performance.now()`), the one
 * clock every process shares, so a load process's timestamps compare with the moment the
 * benchmark killed the server.
 */

/** Which clients a load process runs, and where they connect. */
export interface StormLoadSpec {
  /** The signaling server's port on 127.0.0.1; the same before and after the restart. */
  readonly port: number;
  /** The HS256 secret of both servers, for the clients' tokens. */
  readonly secret: string;
  /** Clients of the whole fleet, numbered 0..total-1. */
  readonly total: number;
  /** This process runs the clients whose number modulo `processes` is `index`. */
  readonly index: number;
  readonly processes: number;
  /** Client n belongs to company n mod `companies`; clients 0..companies-1 are its agents. */
  readonly companies: number;
  /**
   * Clients of the fleet that are real `WebSocketClient`s (every `total / realClients`-th); the
   * rest are light clients (`storm-light-client.ts`).
   */
  readonly realClients: number;
  /** Connection attempts of the initial connect under way at once, in this process. */
  readonly connectConcurrency: number;
}

/** Requests from the benchmark to a load process. */
export type ToLoad =
  /** Create the clients and connect them all (answered with `connected`). */
  | { readonly type: 'connect'; readonly spec: StormLoadSpec }
  /** Forget the last round and start recording drops and returns (answered with `armed`). */
  | { readonly type: 'arm' }
  /** How many clients are back so far, and connected now (answered with `progress`). */
  | { readonly type: 'progress' }
  /** This round's per-client figures (answered with `result`). */
  | { readonly type: 'collect' }
  /** Exit now; the server sees the sockets close. */
  | { readonly type: 'stop' };

/** What one load process recorded in one round, from `arm` to `collect`. */
export interface StormLoadResult {
  /** Per client: whether it is a light client (else a real `WebSocketClient`). */
  readonly light: readonly boolean[];
  /** Per client: when it saw the drop, or null if it did not. */
  readonly droppedAt: ReadonlyArray<number | null>;
  /** Per client: its first `connection_established` after the drop, or null if none yet. */
  readonly backAt: ReadonlyArray<number | null>;
  /** Per client: when it opened its first socket after the drop, or null if it did not. */
  readonly firstAttemptAt: ReadonlyArray<number | null>;
  /** Per client: when it opened the socket that brought it back, or null. */
  readonly lastAttemptAt: ReadonlyArray<number | null>;
  /** Per client: sockets it opened after the drop (connection attempts). */
  readonly attempts: readonly number[];
  /** Attempts refused by the kernel (ECONNREFUSED: nothing listening on the port). */
  readonly refused: number;
  /** Attempts whose WebSocket upgrade completed. */
  readonly upgraded: number;
  /** Attempts that failed some other way (reset, timeout, a close before the upgrade). */
  readonly otherFailures: number;
  /**
   * Per client: whether it gave up (a real client's `failed` event; a light client's policy
   * returning null, or a refused token).
   */
  readonly gaveUp: readonly boolean[];
  /** Close codes other than 1006 seen by clients, with counts (4001: a refused token). */
  readonly closeCodes: Readonly<Record<string, number>>;
  /** CPU time of the load process since `arm`, in microseconds. */
  readonly cpuUs: number;
  /**
   * Its event loop's delay since `arm` (p99 and max, ms): how late it was to notice drops, fire
   * retry timers and read answers. Large values mean the clients, not the server, were slow.
   */
  readonly loopDelayP99Ms: number;
  readonly loopDelayMaxMs: number;
}

/** Reports from a load process to the benchmark. */
export type FromLoad =
  /** Listening for requests (sent once, at start-up). */
  | { readonly type: 'ready' }
  | {
      readonly type: 'connected';
      /** Clients connected and authenticated. */
      readonly clients: number;
      /** Error messages of clients that could not connect (none when all did). */
      readonly errors: readonly string[];
      /**
       * Real clients and light clients in the share, and the CPU time (µs) connecting each kind
       * cost the process: the real ones were connected first, then the light ones.
       */
      readonly real: number;
      readonly realCpuUs: number;
      readonly light: number;
      readonly lightCpuUs: number;
    }
  | { readonly type: 'armed' }
  | {
      readonly type: 'progress';
      /** Clients back since the round was armed, and clients that gave up. */
      readonly back: number;
      readonly gaveUp: number;
      /** Clients connected right now. */
      readonly connected: number;
    }
  | ({ readonly type: 'result' } & StormLoadResult);

/** The type of each reply. */
export type FromLoadType = FromLoad['type'];
