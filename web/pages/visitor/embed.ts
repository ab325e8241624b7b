/**
 * Embed mode: the page inside the call button's iframe tells the embedding page what happens
 * (`ready`, `call_started`, `call_ended`, `close_requested` on Escape) and obeys its `hangup`.
 * Messages go to the parent's origin only, never `*`, and only the parent window at that origin
 * is heard. Both directions are the one contract the loader uses, `../shared/embed-messages.ts`.
 */
import {
  EMBED_SOURCE,
  parseParentMessage,
  type FrameMessage,
  type Tagged,
} from '../shared/embed-messages.js';

/** The embedding page's origin, or undefined when it cannot be known (then nothing is posted). */
export function parentOrigin(): string | undefined {
  const ancestor = location.ancestorOrigins?.[0];
  if (ancestor !== undefined && ancestor !== 'null') return ancestor;
  try {
    return document.referrer === '' ? undefined : new URL(document.referrer).origin;
  } catch {
    return undefined;
  }
}

let target: string | undefined;

/** Posts `message` to the parent when the page is embedded (a no-op otherwise). */
export function postToParent(message: FrameMessage): void {
  if (target === undefined || window.parent === window) return;
  const tagged: Tagged<FrameMessage> = { source: EMBED_SOURCE, ...message };
  window.parent.postMessage(tagged, target);
}

/**
 * Starts embed mode: remembers the parent's origin, listens for its `hangup`, and says
 * `ready`. Returns a function that stops listening.
 */
export function startEmbed(onHangup: () => void): () => void {
  target = parentOrigin();
  const listener = (event: MessageEvent) => {
    if (target === undefined || event.origin !== target || event.source !== window.parent) return;
    if (parseParentMessage(event.data)?.type === 'hangup') onHangup();
  };
  // Key events in a frame never reach the embedding page: Escape here asks the parent to close
  // its panel, as Escape on the panel itself does (a dialog closes on Escape, WAI-ARIA APG).
  const keydown = (event: KeyboardEvent) => {
    if (event.key === 'Escape' && !event.defaultPrevented) {
      postToParent({ type: 'close_requested' });
    }
  };
  window.addEventListener('message', listener);
  window.addEventListener('keydown', keydown);
  postToParent({ type: 'ready' });
  return () => {
    window.removeEventListener('message', listener);
    window.removeEventListener('keydown', keydown);
  };
}
