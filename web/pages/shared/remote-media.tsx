/**
 * The peer's media: their video, or in an audio call (or with their camera off) their initials
 * and name instead of a black rectangle. The stream comes from the session's `track` event and,
 * for tracks that arrived before the view, from the connection's receivers. When the browser
 * refuses to play sound without a click (a refreshed page), the video plays muted and a
 * "Turn on sound" button appears.
 */
import type { CallSession } from '@calldocker/client';
import { useEffect, useRef, useState } from 'preact/hooks';
import type { CallStrings } from './call-strings.js';

/** Up to two initials of a name. */
export function initialsOf(name: string): string {
  const parts = name.trim().split(/\s+/).filter(Boolean);
  return parts
    .slice(0, 2)
    .map((p) => p[0]!.toUpperCase())
    .join('');
}

/** Props of {@link RemoteMedia}. */
export interface RemoteMediaProps {
  readonly session: CallSession;
  /** Show the video (false: an audio call, or the peer's camera is off). */
  readonly video: boolean;
  readonly peerName: string;
  readonly strings: CallStrings;
}

/** The peer's video or avatar, with its sound. */
export function RemoteMedia({ session, video, peerName, strings }: RemoteMediaProps) {
  const el = useRef<HTMLVideoElement>(null);
  const [blocked, setBlocked] = useState(false);

  useEffect(() => {
    const play = (stream: MediaStream | null) => {
      const media = el.current;
      if (media === null || media.srcObject === stream) return;
      media.srcObject = stream;
      media.muted = false;
      media.play().catch((err: unknown) => {
        if ((err as { name?: string }).name !== 'NotAllowedError') return;
        media.muted = true;
        setBlocked(true);
        void media.play().catch(() => undefined);
      });
    };
    const tracks = session.pc
      .getReceivers()
      .map((r) => r.track)
      .filter((t) => t.readyState === 'live');
    if (tracks.length > 0) play(new MediaStream(tracks));
    return session.on('track', ({ track, streams }) =>
      play(streams[0] ?? new MediaStream([track])),
    );
  }, [session]);

  return (
    <div class="remote">
      <video
        ref={el}
        class={video ? 'remote-video' : 'remote-video hidden'}
        autoPlay
        playsInline
        aria-label={strings.remoteVideo(peerName)}
      />
      {!video && (
        <div class="avatar">
          <span class="initials" aria-hidden="true">
            {initialsOf(peerName)}
          </span>
          <p class="avatar-name">{peerName}</p>
        </div>
      )}
      {blocked && (
        <div class="sound-blocked">
          <span>{strings.soundBlocked}</span>
          <button
            type="button"
            class="btn btn-small btn-primary"
            onClick={() => {
              if (el.current === null) return;
              el.current.muted = false;
              void el.current.play().then(
                () => setBlocked(false),
                () => undefined,
              );
            }}
          >
            {strings.turnOnSound}
          </button>
        </div>
      )}
    </div>
  );
}
