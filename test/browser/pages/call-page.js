/* global window, document, location, sessionStorage, URLSearchParams, WebSocket, MediaStream */
/**
 * A test page that makes or takes one call with the built library only (`/calldocker.js`).
 *
 * Query string: `signal` (the signaling server's ws URL), `token` (a JWT), `role` (`visitor`
 * requests a call, `agent` accepts the first one it is offered), `callType` (default video),
 * and for a visitor `agentId` (ring that agent instead of queueing) and `purpose`.
 * The page keeps its state on `window.__calldocker` for the test to read:
 * `events` (what happened, in order), `session` (the current CallSession), `startError`,
 * `remoteMediaState` (the last one received), `stats()` and `video()` (inbound video counters).
 *
 * `hold(true)` holds back incoming signaling frames until `hold(false)`, so a test can make both
 * sides create an offer before either sees the other's (deterministic glare).
 */
import { CallSession, WebSocketClient } from '/calldocker.js';

const params = new URLSearchParams(location.search);
const role = params.get('role') ?? 'visitor';
const callType = params.get('callType') ?? 'video';
const CALL_KEY = 'calldocker.callId';

let holding = false;
const held = [];

/** The browser's WebSocket, with incoming frames held back while `holding`. */
class HoldableWebSocket extends WebSocket {
  get onmessage() {
    return super.onmessage;
  }
  set onmessage(listener) {
    super.onmessage =
      listener === null ? null : (ev) => (holding ? held.push(() => listener(ev)) : listener(ev));
  }
}

const client = new WebSocketClient({
  url: params.get('signal') ?? '',
  token: params.get('token') ?? '',
  WebSocket: HoldableWebSocket,
});

const state = {
  role,
  events: [],
  session: undefined,
  sessions: 0,
  startError: undefined,
  remoteMediaState: undefined,
  client,
  hold(on) {
    holding = on;
    if (!on) for (const deliver of held.splice(0)) deliver();
  },
  stats: () => state.session?.stats(),
  /** framesDecoded and size of the inbound video, read from getStats() directly. */
  async video() {
    const report = await state.session?.pc.getStats();
    let out = { framesDecoded: 0, frameWidth: 0, frameHeight: 0 };
    report?.forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'video') {
        out = {
          framesDecoded: s.framesDecoded ?? 0,
          frameWidth: s.frameWidth ?? 0,
          frameHeight: s.frameHeight ?? 0,
        };
      }
    });
    return out;
  },
};
window.__calldocker = state;

function record(type, data = {}) {
  state.events.push({ type, at: Date.now(), ...data });
}

client.on('state', ({ newState }) => record('state', { state: newState }));
client.on('message', (m) => {
  const s = state.session;
  // Listened to before any session's own listener, so this sees the state an offer meets.
  if (m.type === 'webrtc_offer' || m.type === 'webrtc_answer') {
    const sdp = m.type === 'webrtc_offer' ? m.offer.sdp : m.answer.sdp;
    record(m.type, {
      signalingState: s?.pc.signalingState,
      iceUfrag: /^a=ice-ufrag:(.+)$/m.exec(sdp)?.[1],
    });
  } else if (m.type !== 'ice_candidate' && m.type !== 'pong') {
    record(m.type, 'callId' in m ? { callId: m.callId } : {});
  }
});

function startSession(callId, sessionRole, type) {
  state.session?.close();
  const session = new CallSession({ client, callId, callType: type, role: sessionRole });
  state.session = session;
  state.sessions++;
  sessionStorage.setItem(CALL_KEY, callId);
  const video = document.getElementById('remote');
  session.on('track', ({ track, streams }) => {
    record('track', { kind: track.kind });
    if (track.kind === 'video') video.srcObject = streams[0] ?? new MediaStream([track]);
  });
  session.on('connectionState', ({ state: s }) => record('connectionState', { state: s }));
  session.on('remoteMediaState', (media) => {
    state.remoteMediaState = media;
    record('remoteMediaState', media);
  });
  session.on('error', ({ error }) =>
    record('error', { name: error?.name, message: error?.message }),
  );
  session.on('ended', ({ reason }) => {
    sessionStorage.removeItem(CALL_KEY);
    record('ended', { reason });
  });
  session.start().then(
    () => record('started'),
    (err) => {
      state.startError = { name: err?.name, reason: err?.reason, message: err?.message };
      record('startError', state.startError);
      void session.hangup('media_error');
    },
  );
}

client.on('call_started', (m) =>
  startSession(m.callId, role === 'visitor' ? 'caller' : 'callee', m.callType),
);
// After a reload the server hands the call back with our role. After a mere dropped connection
// the session is still here and restarts ICE by itself.
client.on('call_resumed', (m) => {
  if (state.session?.callId !== m.callId) startSession(m.callId, m.role, m.callType);
});

if (role === 'agent') {
  const accept = (callId) => {
    if (state.session !== undefined || state.accepting) return;
    state.accepting = true;
    client.acceptCall(callId).catch((err) => {
      state.accepting = false;
      record('acceptError', { code: err?.code });
    });
  };
  client.on('queue_updated', (m) => m.calls[0] && accept(m.calls[0].callId));
  client.on('call_incoming', (m) => accept(m.callId));
}

client.connect().then(
  () => {
    record('connected');
    // A reloaded visitor waits for call_resumed instead of asking for a second call.
    if (role === 'visitor' && sessionStorage.getItem(CALL_KEY) === null) {
      const ask = {};
      if (params.get('agentId') !== null) ask.agentId = params.get('agentId');
      if (params.get('purpose') !== null) ask.purpose = params.get('purpose');
      client.requestCall(callType, ask).then(
        (ack) => record('requested', { callId: ack.callId }),
        (err) => record('requestError', { code: err?.code }),
      );
    }
  },
  (err) => record('connectError', { code: err?.code }),
);
