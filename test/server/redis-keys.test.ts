/**
 * The escape that makes each id one Redis key component (server/state/redis-keys.ts): it is
 * reversed exactly, so no two ids share an encoding; the result holds no `:`; and it survives
 * the trip to bytes and back, which a lone surrogate would not. Needs no Redis.
 */
import fc from 'fast-check';
import t from 'tap';
import { decodeId, encodeId, RedisKeys } from '../../server/state/redis-keys.js';

/** Any UTF-16 string, lone surrogates and the escape's own characters included. */
const anyId = fc.string({
  unit: fc.oneof(
    fc.constantFrom('%', ':', '3', 'A', 'u', 'D', '8', '0', '\u0000', '\ud800', '\udc00'),
    fc.integer({ min: 0, max: 0xffff }).map((code) => String.fromCharCode(code)),
  ),
  maxLength: 24,
});

t.test('an escaped id reads back as itself, so no two ids share an encoding', async (t) => {
  fc.assert(fc.property(anyId, (id) => decodeId(encodeId(id)) === id));
  t.pass('decodeId(encodeId(id)) === id for every id tried');
});

t.test('an escaped id holds no separator and survives the trip to bytes', async (t) => {
  fc.assert(
    fc.property(anyId, (id) => {
      const encoded = encodeId(id);
      return !encoded.includes(':') && Buffer.from(encoded).toString() === encoded;
    }),
  );
  t.pass('no `:` and well-formed UTF-16 for every id tried');
});

t.test('the escape changes only what it must', async (t) => {
  t.equal(encodeId('agent-1@acme.example'), 'agent-1@acme.example', 'a plain id is itself');
  t.equal(encodeId('a:b'), 'a%3Ab');
  t.equal(encodeId('100%'), '100%25');
  t.equal(encodeId('a%3Ab'), 'a%253Ab', 'an id that looks escaped is escaped again');
  t.equal(encodeId('x\ud800y\udc00'), 'x%uD800y%uDC00', 'lone surrogates');
  t.equal(encodeId('\ud83d\ude00'), '\ud83d\ude00', 'a surrogate pair is one character');
  t.equal(encodeId('\u0000'), '\u0000', 'NUL is a byte like any other in a Redis key');
});

t.test('keys put the company first, under the prefix', async (t) => {
  const keys = new RedisKeys('cd:');
  t.equal(keys.connections('a:b', 'c'), 'cd:c:a%3Ab:u:c:conns');
  t.equal(keys.connections('a', 'b:c'), 'cd:c:a:u:b%3Ac:conns', 'a different key');
  t.equal(keys.userCalls('acme', 'v'), `${keys.company('acme')}u:v:calls`);
  t.equal(keys.roomStaff('acme', 'lobby'), 'cd:c:acme:room:lobby:staff');
  t.equal(keys.call('x:y'), 'cd:call:x%3Ay');
});
