/**
 * Normalises free text that strangers supply and staff read: visitor names (the token's `name`
 * claim, the name asked for at `POST /api/visitor-token`), call purposes, rating comments, and
 * the names the admin CLI gives agents and companies. What agents see, what the queue carries and what the call log
 * keeps is the normalised text, so a name cannot hide text from the screen that shows it
 * (zero-width and format characters), reverse what follows it (bidi overrides, e.g.
 * "\u202Egnp.exe" shown as "exe.png"), break a line or a CSV cell, or fill a screen with blanks.
 *
 * Server-side only: pages render what the server hands them, always as text (Preact escapes),
 * so they have nothing to normalise.
 */

/**
 * The longest display name, in code points (the signaling server's long-standing cap). Wire
 * schemas count UTF-16 units and are left as they are: the visitor-token body still accepts 100
 * units, which is never more than 100 code points.
 */
export const MAX_NAME_CODE_POINTS = 100;

/**
 * The longest call purpose kept, in code points. `call_request` still accepts up to 500 UTF-16
 * units (contract v1); the rest is cut here, as the visitor page's own field (200) already does:
 * it is one line under a name in the queue, and 60 queued 500-character purposes made every
 * agent's `queue_updated` 41 KB (issue 11).
 */
export const MAX_PURPOSE_CODE_POINTS = 200;

// Every kind of whitespace, C1's NEL and the line and paragraph separators included, counts as
// one space; tabs and newlines in a name are layout tricks, not content.
const WHITESPACE_RUN = /\p{White_Space}+/gu;
/**
 * Removed outright:
 * - `Cc` controls (C0, DEL, C1) that are not whitespace, NUL included;
 * - `Cf` format characters: the bidi embeddings, overrides and isolates (U+202A–U+202E,
 *   U+2066–U+2069), the marks U+200E, U+200F and U+061C, the zero-width space, joiners and
 *   word joiner (U+200B–U+200D, U+2060), the BOM U+FEFF, the soft hyphen, the invisible math
 *   operators and the tag characters (U+E0000 block, used to smuggle ASCII past a reader);
 * - `Cs`: a lone surrogate (JSON may carry one) is not text and would be mangled in storage;
 * - the remaining default-ignorable code points that render as nothing (Hangul fillers, the
 *   combining grapheme joiner, Mongolian free variation selectors...), which make a name look
 *   empty. Variation selectors (U+FE00–U+FE0F, U+E0100–U+E01EF) are kept: emoji and Japanese
 *   names need them.
 *
 * The joiners go too, although emoji sequences and some scripts (Persian's ZWNJ) use them:
 * they are the classic tool for two names that look alike but differ, and the text stays
 * readable without them.
 */
const INVISIBLE =
  /[\p{Cc}\p{Cf}\p{Cs}]|(?![\uFE00-\uFE0F\u{E0100}-\u{E01EF}])\p{Default_Ignorable_Code_Point}/gu;
// Printable ASCII, no leading, trailing or doubled space: already normal (the common case, and
// every token on the upgrade path pays for this check).
const PLAIN = /^[!-~]+(?: [!-~]+)*$/;

const graphemes = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/**
 * Normalises `text` for display: controls, format and invisible characters removed, every run
 * of whitespace made one space, trimmed, NFC, and at most `maxCodePoints` code points, cut
 * between user-perceived characters (never inside a surrogate pair, a flag or a base and its
 * accents). May return '' (nothing visible was given): the caller picks the fallback.
 */
export function normaliseText(text: string, maxCodePoints: number): string {
  if (text.length <= maxCodePoints && PLAIN.test(text)) return text;
  // Removal comes before NFC, so that a mark split from its letter by a removed character
  // still composes with it; the whitespace goes first, so that "a\u200B\nb" keeps a space.
  const cleaned = text
    .replace(WHITESPACE_RUN, ' ')
    .replace(INVISIBLE, '')
    .replace(/ {2,}/g, ' ')
    .trim()
    .normalize('NFC');
  return capCodePoints(cleaned, maxCodePoints).trim();
}

/**
 * The longest prefix of `text` of at most `max` code points that ends between two graphemes;
 * a single grapheme longer than `max` (a letter under a tower of accents) is cut by code point.
 */
function capCodePoints(text: string, max: number): string {
  // Each code point takes at most two UTF-16 units: short strings cannot be over.
  if (text.length <= max) return text;
  let end = 0;
  let codePoints = 0;
  for (const { segment, index } of graphemes.segment(text)) {
    const size = countCodePoints(segment);
    if (codePoints + size > max) {
      if (end === 0) return Array.from(segment).slice(0, max).join('');
      break;
    }
    codePoints += size;
    end = index + segment.length;
  }
  return text.slice(0, end);
}

function countCodePoints(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    // A high surrogate followed by a low one is one code point (lone ones are removed by now).
    if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length) i++;
    n++;
  }
  return n;
}

/** A visitor's or agent's display name, normalised; '' when nothing visible is left. */
export function normaliseName(name: string): string {
  return normaliseText(name, MAX_NAME_CODE_POINTS);
}

/** A call's purpose, normalised; undefined when absent or nothing visible is left. */
export function normalisePurpose(purpose: string | undefined): string | undefined {
  if (purpose === undefined) return undefined;
  const cleaned = normaliseText(purpose, MAX_PURPOSE_CODE_POINTS);
  return cleaned === '' ? undefined : cleaned;
}

/**
 * A rating's comment, normalised like a purpose (one line: the history and the CSV export show
 * it under the call) and capped at `maxCodePoints`; null when absent or nothing visible is left.
 */
export function normaliseComment(
  comment: string | undefined,
  maxCodePoints: number,
): string | null {
  if (comment === undefined) return null;
  const cleaned = normaliseText(comment, maxCodePoints);
  return cleaned === '' ? null : cleaned;
}
