/**
 * The normaliser of names and purposes from strangers (common/text.ts), over a table of the
 * inputs people use to spoof, hide or break what an agent reads.
 */
import t from 'tap';
import {
  MAX_NAME_CODE_POINTS,
  MAX_PURPOSE_CODE_POINTS,
  normaliseName,
  normalisePurpose,
  normaliseText,
} from '../../common/text.js';

const codePoints = (s: string) => Array.from(s).length;
/** Whether `s` holds a lone surrogate (a pair split by a cut). */
const brokenPair = (s: string) => /\p{Cs}/u.test(s);
/** `s` with everything but printable ASCII escaped: a raw U+2028 would break the TAP stream. */
const shown = (s: string) => s.replace(/[^ -~]/gu, (c) => `\\u{${c.codePointAt(0)!.toString(16)}}`);

t.test('nasty names come out as the visible text they show', async (t) => {
  const table: Array<[what: string, input: string, expected: string]> = [
    ['plain ASCII is kept as it is', 'Victor Visitor', 'Victor Visitor'],
    ['an RLO that shows "exe.png" is removed', '\u202Egnp.exe', 'gnp.exe'],
    ['every bidi embedding and override', 'a\u202Ab\u202Bc\u202Cd\u202De\u202Ef', 'abcdef'],
    ['every bidi isolate', 'a\u2066b\u2067c\u2068d\u2069e', 'abcde'],
    ['the LRM, RLM and Arabic letter marks', '\u200Ea\u200Fb\u061Cc', 'abc'],
    ['zero-width space, non-joiner and joiner', 'ad\u200Bm\u200Ci\u200Dn', 'admin'],
    ['a word joiner and a BOM', '\uFEFFbo\u2060b', 'bob'],
    ['an emoji family loses its joiners', '\u{1F468}\u200D\u{1F469}\u200D\u{1F467}', '👨👩👧'],
    ['NUL and other C0 controls', 'A\u0000B\u0001C\u001BD\u007FE', 'ABCDE'],
    ['C1 controls', 'a\u0080b\u009Bc\u009Fd', 'abcd'],
    ['tabs and newlines become one space', 'first\t\tsecond\r\nthird\n', 'first second third'],
    ['NEL and the line and paragraph separators', 'a\u0085b\u2028c\u2029d', 'a b c d'],
    ['no-break and ideographic spaces', 'a\u00A0\u00A0b\u3000c', 'a b c'],
    ['leading and trailing space is trimmed', '  \t Ada  ', 'Ada'],
    ['a run of spaces around an invisible is one', 'a \u200B \u200B b', 'a b'],
    ['a soft hyphen and the tag characters', 'pay\u00ADpal\u{E0041}\u{E0042}', 'paypal'],
    ['Hangul fillers that look like a name', 'x\u3164\u115F\u1160\uFFA0y', 'xy'],
    ['a combining grapheme joiner', 'a\u034Fb', 'ab'],
    ['a decomposed accent is composed (NFC)', 'Jose\u0301', 'José'],
    ['an accent split off by a zero-width space still composes', 'e\u200B\u0301', 'é'],
    ['a combining sequence without a composed form is kept', 'q\u0307\u0323', 'q\u0323\u0307'],
    ['a lone surrogate is removed', 'a\uD800b\uDC00c', 'abc'],
    ['emoji are kept, with their variation selector', 'Ann \u2764\uFE0F \u{1F600}', 'Ann ❤️ 😀'],
    ['a Japanese ideographic variation sequence is kept', '\u845B\u{E0100}', '\u845B\u{E0100}'],
    ['right-to-left letters are kept', 'سارا', 'سارا'],
  ];
  for (const [what, input, expected] of table) {
    t.equal(normaliseName(input), expected, what);
  }
});

t.test('input with nothing visible normalises to the empty string', async (t) => {
  for (const input of [
    '',
    ' ',
    '\t\n\r',
    '\u202E',
    '\u200B\u200C\u200D\u2060\uFEFF',
    '\u0000',
    '\u3164\u3164',
    '\u00A0\u2028 \u200E',
  ]) {
    t.equal(normaliseName(input), '', shown(input));
  }
  t.equal(normalisePurpose('\u200B \u202E\n'), undefined, 'an invisible purpose is no purpose');
  t.equal(normalisePurpose(undefined), undefined);
});

t.test('names are capped at 100 code points, at the edge and one past it', async (t) => {
  t.equal(MAX_NAME_CODE_POINTS, 100);
  const full = 'a'.repeat(100);
  t.equal(normaliseName(full), full, '100 are kept');
  t.equal(normaliseName(`${full}b`), full, 'the 101st is cut');
  // Astral characters are one code point and two UTF-16 units each.
  const emoji = '\u{1F600}'.repeat(100);
  t.equal(normaliseName(emoji), emoji, '100 emoji (200 UTF-16 units) are kept');
  t.equal(normaliseName(`${emoji}\u{1F600}`), emoji, 'the 101st emoji is cut');
  const odd = normaliseName(`${'a'.repeat(99)}\u{1F600}\u{1F600}`);
  t.equal(codePoints(odd), 100, 'an emoji straddling the cap is not split');
  t.notOk(brokenPair(odd));
  t.equal(odd.slice(-2), '\u{1F600}');
});

t.test('the cap never splits what a reader sees as one character', async (t) => {
  // A flag is two regional indicators: cutting between them leaves a lone letter in a box.
  const flags = normaliseText('ab\u{1F1EB}\u{1F1F7}\u{1F1E9}\u{1F1EA}', 5);
  t.equal(flags, 'ab\u{1F1EB}\u{1F1F7}', 'the second flag goes whole');
  // A letter and its accent stay together.
  t.equal(normaliseText('abcq\u0307\u0323', 5), 'abc', 'a base and its two marks go whole');
  t.equal(normaliseText('abcq\u0323\u0307', 6), 'abcq\u0323\u0307', 'or stay whole');
  // A single cluster longer than the cap (a tower of accents) is cut by code point.
  const tower = normaliseText(`a${'\u0301'.repeat(10)}`, 4);
  t.equal(codePoints(tower), 4);
  t.notOk(brokenPair(normaliseText('\u{1F600}'.repeat(3), 2)));
});

t.test('the cap applies after the invisible characters are gone', async (t) => {
  const padded = `${'\u200B'.repeat(500)}${'a'.repeat(100)}`;
  t.equal(normaliseName(padded), 'a'.repeat(100), 'invisibles take no room from the name');
  t.equal(
    normaliseName(`${'a'.repeat(99)} ${'b'.repeat(10)}`),
    `${'a'.repeat(99)}`,
    'no space left dangling at the cut',
  );
});

t.test('purposes are capped at 200 code points, at the edge and one past it', async (t) => {
  t.equal(MAX_PURPOSE_CODE_POINTS, 200);
  const full = 'p'.repeat(200);
  t.equal(normalisePurpose(full), full);
  t.equal(normalisePurpose(`${full}q`), full);
  t.equal(normalisePurpose('x'.repeat(500)), 'x'.repeat(200), 'the wire maximum is cut to 200');
  t.equal(normalisePurpose('a refund\n\tplease'), 'a refund please');
});

t.test('normalising is idempotent', async (t) => {
  for (const input of ['\u202Egnp.exe', 'Jose\u0301  x', `${'\u{1F600}'.repeat(120)}`, ' a\tb ']) {
    const once = normaliseName(input);
    t.equal(normaliseName(once), once, shown(input));
  }
});
