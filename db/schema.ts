/**
 * The database schema as Kysely sees it. Times are integers (ms since the epoch) so the same
 * queries serve SQLite and, later, PostgreSQL (as bigint).
 */
import type { Generated, Insertable, Selectable, Updateable } from 'kysely';

export interface CompaniesTable {
  /** Public slug, e.g. `acme`: the `company_id` claim of every token. */
  id: string;
  name: string;
  /** JSON object of per-company settings. */
  settings: string;
  /** 1 when disabled: no logins, no visitor tokens. */
  disabled: Generated<number>;
  created_at: number;
}

export interface AgentsTable {
  /** UUIDv7; the `sub` claim of the agent's tokens. */
  id: string;
  company_id: string;
  /** Lower-cased; unique per company. */
  email: string;
  name: string;
  role: 'agent' | 'admin';
  /** `scrypt$N$r$p$<salt b64>$<hash b64>`. */
  password_hash: string;
  disabled: Generated<number>;
  created_at: number;
  /**
   * Bumped by a password reset and by disabling: tokens carry it as `ver`, and a token whose
   * `ver` differs is refused (see `auth/access.ts`).
   */
  credentials_version: Generated<number>;
}

export interface CallsTable {
  /** UUIDv7 (time-ordered): the call id of the protocol, and the pagination cursor. */
  id: string;
  company_id: string;
  visitor_id: string;
  visitor_name: string;
  /** The agent a direct call rang, if any. */
  target_agent_id: string | null;
  /** The agent that answered, if any. */
  agent_id: string | null;
  agent_name: string | null;
  call_type: 'audio' | 'video';
  purpose: string | null;
  state: string;
  end_reason: string | null;
  /** When the call reached the server (queued or started ringing). */
  created_at: number;
  queued_at: number | null;
  ringing_at: number | null;
  answered_at: number | null;
  ended_at: number | null;
  /** Seconds from answer to end; null until an answered call ends. */
  duration_sec: number | null;
  updated_at: number;
  /** The visitor's stars, 1 to 5; null until rated. Never written by the call log. */
  rating: number | null;
  /** The visitor's comment with its rating (trimmed, non-empty), if any. */
  rating_comment: string | null;
  /** When the visitor rated the call. */
  rated_at: number | null;
}

/**
 * The access journal: one row per change of who may get in (an agent disabled, enabled, its
 * password reset or role set; a company disabled, enabled or its allowed origins set), written
 * in the change's own transaction. Readers poll for rows after the last seq they saw.
 */
export interface AccessChangesTable {
  seq: Generated<number>;
  company_id: string;
  /** The agent changed; null for a change of the company itself. */
  agent_id: string | null;
  changed_at: number;
}

/** Every table. */
export interface Schema {
  companies: CompaniesTable;
  agents: AgentsTable;
  calls: CallsTable;
  access_changes: AccessChangesTable;
}

export type Company = Selectable<CompaniesTable>;
export type NewCompany = Insertable<CompaniesTable>;
export type Agent = Selectable<AgentsTable>;
export type NewAgent = Insertable<AgentsTable>;
export type AgentUpdate = Updateable<AgentsTable>;
export type CallRow = Selectable<CallsTable>;
export type NewCallRow = Insertable<CallsTable>;
