/**
 * The in-call view both sides use: the peer's video large (or, in an audio call, the peer's
 * name and initials), one's own preview small, the call timer, the connection's quality, the
 * peer's mute, camera and screen state in words, and the call's controls: Mute, Camera, Share
 * screen, Chat and Hang up. The page owns the call (it creates the `CallSession` on
 * `call_started` or `call_resumed`, and decides what happens after the end); this view only
 * shows it and turns clicks into session calls.
 *
 * Toggle buttons keep their word and say their state with `aria-pressed` (Mute pressed = muted,
 * Camera pressed = camera on, Share screen pressed = sharing), so they are found by one name.
 */
import type { CallSession, CallType, MediaState, WebSocketClient } from '@calldocker/client';
import { useEffect, useRef, useState } from 'preact/hooks';
import './call-view.css';
import { CallQuality } from './call-quality.js';
import type { CallStrings } from './call-strings.js';
import { ChatPanel, useChat } from './chat-panel.js';
import { Icon } from './icons.js';
import { RemoteMedia } from './remote-media.js';

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

/** The peer's state in words (what a muted icon alone would hide from many people). */
function peerStateWords(remote: MediaState | undefined, props: CallViewProps): string[] {
  if (remote === undefined) return [];
  const { strings, peerName } = props;
  const words: string[] = [];
  if (!remote.audio) words.push(strings.peerMuted(peerName));
  if (props.callType === 'video' && !remote.video && !remote.screen) {
    words.push(strings.peerCameraOff(peerName));
  }
  if (remote.screen) words.push(strings.peerSharing(peerName));
  return words;
}

function Toggle(props: {
  pressed: boolean;
  label: string;
  icon: Parameters<typeof Icon>[0]['name'];
  onClick: () => void;
}) {
  return (
    <button
      type="button"
      class="btn ctl"
      aria-pressed={props.pressed ? 'true' : 'false'}
      onClick={props.onClick}
    >
      <Icon name={props.icon} />
      <span>{props.label}</span>
    </button>
  );
}

/** The in-call view. */
export function CallView(props: CallViewProps) {
  const { session, strings } = props;
  const local = useRef<HTMLVideoElement>(null);
  const [now, setNow] = useState(Date.now());
  const [remote, setRemote] = useState<MediaState | undefined>(undefined);
  const [linkDown, setLinkDown] = useState(false);
  const [shareError, setShareError] = useState(false);
  const [, rerender] = useState(0);
  const chat = useChat(session);
  const video = props.callType === 'video';

  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, []);
  useEffect(() => {
    const offs = [
      session.on('remoteMediaState', setRemote),
      session.on('connectionState', ({ state }) =>
        setLinkDown(state === 'disconnected' || state === 'failed'),
      ),
    ];
    return () => offs.forEach((off) => off());
  }, [session]);
  useEffect(() => {
    if (local.current !== null && local.current.srcObject !== (session.localStream ?? null)) {
      local.current.srcObject = session.localStream ?? null;
    }
  });

  // The session's own record of what it sends; it also changes when the browser ends a share.
  const media = session.media;
  const act = (fn: () => void) => {
    fn();
    rerender((n) => n + 1);
  };
  const share = async () => {
    setShareError(false);
    try {
      await session.setScreenShare(!media.screen);
    } catch (err) {
      // Closing the browser's picker is a choice, not a failure.
      if ((err as { reason?: string }).reason !== 'permission_denied') setShareError(true);
    }
    rerender((n) => n + 1);
  };
  const canShare = video && typeof navigator.mediaDevices?.getDisplayMedia === 'function';

  const elapsed = formatDuration((now - props.answeredAt) / 1000);
  const words = peerStateWords(remote, props);
  const reconnecting = props.reconnecting || linkDown;
  const chatId = 'call-chat';
  return (
    <section
      class={`call-view${chat.open ? ' chat-open' : ''}`}
      aria-label={strings.callWith(props.peerName)}
    >
      <header class="call-head">
        <div class="call-who">
          <h2 tabIndex={-1} data-focus-on-show>
            {props.peerName}
          </h2>
          {props.subtitle !== undefined && <p class="muted">{props.subtitle}</p>}
        </div>
        <p class="call-timer" role="timer" aria-label={strings.elapsed(elapsed)}>
          {elapsed}
        </p>
        <CallQuality session={session} strings={strings} />
      </header>
      <div class="call-body">
        <div class="call-stage">
          <RemoteMedia
            session={session}
            video={(video && remote?.video !== false) || remote?.screen === true}
            peerName={props.peerName}
            strings={strings}
          />
          {video && (
            <video
              ref={local}
              class={`local-video${media.video && !media.screen ? '' : ' off'}`}
              autoPlay
              playsInline
              muted
              aria-label={strings.localVideo}
            />
          )}
          <div class="call-notes" role="status">
            {reconnecting && <p class="note note-warn">{strings.reconnecting}</p>}
            {words.map((w) => (
              <p key={w} class="note">
                {w}
              </p>
            ))}
            {shareError && <p class="note note-warn">{strings.screenShareFailed}</p>}
          </div>
        </div>
        {chat.open && (
          <ChatPanel
            id={chatId}
            lines={chat.lines}
            peerName={props.peerName}
            onSend={chat.send}
            onClose={() => chat.toggle(false)}
            strings={strings}
          />
        )}
      </div>
      <div class="call-controls">
        <Toggle
          pressed={!media.audio}
          label={strings.mute}
          icon="mic"
          onClick={() => act(() => session.setAudioEnabled(!media.audio))}
        />
        {video && (
          <Toggle
            pressed={media.video}
            label={strings.camera}
            icon="cam"
            onClick={() => act(() => session.setVideoEnabled(!media.video))}
          />
        )}
        {canShare && (
          <Toggle
            pressed={media.screen}
            label={strings.shareScreen}
            icon="screen"
            onClick={() => void share()}
          />
        )}
        <button
          type="button"
          class="btn ctl"
          aria-expanded={chat.open ? 'true' : 'false'}
          aria-controls={chat.open ? chatId : undefined}
          onClick={() => chat.toggle()}
        >
          <Icon name="chat" />
          <span>{strings.chat}</span>
          {!chat.open && chat.unread > 0 && (
            <>
              <span class="badge" aria-hidden="true">
                {chat.unread}
              </span>
              <span class="visually-hidden"> {strings.chatUnread(chat.unread)}</span>
            </>
          )}
        </button>
        <button type="button" class="btn btn-danger ctl" onClick={props.onHangup}>
          <Icon name="hangup" />
          <span>{strings.hangUp}</span>
        </button>
      </div>
    </section>
  );
}
