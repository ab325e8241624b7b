/**
 * The visitor's call, from the start form to the rating: the one writer of the call's signals
 * in `store.ts`. It listens to the signaling client, creates the `CallSession` on
 * `call_started` (or `call_resumed` after a refresh) with the stream of the device check, and
 * turns every way a call can fail into a {@link Failure} the page explains.
 */
import { CallSession, type CallType, type WebSocketClient } from 'calldocker/client';
import { ApiError } from '../shared/api.js';
import { createClient, companyGone, newToken } from './connection.js';
import { cancelCheck, checkDevices, releaseDevices, takeStream } from './device.js';
import { postToParent, startEmbed } from './embed.js';
import { forgetCall, load, persistFor, save } from './persist.js';
import {
  agents,
  boot,
  connection,
  ended,
  failure,
  form,
  live,
  peerAway,
  rating,
  view,
  waiting,
  type Failure,
} from './store.js';

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
  if (saved.callId !== undefined) {
    waiting.value = { callId: saved.callId, status: 'resuming' };
    view.value = 'waiting';
  } else if (view.value === 'loading' || view.value === 'failure') {
    view.value = 'start';
  }
  try {
    await client.connect();
  } catch {
    return; // `failed` says why
  }
  if (saved.callId !== undefined) {
    clearTimeout(resumeTimer);
    resumeTimer = setTimeout(() => {
      if (waiting.value?.status !== 'resuming') return;
      forgetCall();
      waiting.value = undefined;
      view.value = 'start';
    }, RESUME_WAIT_MS);
  }
}

function wire(c: WebSocketClient): void {
  const mine = (callId: string) => callId === (live.value?.callId ?? waiting.value?.callId);
  unsubscribe = [
    c.on('state', ({ newState }) => (connection.value = newState)),
    c.on('failed', (err) => {
      if (err.code === 'refused' || err.code === 'forbidden' || companyGone) {
        fail('company_disabled');
      } else {
        fail(everConnected() ? 'connection_lost' : 'unreachable', { keepCall: true });
      }
    }),
    c.on('agent_list', (m) => (agents.value = m.agents)),
    c.on('agent_status_changed', (m) => {
      const others = agents.value.filter((a) => a.id !== m.agentId);
      agents.value =
        m.status === 'offline'
          ? others
          : [...others, { id: m.agentId, name: m.name, status: m.status }].sort((a, b) =>
              a.name.localeCompare(b.name),
            );
      if (form.agentId.value === m.agentId && m.status !== 'online') form.agentId.value = '';
    }),
    c.on('queue_position', (m) => {
      if (waiting.value?.callId === m.callId) {
        waiting.value = {
          ...waiting.value,
          position: m.position,
          estimatedWaitSec: m.estimatedWaitSec,
        };
      }
    }),
    c.on('call_waiting', (m) => {
      if (!mine(m.callId)) return;
      clearTimeout(resumeTimer);
      waiting.value = {
        callId: m.callId,
        status: m.status,
        position: m.position,
        estimatedWaitSec: m.estimatedWaitSec,
        agentName: load().agentName,
      };
      view.value = 'waiting';
    }),
    c.on('call_started', (m) => {
      if (!mine(m.callId) && waiting.value?.status !== 'placing') return;
      startSession(m.callId, m.callType, 'caller', m.peer.name, Date.now(), takeStream());
      postToParent({ type: 'call_started', callId: m.callId });
    }),
    c.on('call_resumed', (m) => {
      clearTimeout(resumeTimer);
      peerAway.value = false;
      if (live.value?.callId === m.callId) return; // the session restarts ICE by itself
      const saved = load();
      startSession(m.callId, m.callType, m.role, m.peer.name, saved.answeredAt ?? Date.now());
    }),
    c.on('peer_disconnected', (m) => mine(m.callId) && (peerAway.value = true)),
    c.on('peer_reconnected', (m) => mine(m.callId) && (peerAway.value = false)),
    c.on('call_ended', (m) => {
      if (ended.value?.callId === m.callId) {
        ended.value = { ...ended.value, durationSec: m.durationSec };
      } else if (live.value?.callId === m.callId) {
        finishCall(m.durationSec);
      } else if (waiting.value?.callId === m.callId) {
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
  live.value = { callId, callType, peerName, answeredAt, session, client: client! };
  waiting.value = undefined;
  peerAway.value = false;
  view.value = 'call';
  session.start().catch(() => {
    // Media went away between the check and the answer (or after a refresh): end cleanly.
    void session.hangup('media_error');
  });
}

function finishCall(durationSec: number): void {
  const call = live.value;
  if (call === undefined) return;
  call.session.close();
  live.value = undefined;
  peerAway.value = false;
  ended.value = { callId: call.callId, durationSec, token: load().token ?? '' };
  rating.value = 'idle';
  forgetCall();
  view.value = 'after';
  postToParent({ type: 'call_ended', callId: call.callId, durationSec });
}

/** Ends the live call (or cancels a waiting one): the Hang up button and the parent's `hangup`. */
export function hangUp(): void {
  const call = live.value;
  if (call === undefined) return cancelCall();
  void call.session.hangup().catch(() => undefined);
  // The server's `call_ended` corrects this with its own count when it arrives.
  finishCall(Math.round((Date.now() - call.answeredAt) / 1000));
}

/** Shows a failure, releasing whatever the call held. */
export function fail(kind: Failure, options: { keepCall?: boolean } = {}): void {
  clearTimeout(resumeTimer);
  live.value?.session.close();
  live.value = undefined;
  waiting.value = undefined;
  peerAway.value = false;
  releaseDevices();
  if (options.keepCall !== true) forgetCall();
  failure.value = kind;
  view.value = 'failure';
}

/** From the start form to the device check. */
export function checkThenCall(): void {
  failure.value = undefined;
  view.value = 'device';
  void checkDevices();
}

/** The device check's Back: release the devices, back to the form. */
export function leaveDeviceCheck(): void {
  cancelCheck();
  view.value = 'start';
}

/** Places the call with the checked stream: queued for anyone, or ringing the chosen agent. */
export async function placeCall(): Promise<void> {
  const ticket = ++placing;
  const name = form.name.value.trim();
  const agentId = form.agentId.value;
  const purpose = form.purpose.value.trim();
  const callType = form.callType.value;
  const agentName = agents.value.find((a) => a.id === agentId)?.name;
  waiting.value = { callId: undefined, status: 'placing', agentName };
  view.value = 'waiting';
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
    if (live.value?.callId === ack.callId) return; // answered before the ack came
    save({ callId: ack.callId, callType, role: 'caller', agentName });
    waiting.value = {
      callId: ack.callId,
      status: ack.status,
      position: ack.position,
      estimatedWaitSec: ack.estimatedWaitSec,
      agentName,
    };
  } catch (err) {
    if (ticket !== placing || view.peek() === 'failure') return;
    const code = (err as { code?: string }).code;
    if (code === 'unavailable') fail('agent_unavailable');
    else if (companyGone || (err instanceof ApiError && err.code === 'not_found'))
      fail('company_disabled');
    else fail('request_failed');
  }
}

/** Gives up a call not answered yet. */
export function cancelCall(): void {
  placing++;
  const callId = waiting.value?.callId;
  if (callId !== undefined) void client?.cancelCall(callId).catch(() => undefined);
  forgetCall();
  waiting.value = undefined;
  releaseDevices();
  view.value = 'start';
}

/** The device check's "Call with audio only": check the microphone alone, then call. */
export async function callWithAudioOnly(): Promise<void> {
  form.callType.value = 'audio';
  if (await checkDevices()) await placeCall();
}

/** The failure screen's "Try again". */
export function retry(): void {
  const kind = failure.value;
  failure.value = undefined;
  if (kind === 'company_disabled') return location.reload();
  if (kind === 'connection_lost' || kind === 'unreachable') {
    view.value = 'start';
    return void connect();
  }
  view.value = 'start';
}

/** After the call: back to the start form. */
export function callAgain(): void {
  ended.value = undefined;
  view.value = 'start';
}
