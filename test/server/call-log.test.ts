/**
 * The call log end to end: real `ws` clients drive a real signaling server whose transitions go
 * through a CallLogWriter and its worker thread into a real SQLite file. Every way a call can
 * end leaves its row; a locked database delays the log but loses no call and stops no relay.
 */
import { pino } from 'pino';
import t from 'tap';
import { CallLogThread } from '../../server/call-log-thread.js';
import { CallLogWriter, type CallLogOptions } from '../../server/call-log.js';
import type { SignalingConfig } from '../../config/config.js';
import type { Database } from '../../db/database.js';
import type { CallRow } from '../../db/schema.js';
import { holdWriteLock, openTestDatabase } from '../db/helpers.js';
import {
  buildServer,
  connectAgent,
  connectVisitor,
  delay,
  establishCall,
  httpGet,
  metricValue,
  type TestServer,
  requestCall,
} from '../helpers.js';

type Tap = Parameters<typeof buildServer>[0];

interface Logged {
  srv: TestServer;
  writer: CallLogWriter;
  /** A connection of the test's own, to read what the writer wrote. */
  database: Database;
}

/**
 * A signaling server whose call transitions are written by a CallLogWriter on its worker
 * thread to a fresh SQLite file (`busyTimeoutMs`: how long the worker waits for a lock).
 */
async function loggedServer(
  t: Tap,
  overrides: Partial<SignalingConfig> = {},
  options: Partial<CallLogOptions> & { busyTimeoutMs?: number } = {},
): Promise<Logged> {
  const database = await openTestDatabase(t);
  const log = pino({ level: 'silent' });
  const sink = new CallLogThread({
    database: database.config,
    busyTimeoutMs: options.busyTimeoutMs ?? 2000,
    log,
  });
  const writer = new CallLogWriter(sink, { log, ...options });
  t.teardown(() => writer.close());
  const srv = await buildServer(t, overrides, { onCallTransition: (c) => writer.record(c) });
  writer.registerMetrics(srv.server.metrics.registry);
  return { srv, writer, database };
}

function rowOf(database: Database, callId: string): Promise<CallRow | undefined> {
  return database.db.selectFrom('calls').selectAll().where('id', '=', callId).executeTakeFirst();
}

/** Polls until the call's row satisfies `done` (default: it exists); fails after `timeoutMs`. */
async function waitForRow(
  database: Database,
  callId: string,
  done: (row: CallRow) => boolean = () => true,
  timeoutMs = 15_000,
): Promise<CallRow> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const row = await rowOf(database, callId);
    if (row !== undefined && done(row)) return row;
    if (Date.now() > deadline) {
      throw new Error(`row of ${callId} not as expected in time: ${JSON.stringify(row)}`);
    }
    await delay(20);
  }
}

/** The row once the writer has flushed. */
async function flushedRow(logged: Logged, callId: string): Promise<CallRow | undefined> {
  await logged.writer.flush();
  return rowOf(logged.database, callId);
}

async function metrics(srv: TestServer) {
  const { body } = await httpGet(srv, '/metrics');
  return {
    writes: metricValue(body, 'calldocker_call_log_writes_total'),
    failures: metricValue(body, 'calldocker_call_log_failures_total'),
    pending: metricValue(body, 'calldocker_call_log_pending'),
  };
}

t.test(
  'an answered and hung-up call leaves one row with its parties, ordered times and duration',
  async (t) => {
    const logged = await loggedServer(t);
    const before = Date.now();
    const { agent, visitor, callId } = await establishCall(t, logged.srv, { callType: 'video' });
    visitor.send({ type: 'webrtc_offer', callId, offer: { type: 'offer', sdp: 'v=0' } });
    await agent.next('webrtc_offer');
    // Long enough for a duration that rounds to one second, short enough to keep the file fast.
    await delay(600);
    t.equal((await visitor.request({ type: 'call_ended', callId })).type, 'ack');
    const ended = await agent.next('call_ended');
    const after = Date.now();

    const row = await flushedRow(logged, callId);
    t.match(row, {
      id: callId,
      company_id: 'acme',
      visitor_id: 'visitor-1',
      visitor_name: 'Victor Visitor',
      agent_id: 'agent-1',
      agent_name: 'Alice Agent',
      target_agent_id: null,
      call_type: 'video',
      state: 'ended',
      end_reason: 'hangup',
      ringing_at: null,
    });
    const { queued_at, answered_at, ended_at, created_at } = row!;
    t.ok(queued_at !== null && answered_at !== null && ended_at !== null, 'all three times set');
    t.ok(before <= queued_at!, 'queued after the test began');
    t.ok(queued_at! <= answered_at!, 'answered after queued');
    t.ok(answered_at! + 600 <= ended_at!, 'ended after answered and the talk');
    t.ok(ended_at! <= after, 'ended before the test saw call_ended');
    t.equal(created_at, queued_at, 'created_at is the queue time');
    t.equal(row!.duration_sec, Math.round((ended_at! - answered_at!) / 1000));
    t.equal(row!.duration_sec, 1);
    t.equal(row!.duration_sec, ended.durationSec, 'the same duration the clients were told');

    const m = await metrics(logged.srv);
    t.ok(m.writes >= 1, 'writes are counted');
    t.equal(m.failures, 0, 'nothing failed');
    t.equal(m.pending, 0, 'nothing is pending');
    t.equal(logged.writer.pending, 0);
  },
);

t.test('a direct call nobody answers is logged missed by ring timeout', async (t) => {
  const logged = await loggedServer(t, { ringTimeoutMs: 150 });
  const agent = await connectAgent(t, logged.srv);
  const visitor = await connectVisitor(t, logged.srv);
  const callId = await requestCall(visitor, { agentId: 'agent-1' });
  await agent.next('call_incoming');
  t.equal((await visitor.next('call_missed')).reason, 'ring_timeout');
  const row = await flushedRow(logged, callId);
  t.match(row, {
    state: 'missed',
    end_reason: 'ring_timeout',
    target_agent_id: 'agent-1',
    agent_id: null,
    queued_at: null,
    answered_at: null,
    duration_sec: null,
  });
  t.equal(row!.created_at, row!.ringing_at, 'a direct call is created when it starts ringing');
  t.ok(row!.ended_at! - row!.ringing_at! >= 150, 'it ended after the ring timeout');
});

t.test('a queued call nobody takes is logged missed by queue timeout', async (t) => {
  const logged = await loggedServer(t, { queueTimeoutMs: 150 });
  const visitor = await connectVisitor(t, logged.srv);
  const callId = await requestCall(visitor);
  t.equal((await visitor.next('call_missed')).reason, 'queue_timeout');
  const row = await flushedRow(logged, callId);
  t.match(row, { state: 'missed', end_reason: 'queue_timeout', agent_id: null });
  t.ok(row!.ended_at! - row!.queued_at! >= 150, 'it ended after the queue timeout');
});

t.test('a visitor cancelling its queued call is logged abandoned', async (t) => {
  const logged = await loggedServer(t);
  const visitor = await connectVisitor(t, logged.srv);
  const callId = await requestCall(visitor);
  t.equal((await visitor.request({ type: 'call_cancel', callId })).type, 'ack');
  t.match(await flushedRow(logged, callId), {
    state: 'abandoned',
    end_reason: 'cancelled',
    answered_at: null,
  });
});

t.test('an agent declining a direct call is logged declined', async (t) => {
  const logged = await loggedServer(t);
  const agent = await connectAgent(t, logged.srv);
  const visitor = await connectVisitor(t, logged.srv);
  const callId = await requestCall(visitor, { agentId: 'agent-1' });
  await agent.next('call_incoming');
  t.equal((await agent.request({ type: 'call_decline', callId })).type, 'ack');
  await visitor.next('call_declined');
  t.match(await flushedRow(logged, callId), {
    state: 'declined',
    end_reason: 'declined',
    target_agent_id: 'agent-1',
  });
});

t.test('an answered call whose visitor stays away past the grace is logged ended', async (t) => {
  const logged = await loggedServer(t, { callReconnectGraceMs: 100 });
  const { agent, visitor, callId } = await establishCall(t, logged.srv);
  await visitor.close();
  await agent.next('peer_disconnected');
  t.equal((await agent.next('call_ended')).reason, 'disconnected');
  const row = await flushedRow(logged, callId);
  t.match(row, { state: 'ended', end_reason: 'disconnected', agent_id: 'agent-1' });
  t.type(row!.duration_sec, 'number', 'an answered call has a duration');
  t.ok(row!.ended_at! >= row!.answered_at! + 100, 'it ended after the grace');
});

t.test('a queued visitor whose connection drops for good is logged abandoned', async (t) => {
  const logged = await loggedServer(t, { callReconnectGraceMs: 100 });
  const visitor = await connectVisitor(t, logged.srv);
  const callId = await requestCall(visitor);
  t.match(await flushedRow(logged, callId), { state: 'queued' }, 'logged while it waits');
  await visitor.close();
  const row = await waitForRow(logged.database, callId, (r) => r.state !== 'queued');
  t.match(row, { state: 'abandoned', end_reason: 'disconnected', agent_id: null });
});

t.test('calls live at the moment are in the log with their live state', async (t) => {
  const logged = await loggedServer(t);
  const { callId } = await establishCall(t, logged.srv);
  const row = await waitForRow(logged.database, callId, (r) => r.state === 'answered');
  t.equal(row.ended_at, null);
  t.equal(row.duration_sec, null);
});

t.test('a locked database delays the log without losing the call or stopping relays', async (t) => {
  const logged = await loggedServer(t, {}, { busyTimeoutMs: 20, retryBaseMs: 50, retryMaxMs: 200 });
  const { srv, database } = logged;
  // Another process's writer: holds the database's write lock until released below.
  const release = await holdWriteLock(t, database.config);

  const { agent, visitor, callId } = await establishCall(t, srv);
  visitor.send({ type: 'webrtc_offer', callId, offer: { type: 'offer', sdp: 'v=0' } });
  t.equal((await agent.next('webrtc_offer')).offer.sdp, 'v=0', 'relays still flow');
  agent.send({ type: 'webrtc_answer', callId, answer: { type: 'answer', sdp: 'v=1' } });
  t.equal((await visitor.next('webrtc_answer')).answer.sdp, 'v=1');

  // The worker retries on its own clock; a loaded machine can start it seconds late.
  const deadline = Date.now() + 15_000;
  let m = await metrics(srv);
  while (m.failures === 0 && Date.now() < deadline) {
    await delay(20);
    m = await metrics(srv);
  }
  t.ok(m.failures > 0, 'failed writes are counted in /metrics');
  t.ok(m.pending > 0, 'and the call is pending');
  t.equal(await rowOf(database, callId), undefined, 'nothing reached the database yet');

  t.equal((await visitor.request({ type: 'call_ended', callId })).type, 'ack');
  t.equal((await agent.next('call_ended')).reason, 'hangup', 'calls still end');
  const other = await connectVisitor(t, srv, { sub: 'visitor-2' });
  const otherId = await requestCall(other);
  t.ok(otherId, 'and new calls still start');
  t.ok(logged.writer.pending >= 2, 'both calls wait in memory');

  await release();
  const row = await waitForRow(database, callId, (r) => r.state === 'ended');
  t.match(row, { end_reason: 'hangup', agent_id: 'agent-1', visitor_id: 'visitor-1' });
  t.ok(row.answered_at !== null && row.queued_at !== null, 'with its whole history');
  t.match(await waitForRow(database, otherId), { state: 'queued' });
  const end = Date.now() + 15_000;
  while ((await metrics(srv)).pending > 0 && Date.now() < end) await delay(20);
  t.equal((await metrics(srv)).pending, 0, 'nothing is pending once the lock is gone');
});
