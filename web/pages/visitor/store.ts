/**
 * The visitor page's state, in one place: one record, replaced (never mutated) by {@link set},
 * which only the flow modules call (`call-flow.ts`, `device.ts`, `rating.ts`); the views read
 * it with {@link useStore}. A hand-kept store rather than `@preact/signals`: the page's few
 * screens re-render whole in well under a millisecond, and the signals runtime was a tenth of
 * the page's weight (the agent's dashboard keeps signals).
 */
import type {
  AgentSummary,
  CallSession,
  CallType,
  ConnectionState,
  MediaErrorReason,
  WebSocketClient,
} from '@calldocker/client';
import { useEffect, useState } from 'preact/hooks';
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
  | 'agent_busy'
  | 'company_disabled'
  | 'connection_lost'
  | 'unreachable'
  | 'queue_full'
  | 'rate_limited'
  | 'request_failed';

/** The start form. `agentId` '' means any available agent. */
export interface Form {
  readonly name: string;
  readonly purpose: string;
  readonly callType: CallType;
  readonly agentId: string;
}

/** The device check: the stream the call will send, or why there is none. */
export interface Devices {
  readonly stream: MediaStream | undefined;
  readonly error: MediaErrorReason | undefined;
  readonly asking: boolean;
  readonly cameras: readonly MediaDeviceInfo[];
  readonly microphones: readonly MediaDeviceInfo[];
  readonly cameraId: string;
  readonly microphoneId: string;
}

/** A call not answered yet. */
export interface Waiting {
  readonly callId: string | undefined;
  readonly status: 'placing' | 'queued' | 'ringing' | 'resuming';
  readonly position?: number | undefined;
  readonly estimatedWaitSec?: number | undefined;
  readonly agentName?: string | undefined;
}

/** The answered call. */
export interface LiveCall {
  readonly callId: string;
  readonly callType: CallType;
  readonly peerName: string;
  readonly answeredAt: number;
  readonly session: CallSession;
  readonly client: WebSocketClient;
}

/** The call that just ended, for the rating. */
export interface EndedCall {
  readonly callId: string;
  readonly durationSec: number;
  readonly token: string;
}

/** The rating form's progress: a result code once it is over. */
export type RatingState =
  'idle' | 'sending' | 'sent' | 'already_rated' | 'rating_window_closed' | 'unavailable' | 'failed';

/** Everything the page shows. */
export interface State {
  readonly view: View;
  readonly failure: Failure | undefined;
  readonly connection: ConnectionState | 'idle';
  /** The company's present agents, live from `agent_list` and `agent_status_changed`. */
  readonly agents: readonly AgentSummary[];
  readonly form: Form;
  readonly device: Devices;
  readonly waiting: Waiting | undefined;
  readonly live: LiveCall | undefined;
  /** The agent's link dropped (`peer_disconnected`) and the server keeps the call for it. */
  readonly peerAway: boolean;
  readonly ended: EndedCall | undefined;
  readonly rating: RatingState;
}

let state: State = {
  view: 'loading',
  failure: undefined,
  connection: 'idle',
  agents: [],
  form: { name: '', purpose: '', callType: 'video', agentId: '' },
  device: {
    stream: undefined,
    error: undefined,
    asking: false,
    cameras: [],
    microphones: [],
    cameraId: '',
    microphoneId: '',
  },
  waiting: undefined,
  live: undefined,
  peerAway: false,
  ended: undefined,
  rating: 'idle',
};
const listeners = new Set<() => void>();

/** The current state. */
export const get = (): State => state;

/** Merges `patch` into the state and tells the views, when anything changed. */
export function set(patch: Partial<State>): void {
  const next = { ...state, ...patch };
  if ((Object.keys(patch) as Array<keyof State>).every((k) => Object.is(next[k], state[k]))) {
    return;
  }
  state = next;
  for (const listener of listeners) listener();
}

/** {@link set} for some of the start form's fields. */
export const setForm = (patch: Partial<Form>): void => set({ form: { ...state.form, ...patch } });

/** {@link set} for some of the device check's fields. */
export const setDevice = (patch: Partial<Devices>): void =>
  set({ device: { ...state.device, ...patch } });

/** Calls `listener` after every change; returns a function that stops it. */
export function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  return () => void listeners.delete(listener);
}

/** The state, for a component that re-renders whenever it changes. */
export function useStore(): State {
  const [, setSeen] = useState(state);
  useEffect(() => {
    // A change between the render and this effect would otherwise be missed.
    setSeen(state);
    return subscribe(() => setSeen(state));
  }, []);
  return state;
}

/** The agents who can take a call now. */
export const onlineAgents = (s: State): readonly AgentSummary[] =>
  s.agents.filter((a) => a.status === 'online');

/** The call's link is down on either side and expected back. */
export const reconnecting = (s: State): boolean => s.peerAway || s.connection === 'reconnecting';
