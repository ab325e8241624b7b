/**
 * The CallDocker wire protocol, version 1: every frame either side may send, declared once.
 *
 * The server compiles these schemas into validators and checks every inbound frame against
 * them; clients derive their TypeScript types from them with `Static<>`; docs/PROTOCOL.md is
 * generated from them (`npm run docs:protocol`) and a test fails when it falls out of date.
 * Browser-safe: no Node APIs. Clients that must stay small import only types from here.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import {
  AGENT_STATUSES,
  CALL_STATES,
  CALL_TYPES,
  ErrorCode,
  PROTOCOL_VERSION,
  QUEUE_PAGE_MAX,
  ROLES,
  ROOM_NAME_PATTERN,
} from './constants.js';

const literals = <T extends readonly string[]>(values: T, description: string) =>
  Type.Union(
    values.map((v) => Type.Literal(v)),
    { description },
  ) as unknown as TSchema & { static: T[number] };

// ---------------------------------------------------------------------------------------------
// Shared pieces
// ---------------------------------------------------------------------------------------------

/** Correlates a request with its single `ack` or `error`. */
export const RequestId = Type.String({
  minLength: 1,
  maxLength: 64,
  description: 'Client-chosen id; the server answers the message exactly once with ack or error',
});
const OptionalId = Type.Optional(RequestId);

/** A call id (UUIDv7, time-ordered); bounded so a hostile client cannot make us hash megabytes. */
export const CallId = Type.String({ minLength: 1, maxLength: 64, description: 'Call id' });
/** A user id: the token's `sub`. */
export const UserId = Type.String({ minLength: 1, maxLength: 128, description: 'User id (sub)' });

export const Role = literals(ROLES, 'visitor | agent | admin');
export type Role = Static<typeof Role>;
export const AgentStatus = literals(AGENT_STATUSES, 'online | away | busy | offline');
export type AgentStatus = Static<typeof AgentStatus>;
export const CallType = literals(CALL_TYPES, 'audio | video');
export type CallType = Static<typeof CallType>;
export const CallState = literals(CALL_STATES, 'Call state');
export type CallState = Static<typeof CallState>;

/** Room names: the two built-in rooms match this pattern too. */
export const RoomId = Type.String({ pattern: ROOM_NAME_PATTERN, description: 'Room name' });

export const ErrorCodeSchema = literals(
  Object.values(ErrorCode) as unknown as readonly ErrorCode[],
  'Stable error code',
);

/** The public face of a user as other users see it. */
export const UserSummary = Type.Object({
  id: Type.String(),
  role: Role,
  name: Type.String(),
});
export type UserSummary = Static<typeof UserSummary>;

/** A visitor as agents see it in the queue and in rings. */
export const VisitorSummary = Type.Object({ id: Type.String(), name: Type.String() });

/** An ICE server entry, as `RTCPeerConnection` takes it. */
export const IceServer = Type.Object({
  urls: Type.Union([Type.String(), Type.Array(Type.String())]),
  username: Type.Optional(Type.String()),
  credential: Type.Optional(Type.String()),
});
export type IceServer = Static<typeof IceServer>;

// Nested relay payloads are closed (no extra properties): they are forwarded as received, so
// anything not declared here would reach the peer unchecked. Browsers' toJSON() fits exactly.
export const SessionDescriptionOffer = Type.Object(
  { type: Type.Literal('offer'), sdp: Type.String({ maxLength: 60000 }) },
  { additionalProperties: false },
);
export const SessionDescriptionAnswer = Type.Object(
  { type: Type.Literal('answer'), sdp: Type.String({ maxLength: 60000 }) },
  { additionalProperties: false },
);
/** `RTCIceCandidateInit`; `null` is the end-of-candidates marker. */
export const IceCandidateInit = Type.Union([
  Type.Object(
    {
      candidate: Type.String({ maxLength: 2048 }),
      sdpMid: Type.Optional(Type.Union([Type.String({ maxLength: 256 }), Type.Null()])),
      sdpMLineIndex: Type.Optional(Type.Union([Type.Integer({ minimum: 0 }), Type.Null()])),
      usernameFragment: Type.Optional(Type.Union([Type.String({ maxLength: 256 }), Type.Null()])),
    },
    { additionalProperties: false },
  ),
  Type.Null(),
]);

/**
 * A queued visitor's expected wait (extension of v1). Absent while the company has too little
 * recent history to say.
 */
const EstimatedWaitSec = Type.Optional(
  Type.Integer({
    minimum: 0,
    description:
      "Expected wait in whole seconds: the position times the median of the company's recent queue waits (calls answered from the queue in the last hour, the newest 20). Absent with fewer than 3 such calls. Not re-sent when only the estimate changes.",
  }),
);

/** One entry of the company queue, oldest first. */
export const QueueEntry = Type.Object({
  callId: CallId,
  visitor: VisitorSummary,
  callType: CallType,
  purpose: Type.Optional(Type.String()),
  queuedAt: Type.String({ description: 'ISO 8601' }),
  position: Type.Integer({ minimum: 1 }),
});
export type QueueEntry = Static<typeof QueueEntry>;

/** How many calls the company queue holds, all of them, beside a part of it. */
const QueueTotal = Type.Integer({
  minimum: 0,
  description: "The whole queue's length, however many of its entries came with it",
});

export const AgentSummary = Type.Object({
  id: Type.String(),
  name: Type.String(),
  status: AgentStatus,
});
export type AgentSummary = Static<typeof AgentSummary>;

// ---------------------------------------------------------------------------------------------
// Client -> server
// ---------------------------------------------------------------------------------------------

const Target = Type.Optional(
  Type.String({
    maxLength: 128,
    description: "Accepted for the seed demo's clients; must name the other participant",
  }),
);

/** Every message a client may send, keyed by its `type`. */
export const ClientMessages = {
  join_room: Type.Object(
    { type: Type.Literal('join_room'), id: OptionalId, roomId: RoomId },
    { description: 'Join a room of your company. Visitors may not join agent-room.' },
  ),
  leave_room: Type.Object(
    { type: Type.Literal('leave_room'), id: OptionalId, roomId: RoomId },
    { description: 'Leave a room you joined.' },
  ),
  agent_status: Type.Object(
    { type: Type.Literal('agent_status'), id: OptionalId, status: AgentStatus },
    { description: 'Set your status (agents and admins). An explicit choice wins over busy.' },
  ),
  call_request: Type.Object(
    {
      type: Type.Literal('call_request'),
      id: RequestId,
      callType: CallType,
      agentId: Type.Optional(UserId),
      purpose: Type.Optional(Type.String({ maxLength: 500 })),
    },
    { description: 'Visitor asks for a call: queued, or ringing one agent when agentId is set.' },
  ),
  call_cancel: Type.Object(
    { type: Type.Literal('call_cancel'), id: OptionalId, callId: CallId },
    { description: 'Visitor gives up a queued or ringing call (state abandoned).' },
  ),
  call_accept: Type.Object(
    { type: Type.Literal('call_accept'), id: OptionalId, callId: CallId },
    { description: 'Agent takes a queued call, or one ringing it. Exactly one accept wins.' },
  ),
  call_decline: Type.Object(
    { type: Type.Literal('call_decline'), id: OptionalId, callId: CallId },
    { description: 'Agent refuses a call ringing it (state declined).' },
  ),
  call_ended: Type.Object(
    {
      type: Type.Literal('call_ended'),
      id: OptionalId,
      callId: CallId,
      reason: Type.Optional(Type.String({ maxLength: 64 })),
    },
    { description: 'Either participant hangs up an answered call.' },
  ),
  webrtc_offer: Type.Object(
    {
      type: Type.Literal('webrtc_offer'),
      id: OptionalId,
      callId: CallId,
      offer: SessionDescriptionOffer,
      targetUserId: Target,
    },
    { description: 'Relayed to the other participant with fromUserId.' },
  ),
  webrtc_answer: Type.Object(
    {
      type: Type.Literal('webrtc_answer'),
      id: OptionalId,
      callId: CallId,
      answer: SessionDescriptionAnswer,
      targetUserId: Target,
    },
    { description: 'Relayed to the other participant with fromUserId.' },
  ),
  ice_candidate: Type.Object(
    {
      type: Type.Literal('ice_candidate'),
      id: OptionalId,
      callId: CallId,
      candidate: IceCandidateInit,
      targetUserId: Target,
    },
    { description: 'Relayed to the other participant with fromUserId.' },
  ),
  media_state: Type.Object(
    {
      type: Type.Literal('media_state'),
      id: OptionalId,
      callId: CallId,
      audio: Type.Boolean(),
      video: Type.Boolean(),
      screen: Type.Boolean(),
      targetUserId: Target,
    },
    { description: 'Relayed to the other participant with fromUserId.' },
  ),
  chat_message: Type.Object(
    {
      type: Type.Literal('chat_message'),
      id: OptionalId,
      callId: CallId,
      text: Type.String({ minLength: 1, maxLength: 2000 }),
      targetUserId: Target,
    },
    { description: 'Relayed to the other participant with fromUserId.' },
  ),
  ping: Type.Object(
    { type: Type.Literal('ping'), id: OptionalId },
    { description: 'Application-level heartbeat; answered with pong.' },
  ),
  queue_list: Type.Object(
    {
      type: Type.Literal('queue_list'),
      id: RequestId,
      offset: Type.Optional(
        Type.Integer({
          minimum: 0,
          description: 'Entries to skip from the oldest (default 0): the next page starts here',
        }),
      ),
      limit: Type.Optional(
        Type.Integer({
          minimum: 1,
          maximum: QUEUE_PAGE_MAX,
          description: `Most entries to return (default the server's QUEUE_ANNOUNCE_MAX, at most ${QUEUE_PAGE_MAX})`,
        }),
      ),
    },
    {
      description:
        'Agent or admin reads a page of the company queue, oldest first, beyond what queue_updated carries (extension).',
    },
  ),
} as const;

/** A client message type name. */
export type ClientMessageType = keyof typeof ClientMessages;
/** The message a client sends, by type. */
export type ClientMessageOf<K extends ClientMessageType> = Static<(typeof ClientMessages)[K]>;
/** Any client message. */
export type ClientMessage = { [K in ClientMessageType]: ClientMessageOf<K> }[ClientMessageType];

/** The relayed message types: forwarded between the two participants of an answered call. */
export const RELAY_TYPES = [
  'webrtc_offer',
  'webrtc_answer',
  'ice_candidate',
  'media_state',
  'chat_message',
] as const;
export type RelayType = (typeof RELAY_TYPES)[number];

/** The states a call ends in; every other state is live. */
const FINAL_CALL_STATES = [
  'ended',
  'missed',
  'declined',
  'abandoned',
  'failed',
] as const satisfies ReadonlyArray<(typeof CALL_STATES)[number]>;

// ---------------------------------------------------------------------------------------------
// Server -> client
// ---------------------------------------------------------------------------------------------

const From = { fromUserId: Type.String({ description: 'Sender, stamped by the server' }) };

/** Every message the server may send, keyed by its `type`. */
export const ServerMessages = {
  connection_established: Type.Object(
    {
      type: Type.Literal('connection_established'),
      connectionId: Type.String(),
      protocolVersion: Type.Literal(PROTOCOL_VERSION),
      user: Type.Object({
        id: Type.String(),
        role: Role,
        companyId: Type.String(),
        name: Type.String(),
      }),
      rooms: Type.Array(RoomId),
      iceServers: Type.Array(IceServer),
      heartbeatIntervalMs: Type.Integer(),
    },
    { description: 'First frame on every authenticated connection.' },
  ),
  ack: Type.Object(
    { type: Type.Literal('ack'), id: RequestId },
    {
      additionalProperties: true,
      description: 'Success answer to a message that carried an id, with its result fields.',
    },
  ),
  error: Type.Object(
    {
      type: Type.Literal('error'),
      id: Type.Optional(RequestId),
      code: ErrorCodeSchema,
      message: Type.String(),
    },
    { description: 'Failure answer; carries the id of the message it answers, if it had one.' },
  ),
  pong: Type.Object(
    { type: Type.Literal('pong'), ts: Type.Integer() },
    {
      description:
        'Answer to ping; ts is the server clock in ms since the epoch. A ping with an id is also acked.',
    },
  ),
  room_joined: Type.Object(
    { type: Type.Literal('room_joined'), roomId: RoomId },
    { description: 'To the joiner.' },
  ),
  room_left: Type.Object(
    { type: Type.Literal('room_left'), roomId: RoomId },
    { description: 'To the leaver (extension of v1).' },
  ),
  user_joined: Type.Object(
    { type: Type.Literal('user_joined'), roomId: RoomId, user: UserSummary },
    { description: 'To the other members; about a visitor, to agents and admins only.' },
  ),
  user_left: Type.Object(
    { type: Type.Literal('user_left'), roomId: RoomId, userId: Type.String() },
    { description: 'To the other members; about a visitor, to agents and admins only.' },
  ),
  agent_status_changed: Type.Object(
    {
      type: Type.Literal('agent_status_changed'),
      agentId: Type.String(),
      name: Type.String(),
      status: AgentStatus,
    },
    { description: "To the company's agent-room and public-calls members." },
  ),
  agent_list: Type.Object(
    { type: Type.Literal('agent_list'), agents: Type.Array(AgentSummary) },
    {
      description:
        'To a visitor right after connection_established; to agents too, just after their queue_updated (extension).',
    },
  ),
  queue_updated: Type.Object(
    {
      type: Type.Literal('queue_updated'),
      calls: Type.Array(QueueEntry, {
        description:
          'The oldest queued calls of the company, oldest first: all of them while the queue holds at most QUEUE_ANNOUNCE_MAX, else that many (queue_list reads the rest)',
      }),
      total: QueueTotal,
    },
    {
      description:
        'The queue (its oldest entries and its length), to agent-room at every change and to an agent on connecting.',
    },
  ),
  queue_position: Type.Object(
    {
      type: Type.Literal('queue_position'),
      callId: CallId,
      position: Type.Integer({ minimum: 1 }),
      estimatedWaitSec: EstimatedWaitSec,
    },
    { description: 'To a queued visitor when its position changes.' },
  ),
  call_incoming: Type.Object(
    {
      type: Type.Literal('call_incoming'),
      callId: CallId,
      visitor: VisitorSummary,
      callType: CallType,
      purpose: Type.Optional(Type.String()),
      expiresAt: Type.String({ description: 'ISO 8601: when the ring times out' }),
    },
    { description: 'To every connection of the agent a call is aimed at.' },
  ),
  call_declined: Type.Object(
    { type: Type.Literal('call_declined'), callId: CallId },
    { description: 'To the visitor (and the rung agent) when the agent declines.' },
  ),
  call_answered_elsewhere: Type.Object(
    { type: Type.Literal('call_answered_elsewhere'), callId: CallId },
    { description: "To the rung agent's other connections when one of them accepted (extension)." },
  ),
  call_started: Type.Object(
    {
      type: Type.Literal('call_started'),
      callId: CallId,
      callType: CallType,
      peer: UserSummary,
    },
    {
      description: 'To both participants on accept; the visitor is the caller and sends the offer.',
    },
  ),
  call_waiting: Type.Object(
    {
      type: Type.Literal('call_waiting'),
      callId: CallId,
      callType: CallType,
      status: Type.Union([Type.Literal('queued'), Type.Literal('ringing')]),
      position: Type.Optional(Type.Integer({ minimum: 1 })),
      estimatedWaitSec: EstimatedWaitSec,
    },
    {
      description:
        'To a visitor that reconnects within the grace while its call is still unanswered (extension).',
    },
  ),
  call_resumed: Type.Object(
    {
      type: Type.Literal('call_resumed'),
      callId: CallId,
      callType: CallType,
      peer: UserSummary,
      role: Type.Union([Type.Literal('caller'), Type.Literal('callee')]),
    },
    { description: 'To a participant that reconnects within the grace to an answered call.' },
  ),
  peer_disconnected: Type.Object(
    { type: Type.Literal('peer_disconnected'), callId: CallId },
    { description: "The other participant's connection dropped; the call is kept for the grace." },
  ),
  peer_reconnected: Type.Object(
    { type: Type.Literal('peer_reconnected'), callId: CallId },
    { description: 'The other participant is back; expect an ICE restart.' },
  ),
  call_ended: Type.Object(
    {
      type: Type.Literal('call_ended'),
      callId: CallId,
      reason: Type.String(),
      durationSec: Type.Integer({ minimum: 0 }),
    },
    { description: 'To both sides when a call ends, is cancelled, or its participant is gone.' },
  ),
  call_missed: Type.Object(
    {
      type: Type.Literal('call_missed'),
      callId: CallId,
      reason: Type.Union([Type.Literal('ring_timeout'), Type.Literal('queue_timeout')]),
    },
    { description: 'A ring or a queue wait timed out.' },
  ),
  call_finished: Type.Object(
    {
      type: Type.Literal('call_finished'),
      callId: CallId,
      state: literals(FINAL_CALL_STATES, 'The final state the call reached'),
      agentId: Type.Optional(
        Type.String({ description: 'The agent that answered it, if one did' }),
      ),
    },
    {
      description:
        "When a call reaches a final state (extension), to those of the company's agent-room members whose call log shows it: admins, the agent that answered it and the agent it rang. On a server with a call log it is sent only once the call's final row is committed, so the call log API read on receipt (e.g. GET /api/calls/stats) already counts the call.",
    },
  ),
  webrtc_offer: Type.Object({
    type: Type.Literal('webrtc_offer'),
    callId: CallId,
    offer: SessionDescriptionOffer,
    ...From,
  }),
  webrtc_answer: Type.Object({
    type: Type.Literal('webrtc_answer'),
    callId: CallId,
    answer: SessionDescriptionAnswer,
    ...From,
  }),
  ice_candidate: Type.Object({
    type: Type.Literal('ice_candidate'),
    callId: CallId,
    candidate: IceCandidateInit,
    ...From,
  }),
  media_state: Type.Object({
    type: Type.Literal('media_state'),
    callId: CallId,
    audio: Type.Boolean(),
    video: Type.Boolean(),
    screen: Type.Boolean(),
    ...From,
  }),
  chat_message: Type.Object({
    type: Type.Literal('chat_message'),
    callId: CallId,
    text: Type.String(),
    ...From,
  }),
} as const;

/** A server message type name. */
export type ServerMessageType = keyof typeof ServerMessages;
/** The message the server sends, by type. */
export type ServerMessageOf<K extends ServerMessageType> = Static<(typeof ServerMessages)[K]>;
/** Any server message. */
export type ServerMessage = { [K in ServerMessageType]: ServerMessageOf<K> }[ServerMessageType];

/** Result fields the server adds to the `ack` of each client message type. */
export const AckResults = {
  call_request: Type.Object({
    callId: CallId,
    status: Type.Union([Type.Literal('queued'), Type.Literal('ringing')]),
    position: Type.Optional(Type.Integer({ minimum: 1 })),
    estimatedWaitSec: EstimatedWaitSec,
  }),
  agent_status: Type.Object({ status: AgentStatus }),
  join_room: Type.Object({ roomId: RoomId }),
  leave_room: Type.Object({ roomId: RoomId }),
  ping: Type.Object({ ts: Type.Integer() }),
  queue_list: Type.Object({
    calls: Type.Array(QueueEntry, {
      description:
        'Up to limit entries from offset on, oldest first, each with its position; empty past the end',
    }),
    total: QueueTotal,
  }),
} as const;

/** A client message type whose ack carries result fields. */
export type AckResultType = keyof typeof AckResults;
/** The result fields of the ack to a client message, by type. */
export type AckResultOf<K extends AckResultType> = Static<(typeof AckResults)[K]>;
