/**
 * The client's address as the limits key it: plain addresses, IPv4-mapped IPv6, IPv6 by /64,
 * and `X-Forwarded-For` followed only as far as `TRUST_PROXY` trusts (fastify's semantics).
 */
import t from 'tap';
import {
  addressKey,
  clientAddress,
  compileTrust,
  plainAddress,
  UNKNOWN_ADDRESS,
} from '../../common/client-address.js';

t.test('an IPv4 address is its own key', async (t) => {
  t.equal(addressKey('203.0.113.7'), '203.0.113.7');
  t.equal(addressKey(' 203.0.113.7 '), '203.0.113.7', 'spaces of a header entry are dropped');
});

t.test('an IPv4-mapped IPv6 address is its IPv4 address, in either notation', async (t) => {
  t.equal(plainAddress('::ffff:127.0.0.2'), '127.0.0.2');
  t.equal(plainAddress('::FFFF:7f00:3'), '127.0.0.3');
  t.equal(addressKey('::ffff:203.0.113.7'), '203.0.113.7');
  t.equal(addressKey('0:0:0:0:0:ffff:cb00:7107'), '203.0.113.7');
});

t.test('IPv6 addresses of one /64 share a key, of another /64 do not', async (t) => {
  const a = addressKey('2001:db8:0:1::1');
  t.equal(a, '2001:db8:0:1::/64');
  t.equal(addressKey('2001:DB8:0:1:ffff:ffff:ffff:ffff'), a, 'case and host bits do not matter');
  t.equal(addressKey('2001:0db8:0000:0001:0:0:0:2'), a, 'nor leading zeros');
  t.equal(addressKey('fe80::1%eth0'), 'fe80:0:0:0::/64', 'a zone is dropped');
  t.not(addressKey('2001:db8:0:2::1'), a);
  t.equal(addressKey('::1'), '0:0:0:0::/64');
  t.equal(addressKey('1:2:3:4:5:6:7:8'), '1:2:3:4::/64');
  t.not(addressKey('::1.2.3.4'), '1.2.3.4', 'an IPv4-compatible address is not a mapped one');
});

t.test('what is not an IP address has the unknown key', async (t) => {
  for (const text of ['', 'localhost', '1.2.3', '1.2.3.4:80', '::g', '999.1.1.1']) {
    t.equal(plainAddress(text), undefined, JSON.stringify(text));
    t.equal(addressKey(text), UNKNOWN_ADDRESS, JSON.stringify(text));
  }
});

const CHAIN = '198.51.100.1, 198.51.100.2 ,198.51.100.3';

t.test('trusting nobody, the socket peer is the client whatever the header says', async (t) => {
  for (const trust of [false, 0, '10.0.0.0/8'] as const) {
    t.equal(clientAddress('::ffff:127.0.0.1', CHAIN, compileTrust(trust)), '127.0.0.1', `${trust}`);
  }
  t.equal(clientAddress('127.0.0.1', undefined, compileTrust(true)), '127.0.0.1', 'no header');
  t.equal(clientAddress(undefined, CHAIN, compileTrust(true)), UNKNOWN_ADDRESS, 'no socket');
});

t.test('true trusts every hop: the leftmost entry is the client', async (t) => {
  t.equal(clientAddress('127.0.0.1', CHAIN, compileTrust(true)), '198.51.100.1');
});

t.test('a hop count trusts that many hops from the server', async (t) => {
  t.equal(clientAddress('127.0.0.1', CHAIN, compileTrust(1)), '198.51.100.3');
  t.equal(clientAddress('127.0.0.1', CHAIN, compileTrust(2)), '198.51.100.2');
  t.equal(clientAddress('127.0.0.1', CHAIN, compileTrust(3)), '198.51.100.1');
  t.equal(clientAddress('127.0.0.1', CHAIN, compileTrust(9)), '198.51.100.1', 'past the chain');
});

t.test('a list trusts exactly its proxies, walking until an untrusted address', async (t) => {
  const trust = compileTrust('127.0.0.1, 198.51.100.0/30');
  t.equal(clientAddress('127.0.0.1', CHAIN, trust), '198.51.100.1', 'all three are trusted');
  t.equal(
    clientAddress('127.0.0.1', '203.0.113.9, 198.51.100.5, 198.51.100.3', trust),
    '198.51.100.5',
    'the first untrusted hop from the right is the client; what it claims is not believed',
  );
  t.equal(clientAddress('127.0.0.2', CHAIN, trust), '127.0.0.2', 'an untrusted peer');
  const v6 = compileTrust('::1, 2001:db8::/32, ::ffff:10.0.0.0/104');
  t.equal(clientAddress('::1', '2001:db8::7, 203.0.113.1', v6), '203.0.113.1');
  t.equal(clientAddress('::ffff:10.1.2.3', '203.0.113.1', v6), '203.0.113.1', 'mapped subnet');
  t.equal(clientAddress('10.1.2.3', '203.0.113.1', v6), '203.0.113.1', 'as IPv4 too');
});

t.test('an entry that is not an address ends the walk at the one before it', async (t) => {
  t.equal(clientAddress('127.0.0.1', 'evil, 198.51.100.3', compileTrust(true)), '198.51.100.3');
  t.equal(clientAddress('127.0.0.1', '198.51.100.3, ', compileTrust(true)), '127.0.0.1');
});

t.test('a list entry that is not an address or CIDR is refused', async (t) => {
  for (const bad of [
    '10.0.0.0/33',
    '::/129',
    'proxy',
    '1.2.3.4/8/2',
    '1.2.3.4/',
    '::ffff:1.2.3.4/95',
  ]) {
    t.throws(() => compileTrust(bad), RangeError, bad);
  }
  t.doesNotThrow(() => compileTrust('10.0.0.0/8, ::1/128, 1.2.3.4'));
});
