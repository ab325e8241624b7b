/**
 * The in-call chat: messages over the call's `chat_message` relay (`session.sendChat`, the
 * session's `chat` event), kept while the panel is closed and counted as unread then.
 */
import type { CallSession } from '@calldocker/client';
import { useEffect, useRef, useState } from 'preact/hooks';
import type { CallStrings } from './call-strings.js';

/** One line of the chat. */
export interface ChatLine {
  readonly id: number;
  readonly mine: boolean;
  readonly text: string;
  readonly failed?: boolean;
}

/** The chat's state for one session: its lines, the unread count, and whether it is open. */
export function useChat(session: CallSession) {
  const [lines, setLines] = useState<readonly ChatLine[]>([]);
  const [open, setOpen] = useState(false);
  const [unread, setUnread] = useState(0);
  const openRef = useRef(open);
  openRef.current = open;
  const nextId = useRef(0);
  const add = (line: Omit<ChatLine, 'id'>) => {
    const id = nextId.current++;
    setLines((all) => [...all, { ...line, id }]);
    return id;
  };
  useEffect(
    () =>
      session.on('chat', ({ text }) => {
        add({ mine: false, text });
        if (!openRef.current) setUnread((n) => n + 1);
      }),
    [session],
  );
  const send = (text: string) => {
    const id = add({ mine: true, text });
    session.sendChat(text).catch(() => {
      setLines((all) => all.map((l) => (l.id === id ? { ...l, failed: true } : l)));
    });
  };
  const toggle = (next = !open) => {
    setOpen(next);
    if (next) setUnread(0);
  };
  return { lines, open, unread, send, toggle };
}

/** Props of {@link ChatPanel}. */
export interface ChatPanelProps {
  readonly id: string;
  readonly lines: readonly ChatLine[];
  readonly peerName: string;
  readonly onSend: (text: string) => void;
  readonly onClose: () => void;
  readonly strings: CallStrings;
}

/** The chat panel: the log of messages (a live region), a Message field and Send. */
export function ChatPanel(props: ChatPanelProps) {
  const { strings } = props;
  const [draft, setDraft] = useState('');
  const field = useRef<HTMLInputElement>(null);
  const log = useRef<HTMLDivElement>(null);
  useEffect(() => field.current?.focus(), []);
  useEffect(() => {
    if (log.current !== null) log.current.scrollTop = log.current.scrollHeight;
  }, [props.lines.length]);
  return (
    <aside id={props.id} class="chat" aria-labelledby={`${props.id}-title`}>
      <div class="chat-head">
        <h3 id={`${props.id}-title`}>{strings.chatTitle}</h3>
        <button type="button" class="btn btn-small" onClick={props.onClose}>
          {strings.chatClose}
        </button>
      </div>
      <div class="chat-log" ref={log} role="log" aria-live="polite">
        {props.lines.length === 0 && <p class="muted">{strings.chatEmpty}</p>}
        {props.lines.map((line) => (
          <p key={line.id} class={line.mine ? 'mine' : 'theirs'}>
            <span class="chat-who">{line.mine ? strings.you : props.peerName}</span>
            <span class="chat-text">{line.text}</span>
            {line.failed === true && <span class="chat-failed">{strings.sendFailed}</span>}
          </p>
        ))}
      </div>
      <form
        class="chat-form"
        onSubmit={(event) => {
          event.preventDefault();
          const text = draft.trim();
          if (text === '') return;
          props.onSend(text);
          setDraft('');
        }}
      >
        <label for={`${props.id}-message`} class="visually-hidden">
          {strings.message}
        </label>
        <input
          id={`${props.id}-message`}
          ref={field}
          type="text"
          autoComplete="off"
          maxLength={2000}
          value={draft}
          onInput={(e) => setDraft(e.currentTarget.value)}
        />
        <button type="submit" class="btn btn-primary">
          {strings.send}
        </button>
      </form>
    </aside>
  );
}
