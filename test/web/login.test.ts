import t from 'tap';
import { verifyToken } from '../../auth/verify.js';
import { setAgentDisabled, setCompanyDisabled } from '../../db/access.js';
import { BODY_LIMIT_BYTES } from '../../web/app.js';
import { PASSWORD, TEST_JWT, claimsOf, errorOf } from './helpers.js';
import { AGENT_TTL_S, login, nowS, setup } from './accounts.js';

t.test('an agent logs in and gets a token the signaling server accepts', async (t) => {
  const { app, alice } = await setup(t);
  const before = nowS();
  const res = await login(app, {
    email: '  Alice@Example.TEST ',
    password: PASSWORD,
    companyId: 'acme',
  });
  t.equal(res.statusCode, 200);
  const body = res.json();
  t.same(Object.keys(body).sort(), ['agent', 'expiresAt', 'token']);
  t.same(body.agent, {
    id: alice.id,
    name: 'Alice Agent',
    email: 'alice@example.test',
    role: 'agent',
    companyId: 'acme',
  });
  const claims = claimsOf(body.token);
  t.equal(claims.sub, alice.id);
  t.equal(claims.role, 'agent');
  t.equal(claims.company_id, 'acme');
  t.equal(claims.name, 'Alice Agent');
  t.ok(
    (claims.exp as number) - before >= AGENT_TTL_S &&
      (claims.exp as number) - nowS() <= AGENT_TTL_S,
  );
  t.equal(claims.exp, (claims.iat as number) + AGENT_TTL_S);
  t.equal(body.expiresAt, new Date((claims.exp as number) * 1000).toISOString());

  const principal = verifyToken(body.token, TEST_JWT);
  t.same(
    { userId: principal.userId, role: principal.role, companyId: principal.companyId },
    { userId: alice.id, role: 'agent', companyId: 'acme' },
  );
});

t.test(
  'an admin logs in with role admin, and the same email in another company is another account',
  async (t) => {
    const { app, ada, globexAlice } = await setup(t);
    const admin = await login(app, {
      email: 'ada@example.test',
      password: PASSWORD,
      companyId: 'acme',
    });
    t.equal(admin.statusCode, 200);
    t.equal(admin.json().agent.role, 'admin');
    t.equal(claimsOf(admin.json().token).sub, ada.id);

    const globex = await login(app, {
      email: 'alice@example.test',
      password: PASSWORD,
      companyId: 'globex',
    });
    t.equal(globex.statusCode, 200);
    t.equal(globex.json().agent.id, globexAlice.id);
    t.equal(claimsOf(globex.json().token).company_id, 'globex');
  },
);

t.test(
  'every refused login looks the same: 401 invalid_credentials with one message',
  async (t) => {
    const { app, database } = await setup(t);
    await setCompanyDisabled(database.db, 'initech', true);
    await setAgentDisabled(database.db, 'acme', 'ada@example.test', true);

    const cases = {
      'unknown email': { email: 'nobody@example.test', password: PASSWORD, companyId: 'acme' },
      'wrong password': {
        email: 'alice@example.test',
        password: 'wrong password',
        companyId: 'acme',
      },
      'unknown company': { email: 'alice@example.test', password: PASSWORD, companyId: 'nope' },
      'disabled company, wrong password': {
        email: 'peter@example.test',
        password: 'wrong password',
        companyId: 'initech',
      },
      'disabled company, unknown email': {
        email: 'nobody@example.test',
        password: PASSWORD,
        companyId: 'initech',
      },
      'disabled agent': { email: 'ada@example.test', password: PASSWORD, companyId: 'acme' },
      'agent of another company': {
        email: 'ada@example.test',
        password: PASSWORD,
        companyId: 'globex',
      },
    };
    const bodies = new Set<string>();
    for (const [name, body] of Object.entries(cases)) {
      const res = await login(app, body);
      t.equal(res.statusCode, 401, name);
      t.same(errorOf(res.body), { keys: ['error', 'message'], error: 'invalid_credentials' }, name);
      t.notOk(res.headers['www-authenticate'], `${name}: not a bearer challenge`);
      bodies.add(res.body);
    }
    t.equal(bodies.size, 1, 'the same body whatever was wrong');
  },
);

t.test(
  'the right password for a disabled company gets 403 company_disabled, and nothing else does',
  async (t) => {
    const { app, database } = await setup(t);
    await setCompanyDisabled(database.db, 'initech', true);
    const res = await login(app, {
      email: 'peter@example.test',
      password: PASSWORD,
      companyId: 'initech',
    });
    t.equal(res.statusCode, 403);
    t.same(errorOf(res.body), { keys: ['error', 'message'], error: 'company_disabled' });
    t.notOk(res.headers['www-authenticate'], 'not a bearer challenge');

    const wrong = await login(app, {
      email: 'peter@example.test',
      password: 'wrong password',
      companyId: 'initech',
    });
    t.equal(wrong.statusCode, 401, 'without the password it is an ordinary refusal');
    t.equal(errorOf(wrong.body).error, 'invalid_credentials');

    await setCompanyDisabled(database.db, 'initech', false);
    const again = await login(app, {
      email: 'peter@example.test',
      password: PASSWORD,
      companyId: 'initech',
    });
    t.equal(again.statusCode, 200, 'enabled again, the login works');
  },
);

t.test(
  'login rejects malformed bodies with bad_request, oversized ones with payload_too_large',
  async (t) => {
    const { app } = await setup(t);
    const good = { email: 'alice@example.test', password: PASSWORD, companyId: 'acme' };
    const cases: Record<string, unknown> = {
      'no email': { password: PASSWORD, companyId: 'acme' },
      'no password': { email: good.email, companyId: 'acme' },
      'no company': { email: good.email, password: PASSWORD },
      'email not a string': { ...good, email: 42 },
      'password not a string': { ...good, password: ['x'] },
      'company null': { ...good, companyId: null },
      'empty email': { ...good, email: '' },
      'empty password': { ...good, password: '' },
      'an unknown field': { ...good, remember: true },
      'an array': [good],
    };
    for (const [name, payload] of Object.entries(cases)) {
      const res = await app.inject({
        method: 'POST',
        url: '/api/auth/login',
        headers: { 'content-type': 'application/json' },
        payload: JSON.stringify(payload),
      });
      t.equal(res.statusCode, 400, name);
      t.equal(errorOf(res.body).error, 'bad_request', name);
    }

    const raw = {
      'malformed JSON': '{"email": "alice@example.test",',
      'empty body': '',
      'JSON null': 'null',
    };
    for (const [name, payload] of Object.entries(raw)) {
      const res = await app.inject({
        method: 'POST',
        url: '/api/auth/login',
        headers: { 'content-type': 'application/json' },
        payload,
      });
      t.equal(res.statusCode, 400, name);
      t.equal(errorOf(res.body).error, 'bad_request', name);
    }

    const form = await app.inject({
      method: 'POST',
      url: '/api/auth/login',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'email=alice%40example.test',
    });
    t.equal(form.statusCode, 415);
    t.equal(errorOf(form.body).error, 'unsupported_media_type');

    const huge = await login(app, { ...good, password: 'x'.repeat(BODY_LIMIT_BYTES) });
    t.equal(huge.statusCode, 413);
    t.equal(errorOf(huge.body).error, 'payload_too_large');

    t.equal((await login(app, good)).statusCode, 200, 'the good body still works');
  },
);
