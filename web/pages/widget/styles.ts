/**
 * The button's and panel's style sheet, for inside their shadow root. The host page's rules
 * cannot select into the shadow root, but they still reach the host element and, through it,
 * every inherited property: `:host` resets them all with `!important`, which in a shadow tree
 * wins over the page's own `!important` (CSS Scoping, the cascade's "context" step). Values come
 * from validated options only (see `options.ts`).
 */
import type { WidgetOptions } from './options.js';

// A telephone handset on a 24 px grid, drawn on whole units so it stays small.
const PHONE_PATH =
  'M4 2h5l2 5-3 2a12 12 0 0 0 7 7l2-3 5 2v5a2 2 0 0 1-2 2A19 19 0 0 1 2 4a2 2 0 0 1 2-2z';

/** The style sheet's text for `options`. */
export function widgetCss({ color_: color, left_: left, zIndex_: zIndex }: WidgetOptions): string {
  const [side, other] = left ? ['left', 'right'] : ['right', 'left'];
  // The button is 48 px high (WCAG 2.5.5 asks 44), 20 px from the corner; the panel above it.
  // The icon is the handset cut out of a square of the text's colour, shown at 20 px.
  return (
    `:host{all:initial!important;position:fixed!important;z-index:${zIndex}!important}` +
    `[hidden]{display:none!important}` +
    `.l,.p{position:fixed;bottom:20px;${side}:20px;font:16px/1.4 system-ui}` +
    `.l{display:flex;align-items:center;gap:8px;height:48px;padding:0 20px 0 16px;border:0;border-radius:24px;background:${color};color:#fff;font-weight:600;box-shadow:0 4px 24px #0008;cursor:pointer}` +
    `i{width:24px;height:24px;margin:-2px;scale:.84;background:currentColor;clip-path:path("${PHONE_PATH}")}` +
    `button:focus-visible{outline:3px solid #111;outline-offset:2px;box-shadow:0 0 0 2px #fff}` +
    `.p{bottom:80px;display:flex;flex-direction:column;width:min(380px,100vw - 40px);height:min(600px,100vh - 112px);border-radius:12px;overflow:hidden;background:#fff;color:#111;box-shadow:0 4px 24px #0008}` +
    `.b{display:flex;align-items:center;padding:6px 6px 6px 16px;border-bottom:1px solid #ccc}` +
    `h2{flex:1;margin:0;font-size:1em}` +
    `.x{min-width:44px;height:44px;padding:0 14px;border:1px solid #666;border-radius:8px;background:#fff;color:#111;font:inherit}` +
    `iframe{flex:1;border:0}` +
    `@media(max-width:480px){.p{${other}:12px;${side}:12px;width:auto}}`
  );
}
