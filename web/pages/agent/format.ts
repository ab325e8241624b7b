/** Formatting of times and figures for the dashboard (the browser's locale, local time). */
import { formatDuration } from '../shared/call-view.js';

export { formatDuration };

/** Whole seconds from `isoOrMs` until `now` (never negative: clocks may differ a little). */
export function secondsSince(isoOrMs: string | number, now: number): number {
  const then = typeof isoOrMs === 'number' ? isoOrMs : Date.parse(isoOrMs);
  return Number.isNaN(then) ? 0 : Math.max(0, Math.floor((now - then) / 1000));
}

/** Whole seconds from `now` until `iso`, never negative. */
export function secondsUntil(iso: string, now: number): number {
  const then = Date.parse(iso);
  return Number.isNaN(then) ? 0 : Math.max(0, Math.ceil((then - now) / 1000));
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const dayOnly = new Intl.DateTimeFormat(undefined, {
  weekday: 'long',
  month: 'long',
  day: 'numeric',
});

/** A call's date and time, as people read them here. */
export const formatDateTime = (iso: string) => dateTime.format(new Date(iso));
/** A day, as in "Monday, 7 December". */
export const formatDay = (d: Date) => dayOnly.format(d);

/** A ratio (0..1) as a whole percentage. */
export const formatPercent = (ratio: number) => `${Math.round(ratio * 100)} %`;

/** The local midnight that starts the day of `now`. */
export function localMidnight(now = Date.now()): Date {
  const d = new Date(now);
  d.setHours(0, 0, 0, 0);
  return d;
}

/** `YYYY-MM-DD` of a date input for a local date. */
export function dateInputValue(d: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/** The local midnight of a date input's `YYYY-MM-DD`, `days` later; undefined when empty. */
export function fromDateInput(value: string, days = 0): Date | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (m === null) return undefined;
  return new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]) + days);
}
