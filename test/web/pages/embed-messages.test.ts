/**
 * The embed contract's parsers (`web/pages/shared/embed-messages.ts`), both directions: a
 * message of the contract comes back with only its own fields; anything else, including
 * another script's message and a malformed one, is undefined, and nothing throws.
 */
import t from 'tap';
import {
  MAX_CALL_ID_LENGTH,
  parseFrameMessage,
  parseParentMessage,
} from '../../../web/pages/shared/embed-messages.js';

const source = 'calldocker';
const NOT_MESSAGES = [null, undefined, 0, 'hangup', [], {}, { type: 'ready' }];

t.test("the call page's messages, as the loader reads them", async (t) => {
  t.same(parseFrameMessage({ source, type: 'ready', extra: 1 }), { type: 'ready' });
  t.same(parseFrameMessage({ source, type: 'close_requested' }), { type: 'close_requested' });
  t.same(parseFrameMessage({ source, type: 'call_started', callId: 'c1' }), {
    type: 'call_started',
    callId: 'c1',
  });
  t.same(parseFrameMessage({ source, type: 'call_ended', callId: 'c1', durationSec: 0 }), {
    type: 'call_ended',
    callId: 'c1',
    durationSec: 0,
  });
  for (const data of [
    ...NOT_MESSAGES,
    { source: 'other', type: 'ready' },
    { source, type: 'hangup' },
    { source, type: 'call_started' },
    { source, type: 'call_started', callId: 'c'.repeat(MAX_CALL_ID_LENGTH + 1) },
    { source, type: 'call_ended', callId: 'c1' },
    { source, type: 'call_ended', callId: 'c1', durationSec: -1 },
  ]) {
    t.equal(parseFrameMessage(data), undefined, `not a message: ${JSON.stringify(data)}`);
  }
});

t.test("the embedding page's messages, as the call page reads them", async (t) => {
  t.same(parseParentMessage({ source, type: 'hangup', extra: 1 }), { type: 'hangup' });
  for (const data of [
    ...NOT_MESSAGES,
    { source: 'other', type: 'hangup' },
    { source, type: 'ready' },
  ]) {
    t.equal(parseParentMessage(data), undefined, `not a message: ${JSON.stringify(data)}`);
  }
});
