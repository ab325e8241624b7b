/**
 * A light client of the reconnect storm: the least a WebSocket client must do to come back
 * after a restart, on a bare `net` socket. A real client (`WebSocketClient` over `ws`) costs
 * its machine more CPU to reconnect than the server spends on it; thousands of them sharing
 * the load generator's one core would measure that core rather than the server. A light client
 * writes a pre-built upgrade request (its token, a fixed `Sec-WebSocket-Key`), checks the `101`
 * and the `Sec-WebSocket-Accept` for that key, scans the server's frames just enough to see
 * `connection_established`, and answers pings with a masked pong.
 *
 * When to retry is not its own: after every close or failed attempt it asks the client
 * library's real {@link FullJitterPolicy} with the same {@link ReconnectContext} the library
 * builds (retries since the link was last up, time since then, close code, reason), and gives
 * up exactly when the policy says so. An attempt times out like the library's (its default
 * `connectTimeoutMs`), and a refused token (4001) or a forbidden client (4003) ends it, as it
 * ends a `WebSocketClient` without `getToken`.
 *
 * Transpiled alone next to `dist/` with `storm-load.ts` (see `storm-fleet.ts`): its relative
 * import of `client-lib/` is the built library.
 */
import { createHash, randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { FullJitterPolicy } from '../../client-lib/reconnect-policy.js';

/** The library's default `connectTimeoutMs` (`client-lib/websocket-client.ts`). */
export const LIBRARY_CONNECT_TIMEOUT_MS = 10_000;

/** Close codes that end a client holding a fixed token (no `getToken`): refused, forbidden. */
const UNAUTHORIZED = 4001;
const FORBIDDEN = 4003;
/** What a socket that closed without a close frame reports, as in the library. */
const ABNORMAL_CLOSE = 1006;
/** A close frame without a code. */
const NO_STATUS = 1005;

/** Every light client sends this key; the answer the server must give is computed once. */
const KEY = randomBytes(16).toString('base64');
const ACCEPT = createHash('sha1')
  .update(`${KEY}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`)
  .digest('base64');
const ESTABLISHED = Buffer.from('{"type":"connection_established"');
const HEADER_END = Buffer.from('\r\n\r\n');

const OP_TEXT = 0x1;
const OP_CLOSE = 0x8;
const OP_PING = 0x9;
const OP_PONG = 0xa;

/** What became of one connection attempt. */
export type AttemptOutcome = 'upgraded' | 'refused' | 'other';

/** Where a light client reports what happens to it (the load process's round). */
export interface LightObserver {
  /** A socket was opened (a connection attempt). */
  attempt(n: number): void;
  /** The attempt's outcome, once: upgraded, refused by the kernel, or failed otherwise. */
  outcome(n: number, outcome: AttemptOutcome): void;
  /** The link or an attempt closed, with its close code (1006 without a close frame). */
  disconnected(n: number, code: number): void;
  /** `connection_established` arrived. */
  established(n: number): void;
  /** The policy returned null, or the server refused the token: the client stopped. */
  failed(n: number): void;
}

/** Builds the upgrade request for `token` to the server on 127.0.0.1:`port`. */
export function upgradeRequest(port: number, token: string): Buffer {
  return Buffer.from(
    `GET /?token=${encodeURIComponent(token)} HTTP/1.1\r\n` +
      `Host: 127.0.0.1:${port}\r\n` +
      'Upgrade: websocket\r\nConnection: Upgrade\r\n' +
      `Sec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    'latin1',
  );
}

/** Whether the response head `head` is a `101` answering {@link KEY}. */
function isUpgrade(head: string): boolean {
  const lines = head.split('\r\n');
  if (!/^HTTP\/1\.1 101 /.test(lines[0] ?? '')) return false;
  return lines.some((line) => {
    const colon = line.indexOf(':');
    return (
      colon > 0 &&
      line.slice(0, colon).trim().toLowerCase() === 'sec-websocket-accept' &&
      line.slice(colon + 1).trim() === ACCEPT
    );
  });
}

/** A masked control frame (clients must mask) with `payload` (at most 125 bytes). */
function maskedFrame(opcode: number, payload: Buffer): Buffer {
  const mask = randomBytes(4);
  const frame = Buffer.allocUnsafe(6 + payload.length);
  frame[0] = 0x80 | opcode;
  frame[1] = 0x80 | payload.length;
  mask.copy(frame, 2);
  for (let i = 0; i < payload.length; i++) frame[6 + i] = payload[i]! ^ mask[i & 3]!;
  return frame;
}

/** One light client: connects, and reconnects through the library's policy until it gives up. */
export class LightClient {
  private socket: Socket | undefined;
  private connected = false;
  private stopped = false;
  private retryCount = 0;
  private downSince = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private connectTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly policy = new FullJitterPolicy();
  private waiter: { resolve: () => void; reject: (err: Error) => void } | undefined;

  constructor(
    /** Its number in the load process, for the observer. */
    private readonly n: number,
    private readonly port: number,
    private readonly request: Buffer,
    private readonly observer: LightObserver,
  ) {}

  isConnected(): boolean {
    return this.connected;
  }

  /** Connects (retrying through the policy); resolves at `connection_established`. */
  connect(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.waiter = { resolve, reject };
      this.open();
    });
  }

  private open(): void {
    const socket = connect({ port: this.port, host: '127.0.0.1', noDelay: true });
    this.socket = socket;
    this.observer.attempt(this.n);
    let outcome: AttemptOutcome | undefined;
    const settle = (o: AttemptOutcome) => {
      if (outcome !== undefined) return;
      outcome = o;
      this.observer.outcome(this.n, o);
    };
    let upgraded = false;
    let buffered: Buffer | undefined;
    let closeCode = ABNORMAL_CLOSE;
    let closeReason = '';
    const current = () => this.socket === socket;

    this.connectTimer = setTimeout(() => {
      if (!current() || this.connected) return;
      this.socket = undefined;
      socket.destroy();
      this.onClose(ABNORMAL_CLOSE, 'connect timeout');
    }, LIBRARY_CONNECT_TIMEOUT_MS);

    socket.on('connect', () => socket.write(this.request));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNREFUSED') settle('refused');
    });
    socket.on('close', () => {
      settle('other');
      if (current()) this.onClose(closeCode, closeReason);
    });
    socket.on('data', (chunk: Buffer) => {
      let data = buffered === undefined ? chunk : Buffer.concat([buffered, chunk]);
      buffered = undefined;
      if (!upgraded) {
        const end = data.indexOf(HEADER_END);
        if (end < 0) {
          buffered = data;
          return;
        }
        if (!isUpgrade(data.toString('latin1', 0, end))) {
          socket.destroy();
          return;
        }
        upgraded = true;
        settle('upgraded');
        data = data.subarray(end + HEADER_END.length);
      }
      // Frames: the server's are never masked and never fragmented.
      let at = 0;
      while (data.length - at >= 2) {
        const opcode = data[at]! & 0x0f;
        let length = data[at + 1]! & 0x7f;
        let head = 2;
        if (length === 126) {
          if (data.length - at < 4) break;
          length = data.readUInt16BE(at + 2);
          head = 4;
        } else if (length === 127) {
          if (data.length - at < 10) break;
          length = Number(data.readBigUInt64BE(at + 2));
          head = 10;
        }
        if (data.length - at < head + length) break;
        const payload = data.subarray(at + head, at + head + length);
        at += head + length;
        if (opcode === OP_TEXT) {
          if (
            !this.connected &&
            current() &&
            payload.subarray(0, ESTABLISHED.length).equals(ESTABLISHED)
          ) {
            this.onEstablished();
          }
        } else if (opcode === OP_PING) {
          socket.write(maskedFrame(OP_PONG, payload));
        } else if (opcode === OP_CLOSE) {
          closeCode = payload.length >= 2 ? payload.readUInt16BE(0) : NO_STATUS;
          closeReason = payload.toString('utf8', 2);
          socket.destroy();
          return;
        }
      }
      if (at < data.length) buffered = Buffer.from(data.subarray(at));
    });
  }

  private onEstablished(): void {
    clearTimeout(this.connectTimer);
    this.connected = true;
    this.retryCount = 0;
    this.observer.established(this.n);
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.resolve();
  }

  /** As the library's `onClose`: refused for good, or the policy's next delay (or null). */
  private onClose(code: number, reason: string): void {
    this.socket = undefined;
    clearTimeout(this.connectTimer);
    const wasConnected = this.connected;
    this.connected = false;
    this.observer.disconnected(this.n, code);
    if (code === UNAUTHORIZED || code === FORBIDDEN) {
      this.fail(`refused by the server (${code} ${reason})`);
      return;
    }
    if (wasConnected) this.downSince = Date.now();
    const delay = this.policy.nextRetryDelayMs({
      retryCount: this.retryCount,
      elapsedMs: Date.now() - (this.downSince || Date.now()),
      closeCode: code,
      reason,
    });
    if (delay === null) {
      this.fail(`gave up after ${this.retryCount} retries`);
      return;
    }
    if (this.downSince === 0) this.downSince = Date.now();
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.retryCount++;
      this.open();
    }, delay);
  }

  private fail(message: string): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.observer.failed(this.n);
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.reject(new Error(message));
  }

  /** Whether it stopped for good (gave up or was refused). */
  hasStopped(): boolean {
    return this.stopped;
  }
}
