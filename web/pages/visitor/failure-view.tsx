/**
 * A failed call or connection: what happened, in words, and Try again. A direct call to an
 * agent another call is ringing (`busy`) offers the queue instead.
 */
import { callAnyone, retry } from './call-flow.js';
import { useStore } from './store.js';
import { strings } from './strings.js';

/** The failure screen. */
export function FailureView() {
  const { failure, form, agents } = useStore();
  const words = strings.failure[failure ?? 'request_failed'];
  const busy = failure === 'agent_busy';
  const name = agents.find((a) => a.id === form.agentId)?.name;
  return (
    <section class="card failure" aria-labelledby="failure-title">
      <div role="alert">
        <h2 id="failure-title" tabIndex={-1} data-focus-on-show>
          {busy && name !== undefined ? strings.busy(name) : words.title}
        </h2>
        <p>{words.text}</p>
      </div>
      {busy && (
        <button type="button" class="btn btn-primary btn-block" onClick={callAnyone}>
          {strings.callAnyone}
        </button>
      )}
      <button type="button" class={`btn btn-block${busy ? '' : ' btn-primary'}`} onClick={retry}>
        {strings.tryAgain}
      </button>
    </section>
  );
}
