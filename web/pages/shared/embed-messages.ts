/**
 * The postMessage contract between the visitor's call page framed with `?embed=1` and the call
 * button's loader on the company's site (`/widget.js`), declared once for both sides and
 * documented in docs/EMBED.md. Every message is a plain object tagged `source: 'calldocker'`,
 * and each side checks the other's `event.origin` and `event.source` before reading it.
 *
 * Import-free, so it adds only what the loader uses (`parseFrameMessage`) to its bundle.
 */

/** The tag every message of the contract carries, both ways. */
export const EMBED_SOURCE = 'calldocker';

/** What the framed call page tells the page that embeds it. */
export type FrameMessage =
  /** The call page has drawn itself and listens for the parent's messages. */
  | { readonly type: 'ready' }
  /** An agent answered: a call is live (closing the panel must not end it). */
  | { readonly type: 'call_started'; readonly callId: string }
  /** The call is over, by either side, after `durationSec` seconds. */
  | { readonly type: 'call_ended'; readonly callId: string; readonly durationSec: number }
  /** The visitor asked to close the panel from inside the frame (Escape there). */
  | { readonly type: 'close_requested' };

/** What the embedding page may tell the framed call page. */
export type ParentMessage =
  /** End the live call, if there is one. */
  { readonly type: 'hangup' };

/** A message as it travels: with the contract's tag. */
export type Tagged<M> = M & { readonly source: typeof EMBED_SOURCE };

/** Longest call id accepted (the server's are UUIDs). */
export const MAX_CALL_ID_LENGTH = 100;

/**
 * The {@link FrameMessage} in `data` (a new object with only its fields), or undefined when
 * `data` is not one: another script's message, a malformed one. Never throws. The caller must
 * have checked the event's `origin` and `source` first: this says what a message is, not who
 * sent it.
 */
export function parseFrameMessage(data: unknown): FrameMessage | undefined {
  // Any value but null and undefined has properties to read (a string's are all undefined).
  const { source, type, callId, durationSec } = (data ?? {}) as Record<string, unknown>;
  if (source !== EMBED_SOURCE) return undefined;
  if (type === 'ready' || type === 'close_requested') return { type };
  if (typeof callId !== 'string' || callId.length > MAX_CALL_ID_LENGTH) return undefined;
  if (type === 'call_started') return { type, callId };
  return type === 'call_ended' && typeof durationSec === 'number' && durationSec >= 0
    ? { type, callId, durationSec }
    : undefined;
}

/**
 * The {@link ParentMessage} in `data`, or undefined when `data` is not one. Never throws. As with
 * {@link parseFrameMessage}, the caller checks who sent it first.
 */
export function parseParentMessage(data: unknown): ParentMessage | undefined {
  const { source, type } = (data ?? {}) as Record<string, unknown>;
  return source === EMBED_SOURCE && type === 'hangup' ? { type } : undefined;
}
