/**
 * The dashboard's link to the signaling server: one {@link WebSocketClient} per session, its
 * events turned into store updates, and the agent's actions (status, accept, decline, hang up).
 * The `CallSession` is created synchronously in the `call_started` listener, as the client's
 * documentation requires, so the visitor's offer always finds it listening.
 */
import {
  CallDockerError,
  CallSession,
  CloseCode,
  WebSocketClient,
  type CallType,
  type ServerMessageOf,
} from '@calldocker/client';
import { readBoot, signalingUrlOf } from '../shared/boot.js';
import { clearRingAlerts, alertRing } from './alerts.js';
import { refreshAfterCall, resetCallLog } from './call-log.js';
import { formatDuration } from './format.js';
import { queueUpdated, resetQueue } from './queue.js';
import { startRinging, stopRinging } from './ringtone.js';
import { endSession, freshToken, sessionHooks } from './session.js';
import {
  activeCall,
  announce,
  banner,
  chosenStatus,
  client,
  connection,
  lostRaces,
  peerDown,
  queueMore,
  ring,
  ringFocus,
  serverStatus,
  team,
  type Auth,
  type ChosenStatus,
  type TeamMember,
} from './store.js';
import { strings } from './strings.js';

const STATUS_KEY = 'calldocker.agent.status.';
/** The 4001 close reason of a token revoked while connected (docs/PROTOCOL.md, Close codes). */
const REVOKED = 'revoked';

/**
 * Set by a 4001 `revoked` close: the client then asks `getToken`, which must refresh even though
 * the token is far from expiry. The refresh renews a token whose role changed and ends the
 * session otherwise.
 */
let mustRefresh = false;
const ANSWERED_KEY = 'calldocker.agent.answeredAt.';

/** Who called and why, by call id: `call_started` names the peer but not the purpose. */
const callers = new Map<string, { name: string; purpose: string | undefined }>();

function setTeamMember(member: TeamMember): void {
  const next = new Map(team.value);
  next.set(member.id, member);
  team.value = next;
}

/** Rings stop: dialog, ringtone, notification, blinking title. */
function stopRing(callId: string, message?: string): void {
  if (ring.value?.callId !== callId) return;
  ring.value = undefined;
  stopRinging();
  clearRingAlerts();
  if (message !== undefined) announce(message);
}

function startCall(
  c: WebSocketClient,
  callId: string,
  callType: CallType,
  peerName: string,
  role: 'caller' | 'callee',
): void {
  activeCall.value?.session.close();
  const session = new CallSession({ client: c, callId, callType, role });
  // A caller opened with "Show more" was never in a queue_updated: its entry is in the page.
  const listed = queueMore.value.find((entry) => entry.callId === callId);
  const known =
    callers.get(callId) ??
    (listed === undefined ? undefined : { name: listed.visitor.name, purpose: listed.purpose });
  const stored = Number(sessionStorage.getItem(ANSWERED_KEY + callId));
  const answeredAt = Number.isFinite(stored) && stored > 0 ? stored : Date.now();
  sessionStorage.setItem(ANSWERED_KEY + callId, String(answeredAt));
  activeCall.value = {
    callId,
    callType,
    peerName,
    purpose: known?.purpose,
    answeredAt,
    session,
  };
  peerDown.value = false;
  banner.value = undefined;
  announce(strings.callStarted(peerName));
  session.on('ended', ({ durationSec }) => finishCall(callId, durationSec));
  // start() rejects only with a MediaError (no camera, permission refused, device busy).
  session.start().catch(() => {
    banner.value = { kind: 'bad', text: strings.mediaFailed };
    void session.hangup('media_error');
  });
}

function finishCall(callId: string, durationSec: number): void {
  const call = activeCall.value;
  if (call?.callId !== callId) return;
  call.session.close();
  activeCall.value = undefined;
  peerDown.value = false;
  sessionStorage.removeItem(ANSWERED_KEY + callId);
  callers.delete(callId);
  const text = strings.callEnded(call.peerName, formatDuration(durationSec));
  if (banner.value?.kind !== 'bad') banner.value = { kind: 'info', text };
  announce(text);
}

function onIncoming(m: ServerMessageOf<'call_incoming'>): void {
  callers.set(m.callId, { name: m.visitor.name, purpose: m.purpose });
  if (ring.value === undefined) {
    ringFocus.before =
      document.activeElement instanceof HTMLElement ? document.activeElement : null;
  }
  ring.value = {
    callId: m.callId,
    visitorName: m.visitor.name,
    purpose: m.purpose,
    callType: m.callType,
    expiresAt: m.expiresAt,
  };
  startRinging();
  alertRing(m.callId, m.visitor.name, m.purpose);
}

function wire(c: WebSocketClient, me: Auth['agent']): void {
  c.on('state', ({ newState }) => (connection.value = newState));
  c.on('connection_established', () => {
    // The server starts every fresh presence online; a choice made before a reload wins.
    if (chosenStatus.value !== 'online') {
      c.updateAgentStatus(chosenStatus.value).catch(() => undefined);
    }
  });
  c.on('disconnected', ({ code, reason }) => {
    if (code === CloseCode.Unauthorized && reason === REVOKED) {
      mustRefresh = true; // the client reconnects through getToken
    } else if (code === CloseCode.Unauthorized) {
      endSession({ kind: 'warn', text: strings.sessionRefused });
    } else if (code === CloseCode.Forbidden) {
      // The company or the agent was disabled (at the upgrade or while connected).
      endSession({ kind: 'warn', text: strings.accessChanged });
    }
  });
  c.on('failed', (err) => {
    if (err.closeCode !== CloseCode.Unauthorized && err.closeCode !== CloseCode.Forbidden) {
      endSession({ kind: 'warn', text: strings.unreachable });
    }
  });
  c.on('queue_updated', ({ calls, total }) => {
    for (const entry of calls) {
      callers.set(entry.callId, { name: entry.visitor.name, purpose: entry.purpose });
    }
    queueUpdated(c, calls, total);
  });
  c.on('agent_status_changed', ({ agentId, name, status }) => {
    setTeamMember({ id: agentId, name, status });
    if (agentId === me.id) serverStatus.value = status;
  });
  // The team as it is when this connection opens; the changes follow as agent_status_changed.
  c.on('agent_list', ({ agents }) => {
    team.value = new Map(agents.map((a) => [a.id, { id: a.id, name: a.name, status: a.status }]));
  });
  c.on('user_joined', ({ user }) => {
    if (user.role !== 'visitor' && !team.value.has(user.id)) {
      setTeamMember({ id: user.id, name: user.name, status: 'online' });
    }
  });
  c.on('call_incoming', onIncoming);
  c.on('call_answered_elsewhere', ({ callId }) => stopRing(callId, strings.answeredElsewhere));
  c.on('call_declined', ({ callId }) => {
    const name = ring.value?.visitorName ?? '';
    stopRing(callId, strings.declined(name));
  });
  c.on('call_missed', ({ callId }) => {
    const name = ring.value?.visitorName;
    if (name !== undefined) {
      stopRing(callId, strings.callMissed(name));
      banner.value = { kind: 'warn', text: strings.callMissed(name) };
    }
  });
  c.on('call_ended', ({ callId, durationSec }) => {
    const name = ring.value?.visitorName;
    if (ring.value?.callId === callId && name !== undefined) {
      stopRing(callId, strings.callCancelled(name));
    }
    finishCall(callId, durationSec);
  });
  c.on('call_started', ({ callId, callType, peer }) => {
    stopRing(callId);
    startCall(c, callId, callType, peer.name, 'callee');
  });
  c.on('call_resumed', ({ callId, callType, peer, role }) => {
    if (activeCall.value?.callId === callId) return;
    startCall(c, callId, callType, peer.name, role);
  });
  c.on('peer_disconnected', ({ callId }) => {
    if (activeCall.value?.callId === callId) peerDown.value = true;
  });
  c.on('peer_reconnected', ({ callId }) => {
    if (activeCall.value?.callId === callId) peerDown.value = false;
  });
  c.on('call_finished', () => refreshAfterCall());
}

function start(a: Auth): void {
  const stored = localStorage.getItem(STATUS_KEY + a.agent.id);
  chosenStatus.value = stored === 'away' || stored === 'offline' ? stored : 'online';
  team.value = new Map([[a.agent.id, { id: a.agent.id, name: a.agent.name, status: 'online' }]]);
  const c = new WebSocketClient({
    url: signalingUrlOf(readBoot('agent')),
    token: a.token,
    getToken: () => {
      const force = mustRefresh;
      mustRefresh = false;
      return freshToken(undefined, force);
    },
  });
  client.value = c;
  wire(c, a.agent);
  // Refusals arrive as `disconnected`/`failed` above; nothing else rejects connect().
  c.connect().catch(() => undefined);
}

function stop(): void {
  const c = client.value;
  const call = activeCall.value;
  if (call !== undefined) {
    void call.session.hangup();
    activeCall.value = undefined;
  }
  if (ring.value !== undefined) stopRing(ring.value.callId);
  c?.disconnect();
  client.value = undefined;
  resetQueue();
  lostRaces.value = new Set();
  serverStatus.value = undefined;
  team.value = new Map();
  banner.value = undefined;
  callers.clear();
  resetCallLog();
}

sessionHooks.start = start;
sessionHooks.stop = stop;

/** The agent chose a status: sent, remembered for the next page load. */
export async function chooseStatus(status: ChosenStatus, agentId: string): Promise<void> {
  const before = chosenStatus.value;
  chosenStatus.value = status;
  localStorage.setItem(STATUS_KEY + agentId, status);
  try {
    await client.value?.updateAgentStatus(status);
    announce(strings.statusSet(strings.statusWord[status]));
  } catch {
    chosenStatus.value = before;
    localStorage.setItem(STATUS_KEY + agentId, before);
    announce(strings.statusFailed);
  }
}

/** Whether an accept that failed with this error simply lost a race (say nothing). */
function lostRace(err: unknown): boolean {
  return err instanceof CallDockerError && (err.code === 'conflict' || err.code === 'not_found');
}

/** Accepts a queued call or the one ringing this agent. */
export async function acceptCall(callId: string): Promise<void> {
  const c = client.value;
  if (c === undefined) return;
  try {
    await c.acceptCall(callId);
  } catch (err) {
    if (lostRace(err)) {
      lostRaces.value = new Set([...lostRaces.value, callId]);
      stopRing(callId);
      return;
    }
    announce(strings.acceptFailed);
    banner.value = { kind: 'bad', text: strings.acceptFailed };
  }
}

/** Declines the call ringing this agent. */
export async function declineCall(callId: string): Promise<void> {
  const name = ring.value?.visitorName ?? '';
  stopRing(callId, strings.declined(name));
  await client.value?.declineCall(callId).catch(() => undefined);
}

/** Hangs up the current call. */
export function hangUp(): void {
  const call = activeCall.value;
  if (call === undefined) return;
  void call.session.hangup();
}
