/**
 * Raw HTTP/1.1 over a TCP socket, for what `fetch` and `inject()` cannot do: send malformed or
 * oversized requests, trickle a request byte by byte, hold a connection idle, and see when the
 * server closes it.
 */
import { connect, type Socket } from 'node:net';
import type { Teardown } from './helpers.js';

/** One HTTP answer as read off the socket. */
export interface RawAnswer {
  readonly status: number;
  /** Lower-cased names; a repeated header's values joined with `, `. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** Parses the first answer in `text`; throws when there is none. */
export function parseAnswer(text: string): RawAnswer {
  const end = text.indexOf('\r\n\r\n');
  if (end === -1) throw new Error(`no complete answer in ${JSON.stringify(text.slice(0, 200))}`);
  const [statusLine = '', ...lines] = text.slice(0, end).split('\r\n');
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
  if (status === null) throw new Error(`not a status line: ${statusLine}`);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
  }
  const rest = text.slice(end + 4);
  const length = headers['content-length'];
  const body = length === undefined ? rest : rest.slice(0, Number(length));
  return { status: Number(status[1]), headers, body };
}

/** A raw connection: what it sent and received, and when the server closed it. */
export class RawConnection {
  /** Everything received so far. */
  received = '';
  /** When the connection was opened (`performance.now()`). */
  readonly openedAt = performance.now();
  /** Resolves once connected; rejects when the connection fails. */
  readonly connected: Promise<void>;
  /** Resolves with the ms from opening to the close, whoever closed it. */
  readonly closed: Promise<number>;
  private readonly socket: Socket;

  constructor(port: number) {
    this.socket = connect(port, '127.0.0.1');
    this.socket.setEncoding('utf8');
    this.connected = new Promise((resolve, reject) => {
      this.socket.once('connect', resolve).once('error', reject);
    });
    this.socket.on('data', (chunk: string) => {
      this.received += chunk;
    });
    // A reset after the server's answer is a close like any other here.
    this.socket.on('error', () => undefined);
    this.closed = new Promise((resolve) => {
      this.socket.once('close', () => resolve(performance.now() - this.openedAt));
    });
  }

  /** Whether the server has closed the connection. */
  get isClosed(): boolean {
    return this.socket.destroyed || this.socket.readableEnded;
  }

  /** Writes `text` unless the connection is closed; resolves when it is handed to the kernel. */
  write(text: string): Promise<void> {
    if (this.isClosed) return Promise.resolve();
    return new Promise((resolve) => this.socket.write(text, () => resolve()));
  }

  /**
   * Writes `text` a piece of `chunkBytes` at a time, `everyMs` apart, until all is sent or the
   * server closes the connection. Resolves with the number of characters sent.
   */
  async trickle(text: string, everyMs: number, chunkBytes = 1): Promise<number> {
    let sent = 0;
    while (sent < text.length && !this.isClosed) {
      await this.write(text.slice(sent, sent + chunkBytes));
      sent += chunkBytes;
      if (sent < text.length) await new Promise((resolve) => setTimeout(resolve, everyMs));
    }
    return Math.min(sent, text.length);
  }

  /** Resolves with the first complete answer (waiting for more data as needed). */
  async answer(): Promise<RawAnswer> {
    for (;;) {
      const end = this.received.indexOf('\r\n\r\n');
      if (end !== -1) {
        const length = /\r\ncontent-length: *(\d+)/i.exec(this.received.slice(0, end));
        if (length === null || this.received.length >= end + 4 + Number(length[1])) {
          return parseAnswer(this.received);
        }
      }
      if (this.isClosed) return parseAnswer(this.received);
      await new Promise((resolve) => this.socket.once('data', resolve).once('close', resolve));
    }
  }

  /** Closes the connection from this side. */
  destroy(): void {
    this.socket.destroy();
  }
}

/** Opens a raw connection to `127.0.0.1:port`, destroyed at teardown; resolves once connected. */
export async function openRaw(t: Teardown, port: number): Promise<RawConnection> {
  const connection = new RawConnection(port);
  t.teardown(() => connection.destroy());
  await connection.connected;
  return connection;
}

/** Sends `request` on a new connection and resolves with the answer, whether or not it closes. */
export async function rawRequest(t: Teardown, port: number, request: string): Promise<RawAnswer> {
  const connection = await openRaw(t, port);
  await connection.write(request);
  return connection.answer();
}
