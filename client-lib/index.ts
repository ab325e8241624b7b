/**
 * CallDocker's client library: the typed signaling client and a WebRTC call session.
 * Browser-safe and dependency-free at runtime (protocol types are compile-time only).
 */
export {
  WebSocketClient,
  ConnectionState,
  tokenExpiry,
  type WebSocketClientOptions,
  type WebSocketLike,
  type WebSocketFactory,
  type ClientEvents,
  type ClientLogger,
  type StateChange,
  type DisconnectInfo,
  type AckResult,
} from './websocket-client.js';
export {
  FullJitterPolicy,
  type ReconnectPolicy,
  type ReconnectContext,
  type FullJitterOptions,
} from './reconnect-policy.js';
export { CallDockerError, ClientErrorReason } from './errors.js';
export {
  CallSession,
  MediaError,
  QUALITY_THRESHOLDS,
  type CallSessionOptions,
  type CallSessionEvents,
  type CallStats,
  type MediaState,
  type MediaErrorReason,
} from './call-session.js';
export { TypedEmitter, type Unsubscribe } from './events.js';
export {
  PROTOCOL_VERSION,
  ErrorCode,
  CloseCode,
  PUBLIC_ROOM,
  AGENT_ROOM,
  AGENT_STATUSES,
  CALL_TYPES,
  CALL_STATES,
  QUEUE_PAGE_MAX,
} from './constants.js';
export type {
  AckResultOf,
  AckResultType,
  ClientMessage,
  ClientMessageOf,
  ClientMessageType,
  ServerMessage,
  ServerMessageOf,
  ServerMessageType,
  AgentStatus,
  CallType,
  CallState,
  Role,
  IceServer,
  QueueEntry,
  AgentSummary,
  UserSummary,
} from './protocol.js';
