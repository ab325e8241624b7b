/** A failed call or connection: what happened, in words, and Try again. */
import { retry } from './call-flow.js';
import { failure } from './store.js';
import { strings } from './strings.js';

/** The failure screen. */
export function FailureView() {
  const words = strings.failure[failure.value ?? 'request_failed'];
  return (
    <section class="card failure" aria-labelledby="failure-title">
      <div role="alert">
        <h2 id="failure-title" tabIndex={-1} data-focus-on-show>
          {words.title}
        </h2>
        <p>{words.text}</p>
      </div>
      <button type="button" class="btn btn-primary btn-block" onClick={retry}>
        {strings.tryAgain}
      </button>
    </section>
  );
}
