/**
 * The loader's options, read from the data attributes of its own `<script>` element and
 * validated: a value that is not valid falls back to the default, quietly (docs/EMBED.md says
 * what is valid), so a typo on a company's site never breaks the button or lets markup into its
 * style sheet. No DOM beyond the element it is handed, and `CSS.supports` for colour names.
 */

/**
 * Everything the loader needs to know, validated. Its names end in `_`, which the build
 * shortens (see `scripts/build-pages.mjs`): they are the loader's own, never seen outside.
 */
export interface WidgetOptions {
  /** Origin of the CallDocker host: the loader's own script URL's origin. */
  readonly host_: string;
  /** `data-company`. */
  readonly company_: string;
  /** `data-position="bottom-left"`; `bottom-right` is the default. */
  readonly left_: boolean;
  /** `data-color`: the button's background, `#rgb`, `#rrggbb` or a colour name. */
  readonly color_: string;
  /** `data-label`: the button's text and accessible name; it must say "Call". */
  readonly label_: string;
  /** `data-z-index`: an integer. */
  readonly zIndex_: number;
}

/** The button's colour unless the site says otherwise: white text on it is 6.7:1. */
export const DEFAULT_COLOR = '#1d4ed8';
/** Default text of the button. */
export const DEFAULT_LABEL = 'Call us';
/** Near the top of the 32-bit range sites use, below the few that use its very top. */
export const DEFAULT_Z_INDEX = 2147483000;
/** Longest label kept: the button is a pill, not a banner. */
export const MAX_LABEL_LENGTH = 40;

/** The web host's company id pattern (`db/companies.ts`; a test keeps them equal). */
export const COMPANY_ID = /^[a-z0-9][a-z0-9-]{0,62}$/;

/**
 * `value` when it is a hex colour (`#rgb`, `#rrggbb`) or a simple colour name the browser
 * accepts (`CSS.supports('color', …)`), else undefined. Nothing else is accepted: the
 * value is written into a style sheet. Keywords that are not a paint (`transparent`,
 * `currentColor`, `inherit`…) are refused.
 */
export function validColor(value: string | undefined): string | undefined {
  const color = value?.trim() ?? '';
  return /^#([\da-f]{3}){1,2}$/i.test(color) ||
    (/^[a-z]{3,20}$/i.test(color) &&
      !/^(transparent|currentcolor|inherit|initial|unset|revert)$/i.test(color) &&
      CSS.supports('color', color))
    ? color
    : undefined;
}

/** `value` as a number when it is an integer of at most nine digits, else undefined. */
export function validZIndex(value: string | undefined): number | undefined {
  return value !== undefined && /^-?\d{1,9}$/.test(value.trim()) ? Number(value) : undefined;
}

/**
 * `value`, trimmed, when it is a label the button may wear: not empty, at most
 * {@link MAX_LABEL_LENGTH} characters, and saying "call" (in any case), so what the button does
 * is in its name for everyone, screen readers included.
 */
export function validLabel(value: string | undefined): string | undefined {
  const label = value?.trim() ?? '';
  return label.length <= MAX_LABEL_LENGTH && /call/i.test(label) ? label : undefined;
}

/**
 * The options of the loader's `<script>` element, or a sentence saying why there are none
 * (`data-company` missing or not a company id).
 */
export function readOptions(script: {
  readonly src: string;
  readonly dataset: DOMStringMap;
}): WidgetOptions | string {
  const data = script.dataset;
  const company = data['company'] ?? '';
  if (!COMPANY_ID.test(company)) return `data-company="${company}" is not a company id`;
  return {
    // `src` as the DOM gives it is absolute.
    host_: new URL(script.src).origin,
    company_: company,
    left_: data['position'] === 'bottom-left',
    color_: validColor(data['color']) ?? DEFAULT_COLOR,
    label_: validLabel(data['label']) ?? DEFAULT_LABEL,
    zIndex_: validZIndex(data['zIndex']) ?? DEFAULT_Z_INDEX,
  };
}
