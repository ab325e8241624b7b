/**
 * `window.CallDocker`, the JS API the loader gives the page that embeds it (docs/EMBED.md):
 * open and close the panel, end the call, and listen to the call page's events. Types only.
 */
import type { FrameMessage } from '../shared/embed-messages.js';

/**
 * The events a page can listen to, each with the one object its listeners get: the framed call
 * page's message (see `FrameMessage`), its `type` included.
 */
export interface CallDockerEventMap {
  /** The framed call page has loaded and listens (each time the panel makes a new frame). */
  readonly ready: Extract<FrameMessage, { type: 'ready' }>;
  /** An agent answered the visitor: a call is live. */
  readonly call_started: Extract<FrameMessage, { type: 'call_started' }>;
  /** The call is over, by either side, after `durationSec` seconds. */
  readonly call_ended: Extract<FrameMessage, { type: 'call_ended' }>;
}

/** An event's name. */
export type CallDockerEvent = keyof CallDockerEventMap;
/** A listener of event `E`. */
export type CallDockerListener<E extends CallDockerEvent> = (detail: CallDockerEventMap[E]) => void;

/** `window.CallDocker` once the loader has run. */
export interface CallDockerApi {
  /** The loader's API version. */
  readonly version: number;
  /** Opens the call panel (once the company's check has allowed the button on this site). */
  open(): void;
  /** Closes the panel; a live call goes on, and the panel's Close shows it again. */
  close(): void;
  /** Ends the live call, if any (asks the framed call page to hang up). */
  hangup(): void;
  /** Calls `listener` on each `event`. */
  on<E extends CallDockerEvent>(event: E, listener: CallDockerListener<E>): void;
  /** Stops calling `listener` on `event`. */
  off<E extends CallDockerEvent>(event: E, listener: CallDockerListener<E>): void;
}

/**
 * What a page may put in `window.CallDocker` before the loader has run: calls to make once it
 * has, e.g. `(window.CallDocker = window.CallDocker || { q: [] }).q.push(['on', 'call_started',
 * fn])`.
 */
export interface CallDockerStub {
  readonly q?: ReadonlyArray<readonly unknown[]>;
}
