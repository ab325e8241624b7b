/**
 * Typed events: every server message type reaches a `WebSocketClient` as the `message` event
 * and then as the event named by its type, with the frame as its context. The last test checks
 * that the scenarios of this file made the real server send every type there is.
 */
import t from 'tap';
import type { ServerMessage, ServerMessageType } from '@calldocker/client';
import { buildServer, connect, connectAgent, connectVisitor } from '../helpers.js';
import {
  agentToken,
  callWithClientVisitor,
  createClient,
  SERVER_TYPES,
  visitorToken,
  type ClientProbe,
} from './helpers.js';

/** Typed events seen by any client of this file. */
const seen = new Set<ServerMessageType>();

/** Counts the probe's typed events into {@link seen} when the test ends. */
function track(t: Tap, probe: ClientProbe): ClientProbe {
  t.teardown(() => {
    for (const m of probe.typed) seen.add(m.type);
  });
  return probe;
}
type Tap = Parameters<typeof createClient>[0];

/** The callId of a raw client's call_request answer. */
function callIdOf(answer: { type: string }): string {
  const callId = (answer as { callId?: unknown }).callId;
  if (typeof callId !== 'string') throw new Error(`no call: ${JSON.stringify(answer)}`);
  return callId;
}

t.test('each frame is emitted as `message` first, then as its typed event', async (t) => {
  const srv = await buildServer(t);
  const probe = track(t, createClient(t, srv.wsUrl, { token: visitorToken() }));
  const order: Array<[string, ServerMessage]> = [];
  probe.client.on('message', (m) => order.push(['message', m]));
  for (const type of SERVER_TYPES) {
    probe.client.on(type, (m) => order.push(['typed', m as ServerMessage]));
  }
  await probe.client.connect();
  await probe.client.joinRoom('lobby');
  await probe.next('room_joined');

  t.ok(order.length >= 6, `${order.length} emissions`);
  for (let i = 0; i < order.length; i += 2) {
    t.equal(order[i]![0], 'message');
    t.equal(order[i + 1]![0], 'typed');
    t.equal(order[i + 1]![1], order[i]![1], `${order[i]![1].type}: the same object`);
  }
  t.same(
    probe.messages.map((m) => m.type).slice(0, 2),
    ['connection_established', 'agent_list'],
    'a visitor hears connection_established, then agent_list',
  );
});

t.test('a listener removed by its unsubscribe function no longer hears events', async (t) => {
  const srv = await buildServer(t);
  const probe = track(t, createClient(t, srv.wsUrl, { token: visitorToken() }));
  const calls: string[] = [];
  const off = probe.client.on('pong', () => calls.push('removed'));
  off();
  probe.client.once('pong', () => calls.push('once'));
  const always = () => calls.push('always');
  probe.client.on('pong', always);
  await probe.client.connect();
  await probe.client.request({ type: 'ping' });
  await probe.next('pong');
  probe.client.off('pong', always);
  await probe.client.request({ type: 'ping' });
  await probe.next('pong');
  t.same(calls, ['once', 'always']);
});

t.test('arrival, presence and room events', async (t) => {
  const srv = await buildServer(t);
  const visitor = track(t, createClient(t, srv.wsUrl, { token: visitorToken() }));
  await visitor.client.connect();
  t.same(await visitor.next('agent_list'), { type: 'agent_list', agents: [] });

  const agent = track(t, createClient(t, srv.wsUrl, { token: agentToken() }));
  await agent.client.connect();
  t.same(await agent.next('queue_updated'), { type: 'queue_updated', calls: [], total: 0 });
  t.same(await visitor.next('agent_status_changed'), {
    type: 'agent_status_changed',
    agentId: 'agent-1',
    name: 'Alice Agent',
    status: 'online',
  });

  await agent.client.joinRoom('lobby');
  await visitor.client.joinRoom('lobby');
  t.same(await agent.next('user_joined'), {
    type: 'user_joined',
    roomId: 'lobby',
    user: { id: 'visitor-1', role: 'visitor', name: 'Victor Visitor' },
  });
  await visitor.client.leaveRoom('lobby');
  t.same(await visitor.next('room_left'), { type: 'room_left', roomId: 'lobby' });
  t.same(await agent.next('user_left'), {
    type: 'user_left',
    roomId: 'lobby',
    userId: 'visitor-1',
  });

  await visitor.client.request({ type: 'ping' });
  t.match(await visitor.next('ack', (m) => 'ts' in m), { type: 'ack', id: /^c\d+$/, ts: Number });
  t.match(await visitor.next('pong'), { type: 'pong', ts: Number });
  await visitor.client.joinRoom('agent-room').catch(() => undefined);
  t.match(await visitor.next('error'), { type: 'error', code: 'forbidden', id: /^c\d+$/ });
});

t.test('queue_position tells a queued visitor it moved up', async (t) => {
  const srv = await buildServer(t);
  const first = await connectVisitor(t, srv, { sub: 'visitor-0' });
  const asked = await first.request({ type: 'call_request', callType: 'audio' });
  const second = track(t, createClient(t, srv.wsUrl, { token: visitorToken() }));
  await second.client.connect();
  t.match(await second.client.requestCall('audio'), { status: 'queued', position: 2 });
  t.equal((await first.request({ type: 'call_cancel', callId: callIdOf(asked) })).type, 'ack');
  t.match(await second.next('queue_position'), { type: 'queue_position', position: 1 });
});

t.test('ring events: call_incoming and call_declined', async (t) => {
  const srv = await buildServer(t);
  const agent = track(t, createClient(t, srv.wsUrl, { token: agentToken() }));
  await agent.client.connect();
  const visitor = track(t, createClient(t, srv.wsUrl, { token: visitorToken() }));
  await visitor.client.connect();

  const { callId } = await visitor.client.requestCall('audio', { agentId: 'agent-1' });
  t.match(await agent.next('call_incoming'), { callId, callType: 'audio' });
  await agent.client.declineCall(callId);
  t.same(await visitor.next('call_declined'), { type: 'call_declined', callId });
});

t.test('ring events: call_missed when nobody answers', async (t) => {
  const srv = await buildServer(t, { ringTimeoutMs: 100 });
  const agent = track(t, createClient(t, srv.wsUrl, { token: agentToken() }));
  await agent.client.connect();
  const visitor = track(t, createClient(t, srv.wsUrl, { token: visitorToken() }));
  await visitor.client.connect();

  const { callId } = await visitor.client.requestCall('video', { agentId: 'agent-1' });
  t.same(await visitor.next('call_missed'), {
    type: 'call_missed',
    callId,
    reason: 'ring_timeout',
  });
  t.match(await agent.next('call_missed'), { callId });
});

t.test('call_answered_elsewhere reaches the agent tab that did not accept', async (t) => {
  const srv = await buildServer(t);
  const tab = track(t, createClient(t, srv.wsUrl, { token: agentToken() }));
  await tab.client.connect();
  const otherTab = await connectAgent(t, srv);
  const visitor = await connectVisitor(t, srv);
  const asked = await visitor.request({
    type: 'call_request',
    callType: 'video',
    agentId: 'agent-1',
  });
  const callId = callIdOf(asked);
  await tab.next('call_incoming');
  t.equal((await otherTab.request({ type: 'call_accept', callId })).type, 'ack');
  t.same(await tab.next('call_answered_elsewhere'), { type: 'call_answered_elsewhere', callId });
});

t.test('call lifecycle events: call_started, peer_* , call_resumed, call_ended', async (t) => {
  const srv = await buildServer(t, { callReconnectGraceMs: 2000 });
  const { agent, visitor, callId } = await callWithClientVisitor(t, srv);
  track(t, visitor);
  t.ok(visitor.all('call_started').length === 1);

  await agent.close();
  t.same(await visitor.next('peer_disconnected'), { type: 'peer_disconnected', callId });
  const back = await connectAgent(t, srv);
  t.same(await visitor.next('peer_reconnected'), { type: 'peer_reconnected', callId });

  const tab = track(t, createClient(t, srv.wsUrl, { token: visitorToken() }));
  visitor.client.disconnect();
  await back.next('peer_disconnected');
  await tab.client.connect();
  t.same(await tab.next('call_resumed'), {
    type: 'call_resumed',
    callId,
    callType: 'video',
    peer: { id: 'agent-1', role: 'agent', name: 'Alice Agent' },
    role: 'caller',
  });
  t.equal((await back.request({ type: 'call_ended', callId, reason: 'done' })).type, 'ack');
  t.match(await tab.next('call_ended'), { type: 'call_ended', callId, reason: 'done' });
  t.type((tab.all('call_ended')[0] ?? { durationSec: -1 }).durationSec, 'number');
});

t.test('call_waiting reaches a visitor back within the grace to an unanswered call', async (t) => {
  const srv = await buildServer(t, { callReconnectGraceMs: 2000 });
  const before = await connect(t, srv, { sub: 'visitor-1', role: 'visitor' });
  const asked = await before.request({ type: 'call_request', callType: 'audio' });
  await before.close();
  const visitor = track(t, createClient(t, srv.wsUrl, { token: visitorToken() }));
  await visitor.client.connect();
  t.same(await visitor.next('call_waiting'), {
    type: 'call_waiting',
    callId: callIdOf(asked),
    callType: 'audio',
    status: 'queued',
    position: 1,
  });
});

t.test('relayed frames arrive as their typed events', async (t) => {
  const srv = await buildServer(t);
  const { agent, visitor, callId } = await callWithClientVisitor(t, srv);
  track(t, visitor);
  agent.send({ type: 'webrtc_offer', callId, offer: { type: 'offer', sdp: 'o' } });
  agent.send({ type: 'webrtc_answer', callId, answer: { type: 'answer', sdp: 'a' } });
  agent.send({ type: 'ice_candidate', callId, candidate: null });
  agent.send({ type: 'media_state', callId, audio: true, video: true, screen: false });
  agent.send({ type: 'chat_message', callId, text: 'hi' });
  const from = { callId, fromUserId: 'agent-1' };
  t.match(await visitor.next('webrtc_offer'), { ...from, offer: { sdp: 'o' } });
  t.match(await visitor.next('webrtc_answer'), { ...from, answer: { sdp: 'a' } });
  t.match(await visitor.next('ice_candidate'), { ...from, candidate: null });
  t.match(await visitor.next('media_state'), { ...from, audio: true, screen: false });
  t.match(await visitor.next('chat_message'), { ...from, text: 'hi' });
});

t.test('every server message type reached a client as its typed event', async (t) => {
  t.same(
    SERVER_TYPES.filter((type) => !seen.has(type)),
    [],
    'types never emitted by the scenarios above',
  );
});
