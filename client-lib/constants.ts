/**
 * Wire constants shared by the server and every client.
 *
 * This file has no imports on purpose: the browser client pulls its runtime values from here,
 * so the TypeBox schemas in `protocol.ts` never land in an embedding page's bundle.
 */

/** Version of the wire contract spoken by this code; sent in `connection_established`. */
export const PROTOCOL_VERSION = 1;

/** Error codes carried by `error` frames. Stable: clients switch on them. */
export const ErrorCode = {
  /** Not JSON, not an object, unknown `type`, or a schema violation. */
  BadRequest: 'bad_request',
  /** The caller may not do this (wrong role, not a participant, another agent's ring). */
  Forbidden: 'forbidden',
  /** No such call or room visible to the caller (other companies' objects are never visible). */
  NotFound: 'not_found',
  /** The request races or contradicts current state (call already taken, already in a call). */
  Conflict: 'conflict',
  /** The target exists but cannot take it now (agent not online, peer disconnected). */
  Unavailable: 'unavailable',
  /**
   * The agent a direct call names is being rung by another call right now: one ring per agent
   * at a time (extension of v1). Nothing was rung; try again shortly or call the queue. An agent
   * in a call (status busy) is `unavailable`.
   */
  Busy: 'busy',
  /**
   * The connection is over its message rate, or (on `call_request`) the visitor or its address
   * is over its call requests a minute; the message was dropped.
   */
  RateLimited: 'rate_limited',
  /**
   * (Extension of v1.) A `call_request` found the company's queue holding as many calls as it
   * may: nothing was queued; try again in a few minutes.
   */
  QueueFull: 'queue_full',
  /** A server fault; the message may be retried. */
  Internal: 'internal',
} as const;
/** One of the {@link ErrorCode} values. */
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** WebSocket close codes used by the server, and what each tells a client about reconnecting. */
export const CloseCode = {
  /** Normal closure (client or server ended the session on purpose). */
  Normal: 1000,
  /** The server is going away (restart, deploy): reconnect with backoff. */
  GoingAway: 1001,
  /** A text frame was not valid UTF-8 (closed by the WebSocket layer). */
  InvalidPayload: 1007,
  /** A frame exceeded `MAX_MESSAGE_BYTES`. */
  MessageTooBig: 1009,
  /**
   * The token is missing, malformed, badly signed, expired, lacks a claim or was revoked (its
   * password reset, its role changed): get a new token.
   */
  Unauthorized: 4001,
  /** The principal may not connect (a disabled company or agent): do not retry as is. */
  Forbidden: 4003,
  /** Rate limit or policy (flooding, slow consumer, too many connections): back off. */
  Policy: 4008,
} as const;
/** One of the {@link CloseCode} values. */
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/** The room every visitor starts in; visitors in it are never told of each other. */
export const PUBLIC_ROOM = 'public-calls';
/** The room agents and admins start in; visitors may not join it. */
export const AGENT_ROOM = 'agent-room';
/** Names a client may choose for its own rooms (besides the two built-in ones). */
export const ROOM_NAME_PATTERN = '^[a-z0-9][a-z0-9-]{0,62}$';

/**
 * The most queue entries one `queue_list` may ask for (its `limit`), and so the most a server
 * may announce in one `queue_updated` (`QUEUE_ANNOUNCE_MAX`): a page of the queue stays a few
 * tens of KB however long the queue grows.
 */
export const QUEUE_PAGE_MAX = 100;

/** Roles a token may carry. */
export const ROLES = ['visitor', 'agent', 'admin'] as const;
/** Statuses an agent may be in. */
export const AGENT_STATUSES = ['online', 'away', 'busy', 'offline'] as const;
/** Kinds of call a visitor may request. */
export const CALL_TYPES = ['audio', 'video'] as const;
/** Every state a call passes through; the last five are final. */
export const CALL_STATES = [
  'queued',
  'ringing',
  'answered',
  'ended',
  'missed',
  'declined',
  'abandoned',
  'failed',
] as const;
