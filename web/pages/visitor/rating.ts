/**
 * Sends the visitor's rating of the call that just ended: `POST /api/calls/:callId/rating`
 * with the visitor's token. The call log is written a moment after the end, so
 * `call_not_ended` is retried briefly before it counts as a failure.
 */
import { api, ApiError } from '../shared/api.js';
import { ended, rating } from './store.js';

const NOT_ENDED_RETRIES = 5;
const NOT_ENDED_DELAY_MS = 600;

/** Sends `stars` (1 to 5) and an optional comment; `rating` says how it went. */
export async function sendRating(stars: number, comment: string): Promise<void> {
  const call = ended.value;
  if (call === undefined || rating.value === 'sending') return;
  rating.value = 'sending';
  const body = comment.trim() === '' ? { stars } : { stars, comment: comment.trim() };
  for (let attempt = 0; ; attempt++) {
    try {
      await api(`/api/calls/${encodeURIComponent(call.callId)}/rating`, {
        body,
        token: call.token,
      });
      rating.value = 'sent';
      return;
    } catch (err) {
      const code = err instanceof ApiError ? err.code : 'failed';
      if (code === 'call_not_ended' && attempt < NOT_ENDED_RETRIES) {
        await new Promise((resolve) => setTimeout(resolve, NOT_ENDED_DELAY_MS));
        continue;
      }
      rating.value =
        code === 'already_rated' || code === 'rating_window_closed'
          ? code
          : code === 'not_found' || code === 'method_not_allowed'
            ? 'unavailable'
            : 'failed';
      return;
    }
  }
}
