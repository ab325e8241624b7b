/**
 * The button and its panel, in an open shadow root on a host element at the end of the page's
 * body. The panel is a non-modal dialog (WAI-ARIA APG): opening moves focus to its first
 * control, Escape closes it, and closing gives focus back when it was inside the panel. The call
 * page's iframe is made on the first open, never before.
 */
import type { WidgetOptions } from './options.js';
import { callCompany, closeLabel } from './strings.js';
import { widgetCss } from './styles.js';

/** What the loader does with the widget (a name ending in `_` is shortened by the build). */
export interface Widget {
  /** Shows the panel, making its iframe if there is none, and moves focus into it. */
  open(): void;
  /** Hides the panel (if shown); `discard` drops the iframe too (when no call is live). */
  close(discard: boolean): void;
  /** Whether the panel is shown. */
  isOpen_(): boolean;
  /** The call page's window while its iframe exists (`null` otherwise). */
  frame_(): Window | null;
}

/** What the widget asks of the loader, which knows whether a call is live. */
export interface WidgetHandlers {
  /** The launcher was pressed. */
  toggle_(): void;
  /** The visitor closed the panel (its Close button, or Escape in it). */
  close(): void;
}

/** An element of `tag` with `attrs`, holding `children`. */
function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string>,
  ...children: Array<Node | string>
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const name in attrs) node.setAttribute(name, attrs[name]!);
  node.append(...children);
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
  // Built node by node, not from markup: a page that enforces Trusted Types refuses innerHTML.
  // The icon is an empty element the style sheet shapes, so it has no name to announce.
  const launcher = el(
    'button',
    { class: 'l', 'aria-expanded': 'false' },
    el('i', {}),
    options.label_,
  );
  const closeButton = el('button', { class: 'x' }, closeLabel);
  // Named with the words its visible title shows: aria-label needs no id to point at.
  const panel = el(
    'div',
    { class: 'p', role: 'dialog', 'aria-label': title },
    el('div', { class: 'b' }, el('h2', {}, title), closeButton),
  );
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

  launcher.onclick = handlers.toggle_;
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
            src: `${options.host_}/c/${options.company_}?embed=1`,
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
    isOpen_: () => !panel.hidden,
    frame_: () => iframe?.contentWindow ?? null,
  };
}
