/**
 * Who may read `/metrics` (server/metrics-access.ts): the decision over a table of headers and
 * addresses, then real HTTP against real servers: the bearer token, loopback-only production,
 * and a client on a non-loopback address of this machine where it has one.
 */
import { networkInterfaces } from 'node:os';
import t from 'tap';
import { buildSignalingServer } from '../../server/app.js';
import { signalingDefaults, type SignalingConfig } from '../../config/config.js';
import { isLoopback, metricsVerdict } from '../../server/metrics-access.js';
import { buildServer, metricValue } from '../helpers.js';

/** The test object tap hands to a subtest callback. */
type Test = Parameters<Parameters<typeof t.test>[0]>[0];

const TOKEN = 'metrics-token-0123456789abcdef';

t.test('loopback is 127.0.0.0/8, ::1 and IPv4-mapped 127.x, nothing else', async (t) => {
  for (const address of ['127.0.0.1', '127.0.0.2', '127.255.255.254', '::1', '::ffff:127.0.0.1']) {
    t.ok(isLoopback(address), address);
  }
  for (const address of [
    undefined,
    '',
    '10.0.0.1',
    '192.0.2.2',
    '128.0.0.1',
    '126.255.255.255',
    '::ffff:10.0.0.1',
    '::ffff:192.0.2.2',
    '::',
    '::2',
    'fd00::1',
    'fe80::1',
    '127.0.0.1.example.com',
    'x127.0.0.1',
  ]) {
    t.notOk(isLoopback(address), String(address));
  }
});

t.test('with a token, only its bearer is let in, from any address', async (t) => {
  const config = { metricsToken: TOKEN, metricsLoopbackOnly: true };
  const verdict = (authorization: string | undefined, address = '127.0.0.1') =>
    metricsVerdict(config, authorization, address);
  t.equal(verdict(`Bearer ${TOKEN}`), 'allow');
  t.equal(verdict(`bearer ${TOKEN}`), 'allow', 'the scheme is case-insensitive');
  t.equal(verdict(`Bearer ${TOKEN}`, '192.0.2.2'), 'allow', 'from a remote address too');
  for (const [what, header] of [
    ['no header', undefined],
    ['an empty header', ''],
    ['the scheme alone', 'Bearer'],
    ['the scheme and a space', 'Bearer '],
    ['the token without the scheme', TOKEN],
    ['Basic credentials', `Basic ${Buffer.from(`x:${TOKEN}`).toString('base64')}`],
    ['the token one character short', `Bearer ${TOKEN.slice(0, -1)}`],
    ['the token and one more character', `Bearer ${TOKEN}x`],
    ['the token in another case', `Bearer ${TOKEN.toUpperCase()}`],
    ['the same length, last character wrong', `Bearer ${TOKEN.slice(0, -1)}g`],
    ['two tokens', `Bearer ${TOKEN} ${TOKEN}`],
  ] as const) {
    t.equal(verdict(header), 'unauthorized', `${what}: 401, even from loopback`);
  }
});

t.test('without a token, production answers loopback only and others anyone', async (t) => {
  const production = { metricsToken: undefined, metricsLoopbackOnly: true };
  t.equal(metricsVerdict(production, undefined, '127.0.0.1'), 'allow');
  t.equal(metricsVerdict(production, undefined, '::1'), 'allow');
  t.equal(metricsVerdict(production, undefined, '::ffff:127.0.0.1'), 'allow');
  t.equal(metricsVerdict(production, undefined, '192.0.2.2'), 'forbidden');
  t.equal(metricsVerdict(production, undefined, '::ffff:192.0.2.2'), 'forbidden');
  t.equal(metricsVerdict(production, `Bearer ${TOKEN}`, '192.0.2.2'), 'forbidden', 'no token set');
  t.equal(metricsVerdict(production, undefined, undefined), 'forbidden', 'an unknown peer');
  const development = { metricsToken: undefined, metricsLoopbackOnly: false };
  t.equal(metricsVerdict(development, undefined, '192.0.2.2'), 'allow');
});

/** GET /metrics at `base`, with `authorization` when given. */
async function scrape(base: string, authorization?: string) {
  const res = await fetch(`${base}/metrics`, {
    headers: authorization === undefined ? {} : { authorization },
  });
  return { res, body: await res.text() };
}

/** Asserts a refusal: its status, the JSON error code, and no metric in the body. */
function assertRefused(
  t: Test,
  { res, body }: Awaited<ReturnType<typeof scrape>>,
  status: number,
  error: string,
) {
  t.equal(res.status, status);
  t.match(res.headers.get('content-type'), /^application\/json/);
  t.match(JSON.parse(body), { error, message: String });
  t.notMatch(body, /calldocker_/, 'no metric leaked');
}

t.test('with METRICS_TOKEN, /metrics over HTTP needs the bearer: 401 otherwise', async (t) => {
  const srv = await buildServer(t, { metricsToken: TOKEN, metricsLoopbackOnly: true });
  const missing = await scrape(srv.httpUrl);
  assertRefused(t, missing, 401, 'unauthorized');
  t.equal(missing.res.headers.get('www-authenticate'), 'Bearer realm="metrics"');
  assertRefused(t, await scrape(srv.httpUrl, `Bearer ${TOKEN}x`), 401, 'unauthorized');
  assertRefused(t, await scrape(srv.httpUrl, `Bearer ${TOKEN.slice(1)}`), 401, 'unauthorized');
  const allowed = await scrape(srv.httpUrl, `Bearer ${TOKEN}`);
  t.equal(allowed.res.status, 200);
  t.match(allowed.res.headers.get('content-type'), /^text\/plain/);
  t.equal(metricValue(allowed.body, 'calldocker_rooms'), 0, 'the metrics themselves');
  t.match(allowed.body, /^calldocker_rooms 0$/m);
  // The health paths stay open: load balancers do not carry the token.
  t.equal((await fetch(`${srv.httpUrl}/healthz`)).status, 200);
  t.equal((await fetch(`${srv.httpUrl}/readyz`)).status, 200);
});

t.test('in production without a token, a loopback client reads /metrics', async (t) => {
  const srv = await buildServer(t, { metricsLoopbackOnly: true });
  const { res, body } = await scrape(srv.httpUrl);
  t.equal(res.status, 200);
  t.match(body, /^calldocker_rooms 0$/m);
});

/** A non-loopback IPv4 address of this machine, if it has one. */
const outside = Object.values(networkInterfaces())
  .flat()
  .find((i) => i !== undefined && i.family === 'IPv4' && !i.internal)?.address;

/**
 * A signaling server listening on `host` only, closed at teardown: a client reaching it there
 * has that address as its peer, not loopback (buildServer's servers listen on 127.0.0.1).
 */
async function listeningOn(t: Test, host: string, overrides: Partial<SignalingConfig>) {
  const server = buildSignalingServer({
    config: signalingDefaults({ host, port: 0, ...overrides }),
  });
  const address = await server.listen(0, host);
  t.teardown(() => server.close());
  return `http://${host}:${address.port}`;
}

t.test(
  "from this machine's non-loopback address, production refuses /metrics with 403",
  { skip: outside === undefined ? 'no non-loopback IPv4 interface' : false },
  async (t) => {
    const base = await listeningOn(t, outside!, { metricsLoopbackOnly: true });
    assertRefused(t, await scrape(base), 403, 'forbidden');
    assertRefused(t, await scrape(base, `Bearer ${TOKEN}`), 403, 'forbidden');
    t.equal((await fetch(`${base}/healthz`)).status, 200, 'health stays open');

    const withToken = await listeningOn(t, outside!, {
      metricsToken: TOKEN,
      metricsLoopbackOnly: true,
    });
    assertRefused(t, await scrape(withToken), 401, 'unauthorized');
    t.equal((await scrape(withToken, `Bearer ${TOKEN}`)).res.status, 200, 'the token opens it');

    const development = await listeningOn(t, outside!, { metricsLoopbackOnly: false });
    t.equal((await scrape(development)).res.status, 200, 'outside production as before');
  },
);
