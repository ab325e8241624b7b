/**
 * Visitor connections per client address (issue 11), over a real server: the limit at its edge
 * and one past it, keyed per address (clients bound to 127.0.0.2, 127.0.0.3...: Linux routes
 * all of 127.0.0.0/8 to loopback), agents never counted, counts released on close, and
 * `X-Forwarded-For` believed only as far as `TRUST_PROXY` trusts.
 */
import t from 'tap';
import type { ClientOptions } from 'ws';
import { PolicyReason } from '../../server/errors.js';
import { LimitName } from '../../server/visitor-limits.js';
import {
  buildServer,
  connect,
  connectVisitor,
  httpGet,
  openClient,
  signToken,
  until,
  type TestClient,
  type TestServer,
} from '../helpers.js';

/** Opens a visitor connection `sub` with `options`, without waiting; closed at teardown. */
function visitor(t: Tap, srv: TestServer, sub: string, options: ClientOptions): TestClient {
  const client = openClient(srv.wsUrl, signToken({ sub, role: 'visitor' }), options);
  t.teardown(() => client.close());
  return client;
}

/** What the helpers need of a tap test. */
interface Tap {
  teardown(fn: () => unknown): void;
}

/** Resolves with how `client` ended: established, or closed with code and reason. */
async function outcome(client: TestClient): Promise<string> {
  return Promise.race([
    client.established().then(() => 'established'),
    client.closed.then(({ code, reason }) => `${code} ${reason}`),
  ]);
}

const REFUSED = `4008 ${PolicyReason.TooManyConnections}`;

/** Opens visitors `prefix-0`... from `options` and resolves with each one's outcome. */
function visitors(t: Tap, srv: TestServer, prefix: string, n: number, options: ClientOptions) {
  const clients = Array.from({ length: n }, (_, i) => visitor(t, srv, `${prefix}-${i}`, options));
  return Promise.all(clients.map(outcome));
}

/** The `calldocker_limit_keys` sample of the connections limit, from `/metrics`. */
async function addressesCounted(srv: TestServer): Promise<number> {
  const { body } = await httpGet(srv, '/metrics');
  const series = `calldocker_limit_keys{limit="${LimitName.VisitorConnectionsPerAddress}"} `;
  const line = body.split('\n').find((l) => l.startsWith(series));
  if (line === undefined) throw new Error('calldocker_limit_keys is missing from /metrics');
  return Number(line.slice(series.length));
}

const from = (localAddress: string): ClientOptions => ({ localAddress });

/** What this file tests is each node's own count (server/visitor-limits.ts). */
const PER_NODE = { singleNode: 'visitor connections per address are counted per node, by design' };

t.test('an address gets its maximum of visitor connections; one more is closed 4008', async (t) => {
  const srv = await buildServer(t, { maxVisitorConnectionsPerAddress: 3 }, PER_NODE);
  t.strictSame(await visitors(t, srv, 'a', 3, from('127.0.0.2')), Array(3).fill('established'));
  const extra = visitor(t, srv, 'a-extra', from('127.0.0.2'));
  t.equal(await outcome(extra), REFUSED, 'one past the edge');
  t.strictSame(extra.types(), [], 'refused before connection_established or agent_list');
  t.equal(srv.server.connectionCount, 3, 'it never became a connection');
  t.equal(srv.server.metrics.limitRefusals.get(LimitName.VisitorConnectionsPerAddress), 1);
  t.equal(srv.server.metrics.closes.get('4008'), 1);
  t.strictSame(
    await visitors(t, srv, 'b', 3, from('127.0.0.3')),
    Array(3).fill('established'),
    'another address has its own count',
  );
});

t.test('agents and admins of one address are not counted', async (t) => {
  const srv = await buildServer(t, { maxVisitorConnectionsPerAddress: 1 }, PER_NODE);
  for (const [sub, role] of [
    ['agent-1', 'agent'],
    ['agent-2', 'agent'],
    ['boss', 'admin'],
  ]) {
    await connect(t, srv, { sub, role, name: sub }, from('127.0.0.2'));
  }
  t.equal(await outcome(visitor(t, srv, 'v-1', from('127.0.0.2'))), 'established');
  t.equal(await outcome(visitor(t, srv, 'v-2', from('127.0.0.2'))), REFUSED);
  await connect(t, srv, { sub: 'agent-3', role: 'agent', name: 'late' }, from('127.0.0.2'));
  t.pass('an agent still connects from an address whose visitors are at their maximum');
});

t.test('closing releases the count: connect and close past the maximum, no leak', async (t) => {
  const srv = await buildServer(t, { maxVisitorConnectionsPerAddress: 2 }, PER_NODE);
  for (let round = 0; round < 3; round++) {
    const [first, second] = [0, 1].map((i) => visitor(t, srv, `r${round}-${i}`, from('127.0.0.2')));
    t.strictSame(await Promise.all([outcome(first!), outcome(second!)]), [
      'established',
      'established',
    ]);
    t.equal(await outcome(visitor(t, srv, `r${round}-x`, from('127.0.0.2'))), REFUSED);
    await first!.close();
    await until(() => srv.server.connectionCount === 1);
    const again = visitor(t, srv, `r${round}-again`, from('127.0.0.2'));
    t.equal(await outcome(again), 'established', `round ${round}: a freed place is used again`);
    await Promise.all([second!.close(), again.close()]);
    await until(() => srv.server.connectionCount === 0);
  }
  t.equal(await addressesCounted(srv), 0, 'no address is left counted, refused ones included');
});

/** Visitors with these `X-Forwarded-For` headers, from `localAddress`, one after another. */
async function forwarded(
  t: Tap,
  srv: TestServer,
  localAddress: string,
  headers: readonly string[],
): Promise<string[]> {
  const results: string[] = [];
  for (const [i, xff] of headers.entries()) {
    const options = { localAddress, headers: { 'x-forwarded-for': xff } };
    results.push(await outcome(visitor(t, srv, `${localAddress}-${i}-${xff}`, options)));
  }
  return results;
}

t.test('without TRUST_PROXY, X-Forwarded-For is ignored', async (t) => {
  const srv = await buildServer(t, { maxVisitorConnectionsPerAddress: 1 }, PER_NODE);
  t.strictSame(await forwarded(t, srv, '127.0.0.2', ['203.0.113.1', '203.0.113.2']), [
    'established',
    REFUSED,
  ]);
});

t.test('a trusted proxy: its X-Forwarded-For names the client', async (t) => {
  const srv = await buildServer(
    t,
    {
      maxVisitorConnectionsPerAddress: 1,
      trustProxy: '127.0.0.2',
    },
    PER_NODE,
  );
  t.strictSame(
    await forwarded(t, srv, '127.0.0.2', [
      '203.0.113.1',
      '203.0.113.2',
      '198.51.100.7, 203.0.113.1', // what the client claims to the left is not believed
      '::ffff:203.0.113.2', // the same address, IPv4-mapped
      '2001:db8:0:1::1',
      '2001:db8:0:1::2', // the same /64
      '2001:db8:0:2::1',
    ]),
    ['established', 'established', REFUSED, REFUSED, 'established', REFUSED, 'established'],
  );
  t.strictSame(
    await forwarded(t, srv, '127.0.0.3', ['203.0.113.3', '203.0.113.4']),
    ['established', REFUSED],
    'an untrusted peer is the client itself, whatever it forwards',
  );
});

t.test('a hop count and true trust as many hops as they say', async (t) => {
  const hops = await buildServer(
    t,
    { maxVisitorConnectionsPerAddress: 1, trustProxy: 1 },
    PER_NODE,
  );
  t.strictSame(
    await forwarded(t, hops, '127.0.0.2', ['10.9.9.9, 203.0.113.1', '10.9.9.8, 203.0.113.1']),
    ['established', REFUSED],
    'one hop: the entry the proxy appended',
  );
  const all = await buildServer(
    t,
    { maxVisitorConnectionsPerAddress: 1, trustProxy: true },
    PER_NODE,
  );
  t.strictSame(
    await forwarded(t, all, '127.0.0.2', ['10.9.9.9, 203.0.113.1', '10.9.9.8, 203.0.113.1']),
    ['established', 'established'],
    'true: the leftmost entry',
  );
});

t.test('visitors connected before the maximum keep working', async (t) => {
  const srv = await buildServer(t, { maxVisitorConnectionsPerAddress: 1 }, PER_NODE);
  const kept = await connectVisitor(t, srv, { sub: 'kept' }, from('127.0.0.2'));
  t.equal(await outcome(visitor(t, srv, 'more', from('127.0.0.2'))), REFUSED);
  t.equal((await kept.request({ type: 'ping' })).type, 'ack');
});
