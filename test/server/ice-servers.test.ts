/**
 * ICE servers: STUN URLs as configured, and TURN with coturn's shared-secret credentials
 * (username `<expiry-unix>:<userId>`, credential base64(HMAC-SHA1(secret, username))),
 * recomputed here independently, both from `iceServersFor` and through a real server.
 */
import { createHmac } from 'node:crypto';
import t from 'tap';
import { loadConfig, signalingDefaults } from '../../config/config.js';
import { iceServersFor } from '../../server/ice-servers.js';
import { buildServer, connectAgent, connectVisitor } from '../helpers.js';

const STUN = ['stun:stun.example.test:3478', 'stuns:stun.example.test:5349'];
const TURN = ['turn:turn.example.test:3478?transport=udp', 'turns:turn.example.test:5349'];
const TURN_SECRET = 'coturn-static-auth-secret';

/** coturn's `use-auth-secret` password for `username`. */
function turnPassword(secret: string, username: string): string {
  return createHmac('sha1', secret).update(username, 'utf8').digest('base64');
}

t.test('no ICE servers are handed out by default', async (t) => {
  t.same(iceServersFor(signalingDefaults(), 'visitor-1'), []);
});

t.test('STUN URLs alone give one server without credentials', async (t) => {
  const servers = iceServersFor(signalingDefaults({ stunUrls: STUN }), 'visitor-1');
  t.same(servers, [{ urls: STUN }]);
  t.notOk('username' in servers[0]!, 'no username');
  t.notOk('credential' in servers[0]!, 'no credential');
});

t.test('TURN gets a time-limited coturn shared-secret credential', async (t) => {
  const nowMs = 1_700_000_000_999;
  const config = signalingDefaults({ turnUrls: TURN, turnSecret: TURN_SECRET, turnTtlS: 3600 });
  const servers = iceServersFor(config, 'agent-7', nowMs);
  const expiry = Math.floor(nowMs / 1000) + 3600;
  t.equal(expiry, 1_700_003_600);
  const username = `${expiry}:agent-7`;
  t.same(servers, [{ urls: TURN, username, credential: turnPassword(TURN_SECRET, username) }]);
  // A fixed vector computed outside Node (HMAC-SHA1, base64), so the scheme cannot drift.
  t.equal(servers[0]?.credential, 'sgyPyIgXI84iYmInLRHUDE3gTug=');
});

t.test('the TURN lifetime follows turnTtlS and the clock', async (t) => {
  const config = signalingDefaults({ turnUrls: TURN, turnSecret: TURN_SECRET, turnTtlS: 60 });
  const [turn] = iceServersFor(config, 'u', 5_000);
  t.equal(turn?.username, '65:u');
  const [later] = iceServersFor(config, 'u', 65_000);
  t.equal(later?.username, '125:u');
  t.not(turn?.credential, later?.credential, 'a later expiry is a different credential');
});

t.test('each user gets its own TURN credential', async (t) => {
  const config = signalingDefaults({ turnUrls: TURN, turnSecret: TURN_SECRET });
  const nowMs = Date.now();
  const [a] = iceServersFor(config, 'user-a', nowMs);
  const [b] = iceServersFor(config, 'user-b', nowMs);
  t.not(a?.username, b?.username);
  t.not(a?.credential, b?.credential);
  t.equal(b?.credential, turnPassword(TURN_SECRET, b!.username!));
});

t.test('a different TURN secret gives a different credential', async (t) => {
  const nowMs = Date.now();
  const [one] = iceServersFor(signalingDefaults({ turnUrls: TURN, turnSecret: 'one' }), 'u', nowMs);
  const [two] = iceServersFor(signalingDefaults({ turnUrls: TURN, turnSecret: 'two' }), 'u', nowMs);
  t.equal(one?.username, two?.username);
  t.not(one?.credential, two?.credential);
});

t.test('STUN comes before TURN when both are configured', async (t) => {
  const config = signalingDefaults({ stunUrls: STUN, turnUrls: TURN, turnSecret: TURN_SECRET });
  const servers = iceServersFor(config, 'visitor-1');
  t.equal(servers.length, 2);
  t.same(servers[0], { urls: STUN });
  t.same(servers[1]?.urls, TURN);
});

t.test('TURN URLs without a secret hand out no TURN server', async (t) => {
  const servers = iceServersFor(signalingDefaults({ stunUrls: STUN, turnUrls: TURN }), 'u');
  t.same(servers, [{ urls: STUN }]);
});

t.test('the returned URL lists are copies the caller may change', async (t) => {
  const config = signalingDefaults({ stunUrls: [...STUN], turnUrls: [...TURN], turnSecret: 's' });
  const servers = iceServersFor(config, 'u');
  (servers[0]!.urls as string[]).push('stun:evil.example.test');
  t.same(config.stunUrls, STUN);
});

t.test('ICE settings read from the environment produce credentials', async (t) => {
  const { signaling } = loadConfig({
    STUN_URLS: STUN.join(','),
    TURN_URLS: TURN.join(','),
    TURN_SECRET,
    TURN_TTL_S: '600',
  });
  const nowMs = 1_800_000_000_000;
  const [stun, turn] = iceServersFor(signaling, 'visitor-9', nowMs);
  t.same(stun, { urls: STUN });
  const username = `${1_800_000_000 + 600}:visitor-9`;
  t.same(turn, { urls: TURN, username, credential: turnPassword(TURN_SECRET, username) });
});

t.test('connection_established carries no ICE servers when none are configured', async (t) => {
  const srv = await buildServer(t);
  const visitor = await connectVisitor(t, srv);
  t.same(visitor.all('connection_established')[0]?.iceServers, []);
});

t.test('connection_established carries STUN and per-user TURN credentials', async (t) => {
  const ttl = 900;
  const srv = await buildServer(t, {
    stunUrls: STUN,
    turnUrls: TURN,
    turnSecret: TURN_SECRET,
    turnTtlS: ttl,
  });
  const lowest = Math.floor(Date.now() / 1000) + ttl;
  const visitor = await connectVisitor(t, srv, { sub: 'visitor-42' });
  const agent = await connectAgent(t, srv, { sub: 'agent-42' });
  const highest = Math.floor(Date.now() / 1000) + ttl;

  for (const [client, userId] of [
    [visitor, 'visitor-42'],
    [agent, 'agent-42'],
  ] as const) {
    const iceServers = client.all('connection_established')[0]?.iceServers ?? [];
    t.equal(iceServers.length, 2, `${userId} gets STUN and TURN`);
    t.same(iceServers[0], { urls: STUN });
    const turn = iceServers[1]!;
    t.same(turn.urls, TURN);
    const match = /^(\d+):(.+)$/.exec(turn.username ?? '');
    t.ok(match, `username is <expiry>:<userId>: ${turn.username}`);
    const expiry = Number(match?.[1]);
    t.ok(expiry >= lowest && expiry <= highest, 'expires turnTtlS after the connection');
    t.equal(match?.[2], userId);
    t.equal(turn.credential, turnPassword(TURN_SECRET, turn.username!), 'HMAC-SHA1 credential');
  }
});
