/**
 * Errors the client raises. `code` is one of the server's error codes (when the server
 * refused a request) or one of the client's own reasons.
 */
import type { ErrorCode } from './constants.js';

/** Reasons the client itself fails a call. */
export const ClientErrorReason = {
  /** No answer to a request within its timeout. */
  Timeout: 'timeout',
  /** Not connected, and the client was told not to queue. */
  NotConnected: 'not_connected',
  /** Not connected, and the offline queue is full. */
  QueueFull: 'queue_full',
  /** The connection dropped before the request was answered. */
  Disconnected: 'disconnected',
  /** The server refused the token (4001) and no `getToken` could provide a new one. */
  Unauthorized: 'unauthorized',
  /** The server refused the principal (close 4003, e.g. a disabled company). */
  Refused: 'refused',
  /** The reconnect policy gave up. */
  GaveUp: 'gave_up',
  /** `disconnect()` was called. */
  Closed: 'closed',
} as const;
export type ClientErrorReason = (typeof ClientErrorReason)[keyof typeof ClientErrorReason];

/** An error from the server (`error` frame) or from the client itself. */
export class CallDockerError extends Error {
  override readonly name = 'CallDockerError';
  constructor(
    /** A server {@link ErrorCode} or a {@link ClientErrorReason}. */
    readonly code: ErrorCode | ClientErrorReason,
    message: string,
    /** The close code, when the error comes from the socket closing. */
    readonly closeCode?: number,
    /**
     * `server` when the code is the server's answer (an `error` frame), `client` when the client
     * raised it itself. Tells apart the codes both use: `queue_full` is the company's call queue
     * when it comes from the server, this client's offline queue when it comes from the client.
     */
    readonly source: 'server' | 'client' = 'client',
  ) {
    super(message);
  }

  static timeout(type: string, ms: number) {
    return new CallDockerError(ClientErrorReason.Timeout, `${type} not answered within ${ms} ms`);
  }
  static notConnected() {
    return new CallDockerError(ClientErrorReason.NotConnected, 'not connected');
  }
  static queueFull(max: number) {
    return new CallDockerError(ClientErrorReason.QueueFull, `offline queue full (${max} messages)`);
  }
  static disconnected() {
    return new CallDockerError(ClientErrorReason.Disconnected, 'connection lost before an answer');
  }
}
