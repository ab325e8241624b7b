import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { WebSocketServer } from 'ws';
import { buildServer, TEST_SECRET } from '../helpers.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the demo script as `npm run demo:call` would, without blocking this process. */
function runDemo(args: string[] = []): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/demo-call.ts', ...args], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

t.test('the demo walks a full call on an in-process server and exits 0', async (t) => {
  const run = await runDemo();
  t.equal(run.code, 0, run.stderr);
  t.match(run.stdout, /call_started/);
  t.match(run.stdout, /webrtc_answer/);
  t.match(run.stdout, /call_ended reason=hangup durationSec=\d+/);
  t.match(run.stdout, /calldocker_messages_in_total\{type="ice_candidate"\}: 0 -> 6/);
  // offer + answer + 6 candidates + media_state + chat_message
  t.match(run.stdout, /calldocker_relay_latency_seconds_count: 0 -> 10/);
  t.match(run.stdout, /calldocker_call_transitions_total\{state="ended"\}: 0 -> 1/);
});

t.test('the demo talks to a running server given --url and --secret', async (t) => {
  const srv = await buildServer(t);
  const run = await runDemo(['--url', srv.wsUrl, '--secret', TEST_SECRET]);
  t.equal(run.code, 0, run.stderr);
  t.match(run.stdout, /webrtc_answer/);
  t.match(run.stdout, /calldocker_messages_in_total\{type="call_request"\}: 0 -> 1/);
  t.equal(srv.server.metrics.callTransitions.get('ended'), 1, 'the call ended on that server');
});

t.test("the demo reads a running server's /metrics with --metrics-token", async (t) => {
  const token = 'demo-metrics-token-0123456789';
  const srv = await buildServer(t, { metricsToken: token });
  const refused = await runDemo(['--url', srv.wsUrl, '--secret', TEST_SECRET]);
  t.equal(refused.code, 1);
  t.match(refused.stderr, /answered 401: pass the server's METRICS_TOKEN as --metrics-token/);
  const run = await runDemo([
    '--url',
    srv.wsUrl,
    '--secret',
    TEST_SECRET,
    '--metrics-token',
    token,
  ]);
  t.equal(run.code, 0, run.stderr);
  t.match(run.stdout, /calldocker_messages_in_total\{type="call_request"\}: 0 -> 1/);
});

t.test('a wrong secret fails the first step with exit 1 and the close code', async (t) => {
  const srv = await buildServer(t);
  const run = await runDemo(['--url', srv.wsUrl, '--secret', 'not-the-secret']);
  t.equal(run.code, 1);
  t.match(run.stderr, /step 1 .*4001/);
  t.equal(srv.server.metrics.callTransitions.get('queued'), 0, 'no call was made');
});

t.test('a server that never answers fails a step after the step timeout', async (t) => {
  // A real HTTP and WebSocket server that serves empty metrics and never says anything.
  const http = createServer((_req, res) => res.writeHead(200).end(''));
  const wss = new WebSocketServer({ server: http });
  t.teardown(() => {
    for (const client of wss.clients) client.terminate();
    wss.close();
    http.close();
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  const run = await runDemo([
    '--url',
    `ws://127.0.0.1:${port}/`,
    '--secret',
    'any',
    '--step-timeout-ms',
    '300',
  ]);
  t.equal(run.code, 1);
  t.match(
    run.stderr,
    /step 1 "agent connects" failed: agent: no connection_established within 300 ms/,
    'the step failed on its own timeout (a hang would meet the test timeout instead)',
  );
});

t.test('--url without --secret is a usage error', async (t) => {
  const run = await runDemo(['--url', 'ws://127.0.0.1:1/']);
  t.equal(run.code, 2);
  t.match(run.stderr, /usage: demo-call/);
});

t.test('--metrics-token without --url is a usage error', async (t) => {
  const run = await runDemo(['--metrics-token', 'demo-metrics-token-0123456789']);
  t.equal(run.code, 2);
  t.match(run.stderr, /--metrics-token goes with --url/);
});
