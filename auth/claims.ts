/**
 * The claims of a CallDocker token: the one definition that the web host signs
 * (`auth/sign.ts`) and both hosts verify (`auth/verify.ts`). docs/PROTOCOL.md documents them for
 * deployments that issue their own tokens.
 */
import type { Role } from '../client-lib/protocol.js';

/** What a token issued by the web host carries. Times are seconds since the epoch. */
export interface TokenClaims {
  /** The user id: an agent's id, or a visitor's `v_...` id. */
  readonly sub: string;
  readonly role: Role;
  readonly company_id: string;
  /** The display name; verification normalises it. */
  readonly name?: string;
  /** The web origin of the page a visitor token was issued to. */
  readonly origin?: string;
  /** The agent's credentials version when issued; a reset or disable revokes older tokens. */
  readonly ver?: number;
  readonly iat: number;
  readonly exp: number;
  readonly iss?: string;
  readonly aud?: string;
}

/**
 * A verified token's payload before its claims are checked: any issuer may have signed it, so
 * every claim may be missing or of any type. `id` is the seed demo's older name for `sub`.
 */
export type UncheckedClaims = { readonly [K in keyof TokenClaims]?: unknown } & {
  readonly id?: unknown;
};
