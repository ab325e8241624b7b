import t from 'tap';
import { buildServer, establishCall } from '../helpers.js';

t.test('a visitor and an agent complete a call and relay signaling', async (t) => {
  const srv = await buildServer(t);
  const { agent, visitor, callId } = await establishCall(t, srv);
  visitor.send({ type: 'webrtc_offer', callId, offer: { type: 'offer', sdp: 'v=0' } });
  const offer = await agent.next('webrtc_offer');
  t.equal(offer.fromUserId, 'visitor-1');
  t.equal(offer.offer.sdp, 'v=0');
  const ack = await visitor.request({ type: 'call_ended', callId });
  t.equal(ack.type, 'ack');
  const ended = await agent.next('call_ended');
  t.equal(ended.callId, callId);
});
