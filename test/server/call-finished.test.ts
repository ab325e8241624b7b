/**
 * `call_finished`: when a call reaches a final state, those of the company's agent-room whose
 * call log shows it (admins, the agent that answered it, the agent it rang) hear of it, on the
 * logged server only once the call log has committed the call's final row, so that the
 * statistics read on receipt already count it. Other agents, other companies and visitors hear
 * nothing.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import t from 'tap';
import { signalingDefaults } from '../../config/config.js';
import { buildLoggedSignalingServer } from '../../server/logged-server.js';
import { bearer, buildTestApp, tokenFor } from '../web/helpers.js';
import {
  TEST_SECRET,
  agentReady,
  buildServer,
  connectVisitor,
  establishCall,
  flush,
  ok,
  requestCall,
  type TestServer,
} from '../helpers.js';

type Teardown = Parameters<typeof buildServer>[0];

/**
 * call_finished waits for the call log's worker thread to commit: on a loaded machine that
 * thread starts late and a commit can take seconds, so the wait is generous (it ends at the
 * event, so a quick commit costs no time).
 */
const COMMIT_WAIT_MS = 15_000;

const TEST_JWT = {
  secret: TEST_SECRET,
  publicKey: undefined,
  issuer: undefined,
  audience: undefined,
};

/**
 * The signaling server as the product runs it (call log on its worker thread) on a fresh
 * SQLite file, listening on port 0, and a web host reading the same database.
 */
async function loggedServer(t: Teardown) {
  const dir = mkdtempSync(join(tmpdir(), 'calldocker-finished-'));
  const path = join(dir, 'calls.db');
  const config = signalingDefaults({
    host: '127.0.0.1',
    port: 0,
    jwt: TEST_JWT,
    presenceTickMs: 0,
  });
  const logged = await buildLoggedSignalingServer({
    signaling: config,
    database: { url: `sqlite:${path}`, dialect: 'sqlite', path },
    log: pino({ level: 'silent' }),
  });
  t.teardown(async () => {
    await logged.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const address = await logged.server.listen(0, '127.0.0.1');
  const srv: TestServer = {
    server: logged.server,
    port: address.port,
    wsUrl: `ws://127.0.0.1:${address.port}/`,
    httpUrl: `http://127.0.0.1:${address.port}`,
    config,
  };
  const { app } = await buildTestApp(t, { database: logged.database, jwt: TEST_JWT });
  return { srv, app, database: logged.database };
}

t.test(
  'an agent hears call_finished for an ended call, and the stats read on receipt count it',
  async (t) => {
    const { srv, app, database } = await loggedServer(t);
    const { agent, visitor, callId } = await establishCall(t, srv);
    await ok(visitor, { type: 'call_ended', callId });

    const finished = await agent.next('call_finished', COMMIT_WAIT_MS);
    const [stats, row] = await Promise.all([
      app.inject({
        method: 'GET',
        url: '/api/calls/stats',
        headers: bearer(
          tokenFor({ sub: 'agent-1', role: 'agent', company_id: 'acme' }, TEST_SECRET),
        ),
      }),
      database.db.selectFrom('calls').selectAll().where('id', '=', callId).executeTakeFirst(),
    ]);
    t.same(finished, { type: 'call_finished', callId, state: 'ended', agentId: 'agent-1' });
    t.equal(stats.statusCode, 200);
    t.match(stats.json(), { offered: 1, answered: 1 }, 'the stats already count the call');
    t.match(row, { id: callId, state: 'ended', agent_id: 'agent-1' }, 'the final row is there');
  },
);

t.test('agents of another company and visitors never receive call_finished', async (t) => {
  const { srv } = await loggedServer(t);
  const globexAgent = await agentReady(t, srv, { company_id: 'globex', sub: 'agent-g' });
  const bystander = await connectVisitor(t, srv, { sub: 'visitor-2' });
  const { agent, visitor, callId } = await establishCall(t, srv);
  await ok(agent, { type: 'call_ended', callId });
  await agent.next('call_finished', COMMIT_WAIT_MS);
  await flush(globexAgent, bystander, visitor);
  t.same(globexAgent.all('call_finished'), [], 'nothing reaches another company');
  t.same(bystander.all('call_finished'), [], 'nothing reaches a visitor of the company');
  t.same(visitor.all('call_finished'), [], "nothing reaches the call's own visitor");
});

t.test('a queued call the visitor gives up is announced to admins as abandoned', async (t) => {
  const srv = await buildServer(t);
  const admin = await agentReady(t, srv, { sub: 'admin-1', role: 'admin', name: 'Ada' });
  const agent = await agentReady(t, srv);
  const visitor = await connectVisitor(t, srv);
  const callId = await requestCall(visitor);
  await ok(visitor, { type: 'call_cancel', callId });
  t.same(await admin.next('call_finished', COMMIT_WAIT_MS), {
    type: 'call_finished',
    callId,
    state: 'abandoned',
  });
  await flush(agent);
  t.same(agent.all('call_finished'), [], 'an agent the call never reached is not told');
});

t.test('a declined direct call is announced to the agent it rang and to admins only', async (t) => {
  const srv = await buildServer(t);
  const alice = await agentReady(t, srv);
  const bob = await agentReady(t, srv, { sub: 'agent-2', name: 'Bob' });
  const admin = await agentReady(t, srv, { sub: 'admin-1', role: 'admin', name: 'Ada' });
  const visitor = await connectVisitor(t, srv);
  const callId = await requestCall(visitor, { agentId: 'agent-1' });
  await alice.next('call_incoming');
  await ok(alice, { type: 'call_decline', callId });
  for (const agent of [alice, admin]) {
    t.same(await agent.next('call_finished', COMMIT_WAIT_MS), {
      type: 'call_finished',
      callId,
      state: 'declined',
    });
  }
  await flush(bob);
  t.same(
    bob.all('call_finished'),
    [],
    'another agent, whose call log does not show it, is not told',
  );
});
