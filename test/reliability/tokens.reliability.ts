/**
 * Token attacks: a corpus of forged, tampered, stale, malformed and oversized tokens thrown at
 * the upgrade of a live server configured the strict way (HS256 secret, RSA public key, issuer
 * and audience). Each case is a named test and must end the way PROTOCOL.md says a refused
 * token ends: the upgrade completes, the server closes with 4001 and the reason naming the
 * failure, no frame comes first, nobody in either company hears of the attempt, no connection
 * is left behind. The refusals are counted by reason in `/metrics`, and a server that holds a
 * JWKS URL hostage (`jku`, `x5u`) is never called.
 *
 * Tokens too large for an HTTP request never reach the server's code: Node answers 431 before
 * the upgrade. Those cases assert that, and that the server is still up afterwards.
 *
 *   npx tap --disable-coverage test/reliability/tokens.reliability.ts
 */
import { createHmac, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import jwt from 'jsonwebtoken';
import t from 'tap';
import { WebSocket } from 'ws';
import { CloseCode } from '../../client-lib/constants.js';
import type { SignalingConfig } from '../../config/config.js';
import { AuthFailure } from '../../server/errors.js';
import {
  TEST_SECRET,
  buildServer,
  delay,
  flush,
  httpGet,
  metricValue,
  openClient,
  TestClient,
  type TestServer,
} from '../helpers.js';

/** The test object tap hands to a subtest callback. */
type Test = Parameters<Parameters<typeof t.test>[0]>[0];

const ISSUER = 'calldocker-test';
const AUDIENCE = 'signaling';
const nowS = () => Math.floor(Date.now() / 1000);

// ---------------------------------------------------------------------------------------------
// Keys and forging tools
// ---------------------------------------------------------------------------------------------

function rsaPair() {
  return generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
}

/** The key the server trusts, and an attacker's. */
const trusted = rsaPair();
const attacker = rsaPair();
const attackerEc = generateKeyPairSync('ec', {
  namedCurve: 'P-256',
  publicKeyEncoding: { type: 'spki', format: 'pem' },
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
});

const b64 = (value: string | Buffer) => Buffer.from(value).toString('base64url');
/** One JWT segment: the base64url of `value`'s JSON. */
const segment = (value: unknown) => b64(JSON.stringify(value));

/** An HMAC-signed token built by hand, as a forger would: any header, any key, any hash. */
function hmac(
  header: unknown,
  payload: unknown,
  key: string | Buffer = TEST_SECRET,
  hash = 'sha256',
): string {
  const unsigned = `${segment(header)}.${segment(payload)}`;
  return `${unsigned}.${createHmac(hash, key).update(unsigned).digest('base64url')}`;
}

/** Claims the server would accept: a visitor of acme, with the configured issuer and audience. */
function claims(extra: Record<string, unknown> = {}): Record<string, unknown> {
  const base: Record<string, unknown> = {
    sub: 'mallory',
    role: 'visitor',
    company_id: 'acme',
    name: 'Mallory',
    exp: nowS() + 3600,
    iss: ISSUER,
    aud: AUDIENCE,
    ...extra,
  };
  for (const key of Object.keys(base)) if (base[key] === undefined) delete base[key];
  return base;
}

/** A genuine HS256 token for `claims(extra)`. */
const genuine = (extra: Record<string, unknown> = {}) =>
  hmac({ alg: 'HS256', typ: 'JWT' }, claims(extra));
/** A genuine RS256 token, signed with the trusted private key. */
const genuineRs = (extra: Record<string, unknown> = {}) =>
  jwt.sign(claims(extra), trusted.privateKey, { algorithm: 'RS256' });

const split = (token: string) => token.split('.') as [string, string, string];

/** `token` with its payload replaced and its original signature kept. */
function tamper(token: string, extra: Record<string, unknown>): string {
  const [header, , signature] = split(token);
  return `${header}.${segment(claims(extra))}.${signature}`;
}

/** An unsigned token: `alg` none (or a spelling of it), with `signature` appended if given. */
function unsigned(
  alg: unknown,
  signature: string | undefined,
  payload = claims({ role: 'admin' }),
) {
  const head = `${segment({ alg, typ: 'JWT' })}.${segment(payload)}`;
  return signature === undefined ? head : `${head}.${signature}`;
}

/** A validly signed token padded (with a claim) to exactly `length` characters. */
function paddedToken(length: number): string {
  let pad = Math.max(0, Math.floor((length * 3) / 4) - 300);
  let token = genuine({ pad: 'x'.repeat(pad) });
  while (token.length < length) token = genuine({ pad: 'x'.repeat(++pad) });
  while (token.length > length) token = genuine({ pad: 'x'.repeat(--pad) });
  return token;
}

// ---------------------------------------------------------------------------------------------
// Servers, observers, attempts
// ---------------------------------------------------------------------------------------------

/** The strict server: shared secret, RSA public key, issuer and audience all configured. */
const STRICT: Partial<SignalingConfig> = {
  jwt: { secret: TEST_SECRET, publicKey: trusted.publicKey, issuer: ISSUER, audience: AUDIENCE },
  presenceTickMs: 0,
};
/** A server that trusts only the RSA public key (no shared secret, no issuer or audience). */
const KEY_ONLY: Partial<SignalingConfig> = {
  jwt: { secret: undefined, publicKey: trusted.publicKey, issuer: undefined, audience: undefined },
  presenceTickMs: 0,
};

/** How an attempt is sent: the raw query string and the upgrade's headers. */
interface Attempt {
  readonly query?: string;
  readonly headers?: Record<string, string>;
}

const inQuery = (token: string): Attempt => ({ query: `?token=${encodeURIComponent(token)}` });
const inHeader = (token: string): Attempt => ({ headers: { Authorization: `Bearer ${token}` } });

/** How an attempt ended. */
type Outcome =
  | { kind: 'closed'; code: number; reason: string; frames: string[] }
  | { kind: 'http'; status: number }
  | { kind: 'stuck' };

/** Opens a raw socket for `attempt` and reports how it ended. */
function attempt(srv: TestServer, a: Attempt, timeoutMs = 5000): Promise<Outcome> {
  return new Promise((resolve) => {
    const frames: string[] = [];
    const ws = new WebSocket(`${srv.wsUrl}${a.query ?? ''}`, { headers: a.headers ?? {} });
    const timer = setTimeout(() => {
      ws.terminate();
      resolve({ kind: 'stuck' });
    }, timeoutMs);
    const done = (outcome: Outcome) => {
      clearTimeout(timer);
      resolve(outcome);
    };
    ws.on('error', () => undefined);
    ws.on('message', (data) => frames.push(String(data)));
    ws.on('unexpected-response', (request, res) => {
      res.resume();
      request.destroy();
      done({ kind: 'http', status: res.statusCode ?? 0 });
    });
    ws.on('close', (code, reason) =>
      done({ kind: 'closed', code, reason: String(reason), frames }),
    );
  });
}

/** A server with agents and visitors of two companies listening for any leak. */
interface Stage {
  readonly srv: TestServer;
  readonly observers: TestClient[];
  /** Refusals asserted so far, by reason (what `/metrics` must show). */
  readonly refused: Map<string, number>;
}

async function stage(
  t: Test,
  overrides: Partial<SignalingConfig>,
  sign: (c: Record<string, unknown>) => string,
) {
  const srv = await buildServer(t, overrides);
  const observers: TestClient[] = [];
  for (const [company_id, role, sub] of [
    ['acme', 'agent', 'acme-watch-agent'],
    ['acme', 'visitor', 'acme-watch-visitor'],
    ['globex', 'agent', 'globex-watch-agent'],
    ['globex', 'visitor', 'globex-watch-visitor'],
  ] as const) {
    const client = openClient(srv.wsUrl, sign(claims({ company_id, role, sub })));
    t.teardown(() => client.close());
    await client.established();
    observers.push(client);
  }
  await delay(50);
  await flush(...observers);
  return { srv, observers, refused: new Map<string, number>() } satisfies Stage;
}

/**
 * Sends `a` and asserts the PROTOCOL.md refusal: close 4001 with `reason`, no frame first, no
 * frame to any observer, no connection left.
 */
async function assertRefused(t: Test, s: Stage, a: Attempt, reason: string): Promise<void> {
  const before = s.observers.map((o) => o.received.length);
  const outcome = await attempt(s.srv, a);
  t.same(
    outcome,
    { kind: 'closed', code: CloseCode.Unauthorized, reason, frames: [] },
    `4001 ${reason}`,
  );
  s.refused.set(reason, (s.refused.get(reason) ?? 0) + 1);
  await delay(20);
  await flush(...s.observers);
  const heard = s.observers.flatMap((o, i) =>
    o.received.slice(before[i]).filter((m) => !['ack', 'pong', 'consumed:ack'].includes(m.type)),
  );
  t.same(heard, [], 'neither company heard of the attempt');
  t.equal(s.srv.server.connectionCount, s.observers.length, 'no connection left behind');
}

/** Asserts `/metrics` counted every refusal of the stage by reason, and each as a 4001 close. */
async function assertCounted(t: Test, s: Stage): Promise<void> {
  const { body } = await httpGet(s.srv, '/metrics');
  let total = 0;
  for (const [reason, n] of s.refused) {
    total += n;
    t.equal(metricValue(body, `calldocker_auth_failures_total{reason="${reason}"}`), n, reason);
  }
  const counted = body
    .split('\n')
    .filter((line) => line.startsWith('calldocker_auth_failures_total{'))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
  t.equal(counted, total, `${total} refusals counted, no more`);
  t.equal(
    metricValue(body, `calldocker_closes_total{code="4001"}`),
    total,
    'each closed with 4001',
  );
}

// ---------------------------------------------------------------------------------------------
// A JWKS host the server must never call
// ---------------------------------------------------------------------------------------------

let jwksHits = 0;
const jwksHost: Server = createServer((_req, res) => {
  jwksHits++;
  const jwk = createPublicKey(attacker.publicKey).export({ format: 'jwk' });
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] }));
});
await new Promise<void>((resolve) => jwksHost.listen(0, '127.0.0.1', resolve));
t.teardown(() => jwksHost.close());
const jwksUrl = `http://127.0.0.1:${(jwksHost.address() as AddressInfo).port}`;

// ---------------------------------------------------------------------------------------------
// The corpus
// ---------------------------------------------------------------------------------------------

/** One forged attempt: what is sent and the reason the server must close with. */
interface Forgery {
  readonly name: string;
  readonly attempt: () => Attempt;
  readonly reason: AuthFailure;
}

const q = (token: () => string) => () => inQuery(token());

/** Against the strict server. */
const STRICT_CORPUS: readonly Forgery[] = [
  // --- alg none and algorithm games ---
  {
    name: 'alg none with an empty signature',
    attempt: q(() => unsigned('none', '')),
    reason: AuthFailure.Algorithm,
  },
  {
    name: 'alg none without a signature part',
    attempt: q(() => unsigned('none', undefined)),
    reason: AuthFailure.Malformed,
  },
  {
    name: "alg none keeping a genuine token's signature",
    attempt: q(() => unsigned('none', split(genuine())[2])),
    reason: AuthFailure.Algorithm,
  },
  {
    name: 'alg None (capitalised)',
    attempt: q(() => unsigned('None', '')),
    reason: AuthFailure.Algorithm,
  },
  { name: 'alg nOnE', attempt: q(() => unsigned('nOnE', '')), reason: AuthFailure.Algorithm },
  {
    name: 'no alg in the header',
    attempt: q(() => hmac({ typ: 'JWT' }, claims())),
    reason: AuthFailure.Algorithm,
  },
  {
    name: 'alg given as an array',
    attempt: q(() => hmac({ alg: ['HS256'] }, claims())),
    reason: AuthFailure.Algorithm,
  },
  {
    name: 'alg hs256 in lower case',
    attempt: q(() => hmac({ alg: 'hs256' }, claims())),
    reason: AuthFailure.Algorithm,
  },
  {
    name: 'HS384 signed with the right secret',
    attempt: q(() => hmac({ alg: 'HS384' }, claims(), TEST_SECRET, 'sha384')),
    reason: AuthFailure.Algorithm,
  },
  {
    name: 'HS512 signed with the right secret',
    attempt: q(() => hmac({ alg: 'HS512' }, claims(), TEST_SECRET, 'sha512')),
    reason: AuthFailure.Algorithm,
  },
  {
    name: 'PS256 signed with the trusted RSA private key',
    attempt: q(() => jwt.sign(claims(), trusted.privateKey, { algorithm: 'PS256' })),
    reason: AuthFailure.Algorithm,
  },
  {
    name: 'ES256 when the configured public key is RSA',
    attempt: q(() => jwt.sign(claims(), attackerEc.privateKey, { algorithm: 'ES256' })),
    reason: AuthFailure.Algorithm,
  },
  // --- HS/RS confusion ---
  {
    name: 'HS256 signed with the RSA public key PEM as the secret',
    attempt: q(() =>
      hmac({ alg: 'HS256', typ: 'JWT' }, claims({ role: 'admin' }), trusted.publicKey),
    ),
    reason: AuthFailure.Signature,
  },
  {
    name: 'HS256 signed with the RSA public key as DER bytes',
    attempt: q(() =>
      hmac(
        { alg: 'HS256' },
        claims({ role: 'admin' }),
        createPublicKey(trusted.publicKey).export({ type: 'spki', format: 'der' }),
      ),
    ),
    reason: AuthFailure.Signature,
  },
  {
    name: 'an RS256 header on an HMAC-signed token',
    attempt: q(() => {
      const [, payload, signature] = split(genuine({ role: 'admin' }));
      return `${segment({ alg: 'RS256', typ: 'JWT' })}.${payload}.${signature}`;
    }),
    reason: AuthFailure.Signature,
  },
  {
    name: "RS256 signed with an attacker's key pair",
    attempt: q(() =>
      jwt.sign(claims({ role: 'admin' }), attacker.privateKey, { algorithm: 'RS256' }),
    ),
    reason: AuthFailure.Signature,
  },
  // --- tampered payloads, original signature kept ---
  {
    name: 'role escalated visitor to admin',
    attempt: q(() => tamper(genuine(), { role: 'admin' })),
    reason: AuthFailure.Signature,
  },
  {
    name: 'role escalated visitor to agent',
    attempt: q(() => tamper(genuine(), { role: 'agent' })),
    reason: AuthFailure.Signature,
  },
  {
    name: 'company_id changed to another company',
    attempt: q(() => tamper(genuine(), { company_id: 'globex' })),
    reason: AuthFailure.Signature,
  },
  {
    name: 'sub changed to another user',
    attempt: q(() => tamper(genuine(), { sub: 'acme-watch-agent' })),
    reason: AuthFailure.Signature,
  },
  {
    name: 'exp pushed a year later',
    attempt: q(() => tamper(genuine(), { exp: nowS() + 365 * 86400 })),
    reason: AuthFailure.Signature,
  },
  {
    name: 'an expired token given a new exp',
    attempt: q(() => tamper(genuine({ exp: nowS() - 60 }), {})),
    reason: AuthFailure.Signature,
  },
  {
    name: 'header changed (typ) with the signature kept',
    attempt: q(() => {
      const [, payload, signature] = split(genuine());
      return `${segment({ alg: 'HS256', typ: 'at+jwt' })}.${payload}.${signature}`;
    }),
    reason: AuthFailure.Signature,
  },
  {
    name: 'an RS256 token with the role escalated',
    attempt: q(() => tamper(genuineRs(), { role: 'admin' })),
    reason: AuthFailure.Signature,
  },
  // --- issuer and audience ---
  {
    name: 'wrong issuer',
    attempt: q(() => genuine({ iss: 'someone-else' })),
    reason: AuthFailure.Issuer,
  },
  { name: 'no issuer', attempt: q(() => genuine({ iss: undefined })), reason: AuthFailure.Issuer },
  {
    name: 'issuer inside an array',
    attempt: q(() => genuine({ iss: [ISSUER] })),
    reason: AuthFailure.Issuer,
  },
  {
    name: 'wrong audience',
    attempt: q(() => genuine({ aud: 'web' })),
    reason: AuthFailure.Audience,
  },
  {
    name: 'audience list without ours',
    attempt: q(() => genuine({ aud: ['web', 'admin'] })),
    reason: AuthFailure.Audience,
  },
  {
    name: 'no audience',
    attempt: q(() => genuine({ aud: undefined })),
    reason: AuthFailure.Audience,
  },
  // --- time ---
  {
    name: 'expired an hour ago',
    attempt: q(() => genuine({ exp: nowS() - 3600 })),
    reason: AuthFailure.Expired,
  },
  {
    name: 'expiring this very second',
    attempt: q(() => genuine({ exp: nowS() })),
    reason: AuthFailure.Expired,
  },
  { name: 'exp 0', attempt: q(() => genuine({ exp: 0 })), reason: AuthFailure.Expired },
  {
    name: 'not valid for another hour (nbf)',
    attempt: q(() => genuine({ nbf: nowS() + 3600 })),
    reason: AuthFailure.NotYetValid,
  },
  {
    name: 'exp as a string',
    attempt: q(() => genuine({ exp: String(nowS() + 3600) })),
    reason: AuthFailure.Malformed,
  },
  { name: 'exp null', attempt: q(() => genuine({ exp: null })), reason: AuthFailure.Malformed },
  {
    name: 'nbf as a string',
    attempt: q(() => genuine({ nbf: 'now' })),
    reason: AuthFailure.Malformed,
  },
  // --- missing and mistyped claims ---
  { name: 'no exp', attempt: q(() => genuine({ exp: undefined })), reason: AuthFailure.MissingExp },
  {
    name: 'neither sub nor id',
    attempt: q(() => genuine({ sub: undefined })),
    reason: AuthFailure.MissingSub,
  },
  { name: 'sub empty', attempt: q(() => genuine({ sub: '' })), reason: AuthFailure.MissingSub },
  {
    name: 'sub of 129 characters',
    attempt: q(() => genuine({ sub: 's'.repeat(129) })),
    reason: AuthFailure.MissingSub,
  },
  {
    name: 'sub an object',
    attempt: q(() => genuine({ sub: { id: 'x' } })),
    reason: AuthFailure.MissingSub,
  },
  {
    name: 'sub a fraction',
    attempt: q(() => genuine({ sub: 1.5 })),
    reason: AuthFailure.MissingSub,
  },
  { name: 'sub true', attempt: q(() => genuine({ sub: true })), reason: AuthFailure.MissingSub },
  {
    name: 'no company_id',
    attempt: q(() => genuine({ company_id: undefined })),
    reason: AuthFailure.MissingCompany,
  },
  {
    name: 'company_id empty',
    attempt: q(() => genuine({ company_id: '' })),
    reason: AuthFailure.MissingCompany,
  },
  {
    name: 'company_id null',
    attempt: q(() => genuine({ company_id: null })),
    reason: AuthFailure.MissingCompany,
  },
  {
    name: 'company_id an object',
    attempt: q(() => genuine({ company_id: { id: 'acme' } })),
    reason: AuthFailure.BadClaim,
  },
  {
    name: 'company_id an array',
    attempt: q(() => genuine({ company_id: ['acme', 'globex'] })),
    reason: AuthFailure.BadClaim,
  },
  {
    name: 'company_id a fraction',
    attempt: q(() => genuine({ company_id: 1.5 })),
    reason: AuthFailure.BadClaim,
  },
  {
    name: 'role superuser',
    attempt: q(() => genuine({ role: 'superuser' })),
    reason: AuthFailure.BadRole,
  },
  {
    name: 'role Admin (case)',
    attempt: q(() => genuine({ role: 'Admin' })),
    reason: AuthFailure.BadRole,
  },
  {
    name: 'role as an array',
    attempt: q(() => genuine({ role: ['admin'] })),
    reason: AuthFailure.BadRole,
  },
  { name: 'role null', attempt: q(() => genuine({ role: null })), reason: AuthFailure.BadRole },
  { name: 'name a number', attempt: q(() => genuine({ name: 42 })), reason: AuthFailure.BadClaim },
  {
    name: 'origin claim not an origin',
    attempt: q(() => genuine({ origin: 'https://shop.acme.example/path' })),
    reason: AuthFailure.BadClaim,
  },
  {
    name: 'origin claim rewritten to another site',
    attempt: q(() =>
      tamper(genuine({ origin: 'https://shop.acme.example' }), {
        origin: 'https://evil.example',
      }),
    ),
    reason: AuthFailure.Signature,
  },
  // --- a genuine visitor token taken from the page it was issued to, used by another site ---
  {
    name: 'a visitor token of one site presented by a browser on another',
    attempt: () => ({
      ...inQuery(genuine({ origin: 'https://shop.acme.example' })),
      headers: { Origin: 'https://evil.example' },
    }),
    reason: AuthFailure.Origin,
  },
  {
    name: 'payload a JSON string',
    attempt: q(() => hmac({ alg: 'HS256' }, 'admin')),
    reason: AuthFailure.Malformed,
  },
  {
    name: 'payload a number',
    attempt: q(() => hmac({ alg: 'HS256' }, 42)),
    reason: AuthFailure.Malformed,
  },
  // --- size (PROTOCOL.md: at most 8192 characters) ---
  {
    name: 'validly signed, 8,193 characters',
    attempt: q(() => paddedToken(8193)),
    reason: AuthFailure.Malformed,
  },
  {
    name: 'validly signed, 12,000 characters in the query (near the header limit)',
    attempt: q(() => paddedToken(12_000)),
    reason: AuthFailure.Malformed,
  },
  {
    name: 'validly signed, 12,000 characters in the Authorization header',
    attempt: () => inHeader(paddedToken(12_000)),
    reason: AuthFailure.Malformed,
  },
  {
    name: '12,000 characters of garbage',
    attempt: q(() => 'A'.repeat(12_000)),
    reason: AuthFailure.Malformed,
  },
  // --- missing, empty, garbage ---
  { name: 'no token at all', attempt: () => ({}), reason: AuthFailure.Missing },
  {
    name: 'an empty token parameter',
    attempt: () => ({ query: '?token=' }),
    reason: AuthFailure.Missing,
  },
  {
    name: 'an empty Bearer header',
    attempt: () => ({ headers: { Authorization: 'Bearer ' } }),
    reason: AuthFailure.Missing,
  },
  {
    name: 'a Basic Authorization header',
    attempt: () => ({ headers: { Authorization: `Basic ${b64('mallory:hunter2')}` } }),
    reason: AuthFailure.Missing,
  },
  {
    name: 'a genuine token under another parameter name (access_token)',
    attempt: () => ({ query: `?access_token=${genuine()}` }),
    reason: AuthFailure.Missing,
  },
  { name: 'not-a-jwt', attempt: q(() => 'not-a-jwt'), reason: AuthFailure.Malformed },
  { name: 'four dots', attempt: q(() => '....'), reason: AuthFailure.Malformed },
  { name: 'a.b.c', attempt: q(() => 'a.b.c'), reason: AuthFailure.Malformed },
  {
    name: 'three base64 parts that are not JSON',
    attempt: q(() => `${b64('hello')}.${b64('world')}.${b64('signature')}`),
    reason: AuthFailure.Malformed,
  },
  {
    name: 'a header that is not JSON',
    attempt: q(() => `${b64('{"alg":"HS256"')}.${segment(claims())}.c2ln`),
    reason: AuthFailure.Malformed,
  },
  {
    name: 'emoji',
    attempt: q(() => '\u{1f511}.\u{1f511}.\u{1f511}'),
    reason: AuthFailure.Malformed,
  },
  { name: 'a NUL byte', attempt: q(() => '\u0000'), reason: AuthFailure.Malformed },
  {
    name: 'five parts (JWE-shaped)',
    attempt: q(() => `${genuine()}.e30.e30`),
    reason: AuthFailure.Malformed,
  },
  {
    name: 'whitespace inside a genuine token',
    attempt: q(() => {
      const token = genuine();
      return `${token.slice(0, 10)} ${token.slice(10)}`;
    }),
    reason: AuthFailure.Malformed,
  },
  {
    name: 'two genuine tokens joined by a dot',
    attempt: q(() => `${genuine()}.${genuine()}`),
    reason: AuthFailure.Malformed,
  },
  // --- signatures ---
  {
    name: 'signature truncated by two characters',
    attempt: q(() => genuine().slice(0, -2)),
    reason: AuthFailure.Signature,
  },
  {
    name: 'signature with one character changed',
    attempt: q(() => {
      const [header, payload, signature] = split(genuine());
      return `${header}.${payload}.${signature.startsWith('A') ? 'B' : 'A'}${signature.slice(1)}`;
    }),
    reason: AuthFailure.Signature,
  },
  {
    name: 'signature removed (HS256 header, empty signature)',
    attempt: q(() => `${split(genuine()).slice(0, 2).join('.')}.`),
    reason: AuthFailure.Malformed,
  },
  {
    name: 'signature with base64 padding appended',
    attempt: q(() => `${genuine()}==`),
    reason: AuthFailure.Malformed,
  },
  {
    name: 'signed with another secret',
    attempt: q(() =>
      hmac({ alg: 'HS256' }, claims(), 'another-secret-that-is-also-long-enough-0123'),
    ),
    reason: AuthFailure.Signature,
  },
  {
    name: 'signed with an empty secret',
    attempt: q(() => hmac({ alg: 'HS256' }, claims(), '')),
    reason: AuthFailure.Signature,
  },
  // --- header tricks: kid, jku, x5u, jwk, x5c ---
  {
    name: 'kid path traversal to /dev/null, signed with an empty key',
    attempt: q(() =>
      hmac({ alg: 'HS256', kid: '../../../../../../dev/null' }, claims({ role: 'admin' }), ''),
    ),
    reason: AuthFailure.Signature,
  },
  {
    name: 'kid SQL injection choosing the key "secret"',
    attempt: q(() =>
      hmac(
        { alg: 'HS256', kid: "x' UNION SELECT 'secret' --" },
        claims({ role: 'admin' }),
        'secret',
      ),
    ),
    reason: AuthFailure.Signature,
  },
  {
    name: 'kid naming the public key file, HS256 signed with the PEM',
    attempt: q(() =>
      hmac({ alg: 'HS256', kid: 'jwt-public.pem' }, claims({ role: 'admin' }), trusted.publicKey),
    ),
    reason: AuthFailure.Signature,
  },
  {
    name: "jku pointing at the attacker's JWKS",
    attempt: q(() =>
      jwt.sign(claims({ role: 'admin' }), attacker.privateKey, {
        algorithm: 'RS256',
        header: { alg: 'RS256', jku: `${jwksUrl}/jwks.json`, kid: 'attacker' },
      }),
    ),
    reason: AuthFailure.Signature,
  },
  {
    name: "x5u pointing at the attacker's certificate URL",
    attempt: q(() =>
      jwt.sign(claims({ role: 'admin' }), attacker.privateKey, {
        algorithm: 'RS256',
        header: { alg: 'RS256', x5u: `${jwksUrl}/cert.pem` },
      }),
    ),
    reason: AuthFailure.Signature,
  },
  {
    name: "the attacker's public key embedded as jwk",
    attempt: q(() =>
      jwt.sign(claims({ role: 'admin' }), attacker.privateKey, {
        algorithm: 'RS256',
        header: {
          alg: 'RS256',
          jwk: createPublicKey(attacker.publicKey).export({ format: 'jwk' }),
        } as jwt.JwtHeader,
      }),
    ),
    reason: AuthFailure.Signature,
  },
  {
    name: "the attacker's key embedded as x5c",
    attempt: q(() =>
      jwt.sign(claims({ role: 'admin' }), attacker.privateKey, {
        algorithm: 'RS256',
        header: {
          alg: 'RS256',
          x5c: [
            createPublicKey(attacker.publicKey)
              .export({ type: 'spki', format: 'der' })
              .toString('base64'),
          ],
        },
      }),
    ),
    reason: AuthFailure.Signature,
  },
  // --- header versus query ---
  {
    name: 'a forged token in the Authorization header',
    attempt: () => inHeader(tamper(genuine(), { role: 'admin' })),
    reason: AuthFailure.Signature,
  },
  {
    name: 'a forged token in the query with a genuine one in the header (the query wins)',
    attempt: () => ({ ...inQuery(tamper(genuine(), { role: 'admin' })), ...inHeader(genuine()) }),
    reason: AuthFailure.Signature,
  },
  {
    name: 'a forged token then a genuine one, both as ?token= (the first wins)',
    attempt: () => ({
      query: `?token=${encodeURIComponent(tamper(genuine(), { role: 'admin' }))}&token=${encodeURIComponent(genuine())}`,
    }),
    reason: AuthFailure.Signature,
  },
];

/** Against a server that trusts only the RSA public key. */
const KEY_ONLY_CORPUS: readonly Forgery[] = [
  {
    name: 'HS256 signed with the RSA public key PEM (no shared secret configured)',
    attempt: q(() =>
      hmac({ alg: 'HS256', typ: 'JWT' }, claims({ role: 'admin' }), trusted.publicKey),
    ),
    reason: AuthFailure.Algorithm,
  },
  {
    name: 'HS256 signed with the public key PEM without its final newline',
    attempt: q(() =>
      hmac({ alg: 'HS256' }, claims({ role: 'admin' }), trusted.publicKey.trimEnd()),
    ),
    reason: AuthFailure.Algorithm,
  },
  {
    name: 'HS256 signed with the test secret (no shared secret configured)',
    attempt: q(() => genuine()),
    reason: AuthFailure.Algorithm,
  },
  { name: 'alg none', attempt: q(() => unsigned('none', '')), reason: AuthFailure.Algorithm },
  {
    name: "RS256 signed with an attacker's key pair",
    attempt: q(() => jwt.sign(claims(), attacker.privateKey, { algorithm: 'RS256' })),
    reason: AuthFailure.Signature,
  },
  {
    name: 'an RS256 token with the company changed',
    attempt: q(() => tamper(genuineRs(), { company_id: 'globex' })),
    reason: AuthFailure.Signature,
  },
];

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

t.test('the strict server (secret, RSA key, issuer, audience) refuses every forgery', async (t) => {
  const s = await stage(t, STRICT, (c) => hmac({ alg: 'HS256', typ: 'JWT' }, c));

  await t.test('control: a genuine token connects, in the query or in the header', async (t) => {
    for (const a of [inQuery(genuine({ sub: 'ctl-1' })), inHeader(genuineRs({ sub: 'ctl-2' }))]) {
      const client = new TestClient(
        new WebSocket(`${s.srv.wsUrl}${a.query ?? ''}`, { headers: a.headers ?? {} }),
      );
      const established = await client.established();
      t.equal(established.user.companyId, 'acme');
      await client.close();
    }
    // The query wins over the header: a genuine query token with a forged header connects.
    const both = { ...inQuery(genuine({ sub: 'ctl-3' })), ...inHeader('forged') };
    const client = new TestClient(
      new WebSocket(`${s.srv.wsUrl}${both.query ?? ''}`, { headers: both.headers ?? {} }),
    );
    t.equal((await client.established()).user.id, 'ctl-3');
    await client.close();
  });

  await t.test(
    'control: the observers hear a genuine arrival (the leak check can see)',
    async (t) => {
      const agent = openClient(
        s.srv.wsUrl,
        hmac({ alg: 'HS256' }, claims({ sub: 'ctl-agent', role: 'agent' })),
      );
      await agent.established();
      const [acmeAgent, acmeVisitor] = s.observers;
      for (const o of [acmeAgent!, acmeVisitor!]) {
        const changed = await o.next(
          'agent_status_changed',
          3000,
          (m) => m.agentId === 'ctl-agent',
        );
        t.equal(changed.status, 'online');
      }
      await agent.close();
      for (const o of [acmeAgent!, acmeVisitor!]) {
        await o.next(
          'agent_status_changed',
          3000,
          (m) => m.agentId === 'ctl-agent' && m.status === 'offline',
        );
      }
      await flush(...s.observers);
      for (const o of s.observers) o.received.splice(0);
    },
  );

  for (const forgery of STRICT_CORPUS) {
    await t.test(forgery.name, (t) => assertRefused(t, s, forgery.attempt(), forgery.reason));
  }

  await t.test('tokens over the HTTP header limit get 431 before any upgrade', async (t) => {
    // Node refuses a request whose head exceeds its 16 KiB limit before the server's code
    // runs: no WebSocket, no close code, nothing counted. The server stays up.
    for (const a of [
      inQuery(paddedToken(20_000)),
      inHeader(paddedToken(20_000)),
      inQuery('A'.repeat(100_000)),
    ]) {
      t.same(await attempt(s.srv, a), { kind: 'http', status: 431 });
    }
    t.equal((await httpGet(s.srv, '/healthz')).status, 200, 'still healthy');
    t.equal(s.srv.server.connectionCount, s.observers.length);
  });

  await t.test('every refusal is counted in /metrics by reason', (t) => assertCounted(t, s));

  t.equal(jwksHits, 0, 'the server never fetched a jku or x5u URL');
});

t.test('the public-key-only server refuses every forgery', async (t) => {
  const s = await stage(t, KEY_ONLY, (c) =>
    jwt.sign(c, trusted.privateKey, { algorithm: 'RS256' }),
  );
  for (const forgery of KEY_ONLY_CORPUS) {
    await t.test(forgery.name, (t) => assertRefused(t, s, forgery.attempt(), forgery.reason));
  }
  await t.test('every refusal is counted in /metrics by reason', (t) => assertCounted(t, s));
});

t.test('a genuine connection still works after the corpus (strict server)', async (t) => {
  const srv = await buildServer(t, STRICT);
  for (const forgery of STRICT_CORPUS) await attempt(srv, forgery.attempt());
  const client = openClient(srv.wsUrl, genuine({ sub: 'after-all' }));
  t.teardown(() => client.close());
  t.equal((await client.established()).user.id, 'after-all');
  t.equal((await client.request({ type: 'ping' })).type, 'ack');
});
