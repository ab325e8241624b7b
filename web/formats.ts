/**
 * String formats the API's schemas use. TypeBox's compiled checker knows no format until one is
 * registered (it rejects every value of an unknown one), so importing this module is what makes
 * `format: 'date-time'` work. Idempotent.
 */
import { FormatRegistry } from '@sinclair/typebox';

// RFC 3339 §5.6 date-time: a full date, a time, and an offset (Z or ±hh:mm); fractions allowed.
const DATE = '\\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\\d|3[01])';
const TIME = '([01]\\d|2[0-3]):[0-5]\\d:([0-5]\\d|60)(\\.\\d+)?';
const OFFSET = '([Zz]|[+-]([01]\\d|2[0-3]):[0-5]\\d)';
const DATE_TIME = new RegExp(`^${DATE}[Tt ]${TIME}${OFFSET}$`);

/** True for an RFC 3339 date-time that names a real instant (no 31 February). */
export function isDateTime(value: string): boolean {
  if (!DATE_TIME.test(value)) return false;
  const [year, month, day] = value.slice(0, 10).split('-').map(Number) as [number, number, number];
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  return day <= daysInMonth && Number.isFinite(Date.parse(value));
}

if (!FormatRegistry.Has('date-time')) FormatRegistry.Set('date-time', isDateTime);
