/**
 * The HTTP side of the signaling port: health, readiness, Prometheus metrics, the answers to
 * paths and methods it does not serve, and graceful shutdown.
 */
import { execFileSync } from 'node:child_process';
import { connect as netConnect, type Socket } from 'node:net';
import t from 'tap';
import { WebSocket } from 'ws';
import {
  buildServer,
  connectAgent,
  connectVisitor,
  delay,
  establishCall,
  httpGet,
  metricValue,
  openClient,
  signToken,
  type TestServer,
} from '../helpers.js';

/** Each test here is about one node's HTTP side: its health, its own metrics, its shutdown. */
const ONE_NODE = { singleNode: 'health, /metrics and close() are each node’s own' };

/**
 * Opens a raw TCP connection and sends the first line of a request, so the server counts the
 * connection as busy (not idle) and keeps it through `httpServer.close()`.
 */
async function startRequest(srv: TestServer, firstLines: string): Promise<Socket> {
  const socket = netConnect(srv.port, '127.0.0.1');
  socket.setEncoding('utf8');
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  socket.write(firstLines);
  await delay(30);
  return socket;
}

/** Finishes a request begun with {@link startRequest} and resolves with the status line. */
function finishRequest(socket: Socket, rest: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    socket.on('data', (chunk: string) => {
      text += chunk;
      const end = text.indexOf('\r\n');
      if (end !== -1) {
        resolve(text.slice(0, end));
        socket.destroy();
      }
    });
    socket.once('error', reject);
    socket.once('close', () => resolve(text.split('\r\n')[0] ?? ''));
    socket.write(rest);
  });
}

t.test('GET /healthz answers 200 with status ok', async (t) => {
  const srv = await buildServer(t, {}, ONE_NODE);
  const res = await fetch(`${srv.httpUrl}/healthz`);
  t.equal(res.status, 200);
  t.match(res.headers.get('content-type'), /^application\/json/);
  t.strictSame(await res.json(), { status: 'ok' });
});

t.test('GET /readyz answers 200 while running and 503 once shutdown began', async (t) => {
  const srv = await buildServer(t, {}, ONE_NODE);
  const client = await connectVisitor(t, srv);
  const ready = await fetch(`${srv.httpUrl}/readyz`);
  t.equal(ready.status, 200);
  t.match(await ready.json(), { status: 'ready' });

  const socket = await startRequest(srv, 'GET /readyz HTTP/1.1\r\nHost: localhost\r\n');
  const closing = srv.server.close();
  const status = await finishRequest(socket, '\r\n');
  t.match(status, /^HTTP\/1\.1 503 /, 'readyz reports 503 during shutdown');
  await closing;
  t.equal((await client.closed).code, 1001);
});

t.test('GET /metrics serves Prometheus text with the documented series', async (t) => {
  const srv = await buildServer(t, {}, ONE_NODE);
  const { agent, visitor, callId } = await establishCall(t, srv);
  await connectAgent(t, srv, { sub: 'admin-1', role: 'admin' });
  await connectVisitor(t, srv, { sub: 'visitor-2' });

  const first = await fetch(`${srv.httpUrl}/metrics`);
  t.equal(first.status, 200);
  t.match(first.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
  const before = await first.text();
  t.match(before, /# TYPE calldocker_connections gauge/);
  t.equal(metricValue(before, 'calldocker_connections{role="visitor"}'), 2);
  t.equal(metricValue(before, 'calldocker_connections{role="agent"}'), 1);
  t.equal(metricValue(before, 'calldocker_connections{role="admin"}'), 1);
  t.equal(metricValue(before, 'calldocker_calls{state="answered"}'), 1);
  t.equal(metricValue(before, 'calldocker_calls{state="queued"}'), 0);
  t.match(before, /^calldocker_calls\{state="ringing"\} 0$/m);
  t.ok(metricValue(before, 'calldocker_rooms') >= 2, 'agent-room and public-calls are counted');
  t.equal(metricValue(before, 'calldocker_messages_in_total{type="call_request"}'), 1);
  t.equal(metricValue(before, 'calldocker_messages_out_total{type="call_started"}'), 2);
  t.match(before, /# TYPE calldocker_relay_latency_seconds histogram/);
  const relaysBefore = metricValue(before, 'calldocker_relay_latency_seconds_count');

  const RELAYS = 5;
  for (let i = 0; i < RELAYS; i++) {
    visitor.send({ type: 'ice_candidate', callId, candidate: null });
  }
  visitor.send({ type: 'webrtc_offer', callId, offer: { type: 'offer', sdp: 'v=0' } });
  for (let i = 0; i < RELAYS; i++) await agent.next('ice_candidate');
  await agent.next('webrtc_offer');
  visitor.send('not json');
  visitor.send({ type: 'join_room' });
  await visitor.next('error');
  await visitor.next('error');

  const after = await (await fetch(`${srv.httpUrl}/metrics`)).text();
  t.equal(metricValue(after, 'calldocker_messages_in_total{type="ice_candidate"}'), RELAYS);
  t.equal(metricValue(after, 'calldocker_messages_out_total{type="ice_candidate"}'), RELAYS);
  t.equal(metricValue(after, 'calldocker_messages_in_total{type="webrtc_offer"}'), 1);
  t.equal(metricValue(after, 'calldocker_messages_out_total{type="webrtc_offer"}'), 1);
  t.equal(metricValue(after, 'calldocker_errors_total{code="bad_request"}'), 2);
  const count = metricValue(after, 'calldocker_relay_latency_seconds_count');
  t.equal(count - relaysBefore, RELAYS + 1, 'every relay was observed');
  t.equal(
    metricValue(after, 'calldocker_relay_latency_seconds_bucket{le="+Inf"}'),
    count,
    'the +Inf bucket equals the count',
  );
  const buckets = [
    ...after.matchAll(/^calldocker_relay_latency_seconds_bucket\{le="([^"]+)"\} (\d+)$/gm),
  ];
  t.ok(buckets.length >= 2, 'the histogram has buckets');
  const values = buckets.map((m) => Number(m[2]));
  t.strictSame(
    values,
    [...values].sort((a, b) => a - b),
    'bucket counts are cumulative',
  );
  t.ok(metricValue(after, 'calldocker_relay_latency_seconds_sum') > 0, 'the sum moved');
  for (const line of after.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    t.match(line, /^[a-z_]+(\{[^}]*\})? [0-9.e+-]+$|^[a-z_]+(\{[^}]*\})? \+Inf$/, 'sample line');
  }
});

t.test('GET /metrics reports the process memory, read at scrape time', async (t) => {
  const srv = await buildServer(t, {}, ONE_NODE);
  const before = (await httpGet(srv, '/metrics')).body;
  for (const name of [
    'process_resident_memory_bytes',
    'nodejs_heap_size_total_bytes',
    'nodejs_heap_size_used_bytes',
    'nodejs_external_memory_bytes',
  ]) {
    t.match(before, new RegExp(`^# TYPE ${name} gauge$`, 'm'), `${name} is a gauge`);
    t.ok(metricValue(before, name) > 0, `${name} is positive`);
  }
  const used = metricValue(before, 'nodejs_heap_size_used_bytes');
  t.ok(used <= metricValue(before, 'nodejs_heap_size_total_bytes'), 'used within the heap');
  t.ok(metricValue(before, 'process_resident_memory_bytes') > used, 'resident above heap used');
  const held = Buffer.alloc(16 * 1024 * 1024, 1);
  const after = (await httpGet(srv, '/metrics')).body;
  const grown =
    metricValue(after, 'nodejs_external_memory_bytes') -
    metricValue(before, 'nodejs_external_memory_bytes');
  // Other buffers may be freed meanwhile: the 16 MiB must show, give or take a little.
  t.ok(grown >= held.length * 0.9, `external memory follows a 16 MiB buffer (grew ${grown})`);
});

t.test('the server listens with the configured backlog', async (t) => {
  const srv = await buildServer(t, { listenBacklog: 1234 }, ONE_NODE);
  let out: string;
  try {
    // For a listening TCP socket, `ss` shows the backlog in the Send-Q column.
    out = execFileSync('ss', ['-ltnH', `sport = :${srv.port}`], { encoding: 'utf8' });
  } catch {
    t.plan(0, 'ss is not available to read the backlog');
    return;
  }
  const columns = out.trim().split(/\s+/);
  t.equal(columns[2], '1234', `Send-Q of the listening socket: ${out.trim()}`);
});

t.test('an unknown path answers 426 with a JSON body', async (t) => {
  const srv = await buildServer(t, {}, ONE_NODE);
  for (const path of ['/', '/nope', '/healthz/extra']) {
    const res = await fetch(`${srv.httpUrl}${path}`);
    t.equal(res.status, 426, `${path} -> 426`);
    t.match(res.headers.get('content-type'), /^application\/json/);
    t.match(await res.json(), { error: String }, `${path}: a JSON error body`);
  }
});

t.test('methods other than GET answer 405', async (t) => {
  const srv = await buildServer(t, {}, ONE_NODE);
  for (const method of ['POST', 'PUT', 'DELETE']) {
    const res = await fetch(`${srv.httpUrl}/healthz`, { method });
    t.equal(res.status, 405, `${method} -> 405`);
    await res.text();
  }
  const posted = await fetch(`${srv.httpUrl}/metrics`, { method: 'POST', body: 'x' });
  t.equal(posted.status, 405);
  await posted.text();
});

t.test('close() sends 1001 to every client and resolves well within the timeout', async (t) => {
  const SHUTDOWN_TIMEOUT_MS = 5000;
  const srv = await buildServer(t, { shutdownTimeoutMs: SHUTDOWN_TIMEOUT_MS }, ONE_NODE);
  const { agent, visitor } = await establishCall(t, srv);
  const others = [
    await connectAgent(t, srv, { sub: 'agent-2' }),
    await connectVisitor(t, srv, { sub: 'visitor-2' }),
    await connectVisitor(t, srv, { sub: 'visitor-3', company_id: 'globex' }),
  ];
  const clients = [agent, visitor, ...others];

  const started = Date.now();
  await srv.server.close();
  const took = Date.now() - started;
  t.ok(took < SHUTDOWN_TIMEOUT_MS / 5, `close() resolved in ${took} ms`);
  const closes = await Promise.all(clients.map((c) => c.closed));
  t.strictSame(
    closes.map((c) => c.code),
    clients.map(() => 1001),
    'every client got 1001',
  );
  t.equal(srv.server.connectionCount, 0);
  const health = await httpGet(srv, '/healthz').catch((err: Error) => err);
  t.type(health, Error, 'the port no longer answers');
});

t.test('new upgrades are refused once shutdown began', async (t) => {
  const srv = await buildServer(t, { shutdownTimeoutMs: 2000 }, ONE_NODE);
  const held = await connectVisitor(t, srv);
  const token = signToken({ sub: 'late' });
  const socket = await startRequest(
    srv,
    `GET /?token=${token} HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
      'Sec-WebSocket-Version: 13\r\n',
  );
  const closing = srv.server.close();
  const late = openClient(srv.wsUrl, token);
  const status = await finishRequest(socket, 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n');
  t.match(status, /^HTTP\/1\.1 503 /, 'an upgrade on an open connection gets 503');
  const lateClose = await late.closed;
  t.notOk(late.types().includes('connection_established'), 'a new client is never established');
  t.equal(lateClose.code, 1006, 'the new client never got a WebSocket');
  t.equal(late.ws.readyState, WebSocket.CLOSED);
  await closing;
  t.equal((await held.closed).code, 1001);
});
