/**
 * Whether a verified token may still be used, for both hosts: the signaling server at the
 * upgrade and for its live connections, the web host for every bearer request.
 *
 * A token is a claim made at login; the database says what holds now. The guard compares the two
 * (company enabled, agent enabled, the agent's credentials version and role) through a short
 * cache, and learns of changes made by any process from the access journal
 * (`db/access.ts`), which it reads every `ACCESS_POLL_MS`: the rows it finds drop the
 * cached answers they name and go to {@link AccessGuard.onChange}'s listeners (the signaling
 * server closes the live connections they refuse, see `revocation.ts`). A cached answer may
 * admit, but a refusal is always read afresh, so what is given back counts at once.
 *
 * What the database does not know is admitted: a company it lacks (tokens from a deployment's
 * own identity provider), and likewise an agent id it lacks in a company it knows (the identity
 * provider's staff of a company whose allowed origins are kept here). Only what the database
 * says was taken away is refused.
 */
import type { Kysely } from 'kysely';
import { pino, type Logger } from 'pino';
import type { Principal } from './verify.js';
import { accessChangesAfter, latestAccessSeq, type AccessChange } from '../db/access.js';
import { companySettings } from '../db/company-settings.js';
import type { Schema } from '../db/schema.js';

export type { AccessChange };

/** What {@link AccessGuard.check} says of a principal. */
export const AccessVerdict = {
  /** Nothing the database knows refuses it. */
  Ok: 'ok',
  /** Its company is disabled. */
  CompanyDisabled: 'company_disabled',
  /** Its agent account is disabled. */
  AccountDisabled: 'account_disabled',
  /** The account's password was reset (or it was disabled) after the token was issued. */
  CredentialsChanged: 'credentials_changed',
  /** The account's role is no longer the token's (a refresh issues one with the new role). */
  RoleChanged: 'role_changed',
} as const;
/** One of the {@link AccessVerdict} values. */
export type AccessVerdict = (typeof AccessVerdict)[keyof typeof AccessVerdict];

/** How long a cached answer is used when no journal row names it: a safety net only. */
export const ACCESS_CACHE_MS = 30_000;
/** Most companies (and, apart, agents) cached: tokens naming random ids cannot grow it further. */
export const ACCESS_CACHE_ENTRIES = 10_000;
/** Default journal read interval (`ACCESS_POLL_MS`). */
export const DEFAULT_ACCESS_POLL_MS = 250;
/** Journal rows read per query; a longer backlog is read in several. */
const JOURNAL_BATCH = 1000;

/** Options of {@link AccessGuard}. */
export interface AccessGuardOptions {
  readonly db: Kysely<Schema>;
  /** How often the journal is read (`ACCESS_POLL_MS`); default {@link DEFAULT_ACCESS_POLL_MS}. */
  readonly pollMs?: number;
  /** Default {@link ACCESS_CACHE_MS}. */
  readonly cacheMs?: number;
  /** Default {@link ACCESS_CACHE_ENTRIES}. */
  readonly maxEntries?: number;
  /** Hears of journal read failures and corrupt company settings; default silent. */
  readonly log?: Logger;
}

/** Called with each batch of journal rows, oldest first, after the cache dropped what they name. */
export type AccessListener = (changes: readonly AccessChange[]) => void;

/** What the guard keeps of a company (also of one the database lacks). */
interface CompanyFacts {
  readonly known: boolean;
  readonly disabled: boolean;
  readonly allowedOrigins: readonly string[];
}

/** What the guard keeps of an agent; undefined fields for one the database lacks. */
interface AgentFacts {
  readonly known: boolean;
  readonly disabled: boolean;
  readonly role: 'agent' | 'admin' | undefined;
  readonly credentialsVersion: number;
}

/**
 * A bounded cache of answers with a lifetime, where concurrent misses of one key share one
 * read. An answer read while the journal moved on is returned but not kept: the row that moved
 * it may have dropped the key before the answer arrived.
 */
class FactCache<T> {
  private readonly entries = new Map<string, { value: T; until: number }>();
  private readonly pending = new Map<string, Promise<T>>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries: number,
    private readonly epoch: () => number,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  get(key: string, load: () => Promise<T>, fresh: boolean): Promise<T> {
    if (!fresh) {
      const hit = this.entries.get(key);
      if (hit !== undefined && hit.until > Date.now()) return Promise.resolve(hit.value);
      const shared = this.pending.get(key);
      if (shared !== undefined) return shared;
    }
    const epoch = this.epoch();
    const loading = load().then(
      (value) => {
        if (this.pending.get(key) === loading) this.pending.delete(key);
        if (this.epoch() === epoch) this.set(key, value);
        return value;
      },
      (err: unknown) => {
        if (this.pending.get(key) === loading) this.pending.delete(key);
        throw err;
      },
    );
    this.pending.set(key, loading);
    return loading;
  }

  delete(key: string): void {
    this.entries.delete(key);
    this.pending.delete(key);
  }

  private set(key: string, value: T): void {
    this.entries.delete(key);
    // Oldest first out: Map keeps insertion order, and a re-read moves a key to the end.
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done !== true) this.entries.delete(oldest.value);
    }
    this.entries.set(key, { value, until: Date.now() + this.ttlMs });
  }
}

/** A cache key for an agent that no pair of other ids can produce. */
const agentKey = (companyId: string, agentId: string) =>
  `${companyId.length}:${companyId}${agentId}`;

/** Compares tokens with the database, cached, and tells of access changes. */
export class AccessGuard {
  private readonly db: Kysely<Schema>;
  private readonly log: Logger;
  private readonly companies: FactCache<CompanyFacts>;
  private readonly agents: FactCache<AgentFacts>;
  private readonly listeners = new Set<AccessListener>();
  private readonly timer: NodeJS.Timeout;
  /** Resolves once the journal's newest seq at start-up is known (where reading begins). */
  private readonly ready: Promise<void>;
  private lastSeq = 0;
  private polling: Promise<void> | undefined;
  private failing = false;
  private closed = false;

  constructor(options: AccessGuardOptions) {
    this.db = options.db;
    this.log = options.log ?? pino({ level: 'silent' });
    const ttl = options.cacheMs ?? ACCESS_CACHE_MS;
    const max = options.maxEntries ?? ACCESS_CACHE_ENTRIES;
    this.companies = new FactCache(ttl, max, () => this.lastSeq);
    this.agents = new FactCache(ttl, max, () => this.lastSeq);
    this.ready = latestAccessSeq(this.db).then(
      (seq) => {
        this.lastSeq = seq;
      },
      (err: unknown) => {
        // Read from the start instead: replaying the last hour only drops cached answers.
        this.log.error({ err }, 'access journal unreadable at start-up');
      },
    );
    this.timer = setInterval(() => void this.poll(), options.pollMs ?? DEFAULT_ACCESS_POLL_MS);
    // Never what keeps a process alive: servers close it, scripts and tests may just exit.
    this.timer.unref();
  }

  /** The newest journal seq applied to the cache (moves whenever a change was read). */
  get seq(): number {
    return this.lastSeq;
  }

  /** Answers cached now (companies and agents), for tests of the bound. */
  get cacheSize(): number {
    return this.companies.size + this.agents.size;
  }

  /**
   * What the database says of `principal` now. `fresh` reads past the cache (token refresh,
   * which is rare and must not renew what was just taken away). Rejects when the database
   * cannot be read: callers refuse then.
   */
  async check(principal: Principal, options: { fresh?: boolean } = {}): Promise<AccessVerdict> {
    const verdict = await this.verdict(principal, options.fresh === true);
    // A cached answer may admit, but only the database refuses: a company or an agent enabled
    // again is admitted at once rather than a poll later. Refusals are rare; reads are by key.
    if (verdict === AccessVerdict.Ok || options.fresh === true) return verdict;
    return this.verdict(principal, true);
  }

  /** The company's allowed origins (empty: any site; also for a company the database lacks). */
  async allowedOrigins(companyId: string): Promise<readonly string[]> {
    return (await this.company(companyId, false)).allowedOrigins;
  }

  /** Calls `listener` with every batch of changes read from now on; returns how to stop. */
  onChange(listener: AccessListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Reads the journal now: drops the cached answers its new rows name and tells the listeners.
   * The timer calls it every `pollMs`; a call while a read is under way joins that read.
   */
  poll(): Promise<void> {
    this.polling ??= this.readJournal().finally(() => {
      this.polling = undefined;
    });
    return this.polling;
  }

  /** Stops reading the journal and forgets the listeners. Checks still work (uncached reads). */
  close(): void {
    this.closed = true;
    clearInterval(this.timer);
    this.listeners.clear();
  }

  private async readJournal(): Promise<void> {
    await this.ready;
    try {
      for (;;) {
        if (this.closed) return;
        const changes = await accessChangesAfter(this.db, this.lastSeq, JOURNAL_BATCH);
        if (changes.length === 0) break;
        for (const change of changes) {
          if (change.agentId === undefined) this.companies.delete(change.companyId);
          else this.agents.delete(agentKey(change.companyId, change.agentId));
        }
        this.lastSeq = changes[changes.length - 1]!.seq;
        this.emit(changes);
        if (changes.length < JOURNAL_BATCH) break;
      }
      if (this.failing) this.log.info('access journal readable again');
      this.failing = false;
    } catch (err) {
      // Logged once per outage, not four times a second; the next tick tries again.
      if (!this.failing && !this.closed) this.log.error({ err }, 'access journal read failed');
      this.failing = true;
    }
  }

  private emit(changes: readonly AccessChange[]): void {
    for (const listener of this.listeners) {
      try {
        listener(changes);
      } catch (err) {
        this.log.error({ err }, 'access change listener failed');
      }
    }
  }

  private async verdict(principal: Principal, fresh: boolean): Promise<AccessVerdict> {
    const company = await this.company(principal.companyId, fresh);
    if (!company.known) return AccessVerdict.Ok;
    if (company.disabled) return AccessVerdict.CompanyDisabled;
    if (principal.role === 'visitor') return AccessVerdict.Ok;
    const key = agentKey(principal.companyId, principal.userId);
    const agent = await this.agents.get(key, () => this.readAgent(principal), fresh);
    if (!agent.known) return AccessVerdict.Ok;
    if (agent.disabled) return AccessVerdict.AccountDisabled;
    if (agent.credentialsVersion !== (principal.credentialsVersion ?? 0)) {
      return AccessVerdict.CredentialsChanged;
    }
    if (agent.role !== principal.role) return AccessVerdict.RoleChanged;
    return AccessVerdict.Ok;
  }

  private async company(companyId: string, fresh: boolean): Promise<CompanyFacts> {
    await this.ready;
    return this.companies.get(companyId, () => this.readCompany(companyId), fresh);
  }

  private async readCompany(companyId: string): Promise<CompanyFacts> {
    const row = await this.db
      .selectFrom('companies')
      .select(['id', 'disabled', 'settings'])
      .where('id', '=', companyId)
      .executeTakeFirst();
    if (row === undefined) return { known: false, disabled: false, allowedOrigins: [] };
    return {
      known: true,
      disabled: row.disabled !== 0,
      allowedOrigins: companySettings(row, this.log).allowedOrigins,
    };
  }

  private async readAgent(principal: Principal): Promise<AgentFacts> {
    const row = await this.db
      .selectFrom('agents')
      .select(['disabled', 'role', 'credentials_version'])
      .where('company_id', '=', principal.companyId)
      .where('id', '=', principal.userId)
      .executeTakeFirst();
    if (row === undefined) {
      return { known: false, disabled: false, role: undefined, credentialsVersion: 0 };
    }
    return {
      known: true,
      disabled: row.disabled !== 0,
      role: row.role,
      credentialsVersion: row.credentials_version,
    };
  }
}
