/**
 * The visitor page's state, in one place: signals written only by the flow modules
 * (`call-flow.ts`, `device.ts`, `rating.ts`) and read by the views.
 */
import { computed, signal } from '@preact/signals';
import type {
  AgentSummary,
  CallSession,
  CallType,
  ConnectionState,
  MediaErrorReason,
  WebSocketClient,
} from 'calldocker/client';
import { readBoot } from '../shared/boot.js';

/** The page's boot data (company, embed mode, where signaling is). */
export const boot = readBoot('visitor');

/** Which screen is shown. */
export type View = 'loading' | 'start' | 'device' | 'waiting' | 'call' | 'after' | 'failure';

/** Why the page shows its failure screen; each has its own words and way forward. */
export type Failure =
  | 'declined'
  | 'ring_timeout'
  | 'queue_timeout'
  | 'agent_unavailable'
  | 'company_disabled'
  | 'connection_lost'
  | 'unreachable'
  | 'request_failed';

export const view = signal<View>('loading');
export const failure = signal<Failure | undefined>(undefined);
export const connection = signal<ConnectionState | 'idle'>('idle');

/** The company's present agents, live from `agent_list` and `agent_status_changed`. */
export const agents = signal<readonly AgentSummary[]>([]);
export const onlineAgents = computed(() => agents.value.filter((a) => a.status === 'online'));

/** The start form. `agentId` '' means any available agent. */
export const form = {
  name: signal(''),
  purpose: signal(''),
  callType: signal<CallType>('video'),
  agentId: signal(''),
};

/** The device check: the stream the call will send, or why there is none. */
export const device = {
  stream: signal<MediaStream | undefined>(undefined),
  error: signal<MediaErrorReason | undefined>(undefined),
  asking: signal(false),
  cameras: signal<readonly MediaDeviceInfo[]>([]),
  microphones: signal<readonly MediaDeviceInfo[]>([]),
  cameraId: signal(''),
  microphoneId: signal(''),
};

/** A call not answered yet. */
export interface Waiting {
  readonly callId: string | undefined;
  readonly status: 'placing' | 'queued' | 'ringing' | 'resuming';
  readonly position?: number | undefined;
  readonly estimatedWaitSec?: number | undefined;
  readonly agentName?: string | undefined;
}
export const waiting = signal<Waiting | undefined>(undefined);

/** The answered call. */
export interface LiveCall {
  readonly callId: string;
  readonly callType: CallType;
  readonly peerName: string;
  readonly answeredAt: number;
  readonly session: CallSession;
  readonly client: WebSocketClient;
}
export const live = signal<LiveCall | undefined>(undefined);
/** The agent's link dropped (`peer_disconnected`) and the server keeps the call for it. */
export const peerAway = signal(false);
export const reconnecting = computed(() => peerAway.value || connection.value === 'reconnecting');

/** The call that just ended, for the rating. */
export interface EndedCall {
  readonly callId: string;
  readonly durationSec: number;
  readonly token: string;
}
export const ended = signal<EndedCall | undefined>(undefined);

/** The rating form's progress: a result code once it is over. */
export type RatingState =
  'idle' | 'sending' | 'sent' | 'already_rated' | 'rating_window_closed' | 'unavailable' | 'failed';
export const rating = signal<RatingState>('idle');
