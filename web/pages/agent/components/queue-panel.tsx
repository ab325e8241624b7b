/**
 * The live queue: how many callers wait, and the longest-waiting of them with what they want,
 * how long they have waited (ticking) and an Accept button; a call ringing this agent is listed
 * first, marked as aimed at it. An accept that loses the race just makes the entry go away. A
 * queue longer than the server announces says so and offers "Show more".
 */
import type { QueueEntry } from '@calldocker/client';
import { formatDuration, secondsSince, secondsUntil } from '../format.js';
import { showMore } from '../queue.js';
import { acceptCall, declineCall } from '../signaling.js';
import {
  activeCall,
  now,
  queueHasMore,
  queueLoading,
  ring,
  visibleQueue,
  waitingCount,
  type Ring,
} from '../store.js';
import { strings } from '../strings.js';

export function QueuePanel() {
  const entries = visibleQueue.value;
  const ringing = ring.value;
  const inCall = activeCall.value !== undefined;
  return (
    <>
      <h2 class="panel-title">{strings.queueTitle}</h2>
      {waitingCount.value > 0 && (
        <p class="queue-total">{strings.queueTotal(waitingCount.value)}</p>
      )}
      {entries.length === 0 && ringing === undefined ? (
        <p class="empty">{strings.queueEmpty}</p>
      ) : (
        <ul class="queue" aria-label={strings.queueTitle}>
          {ringing !== undefined && <RingEntry ring={ringing} disabled={inCall} />}
          {entries.map((entry) => (
            <QueueItem key={entry.callId} entry={entry} disabled={inCall} />
          ))}
        </ul>
      )}
      {queueHasMore.value && <MoreCallers shown={entries.length} />}
    </>
  );
}

/**
 * Says the list is the longest-waiting part of the queue, and opens the next page. The button
 * stays put while a page loads (aria-disabled, not disabled), so keyboard focus stays on it.
 */
function MoreCallers({ shown }: { shown: number }) {
  const loading = queueLoading.value;
  return (
    <p class="queue-more">
      <span id="queue-more-note" class="muted">
        {strings.queueShowing(shown)}
      </span>
      {loading && <span role="status">{strings.loading}</span>}
      <button
        type="button"
        class="btn btn-small"
        aria-describedby="queue-more-note"
        aria-disabled={loading}
        onClick={() => {
          if (!loading) void showMore();
        }}
      >
        {strings.showMore}
      </button>
    </p>
  );
}

function QueueItem({ entry, disabled }: { entry: QueueEntry; disabled: boolean }) {
  const waited = formatDuration(secondsSince(entry.queuedAt, now.value));
  return (
    <li class="queue-item">
      <div class="queue-who">
        <p class="queue-name">{entry.visitor.name}</p>
        <p class="queue-purpose">{entry.purpose ?? strings.noPurpose}</p>
        <p class="queue-meta">
          <span class="tag">{strings.callTypeWord[entry.callType]}</span>
          <span class="tag tag-muted">{strings.forAnyone}</span>
          <span class="queue-wait">{strings.waiting(waited)}</span>
        </p>
      </div>
      <button
        type="button"
        class="btn btn-ok"
        disabled={disabled}
        aria-label={strings.acceptCallFrom(entry.visitor.name)}
        onClick={() => void acceptCall(entry.callId)}
      >
        {strings.accept}
      </button>
    </li>
  );
}

function RingEntry({ ring: r, disabled }: { ring: Ring; disabled: boolean }) {
  return (
    <li class="queue-item queue-item-mine">
      <div class="queue-who">
        <p class="queue-name">{r.visitorName}</p>
        <p class="queue-purpose">{r.purpose ?? strings.noPurpose}</p>
        <p class="queue-meta">
          <span class="tag">{strings.callTypeWord[r.callType]}</span>
          <span class="tag tag-mine">{strings.forYou}</span>
          <span class="queue-wait">{strings.ringsOutIn(secondsUntil(r.expiresAt, now.value))}</span>
        </p>
      </div>
      <div class="queue-actions">
        <button
          type="button"
          class="btn btn-ok"
          disabled={disabled}
          aria-label={strings.acceptCallFrom(r.visitorName)}
          onClick={() => void acceptCall(r.callId)}
        >
          {strings.accept}
        </button>
        <button
          type="button"
          class="btn btn-small"
          aria-label={strings.declineCallFrom(r.visitorName)}
          onClick={() => void declineCall(r.callId)}
        >
          {strings.decline}
        </button>
      </div>
    </li>
  );
}
