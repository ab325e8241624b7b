/**
 * Validate, then dispatch, then answer: every inbound frame is parsed, checked against its
 * compiled TypeBox schema, routed by an exhaustive switch on its `type`, and answered with
 * exactly one ack or error when it carried an id ({@link handleFrame}). Relay messages are
 * handled synchronously (the hot path); everything else may await the state store.
 */
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import type { TSchema } from '@sinclair/typebox';
import {
  ClientMessages,
  type ClientMessage,
  type ClientMessageType,
  type RelayType,
  type ClientMessageOf,
} from '../client-lib/protocol.js';
import type { Connection } from './connection.js';
import { ErrorCode, SignalingError } from './errors.js';
import type { Hub } from './hub.js';
import type { SignalingMetrics } from './metrics.js';
import type { CallService } from './services/calls.js';
import type { PresenceService } from './services/presence.js';
import type { RoomService } from './services/rooms.js';
import { isStoreUnavailable } from './state/store.js';
import type { VisitorLimits } from './visitor-limits.js';

/** Compiled validators, one per client message type. */
const validators = new Map<string, TypeCheck<TSchema>>(
  Object.entries(ClientMessages).map(([type, schema]) => [type, TypeCompiler.Compile(schema)]),
);

/** The services a handler may use. */
export interface DispatchContext {
  readonly hub: Hub;
  readonly metrics: SignalingMetrics;
  readonly presence: PresenceService;
  readonly rooms: RoomService;
  readonly calls: CallService;
  readonly limits: VisitorLimits;
  /**
   * False while the shared state cannot be trusted (a cluster's Redis away, or being rebuilt
   * after it returned): requests that read or change it get `unavailable`, to try again, while
   * relays between this node's connections go on. Absent on a single node.
   */
  readonly sharedStateReady?: () => boolean;
}

type Result = Record<string, unknown> | void;

/** The outcome of parsing one frame: a valid message, or the error to answer with. */
export type Parsed =
  { ok: true; msg: ClientMessage } | { ok: false; id: string | undefined; error: SignalingError };

function requestId(value: Record<string, unknown>): string | undefined {
  const id = value['id'];
  return typeof id === 'string' && id.length > 0 && id.length <= 64 ? id : undefined;
}

/** Parses and validates one frame. Never throws. */
export function parseFrame(
  data: Buffer | string,
  isBinary: boolean,
  metrics: SignalingMetrics,
): Parsed {
  if (isBinary) {
    metrics.messagesIn.inc('invalid');
    return {
      ok: false,
      id: undefined,
      error: SignalingError.badRequest('binary frames are not supported'),
    };
  }
  let value: unknown;
  try {
    value = JSON.parse(typeof data === 'string' ? data : data.toString('utf8'));
  } catch {
    metrics.messagesIn.inc('invalid');
    return {
      ok: false,
      id: undefined,
      error: SignalingError.badRequest('message is not valid JSON'),
    };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    metrics.messagesIn.inc('invalid');
    return {
      ok: false,
      id: undefined,
      error: SignalingError.badRequest('message must be a JSON object'),
    };
  }
  const record = value as Record<string, unknown>;
  const type = record['type'];
  const id = requestId(record);
  if (typeof type !== 'string') {
    metrics.messagesIn.inc('invalid');
    return { ok: false, id, error: SignalingError.badRequest('message needs a string "type"') };
  }
  const validator = validators.get(type);
  if (validator === undefined) {
    metrics.messagesIn.inc('unknown');
    return {
      ok: false,
      id,
      error: SignalingError.badRequest(`unknown message type "${type.slice(0, 64)}"`),
    };
  }
  metrics.messagesIn.inc(type);
  if (!validator.Check(value)) {
    const first = validator.Errors(value).First();
    const where = first?.path === '' || first === undefined ? '' : `${first.path}: `;
    return {
      ok: false,
      id,
      error: SignalingError.badRequest(
        `invalid ${type}: ${where}${first?.message ?? 'schema violation'}`,
      ),
    };
  }
  return { ok: true, msg: value as ClientMessage };
}

/** Sends the single answer to a message: an ack (when it had an id) or an error. */
export function answer(conn: Connection, id: string | undefined, result: Result): void {
  if (id !== undefined) conn.send({ type: 'ack', id, ...(result ?? {}) });
}

/** Sends an error frame and counts it. */
export function answerError(
  conn: Connection,
  id: string | undefined,
  error: SignalingError,
  metrics: SignalingMetrics,
): void {
  metrics.errors.inc(error.code);
  conn.send({
    type: 'error',
    ...(id !== undefined ? { id } : {}),
    code: error.code,
    message: error.message,
  });
}

/**
 * Relays a message between the two participants of an answered call. Synchronous: the
 * connection's own call links say who the peer is, so no store lookup is needed.
 */
function relay(
  ctx: DispatchContext,
  conn: Connection,
  msg: ClientMessageOf<RelayType>,
  receivedAt: number,
): Result {
  const link = conn.calls.get(msg.callId);
  if (link === undefined) throw SignalingError.notFound('no such call');
  if (!link.answered) throw SignalingError.conflict('call is not answered yet');
  if (msg.targetUserId !== undefined && msg.targetUserId !== link.peerUserId) {
    throw SignalingError.forbidden('targetUserId is not the other participant');
  }
  // A peer of this node must be open; one on another node is handed its frame there.
  const peer = ctx.hub.get(link.peerConnId);
  if (peer === undefined ? !ctx.hub.reachable(link.peerConnId) : peer.closing) {
    throw SignalingError.unavailable('the other participant is disconnected');
  }
  let data: string;
  switch (msg.type) {
    case 'ice_candidate':
      data = JSON.stringify({
        type: msg.type,
        callId: msg.callId,
        candidate: msg.candidate,
        fromUserId: conn.userId,
      });
      break;
    case 'webrtc_offer':
      data = JSON.stringify({
        type: msg.type,
        callId: msg.callId,
        offer: msg.offer,
        fromUserId: conn.userId,
      });
      break;
    case 'webrtc_answer':
      data = JSON.stringify({
        type: msg.type,
        callId: msg.callId,
        answer: msg.answer,
        fromUserId: conn.userId,
      });
      break;
    case 'media_state':
      data = JSON.stringify({
        type: msg.type,
        callId: msg.callId,
        audio: msg.audio,
        video: msg.video,
        screen: msg.screen,
        fromUserId: conn.userId,
      });
      break;
    case 'chat_message':
      data = JSON.stringify({
        type: msg.type,
        callId: msg.callId,
        text: msg.text,
        fromUserId: conn.userId,
      });
      break;
    default: {
      const unreachable: never = msg;
      throw new Error(`unhandled relay type ${(unreachable as { type: string }).type}`);
    }
  }
  // A peer cut off as a slow consumer by this very send never got it: no ack for that.
  if (
    !(peer !== undefined
      ? peer.sendRaw(msg.type, data)
      : ctx.hub.sendRawTo(link.peerConnId, msg.type, data))
  ) {
    throw SignalingError.unavailable('the other participant is disconnected');
  }
  ctx.metrics.relayLatency.observe((performance.now() - receivedAt) / 1000);
}

/** Routes a valid message to its handler; the return value (or promise) is the ack result. */
export function dispatch(
  ctx: DispatchContext,
  conn: Connection,
  msg: ClientMessage,
  receivedAt: number,
): Result | Promise<Result> {
  switch (msg.type) {
    case 'ice_candidate':
    case 'webrtc_offer':
    case 'webrtc_answer':
    case 'media_state':
    case 'chat_message':
      return relay(ctx, conn, msg, receivedAt);
    case 'ping': {
      const ts = Date.now();
      conn.send({ type: 'pong', ts });
      return { ts };
    }
  }
  if (ctx.sharedStateReady?.() === false) throw SignalingError.unavailable('try again in a moment');
  switch (msg.type) {
    case 'join_room':
      return ctx.rooms.join(conn, msg.roomId).then(() => ({ roomId: msg.roomId }));
    case 'leave_room':
      return ctx.rooms.leave(conn, msg.roomId).then(() => ({ roomId: msg.roomId }));
    case 'agent_status':
      if (!conn.isAgent) throw SignalingError.forbidden('only agents and admins have a status');
      return ctx.presence.setStatus(conn, msg.status).then((status) => ({ status }));
    case 'call_request':
      ctx.limits.callRequested(conn);
      return ctx.calls.request(conn, msg);
    case 'call_accept':
      return ctx.calls.accept(conn, msg.callId);
    case 'call_decline':
      return ctx.calls.decline(conn, msg.callId);
    case 'call_cancel':
      return ctx.calls.cancel(conn, msg.callId);
    case 'call_ended':
      return ctx.calls.end(conn, msg.callId, msg.reason);
    case 'queue_list':
      return ctx.calls.listQueue(conn, msg);
    default: {
      const unreachable: never = msg;
      throw SignalingError.badRequest(`unhandled type ${(unreachable as { type: string }).type}`);
    }
  }
}

/**
 * Parses, dispatches and answers one frame the rate limiter let through: exactly one ack or
 * error when it carried an id. Returns the handler's promise when it went async (the
 * connection's later work waits for it), else undefined.
 */
export function handleFrame(
  ctx: DispatchContext,
  conn: Connection,
  data: Buffer,
  isBinary: boolean,
  receivedAt: number,
): Promise<void> | undefined {
  if (conn.closing) return undefined;
  const parsed = parseFrame(data, isBinary, ctx.metrics);
  if (!parsed.ok) {
    answerError(conn, parsed.id, parsed.error, ctx.metrics);
    return undefined;
  }
  const { msg } = parsed;
  try {
    const result = dispatch(ctx, conn, msg, receivedAt);
    if (result instanceof Promise) {
      return result.then(
        (value) => answer(conn, msg.id, value),
        (err: unknown) => fail(conn, msg.id, err, ctx.metrics),
      );
    }
    answer(conn, msg.id, result);
  } catch (err) {
    fail(conn, msg.id, err, ctx.metrics);
  }
  return undefined;
}

/**
 * Answers a failed handler: a {@link SignalingError} keeps its code, an unreachable shared store
 * is `unavailable`, anything else is internal.
 */
function fail(
  conn: Connection,
  id: string | undefined,
  err: unknown,
  metrics: SignalingMetrics,
): void {
  if (err instanceof SignalingError) {
    answerError(conn, id, err, metrics);
    return;
  }
  if (isStoreUnavailable(err)) {
    conn.log.warn({ err }, 'shared state unavailable');
    answerError(conn, id, SignalingError.unavailable('try again in a moment'), metrics);
    return;
  }
  conn.log.error({ err }, 'handler failed');
  answerError(conn, id, new SignalingError('internal', 'internal error'), metrics);
}

/** Frames the rate limiter dropped are parsed for their id only up to this size. */
const DROPPED_ID_MAX_BYTES = 4096;

/**
 * Answers a frame the rate limiter dropped (see `Connection.rateLimit`) with `rate_limited`,
 * under the frame's id when it has one.
 */
export function answerDropped(
  conn: Connection,
  data: Buffer,
  isBinary: boolean,
  metrics: SignalingMetrics,
): void {
  // The id is worth a parse: the contract promises every message with an id one answer.
  let id: string | undefined;
  if (!isBinary && data.length <= DROPPED_ID_MAX_BYTES) {
    const parsed = parseFrame(data, false, metrics);
    id = parsed.ok ? parsed.msg.id : parsed.id;
  }
  answerError(
    conn,
    id,
    SignalingError.rateLimited('rate limit exceeded; message dropped'),
    metrics,
  );
}

/** Every client message type the dispatcher handles (for docs and tests). */
export const HANDLED_TYPES = Object.keys(ClientMessages) as ClientMessageType[];

export { ErrorCode };
