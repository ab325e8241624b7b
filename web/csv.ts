/**
 * CSV as RFC 4180 writes it (https://www.rfc-editor.org/rfc/rfc4180): fields with a comma, a
 * quote or a line break are quoted, quotes doubled, records end in CRLF. Text cells that a
 * spreadsheet would run as a formula get a leading `'` (OWASP "CSV Injection").
 */

/** A cell: text, a number, or nothing (an empty field). */
export type CsvValue = string | number | null | undefined;

// `=`, `+`, `-`, `@` start formulas; a leading tab or carriage return can hide one. Their
// full-width forms (U+FF1D, U+FF0B, U+FF0D, U+FF20) count too: a spreadsheet that folds width
// as it reads a cell would see a formula, and the quote costs a genuine cell nothing.
const FORMULA_START = /^[=+\-@\t\r\uFF1D\uFF0B\uFF0D\uFF20]/;
const NEEDS_QUOTES = /[",\r\n]/;

/** One field, escaped and quoted as needed. Numbers are written as they are. */
export function csvField(value: CsvValue): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number') return String(value);
  const text = FORMULA_START.test(value) ? `'${value}` : value;
  return NEEDS_QUOTES.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** One record, with its CRLF. */
export function csvRecord(values: readonly CsvValue[]): string {
  return `${values.map(csvField).join(',')}\r\n`;
}
