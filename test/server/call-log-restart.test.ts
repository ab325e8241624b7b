/**
 * The real signaling entry and its call log across a crash: a server killed with SIGKILL in the
 * middle of an answered call leaves that call live in the log, and the next start on the same
 * database closes it as failed (server_restart), leaving calls that had ended alone.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { parseDatabaseUrl } from '../../config/config.js';
import { openDatabase, type Database } from '../../db/database.js';
import type { CallRow } from '../../db/schema.js';
import { delay, openClient, signToken, type TestClaims, type TestClient } from '../helpers.js';

/** The subset of tap's Test the helpers use. */
interface Tap {
  teardown(fn: () => unknown): void;
}

const ENTRY = fileURLToPath(new URL('../../server/index.ts', import.meta.url));
const TSX_LOADER = import.meta.resolve('tsx');
const SECRET = 'restart-test-secret-0123456789-abcdefghijkl';

/**
 * Starts `server/index.ts` in `cwd` with exactly `env` plus PATH, and resolves once it logs that
 * it listens, with its port and a way to read the log lines so far.
 */
async function startEntry(t: Tap, cwd: string, env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', TSX_LOADER, ENTRY], {
    cwd,
    env: { PATH: process.env['PATH'] ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  const lines = () =>
    stdout
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  const deadline = Date.now() + 20_000;
  for (;;) {
    const listening = lines().find((l) => l['msg'] === 'signaling server listening');
    if (listening !== undefined) return { child, exited, lines, port: listening['port'] as number };
    if (child.exitCode !== null || Date.now() > deadline) {
      throw new Error(`the entry did not start: ${stdout}${stderr}`);
    }
    await delay(50);
  }
}

async function client(port: number, claims: TestClaims): Promise<TestClient> {
  const c = openClient(`ws://127.0.0.1:${port}/`, signToken(claims, SECRET));
  await c.established();
  return c;
}

/** An answered call between fresh clients; returns them and the call id. */
async function answeredCall(port: number, visitorSub: string) {
  const agent = await client(port, { sub: 'agent-1', role: 'agent', name: 'Alice Agent' });
  const visitor = await client(port, { sub: visitorSub, role: 'visitor', name: 'Victor' });
  const ack = await visitor.request({ type: 'call_request', callType: 'audio' });
  if (ack.type !== 'ack') throw new Error(`call_request refused: ${JSON.stringify(ack)}`);
  const callId = ack['callId'] as string;
  const accepted = await agent.request({ type: 'call_accept', callId });
  if (accepted.type !== 'ack') throw new Error(`call_accept refused: ${JSON.stringify(accepted)}`);
  await visitor.next('call_started');
  await agent.next('call_started');
  return { agent, visitor, callId };
}

async function waitForState(database: Database, callId: string, state: string): Promise<CallRow> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const row = await database.db
      .selectFrom('calls')
      .selectAll()
      .where('id', '=', callId)
      .executeTakeFirst();
    if (row?.state === state) return row;
    if (Date.now() > deadline) throw new Error(`call ${callId} is ${row?.state}, not ${state}`);
    await delay(20);
  }
}

t.test(
  'a call live when the server is SIGKILLed is closed as failed by the next start',
  { timeout: 60_000 },
  async (t) => {
    const cwd = mkdtempSync(join(tmpdir(), 'calldocker-restart-'));
    t.teardown(() => rmSync(cwd, { recursive: true, force: true }));
    const url = `sqlite:${join(cwd, 'log.db')}`;
    const env = {
      NODE_ENV: 'development',
      LOG_LEVEL: 'info',
      HOST: '127.0.0.1',
      SIGNALING_PORT: '0',
      JWT_SECRET: SECRET,
      DATABASE_URL: url,
    };

    const first = await startEntry(t, cwd, env);
    t.ok(
      first.lines().some((l) => l['msg'] === 'database migrated'),
      'the first start migrates the new database',
    );
    const reader = openDatabase(parseDatabaseUrl(url));
    t.teardown(() => reader.close());

    // A call that ends normally before the crash.
    const done = await answeredCall(first.port, 'visitor-1');
    t.equal((await done.visitor.request({ type: 'call_ended', callId: done.callId })).type, 'ack');
    await done.agent.next('call_ended');
    const endedBefore = await waitForState(reader, done.callId, 'ended');
    await done.visitor.close();

    // A call in progress at the crash, logged as answered.
    const live = await answeredCall(first.port, 'visitor-2');
    const answered = await waitForState(reader, live.callId, 'answered');
    const killedAt = Date.now();
    first.child.kill('SIGKILL');
    t.same(await first.exited, { code: null, signal: 'SIGKILL' });
    await Promise.all([live.agent.closed, live.visitor.closed, done.agent.closed]);
    t.equal((await waitForState(reader, live.callId, 'answered')).ended_at, null, 'still live');

    const second = await startEntry(t, cwd, env);
    t.match(
      second
        .lines()
        .find((l) => l['msg'] === 'calls left live by the previous run closed as failed'),
      { calls: 1, level: 40 },
      'the second start says it closed one call',
    );
    t.notOk(
      second.lines().some((l) => l['msg'] === 'database migrated'),
      'and has nothing to migrate',
    );

    const failed = await waitForState(reader, live.callId, 'failed');
    t.equal(failed.end_reason, 'server_restart');
    t.ok(
      failed.ended_at !== null && failed.ended_at >= killedAt,
      'ended when the server restarted',
    );
    t.equal(failed.answered_at, answered.answered_at, 'its history is kept');
    t.equal(failed.agent_id, 'agent-1');
    const stillEnded = await waitForState(reader, done.callId, 'ended');
    t.same(stillEnded, endedBefore, 'the call that had ended is untouched');

    second.child.kill('SIGTERM');
    t.same(await second.exited, { code: 0, signal: null }, 'the second run stops cleanly');
  },
);
