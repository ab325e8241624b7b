/**
 * How {@link RedisStore} writes records and checks what it reads back: every value is JSON
 * written by this process, and every value read is parsed and checked against a compiled
 * schema before it is returned, so a foreign or corrupt key surfaces as a
 * {@link StateStoreError} rather than as a wrongly typed record.
 *
 * Agents and calls are hashes with one JSON-encoded field per property. A property that is
 * undefined has no field, and reads give it back as undefined (never null), so a record read
 * back equals the one written. Scripts decide on single fields (a call's state) and patch by
 * field, so Lua never encodes JSON: Redis's cjson writes an empty array as `{}` and rounds
 * numbers to 14 digits.
 *
 * @module
 */
import { Type, type TSchema } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { AgentStatus, CallState, CallType, Role } from '../../client-lib/protocol.js';
import { StateStoreError, StoreFault } from '../errors.js';
import type { AgentRecord, CallRecord, QueueWaitSample, RoomMember } from './store.js';

const OrUndefined = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Undefined()]);

const RoomMemberSchema = Type.Object({
  connId: Type.String(),
  userId: Type.String(),
  role: Role,
  name: Type.String(),
});

const AgentRecordSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  status: AgentStatus,
  statusBeforeCall: Type.Union([AgentStatus, Type.Null()]),
  missedRings: Type.Integer({ minimum: 0 }),
  lastMissedRing: Type.Optional(Type.Object({ address: Type.String(), at: Type.Number() })),
});

const PartySchema = Type.Object({
  id: Type.String(),
  role: Role,
  name: Type.String(),
  connId: Type.Union([Type.String(), Type.Null()]),
});

const CallRecordSchema = Type.Object({
  callId: Type.String(),
  companyId: Type.String(),
  callType: CallType,
  purpose: OrUndefined(Type.String()),
  state: CallState,
  visitor: PartySchema,
  targetAgentId: OrUndefined(Type.String()),
  agent: OrUndefined(PartySchema),
  queuedAt: OrUndefined(Type.Number()),
  ringingAt: OrUndefined(Type.Number()),
  answeredAt: OrUndefined(Type.Number()),
  endedAt: OrUndefined(Type.Number()),
  endReason: OrUndefined(Type.String()),
  rungConnIds: Type.Array(Type.String()),
  callerAddress: Type.Optional(Type.String()),
});

const QueueWaitSampleSchema = Type.Object({ at: Type.Number(), waitMs: Type.Number() });

const checkRoomMember = TypeCompiler.Compile(RoomMemberSchema);
const checkAgentRecord = TypeCompiler.Compile(AgentRecordSchema);
const checkCallRecord = TypeCompiler.Compile(CallRecordSchema);
const checkQueueWaitSample = TypeCompiler.Compile(QueueWaitSampleSchema);

/** Fields of an agent's hash, in the order of {@link AgentRecord}. */
const AGENT_FIELDS = [
  'id',
  'name',
  'status',
  'statusBeforeCall',
  'missedRings',
  'lastMissedRing',
] as const satisfies readonly (keyof AgentRecord)[];

/** Fields of a call's hash, in the order of {@link CallRecord}. */
const CALL_FIELDS = [
  'callId',
  'companyId',
  'callType',
  'purpose',
  'state',
  'visitor',
  'targetAgentId',
  'agent',
  'queuedAt',
  'ringingAt',
  'answeredAt',
  'endedAt',
  'endReason',
  'rungConnIds',
  'callerAddress',
] as const satisfies readonly (keyof CallRecord)[];

// Compile-time checks that the field lists name every property: adding one to a record type
// without listing it here would silently drop it on the way through Redis.
type Missing<T, K extends readonly (keyof T)[]> = Exclude<keyof T, K[number]>;
const everyAgentField: Missing<AgentRecord, typeof AGENT_FIELDS> extends never ? true : false =
  true;
const everyCallField: Missing<CallRecord, typeof CALL_FIELDS> extends never ? true : false = true;
void everyAgentField;
void everyCallField;

/** Properties that may be absent from a record read back (rather than present as undefined). */
const OPTIONAL_FIELDS: ReadonlySet<string> = new Set(['lastMissedRing', 'callerAddress']);

function parseJson(json: string, what: string): unknown {
  try {
    return JSON.parse(json);
  } catch {
    throw new StateStoreError(StoreFault.BadRecord, `${what} is not JSON`);
  }
}

function checked<T extends TSchema>(check: TypeCheck<T>, value: unknown, what: string) {
  if (!check.Check(value)) {
    const first = check.Errors(value).First();
    const where = first === undefined ? '' : ` (${first.path || '/'}: ${first.message})`;
    throw new StateStoreError(StoreFault.BadRecord, `${what} does not match its schema${where}`);
  }
  return value;
}

/** A record as hash fields: the JSON of each defined property, `[field, json, ...]`. */
function recordFields<T extends object>(
  record: T,
  fields: readonly (keyof T & string)[],
): string[] {
  const out: string[] = [];
  for (const field of fields) {
    const value = record[field];
    if (value !== undefined) out.push(field, JSON.stringify(value));
  }
  return out;
}

/** {@link recordFields} for an agent. */
export const agentFields = (agent: AgentRecord) => recordFields(agent, AGENT_FIELDS);
/** {@link recordFields} for a call. */
export const callFields = (call: CallRecord) => recordFields(call, CALL_FIELDS);

/** Properties read back from hash fields; hidden fields (starting with `:`) are skipped. */
function fromFields(
  fields: ReadonlyMap<string, string>,
  names: readonly string[],
  what: string,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const name of names) {
    const json = fields.get(name);
    if (json !== undefined) out[name] = parseJson(json, `${what}.${name}`);
    else if (!OPTIONAL_FIELDS.has(name)) out[name] = undefined;
  }
  return out;
}

/** An agent's record from its hash fields. */
export function agentFromFields(fields: ReadonlyMap<string, string>): AgentRecord {
  return checked(checkAgentRecord, fromFields(fields, AGENT_FIELDS, 'agent'), 'agent');
}

/** A call's record from its hash fields. */
export function callFromFields(fields: ReadonlyMap<string, string>): CallRecord {
  return checked(checkCallRecord, fromFields(fields, CALL_FIELDS, 'call'), 'call');
}

/** A room member from its JSON. */
export function roomMemberFromJson(json: string): RoomMember {
  return checked(checkRoomMember, parseJson(json, 'room member'), 'room member');
}

/** A queue-wait sample from its JSON. */
export function queueWaitFromJson(json: string): QueueWaitSample {
  return checked(checkQueueWaitSample, parseJson(json, 'queue wait'), 'queue wait');
}

// Replies ------------------------------------------------------------------------------------

function badReply(what: string): never {
  throw new StateStoreError(StoreFault.BadReply, what);
}

/** An integer reply. */
export function replyInteger(reply: unknown, what: string): number {
  return typeof reply === 'number' && Number.isInteger(reply) ? reply : badReply(what);
}

/** An array-of-strings reply. */
export function replyStrings(reply: unknown, what: string): string[] {
  if (!Array.isArray(reply)) return badReply(what);
  return reply.map((item: unknown) => (typeof item === 'string' ? item : badReply(what)));
}

/** An array-of-arrays reply, such as several `HGETALL`s from one script. */
export function replyArrays(reply: unknown, what: string): unknown[][] {
  if (!Array.isArray(reply)) return badReply(what);
  return reply.map((item: unknown) => (Array.isArray(item) ? item : badReply(what)));
}

/** A flat `[field, value, ...]` reply (`HGETALL` inside a script) as a map. */
export function replyFieldMap(reply: unknown, what: string): Map<string, string> {
  const flat = replyStrings(reply, what);
  if (flat.length % 2 !== 0) return badReply(what);
  const out = new Map<string, string>();
  for (let i = 0; i < flat.length; i += 2) out.set(flat[i]!, flat[i + 1]!);
  return out;
}

/** `HGETALL` as the client answers it outside a script (an object) as a map. */
export function objectFieldMap(reply: Record<string, string>): Map<string, string> {
  return new Map(Object.entries(reply));
}
