/**
 * What nodes read back from Redis and from each other, checked before use: a compiled TypeBox
 * schema for each shape, as `dispatch.ts` checks what clients send. Redis is trusted, but a
 * record written by an older or newer node must fail loudly here, not deep in a handler.
 */
import { Type, type Static } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { CallState, CallType, Role, ServerMessages } from '../../client-lib/protocol.js';
import type { PlaceMessage } from '../hub.js';
import type { CallRecord } from '../state/store.js';

const Party = Type.Object({
  id: Type.String(),
  role: Role,
  name: Type.String(),
  connId: Type.Union([Type.String(), Type.Null()]),
});

const Ms = Type.Optional(Type.Number());

/** A {@link CallRecord} as JSON (where an absent field is undefined). */
export const CallRecordJson = Type.Object({
  callId: Type.String(),
  companyId: Type.String(),
  callType: CallType,
  purpose: Type.Optional(Type.String()),
  state: CallState,
  visitor: Party,
  targetAgentId: Type.Optional(Type.String()),
  agent: Type.Optional(Party),
  queuedAt: Ms,
  ringingAt: Ms,
  answeredAt: Ms,
  endedAt: Ms,
  endReason: Type.Optional(Type.String()),
  rungConnIds: Type.Array(Type.String()),
  callerAddress: Type.Optional(Type.String()),
});

const callRecordCheck = TypeCompiler.Compile(CallRecordJson);
const placeCheck = TypeCompiler.Compile(
  Type.Union([ServerMessages.queue_position, ServerMessages.call_waiting]),
);

function parse(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** The call record in `text`, or undefined when it is not one. */
export function parseCallRecord(text: string): CallRecord | undefined {
  const value = parse(text);
  if (!callRecordCheck.Check(value)) return undefined;
  // Every optional field of a CallRecord is present as undefined, as the memory store keeps it.
  const json: Static<typeof CallRecordJson> = value;
  return {
    ...json,
    purpose: json.purpose,
    targetAgentId: json.targetAgentId,
    agent: json.agent,
    queuedAt: json.queuedAt,
    ringingAt: json.ringingAt,
    answeredAt: json.answeredAt,
    endedAt: json.endedAt,
    endReason: json.endReason,
  };
}

/** The `queue_position` or `call_waiting` message in `text`, or undefined when it is neither. */
export function parsePlaceMessage(text: string): PlaceMessage | undefined {
  const value = parse(text);
  return placeCheck.Check(value) ? value : undefined;
}
