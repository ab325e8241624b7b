/**
 * Fuzz: property-based tests (fast-check) that throw random and mutated protocol messages at
 * a live server and hold it to the contract of docs/PROTOCOL.md:
 *
 * - it never falls over: after every run `/healthz` answers, a fresh client gets
 *   `connection_established`, and nothing was logged at error level (a handler that threw);
 * - every frame gets exactly what the envelope rules say: a `bad_request` error (carrying the
 *   id when it is readable) for binary, non-JSON, non-object, unknown and schema-violating
 *   frames, close 1009 for an oversized frame, close 1007 for a text frame that is not UTF-8,
 *   and for a well-formed message exactly one ack or one error of a documented code when it
 *   carries an id (never `internal`);
 * - another company's call id behaves exactly like an id that does not exist;
 * - no frame reaches a connection it was not meant for (see `oracle.ts`).
 *
 * Bounded: a fixed number of runs per property (FUZZ_RUNS overrides it); each run builds its
 * own server on port 0, sends at most a few hundred frames and closes the server. On failure
 * the output carries the seed, the case as first generated, then the shrunk counterexample,
 * its path and the problems seen. FUZZ_ONLY=<property> FUZZ_SEED=<seed> FUZZ_PATH=<path>
 * replays it; FUZZ_SHRINK_S bounds the shrinking (default 60 s, 0 to skip it).
 *
 *   npx tap --disable-coverage test/reliability/fuzz.reliability.ts
 */
import fc from 'fast-check';
import t from 'tap';
import { RELAY_TYPES, type AgentStatus, type RelayType } from '../../client-lib/protocol.js';
import type { SignalingConfig } from '../../config/config.js';
import { UNLIMITED_ANONYMOUS_LOAD } from '../../server/visitor-limits.js';
import { delay } from '../helpers.js';
import {
  openWorld,
  serverProblems,
  type Exchange,
  type Slot,
  type UserSpec,
  type World,
} from './fuzz-world.js';
import { checkDeliveries, outcomeOf } from './oracle.js';

/** The test object tap hands to a subtest callback. */
type Test = Parameters<Parameters<typeof t.test>[0]>[0];

const MAX_MESSAGE_BYTES = 65_536;

/**
 * Short timers so rings, queue waits and reconnect graces expire inside a run; rate limits
 * out of reach, because throttling is the abuse suite's subject and would blur the answers.
 */
const FUZZ_CONFIG: Partial<SignalingConfig> = {
  maxMessageBytes: MAX_MESSAGE_BYTES,
  rateLimitMsgsPerSec: 1_000_000,
  rateLimitBurst: 1_000_000,
  ...UNLIMITED_ANONYMOUS_LOAD,
  ringTimeoutMs: 250,
  queueTimeoutMs: 1500,
  callReconnectGraceMs: 300,
  presenceTickMs: 20,
  // A company's few visitors queue more than this, so announcements are cut and paged.
  queueAnnounceMax: 2,
};

const envInt = (name: string): number | undefined => {
  const raw = process.env[name];
  return raw === undefined || raw === '' ? undefined : Number.parseInt(raw, 10);
};
const RUNS = envInt('FUZZ_RUNS');
const SEED = envInt('FUZZ_SEED');
const PATH = process.env['FUZZ_PATH'];
/** Runs only the property of that name (`envelope` or `conversations`), to replay it. */
const ONLY = process.env['FUZZ_ONLY'];
/** How long a failure may be shrunk; 0 reports the first failing case as generated. */
const SHRINK_MS = (envInt('FUZZ_SHRINK_S') ?? 60) * 1000;

/** Three companies; acme has an admin and a visitor with two tabs. User ids never repeat. */
const WORLD: readonly UserSpec[] = [
  { companyId: 'acme', userId: 'acme-agent-1', role: 'agent', name: 'Ann' },
  { companyId: 'acme', userId: 'acme-agent-2', role: 'agent', name: 'Abe' },
  { companyId: 'acme', userId: 'acme-admin', role: 'admin', name: 'Ada' },
  { companyId: 'acme', userId: 'acme-visitor-1', role: 'visitor', name: 'Vic' },
  { companyId: 'acme', userId: 'acme-visitor-1', role: 'visitor', name: 'Vic' },
  { companyId: 'acme', userId: 'acme-visitor-2', role: 'visitor', name: 'Val' },
  { companyId: 'globex', userId: 'globex-agent-1', role: 'agent', name: 'Gus' },
  { companyId: 'globex', userId: 'globex-visitor-1', role: 'visitor', name: 'Gil' },
  { companyId: 'globex', userId: 'globex-visitor-2', role: 'visitor', name: 'Gem' },
  { companyId: 'initech', userId: 'initech-agent-1', role: 'agent', name: 'Ike' },
  { companyId: 'initech', userId: 'initech-visitor-1', role: 'visitor', name: 'Ivy' },
];

/** The small world of the envelope property: one agent and one visitor. */
const PAIR: readonly UserSpec[] = [
  { companyId: 'acme', userId: 'acme-agent-1', role: 'agent', name: 'Ann' },
  { companyId: 'acme', userId: 'acme-visitor-1', role: 'visitor', name: 'Vic' },
];

// ---------------------------------------------------------------------------------------------
// Figures
// ---------------------------------------------------------------------------------------------

/** What a property did, for the report and docs/RELIABILITY.md. */
interface Figures {
  runs: number;
  framesSent: number;
  framesReceived: number;
  closes: number;
  /** Outcomes of the frames sent, by message type (or envelope failure): `type outcome`. */
  readonly outcomes: Map<string, number>;
}

const newFigures = (): Figures => ({
  runs: 0,
  framesSent: 0,
  framesReceived: 0,
  closes: 0,
  outcomes: new Map(),
});

function count(figures: Figures, world: World): void {
  figures.runs++;
  for (const conn of world.conns) {
    figures.framesSent += conn.sent.length + conn.fences;
    figures.framesReceived += conn.received.length;
    if (conn.close !== undefined) figures.closes++;
    for (const frame of conn.sent) {
      if (frame.exp.kind === 'valid' && frame.exp.id === 'settle') continue;
      const what = frame.exp.kind === 'valid' ? frame.exp.msg.type : frame.exp.kind;
      const key = `${what} ${outcomeOf(frame.answers, undefined)}`;
      figures.outcomes.set(key, (figures.outcomes.get(key) ?? 0) + 1);
    }
  }
}

/** The outcomes most worth seeing: relays, accepts and requests that went through. */
function highlights(figures: Figures): string {
  const get = (key: string) => figures.outcomes.get(key) ?? 0;
  const relayed = RELAY_TYPES.reduce((n, type) => n + get(`${type} ack`), 0);
  return (
    `${get('call_request ack')} calls requested, ${get('call_accept ack')} accepted, ` +
    `${relayed} relays acked, ${get('bad_request bad_request')} bad_request`
  );
}

// ---------------------------------------------------------------------------------------------
// Raw frames: anything a socket can carry
// ---------------------------------------------------------------------------------------------

type Json = fc.JsonValue;

/** A frame described small enough to print in a counterexample; bytes are built from it. */
type RawSpec =
  | { raw: 'text'; text: string }
  | { raw: 'json'; value: Json }
  | { raw: 'object'; type: string; id: Json | undefined; fields: Record<string, Json> }
  | { raw: 'binary'; text: string }
  | { raw: 'bytes'; bytes: number[] }
  | { raw: 'sized'; size: number; body: 'ping' | 'chat' | 'text' | 'binary' }
  | { raw: 'nested'; depth: number; where: 'top' | 'extra' | 'field' }
  | { raw: 'fixed'; text: string };

const CLIENT_TYPES = [
  'join_room',
  'leave_room',
  'agent_status',
  'call_request',
  'call_cancel',
  'call_accept',
  'call_decline',
  'call_ended',
  'ping',
  'queue_list',
  ...RELAY_TYPES,
] as const;

/** Hand-picked frames at the edges of the envelope rules. */
const FIXED_FRAMES = [
  '',
  'null',
  '[]',
  '"ping"',
  '1e999',
  'true',
  '{}',
  '{"type":null,"id":"t0"}',
  '{"type":"ping","__proto__":{"id":"polluted","isAdmin":true}}',
  '{"__proto__":{"type":"ping","id":"p0"}}',
  '{"type":"__proto__","id":"p1"}',
  '{"type":"constructor","id":"p2"}',
  '{"type":"toString","id":"p3"}',
  '{"type":"hasOwnProperty","id":"p4"}',
  '{"type":"ping","type":"call_request","id":"dup1"}',
  '{"type":"ping","id":"dup2","id":"dup3"}',
  '\ufeff{"type":"ping","id":"bom"}',
  ' \n\t{"type":"ping","id":"ws"}\r\n ',
  '{"type":"ping","id":"nul\\u0000"}',
  '{"type":"ping","id":""}',
  `{"type":"ping","id":"${'x'.repeat(64)}"}`,
  `{"type":"ping","id":"${'x'.repeat(65)}"}`,
  '{"type":"ping","id":123}',
  '{"type":"ping","id":["a"]}',
  '{"type":"PING","id":"c1"}',
  '{"type":"ping ","id":"c2"}',
  '{"type":"ack","id":"c3"}',
  '{"type":"connection_established","id":"c4"}',
  '{"type":"call_request","id":"r1","callType":"video","agentId":""}',
  '{"type":"call_request","id":"r2","callType":"VIDEO"}',
  '{"type":"call_request","callType":"audio"}',
  '{"type":"join_room","id":"j1","roomId":"Lobby"}',
  '{"type":"join_room","id":"j2","roomId":"-lobby"}',
  `{"type":"join_room","id":"j3","roomId":"${'a'.repeat(64)}"}`,
  '{"type":"join_room","id":"j4","roomId":"lobby\\n"}',
  '{"type":"agent_status","id":"s1","status":"ONLINE"}',
  '{"type":"ice_candidate","id":"i1","callId":"x","candidate":{"candidate":"c","sdpMLineIndex":1e999}}',
  '{"type":"ice_candidate","id":"i2","callId":"x","candidate":{"candidate":"c","sdpMLineIndex":-0}}',
  '{"type":"ice_candidate","id":"i3","callId":"x","candidate":{"candidate":"c","sdpMLineIndex":-1}}',
  '{"type":"ice_candidate","id":"i4","callId":"x","candidate":{"candidate":"c","extra":1}}',
  '{"type":"ice_candidate","id":"i5","callId":"x"}',
  '{"type":"media_state","id":"m1","callId":"x","audio":1,"video":0,"screen":false}',
  '{"type":"webrtc_offer","id":"o1","callId":"x","offer":{"type":"answer","sdp":""}}',
  '{"type":"chat_message","id":"c5","callId":"x","text":""}',
  '{"type":"call_ended","id":"e1","callId":"","reason":"bye"}',
  '{"type":"call_accept","id":"a1","callId":"../../etc/passwd"}',
] as const;

/** Byte sequences that are not UTF-8 (and a few that are, to keep the oracle honest). */
const BYTE_FRAMES: readonly number[][] = [
  [0xff],
  [0xc0, 0x80],
  [0xed, 0xa0, 0x80],
  [0xf4, 0x90, 0x80, 0x80],
  [0xe2, 0x82],
  [...Buffer.from('{"type":"ping","id":"'), 0xff, ...Buffer.from('"}')],
  [...Buffer.from('{"type":"ping","id":"ok-\u00e9"}')],
];

const shortJson = fc.jsonValue({ maxDepth: 2 });

const rawSpecArb: fc.Arbitrary<RawSpec> = fc.oneof(
  {
    weight: 2,
    arbitrary: fc.record({
      raw: fc.constant('text' as const),
      text: fc.string({ unit: 'binary', maxLength: 40 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      raw: fc.constant('json' as const),
      value: fc.jsonValue({ maxDepth: 3 }),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      raw: fc.constant('object' as const),
      type: fc.oneof(fc.constantFrom(...CLIENT_TYPES), fc.string({ maxLength: 12 })),
      id: fc.option(fc.oneof(fc.string({ maxLength: 70 }), fc.integer(), fc.constant(null)), {
        nil: undefined,
      }),
      fields: fc.dictionary(
        fc.oneof(
          fc.constantFrom('callId', 'roomId', 'status', 'callType', 'agentId', 'purpose', 'reason'),
          fc.constantFrom(
            'offer',
            'answer',
            'candidate',
            'audio',
            'video',
            'screen',
            'text',
            'targetUserId',
          ),
          fc.string({ maxLength: 8 }),
        ),
        fc.oneof(
          shortJson,
          fc.constantFrom('video', 'audio', 'online', 'away', 'lobby', 'agent-room'),
        ),
        { maxKeys: 5 },
      ),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      raw: fc.constant('binary' as const),
      text: fc.oneof(fc.string({ maxLength: 30 }), fc.constant('{"type":"ping","id":"bin"}')),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      raw: fc.constant('bytes' as const),
      bytes: fc.oneof(
        fc.constantFrom(...BYTE_FRAMES),
        fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 24 }),
      ),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      raw: fc.constant('sized' as const),
      size: fc.constantFrom(
        MAX_MESSAGE_BYTES - 1,
        MAX_MESSAGE_BYTES,
        MAX_MESSAGE_BYTES + 1,
        MAX_MESSAGE_BYTES + 4096,
        4 * MAX_MESSAGE_BYTES,
        1 << 20,
      ),
      body: fc.constantFrom('ping' as const, 'chat' as const, 'text' as const, 'binary' as const),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      raw: fc.constant('nested' as const),
      depth: fc.constantFrom(10, 1000, 10_000, 30_000),
      where: fc.constantFrom('top' as const, 'extra' as const, 'field' as const),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      raw: fc.constant('fixed' as const),
      text: fc.constantFrom(...FIXED_FRAMES),
    }),
  },
);

/** A text of exactly `size` bytes that is `head` + padding + `tail`. */
function padded(head: string, tail: string, size: number): Buffer {
  const fill = Math.max(0, size - Buffer.byteLength(head) - Buffer.byteLength(tail));
  return Buffer.from(`${head}${'x'.repeat(fill)}${tail}`);
}

/** The bytes of a raw frame, and whether it goes as a binary frame. */
function rawBytes(spec: RawSpec): { bytes: Buffer; binary: boolean } {
  switch (spec.raw) {
    case 'text':
    case 'fixed':
      return { bytes: Buffer.from(spec.text), binary: false };
    case 'json':
      return { bytes: Buffer.from(JSON.stringify(spec.value)), binary: false };
    case 'object': {
      const value: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(spec.fields)) {
        Object.defineProperty(value, k, {
          value: v,
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      value['type'] = spec.type;
      if (spec.id !== undefined) value['id'] = spec.id;
      return { bytes: Buffer.from(JSON.stringify(value)), binary: false };
    }
    case 'binary':
      return { bytes: Buffer.from(spec.text), binary: true };
    case 'bytes':
      return { bytes: Buffer.from(spec.bytes), binary: false };
    case 'sized':
      switch (spec.body) {
        case 'ping':
          return {
            bytes: padded('{"type":"ping","id":"sized","pad":"', '"}', spec.size),
            binary: false,
          };
        case 'chat':
          return {
            bytes: padded(
              '{"type":"chat_message","id":"sized","callId":"x","text":"',
              '"}',
              spec.size,
            ),
            binary: false,
          };
        case 'text':
          return { bytes: padded('', '', spec.size), binary: false };
        case 'binary':
          return { bytes: Buffer.alloc(spec.size), binary: true };
      }
      break;
    case 'nested': {
      const nest = `${'['.repeat(spec.depth)}${']'.repeat(spec.depth)}`;
      const text =
        spec.where === 'top'
          ? nest
          : spec.where === 'extra'
            ? `{"type":"ping","id":"nested","x":${nest}}`
            : `{"type":"media_state","id":"nested","callId":"x","audio":${nest},"video":true,"screen":false}`;
      return { bytes: Buffer.from(text), binary: false };
    }
  }
  throw new Error('unreachable');
}

// ---------------------------------------------------------------------------------------------
// Protocol messages built from the live state, and their mutations
// ---------------------------------------------------------------------------------------------

/** Which call a message names: one of the sender's, of its company, of another company, none. */
type CallRef = { pick: 'mine' | 'company' | 'foreign' | 'unknown'; n: number };

type Build =
  | { type: 'ping' }
  | { type: 'join_room' | 'leave_room'; roomId: string }
  | { type: 'agent_status'; status: AgentStatus }
  | { type: 'queue_list'; offset: number | null; limit: number | null }
  | {
      type: 'call_request';
      callType: 'audio' | 'video';
      agent: { pick: 'company' | 'foreign' | 'unknown'; n: number } | null;
      purpose: string | null;
    }
  | {
      type: 'call_cancel' | 'call_accept' | 'call_decline' | 'call_ended';
      call: CallRef;
      reason: string | null;
    }
  | { type: RelayType; call: CallRef; target: 'none' | 'peer' | 'other'; variant: number };

/** A change that usually breaks a message: the path is picked among the message's members. */
type Mutation =
  | { op: 'drop'; at: number }
  | { op: 'set'; at: number; value: Json }
  | { op: 'extra'; at: number; key: string; value: Json }
  | { op: 'huge'; at: number; length: number }
  | { op: 'unicode'; at: number; text: string }
  | { op: 'number'; at: number; raw: string };

type Action =
  | { kind: 'send'; slot: number; build: Build; mutation: Mutation | null; noId: boolean }
  | { kind: 'call'; visitor: number; agent: number; direct: boolean }
  | { kind: 'raw'; slot: number; spec: RawSpec }
  | { kind: 'reconnect'; slot: number }
  | { kind: 'party'; n: number; side: 'visitor' | 'agent'; build: Build; mutation: Mutation | null }
  | { kind: 'wait'; ms: number };

const callRefArb: fc.Arbitrary<CallRef> = fc.record({
  pick: fc.constantFrom(
    'mine' as const,
    'mine' as const,
    'company' as const,
    'foreign' as const,
    'unknown' as const,
  ),
  n: fc.nat(7),
});

const relayBuildArb: fc.Arbitrary<Build> = fc.record({
  type: fc.constantFrom(...RELAY_TYPES),
  call: callRefArb,
  target: fc.constantFrom('none' as const, 'none' as const, 'peer' as const, 'other' as const),
  variant: fc.nat(7),
});

const buildArb: fc.Arbitrary<Build> = fc.oneof(
  fc.constant({ type: 'ping' as const }),
  fc.record({
    type: fc.constantFrom('join_room' as const, 'leave_room' as const),
    roomId: fc.constantFrom('public-calls', 'agent-room', 'lobby', 'support', 'lobby'),
  }),
  fc.record({
    type: fc.constant('agent_status' as const),
    status: fc.constantFrom(
      'online' as const,
      'away' as const,
      'busy' as const,
      'offline' as const,
    ),
  }),
  {
    weight: 2,
    arbitrary: fc.record({
      type: fc.constant('call_request' as const),
      callType: fc.constantFrom('audio' as const, 'video' as const),
      agent: fc.option(
        fc.record({
          pick: fc.constantFrom('company' as const, 'foreign' as const, 'unknown' as const),
          n: fc.nat(7),
        }),
        { nil: null },
      ),
      purpose: fc.option(fc.string({ maxLength: 20 }), { nil: null }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      type: fc.constantFrom(
        'call_cancel' as const,
        'call_accept' as const,
        'call_decline' as const,
        'call_ended' as const,
      ),
      call: callRefArb,
      reason: fc.option(fc.constantFrom('hangup', 'bye', ''), { nil: null }),
    }),
  },
  { weight: 4, arbitrary: relayBuildArb },
  fc.record({
    type: fc.constant('queue_list' as const),
    offset: fc.option(fc.nat(4), { nil: null }),
    limit: fc.option(fc.constantFrom(1, 2, 3, 100), { nil: null }),
  }),
);

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('drop' as const), at: fc.nat(9) }),
  fc.record({
    op: fc.constant('set' as const),
    at: fc.nat(9),
    value: fc.oneof(
      fc.constantFrom<Json>(
        null,
        true,
        false,
        0,
        -1,
        1.5,
        '',
        ' ',
        [],
        {},
        'audio',
        'online',
        'offer',
        'agent-room',
      ),
      shortJson,
    ),
  }),
  fc.record({
    op: fc.constant('extra' as const),
    at: fc.nat(9),
    key: fc.oneof(
      fc.constantFrom('__proto__', 'constructor', 'fromUserId', 'companyId', 'id', 'x'),
      fc.string({ maxLength: 6 }),
    ),
    value: shortJson,
  }),
  fc.record({
    op: fc.constant('huge' as const),
    at: fc.nat(9),
    length: fc.constantFrom(
      64,
      65,
      128,
      129,
      500,
      501,
      2000,
      2001,
      2048,
      2049,
      60_000,
      60_001,
      63_000,
    ),
  }),
  fc.record({
    op: fc.constant('unicode' as const),
    at: fc.nat(9),
    text: fc.oneof(
      fc.constantFrom(
        '\u0000',
        '\ud800',
        '\udfff',
        'e\u0301',
        '\u{1f44d}',
        '\u202e',
        '\uff21',
        'L',
        '\u0130',
        '\n',
      ),
      fc.string({ unit: 'binary', minLength: 1, maxLength: 8 }),
    ),
  }),
  fc.record({
    op: fc.constant('number' as const),
    at: fc.nat(9),
    raw: fc.constantFrom(
      '-1',
      '-0',
      '0.5',
      '1e999',
      '-1e999',
      '1e-400',
      '9007199254740993',
      '1E2',
      '123456789012345678901234567890',
    ),
  }),
);

const actionArb: fc.Arbitrary<Action> = fc.oneof(
  {
    weight: 10,
    arbitrary: fc.record({
      kind: fc.constant('send' as const),
      slot: fc.nat(WORLD.length - 1),
      build: buildArb,
      mutation: fc.option(mutationArb, { nil: null, freq: 3 }),
      noId: fc.constantFrom(false, false, false, true),
    }),
  },
  {
    weight: 10,
    arbitrary: fc.record({
      kind: fc.constant('party' as const),
      n: fc.nat(7),
      side: fc.constantFrom('visitor' as const, 'agent' as const),
      build: fc.oneof(
        { weight: 8, arbitrary: relayBuildArb },
        {
          weight: 1,
          arbitrary: fc.record({
            type: fc.constantFrom('call_ended' as const, 'call_cancel' as const),
            call: callRefArb,
            reason: fc.option(fc.constantFrom('hangup', 'bye'), { nil: null }),
          }),
        },
      ),
      mutation: fc.option(mutationArb, { nil: null, freq: 4 }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('call' as const),
      visitor: fc.nat(9),
      agent: fc.nat(9),
      direct: fc.boolean(),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('raw' as const),
      slot: fc.nat(WORLD.length - 1),
      spec: rawSpecArb,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('reconnect' as const),
      slot: fc.nat(WORLD.length - 1),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('wait' as const), ms: fc.constantFrom(0, 60, 300) }),
  },
);

/** What the test learned about calls from acks, to aim later messages at them. */
interface BookCall {
  readonly callId: string;
  readonly companyId: string;
  readonly visitorId: string;
  agentId: string | undefined;
}

let seq = 0;
const nextId = () => `m${++seq}`;
/** A call id no server ever handed out (UUIDv7-shaped). */
const unknownCallId = () => `0192ffff-ffff-7fff-bfff-${String(++seq).padStart(12, '0')}`;

/** One run: its world, the calls the test has learned of, and the problems seen so far. */
class Run {
  readonly calls: BookCall[] = [];
  readonly problems: string[] = [];

  constructor(readonly world: World) {}

  private staff(companyId: string): UserSpec[] {
    return WORLD.filter((u) => u.companyId === companyId && u.role !== 'visitor');
  }

  /** Resolves a call reference against what the test knows now. */
  private callRef(
    spec: UserSpec,
    ref: CallRef,
    forced: BookCall | undefined,
  ): { callId: string; foreign: boolean; call?: BookCall } {
    if (forced !== undefined) return { callId: forced.callId, foreign: false, call: forced };
    const pools: Record<CallRef['pick'], BookCall[]> = {
      mine: this.calls.filter((c) => c.visitorId === spec.userId || c.agentId === spec.userId),
      company: this.calls.filter((c) => c.companyId === spec.companyId),
      foreign: this.calls.filter((c) => c.companyId !== spec.companyId),
      unknown: [],
    };
    const pool = pools[ref.pick];
    const call = pool[pool.length - 1 - (ref.n % Math.max(1, pool.length))];
    if (call === undefined) return { callId: unknownCallId(), foreign: false };
    return { callId: call.callId, foreign: ref.pick === 'foreign', call };
  }

  /** The message a build describes, sent by `spec`; `foreign` when it names another company's call. */
  build(
    spec: UserSpec,
    b: Build,
    forced?: BookCall,
  ): { msg: Record<string, unknown>; foreign: boolean } {
    const id = nextId();
    switch (b.type) {
      case 'ping':
        return { msg: { type: 'ping', id }, foreign: false };
      case 'join_room':
      case 'leave_room':
        return { msg: { type: b.type, id, roomId: b.roomId }, foreign: false };
      case 'agent_status':
        return { msg: { type: 'agent_status', id, status: b.status }, foreign: false };
      case 'queue_list': {
        const msg: Record<string, unknown> = { type: 'queue_list', id };
        if (b.offset !== null) msg['offset'] = b.offset;
        if (b.limit !== null) msg['limit'] = b.limit;
        return { msg, foreign: false };
      }
      case 'call_request': {
        const msg: Record<string, unknown> = { type: 'call_request', id, callType: b.callType };
        if (b.agent !== null) {
          const pool =
            b.agent.pick === 'company'
              ? this.staff(spec.companyId)
              : b.agent.pick === 'foreign'
                ? WORLD.filter((u) => u.companyId !== spec.companyId && u.role !== 'visitor')
                : [];
          msg['agentId'] =
            pool[b.agent.n % Math.max(1, pool.length)]?.userId ?? `nobody-${b.agent.n}`;
        }
        if (b.purpose !== null) msg['purpose'] = b.purpose;
        return { msg, foreign: false };
      }
      case 'call_cancel':
      case 'call_accept':
      case 'call_decline':
      case 'call_ended': {
        const ref = this.callRef(spec, b.call, forced);
        const msg: Record<string, unknown> = { type: b.type, id, callId: ref.callId };
        if (b.type === 'call_ended' && b.reason !== null) msg['reason'] = b.reason;
        return { msg, foreign: ref.foreign };
      }
      default: {
        const ref = this.callRef(spec, b.call, forced);
        const msg: Record<string, unknown> = {
          type: b.type,
          id,
          callId: ref.callId,
          ...relayPayload(b.type, b.variant),
        };
        if (b.target === 'peer' && ref.call !== undefined) {
          const peer = ref.call.visitorId === spec.userId ? ref.call.agentId : ref.call.visitorId;
          if (peer !== undefined) msg['targetUserId'] = peer;
        } else if (b.target === 'other') {
          msg['targetUserId'] = WORLD[b.variant % WORLD.length]!.userId;
        }
        return { msg, foreign: ref.foreign };
      }
    }
  }

  /** Learns calls and answers from one window. */
  learn(spec: UserSpec, ex: Exchange): void {
    if (ex.violation !== undefined) this.problems.push(ex.violation);
    if (ex.exp.kind !== 'valid') return;
    const msg = ex.exp.msg;
    const ack = ex.answers[0]?.type === 'ack' ? ex.answers[0] : undefined;
    const ok = ack !== undefined || (ex.exp.id === undefined && ex.answers.length === 0);
    if (msg.type === 'call_request' && ack !== undefined) {
      this.calls.push({
        callId: String(ack['callId']),
        companyId: spec.companyId,
        visitorId: spec.userId,
        agentId: undefined,
      });
    } else if (msg.type === 'call_accept' && ok) {
      const call = this.calls.find((c) => c.callId === msg.callId);
      if (call !== undefined) call.agentId = spec.userId;
    }
  }

  /**
   * Builds, mutates and sends one message; a valid one naming another company's call is
   * followed by its twin naming a call id that never existed, and both must fare the same.
   */
  private async sendBuilt(
    slot: Slot,
    build: Build,
    mutation: Mutation | null,
    noId: boolean,
    forced: BookCall | undefined,
  ): Promise<void> {
    const { msg, foreign } = this.build(slot.spec, build, forced);
    if (noId && msg['type'] !== 'call_request') delete msg['id'];
    const text = mutation === null ? JSON.stringify(msg) : mutate(msg, mutation);
    const ex = await this.send(slot, Buffer.from(text), false);
    if (!foreign || ex.exp.kind !== 'valid' || ex.close !== undefined) return;
    const twin: Record<string, unknown> = { ...ex.exp.msg, callId: unknownCallId() };
    if (ex.exp.id !== undefined) twin['id'] = nextId();
    const other = await this.send(slot, Buffer.from(JSON.stringify(twin)), false);
    const [a, b] = [outcomeOf(ex.answers, ex.close), outcomeOf(other.answers, other.close)];
    if (a !== b) {
      this.problems.push(
        `${slot.client.record.label}: ${ex.exp.msg.type} naming another company's call got ${a}, ` +
          `an unknown call id got ${b}`,
      );
    }
  }

  /** Sends one frame through `slot`'s window (reopening it first if the server closed it). */
  async send(slot: Slot, bytes: Buffer, binary: boolean): Promise<Exchange> {
    await slot.ensureOpen();
    const ex = await slot.client.exchange(bytes, binary, MAX_MESSAGE_BYTES);
    this.learn(slot.spec, ex);
    return ex;
  }

  async perform(action: Action): Promise<void> {
    const slots = this.world.slots;
    switch (action.kind) {
      case 'wait':
        await delay(action.ms);
        return;
      case 'reconnect': {
        const slot = slots[action.slot % slots.length]!;
        await slot.exclusive(() => slot.reconnect());
        return;
      }
      case 'raw': {
        const slot = slots[action.slot % slots.length]!;
        const { bytes, binary } = rawBytes(action.spec);
        await slot.exclusive(() => this.send(slot, bytes, binary));
        return;
      }
      case 'send': {
        const slot = slots[action.slot % slots.length]!;
        await slot.exclusive(() =>
          this.sendBuilt(slot, action.build, action.mutation, action.noId, undefined),
        );
        return;
      }
      case 'party': {
        // A participant of an answered call speaks: relays, hang-ups, cancels that can succeed.
        const answered = this.calls.filter((c) => c.agentId !== undefined);
        const call = answered[answered.length - 1 - (action.n % Math.max(1, answered.length))];
        if (call === undefined) return;
        const userId = action.side === 'visitor' ? call.visitorId : call.agentId;
        const mine = slots.filter((s) => s.spec.userId === userId);
        const slot = mine[action.n % mine.length]!;
        await slot.exclusive(() =>
          this.sendBuilt(slot, action.build, action.mutation, false, call),
        );
        return;
      }
      case 'call': {
        const visitors = slots.filter((s) => s.spec.role === 'visitor');
        const visitor = visitors[action.visitor % visitors.length]!;
        const staff = slots.filter(
          (s) => s.spec.companyId === visitor.spec.companyId && s.spec.role !== 'visitor',
        );
        const agent = staff[action.agent % staff.length]!;
        const request: Record<string, unknown> = {
          type: 'call_request',
          id: nextId(),
          callType: 'video',
        };
        if (action.direct) request['agentId'] = agent.spec.userId;
        const asked = await visitor.exclusive(() =>
          this.send(visitor, Buffer.from(JSON.stringify(request)), false),
        );
        const ack = asked.answers[0];
        if (ack?.type !== 'ack') return;
        const accept = { type: 'call_accept', id: nextId(), callId: ack['callId'] };
        await agent.exclusive(() => this.send(agent, Buffer.from(JSON.stringify(accept)), false));
        return;
      }
    }
  }

  /** Lets coalesced announcements and timers land, then fences every open connection. */
  async settle(): Promise<void> {
    await delay(3 * (FUZZ_CONFIG.presenceTickMs ?? 50) + 20);
    await Promise.all(
      this.world.slots.map((slot) =>
        slot.exclusive(async () => {
          if (slot.client.isOpen)
            await this.send(slot, Buffer.from('{"type":"ping","id":"settle"}'), false);
        }),
      ),
    );
  }
}

/** A relay payload with a nonce, so the oracle can tell every relayed frame from another. */
function relayPayload(type: RelayType, variant: number): Record<string, unknown> {
  const nonce = ++seq;
  switch (type) {
    case 'webrtc_offer':
      return { offer: { type: 'offer', sdp: `v=0\r\no=- ${nonce} 2 IN IP4 127.0.0.1\r\n` } };
    case 'webrtc_answer':
      return { answer: { type: 'answer', sdp: `v=0\r\no=- ${nonce} 2 IN IP4 127.0.0.1\r\n` } };
    case 'ice_candidate':
      return variant % 4 === 0
        ? { candidate: null }
        : {
            candidate: {
              candidate: `candidate:${nonce} 1 udp 2122260223 192.0.2.1 ${50000 + (variant % 1000)} typ host`,
              sdpMid: variant % 2 === 0 ? '0' : null,
              sdpMLineIndex: variant % 3,
              ...(variant % 5 === 0 ? { usernameFragment: `uf${nonce}` } : {}),
            },
          };
    case 'media_state':
      return { audio: variant % 2 === 0, video: variant % 3 === 0, screen: variant % 5 === 0 };
    case 'chat_message':
      return { text: `hello ${nonce}` };
  }
}

/** Every path to a member of `value` (objects only, depth first), the root excluded. */
function memberPaths(value: unknown, prefix: string[] = []): string[][] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return [];
  return Object.keys(value).flatMap((key) => [
    [...prefix, key],
    ...memberPaths((value as Record<string, unknown>)[key], [...prefix, key]),
  ]);
}

const RAW_NUMBER = '__fuzz_raw_number__';

/** Applies `m` to a copy of `msg` and returns the frame's text. */
function mutate(msg: Record<string, unknown>, m: Mutation): string {
  const copy = structuredClone(msg);
  const paths = memberPaths(copy);
  const path = paths[m.at % Math.max(1, paths.length)] ?? ['type'];
  const key = path[path.length - 1]!;
  let parent: Record<string, unknown> = copy;
  for (const step of path.slice(0, -1)) parent = parent[step] as Record<string, unknown>;
  const set = (target: Record<string, unknown>, k: string, v: unknown) =>
    Object.defineProperty(target, k, {
      value: v,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  switch (m.op) {
    case 'drop':
      delete parent[key];
      break;
    case 'set':
      set(parent, key, m.value);
      break;
    case 'extra': {
      const at = parent[key];
      const target =
        typeof at === 'object' && at !== null && !Array.isArray(at)
          ? (at as Record<string, unknown>)
          : copy;
      set(target, m.key, m.value);
      break;
    }
    case 'huge':
      set(parent, key, 'x'.repeat(m.length));
      break;
    case 'unicode': {
      const was = parent[key];
      set(parent, key, typeof was === 'string' ? `${was}${m.text}` : m.text);
      break;
    }
    case 'number':
      set(parent, key, RAW_NUMBER);
      return JSON.stringify(copy).replace(`"${RAW_NUMBER}"`, m.raw);
  }
  return JSON.stringify(copy);
}

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

/**
 * Checks `predicate` over `arb` with the suite's parameters. A failure is shrunk for at most
 * FUZZ_SHRINK_S seconds (later candidates are skipped, so the smallest found so far is
 * reported), and the report carries the seed, path, counterexample and the problems seen.
 */
async function check<T>(
  t: Test,
  name: string,
  arb: fc.Arbitrary<T>,
  predicate: (value: T) => Promise<void>,
  numRuns: number,
  figures: Figures,
) {
  if (ONLY !== undefined && ONLY !== name) {
    t.pass(`${name}: not run (FUZZ_ONLY=${ONLY})`);
    return;
  }
  const seed = SEED ?? Math.floor(Math.random() * 2 ** 31);
  const runs = RUNS ?? numRuns;
  t.comment(`${name}: seed ${seed}, ${runs} runs`);
  let shrinkDeadline: number | undefined;
  const prop = fc.asyncProperty(arb, async (value) => {
    if (shrinkDeadline !== undefined && Date.now() > shrinkDeadline) fc.pre(false);
    try {
      await predicate(value);
    } catch (err) {
      if (shrinkDeadline === undefined) {
        // Printed at once, so a run killed while shrinking still leaves the case behind.
        shrinkDeadline = Date.now() + SHRINK_MS;
        t.comment(
          `${name}: first failure (seed ${seed}), before shrinking: ${(err as Error).message}\n` +
            `counterexample: ${fc.stringify(value)}`,
        );
      }
      throw err;
    }
  });
  const started = performance.now();
  const details = await fc.check(prop, {
    numRuns: runs,
    seed,
    ...(PATH !== undefined ? { path: PATH } : {}),
    endOnFailure: SHRINK_MS <= 0,
  });
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  t.comment(
    `${name}: ${figures.runs} runs, ${figures.framesSent} frames sent, ` +
      `${figures.framesReceived} received, ${figures.closes} closes, ${seconds} s; ` +
      highlights(figures),
  );
  if (process.env['FUZZ_STATS'] === '1') {
    const rows = [...figures.outcomes].sort(([a], [b]) => (a < b ? -1 : 1));
    t.comment(rows.map(([key, n]) => `${key}: ${n}`).join('\n'));
  }
  if (!details.failed) {
    t.pass(`${name}: ${details.numRuns} runs passed`);
    return;
  }
  const error = details.errorInstance;
  t.fail(`${name}: property failed (seed ${details.seed}, path ${details.counterexamplePath})`, {
    diagnostic: true,
    problems: error instanceof Error ? error.message : String(error),
    report: fc.defaultReportMessage(details),
    replay:
      `FUZZ_ONLY=${name} FUZZ_SEED=${details.seed} ` +
      `FUZZ_PATH=${details.counterexamplePath ?? ''} ` +
      'npx tap --disable-coverage --timeout=900 test/reliability/fuzz.reliability.ts',
  });
}

/** Ends a run: every delivery judged, the server checked, problems thrown as one error. */
async function finish(run: Run, figures: Figures): Promise<void> {
  try {
    await run.settle();
    const problems = [
      ...run.problems,
      ...checkDeliveries(run.world.conns, { queueAnnounceMax: FUZZ_CONFIG.queueAnnounceMax }),
      ...(await serverProblems(run.world)),
    ];
    count(figures, run.world);
    if (problems.length > 0) {
      throw new Error(`${problems.length} problem(s):\n${problems.slice(0, 12).join('\n')}`);
    }
  } finally {
    await run.world.srv.server.close();
  }
}

t.test(
  'every raw frame gets exactly what the envelope rules say, and the server stays up',
  async (t) => {
    const figures = newFigures();
    const frames = fc.array(rawSpecArb, { minLength: 1, maxLength: 30, size: 'max' });
    await check(
      t,
      'envelope',
      frames,
      async (specs) => {
        const run = new Run(await openWorld(t, PAIR, FUZZ_CONFIG));
        try {
          for (const [i, spec] of specs.entries()) {
            const slot = run.world.slots[i % run.world.slots.length]!;
            const { bytes, binary } = rawBytes(spec);
            await slot.exclusive(() => run.send(slot, bytes, binary));
            if (run.problems.length > 0) break;
          }
        } finally {
          await finish(run, figures);
        }
      },
      200,
      figures,
    );
  },
);

t.test(
  'random and mutated messages from three companies: one answer per id, nothing misdelivered',
  async (t) => {
    const figures = newFigures();
    const plans = fc.array(fc.array(actionArb, { minLength: 1, maxLength: 3 }), {
      minLength: 1,
      maxLength: 30,
      size: 'max',
    });
    await check(
      t,
      'conversations',
      plans,
      async (plan) => {
        const run = new Run(await openWorld(t, WORLD, FUZZ_CONFIG));
        try {
          for (const batch of plan) {
            await Promise.all(batch.map((action) => run.perform(action)));
            if (run.problems.length > 0) break;
          }
        } finally {
          await finish(run, figures);
        }
      },
      200,
      figures,
    );
  },
);
