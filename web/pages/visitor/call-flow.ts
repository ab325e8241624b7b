/**
 * The visitor's call, from the start form to the rating: the one writer of the call's state
 * in `store.ts`. It listens to the signaling client, creates the `CallSession` on
 * `call_started` (or `call_resumed` after a refresh) with the stream of the device check, and
 * turns every way a call can fail into a {@link Failure} the page explains.
 */
import { CallSession, type CallType, type WebSocketClient } from '@calldocker/client';
import { ApiError } from '../shared/api.js';
import { createClient, companyGone, newToken } from './connection.js';
import { cancelCheck, checkDevices, releaseDevices, takeStream } from './device.js';
import { postToParent, startEmbed } from './embed.js';
import { forgetCall, load, persistFor, save } from './persist.js';
import { boot, get, set, setForm, type Failure } from './store.js';

/** How long a refreshed page waits for the server to hand its call back before starting over. */
const RESUME_WAIT_MS = 5000;

let client: WebSocketClient | undefined;
let everConnected: () => boolean = () => false;
let unsubscribe: Array<() => void> = [];
let resumeTimer: ReturnType<typeof setTimeout> | undefined;
/** Bumped by Cancel, so a request still on its way is cancelled when its ack comes. */
let placing = 0;

/** Starts the page: company check, embed mode, connection, and a call to resume if any. */
export function startPage(): void {
  persistFor(boot.companyId);
  // A refresh keeps what the visitor typed: the next call is still theirs, under their name.
  const { tokenName, purpose } = load();
  setForm({ name: tokenName ?? '', purpose: purpose ?? '' });
  if (boot.embed) startEmbed(hangUp);
  if (boot.companyDisabled) return fail('company_disabled');
  void connect();
}

/** (Re)connects with a fresh client; a stored call is resumed when the server hands it back. */
export async function connect(): Promise<void> {
  for (const off of unsubscribe.splice(0)) off();
  client?.disconnect();
  ({ client, everConnected } = createClient());
  wire(client);
  const saved = load();
  const { view } = get();
  if (saved.callId !== undefined) {
    set({ waiting: { callId: saved.callId, status: 'resuming' }, view: 'waiting' });
  } else if (view === 'loading' || view === 'failure') {
    set({ view: 'start' });
  }
  try {
    await client.connect();
  } catch {
    return; // `failed` says why
  }
  if (saved.callId !== undefined) {
    clearTimeout(resumeTimer);
    resumeTimer = setTimeout(() => {
      if (get().waiting?.status !== 'resuming') return;
      forgetCall();
      set({ waiting: undefined, view: 'start' });
    }, RESUME_WAIT_MS);
  }
}

function wire(c: WebSocketClient): void {
  const mine = (callId: string) => callId === (get().live?.callId ?? get().waiting?.callId);
  unsubscribe = [
    c.on('state', ({ newState }) => set({ connection: newState })),
    c.on('failed', (err) => {
      if (err.code === 'refused' || err.code === 'forbidden' || companyGone) {
        fail('company_disabled');
      } else {
        fail(everConnected() ? 'connection_lost' : 'unreachable', { keepCall: true });
      }
    }),
    c.on('agent_list', (m) => set({ agents: m.agents })),
    c.on('agent_status_changed', (m) => {
      const others = get().agents.filter((a) => a.id !== m.agentId);
      set({
        agents:
          m.status === 'offline'
            ? others
            : [...others, { id: m.agentId, name: m.name, status: m.status }].sort((a, b) =>
                a.name.localeCompare(b.name),
              ),
      });
      if (get().form.agentId === m.agentId && m.status !== 'online') setForm({ agentId: '' });
    }),
    c.on('queue_position', (m) => {
      const { waiting } = get();
      if (waiting?.callId === m.callId) {
        set({
          waiting: { ...waiting, position: m.position, estimatedWaitSec: m.estimatedWaitSec },
        });
      }
    }),
    c.on('call_waiting', (m) => {
      if (!mine(m.callId)) return;
      clearTimeout(resumeTimer);
      set({
        waiting: {
          callId: m.callId,
          status: m.status,
          position: m.position,
          estimatedWaitSec: m.estimatedWaitSec,
          agentName: load().agentName,
        },
        view: 'waiting',
      });
    }),
    c.on('call_started', (m) => {
      if (!mine(m.callId) && get().waiting?.status !== 'placing') return;
      startSession(m.callId, m.callType, 'caller', m.peer.name, Date.now(), takeStream());
      postToParent({ type: 'call_started', callId: m.callId });
    }),
    c.on('call_resumed', (m) => {
      clearTimeout(resumeTimer);
      set({ peerAway: false });
      if (get().live?.callId === m.callId) return; // the session restarts ICE by itself
      const saved = load();
      startSession(m.callId, m.callType, m.role, m.peer.name, saved.answeredAt ?? Date.now());
    }),
    c.on('peer_disconnected', (m) => mine(m.callId) && set({ peerAway: true })),
    c.on('peer_reconnected', (m) => mine(m.callId) && set({ peerAway: false })),
    c.on('call_ended', (m) => {
      const { ended, live, waiting } = get();
      if (ended?.callId === m.callId) {
        set({ ended: { ...ended, durationSec: m.durationSec } });
      } else if (live?.callId === m.callId) {
        finishCall(m.durationSec);
      } else if (waiting?.callId === m.callId) {
        fail('connection_lost');
      }
    }),
    c.on('call_declined', (m) => mine(m.callId) && fail('declined')),
    c.on('call_missed', (m) => mine(m.callId) && fail(m.reason)),
  ];
}

function startSession(
  callId: string,
  callType: CallType,
  role: 'caller' | 'callee',
  peerName: string,
  answeredAt: number,
  localStream?: MediaStream,
): void {
  clearTimeout(resumeTimer);
  const session = new CallSession({
    client: client!,
    callId,
    callType,
    role,
    ...(localStream === undefined ? {} : { localStream }),
  });
  save({ callId, callType, role, answeredAt, peerName });
  set({
    live: { callId, callType, peerName, answeredAt, session, client: client! },
    waiting: undefined,
    peerAway: false,
    view: 'call',
  });
  session.start().catch(() => {
    // Media went away between the check and the answer (or after a refresh): end cleanly.
    void session.hangup('media_error');
  });
}

function finishCall(durationSec: number): void {
  const call = get().live;
  if (call === undefined) return;
  call.session.close();
  forgetCall();
  set({
    live: undefined,
    peerAway: false,
    ended: { callId: call.callId, durationSec, token: load().token ?? '' },
    rating: 'idle',
    view: 'after',
  });
  postToParent({ type: 'call_ended', callId: call.callId, durationSec });
}

/** Ends the live call (or cancels a waiting one): the Hang up button and the parent's `hangup`. */
export function hangUp(): void {
  const call = get().live;
  if (call === undefined) return cancelCall();
  void call.session.hangup().catch(() => undefined);
  // The server's `call_ended` corrects this with its own count when it arrives.
  finishCall(Math.round((Date.now() - call.answeredAt) / 1000));
}

/** Shows a failure, releasing whatever the call held. */
export function fail(kind: Failure, options: { keepCall?: boolean } = {}): void {
  clearTimeout(resumeTimer);
  get().live?.session.close();
  releaseDevices();
  if (options.keepCall !== true) forgetCall();
  set({ live: undefined, waiting: undefined, peerAway: false, failure: kind, view: 'failure' });
}

/** From the start form to the device check. */
export function checkThenCall(): void {
  set({ failure: undefined, view: 'device' });
  void checkDevices();
}

/** The device check's Back: release the devices, back to the form. */
export function leaveDeviceCheck(): void {
  cancelCheck();
  set({ view: 'start' });
}

/** Places the call with the checked stream: queued for anyone, or ringing the chosen agent. */
export async function placeCall(): Promise<void> {
  const ticket = ++placing;
  const { form, agents } = get();
  const name = form.name.trim();
  const { agentId, callType } = form;
  const purpose = form.purpose.trim();
  const agentName = agents.find((a) => a.id === agentId)?.name;
  set({ waiting: { callId: undefined, status: 'placing', agentName }, view: 'waiting' });
  try {
    // The agent sees the name from the token: a new name needs a new token (a new visitor).
    if ((load().tokenName ?? '') !== name) {
      await newToken(name);
      await connect();
    }
    await client!.connect();
    const ack = await client!.requestCall(callType, {
      ...(agentId === '' ? {} : { agentId }),
      ...(purpose === '' ? {} : { purpose }),
    });
    if (ticket !== placing) return void client!.cancelCall(ack.callId).catch(() => undefined);
    if (get().live?.callId === ack.callId) return; // answered before the ack came
    save({ callId: ack.callId, callType, role: 'caller', agentName, purpose });
    set({
      waiting: {
        callId: ack.callId,
        status: ack.status,
        position: ack.position,
        estimatedWaitSec: ack.estimatedWaitSec,
        agentName,
      },
    });
  } catch (err) {
    if (ticket !== placing || get().view === 'failure') return;
    const code = (err as { code?: string }).code;
    if (code === 'unavailable') fail('agent_unavailable');
    else if (code === 'busy') fail('agent_busy');
    else if (code === 'queue_full' || code === 'rate_limited') fail(code);
    else if (companyGone || (err instanceof ApiError && err.code === 'not_found'))
      fail('company_disabled');
    else fail('request_failed');
  }
}

/** Gives up a call not answered yet. */
export function cancelCall(): void {
  placing++;
  const callId = get().waiting?.callId;
  if (callId !== undefined) void client?.cancelCall(callId).catch(() => undefined);
  forgetCall();
  releaseDevices();
  set({ waiting: undefined, view: 'start' });
}

/** The device check's "Call with audio only": check the microphone alone, then call. */
export async function callWithAudioOnly(): Promise<void> {
  setForm({ callType: 'audio' });
  if (await checkDevices()) await placeCall();
}

/** The busy screen's "Call any available agent": the same call, for the queue this time. */
export function callAnyone(): void {
  setForm({ agentId: '' });
  checkThenCall();
}

/** The failure screen's "Try again". */
export function retry(): void {
  const kind = get().failure;
  if (kind === 'company_disabled') return location.reload();
  set({ failure: undefined, view: 'start' });
  if (kind === 'connection_lost' || kind === 'unreachable') void connect();
}

/** After the call: back to the start form. */
export function callAgain(): void {
  set({ ended: undefined, view: 'start' });
}
