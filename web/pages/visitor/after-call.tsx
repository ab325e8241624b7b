/**
 * After the call: how long it lasted, a rating (1 to 5 stars as a radio group, an optional
 * comment) and Call again.
 */
import { useState } from 'preact/hooks';
import { formatDuration } from '../shared/call-view.js';
import { callAgain } from './call-flow.js';
import { sendRating } from './rating.js';
import { ended, rating } from './store.js';
import { strings } from './strings.js';

const STARS = [1, 2, 3, 4, 5] as const;

function RatingForm() {
  const [stars, setStars] = useState(0);
  const [comment, setComment] = useState('');
  const [missing, setMissing] = useState(false);
  const state = rating.value;
  if (state === 'sent')
    return (
      <p class="notice notice-ok" role="status">
        {strings.thanks}
      </p>
    );
  if (state === 'already_rated' || state === 'rating_window_closed' || state === 'unavailable') {
    return (
      <p class="notice" role="status">
        {strings.rating[state]}
      </p>
    );
  }
  return (
    <form
      class="rating"
      onSubmit={(event) => {
        event.preventDefault();
        if (stars === 0) return setMissing(true);
        void sendRating(stars, comment);
      }}
    >
      <fieldset>
        <legend>{strings.rateTitle}</legend>
        <div class="stars">
          {STARS.map((n) => (
            <label key={n} class={n <= stars ? 'star on' : 'star'}>
              <input
                type="radio"
                name="stars"
                value={n}
                class="visually-hidden"
                checked={stars === n}
                onChange={() => {
                  setStars(n);
                  setMissing(false);
                }}
              />
              <span aria-hidden="true">★</span>
              <span class="visually-hidden">{strings.stars(n)}</span>
            </label>
          ))}
        </div>
      </fieldset>
      <div class="field">
        <label for="rating-comment">{strings.comment}</label>
        <textarea
          id="rating-comment"
          maxLength={1000}
          value={comment}
          onInput={(e) => setComment(e.currentTarget.value)}
        />
      </div>
      <div role="status">
        {missing && <p class="notice notice-warn">{strings.rating.pickStars}</p>}
        {state === 'failed' && <p class="notice notice-bad">{strings.rating.failed}</p>}
      </div>
      <button type="submit" class="btn btn-primary" disabled={state === 'sending'}>
        {state === 'sending' ? strings.sending : strings.sendRating}
      </button>
    </form>
  );
}

/** The screen after the call. */
export function AfterCall() {
  const call = ended.value;
  return (
    <section class="card after" aria-labelledby="after-title">
      <h2 id="after-title" tabIndex={-1} data-focus-on-show>
        {strings.afterTitle}
      </h2>
      {call !== undefined && (
        <p class="duration">{strings.duration(formatDuration(call.durationSec))}</p>
      )}
      {call !== undefined && call.token !== '' && <RatingForm />}
      <button type="button" class="btn btn-block" onClick={callAgain}>
        {strings.callAgain}
      </button>
    </section>
  );
}
