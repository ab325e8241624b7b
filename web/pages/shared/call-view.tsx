/**
 * The in-call view both sides use: the peer's video large, one's own preview small, the call
 * timer and the call's controls. The page owns the call (it creates the `CallSession` on
 * `call_started` or `call_resumed`, and decides what happens after the end); this view only
 * shows it and turns clicks into session calls.
 */
import type { CallSession, CallType, WebSocketClient } from 'calldocker/client';
import { useEffect, useRef, useState } from 'preact/hooks';
import type { CallStrings } from './call-strings.js';

/** Props of {@link CallView}. */
export interface CallViewProps {
  readonly client: WebSocketClient;
  /** The running session (already `start()`ed or starting). */
  readonly session: CallSession;
  readonly callType: CallType;
  /** Who is on the other end. */
  readonly peerName: string;
  /** A line under the name (the agent sees the visitor's purpose). */
  readonly subtitle?: string | undefined;
  /** When the call was answered (ms since the epoch), for the timer; the page keeps it across reloads. */
  readonly answeredAt: number;
  /** The peer's or our own link is down and coming back (`peer_disconnected`, reconnecting). */
  readonly reconnecting: boolean;
  /** The user pressed Hang up; the page calls `session.hangup()` and moves on. */
  readonly onHangup: () => void;
  readonly strings: CallStrings;
}

/** `m:ss` (or `h:mm:ss`) of a duration in seconds. */
export function formatDuration(totalSec: number): string {
  const s = Math.max(0, Math.floor(totalSec));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/** The in-call view. */
export function CallView(props: CallViewProps) {
  const { session, strings } = props;
  const remote = useRef<HTMLVideoElement>(null);
  const local = useRef<HTMLVideoElement>(null);
  const [now, setNow] = useState(Date.now());

  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, []);
  useEffect(
    () =>
      session.on('track', ({ streams }) => {
        if (remote.current !== null) remote.current.srcObject = streams[0] ?? null;
      }),
    [session],
  );
  useEffect(() => {
    if (local.current !== null) local.current.srcObject = session.localStream ?? null;
  });

  const elapsed = formatDuration((now - props.answeredAt) / 1000);
  return (
    <section class="call-view" aria-label={strings.callWith(props.peerName)}>
      <header class="call-head">
        <h2>{props.peerName}</h2>
        {props.subtitle !== undefined && <p class="muted">{props.subtitle}</p>}
        <p class="call-timer" aria-label={strings.elapsed(elapsed)}>
          {elapsed}
        </p>
        {props.reconnecting && (
          <p class="notice notice-warn" role="status">
            {strings.reconnecting}
          </p>
        )}
      </header>
      <div class="call-stage">
        <video
          ref={remote}
          class="remote-video"
          autoPlay
          playsInline
          aria-label={strings.remoteVideo(props.peerName)}
        />
        <video
          ref={local}
          class="local-video"
          autoPlay
          playsInline
          muted
          aria-label={strings.localVideo}
        />
      </div>
      <div class="call-controls">
        <button type="button" class="btn btn-danger" onClick={props.onHangup}>
          {strings.hangUp}
        </button>
      </div>
    </section>
  );
}
