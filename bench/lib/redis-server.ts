/**
 * A private `redis-server` for one benchmark run: on a free loopback port, nothing saved to disk
 * (`--save ""`, `--appendonly no`), optionally pinned to a CPU, and stopped at the end. The
 * cluster benchmarks never touch a Redis someone else runs, so they may empty theirs between
 * rounds.
 *
 * It stops by itself too: a watcher shell started with it ends it within a second of the
 * benchmark's process going away, however that goes (a SIGKILL included).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

const START_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;

/**
 * Runs `redis-server` with the arguments after the script's own, and ends it when the process
 * `$1` is gone (checked every second) or when the shell is told to stop (`TERM`).
 */
const WATCHER = [
  'parent=$1; shift',
  'redis-server "$@" & server=$!',
  "trap 'kill $server 2>/dev/null' TERM INT",
  'while kill -0 "$parent" 2>/dev/null && kill -0 $server 2>/dev/null; do sleep 1; done',
  'kill $server 2>/dev/null',
  'wait $server',
].join('\n');

/** The `redis-server` version line, or undefined when it is not installed. */
export function redisServerVersion(): string | undefined {
  const probe = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  if (probe.error !== undefined || probe.status !== 0) return undefined;
  const match = /v=(\S+)/.exec(probe.stdout);
  return match === null ? probe.stdout.trim() : match[1];
}

/** A port free on 127.0.0.1 at the time of asking. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => {
        if (typeof address === 'object' && address !== null) resolve(address.port);
        else reject(new Error('no port'));
      });
    });
  });
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** One numeric field of an `INFO` reply (`name:value` lines). */
function infoField(info: string, name: string): number {
  const match = new RegExp(`^${name}:([\\d.]+)\\r?$`, 'm').exec(info);
  if (match === null) throw new Error(`INFO has no ${name}`);
  return Number(match[1]);
}

/** A running private Redis. */
export class RedisServer {
  private readonly exited: Promise<void>;

  private constructor(
    private readonly child: ChildProcess,
    private readonly client: Redis,
    private readonly dir: string,
    /** Its port on 127.0.0.1. */
    readonly port: number,
  ) {
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
  }

  /** `redis://127.0.0.1:<port>`, for the nodes' `REDIS_URL`. */
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /**
   * Starts a server on a free port, pinned to `cpu` when given, and resolves once it answers.
   * @throws Error when it does not answer within {@link START_TIMEOUT_MS}.
   */
  static async start(cpu: number | undefined): Promise<RedisServer> {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'calldocker-bench-redis-'));
    const args = [
      ...['--port', String(port), '--bind', '127.0.0.1'],
      ...['--save', '', '--appendonly', 'no', '--dir', dir],
      ...['--loglevel', 'warning', '--logfile', ''],
    ];
    const shell = ['-c', WATCHER, 'redis-watcher', String(process.pid), ...args];
    const [command, argv] =
      cpu === undefined ? ['sh', shell] : ['taskset', ['-c', String(cpu), 'sh', ...shell]];
    const child = spawn(command, argv, { stdio: ['ignore', 'ignore', 'inherit'] });
    const client = new Redis(port, '127.0.0.1', {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    // Failures reach the commands that fail; the event would only print them a second time.
    client.on('error', () => undefined);
    const server = new RedisServer(child, client, dir, port);
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      try {
        await client.connect();
        await client.ping();
        return server;
      } catch (err) {
        client.disconnect();
        if (child.exitCode !== null || Date.now() > deadline) {
          await server.stop();
          throw new Error(
            `redis-server did not answer on port ${port}: ` +
              (err instanceof Error ? err.message : String(err)),
          );
        }
        await sleep(100);
      }
    }
  }

  /**
   * Its CPU time so far (user + system, every thread, from `INFO cpu`), in microseconds. The
   * `INFO` itself costs it a few microseconds.
   */
  async cpuTimeUs(): Promise<number> {
    const info = await this.client.info('cpu');
    return (infoField(info, 'used_cpu_user') + infoField(info, 'used_cpu_sys')) * 1e6;
  }

  /** Memory its data takes (`used_memory` of `INFO memory`), in bytes. */
  async usedMemory(): Promise<number> {
    return infoField(await this.client.info('memory'), 'used_memory');
  }

  /** Its resident memory (`used_memory_rss`), in bytes. */
  async rss(): Promise<number> {
    return infoField(await this.client.info('memory'), 'used_memory_rss');
  }

  /** Fields of the hash at `key` (0 when there is none). */
  hashLength(key: string): Promise<number> {
    return this.client.hlen(key);
  }

  /**
   * Empties it between rounds, so that a round's nodes find no node of the last round to reap.
   * This is the benchmark's own server: nobody else's data is in it.
   */
  async flush(): Promise<void> {
    await this.client.flushall();
  }

  /** Stops it (nothing to save) and removes its directory. */
  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      await this.client.call('SHUTDOWN', 'NOSAVE').catch(() => undefined);
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await this.exited;
      clearTimeout(timer);
    }
    this.client.disconnect();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
