import { pino } from 'pino';
import t from 'tap';
import { CallLogWriter, databaseSink } from '../../server/call-log.js';
import { TEST_SECRET, buildServer, delay, openClient } from '../helpers.js';
import {
  PASSWORD,
  bearer,
  buildTestApp,
  databaseTemplate,
  openTestDatabase,
  seedCompany,
} from './helpers.js';

const template = databaseTemplate(async (database) => {
  const [alice] = await seedCompany(database, 'acme', [
    { email: 'alice@example.test', name: 'Alice Agent' },
  ]);
  return { alice: alice! };
});

t.test(
  'a call made with tokens from the web host appears in GET /api/calls with its timestamps',
  async (t) => {
    const { path, seeded } = await template();
    const database = await openTestDatabase(t, path);
    const jwtConfig = {
      secret: TEST_SECRET,
      publicKey: undefined,
      issuer: undefined,
      audience: undefined,
    };
    const { app } = await buildTestApp(t, { database, jwt: jwtConfig });
    const writer = new CallLogWriter(databaseSink(database.db), { log: pino({ level: 'silent' }) });
    t.teardown(() => writer.close());
    const srv = await buildServer(t, {}, { onCallTransition: (call) => writer.record(call) });

    const login = await app.inject({
      method: 'POST',
      url: '/api/auth/login',
      payload: { email: 'alice@example.test', password: PASSWORD, companyId: 'acme' },
    });
    t.equal(login.statusCode, 200);
    const agentToken = login.json().token as string;
    const issued = await app.inject({
      method: 'POST',
      url: '/api/visitor-token',
      payload: { companyId: 'acme', name: 'Vera Visitor' },
    });
    t.equal(issued.statusCode, 200);
    const { token: visitorToken, visitorId } = issued.json() as {
      token: string;
      visitorId: string;
    };

    const agent = openClient(srv.wsUrl, agentToken);
    const visitor = openClient(srv.wsUrl, visitorToken);
    t.teardown(() => {
      agent.close();
      visitor.close();
    });
    t.equal((await agent.established()).type, 'connection_established', 'the agent token works');
    t.equal(
      (await visitor.established()).type,
      'connection_established',
      'the visitor token works',
    );

    const started = Date.now();
    const request = await visitor.request({
      type: 'call_request',
      callType: 'audio',
      purpose: 'billing',
    });
    if (request.type !== 'ack') throw new Error(`call_request refused: ${request.code}`);
    const callId = request['callId'] as string;
    t.equal((await agent.request({ type: 'call_accept', callId })).type, 'ack');
    await visitor.next('call_started');
    await agent.next('call_started');
    await delay(20);
    t.equal((await visitor.request({ type: 'call_ended', callId })).type, 'ack');
    await agent.next('call_ended');
    await writer.flush();
    const finished = Date.now();

    const res = await app.inject({ method: 'GET', url: '/api/calls', headers: bearer(agentToken) });
    t.equal(res.statusCode, 200);
    const calls = res.json().calls as Array<Record<string, unknown>>;
    t.equal(calls.length, 1);
    const call = calls[0]!;
    t.match(call, {
      id: callId,
      visitor: { id: visitorId, name: 'Vera Visitor' },
      agent: { id: seeded.alice.id, name: 'Alice Agent' },
      callType: 'audio',
      purpose: 'billing',
      state: 'ended',
      durationSec: 0,
    });
    const instant = (key: string) => Date.parse(call[key] as string);
    t.ok(instant('createdAt') >= started - 1000 && instant('createdAt') <= finished, 'createdAt');
    t.ok(instant('answeredAt') >= instant('createdAt'), 'answered after created');
    t.ok(instant('endedAt') >= instant('answeredAt') + 20, 'ended after answered');
    t.ok(instant('endedAt') <= finished, 'ended before the test looked');
  },
);
