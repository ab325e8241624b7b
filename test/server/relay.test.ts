/**
 * Relay: offers, answers, ICE candidates, media state and chat pass between the two
 * participants of an answered call, stamped with the sender, and reach no one else.
 */
import t from 'tap';
import { RELAY_TYPES, type RelayType } from '../../client-lib/protocol.js';
import {
  buildServer,
  connectAgent,
  connectVisitor,
  delay,
  establishCall,
  type TestClient,
} from '../helpers.js';

const SDP = 'v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n';
const CANDIDATE = 'candidate:842163049 1 udp 1677729535 192.0.2.7 54400 typ srflx';

/** One valid relay payload per type (the fields besides `type` and `callId`). */
const PAYLOADS: ReadonlyArray<{ type: RelayType; fields: Record<string, unknown> }> = [
  { type: 'webrtc_offer', fields: { offer: { type: 'offer', sdp: SDP } } },
  { type: 'webrtc_answer', fields: { answer: { type: 'answer', sdp: SDP } } },
  {
    type: 'ice_candidate',
    fields: {
      candidate: { candidate: CANDIDATE, sdpMid: '0', sdpMLineIndex: 0, usernameFragment: 'uf' },
    },
  },
  { type: 'ice_candidate', fields: { candidate: null } },
  { type: 'media_state', fields: { audio: true, video: false, screen: true } },
  { type: 'chat_message', fields: { text: 'hello there' } },
];

/** Every relayed frame `client` has received so far, consumed or not. */
function relayed(client: TestClient): unknown[] {
  return RELAY_TYPES.flatMap((type) => client.all(type));
}

/** Waits a little and tells whether `client` received no relayed frame at all. */
async function nothingRelayed(client: TestClient, ms = 150): Promise<boolean> {
  await delay(ms);
  return relayed(client).length === 0;
}

/** A field of an ack (undefined when the answer was an error). */
function ackField(res: Awaited<ReturnType<TestClient['request']>>, key: string): unknown {
  return res.type === 'ack' ? res[key] : undefined;
}

/** Frames (acks or errors) that answer request `id`. */
function answersTo(client: TestClient, id: string): unknown[] {
  return client.received.filter(
    (m) => (m.type === 'ack' || m.type === 'error') && (m as { id?: string }).id === id,
  );
}

t.test('each relay type reaches the peer both ways with fromUserId and nothing else', async (t) => {
  const srv = await buildServer(t);
  const { agent, visitor, callId } = await establishCall(t, srv);
  const directions = [
    { from: visitor, to: agent, fromId: 'visitor-1' },
    { from: agent, to: visitor, fromId: 'agent-1' },
  ];
  for (const { from, to, fromId } of directions) {
    for (const { type, fields } of PAYLOADS) {
      from.send({ type, callId, ...fields });
      const got = await to.next(type);
      t.strictSame(
        got,
        { type, callId, ...fields, fromUserId: fromId },
        `${type} from ${fromId} arrives as sent plus fromUserId`,
      );
    }
  }
  await delay(100);
  t.equal(relayed(agent).length, PAYLOADS.length, 'the agent got only what the visitor sent');
  t.equal(relayed(visitor).length, PAYLOADS.length, 'the visitor got only what the agent sent');
});

t.test('a spoofed fromUserId is overwritten and the id and extra fields stay behind', async (t) => {
  const srv = await buildServer(t);
  const { agent, visitor, callId } = await establishCall(t, srv);
  for (const [i, { type, fields }] of PAYLOADS.entries()) {
    const res = await visitor.request({
      type,
      callId,
      ...fields,
      id: `spoof-${i}`,
      fromUserId: 'agent-1',
      extra: 'not in the contract',
    });
    t.equal(res.type, 'ack', `${type} is acked`);
    const got = (await agent.next(type)) as unknown as Record<string, unknown>;
    t.equal(got['fromUserId'], 'visitor-1', `${type}: fromUserId is the real sender`);
    t.notOk('id' in got, `${type}: the sender's id is not forwarded`);
    t.notOk('extra' in got, `${type}: unknown fields are not forwarded`);
  }
});

t.test('unknown fields inside offer, answer and candidate objects are not forwarded', async (t) => {
  const srv = await buildServer(t);
  const { agent, visitor, callId } = await establishCall(t, srv);
  const nested = [
    { type: 'webrtc_offer', fields: { offer: { type: 'offer', sdp: SDP, smuggled: 'x' } } },
    { type: 'webrtc_answer', fields: { answer: { type: 'answer', sdp: SDP, smuggled: 'x' } } },
    { type: 'ice_candidate', fields: { candidate: { candidate: CANDIDATE, smuggled: 'x' } } },
  ] as const;
  for (const { type, fields } of nested) {
    const res = await visitor.request({ type, callId, ...fields });
    if (res.type === 'error') {
      t.equal(res.code, 'bad_request', `${type} with a nested extra field is refused`);
      continue;
    }
    const got = await agent.next(type);
    t.notMatch(JSON.stringify(got), /smuggled/, `${type}: the nested extra field is dropped`);
  }
});

t.test('a relay with an id gets exactly one ack', async (t) => {
  const srv = await buildServer(t);
  const { agent, visitor, callId } = await establishCall(t, srv);
  for (const [i, { type, fields }] of PAYLOADS.entries()) {
    const id = `once-${i}`;
    const res = await agent.request({ type, callId, ...fields, id });
    t.equal(res.type, 'ack', `${type} is acked`);
    t.strictSame(res, { type: 'ack', id }, `${type}: the ack carries only the id`);
  }
  await delay(150);
  for (const i of PAYLOADS.keys()) {
    t.equal(answersTo(agent, `once-${i}`).length, 1, `message once-${i} answered exactly once`);
  }
  t.notOk(
    visitor.all('ack').some((m) => m.id.startsWith('once-')),
    'the receiver gets no ack for the sender',
  );
});

t.test('targetUserId naming the peer is accepted; naming anyone else is forbidden', async (t) => {
  const srv = await buildServer(t);
  const { agent, visitor, callId } = await establishCall(t, srv);

  const ok = await visitor.request({
    type: 'chat_message',
    callId,
    text: 'to you',
    targetUserId: 'agent-1',
  });
  t.equal(ok.type, 'ack', 'targetUserId of the peer is accepted');
  const got = await agent.next('chat_message');
  t.strictSame(got, { type: 'chat_message', callId, text: 'to you', fromUserId: 'visitor-1' });
  const back = await agent.request({
    type: 'media_state',
    callId,
    audio: false,
    video: false,
    screen: false,
    targetUserId: 'visitor-1',
  });
  t.equal(back.type, 'ack', 'the agent may name the visitor too');
  await visitor.next('media_state');

  for (const [sender, receiver, target] of [
    [visitor, agent, 'agent-2'],
    [visitor, agent, 'visitor-1'],
    [agent, visitor, 'agent-1'],
    [agent, visitor, 'someone-else'],
  ] as const) {
    for (const { type, fields } of PAYLOADS) {
      const res = await sender.request({ type, callId, ...fields, targetUserId: target });
      t.equal(res.type, 'error', `${type} to ${target} is refused`);
      if (res.type === 'error') t.equal(res.code, 'forbidden');
    }
    await delay(100);
    t.equal(relayed(receiver).length, 1, `nothing more reached the peer (target ${target})`);
  }
});

t.test('outsiders relaying into a call get not_found and nothing reaches it', async (t) => {
  const srv = await buildServer(t);
  const { agent, visitor, callId } = await establishCall(t, srv);
  const outsiders: Array<[string, TestClient]> = [
    ['a third agent of the company', await connectAgent(t, srv, { sub: 'agent-2' })],
    ['a visitor not in the call', await connectVisitor(t, srv, { sub: 'visitor-2' })],
    [
      'another company visitor with the same sub',
      await connectVisitor(t, srv, { company_id: 'globex', sub: 'visitor-1' }),
    ],
    [
      'another company agent with the same sub',
      await connectAgent(t, srv, { company_id: 'globex', sub: 'agent-1' }),
    ],
  ];
  for (const [who, outsider] of outsiders) {
    for (const { type, fields } of PAYLOADS) {
      const res = await outsider.request({ type, callId, ...fields });
      t.equal(res.type, 'error', `${who}: ${type} is refused`);
      if (res.type === 'error') t.equal(res.code, 'not_found', `${who}: ${type} -> not_found`);
    }
    const targeted = await outsider.request({
      type: 'chat_message',
      callId,
      text: 'let me in',
      targetUserId: 'agent-1',
    });
    t.equal(targeted.type === 'error' ? targeted.code : 'ack', 'not_found', `${who}: targeted`);
  }
  t.ok(await nothingRelayed(agent), 'the agent received nothing');
  t.ok(await nothingRelayed(visitor, 0), 'the visitor received nothing');
  for (const [who, outsider] of outsiders) {
    t.equal(relayed(outsider).length, 0, `${who} received nothing either`);
  }
});

t.test('relaying on a call that is not answered yet is a conflict', async (t) => {
  const srv = await buildServer(t);
  const agent = await connectAgent(t, srv);

  const queuedVisitor = await connectVisitor(t, srv, { sub: 'visitor-q' });
  const queued = await queuedVisitor.request({ type: 'call_request', callType: 'audio' });
  t.equal(ackField(queued, 'status'), 'queued');
  const ringingVisitor = await connectVisitor(t, srv, { sub: 'visitor-r' });
  const ringing = await ringingVisitor.request({
    type: 'call_request',
    callType: 'video',
    agentId: 'agent-1',
  });
  t.equal(ackField(ringing, 'status'), 'ringing');
  await agent.next('call_incoming');

  for (const [state, client, callId] of [
    ['queued', queuedVisitor, ackField(queued, 'callId')],
    ['ringing', ringingVisitor, ackField(ringing, 'callId')],
  ] as const) {
    for (const { type, fields } of PAYLOADS) {
      const res = await client.request({ type, callId, ...fields });
      t.equal(res.type, 'error', `${state}: ${type} is refused`);
      if (res.type === 'error') t.equal(res.code, 'conflict', `${state}: ${type} -> conflict`);
    }
  }
  t.ok(await nothingRelayed(agent), 'the agent received nothing');
});

t.test('relaying on a call that has ended is not_found', async (t) => {
  const srv = await buildServer(t);
  const { agent, visitor, callId } = await establishCall(t, srv);
  const ended = await visitor.request({ type: 'call_ended', callId });
  t.equal(ended.type, 'ack');
  await agent.next('call_ended');
  await visitor.next('call_ended');
  for (const [sender, name] of [
    [visitor, 'visitor'],
    [agent, 'agent'],
  ] as const) {
    for (const { type, fields } of PAYLOADS) {
      const res = await sender.request({ type, callId, ...fields });
      t.equal(res.type === 'error' ? res.code : res.type, 'not_found', `${name}: ${type}`);
    }
  }
  t.ok(await nothingRelayed(agent), 'the agent received nothing');
  t.ok(await nothingRelayed(visitor, 0), 'the visitor received nothing');
});

t.test('relaying while the peer is disconnected is unavailable', async (t) => {
  const srv = await buildServer(t);
  const { agent, visitor, callId } = await establishCall(t, srv);
  await agent.close();
  await visitor.next('peer_disconnected');
  const res = await visitor.request({ type: 'chat_message', callId, text: 'are you there?' });
  t.equal(res.type === 'error' ? res.code : res.type, 'unavailable');
});

t.test('chat text is bounded: 2000 characters pass, 2001 and empty are bad requests', async (t) => {
  const srv = await buildServer(t);
  const { agent, visitor, callId } = await establishCall(t, srv);

  const tooLong = await visitor.request({ type: 'chat_message', callId, text: 'x'.repeat(2001) });
  t.equal(tooLong.type === 'error' ? tooLong.code : tooLong.type, 'bad_request', '2001 chars');
  const empty = await visitor.request({ type: 'chat_message', callId, text: '' });
  t.equal(empty.type === 'error' ? empty.code : empty.type, 'bad_request', 'empty text');
  t.ok(await agent.quiet('chat_message', 100), 'nothing reached the agent');

  const text = 'y'.repeat(2000);
  const ok = await visitor.request({ type: 'chat_message', callId, text });
  t.equal(ok.type, 'ack', '2000 chars are accepted');
  const got = await agent.next('chat_message');
  t.equal(got.text, text, 'and delivered whole');
});

t.test('malformed session descriptions and candidates are bad requests', async (t) => {
  const srv = await buildServer(t);
  const { agent, visitor, callId } = await establishCall(t, srv);
  const bad: Array<[string, Record<string, unknown>]> = [
    ['an offer typed answer', { type: 'webrtc_offer', offer: { type: 'answer', sdp: SDP } }],
    ['an answer typed offer', { type: 'webrtc_answer', answer: { type: 'offer', sdp: SDP } }],
    ['an offer without sdp', { type: 'webrtc_offer', offer: { type: 'offer' } }],
    ['a numeric candidate', { type: 'ice_candidate', candidate: 42 }],
    ['a string candidate', { type: 'ice_candidate', candidate: CANDIDATE }],
    [
      'a candidate whose candidate is a number',
      { type: 'ice_candidate', candidate: { candidate: 1 } },
    ],
    [
      'a negative sdpMLineIndex',
      { type: 'ice_candidate', candidate: { candidate: CANDIDATE, sdpMLineIndex: -1 } },
    ],
    ['a missing candidate', { type: 'ice_candidate' }],
    ['a media_state without screen', { type: 'media_state', audio: true, video: true }],
    ['a non-boolean media flag', { type: 'media_state', audio: 'yes', video: true, screen: false }],
    ['a relay without callId', { type: 'chat_message', callId: undefined, text: 'hi' }],
    ['a relay with a numeric callId', { type: 'chat_message', callId: 7, text: 'hi' }],
  ];
  for (const [what, message] of bad) {
    const res = await visitor.request({ callId, ...message });
    t.equal(res.type === 'error' ? res.code : res.type, 'bad_request', what);
  }
  t.ok(await nothingRelayed(agent), 'nothing reached the agent');
});

t.test('200 ice candidates each way arrive at the peer in the order sent', async (t) => {
  const srv = await buildServer(t, { rateLimitBurst: 1000, rateLimitMsgsPerSec: 1000 });
  const { agent, visitor, callId } = await establishCall(t, srv);
  const COUNT = 200;
  for (let i = 0; i < COUNT; i++) {
    const candidate = { candidate: `${CANDIDATE} generation ${i}`, sdpMLineIndex: i };
    visitor.send({ type: 'ice_candidate', callId, candidate });
    agent.send({ type: 'ice_candidate', callId, candidate });
  }
  for (const [receiver, name] of [
    [agent, 'agent'],
    [visitor, 'visitor'],
  ] as const) {
    const order: number[] = [];
    for (let i = 0; i < COUNT; i++) {
      const msg = await receiver.next('ice_candidate');
      order.push(msg.candidate?.sdpMLineIndex ?? -1);
    }
    t.strictSame(
      order,
      Array.from({ length: COUNT }, (_, i) => i),
      `the ${name} got all ${COUNT} in order`,
    );
  }
  t.notOk(
    [...agent.received, ...visitor.received].some((m) => m.type === 'error'),
    'no message was refused',
  );
});
