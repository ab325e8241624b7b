/**
 * The ringing dialog (WAI-ARIA modal dialog): focus moves to Accept when it opens and goes back
 * where it was when it closes; the rest of the page is inert meanwhile.
 */
import { useEffect, useRef } from 'preact/hooks';
import { secondsUntil } from '../format.js';
import { acceptCall, declineCall } from '../signaling.js';
import { activeCall, now, ringFocus, type Ring } from '../store.js';
import { strings } from '../strings.js';

export function RingingDialog({ ring }: { ring: Ring }) {
  const accept = useRef<HTMLButtonElement>(null);
  const total = useRef(Math.max(1, secondsUntil(ring.expiresAt, Date.now())));

  useEffect(() => {
    accept.current?.focus();
    return () => {
      const before = ringFocus.before;
      ringFocus.before = null;
      // Back where the agent was; the page is no longer inert once this runs.
      // After Accept the call view takes focus instead.
      requestAnimationFrame(() => {
        if (activeCall.value === undefined && before?.isConnected === true) before.focus();
      });
    };
  }, [ring.callId]);

  const left = secondsUntil(ring.expiresAt, now.value);
  const purpose = ring.purpose ?? strings.noPurpose;
  return (
    <div class="modal-backdrop">
      <div
        class="card ring-dialog"
        role="dialog"
        aria-modal="true"
        aria-labelledby="ring-title"
        aria-describedby="ring-purpose"
      >
        <p class="ring-kicker">{strings.incomingCall}</p>
        <h2 id="ring-title">{strings.incomingFrom(ring.visitorName)}</h2>
        <p id="ring-purpose" class="ring-purpose">
          {purpose}
          <span class="muted"> · {strings.callTypeWord[ring.callType]}</span>
        </p>
        <p class="ring-countdown">{strings.ringsOutIn(left)}</p>
        <div class="ring-meter" aria-hidden="true">
          <span style={{ width: `${Math.min(100, (left / total.current) * 100)}%` }} />
        </div>
        <div class="ring-actions">
          <button
            type="button"
            ref={accept}
            class="btn btn-ok"
            onClick={() => void acceptCall(ring.callId)}
          >
            {strings.accept}
          </button>
          <button
            type="button"
            class="btn btn-danger"
            onClick={() => void declineCall(ring.callId)}
          >
            {strings.decline}
          </button>
        </div>
      </div>
    </div>
  );
}
