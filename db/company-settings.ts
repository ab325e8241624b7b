/**
 * Typed access to a company's `settings` JSON. Today it holds one setting: `allowedOrigins`, the
 * web origins allowed to embed the company's call button and to fetch its visitor tokens from a
 * browser. An empty list (the default) allows any site.
 *
 * Reading never throws: the column is free text a person may have edited by hand, and a corrupt
 * value must not take a company's button or its agents offline. It reads as the defaults, and
 * the problem is logged.
 */
import type { Kysely } from 'kysely';
import { parseOrigin } from '../common/origin.js';
import { recordAccessChange } from './access.js';
import { AccountError } from './companies.js';
import type { Company, Schema } from './schema.js';

/** Most origins one company may list: each becomes part of a CSP header on every page view. */
export const MAX_ALLOWED_ORIGINS = 100;

/** A company's settings, validated. */
export interface CompanySettings {
  /** Normalised origins (see `common/origin.ts`); empty: any site may embed the company. */
  readonly allowedOrigins: readonly string[];
}

/** Where {@link companySettings} reports a corrupt value; a pino logger fits. */
export interface SettingsLog {
  warn(obj: object, msg: string): void;
}

const DEFAULTS: CompanySettings = Object.freeze({ allowedOrigins: Object.freeze([]) });

/**
 * The validated settings of `company`. A value that is not JSON, or whose `allowedOrigins` is
 * not an array of strings, reads as the defaults (any site allowed); single entries that are not
 * origins are dropped. Either way `log` is told, with the company's id.
 */
export function companySettings(
  company: Pick<Company, 'id' | 'settings'>,
  log?: SettingsLog,
): CompanySettings {
  let raw: unknown;
  try {
    raw = JSON.parse(company.settings);
  } catch {
    log?.warn({ companyId: company.id }, 'company settings are not JSON; using the defaults');
    return DEFAULTS;
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    log?.warn({ companyId: company.id }, 'company settings are not an object; using the defaults');
    return DEFAULTS;
  }
  const list: unknown = (raw as Record<string, unknown>)['allowedOrigins'];
  if (list === undefined) return DEFAULTS;
  if (!Array.isArray(list) || !list.every((item) => typeof item === 'string')) {
    log?.warn({ companyId: company.id }, 'allowedOrigins is not a list of strings; allowing any');
    return DEFAULTS;
  }
  const origins: string[] = [];
  for (const item of list as string[]) {
    const parsed = parseOrigin(item);
    if (parsed.ok) {
      if (!origins.includes(parsed.origin)) origins.push(parsed.origin);
    } else {
      // Dropping one bad entry keeps the others in force, which fails closer than allowing all.
      log?.warn({ companyId: company.id, reason: parsed.reason }, 'allowed origin dropped');
    }
  }
  return { allowedOrigins: origins };
}

/** True when `origin` (normalised) may embed `company`: its list is empty or names it. */
export function isOriginAllowed(settings: CompanySettings, origin: string | undefined): boolean {
  const { allowedOrigins } = settings;
  return allowedOrigins.length === 0 || (origin !== undefined && allowedOrigins.includes(origin));
}

/**
 * The source list of the CSP `frame-ancestors` directive for pages of `company` (its visitor
 * call page): `*` when any site may embed it, otherwise `'self'` and its listed origins, e.g.
 * `'self' https://shop.example.com`. Pass `log` (a request's logger) so a corrupt setting is
 * reported.
 */
export function frameAncestorsFor(
  company: Pick<Company, 'id' | 'settings'>,
  log?: SettingsLog,
): string {
  const { allowedOrigins } = companySettings(company, log);
  return allowedOrigins.length === 0 ? '*' : ["'self'", ...allowedOrigins].join(' ');
}

/**
 * Normalises each of `origins` (dropping duplicates).
 * @throws AccountError `invalid` naming the first entry that is not an origin, or when there are
 *   more than {@link MAX_ALLOWED_ORIGINS}.
 */
export function normaliseAllowedOrigins(origins: readonly string[]): string[] {
  const result: string[] = [];
  for (const raw of origins) {
    const parsed = parseOrigin(raw);
    if (!parsed.ok) {
      throw new AccountError('invalid', `"${raw}" is not a web origin: ${parsed.reason}`);
    }
    if (!result.includes(parsed.origin)) result.push(parsed.origin);
  }
  if (result.length > MAX_ALLOWED_ORIGINS) {
    throw new AccountError('invalid', `at most ${MAX_ALLOWED_ORIGINS} origins may be listed`);
  }
  return result;
}

/**
 * Replaces the company's allowed origins (an empty list allows any site), keeping its other
 * settings. Returns the list as stored (normalised). A corrupt settings value is replaced.
 * @throws AccountError `invalid` (see {@link normaliseAllowedOrigins}) or `not_found`.
 */
export async function setAllowedOrigins(
  db: Kysely<Schema>,
  companyId: string,
  origins: readonly string[],
): Promise<string[]> {
  const allowedOrigins = normaliseAllowedOrigins(origins);
  return db.transaction().execute(async (trx) => {
    const row = await trx
      .selectFrom('companies')
      .select('settings')
      .where('id', '=', companyId)
      .executeTakeFirst();
    if (row === undefined) throw new AccountError('not_found', `no company ${companyId}`);
    let others: Record<string, unknown> = {};
    try {
      const parsed: unknown = JSON.parse(row.settings);
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) {
        others = parsed as Record<string, unknown>;
      }
    } catch {
      // Corrupt: replaced by the one setting written now.
    }
    const settings = JSON.stringify({ ...others, allowedOrigins });
    await trx.updateTable('companies').set({ settings }).where('id', '=', companyId).execute();
    // The signaling server caches the list for its upgrade check: the journal tells it to drop it.
    await recordAccessChange(trx, companyId, null);
    return allowedOrigins;
  });
}
