/**
 * `WebSocketClient`: the typed client of the CallDocker signaling protocol (v1).
 *
 * One state machine (`setState` is the only writer), typed events derived from the protocol
 * schemas, promise-returning requests answered by `ack`/`error`, reconnects through a
 * replaceable policy, token refresh through `getToken`, and an application-level heartbeat
 * that notices a dead link within two intervals. No runtime dependencies.
 */
import { CloseCode, type ErrorCode } from './constants.js';
import { CallDockerError, ClientErrorReason } from './errors.js';
import { TypedEmitter } from './events.js';
import type {
  AckResultOf,
  AgentStatus,
  CallType,
  ClientMessage,
  ServerMessage,
  ServerMessageOf,
  ServerMessageType,
} from './protocol.js';
import { FullJitterPolicy, type ReconnectPolicy } from './reconnect-policy.js';

/** Where the connection is. Only {@link WebSocketClient} changes it, through one method. */
export enum ConnectionState {
  /** Not connected and not trying (initial, after `disconnect()`, or after giving up). */
  Disconnected = 'disconnected',
  /** First connection attempt under way. */
  Connecting = 'connecting',
  /** `connection_established` received. */
  Connected = 'connected',
  /** The link dropped; waiting to retry or retrying. */
  Reconnecting = 'reconnecting',
}

/**
 * An event handler slot. Declared through a method signature because methods are bivariant in
 * their parameters: the browser's and `ws`'s slots take their own (narrower) event classes, and
 * with plain function types neither would type-check as {@link WebSocketLike}.
 */
type HandlerSlot<E> = { handle(ev: E): void }['handle'] | null;

/** The subset of the WebSocket API the client uses (browsers' and `ws`'s both fit). */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: HandlerSlot<unknown>;
  onmessage: HandlerSlot<{ data: unknown }>;
  onclose: HandlerSlot<{ code: number; reason: string }>;
  onerror: HandlerSlot<unknown>;
}
/** A WebSocket constructor (the browser's `WebSocket`, or `ws` in Node). */
export type WebSocketFactory = new (url: string) => WebSocketLike;

/** A logger; the default is silent. */
export interface ClientLogger {
  debug(message: string, data?: unknown): void;
  warn(message: string, data?: unknown): void;
}

/** Options of {@link WebSocketClient}. */
export interface WebSocketClientOptions {
  /** The signaling server, e.g. `ws://localhost:8081/`. */
  url: string;
  /** A token to connect with. Either this or `getToken` is required. */
  token?: string;
  /**
   * Called for a token before each connection when `token` is absent or close to expiry,
   * before the token's `exp`, and after the server refuses a token (4001). Lets the client
   * reconnect on its own after its token expired.
   */
  getToken?: () => string | Promise<string>;
  /** The WebSocket implementation; defaults to `globalThis.WebSocket`. */
  WebSocket?: WebSocketFactory;
  /** When to retry after a drop; defaults to full-jitter backoff (see {@link FullJitterPolicy}). */
  reconnectPolicy?: ReconnectPolicy;
  /** How long a request waits for its ack. Default 10000 ms. */
  requestTimeoutMs?: number;
  /**
   * How long one attempt may take from opening the socket to `connection_established` before
   * it is abandoned as a failed attempt (a hung TCP connect, a proxy that never upgrades).
   * Default 10000 ms.
   */
  connectTimeoutMs?: number;
  /** What `send` does while not connected: queue (bounded) or reject. Default 'queue'. */
  offline?: 'queue' | 'reject';
  /** Bound of the offline queue. Default 100 messages. */
  maxQueuedMessages?: number;
  /** Fetch a new token this long before `exp`. Default 60000 ms. */
  tokenRefreshMarginMs?: number;
  /** Where the client reports what it does (reconnects, ignored frames); silent by default. */
  logger?: ClientLogger;
}

/** Context of the `state` event. */
export interface StateChange {
  newState: ConnectionState;
  oldState: ConnectionState;
}

/** Context of the `disconnected` event. */
export interface DisconnectInfo {
  code: number;
  reason: string;
  /** Whether the client will try again (per the close code and the reconnect policy). */
  willReconnect: boolean;
}

/** Every event: the client's own, and one per server message type. */
export type ClientEvents = {
  state: StateChange;
  disconnected: DisconnectInfo;
  /** Any server message, before its typed event. */
  message: ServerMessage;
  /** The client stopped for good: token refused with no `getToken`, 4003, or the policy gave up. */
  failed: CallDockerError;
} & { [K in ServerMessageType]: ServerMessageOf<K> };

/** What an `ack` carries besides its type and id. */
export type AckResult = Record<string, unknown>;

type Outgoing = ClientMessage | (Record<string, unknown> & { type: string });

interface Pending {
  type: string;
  resolve: (result: AckResult) => void;
  reject: (err: CallDockerError) => void;
  timer: ReturnType<typeof setTimeout>;
  /** The frame while it waits in the offline queue; undefined once it is on the wire. */
  queued: string | undefined;
}

const SILENT: ClientLogger = { debug() {}, warn() {} };
const OPEN = 1;
const DEFAULT_HEARTBEAT_MS = 25_000;
/** What a socket that never opened reports; also used when no socket could be made. */
const ABNORMAL_CLOSE = 1006;
/** The longest delay timers honour (2^31 - 1 ms); longer ones fire at once. */
const MAX_TIMER_MS = 2_147_483_647;

/** Reads `exp` (seconds) from a JWT without verifying it; undefined if absent. */
export function tokenExpiry(token: string): number | undefined {
  try {
    const part = token.split('.')[1] ?? '';
    const json = atob(part.replace(/-/g, '+').replace(/_/g, '/'));
    const exp = (JSON.parse(json) as { exp?: unknown }).exp;
    return typeof exp === 'number' ? exp : undefined;
  } catch {
    return undefined;
  }
}

/** The signaling client. */
export class WebSocketClient extends TypedEmitter<ClientEvents> {
  private _state = ConnectionState.Disconnected;
  private socket: WebSocketLike | undefined;
  /** Bumped for each socket, so callbacks of a replaced socket are ignored. */
  private transportId = 0;
  private token: string | undefined;
  private readonly opts: Required<Omit<WebSocketClientOptions, 'token' | 'getToken'>> &
    Pick<WebSocketClientOptions, 'getToken'>;
  private readonly pending = new Map<string, Pending>();
  private readonly queue: string[] = [];
  private seq = 0;
  private retryCount = 0;
  private downSince = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private heartbeatTimer: ReturnType<typeof setInterval> | undefined;
  private refreshTimer: ReturnType<typeof setTimeout> | undefined;
  private connectTimer: ReturnType<typeof setTimeout> | undefined;
  /** Whether a frame arrived since the last heartbeat tick. */
  private heard = false;
  private established: ServerMessageOf<'connection_established'> | undefined;
  private waiters: Array<{
    resolve: (m: ServerMessageOf<'connection_established'>) => void;
    reject: (e: CallDockerError) => void;
  }> = [];
  private detachEnvironment: (() => void) | undefined;

  constructor(options: WebSocketClientOptions) {
    super();
    const WS = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketFactory }).WebSocket;
    if (WS === undefined)
      throw new TypeError('no WebSocket implementation: pass options.WebSocket');
    if (options.token === undefined && options.getToken === undefined) {
      throw new TypeError('pass options.token or options.getToken');
    }
    this.token = options.token;
    this.opts = {
      url: options.url,
      WebSocket: WS,
      reconnectPolicy: options.reconnectPolicy ?? new FullJitterPolicy(),
      requestTimeoutMs: options.requestTimeoutMs ?? 10_000,
      connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
      offline: options.offline ?? 'queue',
      maxQueuedMessages: options.maxQueuedMessages ?? 100,
      tokenRefreshMarginMs: options.tokenRefreshMarginMs ?? 60_000,
      logger: options.logger ?? SILENT,
      getToken: options.getToken,
    };
  }

  /** The current {@link ConnectionState}. */
  get state(): ConnectionState {
    return this._state;
  }

  /** The server's `connection_established` of the current connection (user, ICE servers...). */
  get session(): ServerMessageOf<'connection_established'> | undefined {
    return this.established;
  }

  /** Whether the client is connected and authenticated. */
  isConnected(): boolean {
    return this._state === ConnectionState.Connected;
  }

  /**
   * Connects (and keeps reconnecting after drops until {@link disconnect}). Resolves with
   * `connection_established`; rejects when the server refuses the token and no `getToken`
   * can help, or the reconnect policy gives up.
   */
  connect(): Promise<ServerMessageOf<'connection_established'>> {
    if (this._state === ConnectionState.Connected && this.established !== undefined) {
      return Promise.resolve(this.established);
    }
    const promise = new Promise<ServerMessageOf<'connection_established'>>((resolve, reject) => {
      this.waiters.push({ resolve, reject });
    });
    if (this._state === ConnectionState.Disconnected) {
      this.retryCount = 0;
      this.downSince = 0; // a new session: the policy's elapsedMs counts from its first drop
      this.setState(ConnectionState.Connecting);
      this.attachEnvironment();
      void this.open();
    }
    return promise;
  }

  /** Closes the connection for good (no reconnect); pending requests are rejected. */
  disconnect(): void {
    this.stopTimers();
    this.detachEnvironment?.();
    this.detachEnvironment = undefined;
    const socket = this.socket;
    this.socket = undefined;
    this.established = undefined;
    this.transportId++;
    socket?.close(CloseCode.Normal, 'client disconnect');
    this.failPending(new CallDockerError(ClientErrorReason.Closed, 'disconnected by the client'));
    this.queue.length = 0;
    this.rejectWaiters(new CallDockerError(ClientErrorReason.Closed, 'disconnected by the client'));
    this.setState(ConnectionState.Disconnected);
  }

  /**
   * Sends a message as is. While not connected it is queued (bounded) or refused, per the
   * `offline` option; it is never dropped silently.
   * @throws CallDockerError `not_connected` or `queue_full`.
   */
  send(message: Outgoing): void {
    this.transmit(JSON.stringify(message));
  }

  /**
   * Sends a message with a fresh `id` and resolves with the server's `ack` fields, or rejects
   * with a {@link CallDockerError} carrying the server's code, `timeout` or `disconnected`.
   */
  request<T extends AckResult = AckResult>(
    message: Outgoing,
    timeoutMs = this.opts.requestTimeoutMs,
  ): Promise<T> {
    const id = `c${++this.seq}`;
    const data = JSON.stringify({ ...message, id });
    return new Promise<T>((resolve, reject) => {
      const pending: Pending = {
        type: message.type,
        resolve: resolve as (r: AckResult) => void,
        reject,
        timer: setTimeout(() => {
          this.pending.delete(id);
          // Reported as failed, so it must not reach the server later from the queue.
          if (pending.queued !== undefined) this.unqueue(pending.queued);
          reject(CallDockerError.timeout(message.type, timeoutMs));
        }, timeoutMs),
        queued: undefined,
      };
      this.pending.set(id, pending);
      try {
        if (!this.transmit(data)) pending.queued = data;
      } catch (err) {
        clearTimeout(pending.timer);
        this.pending.delete(id);
        reject(err as CallDockerError);
      }
    });
  }

  // --- rooms and presence ---------------------------------------------------------------------

  /** Sends `join_room {roomId}`; resolves when the server acks. */
  joinRoom(roomId: string) {
    return this.request<{ roomId: string }>({ type: 'join_room', roomId });
  }
  /** Sends `leave_room {roomId}`; resolves when the server acks. */
  leaveRoom(roomId: string) {
    return this.request<{ roomId: string }>({ type: 'leave_room', roomId });
  }
  /** Sends `agent_status {status}` (agents and admins). */
  updateAgentStatus(status: AgentStatus) {
    return this.request<{ status: AgentStatus }>({ type: 'agent_status', status });
  }

  // --- calls -----------------------------------------------------------------------------------

  /**
   * Sends `call_request`; resolves with
   * `{callId, status: 'queued' | 'ringing', position?, estimatedWaitSec?}`.
   */
  requestCall(callType: CallType, opts: { agentId?: string; purpose?: string } = {}) {
    return this.request<AckResultOf<'call_request'>>({
      type: 'call_request',
      callType,
      ...opts,
    });
  }
  /**
   * Sends `queue_list {offset?, limit?}` (agents and admins): a page of the company queue
   * beyond what `queue_updated` carries; resolves with `{calls, total}`.
   */
  listQueue(page: { offset?: number; limit?: number } = {}) {
    return this.request<AckResultOf<'queue_list'>>({ type: 'queue_list', ...page });
  }
  /** Sends `call_cancel {callId}` (visitor, queued or ringing call). */
  cancelCall(callId: string) {
    return this.request({ type: 'call_cancel', callId });
  }
  /** Sends `call_accept {callId}` (agent). */
  acceptCall(callId: string) {
    return this.request({ type: 'call_accept', callId });
  }
  /** Sends `call_decline {callId}` (agent, a call ringing it). */
  declineCall(callId: string) {
    return this.request({ type: 'call_decline', callId });
  }
  /** Sends `call_ended {callId, reason?}` (either participant). */
  endCall(callId: string, reason?: string) {
    return this.request({
      type: 'call_ended',
      callId,
      ...(reason !== undefined ? { reason } : {}),
    });
  }
  /** The demo's name for {@link acceptCall}: sends `call_accept {callId}`. */
  notifyCallStarted(callId: string) {
    return this.acceptCall(callId);
  }
  /** The demo's name for {@link endCall}: sends `call_ended {callId, reason?}`. */
  notifyCallEnded(callId: string, reason?: string) {
    return this.endCall(callId, reason);
  }

  // --- relay (fire and forget: queued while reconnecting) -------------------------------------

  /** Sends `webrtc_offer {callId, offer}` to the other participant. */
  sendWebRTCOffer(callId: string, offer: { type: 'offer'; sdp: string }, targetUserId?: string) {
    this.send({
      type: 'webrtc_offer',
      callId,
      offer: { type: 'offer', sdp: offer.sdp },
      ...target(targetUserId),
    });
  }
  /** Sends `webrtc_answer {callId, answer}` to the other participant. */
  sendWebRTCAnswer(callId: string, answer: { type: 'answer'; sdp: string }, targetUserId?: string) {
    this.send({
      type: 'webrtc_answer',
      callId,
      answer: { type: 'answer', sdp: answer.sdp },
      ...target(targetUserId),
    });
  }
  /** Sends `ice_candidate {callId, candidate}` (null: end of candidates). */
  sendICECandidate(
    callId: string,
    candidate: {
      candidate: string;
      sdpMid?: string | null;
      sdpMLineIndex?: number | null;
      usernameFragment?: string | null;
    } | null,
    targetUserId?: string,
  ) {
    this.send({ type: 'ice_candidate', callId, candidate, ...target(targetUserId) });
  }
  /** Sends `media_state {callId, audio, video, screen}`. */
  sendMediaState(callId: string, state: { audio: boolean; video: boolean; screen: boolean }) {
    this.send({
      type: 'media_state',
      callId,
      audio: state.audio,
      video: state.video,
      screen: state.screen,
    });
  }
  /** Sends `chat_message {callId, text}`; resolves on the server's ack. */
  sendChat(callId: string, text: string) {
    return this.request({ type: 'chat_message', callId, text });
  }

  // --- internals --------------------------------------------------------------------------------

  /**
   * Sends `data` now if connected, else queues it (or refuses, per `offline`).
   * @returns whether it went on the wire now.
   */
  private transmit(data: string): boolean {
    if (this._state === ConnectionState.Connected && this.socket?.readyState === OPEN) {
      this.socket.send(data);
      return true;
    }
    if (this.opts.offline === 'reject') throw CallDockerError.notConnected();
    if (this.queue.length >= this.opts.maxQueuedMessages) {
      throw CallDockerError.queueFull(this.opts.maxQueuedMessages);
    }
    this.queue.push(data);
    return false;
  }

  private unqueue(data: string): void {
    const index = this.queue.indexOf(data);
    if (index >= 0) this.queue.splice(index, 1);
  }

  private setState(newState: ConnectionState): void {
    const oldState = this._state;
    if (oldState === newState) return;
    this._state = newState;
    this.emit('state', { newState, oldState });
  }

  private async resolveToken(): Promise<string> {
    const { getToken } = this.opts;
    const exp = this.token === undefined ? undefined : tokenExpiry(this.token);
    const stale = exp !== undefined && exp * 1000 - this.opts.tokenRefreshMarginMs <= Date.now();
    if (getToken !== undefined && (this.token === undefined || stale))
      this.token = await getToken();
    return this.token ?? '';
  }

  private async open(): Promise<void> {
    const id = ++this.transportId;
    let token: string;
    try {
      token = await this.resolveToken();
    } catch (err) {
      this.opts.logger.warn('getToken failed', err);
      // Through the policy like a failed socket, so a broken getToken is not asked in a loop.
      if (id === this.transportId) this.onClose(ABNORMAL_CLOSE, 'getToken failed');
      return;
    }
    if (id !== this.transportId) return;
    const sep = this.opts.url.includes('?') ? '&' : '?';
    let socket: WebSocketLike;
    try {
      socket = new this.opts.WebSocket(`${this.opts.url}${sep}token=${encodeURIComponent(token)}`);
    } catch (err) {
      this.opts.logger.warn('cannot open socket', err);
      this.onClose(ABNORMAL_CLOSE, 'cannot open socket');
      return;
    }
    this.socket = socket;
    clearTimeout(this.connectTimer);
    this.connectTimer = setTimeout(() => {
      if (id !== this.transportId || this.established !== undefined) return;
      this.opts.logger.warn('connect attempt timed out');
      this.transportId++;
      socket.close(CloseCode.Normal, 'connect timeout');
      this.onClose(ABNORMAL_CLOSE, 'connect timeout');
    }, this.opts.connectTimeoutMs);
    socket.onmessage = (ev) => {
      if (id === this.transportId) this.onMessage(ev.data);
    };
    socket.onclose = (ev) => {
      if (id === this.transportId) this.onClose(ev.code, ev.reason);
    };
    socket.onerror = () => undefined; // a close event always follows
  }

  private onMessage(data: unknown): void {
    this.heard = true;
    let message: ServerMessage;
    try {
      const value: unknown = JSON.parse(String(data));
      if (
        typeof value !== 'object' ||
        value === null ||
        typeof (value as { type?: unknown }).type !== 'string'
      ) {
        throw new Error('not a message');
      }
      message = value as ServerMessage;
    } catch {
      this.opts.logger.warn('ignored a frame that is not a protocol message');
      return;
    }
    if (message.type === 'connection_established') this.onEstablished(message);
    else if (message.type === 'ack' || message.type === 'error') this.settle(message);
    this.emit('message', message);
    this.emit(message.type, message as never);
  }

  private onEstablished(message: ServerMessageOf<'connection_established'>): void {
    clearTimeout(this.connectTimer);
    this.established = message;
    this.retryCount = 0;
    this.setState(ConnectionState.Connected);
    this.startHeartbeat(message.heartbeatIntervalMs || DEFAULT_HEARTBEAT_MS);
    this.scheduleTokenRefresh();
    for (const data of this.queue.splice(0)) this.socket?.send(data);
    for (const pending of this.pending.values()) pending.queued = undefined;
    const waiters = this.waiters.splice(0);
    for (const w of waiters) w.resolve(message);
  }

  private settle(message: ServerMessageOf<'ack'> | ServerMessageOf<'error'>): void {
    const id = message.id;
    const pending = id === undefined ? undefined : this.pending.get(id);
    if (pending === undefined) return; // unsolicited errors reach listeners as the `error` event
    this.pending.delete(id!);
    clearTimeout(pending.timer);
    if (message.type === 'ack') {
      const { type: _type, id: _id, ...result } = message as Record<string, unknown>;
      pending.resolve(result);
    } else {
      pending.reject(
        new CallDockerError(message.code as ErrorCode, message.message, undefined, 'server'),
      );
    }
  }

  private onClose(code: number, reason: string): void {
    this.socket = undefined;
    this.established = undefined;
    this.stopTimers();
    // Only requests on the wire are lost; queued ones wait for the next connection.
    this.failPending(CallDockerError.disconnected(), true);
    const refused = code === CloseCode.Unauthorized || code === CloseCode.Forbidden;
    if (refused && (code === CloseCode.Forbidden || this.opts.getToken === undefined)) {
      const err = new CallDockerError(
        code === CloseCode.Unauthorized
          ? ClientErrorReason.Unauthorized
          : ClientErrorReason.Refused,
        reason || 'refused by the server',
        code,
      );
      this.emit('disconnected', { code, reason, willReconnect: false });
      this.giveUp(err);
      return;
    }
    // A refused token is discarded, so the next attempt asks getToken for a new one.
    if (code === CloseCode.Unauthorized) this.token = undefined;
    if (this._state === ConnectionState.Connected) this.downSince = Date.now();
    const delay = this.opts.reconnectPolicy.nextRetryDelayMs({
      retryCount: this.retryCount,
      elapsedMs: Date.now() - (this.downSince || Date.now()),
      closeCode: code,
      reason,
    });
    this.emit('disconnected', { code, reason, willReconnect: delay !== null });
    if (delay === null) {
      this.giveUp(
        new CallDockerError(
          ClientErrorReason.GaveUp,
          `gave up after ${this.retryCount} retries`,
          code,
        ),
      );
      return;
    }
    this.scheduleRetry(delay, reason);
  }

  private scheduleRetry(delayMs: number, why: string): void {
    if (this.downSince === 0) this.downSince = Date.now();
    this.setState(ConnectionState.Reconnecting);
    this.opts.logger.debug('reconnecting', { delayMs, why, retry: this.retryCount });
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.retryNow(), delayMs);
  }

  /** Retries at once if waiting to reconnect (page visible again, network back). */
  private retryNow(): void {
    if (this._state !== ConnectionState.Reconnecting || this.socket !== undefined) return;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.retryCount++;
    void this.open();
  }

  private giveUp(err: CallDockerError): void {
    this.stopTimers();
    this.detachEnvironment?.();
    this.detachEnvironment = undefined;
    this.queue.length = 0;
    this.failPending(err);
    this.rejectWaiters(err);
    this.emit('failed', err);
    this.setState(ConnectionState.Disconnected);
  }

  private startHeartbeat(intervalMs: number): void {
    clearInterval(this.heartbeatTimer);
    this.heard = false;
    let silentTicks = 0;
    this.heartbeatTimer = setInterval(() => {
      // Two silent intervals (pongs included) mean the link is dead even if TCP has not noticed.
      // Counted in ticks, not wall time: a throttled background tab or a busy event loop runs
      // this late, with the pong to the last ping already there but not yet read.
      silentTicks = this.heard ? 0 : silentTicks + 1;
      this.heard = false;
      if (silentTicks >= 2) {
        this.opts.logger.warn('heartbeat lost; reconnecting');
        const socket = this.socket;
        this.transportId++;
        socket?.close(CloseCode.Normal, 'heartbeat lost');
        this.onClose(CloseCode.GoingAway, 'heartbeat lost');
        return;
      }
      this.socket?.send('{"type":"ping"}');
    }, intervalMs);
  }

  private scheduleTokenRefresh(): void {
    clearTimeout(this.refreshTimer);
    const { getToken } = this.opts;
    const exp = this.token === undefined ? undefined : tokenExpiry(this.token);
    if (getToken === undefined || exp === undefined) return;
    const inMs = Math.max(0, exp * 1000 - this.opts.tokenRefreshMarginMs - Date.now());
    if (inMs > MAX_TIMER_MS) {
      this.refreshTimer = setTimeout(() => this.scheduleTokenRefresh(), MAX_TIMER_MS);
      return;
    }
    const timer = setTimeout(() => {
      // Through a promise, so a getToken that throws is logged rather than uncaught.
      new Promise<string>((resolve) => resolve(getToken())).then(
        (token) => {
          this.token = token;
          // Not after disconnect or a drop (onEstablished reschedules), and not for a token
          // that expires no later: that would ask getToken again at once, in a loop.
          const next = tokenExpiry(token);
          if (this.refreshTimer === timer && next !== undefined && next > exp) {
            this.scheduleTokenRefresh();
          }
        },
        (err: unknown) => this.opts.logger.warn('token refresh failed', err),
      );
    }, inMs);
    this.refreshTimer = timer;
  }

  private stopTimers(): void {
    clearInterval(this.heartbeatTimer);
    clearTimeout(this.retryTimer);
    clearTimeout(this.refreshTimer);
    clearTimeout(this.connectTimer);
    this.heartbeatTimer = this.retryTimer = this.refreshTimer = this.connectTimer = undefined;
  }

  private failPending(err: CallDockerError, sentOnly = false): void {
    for (const [id, pending] of this.pending) {
      if (sentOnly && pending.queued !== undefined) continue;
      clearTimeout(pending.timer);
      this.pending.delete(id);
      pending.reject(err);
    }
  }

  private rejectWaiters(err: CallDockerError): void {
    for (const w of this.waiters.splice(0)) w.reject(err);
  }

  /** Reconnects at once when the page becomes visible or the network comes back. */
  private attachEnvironment(): void {
    if (this.detachEnvironment !== undefined) return;
    const g = globalThis as {
      addEventListener?: (t: string, f: () => void) => void;
      removeEventListener?: (t: string, f: () => void) => void;
      document?: {
        visibilityState?: string;
        addEventListener?: (t: string, f: () => void) => void;
        removeEventListener?: (t: string, f: () => void) => void;
      };
    };
    const onOnline = () => this.retryNow();
    const onVisible = () => {
      if (g.document?.visibilityState === 'visible') this.retryNow();
    };
    g.addEventListener?.('online', onOnline);
    g.document?.addEventListener?.('visibilitychange', onVisible);
    this.detachEnvironment = () => {
      g.removeEventListener?.('online', onOnline);
      g.document?.removeEventListener?.('visibilitychange', onVisible);
    };
  }
}

function target(targetUserId: string | undefined) {
  return targetUserId === undefined ? {} : { targetUserId };
}
