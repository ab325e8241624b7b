/**
 * Who may connect, beyond a valid token: not the members of a disabled company, and (see
 * `upgrade-origin.ts`) no page of a site the company does not allow. Companies the database does
 * not know are admitted from anywhere, so deployments that issue tokens from their own identity
 * provider keep working without mirroring every company here.
 */
import type { Kysely } from 'kysely';
import type { Principal } from './auth.js';
import { getCompany } from './db/companies.js';
import { companySettings, type SettingsLog } from './db/company-settings.js';
import type { Schema } from './db/schema.js';

/** How long a company's answer is reused: disabling takes effect within this time. */
export const ADMISSION_CACHE_MS = 5000;

/** What the signaling server needs to know of a company at the upgrade. */
export interface CompanyPolicy {
  /** False for a disabled company; true for an enabled one and one the database lacks. */
  readonly admitted: boolean;
  /** Its allowed origins (empty: any site; also for a company the database lacks). */
  readonly allowedOrigins: readonly string[];
}

/** The hooks {@link companyPolicies} returns, for {@link buildSignalingServer}'s options. */
export interface CompanyPolicyHooks {
  readonly admit: (principal: Principal) => Promise<boolean>;
  readonly allowedOrigins: (companyId: string) => Promise<readonly string[]>;
}

/**
 * The `admit` and `allowedOrigins` hooks of {@link buildSignalingServer}, backed by the companies
 * table through one cache: an upgrade that needs both reads the company once, and later upgrades
 * of the company within `cacheMs` read nothing. `log` hears of corrupt settings.
 */
export function companyPolicies(
  db: Kysely<Schema>,
  cacheMs = ADMISSION_CACHE_MS,
  log?: SettingsLog,
): CompanyPolicyHooks {
  const cache = new Map<string, { policy: CompanyPolicy; until: number }>();
  const lookup = async (companyId: string): Promise<CompanyPolicy> => {
    const now = Date.now();
    const hit = cache.get(companyId);
    if (hit !== undefined && hit.until > now) return hit.policy;
    const company = await getCompany(db, companyId);
    const policy: CompanyPolicy =
      company === undefined
        ? { admitted: true, allowedOrigins: [] }
        : {
            admitted: company.disabled === 0,
            allowedOrigins: companySettings(company, log).allowedOrigins,
          };
    // Bounded: a flood of tokens naming random companies cannot grow it without limit.
    if (cache.size >= 10_000) cache.clear();
    cache.set(companyId, { policy, until: now + cacheMs });
    return policy;
  };
  return {
    admit: async (principal) => (await lookup(principal.companyId)).admitted,
    allowedOrigins: async (companyId) => (await lookup(companyId)).allowedOrigins,
  };
}

/** An `admit` hook for {@link buildSignalingServer} backed by the companies table. */
export function companyAdmission(db: Kysely<Schema>, cacheMs = ADMISSION_CACHE_MS) {
  return companyPolicies(db, cacheMs).admit;
}
