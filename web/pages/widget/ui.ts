/**
 * The button and its panel, in an open shadow root on a host element at the end of the page's
 * body. The panel is a non-modal dialog (WAI-ARIA APG): opening moves focus to its first
 * control, Escape closes it, and closing gives focus back when it was inside the panel. The call
 * page's iframe is made on the first open, never before.
 */
import type { WidgetOptions } from './options.js';
import { callCompany, closeLabel } from './strings.js';
import { widgetCss } from './styles.js';

/** What the loader does with the widget. */
export interface Widget {
  /** Shows the panel, making its iframe if there is none, and moves focus into it. */
  open(): void;
  /** Hides the panel (if shown); `discard` drops the iframe too (when no call is live). */
  close(discard: boolean): void;
  /** Whether the panel is shown. */
  isOpen(): boolean;
  /** The call page's window while its iframe exists (`null` otherwise). */
  frame(): Window | null;
}

/** What the widget asks of the loader, which knows whether a call is live. */
export interface WidgetHandlers {
  /** The launcher was pressed. */
  toggle(): void;
  /** The visitor closed the panel (its Close button, or Escape in it). */
  close(): void;
}

// A telephone handset, drawn on whole units so it stays small.
const PHONE_PATH =
  'M4 2h5l2 5-3 2a12 12 0 0 0 7 7l2-3 5 2v5a2 2 0 0 1-2 2A19 19 0 0 1 2 4a2 2 0 0 1 2-2z';
const SVG_NS = 'http://www.w3.org/2000/svg';

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string>,
  text = '',
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const name in attrs) node.setAttribute(name, attrs[name]!);
  node.textContent = text;
  return node;
}

/** Builds the widget for `companyName` and appends its host element to `document.body`. */
export function mountWidget(
  options: WidgetOptions,
  companyName: string,
  handlers: WidgetHandlers,
): Widget {
  const host = el('div', {});
  const root = host.attachShadow({ mode: 'open' });
  // A constructed sheet, which the page's CSP `style-src` does not govern (a `<style>` element
  // there may be blocked). Every evergreen browser has them: Chromium 73, Firefox 101, Safari
  // 16.4 (docs/EMBED.md).
  const sheet = new CSSStyleSheet();
  sheet.replaceSync(widgetCss(options));
  root.adoptedStyleSheets = [sheet];

  const title = callCompany(companyName);
  const launcher = el('button', { class: 'l', 'aria-expanded': 'false' });
  // Built node by node, not from markup: a page that enforces Trusted Types refuses innerHTML.
  const icon = document.createElementNS(SVG_NS, 'svg');
  const path = document.createElementNS(SVG_NS, 'path');
  icon.setAttribute('viewBox', '0 0 24 24');
  icon.setAttribute('aria-hidden', 'true');
  path.setAttribute('d', PHONE_PATH);
  icon.append(path);
  launcher.append(icon, options.label);
  const panel = el('div', { class: 'p', role: 'dialog', 'aria-labelledby': 't' });
  const bar = el('div', { class: 'b' });
  const closeButton = el('button', { class: 'x' }, closeLabel);
  bar.append(el('h2', { id: 't' }, title), closeButton);
  panel.append(bar);
  panel.hidden = true;
  root.append(launcher, panel);
  document.body.append(host);

  // Dark text when the site's colour is light: relative luminance above 0.18, where white and
  // #111 contrast with it equally (WCAG 2's formula, its sRGB curve taken as a 2.2 power).
  const rgb = getComputedStyle(launcher).backgroundColor.match(/\d+/g) ?? [];
  const [r = 0, g = 0, b = 0] = rgb.map((v) => (+v / 255) ** 2.2);
  if (0.2126 * r + 0.7152 * g + 0.0722 * b > 0.18) launcher.style.color = '#111';

  let iframe: HTMLIFrameElement | undefined;
  // Where focus was before the panel took it, to give it back.
  let returnFocus: HTMLElement | undefined;

  launcher.onclick = handlers.toggle;
  closeButton.onclick = handlers.close;
  panel.onkeydown = (event) => {
    if (event.key === 'Escape') {
      // The page's own Escape handlers (its menus, its modals) are not for this panel.
      event.stopPropagation();
      handlers.close();
    }
  };

  return {
    open() {
      if (iframe === undefined) {
        panel.append(
          (iframe = el('iframe', {
            src: `${options.host}/c/${options.company}?embed=1`,
            allow: 'camera; microphone; display-capture; autoplay',
            title,
          })),
        );
      }
      if (!panel.hidden) return;
      const active = document.activeElement;
      returnFocus = active === host ? launcher : active instanceof HTMLElement ? active : undefined;
      panel.hidden = false;
      launcher.setAttribute('aria-expanded', 'true');
      closeButton.focus();
    },
    close(discard) {
      if (discard) {
        iframe?.remove();
        iframe = undefined;
      }
      if (panel.hidden) return;
      // Focus in the panel (its Close, the framed page) goes back; focus the visitor has
      // already moved elsewhere on the page stays where it is.
      const active = document.activeElement;
      const inside = active === host && root.activeElement !== launcher;
      panel.hidden = true;
      launcher.setAttribute('aria-expanded', 'false');
      if (inside || active === document.body) {
        (returnFocus?.isConnected ? returnFocus : launcher).focus();
      }
    },
    isOpen: () => !panel.hidden,
    frame: () => iframe?.contentWindow ?? null,
  };
}
