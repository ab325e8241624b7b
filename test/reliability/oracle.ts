/**
 * The fuzz suite's oracles, kept apart from any socket so they can be read as the contract:
 *
 * - {@link expectFrame}: what the server must answer to one raw frame, worked out from the
 *   envelope rules of docs/PROTOCOL.md (size, binary, UTF-8, JSON, object, readable `id`, known
 *   `type`, schema) rather than from the server's own parser.
 * - {@link judgeAnswers}: whether the answers that came back for that frame (between it and a
 *   fence `ping`) are exactly what it deserved.
 * - {@link checkDeliveries}: whether every frame every connection received was meant for it,
 *   judged from what the test itself knows: each connection's company, role and rooms, and
 *   every call it saw requested, accepted and relayed.
 */
import { isUtf8 } from 'node:buffer';
import type { TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { AGENT_ROOM, ErrorCode, PUBLIC_ROOM } from '../../client-lib/constants.js';
import {
  AckResults,
  ClientMessages,
  RELAY_TYPES,
  ServerMessages,
  type ClientMessage,
  type Role,
} from '../../client-lib/protocol.js';

/** Close codes the server (or `ws` under it) uses for frames it cannot take. */
export const FRAME_TOO_BIG = 1009;
/** `ws` closes a text frame that is not valid UTF-8 with 1007 (not in PROTOCOL.md's table). */
export const INVALID_UTF8 = 1007;

/** Error codes a well-formed message may earn from the services (never a server fault). */
const SEMANTIC_CODES: ReadonlySet<string> = new Set([
  ErrorCode.Forbidden,
  ErrorCode.NotFound,
  ErrorCode.Conflict,
  ErrorCode.Unavailable,
  ErrorCode.Busy,
]);

/** What one raw frame deserves. */
export type Expectation =
  | { readonly kind: 'close'; readonly code: number }
  | { readonly kind: 'bad_request'; readonly id: string | undefined }
  | { readonly kind: 'valid'; readonly id: string | undefined; readonly msg: ClientMessage };

/** A frame received by a test connection, parsed. */
export type Received = Readonly<Record<string, unknown>> & { readonly type: string };

/** How a socket closed. */
export interface CloseInfo {
  readonly code: number;
  readonly reason: string;
}

/** The `id` the envelope rules say an error may carry: a string of 1 to 64 characters. */
export function readableId(value: unknown): string | undefined {
  return typeof value === 'string' && value.length >= 1 && value.length <= 64 ? value : undefined;
}

/** What the server must do with `bytes` sent as a text (or binary) frame. */
export function expectFrame(bytes: Buffer, binary: boolean, maxMessageBytes: number): Expectation {
  if (bytes.length > maxMessageBytes) return { kind: 'close', code: FRAME_TOO_BIG };
  if (binary) return { kind: 'bad_request', id: undefined };
  if (!isUtf8(bytes)) return { kind: 'close', code: INVALID_UTF8 };
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch {
    return { kind: 'bad_request', id: undefined };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { kind: 'bad_request', id: undefined };
  }
  const record = value as Record<string, unknown>;
  const id = readableId(record['id']);
  const type = record['type'];
  if (typeof type !== 'string' || !Object.hasOwn(ClientMessages, type)) {
    return { kind: 'bad_request', id };
  }
  const schema = ClientMessages[type as keyof typeof ClientMessages];
  if (!Value.Check(schema, value)) return { kind: 'bad_request', id };
  return { kind: 'valid', id, msg: value as ClientMessage };
}

/** The outcome of one answered frame: `ack`, an error code, `none`, or `closed <code>`. */
export function outcomeOf(answers: readonly Received[], close: CloseInfo | undefined): string {
  if (close !== undefined) return `closed ${close.code}`;
  const first = answers[0];
  if (first === undefined) return 'none';
  return first.type === 'ack' ? 'ack' : String(first['code']);
}

/**
 * Judges the answers one frame got: undefined when they are exactly what `exp` allows, else
 * what was wrong. `close` is set when the socket closed instead of answering the fence.
 */
export function judgeAnswers(
  exp: Expectation,
  answers: readonly Received[],
  close: CloseInfo | undefined,
): string | undefined {
  const got = () =>
    `got ${JSON.stringify(answers)}${close === undefined ? '' : ` and close ${close.code}`}`;
  if (exp.kind === 'close') {
    if (close?.code !== exp.code) return `expected close ${exp.code}, ${got()}`;
    return answers.length === 0 ? undefined : `expected no answer before the close, ${got()}`;
  }
  if (close !== undefined) return `expected an answer, not a close; ${got()}`;
  if (exp.kind === 'bad_request') {
    const [only] = answers;
    const ok =
      answers.length === 1 &&
      only?.type === 'error' &&
      only['code'] === ErrorCode.BadRequest &&
      only['id'] === exp.id;
    return ok ? undefined : `expected one bad_request error with id ${exp.id}, ${got()}`;
  }
  if (answers.length === 0) {
    return exp.id === undefined ? undefined : `expected one answer to id ${exp.id}, ${got()}`;
  }
  const [only] = answers;
  if (answers.length > 1 || only === undefined) return `expected at most one answer, ${got()}`;
  if (only['id'] !== exp.id) return `expected the answer to carry id ${exp.id}, ${got()}`;
  if (only.type === 'ack') {
    return exp.id === undefined ? `an ack without id, ${got()}` : undefined;
  }
  if (only.type === 'error' && SEMANTIC_CODES.has(String(only['code']))) return undefined;
  return `a valid ${exp.msg.type} deserves an ack or forbidden/not_found/conflict/unavailable/busy, ${got()}`;
}

// ---------------------------------------------------------------------------------------------
// Delivery oracle
// ---------------------------------------------------------------------------------------------

/** One frame a test connection sent, with the answers its window collected. */
export interface SentFrame {
  readonly exp: Expectation;
  readonly answers: readonly Received[];
}

/** Everything the test knows about one connection. */
export interface ConnRecord {
  /** For messages: `acme/agent-1#2` (second connection of that user). */
  readonly label: string;
  readonly userId: string;
  readonly role: Role;
  readonly companyId: string;
  readonly name: string;
  /** Every frame received, in order. */
  readonly received: Received[];
  /** Frames the server sent that were not JSON objects with a string type. */
  readonly unparsable: string[];
  /** Every frame sent through a window, in order (fence pings excluded). */
  readonly sent: SentFrame[];
  /** Fence pings sent (each earns a pong). */
  fences: number;
  close: CloseInfo | undefined;
}

/** Whether a sent frame succeeded: acked, or valid without id and not answered with an error. */
function succeeded(frame: SentFrame): boolean {
  if (frame.exp.kind !== 'valid') return false;
  const [first] = frame.answers;
  return first === undefined ? frame.exp.id === undefined : first.type === 'ack';
}

const isStaff = (role: string) => role === 'agent' || role === 'admin';
const RELAYS: ReadonlySet<string> = new Set(RELAY_TYPES);

/** What the test knows of one call. */
interface KnownCall {
  readonly callId: string;
  readonly companyId: string;
  readonly visitorId: string;
  readonly targetId: string | undefined;
  readonly acceptedBy: string[];
}

/** Sorted-key JSON, so payloads compare by value. */
function canon(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canon).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) =>
      a < b ? -1 : a > b ? 1 : 0,
    );
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canon(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The fields a relayed frame carries besides `type`, `callId` and `fromUserId`. */
const RELAY_FIELDS: Readonly<Record<string, readonly string[]>> = {
  webrtc_offer: ['offer'],
  webrtc_answer: ['answer'],
  ice_candidate: ['candidate'],
  media_state: ['audio', 'video', 'screen'],
  chat_message: ['text'],
};

function relayKey(type: string, callId: string, from: string, msg: Record<string, unknown>) {
  const fields = RELAY_FIELDS[type] ?? [];
  return canon([type, callId, from, fields.map((f) => msg[f])]);
}

/** The server's settings the delivery oracle holds frames to, where the test knows them. */
export interface DeliveryLimits {
  /** `QUEUE_ANNOUNCE_MAX`: the most entries a `queue_updated` may carry. */
  readonly queueAnnounceMax?: number;
}

/**
 * What is wrong with a part of the queue shown to `conn` (a `queue_updated` or a `queue_list`
 * ack): more than `max` entries, a total short of what it shows, positions that do not count on
 * from `offset`, or an entry that is not a queued call of the connection's company.
 */
function queueProblems(
  conn: ConnRecord,
  calls: ReadonlyMap<string, KnownCall>,
  m: Received,
  offset: number,
  max: number | undefined,
): string[] {
  const problems: string[] = [];
  const entries = m['calls'] as Array<Record<string, unknown>>;
  const total = Number(m['total']);
  if (max !== undefined && entries.length > max) {
    problems.push(`${entries.length} entries, more than ${max}`);
  }
  if (entries.length > 0 && total < offset + entries.length) {
    problems.push(`total ${total} is short of the ${offset + entries.length} entries it implies`);
  }
  entries.forEach((entry, i) => {
    const call = calls.get(String(entry['callId']));
    const visitor = (entry['visitor'] as Record<string, unknown>)['id'];
    if (call === undefined || call.companyId !== conn.companyId) {
      problems.push(`queue entry ${String(entry['callId'])} is not a call of its company`);
    } else if (visitor !== call.visitorId) {
      problems.push(`queue entry ${call.callId} names the wrong visitor`);
    } else if (call.targetId !== undefined) {
      problems.push(`queue entry ${call.callId} is a direct call`);
    }
    if (entry['position'] !== offset + i + 1) {
      problems.push(
        `queue entry ${String(entry['callId'])} at position ${String(entry['position'])}`,
      );
    }
  });
  return problems;
}

/**
 * Checks every frame every connection received against what the test knows, and the calls
 * the answers describe against the companies and roles involved. Returns the violations.
 */
export function checkDeliveries(
  conns: readonly ConnRecord[],
  limits: DeliveryLimits = {},
): string[] {
  const violations: string[] = [];
  const users = new Map<string, ConnRecord>();
  for (const conn of conns) {
    const known = users.get(conn.userId);
    if (known !== undefined && (known.companyId !== conn.companyId || known.role !== conn.role)) {
      throw new Error(`test bug: user ${conn.userId} is in two companies or roles`);
    }
    users.set(conn.userId, conn);
    for (const raw of conn.unparsable) {
      violations.push(`${conn.label} received a frame that is not a typed JSON object: ${raw}`);
    }
  }
  const calls = new Map<string, KnownCall>();
  const sentRelays = new Map<string, number>();

  // Calls come into being through acked call_requests, and get their agent from accepts.
  for (const conn of conns) {
    for (const frame of conn.sent) {
      if (frame.exp.kind !== 'valid' || frame.exp.msg.type !== 'call_request') continue;
      const ack = frame.answers[0];
      if (ack?.type !== 'ack') continue;
      const callId = String(ack['callId']);
      const msg = frame.exp.msg;
      if (conn.role !== 'visitor') violations.push(`${conn.label}: a call_request by staff acked`);
      if (calls.has(callId)) violations.push(`${conn.label}: call id ${callId} handed out twice`);
      if (msg.agentId !== undefined) {
        const target = users.get(msg.agentId);
        if (target?.companyId !== conn.companyId || !isStaff(target.role)) {
          violations.push(`${conn.label}: call ${callId} rings ${msg.agentId}, not its staff`);
        }
      }
      calls.set(callId, {
        callId,
        companyId: conn.companyId,
        visitorId: conn.userId,
        targetId: msg.agentId,
        acceptedBy: [],
      });
    }
  }
  for (const conn of conns) {
    for (const frame of conn.sent) {
      if (frame.exp.kind !== 'valid' || !succeeded(frame)) continue;
      const msg = frame.exp.msg;
      if (msg.type === 'call_accept') {
        const call = calls.get(msg.callId);
        if (call === undefined || call.companyId !== conn.companyId || !isStaff(conn.role)) {
          violations.push(`${conn.label}: accepted call ${msg.callId}, not one of its company`);
        } else {
          call.acceptedBy.push(conn.userId);
        }
      }
    }
  }
  // A page of the queue goes to staff only, and shows nothing but its own company's queue.
  for (const conn of conns) {
    for (const frame of conn.sent) {
      if (frame.exp.kind !== 'valid' || frame.exp.msg.type !== 'queue_list') continue;
      const ack = frame.answers[0];
      if (ack?.type !== 'ack') continue;
      const { offset, limit } = frame.exp.msg;
      const where = `${conn.label}: queue_list ${JSON.stringify(ack).slice(0, 300)}`;
      if (!isStaff(conn.role)) violations.push(`${where}: acked for a visitor`);
      if (!Value.Check(AckResults.queue_list, ack)) {
        violations.push(`${where}: does not match its ack schema`);
        continue;
      }
      const max = limit ?? limits.queueAnnounceMax;
      for (const why of queueProblems(conn, calls, ack, offset ?? 0, max)) {
        violations.push(`${where}: ${why}`);
      }
    }
  }
  for (const call of calls.values()) {
    if (call.acceptedBy.length > 1) {
      violations.push(`call ${call.callId} accepted by ${call.acceptedBy.join(' and ')}`);
    }
  }
  for (const conn of conns) {
    for (const frame of conn.sent) {
      if (frame.exp.kind !== 'valid' || !RELAYS.has(frame.exp.msg.type)) continue;
      const msg = frame.exp.msg as ClientMessage & { callId: string };
      // Only relays the server accepted may reach the peer; a refused one delivers nothing.
      if (!succeeded(frame)) continue;
      const key = relayKey(msg.type, msg.callId, conn.userId, msg);
      sentRelays.set(key, (sentRelays.get(key) ?? 0) + 1);
      const call = calls.get(msg.callId);
      const agentId = call?.acceptedBy[0];
      const parties = [call?.visitorId, agentId];
      if (call?.companyId !== conn.companyId || agentId === undefined) {
        violations.push(`${conn.label}: relay on call ${msg.callId} accepted, call not answered`);
      } else if (!parties.includes(conn.userId)) {
        violations.push(`${conn.label}: relay on call ${msg.callId} accepted from a non-party`);
      }
    }
  }

  for (const conn of conns) {
    const fail = (i: number, m: Received, why: string) =>
      violations.push(`${conn.label} frame #${i} ${JSON.stringify(m).slice(0, 400)}: ${why}`);
    const sameCompany = (userId: unknown) =>
      users.get(String(userId))?.companyId === conn.companyId;
    const roomsEver = new Set<string>([isStaff(conn.role) ? AGENT_ROOM : PUBLIC_ROOM]);
    let pings = conn.fences;
    for (const frame of conn.sent) {
      if (frame.exp.kind !== 'valid') continue;
      if (frame.exp.msg.type === 'join_room') roomsEver.add(frame.exp.msg.roomId);
      if (frame.exp.msg.type === 'ping') pings++;
    }
    const roomsAsked = new Set<string>(roomsEver);
    for (const frame of conn.sent) {
      if (frame.exp.kind === 'valid' && frame.exp.msg.type === 'leave_room') {
        roomsAsked.add(frame.exp.msg.roomId);
      }
    }
    let pongs = 0;
    /** The call a frame names, if it is of the connection's company and names it as `who`. */
    const callFor = (i: number, m: Received, who: Array<'visitor' | 'agent' | 'target'>) => {
      const call = calls.get(String(m['callId']));
      if (call === undefined) {
        fail(i, m, 'names a call no client of the test was handed');
        return undefined;
      }
      if (call.companyId !== conn.companyId) {
        fail(i, m, `names a call of company ${call.companyId}`);
        return undefined;
      }
      const ids = who.map((w) =>
        w === 'visitor' ? call.visitorId : w === 'agent' ? call.acceptedBy[0] : call.targetId,
      );
      if (!ids.includes(conn.userId)) fail(i, m, `is not for this user (${who.join('/')} only)`);
      return call;
    };

    conn.received.forEach((m, i) => {
      const schema = (ServerMessages as Readonly<Record<string, TSchema>>)[m.type];
      if (schema === undefined || !Object.hasOwn(ServerMessages, m.type)) {
        fail(i, m, 'unknown server message type');
        return;
      }
      if (!Value.Check(schema, m)) fail(i, m, 'does not match its schema in protocol.ts');
      if (m.type === 'connection_established') {
        const user = m['user'] as Record<string, unknown>;
        if (i !== 0) fail(i, m, 'connection_established is not the first frame');
        if (user['id'] !== conn.userId || user['companyId'] !== conn.companyId) {
          fail(i, m, 'names another user');
        }
        return;
      }
      if (i === 0) fail(i, m, 'the first frame is not connection_established');
      switch (m.type) {
        case 'ack':
        case 'error':
          return; // judged frame by frame by the windows
        case 'pong':
          if (++pongs > pings) fail(i, m, `more pongs than the ${pings} pings sent`);
          return;
        case 'room_joined':
        case 'room_left':
          if (!roomsAsked.has(String(m['roomId']))) fail(i, m, 'a room it never asked for');
          return;
        case 'user_joined':
        case 'user_left': {
          const roomId = String(m['roomId']);
          const userId =
            m.type === 'user_joined' ? (m['user'] as Record<string, unknown>)['id'] : m['userId'];
          const subject = users.get(String(userId));
          if (!roomsEver.has(roomId)) fail(i, m, 'about a room it never joined');
          if (!sameCompany(userId)) fail(i, m, 'about a user of another company');
          if (userId === conn.userId) fail(i, m, 'about itself');
          if (roomId === AGENT_ROOM && !isStaff(conn.role)) fail(i, m, 'agent-room to a visitor');
          if (subject?.role === 'visitor' && !isStaff(conn.role)) {
            fail(i, m, `a visitor told of another visitor in ${roomId}`);
          }
          if (m.type === 'user_joined') {
            const role = (m['user'] as Record<string, unknown>)['role'];
            if (subject !== undefined && role !== subject.role) fail(i, m, 'wrong role');
          }
          return;
        }
        case 'agent_status_changed': {
          const agent = users.get(String(m['agentId']));
          if (!sameCompany(m['agentId']) || !isStaff(agent?.role ?? '')) {
            fail(i, m, 'status of someone not staff of its company');
          }
          return;
        }
        case 'agent_list': {
          // Visitors and (an extension of v1) staff get it once, on connecting.
          for (const agent of m['agents'] as Array<Record<string, unknown>>) {
            if (!sameCompany(agent['id']) || !isStaff(users.get(String(agent['id']))?.role ?? '')) {
              fail(i, m, `lists ${String(agent['id'])}, not staff of its company`);
            }
          }
          return;
        }
        case 'queue_updated': {
          if (!isStaff(conn.role)) fail(i, m, 'the queue sent to a visitor');
          for (const why of queueProblems(conn, calls, m, 0, limits.queueAnnounceMax)) {
            fail(i, m, why);
          }
          return;
        }
        case 'queue_position':
        case 'call_waiting':
          callFor(i, m, ['visitor']);
          return;
        case 'call_incoming':
        case 'call_answered_elsewhere': {
          const call = callFor(i, m, ['target']);
          if (m.type === 'call_incoming' && call !== undefined) {
            const visitor = (m['visitor'] as Record<string, unknown>)['id'];
            if (visitor !== call.visitorId) fail(i, m, 'names the wrong visitor');
          }
          return;
        }
        case 'call_declined':
        case 'call_missed':
          callFor(i, m, ['visitor', 'target']);
          return;
        case 'call_ended':
          callFor(i, m, ['visitor', 'agent', 'target']);
          return;
        case 'call_finished': {
          // To the company's staff only (an extension of v1), for a call of that company.
          if (!isStaff(conn.role)) fail(i, m, 'call_finished sent to a visitor');
          const call = calls.get(String(m['callId']));
          if (call === undefined) fail(i, m, 'names a call no client of the test was handed');
          else if (call.companyId !== conn.companyId) {
            fail(i, m, `names a call of company ${call.companyId}`);
          }
          return;
        }
        case 'call_started':
        case 'call_resumed': {
          const call = callFor(i, m, ['visitor', 'agent']);
          const agentId = call?.acceptedBy[0];
          if (call === undefined) return;
          if (agentId === undefined) {
            fail(i, m, 'the test saw no accept of this call');
            return;
          }
          const peer = (m['peer'] as Record<string, unknown>)['id'];
          const expected = conn.userId === call.visitorId ? agentId : call.visitorId;
          if (peer !== expected) fail(i, m, `peer should be ${expected}`);
          return;
        }
        case 'peer_disconnected':
        case 'peer_reconnected': {
          const call = callFor(i, m, ['visitor', 'agent']);
          if (call !== undefined && call.acceptedBy.length === 0) fail(i, m, 'call not answered');
          return;
        }
        default:
          break;
      }
      if (RELAYS.has(m.type)) {
        const call = callFor(i, m, ['visitor', 'agent']);
        if (call === undefined) return;
        const agentId = call.acceptedBy[0];
        const from = conn.userId === call.visitorId ? agentId : call.visitorId;
        if (m['fromUserId'] !== from) fail(i, m, `fromUserId should be ${String(from)}`);
        const keys = Object.keys(m).sort().join(',');
        const want = ['callId', 'fromUserId', 'type', ...(RELAY_FIELDS[m.type] ?? [])].sort();
        if (keys !== want.join(',')) fail(i, m, `relayed keys ${keys}, expected ${want.join(',')}`);
        const key = relayKey(m.type, String(m['callId']), String(m['fromUserId']), m);
        const left = sentRelays.get(key) ?? 0;
        if (left <= 0) fail(i, m, 'relayed more often than the peer sent it (or never sent)');
        sentRelays.set(key, left - 1);
        return;
      }
      fail(i, m, 'no delivery rule for this type');
    });
  }
  return violations;
}
