/**
 * Helpers for the web host's tests: a real SQLite file per test in a temporary directory (or,
 * under `npm run test:postgres`, a PostgreSQL schema of its own), a built (not listening) web
 * host on it, seeding, and assertions on error bodies.
 */
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import jwt from 'jsonwebtoken';
import { v7 as uuidv7 } from 'uuid';
import type { CallState } from '../../client-lib/protocol.js';
import { loadConfig, type JwtConfig } from '../../config/config.js';
import { rowOf, upsertCall } from '../../db/calls.js';
import { createAgent, createCompany } from '../../db/companies.js';
import { openDatabase, type Database } from '../../db/database.js';
import type { Agent } from '../../db/schema.js';
import { buildWebApp, type WebApp, type WebAppOptions } from '../../web/app.js';
import {
  copySchemaRows,
  postgresSchemaConfig,
  sweepAbandonedSchemas,
  TEST_DIALECT,
} from '../support/test-database.js';

/** What the tests need of tap's `t`. */
export interface Teardown {
  teardown(fn: () => unknown): void;
}

/** The HS256 secret of the test hosts. */
export const WEB_TEST_SECRET = 'web-test-secret-that-is-long-enough-0123456789';

/** Verification settings of the test hosts. */
export const TEST_JWT: JwtConfig = Object.freeze({
  secret: WEB_TEST_SECRET,
  publicKey: undefined,
  issuer: undefined,
  audience: undefined,
});

/**
 * Opens and migrates a database of its own, gone at teardown: a fresh one, or a copy of
 * `template` (from {@link databaseTemplate}). A SQLite file in its own temporary directory, or
 * under `npm run test:postgres` a schema of its own.
 */
export async function openTestDatabase(t: Teardown, template?: string): Promise<Database> {
  if (TEST_DIALECT === 'postgres') {
    await sweepAbandonedSchemas();
    const config = postgresSchemaConfig(t);
    const database = openDatabase(config);
    t.teardown(() => database.close().catch(() => undefined));
    await database.migrate();
    if (template !== undefined) await copySchemaRows(template, config.schema!);
    return database;
  }
  const dir = mkdtempSync(join(tmpdir(), 'calldocker-web-'));
  const path = join(dir, 'test.db');
  if (template !== undefined) copyFileSync(template, path);
  const database = openDatabase({ url: `sqlite:${path}`, dialect: 'sqlite', path });
  t.teardown(async () => {
    await database.close().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });
  await database.migrate();
  return database;
}

/**
 * A database seeded once per test process, for tests to copy: hashing passwords with scrypt
 * costs about 100 ms an agent, too much to repeat in every test. Returns a function that
 * resolves to where the template is (a closed SQLite file's path, or under
 * `npm run test:postgres` a schema's name; give it to {@link openTestDatabase}) and what `seed`
 * returned.
 */
export function databaseTemplate<T>(
  seed: (database: Database) => Promise<T>,
): () => Promise<{ path: string; seeded: T }> {
  let template: Promise<{ path: string; seeded: T }> | undefined;
  return () => {
    template ??= (async () => {
      if (TEST_DIALECT === 'postgres') {
        await sweepAbandonedSchemas();
        // Lives as long as this process; the sweep of a later run drops it.
        const config = postgresSchemaConfig();
        const database = openDatabase(config);
        await database.migrate();
        const seeded = await seed(database);
        await database.close();
        return { path: config.schema!, seeded };
      }
      const dir = mkdtempSync(join(tmpdir(), 'calldocker-template-'));
      process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
      const path = join(dir, 'template.db');
      const database = openDatabase({ url: `sqlite:${path}`, dialect: 'sqlite', path });
      await database.migrate();
      const seeded = await seed(database);
      await database.close(); // checkpoints the WAL into the file, so the file alone is whole
      return { path, seeded };
    })();
    return template;
  };
}

/** Options of {@link buildTestApp}. */
export interface TestAppOptions extends Partial<Omit<WebAppOptions, 'config'>> {
  /** Replaces single fields of the default `web` configuration. */
  config?: Partial<WebAppOptions['config']>;
}

/** A built web host on its own database; both closed at teardown. Call `ready()` as needed. */
export async function buildTestApp(
  t: Teardown,
  options: TestAppOptions = {},
): Promise<{ app: WebApp; database: Database }> {
  const database = options.database ?? (await openTestDatabase(t));
  const app = buildWebApp({
    ...options,
    database,
    jwt: options.jwt ?? TEST_JWT,
    config: { ...loadConfig({}).web, ...options.config },
  });
  t.teardown(() => app.close());
  return { app, database };
}

/** Makes a built host listen on 127.0.0.1 on a free port (closed with the app at teardown). */
export async function listenOn(app: WebApp): Promise<{ port: number; url: string }> {
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('not listening on TCP');
  return { port: address.port, url: `http://127.0.0.1:${address.port}` };
}

/**
 * A web host from {@link buildTestApp} listening on a free port, for what needs real HTTP
 * (headers as a socket sees them, timeouts, errors before routing). `extend` may add test
 * routes before it listens.
 */
export async function listenTestApp(
  t: Teardown,
  options: TestAppOptions = {},
  extend?: (app: WebApp) => void,
): Promise<{ app: WebApp; database: Database; port: number; url: string }> {
  const built = await buildTestApp(t, options);
  extend?.(built.app);
  return { ...built, ...(await listenOn(built.app)) };
}

/** The password every seeded agent has. */
export const PASSWORD = 'correct horse battery';

/** Creates a company and, for each entry, an agent (`role` agent unless given). */
export async function seedCompany(
  database: Database,
  companyId: string,
  agents: ReadonlyArray<{ email: string; name: string; role?: 'agent' | 'admin' }>,
): Promise<Agent[]> {
  await createCompany(database.db, companyId, `${companyId} Inc.`);
  // Hashing runs on libuv's pool, so creating them together is several times faster.
  return Promise.all(
    agents.map((a) => createAgent(database.db, { companyId, password: PASSWORD, ...a })),
  );
}

/** Signs a token for `claims` with the test secret (or `secret`), valid for an hour. */
export function tokenFor(claims: Record<string, unknown>, secret = WEB_TEST_SECRET): string {
  return jwt.sign({ exp: Math.floor(Date.now() / 1000) + 3600, ...claims }, secret, {
    algorithm: 'HS256',
  });
}

/** A bearer token for a seeded agent, as login would issue it. */
export function tokenOf(agent: Agent): string {
  return tokenFor({
    sub: agent.id,
    role: agent.role,
    company_id: agent.company_id,
    name: agent.name,
    ver: agent.credentials_version,
  });
}

/** `Authorization` header for `token`. */
export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/**
 * An error body's keys and code; throws when the body carries anything like a stack frame.
 * Compare with `{ keys: ['error', 'message'], error: 'code' }`.
 */
export function errorOf(body: string): { keys: string[]; error: unknown } {
  if (/\bat .+:\d+:\d+\)?/.test(body)) throw new Error(`stack trace in error body: ${body}`);
  const parsed = JSON.parse(body) as Record<string, unknown>;
  if (typeof parsed.message !== 'string') throw new Error(`no message in error body: ${body}`);
  return { keys: Object.keys(parsed).sort(), error: parsed.error };
}

/** Decodes a token's claims without verifying it. */
export function claimsOf(token: string): Record<string, unknown> {
  const claims = jwt.decode(token);
  if (claims === null || typeof claims !== 'object') throw new Error('not a JWT');
  return claims;
}

/** A call to put in the log; times are seconds after `createdAt`. */
export interface CallSpec {
  companyId: string;
  /** ms since the epoch; also fixes the UUIDv7 id's time (ids sort as calls were created). */
  createdAt: number;
  state: CallState;
  /** The agent a direct call rang (ringing from `createdAt`); a queued call when undefined. */
  target?: Pick<Agent, 'id'> | string;
  /** The agent that answered. */
  agent?: Pick<Agent, 'id' | 'name'>;
  answeredAfterS?: number;
  endedAfterS?: number;
  endReason?: string;
  visitor?: { id: string; name: string };
  callType?: 'audio' | 'video';
  purpose?: string;
}

/**
 * Writes a call's row the way the signaling server does (`rowOf` of a call record, then
 * `upsertCall`) and returns its id.
 */
export async function insertCall(database: Database, spec: CallSpec): Promise<string> {
  const callId = uuidv7({ msecs: spec.createdAt });
  const at = (s: number | undefined) => (s === undefined ? undefined : spec.createdAt + s * 1000);
  const target = typeof spec.target === 'string' ? spec.target : spec.target?.id;
  const visitor = spec.visitor ?? { id: `v_${callId.slice(-8)}`, name: 'Vera Visitor' };
  const row = rowOf(
    {
      callId,
      companyId: spec.companyId,
      callType: spec.callType ?? 'audio',
      purpose: spec.purpose,
      state: spec.state,
      visitor,
      targetAgentId: target,
      agent: spec.agent === undefined ? undefined : { id: spec.agent.id, name: spec.agent.name },
      queuedAt: target === undefined ? spec.createdAt : undefined,
      ringingAt: target === undefined ? undefined : spec.createdAt,
      answeredAt: at(spec.answeredAfterS),
      endedAt: at(spec.endedAfterS),
      endReason: spec.endReason,
    },
    spec.createdAt,
  );
  await upsertCall(database.db, row);
  return callId;
}
