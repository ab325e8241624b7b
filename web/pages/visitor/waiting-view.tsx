/**
 * Waiting for an answer: the place in the queue and the expected wait (when the server can
 * estimate it), or "Ringing <name>…", in a polite live region; and Cancel.
 */
import { cancelCall } from './call-flow.js';
import { waiting } from './store.js';
import { strings } from './strings.js';

/** The waiting screen. */
export function WaitingView() {
  const w = waiting.value;
  const ringing = w?.status === 'ringing';
  const lines: string[] = [];
  if (w === undefined || w.status === 'placing') lines.push(strings.placing);
  else if (w.status === 'resuming') lines.push(strings.resuming);
  else if (ringing)
    lines.push(w.agentName === undefined ? strings.ringingTitle : strings.ringing(w.agentName));
  else {
    if (w.position !== undefined) lines.push(strings.position(w.position));
    if (w.estimatedWaitSec !== undefined) lines.push(strings.estimate(w.estimatedWaitSec));
  }
  return (
    <section class="card waiting" aria-labelledby="waiting-title">
      <div class="pulse" aria-hidden="true" />
      <h2 id="waiting-title" tabIndex={-1} data-focus-on-show>
        {ringing ? strings.ringingTitle : strings.waitingTitle}
      </h2>
      <div class="waiting-status" aria-live="polite" aria-atomic="true">
        {lines.map((line) => (
          <p key={line}>{line}</p>
        ))}
      </div>
      <p class="muted">{strings.waitHint}</p>
      <button type="button" class="btn btn-block" onClick={cancelCall}>
        {strings.cancel}
      </button>
    </section>
  );
}
