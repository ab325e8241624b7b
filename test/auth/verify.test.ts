/**
 * Authentication at the upgrade: every refused token closes with 4001 and the AuthFailure
 * reason before any other frame, is counted in /metrics, and never becomes visible to the
 * rest of the company. Accepted tokens yield a well-formed `connection_established`.
 */
import { createHmac, generateKeyPairSync } from 'node:crypto';
import jwt from 'jsonwebtoken';
import t from 'tap';
import type { ClientOptions } from 'ws';
import { PROTOCOL_VERSION } from '../../client-lib/constants.js';
import type { SignalingConfig } from '../../config/config.js';
import { AuthFailure, CloseCode } from '../../server/errors.js';
import {
  TEST_SECRET,
  buildServer,
  connectAgent,
  connectVisitor,
  httpGet,
  metricValue,
  openClient,
  signToken,
  type TestClient,
  type TestServer,
} from '../helpers.js';

/** The test object tap hands to a subtest callback. */
type Test = Parameters<Parameters<typeof t.test>[0]>[0];

const nowS = () => Math.floor(Date.now() / 1000);
const b64url = (value: string | Buffer) => Buffer.from(value).toString('base64url');
const b64json = (value: unknown) => b64url(JSON.stringify(value));

/** Claims of a would-be intruder: an agent of acme, so a leak would be announced to acme. */
function intruderClaims(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    sub: 'intruder',
    role: 'agent',
    company_id: 'acme',
    name: 'Mallory',
    exp: nowS() + 3600,
    ...extra,
  };
}

/** A token shaped like the seed demo's: base64url JSON parts and a literal fake signature. */
function mockToken(payload: Record<string, unknown>): string {
  return `${b64json({ alg: 'HS256', typ: 'JWT' })}.${b64json(payload)}.mock_signature`;
}

/** An unsigned token (`alg: none`), with or without the trailing dot of an empty signature. */
function unsignedToken(payload: Record<string, unknown>, trailingDot: boolean): string {
  const unsigned = `${b64json({ alg: 'none', typ: 'JWT' })}.${b64json(payload)}`;
  return trailingDot ? `${unsigned}.` : unsigned;
}

/** An HS256 token signed by hand with an arbitrary key (what a forger would do). */
function hmacToken(payload: Record<string, unknown>, key: string): string {
  const unsigned = `${b64json({ alg: 'HS256', typ: 'JWT' })}.${b64json(payload)}`;
  return `${unsigned}.${createHmac('sha256', key).update(unsigned).digest('base64url')}`;
}

const rsaKeyCache: Array<ReturnType<typeof generateRsaKeys>> = [];

/** The `n`th RSA key pair of this run (generated once: 2048-bit generation is slow). */
function rsaKeys(n = 0) {
  while (rsaKeyCache.length <= n) rsaKeyCache.push(generateRsaKeys());
  return rsaKeyCache[n]!;
}

function generateRsaKeys() {
  return generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
}

function ecKeys() {
  return generateKeyPairSync('ec', {
    namedCurve: 'P-256',
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
}

function jwtConfig(jwtOverrides: Partial<SignalingConfig['jwt']>): Partial<SignalingConfig> {
  return {
    jwt: {
      secret: TEST_SECRET,
      publicKey: undefined,
      issuer: undefined,
      audience: undefined,
      ...jwtOverrides,
    },
  };
}

/**
 * Builds a server with an agent and a visitor of acme already settled, so that anything a
 * later connection causes (user_joined, agent_status_changed, ...) would reach one of them.
 */
async function serverWithObservers(
  t: Test,
  overrides: Partial<SignalingConfig> = {},
  observerClaims: Record<string, unknown> = {},
) {
  const srv = await buildServer(t, overrides);
  const agent = await connectAgent(t, srv, { ...observerClaims, sub: 'watcher-agent' });
  await agent.next('queue_updated');
  await agent.next('agent_status_changed', 3000, (m) => m.agentId === 'watcher-agent');
  const visitor = await connectVisitor(t, srv, { ...observerClaims, sub: 'watcher-visitor' });
  await visitor.next('agent_list');
  return { srv, observers: [agent, visitor] };
}

/**
 * Opens a client with `token` and asserts it is closed with 4001 and `reason` before any
 * message, and that none of `observers` received anything meanwhile.
 */
async function assertRefused(
  t: Test,
  srv: TestServer,
  observers: readonly TestClient[],
  token: string | undefined,
  reason: string,
  options?: ClientOptions,
): Promise<void> {
  const before = observers.map((o) => o.received.length);
  const client = openClient(srv.wsUrl, token, options);
  t.teardown(() => client.close());
  const closed = await client.closed;
  t.equal(closed.code, CloseCode.Unauthorized, 'closed with 4001');
  t.equal(closed.reason, reason, 'close reason names the failure');
  t.same(client.types(), [], 'no message before the close');
  // Give a leak, had there been one, time to reach the observers.
  await new Promise((r) => setTimeout(r, 100));
  t.same(
    observers.map((o, i) => o.received.slice(before[i]).map((m) => m.type)),
    observers.map(() => []),
    'the rest of the company was told nothing',
  );
  t.equal(srv.server.connectionCount, observers.length, 'the refused socket holds no connection');
}

/** Opens a client and returns its first frame, which must be connection_established. */
async function assertAccepted(srv: TestServer, t: Test, token: string, options?: ClientOptions) {
  const client = openClient(srv.wsUrl, token, options);
  t.teardown(() => client.close());
  const established = await client.established();
  t.equal(client.all('connection_established').length, 1);
  t.equal(client.types()[0], 'consumed:connection_established', 'it is the first frame');
  return { client, established };
}

// --- Refused tokens ------------------------------------------------------------------------

const refusals: Array<{ name: string; token: () => string | undefined; reason: string }> = [
  { name: 'a connection without a token', token: () => undefined, reason: AuthFailure.Missing },
  { name: 'an empty token', token: () => '', reason: AuthFailure.Missing },
  { name: 'a garbage token', token: () => 'not-a-jwt-at-all', reason: AuthFailure.Malformed },
  {
    name: 'a token of three base64 parts that are not JSON',
    token: () => `${b64url('hello')}.${b64url('world')}.${b64url('signature')}`,
    reason: AuthFailure.Malformed,
  },
  {
    name: "the seed demo's mock agent token",
    token: () => mockToken({ id: 'agent-9', role: 'agent', company_id: 'acme', exp: nowS() + 60 }),
    reason: AuthFailure.Signature,
  },
  {
    name: "the seed demo's mock visitor token",
    token: () => mockToken({ id: 'user-9', role: 'user', company_id: 'acme', exp: nowS() + 60 }),
    reason: AuthFailure.Signature,
  },
  {
    name: 'an expired token',
    token: () => signToken(intruderClaims({ exp: nowS() - 60 })),
    reason: AuthFailure.Expired,
  },
  {
    name: 'a token without exp',
    token: () => signToken(intruderClaims({ exp: undefined })),
    reason: AuthFailure.MissingExp,
  },
  {
    name: 'an unsigned alg none token with a trailing dot',
    token: () => unsignedToken(intruderClaims(), true),
    reason: AuthFailure.Algorithm,
  },
  {
    name: 'an unsigned alg none token without a trailing dot',
    token: () => unsignedToken(intruderClaims(), false),
    reason: AuthFailure.Malformed,
  },
  {
    name: 'a token signed with the wrong secret',
    token: () => signToken(intruderClaims(), 'some-other-secret-that-is-also-long-enough'),
    reason: AuthFailure.Signature,
  },
  {
    name: 'a token without company_id',
    token: () => signToken(intruderClaims({ company_id: undefined })),
    reason: AuthFailure.MissingCompany,
  },
  {
    name: 'a token with neither sub nor id',
    token: () => signToken(intruderClaims({ sub: undefined })),
    reason: AuthFailure.MissingSub,
  },
  {
    name: 'a token with the role superuser',
    token: () => signToken(intruderClaims({ role: 'superuser' })),
    reason: AuthFailure.BadRole,
  },
  {
    name: 'a token whose nbf is in the future',
    token: () => signToken(intruderClaims({ nbf: nowS() + 3600 })),
    reason: AuthFailure.NotYetValid,
  },
  {
    name: 'a validly signed token longer than 8192 characters',
    token: () => signToken(intruderClaims({ padding: 'x'.repeat(9000) })),
    reason: AuthFailure.Malformed,
  },
  {
    name: 'an RS256 token when only an HS256 secret is configured',
    token: () =>
      jwt.sign(intruderClaims(), rsaKeys().privateKey, { algorithm: 'RS256', noTimestamp: true }),
    reason: AuthFailure.Algorithm,
  },
];

for (const { name, token, reason } of refusals) {
  t.test(`${name} is closed with 4001 and never seen by the company`, async (t) => {
    const { srv, observers } = await serverWithObservers(t);
    await assertRefused(t, srv, observers, token(), reason);
  });
}

t.test(
  'a valid agent connecting is announced to the company (the leak check can see)',
  async (t) => {
    const { srv, observers } = await serverWithObservers(t);
    await connectAgent(t, srv, { sub: 'newcomer' });
    for (const observer of observers) {
      const changed = await observer.next(
        'agent_status_changed',
        3000,
        (m) => m.agentId === 'newcomer',
      );
      t.equal(changed.status, 'online');
    }
  },
);

t.test('a validly signed token of up to 8192 characters connects', async (t) => {
  const srv = await buildServer(t);
  let padding = 5000;
  let token = signToken({ sub: 'long-token', padding: 'x'.repeat(padding) });
  while (token.length <= 8192)
    token = signToken({ sub: 'long-token', padding: 'x'.repeat(++padding) });
  token = signToken({ sub: 'long-token', padding: 'x'.repeat(padding - 1) });
  t.ok(token.length > 8188 && token.length <= 8192, `the token is ${token.length} characters`);
  const tooLong = signToken({ sub: 'long-token', padding: 'x'.repeat(padding) });
  t.ok(tooLong.length > 8192, 'one more character of claims goes over the limit');
  const { established } = await assertAccepted(srv, t, token);
  t.equal(established.user.id, 'long-token');
  const refused = openClient(srv.wsUrl, tooLong);
  const closed = await refused.closed;
  t.equal(closed.code, CloseCode.Unauthorized);
  t.equal(closed.reason, AuthFailure.Malformed);
});

t.test('a bad token in an Authorization Bearer header is refused with 4001', async (t) => {
  const { srv, observers } = await serverWithObservers(t);
  const token = signToken(intruderClaims(), 'some-other-secret-that-is-also-long-enough');
  await assertRefused(t, srv, observers, undefined, AuthFailure.Signature, {
    headers: { Authorization: `Bearer ${token}` },
  });
});

t.test('issuer and audience are checked when configured', async (t) => {
  const good = { iss: 'calldocker-test', aud: 'signaling' };
  const { srv, observers } = await serverWithObservers(
    t,
    jwtConfig({ issuer: 'calldocker-test', audience: 'signaling' }),
    good,
  );

  await t.test('a token with the wrong issuer is refused', async (t) => {
    const token = signToken(intruderClaims({ ...good, iss: 'someone-else' }));
    await assertRefused(t, srv, observers, token, AuthFailure.Issuer);
  });
  await t.test('a token without an issuer is refused', async (t) => {
    const token = signToken(intruderClaims({ ...good, iss: undefined }));
    await assertRefused(t, srv, observers, token, AuthFailure.Issuer);
  });
  await t.test('a token with the wrong audience is refused', async (t) => {
    const token = signToken(intruderClaims({ ...good, aud: 'web' }));
    await assertRefused(t, srv, observers, token, AuthFailure.Audience);
  });
  await t.test('a token without an audience is refused', async (t) => {
    const token = signToken(intruderClaims({ ...good, aud: undefined }));
    await assertRefused(t, srv, observers, token, AuthFailure.Audience);
  });
  await t.test('a token with the configured issuer and audience connects', async (t) => {
    const token = signToken({ sub: 'v-iss', ...good });
    const { established } = await assertAccepted(srv, t, token);
    t.equal(established.user.id, 'v-iss');
  });
});

t.test('issuer and audience are not required when not configured', async (t) => {
  const srv = await buildServer(t);
  const token = signToken({ sub: 'v-any', iss: 'whoever', aud: 'whatever' });
  const { established } = await assertAccepted(srv, t, token);
  t.equal(established.user.id, 'v-any');
});

// --- Public keys ---------------------------------------------------------------------------

t.test('an RS256 token verifies against a configured RSA public key', async (t) => {
  const { publicKey, privateKey } = rsaKeys();
  const srv = await buildServer(t, jwtConfig({ secret: undefined, publicKey }));
  const token = jwt.sign(
    { sub: 'rsa-agent', role: 'agent', company_id: 'acme', exp: nowS() + 600 },
    privateKey,
    { algorithm: 'RS256' },
  );
  const { established } = await assertAccepted(srv, t, token);
  t.same(established.user, {
    id: 'rsa-agent',
    role: 'agent',
    companyId: 'acme',
    name: 'rsa-agent',
  });
});

t.test('an ES256 token verifies against a configured EC public key', async (t) => {
  const { publicKey, privateKey } = ecKeys();
  const srv = await buildServer(t, jwtConfig({ secret: undefined, publicKey }));
  const token = jwt.sign(
    { sub: 'ec-visitor', role: 'visitor', company_id: 'acme', exp: nowS() + 600 },
    privateKey,
    { algorithm: 'ES256' },
  );
  const { established } = await assertAccepted(srv, t, token);
  t.equal(established.user.id, 'ec-visitor');
  t.equal(established.user.role, 'visitor');
});

t.test('an RS256 token signed by another key pair is refused', async (t) => {
  const { publicKey } = rsaKeys();
  const { privateKey: otherPrivateKey } = rsaKeys(1);
  const { srv, observers } = await serverWithObservers(t, jwtConfig({ publicKey }));
  const token = jwt.sign(intruderClaims(), otherPrivateKey, { algorithm: 'RS256' });
  await assertRefused(t, srv, observers, token, AuthFailure.Signature);
});

t.test(
  'an HS256 token signed with the RSA public key is refused when only the public key is configured',
  async (t) => {
    const { publicKey, privateKey } = rsaKeys();
    const srv = await buildServer(t, jwtConfig({ secret: undefined, publicKey }));
    const watcherClaims = { role: 'agent', company_id: 'acme', exp: nowS() + 600 };
    const watcher = openClient(
      srv.wsUrl,
      jwt.sign({ ...watcherClaims, sub: 'watcher-agent' }, privateKey, { algorithm: 'RS256' }),
    );
    t.teardown(() => watcher.close());
    await watcher.established();
    await watcher.next('agent_status_changed', 3000, (m) => m.agentId === 'watcher-agent');
    await assertRefused(
      t,
      srv,
      [watcher],
      hmacToken(intruderClaims(), publicKey),
      AuthFailure.Algorithm,
    );
  },
);

t.test(
  'an HS256 token signed with the RSA public key fails the signature check when both keys are configured',
  async (t) => {
    const { publicKey } = rsaKeys();
    const { srv, observers } = await serverWithObservers(t, jwtConfig({ publicKey }));
    await assertRefused(
      t,
      srv,
      observers,
      hmacToken(intruderClaims(), publicKey),
      AuthFailure.Signature,
    );
  },
);

// --- Accepted tokens -----------------------------------------------------------------------

t.test('an agent gets a complete connection_established as its first frame', async (t) => {
  const srv = await buildServer(t, { heartbeatIntervalMs: 12_345 });
  const token = signToken({ sub: 'agent-7', role: 'agent', company_id: 'acme', name: 'Ann' });
  const { established } = await assertAccepted(srv, t, token);
  t.match(established.connectionId, /^[0-9a-f-]{36}$/);
  t.same(established, {
    type: 'connection_established',
    connectionId: established.connectionId,
    protocolVersion: PROTOCOL_VERSION,
    user: { id: 'agent-7', role: 'agent', companyId: 'acme', name: 'Ann' },
    rooms: ['agent-room'],
    iceServers: [],
    heartbeatIntervalMs: 12_345,
  });
  t.equal(established.protocolVersion, 1);
});

t.test('a visitor starts in public-calls and each connection gets its own id', async (t) => {
  const srv = await buildServer(t);
  const first = await assertAccepted(srv, t, signToken({ sub: 'v-1', name: 'Vera' }));
  const second = await assertAccepted(srv, t, signToken({ sub: 'v-1', name: 'Vera' }));
  t.same(first.established.rooms, ['public-calls']);
  t.same(first.established.user, { id: 'v-1', role: 'visitor', companyId: 'acme', name: 'Vera' });
  t.not(first.established.connectionId, second.established.connectionId);
});

t.test('an admin starts in agent-room', async (t) => {
  const srv = await buildServer(t);
  const { established } = await assertAccepted(srv, t, signToken({ sub: 'boss', role: 'admin' }));
  t.equal(established.user.role, 'admin');
  t.same(established.rooms, ['agent-room']);
});

t.test("the seed demo's id claim is the user id when sub is absent", async (t) => {
  const srv = await buildServer(t);
  const token = signToken({ sub: undefined, id: 'demo-42', role: 'agent' });
  const { established } = await assertAccepted(srv, t, token);
  t.equal(established.user.id, 'demo-42');
  t.equal(established.user.role, 'agent');
});

t.test('sub wins over id when a token carries both', async (t) => {
  const srv = await buildServer(t);
  const { established } = await assertAccepted(srv, t, signToken({ sub: 'real', id: 'demo' }));
  t.equal(established.user.id, 'real');
});

t.test('a numeric sub becomes a string user id', async (t) => {
  const srv = await buildServer(t);
  const { established } = await assertAccepted(srv, t, signToken({ sub: undefined, id: 42 }));
  t.equal(established.user.id, '42');
});

t.test("the seed demo's role user means visitor", async (t) => {
  const srv = await buildServer(t);
  const { established } = await assertAccepted(srv, t, signToken({ sub: 'u-1', role: 'user' }));
  t.equal(established.user.role, 'visitor');
  t.same(established.rooms, ['public-calls']);
});

t.test('a token without a role connects as a visitor', async (t) => {
  const srv = await buildServer(t);
  const { established } = await assertAccepted(srv, t, signToken({ sub: 'u-2', role: undefined }));
  t.equal(established.user.role, 'visitor');
  t.same(established.rooms, ['public-calls']);
});

t.test('without a name claim a visitor is "Visitor" and an agent is its id', async (t) => {
  const srv = await buildServer(t);
  const visitor = await assertAccepted(srv, t, signToken({ sub: 'v-anon' }));
  t.equal(visitor.established.user.name, 'Visitor');
  const agent = await assertAccepted(srv, t, signToken({ sub: 'agent-anon', role: 'agent' }));
  t.equal(agent.established.user.name, 'agent-anon');
  const blank = await assertAccepted(srv, t, signToken({ sub: 'v-blank', name: '   ' }));
  t.equal(blank.established.user.name, 'Visitor', 'a blank name counts as none');
  const padded = await assertAccepted(srv, t, signToken({ sub: 'v-pad', name: '  Pat  ' }));
  t.equal(padded.established.user.name, 'Pat', 'a name is trimmed');
});

t.test('a name claim is normalised whoever issued the token', async (t) => {
  const srv = await buildServer(t);
  const spoof = await assertAccepted(
    srv,
    t,
    signToken({ sub: 'v-rlo', name: '\u202Egnp.exe\u200B\u0000 \n\t Vera' }),
  );
  t.equal(spoof.established.user.name, 'gnp.exe Vera', 'bidi, zero-width, NUL and layout gone');
  const invisible = await assertAccepted(
    srv,
    t,
    signToken({ sub: 'v-inv', name: '\u200B\u2066\uFEFF\u3164' }),
  );
  t.equal(invisible.established.user.name, 'Visitor', 'nothing visible counts as none');
  const agent = await assertAccepted(
    srv,
    t,
    signToken({ sub: 'agent-inv', role: 'agent', name: '\u200D\u202D' }),
  );
  t.equal(agent.established.user.name, 'agent-inv', 'an agent with nothing visible is its id');
  const emoji = '\u{1F600}'.repeat(100);
  const capped = await assertAccepted(srv, t, signToken({ sub: 'v-cap', name: `${emoji}x` }));
  t.equal(capped.established.user.name, emoji, 'at most 100 code points, no pair split');
});

t.test('a token in an Authorization Bearer header is accepted', async (t) => {
  const srv = await buildServer(t);
  const token = signToken({ sub: 'bearer-agent', role: 'agent' });
  const client = openClient(srv.wsUrl, undefined, {
    headers: { Authorization: `Bearer ${token}` },
  });
  t.teardown(() => client.close());
  const established = await client.established();
  t.equal(client.types()[0], 'consumed:connection_established', 'it is the first frame');
  t.equal(established.user.id, 'bearer-agent');
  t.equal(established.user.role, 'agent');
});

// --- Metrics -------------------------------------------------------------------------------

t.test('refused tokens move calldocker_auth_failures_total by reason', async (t) => {
  const srv = await buildServer(t);
  const series = (reason: string) => `calldocker_auth_failures_total{reason="${reason}"}`;
  const before = (await httpGet(srv, '/metrics')).body;
  t.equal(metricValue(before, series(AuthFailure.Expired)), 0);
  t.equal(metricValue(before, series(AuthFailure.Missing)), 0);

  for (const token of [signToken({ exp: nowS() - 10 }), signToken({ exp: nowS() - 20 })]) {
    const client = openClient(srv.wsUrl, token);
    t.equal((await client.closed).code, CloseCode.Unauthorized);
  }
  const missing = openClient(srv.wsUrl, undefined);
  t.equal((await missing.closed).code, CloseCode.Unauthorized);
  const ok = await assertAccepted(srv, t, signToken({ sub: 'counted-not' }));
  t.ok(ok.established);

  const after = await httpGet(srv, '/metrics');
  t.equal(after.status, 200);
  t.equal(metricValue(after.body, series(AuthFailure.Expired)), 2);
  t.equal(metricValue(after.body, series(AuthFailure.Missing)), 1);
  t.equal(metricValue(after.body, series(AuthFailure.Signature)), 0);
  t.equal(metricValue(after.body, 'calldocker_closes_total{code="4001"}'), 3);
});

t.test('a principal the admission check refuses is closed with 4003 and never joins', async (t) => {
  const srv = await buildServer(t, {}, { admit: async (p) => p.companyId !== 'disabled-co' });
  const agent = await connectAgent(t, srv, { company_id: 'disabled-co', sub: 'watcher' }).catch(
    (err: unknown) => err,
  );
  t.type(agent, Error, 'the refused agent never gets connection_established');
  const refused = openClient(srv.wsUrl, signToken({ company_id: 'disabled-co' }));
  const close = await refused.closed;
  t.equal(close.code, 4003);
  t.equal(close.reason, 'not admitted');
  t.same(refused.received, [], 'nothing was sent before the close');
  const admitted = await connectVisitor(t, srv, { company_id: 'acme' });
  t.equal((await admitted.request({ type: 'ping' })).type, 'ack', 'other companies connect');
});

t.test('an admission check that throws refuses the connection', async (t) => {
  const srv = await buildServer(
    t,
    {},
    {
      admit: () => {
        throw new Error('database down');
      },
    },
  );
  const client = openClient(srv.wsUrl, signToken());
  t.equal((await client.closed).code, 4003);
});
