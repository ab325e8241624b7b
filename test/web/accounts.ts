/**
 * The accounts the token tests share: a template database (scrypt makes seeding slow, so it is
 * done once per process and copied per test) and request helpers for the token routes.
 */
import {
  buildTestApp,
  databaseTemplate,
  openTestDatabase,
  seedCompany,
  type Teardown,
} from './helpers.js';

/** Default `AGENT_TOKEN_TTL_S`. */
export const AGENT_TTL_S = 28_800;
/** Default `VISITOR_TOKEN_TTL_S`. */
export const VISITOR_TTL_S = 900;
/** Now, in seconds since the epoch (JWT time). */
export const nowS = () => Math.floor(Date.now() / 1000);

const template = databaseTemplate(async (database) => {
  const [alice, ada] = await seedCompany(database, 'acme', [
    { email: 'alice@example.test', name: 'Alice Agent' },
    { email: 'ada@example.test', name: 'Ada Admin', role: 'admin' },
  ]);
  const [globexAlice] = await seedCompany(database, 'globex', [
    { email: 'alice@example.test', name: 'Alice of Globex' },
  ]);
  await seedCompany(database, 'initech', [{ email: 'peter@example.test', name: 'Peter' }]);
  return { alice: alice!, ada: ada!, globexAlice: globexAlice! };
});

/**
 * A host on a copy of the template: acme (Alice, agent; Ada, admin), globex (an Alice of its
 * own) and initech (Peter).
 */
export async function setup(t: Teardown, options: Parameters<typeof buildTestApp>[1] = {}) {
  const { path, seeded } = await template();
  const database = await openTestDatabase(t, path);
  const { app } = await buildTestApp(t, { ...options, database });
  return { app, database, ...seeded };
}

export type App = Awaited<ReturnType<typeof setup>>['app'];

/** `POST /api/auth/login` from `remoteAddress`. */
export function login(app: App, body: Record<string, unknown>, remoteAddress = '127.0.0.1') {
  return app.inject({ method: 'POST', url: '/api/auth/login', payload: body, remoteAddress });
}

/** `POST /api/visitor-token` from `remoteAddress`. */
export function visitorToken(app: App, body: Record<string, unknown>, remoteAddress = '127.0.0.1') {
  return app.inject({ method: 'POST', url: '/api/visitor-token', payload: body, remoteAddress });
}

/** `POST /api/token/refresh` with `headers`. */
export function refresh(app: App, headers: Record<string, string>) {
  return app.inject({ method: 'POST', url: '/api/token/refresh', headers });
}
