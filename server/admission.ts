/**
 * Who may connect, beyond a valid token: not the members of a disabled company. Companies the
 * database does not know are admitted, so deployments that issue tokens from their own identity
 * provider keep working without mirroring every company here.
 */
import type { Kysely } from 'kysely';
import type { Principal } from './auth.js';
import { getCompany } from './db/companies.js';
import type { Schema } from './db/schema.js';

/** How long a company's answer is reused: disabling takes effect within this time. */
export const ADMISSION_CACHE_MS = 5000;

/** An `admit` hook for {@link buildSignalingServer} backed by the companies table. */
export function companyAdmission(db: Kysely<Schema>, cacheMs = ADMISSION_CACHE_MS) {
  const cache = new Map<string, { admitted: boolean; until: number }>();
  return async (principal: Principal): Promise<boolean> => {
    const now = Date.now();
    const hit = cache.get(principal.companyId);
    if (hit !== undefined && hit.until > now) return hit.admitted;
    const company = await getCompany(db, principal.companyId);
    const admitted = company === undefined || company.disabled === 0;
    // Bounded: a flood of tokens naming random companies cannot grow it without limit.
    if (cache.size >= 10_000) cache.clear();
    cache.set(principal.companyId, { admitted, until: now + cacheMs });
    return admitted;
  };
}
