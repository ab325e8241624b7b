/**
 * Names and purposes from visitors, over the real servers: what agents receive (the queue and
 * the ring) and what the call log keeps is the normalised text, never what the visitor typed
 * (common/text.ts). Bidi overrides, zero-width and control characters go; whitespace collapses.
 */
import { pino } from 'pino';
import t from 'tap';
import { CallLogWriter, databaseSink } from '../../server/call-log.js';
import { TEST_SECRET, buildServer, openClient, signToken, type TestClient } from '../helpers.js';
import {
  PASSWORD,
  bearer,
  buildTestApp,
  claimsOf,
  databaseTemplate,
  openTestDatabase,
  seedCompany,
} from './helpers.js';

const template = databaseTemplate(async (database) => {
  const [alice] = await seedCompany(database, 'acme', [
    // An admin: a plain agent's call log leaves out queued calls it never answered.
    { email: 'alice@example.test', name: 'Alice Admin', role: 'admin' },
  ]);
  return { alice: alice! };
});

const JWT = { secret: TEST_SECRET, publicKey: undefined, issuer: undefined, audience: undefined };

/** A web host and a signaling server on one database, the call log between them. */
async function stack(t: Parameters<typeof buildServer>[0]) {
  const { path, seeded } = await template();
  const database = await openTestDatabase(t, path);
  const { app } = await buildTestApp(t, { database, jwt: JWT });
  const writer = new CallLogWriter(databaseSink(database.db), { log: pino({ level: 'silent' }) });
  t.teardown(() => writer.close());
  const srv = await buildServer(t, {}, { onCallTransition: (call) => writer.record(call) });
  const login = await app.inject({
    method: 'POST',
    url: '/api/auth/login',
    payload: { email: 'alice@example.test', password: PASSWORD, companyId: 'acme' },
  });
  const agentToken = login.json().token as string;
  const agent = openClient(srv.wsUrl, agentToken);
  t.teardown(() => agent.close());
  await agent.established();
  await agent.next('queue_updated');
  /** The call's row as GET /api/calls shows it, and as the database holds it. */
  const logged = async (callId: string) => {
    await writer.flush();
    const res = await app.inject({ method: 'GET', url: '/api/calls', headers: bearer(agentToken) });
    const api = (res.json().calls as Array<Record<string, unknown>>).find((c) => c.id === callId);
    const row = await database.db
      .selectFrom('calls')
      .select(['visitor_name', 'purpose'])
      .where('id', '=', callId)
      .executeTakeFirstOrThrow();
    return { api, row };
  };
  return { app, srv, agent, seeded, logged };
}

/** Connects a visitor with `token`; closed at teardown. */
async function visitorWith(t: Parameters<typeof buildServer>[0], url: string, token: string) {
  const visitor: TestClient = openClient(url, token);
  t.teardown(() => visitor.close());
  return { visitor, established: await visitor.established() };
}

t.test(
  'a spoofing name asked for at /api/visitor-token reaches the queue and the call log normalised',
  async (t) => {
    const { app, srv, agent, logged } = await stack(t);
    const issued = await app.inject({
      method: 'POST',
      url: '/api/visitor-token',
      // Shows as "Vera exe.png" on a screen that honours the override.
      payload: { companyId: 'acme', name: ' Vera \u202Egnp.exe\u200B\u2066\uFEFF ' },
    });
    t.equal(issued.statusCode, 200);
    const token = issued.json().token as string;
    t.equal(claimsOf(token).name, 'Vera gnp.exe', 'the token carries the normalised name');

    const { visitor, established } = await visitorWith(t, srv.wsUrl, token);
    t.equal(established.user.name, 'Vera gnp.exe');
    const ack = await visitor.request({
      type: 'call_request',
      callType: 'audio',
      purpose: '\u200Da refund\r\n\tfor\u202E order  42\u2069 ',
    });
    if (ack.type !== 'ack') throw new Error(`call_request refused: ${ack.code}`);
    const callId = ack['callId'] as string;

    const queue = await agent.next('queue_updated', 3000, (q) => q.calls.length === 1);
    t.match(queue.calls[0], {
      callId,
      visitor: { name: 'Vera gnp.exe' },
      purpose: 'a refund for order 42',
    });
    t.equal((await visitor.request({ type: 'call_cancel', callId })).type, 'ack');
    const { api, row } = await logged(callId);
    t.match(api, { visitor: { name: 'Vera gnp.exe' }, purpose: 'a refund for order 42' });
    t.same(row, { visitor_name: 'Vera gnp.exe', purpose: 'a refund for order 42' });
  },
);

t.test(
  "a direct call rings the agent with the normalised name and purpose of another issuer's token",
  async (t) => {
    const { srv, agent, seeded, logged } = await stack(t);
    // Signed elsewhere (a customer's own backend): NUL, newlines and joiners in the claim.
    const token = signToken({ sub: 'v-ext', name: 'Mal\u0000lory\n\u200D\u200Bthe\tCaller' });
    const { visitor } = await visitorWith(t, srv.wsUrl, token);
    // The wire's longest purpose (500 UTF-16 units) is cut to 200 code points.
    const purpose = `${'\u{1F4DE}'.repeat(150)}${'x'.repeat(200)}`;
    const ack = await visitor.request({
      type: 'call_request',
      callType: 'video',
      agentId: seeded.alice.id,
      purpose,
    });
    if (ack.type !== 'ack') throw new Error(`call_request refused: ${ack.code}`);
    const callId = ack['callId'] as string;
    const cut = `${'\u{1F4DE}'.repeat(150)}${'x'.repeat(50)}`;

    const ring = await agent.next('call_incoming');
    t.match(ring, { callId, visitor: { id: 'v-ext', name: 'Mallory the Caller' } });
    t.equal(ring.purpose, cut, '200 code points, no surrogate pair split');
    t.equal((await agent.request({ type: 'call_decline', callId })).type, 'ack');
    const { api, row } = await logged(callId);
    t.match(api, { visitor: { name: 'Mallory the Caller' }, purpose: cut });
    t.same(row, { visitor_name: 'Mallory the Caller', purpose: cut });
  },
);

t.test(
  'a name or purpose with nothing visible falls back to "Visitor" and no purpose',
  async (t) => {
    const { app, srv, agent, logged } = await stack(t);
    const issued = await app.inject({
      method: 'POST',
      url: '/api/visitor-token',
      payload: { companyId: 'acme', name: '\u200B\u202E\u2060\u3164' },
    });
    t.equal(issued.statusCode, 200);
    const token = issued.json().token as string;
    t.notOk('name' in claimsOf(token), 'an invisible name is no name');
    const { visitor, established } = await visitorWith(t, srv.wsUrl, token);
    t.equal(established.user.name, 'Visitor');
    const ack = await visitor.request({
      type: 'call_request',
      callType: 'audio',
      purpose: '\u200B \u202E\u00A0',
    });
    if (ack.type !== 'ack') throw new Error(`call_request refused: ${ack.code}`);
    const callId = ack['callId'] as string;
    const queue = await agent.next('queue_updated', 3000, (q) => q.calls.length === 1);
    t.equal(queue.calls[0]!.visitor.name, 'Visitor');
    t.notOk('purpose' in queue.calls[0]!, 'no purpose in the queue entry');
    t.equal((await visitor.request({ type: 'call_cancel', callId })).type, 'ack');
    const { api, row } = await logged(callId);
    t.match(api, { visitor: { name: 'Visitor' }, purpose: null });
    t.same(row, { visitor_name: 'Visitor', purpose: null });
  },
);
