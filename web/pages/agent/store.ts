/**
 * The dashboard's state, in one place: signals that the components read and that only the
 * modules of this page (session, signaling, call log) write. Nothing here talks to a server.
 */
import { computed, signal } from '@preact/signals';
import {
  ConnectionState,
  type AgentStatus,
  type CallSession,
  type CallState,
  type CallType,
  type QueueEntry,
  type WebSocketClient,
} from '@calldocker/client';

/** The logged-in agent, as `POST /api/auth/login` described it. */
export interface Agent {
  readonly id: string;
  readonly name: string;
  readonly email: string;
  readonly role: 'agent' | 'admin';
  readonly companyId: string;
}

/** What is kept in sessionStorage while logged in. */
export interface Auth {
  readonly token: string;
  readonly expiresAt: string;
  readonly agent: Agent;
}

/** The statuses an agent may choose (busy is the server's to set). */
export const CHOOSABLE_STATUSES = ['online', 'away', 'offline'] as const;
/** One of {@link CHOOSABLE_STATUSES}. */
export type ChosenStatus = (typeof CHOOSABLE_STATUSES)[number];

/** A call ringing this agent (`call_incoming`). */
export interface Ring {
  readonly callId: string;
  readonly visitorName: string;
  readonly purpose: string | undefined;
  readonly callType: CallType;
  readonly expiresAt: string;
}

/** The call this agent is in. */
export interface ActiveCall {
  readonly callId: string;
  readonly callType: CallType;
  readonly peerName: string;
  readonly purpose: string | undefined;
  readonly answeredAt: number;
  readonly session: CallSession;
}

/** A colleague in the Team list. */
export interface TeamMember {
  readonly id: string;
  readonly name: string;
  readonly status: AgentStatus;
}

/** One row of `GET /api/calls`; `rating` and `ratingComment` only on servers that have them. */
export interface CallRow {
  readonly id: string;
  readonly visitor: { readonly id: string; readonly name: string };
  readonly agent: { readonly id: string; readonly name: string } | null;
  readonly targetAgentId: string | null;
  readonly callType: CallType;
  readonly purpose: string | null;
  readonly state: CallState;
  readonly endReason: string | null;
  readonly createdAt: string;
  readonly answeredAt: string | null;
  readonly endedAt: string | null;
  readonly durationSec: number | null;
  readonly rating?: number | null;
  readonly ratingComment?: string | null;
}

/** `GET /api/calls/stats`; `averageRating` and `rated` only on servers that have them. */
export interface CallStatsBody {
  readonly from: string;
  readonly to: string;
  readonly serviceLevelThresholdSec: number;
  readonly offered: number;
  readonly answered: number;
  readonly missed: number;
  readonly declined: number;
  readonly abandoned: number;
  readonly failed: number;
  readonly serviceLevel: number;
  readonly averageSpeedOfAnswerSec: number;
  readonly abandonmentRate: number;
  readonly averageHandleTimeSec: number;
  readonly averageRating?: number | null;
  readonly rated?: number;
}

/** The History tab's filters, as the form holds them (dates as `YYYY-MM-DD`). */
export interface HistoryFilters {
  readonly from: string;
  readonly to: string;
  readonly state: CallState | '';
  readonly agentId: string;
}

/** The dashboard's sections. */
export const TABS = ['queue', 'team', 'history', 'today'] as const;
/** One of {@link TABS}. */
export type Tab = (typeof TABS)[number];

/** Something that went wrong or is worth saying on a panel. */
export interface Notice {
  readonly kind: 'bad' | 'warn' | 'ok' | 'info';
  readonly text: string;
}

// Session
export const auth = signal<Auth | undefined>(undefined);
/** Why the login form is showing (expired session, logged out, ...). */
export const loginNotice = signal<Notice | undefined>(undefined);

// Signaling
export const client = signal<WebSocketClient | undefined>(undefined);
export const connection = signal<ConnectionState>(ConnectionState.Disconnected);
/** What the agent chose; restored after a reload. */
export const chosenStatus = signal<ChosenStatus>('online');
/** What the server last said this agent's status is (busy during a call). */
export const serverStatus = signal<AgentStatus | undefined>(undefined);
/** The oldest queued calls, as the last `queue_updated` announced them. */
export const queue = signal<readonly QueueEntry[]>([]);
/** How many calls the whole queue holds (`queue_updated`'s total). */
export const queueTotal = signal(0);
/** The callers past the announced ones that "Show more" read (`queue_list`), oldest first. */
export const queueMore = signal<readonly QueueEntry[]>([]);
/** A read of further queue pages is under way. */
export const queueLoading = signal(false);
/** Queue entries hidden at once because this agent lost the race to accept them. */
export const lostRaces = signal<ReadonlySet<string>>(new Set());
export const ring = signal<Ring | undefined>(undefined);
/**
 * Where focus was when the ring arrived, to give it back when the dialog closes. Taken before
 * the dialog renders: making the page inert for the dialog blurs the focused control.
 */
export const ringFocus: { before: HTMLElement | null } = { before: null };
export const activeCall = signal<ActiveCall | undefined>(undefined);
/** The visitor's link is down (`peer_disconnected`) and may come back. */
export const peerDown = signal(false);
export const team = signal<ReadonlyMap<string, TeamMember>>(new Map());
/** A notice above the tabs (call ended, media failed, ...). */
export const banner = signal<Notice | undefined>(undefined);
/** The text of the polite live region: what a screen reader should hear now. */
export const announcement = signal('');

// UI
export const tab = signal<Tab>('queue');
/** Ticks every second while something on screen counts (waits, countdowns). */
export const now = signal(Date.now());

// Call log
export const history = signal<{
  rows: readonly CallRow[];
  nextCursor: string | null;
  loading: boolean;
  loaded: boolean;
  error: string | undefined;
}>({ rows: [], nextCursor: null, loading: false, loaded: false, error: undefined });
export const historyFilters = signal<HistoryFilters>({ from: '', to: '', state: '', agentId: '' });
export const today = signal<{
  stats: CallStatsBody | undefined;
  loading: boolean;
  error: string | undefined;
}>({ stats: undefined, loading: false, error: undefined });

/** Every queue entry known: the announced ones, then the further pages (a caller once). */
const knownQueue = computed(() => {
  const announced = new Set(queue.value.map((entry) => entry.callId));
  return [...queue.value, ...queueMore.value.filter((entry) => !announced.has(entry.callId))];
});

/** The queue as shown: without the entries this agent just lost. */
export const visibleQueue = computed(() =>
  knownQueue.value.filter((entry) => !lostRaces.value.has(entry.callId)),
);

/** Callers waiting, shown or not, less those this agent just lost. */
export const waitingCount = computed(() =>
  Math.max(0, queueTotal.value - (knownQueue.value.length - visibleQueue.value.length)),
);

/** Whether the queue holds callers past those shown. */
export const queueHasMore = computed(() => queueTotal.value > knownQueue.value.length);

/** Says `text` through the live region (repeated text is said again). */
export function announce(text: string): void {
  announcement.value = announcement.value === text ? `${text}\u00a0` : text;
}
