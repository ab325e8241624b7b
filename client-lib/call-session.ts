/**
 * `CallSession`: one WebRTC call over a {@link WebSocketClient}.
 *
 * Uses the "perfect negotiation" pattern (https://w3c.github.io/webrtc-pc/#perfect-negotiation-example):
 * the agent is the polite peer and rolls back its own offer on glare, the visitor is impolite,
 * so simultaneous offers can never deadlock. Candidates that arrive before the remote
 * description are buffered. After `call_resumed`, `peer_reconnected` or an ICE failure the
 * caller restarts ICE. Mute, camera off and screen share are sent to the peer as `media_state`.
 *
 * A peer that reloaded its page comes back with a brand-new RTCPeerConnection: new ICE
 * credentials and a new DTLS certificate. Our old connection's DTLS association cannot carry
 * over to it: Chrome accepts the new description, but then stays `connecting` for seconds
 * (about 7 s measured) before it shakes hands again. So when a remote description carries a
 * DTLS fingerprint other than the one our connection already applied, the session replaces its
 * RTCPeerConnection with a new one sending the same tracks, then applies the description (an
 * offer) or, for an answer to an offer of the dropped connection, offers afresh.
 */
import { CallDockerError } from './errors.js';
import { TypedEmitter } from './events.js';
import { readStatsTotals, summarizeStats, type CallStats, type StatsTotals } from './call-stats.js';

export { QUALITY_THRESHOLDS, type CallStats } from './call-stats.js';
import type { CallType, ServerMessageOf } from './protocol.js';
import type { WebSocketClient } from './websocket-client.js';

/** Why media could not be acquired. */
export type MediaErrorReason = 'permission_denied' | 'no_device' | 'device_busy' | 'media_error';

/** Raised by {@link CallSession.start} when the camera or microphone cannot be used. */
export class MediaError extends Error {
  override readonly name = 'MediaError';
  constructor(
    readonly reason: MediaErrorReason,
    message: string,
    override readonly cause?: unknown,
  ) {
    super(message);
  }

  /** Maps a `getUserMedia` DOMException to a reason a page can explain to its user. */
  static from(err: unknown): MediaError {
    const name = (err as { name?: string } | null)?.name ?? '';
    if (name === 'NotAllowedError' || name === 'SecurityError') {
      return new MediaError('permission_denied', 'camera or microphone permission was denied', err);
    }
    if (name === 'NotFoundError' || name === 'OverconstrainedError') {
      return new MediaError('no_device', 'no camera or microphone was found', err);
    }
    if (name === 'NotReadableError' || name === 'AbortError') {
      return new MediaError('device_busy', 'the camera or microphone is in use or failed', err);
    }
    return new MediaError('media_error', 'media could not be acquired', err);
  }
}

/** The local or remote media state. */
export interface MediaState {
  audio: boolean;
  video: boolean;
  screen: boolean;
}

/** Events of a {@link CallSession}. */
export interface CallSessionEvents {
  /** A remote track arrived; `streams[0]` is the peer's stream. Again after a peer's reload. */
  track: { track: MediaStreamTrack; streams: readonly MediaStream[] };
  /** The peer changed its media state. */
  remoteMediaState: MediaState;
  /** The RTCPeerConnection's connection state changed. */
  connectionState: { state: RTCPeerConnectionState };
  /** A chat message from the peer. */
  chat: { text: string; fromUserId: string };
  /** Quality crossed a threshold (from {@link CallSession.stats}). */
  quality: CallStats;
  /** The call ended (either side, or the server). */
  ended: { reason: string; durationSec: number };
  /** A negotiation step failed; the session keeps going where it can. */
  error: { error: unknown };
}

/** Options of {@link CallSession}. */
export interface CallSessionOptions {
  client: WebSocketClient;
  callId: string;
  callType: CallType;
  /** `caller` (the visitor: impolite, sends the first offer) or `callee` (the agent: polite). */
  role: 'caller' | 'callee';
  /** Extra RTCConfiguration; ICE servers default to the server's `connection_established`. */
  rtcConfig?: RTCConfiguration;
  /** Media to send instead of acquiring the camera and microphone. */
  localStream?: MediaStream;
}

type Candidate = RTCIceCandidateInit | null;

/** One WebRTC call. */
export class CallSession extends TypedEmitter<CallSessionEvents> {
  readonly callId: string;
  readonly callType: CallType;
  readonly role: 'caller' | 'callee';
  /** What we send; set by {@link start}. */
  localStream: MediaStream | undefined;
  /** The local media state last sent to the peer. */
  readonly media: MediaState = { audio: true, video: true, screen: false };

  private readonly client: WebSocketClient;
  private readonly polite: boolean;
  private readonly rtcConfig: RTCConfiguration;
  private peer: RTCPeerConnection;
  /** The DTLS fingerprint of the remote descriptions applied to `peer` (one per peer connection). */
  private remoteFingerprint: string | undefined;
  private makingOffer = false;
  private ignoreOffer = false;
  private settingRemoteAnswer = false;
  private haveRemoteOffer = false;
  private readonly pendingCandidates: Candidate[] = [];
  private readonly unsubscribe: Array<() => void> = [];
  private cameraTrack: MediaStreamTrack | undefined;
  private screenTrack: MediaStreamTrack | undefined;
  private closed = false;
  private lastStats: StatsTotals | undefined;

  constructor(options: CallSessionOptions) {
    super();
    this.client = options.client;
    this.callId = options.callId;
    this.callType = options.callType;
    this.role = options.role;
    this.polite = options.role === 'callee';
    this.localStream = options.localStream;
    this.media.video = options.callType === 'video';
    const iceServers = options.rtcConfig?.iceServers ?? this.client.session?.iceServers ?? [];
    this.rtcConfig = { ...options.rtcConfig, iceServers: iceServers as RTCIceServer[] };
    this.peer = this.createPeerConnection();
    this.wireSignaling();
  }

  /**
   * The current peer connection. It is replaced (and the old one closed) when the peer comes
   * back with a new RTCPeerConnection, e.g. after a page reload: read it again when needed.
   */
  get pc(): RTCPeerConnection {
    return this.peer;
  }

  /**
   * Acquires media (unless given) and adds it to the connection, which starts negotiation.
   * @throws MediaError when the camera or microphone cannot be used.
   */
  async start(): Promise<void> {
    if (this.localStream === undefined) {
      const md = (globalThis as { navigator?: { mediaDevices?: MediaDevices } }).navigator
        ?.mediaDevices;
      if (md?.getUserMedia === undefined)
        throw new MediaError('no_device', 'this browser cannot capture media');
      try {
        this.localStream = await md.getUserMedia({ audio: true, video: this.callType === 'video' });
      } catch (err) {
        throw MediaError.from(err);
      }
    }
    for (const track of this.localStream.getTracks()) {
      if (track.kind === 'video') this.cameraTrack = track;
      this.pc.addTrack(track, this.localStream);
    }
  }

  /** Mutes or unmutes the microphone. */
  setAudioEnabled(enabled: boolean): void {
    for (const t of this.localStream?.getAudioTracks() ?? []) t.enabled = enabled;
    this.media.audio = enabled;
    this.sendMediaState();
  }

  /** Turns the camera off or on (the track stays, sending black frames). */
  setVideoEnabled(enabled: boolean): void {
    if (this.cameraTrack !== undefined) this.cameraTrack.enabled = enabled;
    this.media.video = enabled;
    this.sendMediaState();
  }

  /**
   * Shares the screen in place of the camera (replaceTrack: no renegotiation), or goes back
   * to the camera. Pass a track to share it instead of asking `getDisplayMedia`.
   */
  async setScreenShare(enabled: boolean, track?: MediaStreamTrack): Promise<void> {
    const sender = this.pc.getSenders().find((s) => s.track?.kind === 'video' || s.track === null);
    if (sender === undefined) throw new MediaError('no_device', 'the call has no video to replace');
    if (enabled) {
      let screen = track;
      if (screen === undefined) {
        const md = (globalThis as { navigator?: { mediaDevices?: MediaDevices } }).navigator
          ?.mediaDevices;
        try {
          const stream = await md!.getDisplayMedia({ video: true });
          screen = stream.getVideoTracks()[0];
        } catch (err) {
          throw MediaError.from(err);
        }
      }
      if (screen === undefined) throw new MediaError('no_device', 'no screen track');
      this.screenTrack = screen;
      screen.addEventListener('ended', () => void this.setScreenShare(false));
      await sender.replaceTrack(screen);
    } else {
      this.screenTrack?.stop();
      this.screenTrack = undefined;
      await sender.replaceTrack(this.cameraTrack ?? null);
    }
    this.media.screen = enabled;
    this.sendMediaState();
  }

  /** Restarts ICE (the caller makes the new offer). */
  restartIce(): void {
    if (!this.closed) this.pc.restartIce();
  }

  /** Sends a chat message in this call. */
  sendChat(text: string): Promise<unknown> {
    return this.client.sendChat(this.callId, text);
  }

  /** A summary of RTT, jitter, loss and bitrate; emits `quality` when a threshold is crossed. */
  async stats(): Promise<CallStats> {
    const totals = readStatsTotals(await this.pc.getStats());
    const stats = summarizeStats(totals, this.lastStats);
    this.lastStats = totals;
    if (stats.warnings.length > 0) this.emit('quality', stats);
    return stats;
  }

  /** Ends the call (tells the server) and releases the connection and the devices. */
  async hangup(reason?: string): Promise<void> {
    if (this.closed) return;
    // Camera and microphone go off at once, even if the server's answer is slow or the link is
    // down (the request is then queued and resolves, or rejects, later).
    this.close();
    try {
      await this.client.endCall(this.callId, reason);
    } catch (err) {
      // Already ended by the peer or the server: nothing more to tell anyone.
      if (!(err instanceof CallDockerError)) throw err;
    }
  }

  /** Releases the connection and the devices without telling the server. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const off of this.unsubscribe.splice(0)) off();
    this.screenTrack?.stop();
    for (const t of this.localStream?.getTracks() ?? []) t.stop();
    this.pc.close();
  }

  // --- internals --------------------------------------------------------------------------------

  private sendMediaState(): void {
    if (this.closed) return;
    try {
      this.client.sendMediaState(this.callId, this.media);
    } catch (error) {
      this.emit('error', { error });
    }
  }

  /** A new RTCPeerConnection whose callbacks are ignored once it has been replaced. */
  private createPeerConnection(): RTCPeerConnection {
    const pc = new RTCPeerConnection(this.rtcConfig);
    const live = () => pc === this.peer && !this.closed;
    pc.onnegotiationneeded = async () => {
      // The callee waits for the caller's first offer instead of racing it (glare would still
      // be resolved, just with a wasted round trip).
      if (live() && (!this.polite || this.haveRemoteOffer)) await this.makeOffer();
    };
    pc.onicecandidate = ({ candidate }) => {
      if (!live()) return;
      try {
        const c = candidate?.toJSON();
        this.client.sendICECandidate(
          this.callId,
          c === undefined
            ? null
            : {
                candidate: c.candidate ?? '',
                sdpMid: c.sdpMid,
                sdpMLineIndex: c.sdpMLineIndex,
                usernameFragment: c.usernameFragment,
              },
        );
      } catch (error) {
        this.emit('error', { error });
      }
    };
    pc.oniceconnectionstatechange = () => {
      if (live() && pc.iceConnectionState === 'failed' && !this.polite) this.restartIce();
    };
    pc.onconnectionstatechange = () => {
      if (live()) this.emit('connectionState', { state: pc.connectionState });
    };
    pc.ontrack = ({ track, streams }) => {
      if (live()) this.emit('track', { track, streams });
    };
    return pc;
  }

  /**
   * Replaces the peer connection with a new one sending the same tracks (camera or screen,
   * muted or not), for a peer that came back with a new RTCPeerConnection.
   */
  private replacePeerConnection(): void {
    const old = this.peer;
    this.peer = this.createPeerConnection();
    this.remoteFingerprint = undefined;
    this.makingOffer = this.ignoreOffer = this.settingRemoteAnswer = this.haveRemoteOffer = false;
    this.pendingCandidates.length = 0;
    this.lastStats = undefined;
    const stream = this.localStream;
    for (const sender of old.getSenders()) {
      if (sender.track !== null && stream !== undefined) this.peer.addTrack(sender.track, stream);
    }
    old.close();
  }

  private async makeOffer(): Promise<void> {
    const pc = this.peer;
    if (this.closed) return;
    try {
      this.makingOffer = true;
      await pc.setLocalDescription();
      const desc = pc.localDescription;
      if (pc === this.peer && desc?.type === 'offer')
        this.client.sendWebRTCOffer(this.callId, { type: 'offer', sdp: desc.sdp });
    } catch (error) {
      if (pc === this.peer) this.emit('error', { error });
    } finally {
      if (pc === this.peer) this.makingOffer = false;
    }
  }

  private async onDescription(description: RTCSessionDescriptionInit): Promise<void> {
    const fingerprint = /^a=fingerprint:(.+)$/m.exec(description.sdp ?? '')?.[1]?.trim();
    const replaced =
      fingerprint !== undefined &&
      this.remoteFingerprint !== undefined &&
      fingerprint !== this.remoteFingerprint;
    if (replaced) {
      // The peer has a new RTCPeerConnection (it reloaded): ours cannot follow it (see top).
      this.replacePeerConnection();
      // An answer belongs to an offer of the connection just dropped: offer afresh instead.
      if (description.type === 'answer') return this.makeOffer();
    }
    const pc = this.peer;
    // Perfect negotiation, as in the spec's example (including its answer-pending guard, so an
    // offer that arrives while our answer is being applied is not mistaken for glare).
    const readyForOffer =
      !this.makingOffer && (pc.signalingState === 'stable' || this.settingRemoteAnswer);
    const collision = description.type === 'offer' && !readyForOffer;
    this.ignoreOffer = !this.polite && collision;
    if (this.ignoreOffer) return;
    if (description.type === 'offer') this.haveRemoteOffer = true;
    if (fingerprint !== undefined) this.remoteFingerprint = fingerprint;
    this.settingRemoteAnswer = description.type === 'answer';
    try {
      await pc.setRemoteDescription(description); // rolls back our own offer on glare (polite)
    } finally {
      if (pc === this.peer) this.settingRemoteAnswer = false;
    }
    if (pc !== this.peer) return;
    const sdp = description.sdp ?? '';
    for (const c of this.pendingCandidates.splice(0)) {
      // Skip candidates of a connection the peer has dropped since (another ufrag).
      if (c?.usernameFragment && !sdp.includes(`a=ice-ufrag:${c.usernameFragment}`)) continue;
      await this.addCandidate(c);
    }
    if (description.type === 'offer') {
      await pc.setLocalDescription();
      const answer = pc.localDescription;
      if (pc === this.peer && answer?.type === 'answer')
        this.client.sendWebRTCAnswer(this.callId, { type: 'answer', sdp: answer.sdp });
    }
  }

  private async addCandidate(candidate: Candidate): Promise<void> {
    const pc = this.peer;
    try {
      await pc.addIceCandidate(candidate ?? undefined);
    } catch (error) {
      if (!this.ignoreOffer && pc === this.peer) this.emit('error', { error });
    }
  }

  private wireSignaling(): void {
    const c = this.client;
    const mine =
      <T extends { callId: string }>(fn: (m: T) => void | Promise<void>) =>
      (m: T) => {
        if (m.callId !== this.callId || this.closed) return;
        Promise.resolve(fn(m)).catch((error: unknown) => this.emit('error', { error }));
      };
    this.unsubscribe.push(
      c.on(
        'webrtc_offer',
        mine((m: ServerMessageOf<'webrtc_offer'>) => this.onDescription(m.offer)),
      ),
      c.on(
        'webrtc_answer',
        mine((m: ServerMessageOf<'webrtc_answer'>) => this.onDescription(m.answer)),
      ),
      c.on(
        'ice_candidate',
        mine(async (m: ServerMessageOf<'ice_candidate'>) => {
          if (this.peer.remoteDescription === null)
            this.pendingCandidates.push(m.candidate as Candidate);
          else await this.addCandidate(m.candidate as Candidate);
        }),
      ),
      c.on(
        'media_state',
        mine((m: ServerMessageOf<'media_state'>) =>
          this.emit('remoteMediaState', { audio: m.audio, video: m.video, screen: m.screen }),
        ),
      ),
      c.on(
        'chat_message',
        mine((m: ServerMessageOf<'chat_message'>) =>
          this.emit('chat', { text: m.text, fromUserId: m.fromUserId }),
        ),
      ),
      // After either side comes back, the caller restarts ICE: the old candidate pairs may be gone.
      c.on(
        'call_resumed',
        mine(() => this.resumed()),
      ),
      c.on(
        'peer_reconnected',
        mine(() => this.resumed()),
      ),
      c.on(
        'call_ended',
        mine((m: ServerMessageOf<'call_ended'>) => {
          this.emit('ended', { reason: m.reason, durationSec: m.durationSec });
          this.close();
        }),
      ),
    );
  }

  private resumed(): void {
    this.sendMediaState();
    if (!this.polite) this.restartIce();
  }
}
