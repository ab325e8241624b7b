/**
 * Revocation on the signaling server, over a real SQLite file: each change is made through the
 * data layer the admin CLI uses, on a second connection to the file (as the CLI's own process
 * would), and the live sockets it refuses close with their code and reason within one second of
 * the change's commit; a new upgrade with the old token is refused the same way; what the change
 * did not touch stays connected.
 */
import t, { type Test } from 'tap';
import {
  resetPassword,
  setAgentDisabled,
  setAgentRole,
  setCompanyDisabled,
} from '../../db/access.js';
import { createAgent, createCompany } from '../../db/companies.js';
import type { Agent } from '../../db/schema.js';
import { openTestDatabase, tempDatabaseConfig } from '../db/helpers.js';
import {
  accessGuard,
  buildServer,
  connect,
  establishCall,
  flush,
  metricTotal,
  openClient,
  signToken,
  type CloseInfo,
  type TestClient,
  type TestServer,
} from '../helpers.js';

interface Teardown {
  teardown(fn: () => unknown): void;
}

/** The promise: a revocation reaches a live socket within this long of the change's commit. */
const WITHIN_MS = 1000;

/**
 * A server with the production access guard (ACCESS_POLL_MS 250) on its own connection to a
 * file holding acme (agent Al, admin Ada, agent Bo) and globex, and a second connection for the
 * changes. The reconnect grace is long, so a call that ends at once did not wait it out.
 */
async function setup(t: Teardown) {
  const config = tempDatabaseConfig(t, 'revocation.db');
  const mine = await openTestDatabase(t, config);
  const other = await openTestDatabase(t, config);
  await createCompany(other.db, 'acme', 'Acme');
  await createCompany(other.db, 'globex', 'Globex');
  const make = (email: string, role: 'agent' | 'admin') =>
    createAgent(other.db, { companyId: 'acme', email, name: email, password: 'password-1', role });
  const [al, ada, bo] = await Promise.all([
    make('al@acme.test', 'agent'),
    make('ada@acme.test', 'admin'),
    make('bo@acme.test', 'agent'),
  ]);
  const srv = await buildServer(
    t,
    { callReconnectGraceMs: 60_000 },
    { access: accessGuard(t, mine.db) },
  );
  return { srv, db: other.db, al: al!, ada: ada!, bo: bo! };
}

/** Claims of a token as login issues it for `agent` (its version unless given). */
const staff = (agent: Agent, fields: Record<string, unknown> = {}) => ({
  sub: agent.id,
  role: agent.role,
  company_id: agent.company_id,
  name: agent.name,
  ver: agent.credentials_version,
  ...fields,
});

/** When `client` closes, on the monotonic clock, with its code and reason; rejects after 5 s. */
function closeOf(client: TestClient): Promise<CloseInfo & { at: number }> {
  return new Promise((resolve, reject) => {
    const deadline = setTimeout(() => reject(new Error('the socket stayed open')), 5000);
    client.ws.once('close', (code, reason) => {
      clearTimeout(deadline);
      resolve({ code, reason: String(reason), at: performance.now() });
    });
  });
}

/**
 * Makes `change` and resolves with how each of `clients` closed and how long after the change
 * committed (`ms`).
 */
async function revoke(
  change: () => Promise<unknown>,
  ...clients: TestClient[]
): Promise<Array<{ code: number; reason: string; ms: number }>> {
  const closes = clients.map(closeOf);
  await change();
  const committed = performance.now();
  return (await Promise.all(closes)).map((c) => ({
    code: c.code,
    reason: c.reason,
    ms: Math.round(c.at - committed),
  }));
}

/** Asserts that every close is `code reason` and came within {@link WITHIN_MS}. */
function closedWith(t: Test, closes: Awaited<ReturnType<typeof revoke>>, expected: string) {
  for (const [i, close] of closes.entries()) {
    t.equal(`${close.code} ${close.reason}`, expected, `socket ${i + 1}: ${expected}`);
    t.ok(close.ms < WITHIN_MS, `socket ${i + 1} closed ${close.ms} ms after the change`);
  }
}

/** A new upgrade with `claims`: how it closed (nothing may come before), or `established`. */
async function upgrade(t: Teardown, srv: TestServer, claims: Record<string, unknown>) {
  const client = openClient(srv.wsUrl, signToken(claims));
  t.teardown(() => client.close());
  return Promise.race([
    client.established().then(() => 'established'),
    client.closed.then(({ code, reason }) => `${code} ${reason} after ${client.received.length}`),
  ]);
}

t.test('a password reset closes the live socket 4001 revoked and refuses the token', async (t) => {
  const { srv, db, al, bo } = await setup(t);
  const alice = await connect(t, srv, staff(al));
  const bob = await connect(t, srv, staff(bo));
  const closes = await revoke(() => resetPassword(db, 'acme', 'al@acme.test', 'new-pw-123'), alice);
  closedWith(t, closes, '4001 revoked');
  await flush(bob);
  t.pass('a colleague stays connected');
  t.equal(await upgrade(t, srv, staff(al)), '4001 revoked after 0', 'the old token at the upgrade');
  t.equal(
    await upgrade(t, srv, { ...staff(al), ver: undefined }),
    '4001 revoked after 0',
    'no ver',
  );
  t.equal(await upgrade(t, srv, staff(al, { ver: 1 })), 'established', 'a token after the reset');
  t.equal(await metricTotal(srv, 'calldocker_auth_failures_total{reason="revoked"}'), 3);
});

t.test('disabling an agent closes all its sockets 4003; enabling admits new tokens', async (t) => {
  const { srv, db, al, bo } = await setup(t);
  const tab1 = await connect(t, srv, staff(al));
  const tab2 = await connect(t, srv, staff(al));
  const bob = await connect(t, srv, staff(bo));
  const visitor = await connect(t, srv, { sub: 'v_1', role: 'visitor' });
  const closes = await revoke(() => setAgentDisabled(db, 'acme', 'al@acme.test', true), tab1, tab2);
  closedWith(t, closes, '4003 not admitted');
  const gone = await visitor.next('agent_status_changed', 3000, (m) => m.agentId === al.id);
  t.equal(gone.status, 'offline', 'visitors see the agent go');
  await flush(bob, visitor);
  t.equal(await upgrade(t, srv, staff(al)), '4003 not admitted after 0', 'refused at the upgrade');

  // A refusal is always read afresh: what is given back counts at once, not a poll later.
  await setAgentDisabled(db, 'acme', 'al@acme.test', false);
  t.equal(
    await upgrade(t, srv, staff(al)),
    '4001 revoked after 0',
    're-enabled: the old token stays dead (version bumped)',
  );
  t.equal(await upgrade(t, srv, staff(al, { ver: 1 })), 'established', 'a new login connects');
});

t.test('disabling a company closes its agents and visitors 4003, no one else', async (t) => {
  const { srv, db, al } = await setup(t);
  const alice = await connect(t, srv, staff(al));
  const visitor = await connect(t, srv, { sub: 'v_1', role: 'visitor' });
  const stranger = await connect(t, srv, { sub: 'v_2', role: 'visitor', company_id: 'globex' });
  const idp = await connect(t, srv, { sub: 'v_3', role: 'visitor', company_id: 'own-idp' });
  const closes = await revoke(() => setCompanyDisabled(db, 'acme', true), alice, visitor);
  closedWith(t, closes, '4003 not admitted');
  await flush(stranger, idp);
  t.pass("another company's and an unknown company's sockets stay");
  t.equal(await upgrade(t, srv, { sub: 'v_1', role: 'visitor' }), '4003 not admitted after 0');
  t.equal(await upgrade(t, srv, staff(al)), '4003 not admitted after 0');

  await setCompanyDisabled(db, 'acme', false);
  t.equal(
    await upgrade(t, srv, staff(al)),
    'established',
    're-enabled: the same tokens connect at once (a company keeps versions)',
  );
});

t.test('a role change closes the old role 4001 revoked; the new role connects', async (t) => {
  const { srv, db, ada, al } = await setup(t);
  const admin = await connect(t, srv, staff(ada));
  const agent = await connect(t, srv, staff(al));
  const demoted = await revoke(() => setAgentRole(db, 'acme', 'ada@acme.test', 'agent'), admin);
  closedWith(t, demoted, '4001 revoked');
  await flush(agent);
  t.equal(await upgrade(t, srv, staff(ada)), '4001 revoked after 0', 'the admin token is refused');
  t.equal(await upgrade(t, srv, staff(ada, { role: 'agent' })), 'established', 'as an agent');
  const promoted = await revoke(() => setAgentRole(db, 'acme', 'al@acme.test', 'admin'), agent);
  closedWith(t, promoted, '4001 revoked');
});

t.test('an answered call ends at once when its agent is disabled', async (t) => {
  const { srv, db, al } = await setup(t);
  const { agent, visitor, callId } = await establishCall(t, srv, { agentSub: al.id });
  const changed = performance.now();
  const [close] = await revoke(() => setAgentDisabled(db, 'acme', 'al@acme.test', true), agent);
  closedWith(t, [close!], '4003 not admitted');
  const ended = await visitor.next('call_ended', 3000);
  const ms = Math.round(performance.now() - changed);
  t.match(ended, { callId, reason: 'disconnected' }, 'the visitor is told the call ended');
  t.ok(ms < WITHIN_MS, `${ms} ms after the change, not after the 60 s reconnect grace`);
  await flush(visitor);
});

t.test('a reset agent keeps its call for the grace and resumes it after logging in', async (t) => {
  const { srv, db, al } = await setup(t);
  const { agent, visitor, callId } = await establishCall(t, srv, { agentSub: al.id });
  const [close] = await revoke(
    () => resetPassword(db, 'acme', 'al@acme.test', 'new-pw-123'),
    agent,
  );
  closedWith(t, [close!], '4001 revoked');
  t.match(await visitor.next('peer_disconnected'), { callId }, 'the visitor waits for the agent');
  const back = await connect(t, srv, staff(al, { ver: 1, name: 'Alice Agent' }));
  t.match(await back.next('call_resumed'), { callId }, 'and the agent with a new token resumes');
  t.match(await visitor.next('peer_reconnected'), { callId });
});

t.test('an upgrade whose access cannot be read is refused 4003', async (t) => {
  const { srv, db, al } = await setup(t);
  await db.schema.alterTable('companies').renameTo('companies_away').execute();
  t.equal(await upgrade(t, srv, staff(al)), '4003 not admitted after 0');
  await db.schema.alterTable('companies_away').renameTo('companies').execute();
});
