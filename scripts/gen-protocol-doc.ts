/**
 * Generates docs/PROTOCOL.md from the one protocol source: the TypeBox schemas in
 * `client-lib/protocol.ts`, the constants (and their JSDoc) in `client-lib/constants.ts`, and
 * the defaults in `config/config.ts`. The prose that no schema can carry (lifecycle, status
 * rules, relay rules, limits) lives here as template strings, next to the code that renders the
 * tables, so one command refreshes both.
 *
 *   npm run docs:protocol              write docs/PROTOCOL.md
 *   npm run docs:protocol -- --check   exit 1 when docs/PROTOCOL.md is out of date
 *
 * An optional path argument replaces docs/PROTOCOL.md (the tests use it). The output has no
 * dates or other run-dependent text, so the same schemas always give the same bytes.
 *
 * This file is longer than the house's ~300 lines because most of it is the document's prose;
 * splitting prose from the renderer would put the two halves of one page in two places.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kind, OptionalKind, type TSchema } from '@sinclair/typebox';
import ts from 'typescript';
import {
  AGENT_ROOM,
  AGENT_STATUSES,
  CALL_STATES,
  CALL_TYPES,
  CloseCode,
  ErrorCode,
  PROTOCOL_VERSION,
  PUBLIC_ROOM,
  QUEUE_PAGE_MAX,
  ROLES,
  ROOM_NAME_PATTERN,
} from '../client-lib/constants.js';
import {
  AckResults,
  ClientMessages,
  RELAY_TYPES,
  RequestId,
  ServerMessages,
  type CallState,
  type ClientMessageType,
  type ServerMessageType,
} from '../client-lib/protocol.js';
import { MAX_TOKEN_LENGTH } from '../auth/verify.js';
import { signalingDefaults, type SignalingConfig } from '../config/config.js';
import { AuthFailure, ForbiddenReason, PolicyReason } from '../server/errors.js';
import { MAX_ROOMS_PER_CONNECTION } from '../server/services/rooms.js';

const CONSTANTS_URL = new URL('../client-lib/constants.ts', import.meta.url);
/** Where the document lives unless a path is given on the command line. */
export const PROTOCOL_DOC_PATH = fileURLToPath(new URL('../docs/PROTOCOL.md', import.meta.url));

// ---------------------------------------------------------------------------------------------
// Schema rendering
// ---------------------------------------------------------------------------------------------

type Schema = TSchema & {
  readonly [Kind]: string;
  readonly [OptionalKind]?: string;
  readonly description?: string;
  readonly properties?: Readonly<Record<string, Schema>>;
  readonly required?: readonly string[];
  readonly anyOf?: readonly Schema[];
  readonly items?: Schema;
  readonly const?: unknown;
  readonly additionalProperties?: unknown;
  readonly minLength?: number;
  readonly maxLength?: number;
  readonly pattern?: string;
  readonly minimum?: number;
  readonly maximum?: number;
};

const asSchema = (s: TSchema) => s as Schema;
const code = (text: string) => `\`${text}\``;
/** Escapes a table cell: GFM splits cells on `|`, even inside code spans. */
const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

function bounds(min: number | undefined, max: number | undefined, unit: string): string[] {
  if (min !== undefined && max !== undefined) return [`${min}–${max}${unit}`];
  if (max !== undefined) return [`≤ ${max}${unit}`];
  if (min !== undefined) return [`≥ ${min}${unit}`];
  return [];
}

/** A one-line rendering of a schema's type; throws on kinds the protocol does not use yet. */
export function typeLabel(schema: Schema): string {
  switch (schema[Kind]) {
    case 'String': {
      const notes = bounds(schema.minLength, schema.maxLength, ' chars');
      if (schema.pattern !== undefined) notes.push(`matching ${code(schema.pattern)}`);
      return notes.length > 0 ? `string (${notes.join(', ')})` : 'string';
    }
    case 'Integer':
    case 'Number': {
      const name = schema[Kind] === 'Integer' ? 'integer' : 'number';
      const notes = bounds(schema.minimum, schema.maximum, '');
      return notes.length > 0 ? `${name} ${notes.join(' ')}` : name;
    }
    case 'Boolean':
      return 'boolean';
    case 'Null':
      return 'null';
    case 'Literal':
      return code(JSON.stringify(schema.const));
    case 'Union':
      return (schema.anyOf ?? []).map(typeLabel).join(' | ');
    case 'Array': {
      const items = schema.items!;
      if (items[Kind] === 'Object') return 'object[]';
      const inner = typeLabel(items);
      return items[Kind] === 'Union' ? `(${inner})[]` : `${inner}[]`;
    }
    case 'Object':
      return 'object';
    default:
      throw new Error(`gen-protocol-doc: cannot render schema kind ${String(schema[Kind])}`);
  }
}

/** Objects whose fields are listed under a field, with the path suffix that reaches them. */
function nestedObjects(schema: Schema): Array<{ schema: Schema; suffix: string }> {
  switch (schema[Kind]) {
    case 'Object':
      return [{ schema, suffix: '' }];
    case 'Array':
      return nestedObjects(schema.items!).map((n) => ({ ...n, suffix: `[]${n.suffix}` }));
    case 'Union':
      return (schema.anyOf ?? []).flatMap(nestedObjects);
    default:
      return [];
  }
}

/** A schema's description, unless it only repeats the literals its type already lists. */
function descriptionOf(schema: Schema): string {
  const text = schema.description ?? '';
  if (schema[Kind] === 'Union') {
    const values = (schema.anyOf ?? []).map((m) => String(m.const)).join(' | ');
    if (text === values) return '';
  }
  return text;
}

interface FieldRow {
  readonly name: string;
  readonly type: string;
  readonly required: boolean;
  readonly description: string;
}

function fieldRows(object: Schema, prefix = ''): FieldRow[] {
  const rows: FieldRow[] = [];
  for (const [key, field] of Object.entries(object.properties ?? {})) {
    const name = `${prefix}${key}`;
    rows.push({
      name,
      type: typeLabel(field),
      required: field[OptionalKind] !== 'Optional' && (object.required ?? []).includes(key),
      description: descriptionOf(field),
    });
    for (const nested of nestedObjects(field)) {
      rows.push(...fieldRows(nested.schema, `${name}${nested.suffix}.`));
    }
  }
  return rows;
}

/**
 * A field table. `notesKey` selects {@link FIELD_NOTES} for fields whose schema has no
 * description; a schema description always wins over a note.
 */
function fieldTable(object: Schema, notesKey: string): string {
  const notes = FIELD_NOTES[notesKey] ?? {};
  const lines = ['| Field | Type | Required | Description |', '| --- | --- | --- | --- |'];
  for (const row of fieldRows(object)) {
    const note = notes[row.name];
    if (note !== undefined) usedNotes.add(`${notesKey} ${row.name}`);
    const description = row.description !== '' ? row.description : (note ?? '');
    lines.push(
      `| ${code(row.name)} | ${cell(row.type)} | ${row.required ? 'yes' : 'no'} | ${cell(description)} |`,
    );
  }
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------
// Facts the schemas cannot carry
// ---------------------------------------------------------------------------------------------

/**
 * JSDoc of each property of an exported object literal in constants.ts, by property name. Read
 * from the source so the error and close code tables say what the constants file says.
 */
function constantDocs(constName: string): Map<string, string> {
  const source = readFileSync(CONSTANTS_URL, 'utf8');
  const file = ts.createSourceFile('constants.ts', source, ts.ScriptTarget.Latest, true);
  const docs = new Map<string, string>();
  for (const statement of file.statements) {
    if (!ts.isVariableStatement(statement)) continue;
    for (const decl of statement.declarationList.declarations) {
      if (decl.name.getText(file) !== constName) continue;
      let init = decl.initializer;
      while (init !== undefined && (ts.isAsExpression(init) || ts.isSatisfiesExpression(init))) {
        init = init.expression;
      }
      if (init === undefined || !ts.isObjectLiteralExpression(init)) continue;
      for (const prop of init.properties) {
        const comment = ts
          .getJSDocCommentsAndTags(prop)
          .filter(ts.isJSDoc)
          .map((doc) => ts.getTextOfJSDocComment(doc.comment) ?? '')
          .join(' ')
          .trim();
        if (prop.name !== undefined && comment !== '') docs.set(prop.name.getText(file), comment);
      }
    }
  }
  return docs;
}

/** Meanings for codes whose constant has no JSDoc (empty while constants.ts documents all). */
const ERROR_CODE_FALLBACK: Partial<Record<ErrorCode, string>> = {};
const CLOSE_CODE_FALLBACK: Partial<Record<CloseCode, string>> = {};

/** Close reasons the server sends with each code, where it sends any. */
const CLOSE_REASONS: Partial<Record<CloseCode, readonly string[]>> = {
  [CloseCode.GoingAway]: ['server shutting down'],
  [CloseCode.Unauthorized]: Object.values(AuthFailure),
  [CloseCode.Policy]: Object.values(PolicyReason),
  [CloseCode.Forbidden]: Object.values(ForbiddenReason),
};
/** Close codes this server version defines but never sends. */
const CLOSE_CODES_NOT_SENT: ReadonlySet<CloseCode> = new Set<CloseCode>([]);

const CALL_STATE_DOCS = {
  queued: { final: false, meaning: 'Waiting in the company queue for any agent to accept.' },
  ringing: { final: false, meaning: 'Ringing the one agent named by `agentId`.' },
  answered: { final: false, meaning: 'Accepted; the two participants may relay signaling.' },
  ended: {
    final: true,
    meaning: 'An answered call was hung up, or a participant did not return within the grace.',
  },
  missed: { final: true, meaning: 'The ring (`ring_timeout`) or the queue wait timed out.' },
  declined: { final: true, meaning: 'The rung agent declined.' },
  abandoned: {
    final: true,
    meaning: 'The visitor cancelled, or left and did not return within the grace, before answer.',
  },
  failed: { final: true, meaning: 'Reserved for calls that could not be set up; not sent by v1.' },
} satisfies Record<CallState, { final: boolean; meaning: string }>;

/**
 * What a field means, for fields whose schema carries no `description`, keyed by
 * `client:<type>`, `server:<type>` or `ack:<type>`, then by field path. These belong in the
 * schemas eventually; until then a note naming a field that no longer exists stops the build.
 */
const FIELD_NOTES: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  'client:call_request': {
    agentId: 'Ring this agent only (it must be `online`); without it the call is queued.',
    purpose:
      'Free text shown to agents in the queue and the ring, normalised like a token `name` and cut to its first 200 code points.',
  },
  'ack:call_request': {
    position: 'Place in the queue (1 is next); only for queued calls.',
  },
  'client:call_ended': { reason: 'Passed on to both sides in `call_ended` (default `hangup`).' },
  'client:ice_candidate': { candidate: '`null` marks the end of candidates.' },
  'ack:ping': { ts: 'Server clock, ms since the epoch.' },
  'server:connection_established': {
    connectionId: 'This connection, for logs and support requests.',
    user: 'The principal from the token, as the server sees it.',
    'user.name': "The token's `name`, or its default.",
    rooms: 'The room the connection starts in.',
    iceServers: 'Hand to `RTCPeerConnection`; TURN entries carry short-lived credentials.',
    heartbeatIntervalMs: 'Interval of the WebSocket pings the server sends.',
  },
  'server:error': { message: 'For people; switch on `code`.' },
  'server:pong': { ts: 'Server clock, ms since the epoch.' },
  'server:agent_list': {
    agents: "The company's present agents; an agent with no connection and no call is absent.",
  },
  'server:queue_position': { position: '1 is next.' },
  'server:call_started': { peer: 'The other participant.' },
  'server:call_waiting': { position: 'Place in the queue; absent while ringing.' },
  'server:call_resumed': {
    peer: 'The other participant.',
    role: '`caller` (the visitor, who sends the offer) or `callee`.',
  },
  'server:call_ended': {
    reason:
      "The sender's reason or `hangup`; `cancelled` before answer; `disconnected` after the grace.",
    durationSec: 'Whole seconds from answer to end; 0 for a call never answered.',
  },
};
/** Notes actually rendered, so {@link generateProtocolDoc} can refuse stale ones. */
const usedNotes = new Set<string>();

/** Marks for messages added on top of the v1 contract (the contract may grow, never rename). */
const EXTENSIONS: Partial<Record<`${'client' | 'server'}:${string}`, string>> = {
  'client:ping': 'Extension of v1: a `ping` that carries an `id` is also acked, with `ts`.',
  'server:pong': 'Extension of v1: a `ping` that carried an `id` also gets an `ack` with `ts`.',
  'server:room_left': 'Extension of v1.',
  'server:call_answered_elsewhere': 'Extension of v1.',
  'server:call_waiting': 'Extension of v1.',
  'server:call_finished': 'Extension of v1.',
  'server:queue_updated': 'Extension of v1: `total`, and `calls` bounded by `QUEUE_ANNOUNCE_MAX`.',
  'client:queue_list': 'Extension of v1.',
};

/** Who may send each client message and what it can be refused with (beyond bad_request). */
const CLIENT_NOTES = {
  join_room: {
    who: 'Anyone. Joining a room you are already in is acked again, without a second `room_joined`.',
    errors: `${code('forbidden')}: a visitor joining ${code(AGENT_ROOM)}, or a connection already in ${MAX_ROOMS_PER_CONNECTION} rooms.`,
  },
  leave_room: {
    who: 'Anyone, for any room it is in, its starting room included.',
    errors: `${code('not_found')}: not in that room.`,
  },
  agent_status: {
    who: 'Agents and admins.',
    errors: `${code('forbidden')}: a visitor.`,
  },
  call_request: {
    who: 'Visitors. The `id` is required.',
    errors: `${code('forbidden')}: an agent or admin. ${code('conflict')}: the visitor (any of its connections) already has a call that is not final, or another request of its is under way. ${code('unavailable')}: \`agentId\` does not name an agent of the company whose status is \`online\`. ${code('rate_limited')}: the visitor, or its client address, made its most call requests of the minute (see [Limits](#limits)); nothing is queued or rung. ${code('queue_full')}: a call for any agent, and the company's queue holds its most calls (${code('MAX_QUEUED_CALLS_PER_COMPANY')}). ${code('busy')}: another call is ringing that agent.`,
  },
  call_cancel: {
    who: 'The visitor of the call.',
    errors: `${code('not_found')}: no such call in your company (or already final). ${code('forbidden')}: not your call. ${code('conflict')}: the call is answered (end it with \`call_ended\`).`,
  },
  call_accept: {
    who: 'Agents and admins of the company: a queued call by anyone of them, whatever its status; a ringing call only by the agent it rings.',
    errors: `${code('forbidden')}: a visitor, or a call ringing another agent. ${code('not_found')}: no such call in your company. ${code('conflict')}: the call was taken or ended, or you already have an answered call.`,
  },
  call_decline: {
    who: 'The agent a call is ringing. Queued calls cannot be declined; they stay for others.',
    errors: `${code('forbidden')}: a visitor, or a call ringing another agent. ${code('not_found')}: no such call in your company. ${code('conflict')}: the call is not ringing.`,
  },
  call_ended: {
    who: "Either participant of an answered call. The visitor's `call_ended` on its queued or ringing call acts as `call_cancel`.",
    errors: `${code('not_found')}: no such call in your company. ${code('forbidden')}: not a participant. ${code('conflict')}: the call is not answered.`,
  },
  webrtc_offer: { who: 'A participant of an answered call.', errors: 'See [Relay](#relay).' },
  webrtc_answer: { who: 'A participant of an answered call.', errors: 'See [Relay](#relay).' },
  ice_candidate: { who: 'A participant of an answered call.', errors: 'See [Relay](#relay).' },
  media_state: { who: 'A participant of an answered call.', errors: 'See [Relay](#relay).' },
  chat_message: { who: 'A participant of an answered call.', errors: 'See [Relay](#relay).' },
  ping: { who: 'Anyone.', errors: 'None.' },
  queue_list: {
    who: 'Agents and admins, for their own company. The `id` is required.',
    errors: `${code('forbidden')}: a visitor. ${code('bad_request')}: \`offset\` below 0, \`limit\` below 1 or above ${QUEUE_PAGE_MAX}, either not an integer.`,
  },
} satisfies Record<ClientMessageType, { who: string; errors: string }>;

/** The settings a client can observe, by environment variable, with their meaning. */
const SETTINGS: ReadonlyArray<
  readonly [string, keyof SignalingConfig, 'ms' | 'bytes' | '', string]
> = [
  ['HEARTBEAT_INTERVAL_MS', 'heartbeatIntervalMs', 'ms', 'WebSocket ping interval.'],
  ['MAX_MESSAGE_BYTES', 'maxMessageBytes', 'bytes', 'Largest frame a client may send.'],
  ['RATE_LIMIT_MSGS_PER_SEC', 'rateLimitMsgsPerSec', '', 'Token bucket refill per second.'],
  ['RATE_LIMIT_BURST', 'rateLimitBurst', '', 'Token bucket capacity.'],
  ['SEND_HIGH_WATER_BYTES', 'sendHighWaterBytes', 'bytes', 'Slow-consumer threshold.'],
  ['MAX_CONNECTIONS_PER_USER', 'maxConnectionsPerUser', '', 'Per company and `sub`.'],
  [
    'MAX_VISITOR_CONNECTIONS_PER_ADDRESS',
    'maxVisitorConnectionsPerAddress',
    '',
    'Live visitor connections per client address (IPv6: per /64) on one node.',
  ],
  [
    'CALL_REQUESTS_PER_VISITOR_PER_MIN',
    'callRequestsPerVisitorPerMin',
    '',
    '`call_request`s per visitor (company and `sub`) a minute.',
  ],
  [
    'CALL_REQUESTS_PER_ADDRESS_PER_MIN',
    'callRequestsPerAddressPerMin',
    '',
    '`call_request`s per client address a minute, all its visitors together.',
  ],
  [
    'MAX_QUEUED_CALLS_PER_COMPANY',
    'maxQueuedCallsPerCompany',
    '',
    "Calls a company's queue may hold.",
  ],
  ['RING_TIMEOUT_MS', 'ringTimeoutMs', 'ms', 'How long a direct call rings.'],
  ['QUEUE_TIMEOUT_MS', 'queueTimeoutMs', 'ms', 'How long a call may wait in the queue.'],
  [
    'CALL_RECONNECT_GRACE_MS',
    'callReconnectGraceMs',
    'ms',
    'How long a call waits for a dropped participant.',
  ],
  [
    'MISSED_RINGS_BEFORE_AWAY',
    'missedRingsBeforeAway',
    '',
    'Ring timeouts in a row that set an agent away (0: never).',
  ],
  [
    'QUEUE_ANNOUNCE_MAX',
    'queueAnnounceMax',
    '',
    'Most queue entries per `queue_updated`, and the default `queue_list` page.',
  ],
  ['TURN_TTL_S', 'turnTtlS', '', 'Lifetime of TURN credentials, seconds.'],
  [
    'PRESENCE_TICK_MS',
    'presenceTickMs',
    'ms',
    'Status and queue announcements are gathered over this tick (0: sent at once).',
  ],
];

const defaults = signalingDefaults();

/** A value in the unit people think in: `30 s`, `10 min`, `64 KiB`. */
function short(value: number, unit: 'ms' | 'bytes' | ''): string {
  if (unit === 'ms') {
    if (value % 60_000 === 0) return `${value / 60_000} min`;
    if (value % 1000 === 0) return `${value / 1000} s`;
    return `${value} ms`;
  }
  if (unit === 'bytes') {
    if (value % 1_048_576 === 0) return `${value / 1_048_576} MiB`;
    if (value % 1024 === 0) return `${value / 1024} KiB`;
    return `${value} bytes`;
  }
  return String(value);
}

/** The raw value as the variable takes it, and the readable one when they differ. */
function humanise(value: number, unit: 'ms' | 'bytes' | ''): string {
  const readable = short(value, unit);
  return readable === String(value) ? readable : `${value} (${readable})`;
}

/** `NAME` (default N) for the prose. */
function setting(env: string): string {
  const entry = SETTINGS.find(([name]) => name === env);
  if (entry === undefined) throw new Error(`gen-protocol-doc: unknown setting ${env}`);
  return `${code(env)} (default ${short(defaults[entry[1]] as number, entry[2])})`;
}

const list = (values: readonly (string | number)[]) =>
  values.map((v) => code(String(v))).join(', ');
const idBounds = asSchema(RequestId);

// ---------------------------------------------------------------------------------------------
// Prose
// ---------------------------------------------------------------------------------------------

const INTRO = `# CallDocker signaling protocol (version ${PROTOCOL_VERSION})

> Generated by \`npm run docs:protocol\` from \`client-lib/protocol.ts\` (the TypeBox schemas the
> server validates every frame with), \`client-lib/constants.ts\` and the defaults in
> \`config/config.ts\`. Do not edit by hand: a test fails when this file and the schemas disagree.

A client opens one WebSocket to the signaling server, sends and receives JSON text frames, and
uses them to find agents, queue or ring a call, and exchange the WebRTC offer, answer and ICE
candidates with the other participant. Media never passes through the server.

Everything is scoped to the company named in the token: rooms, presence, queue and calls of two
companies never meet, and an id from another company behaves exactly like an id that does not
exist.

## Contents

- [Connection](#connection)
- [Envelope](#envelope)
- [Error codes](#error-codes)
- [Close codes](#close-codes)
- [Rooms](#rooms)
- [Agent status](#agent-status)
- [Call lifecycle](#call-lifecycle)
- [Reconnect grace](#reconnect-grace)
- [Relay](#relay)
- [Limits](#limits)
- [Heartbeat](#heartbeat)
- [Settings](#settings)
- [Client messages](#client-messages)
- [Server messages](#server-messages)
`;

const CONNECTION = `## Connection

\`\`\`text
ws://HOST:SIGNALING_PORT/?token=<JWT>
\`\`\`

(\`wss://\` behind a TLS-terminating proxy.) A client that can set headers may instead send
\`Authorization: Bearer <JWT>\` on the upgrade request, which keeps the token out of access
logs (extension of v1); when both are present the query parameter is used. Tokens longer than
${MAX_TOKEN_LENGTH} characters are refused as malformed. A request line or header so long that
it passes the HTTP server's header limit (16 KiB) is answered \`431\` before any upgrade: the
client sees a failed connection with no close code.

### Token

| Algorithm | Verified with |
| --- | --- |
| \`HS256\` | \`JWT_SECRET\` (shared secret) |
| \`RS256\`, \`ES256\` | \`JWT_PUBLIC_KEY\` (path of a PEM file), when set |

Any other algorithm, \`none\` included, and an algorithm whose key is not configured, is
refused. The public key is never used as an HMAC secret.

| Claim | Required | Meaning |
| --- | --- | --- |
| \`sub\` | yes | The user id (a string of at most 128 characters, or an integer), unique within the company. When \`sub\` is absent, the seed demo's \`id\` claim is used. |
| \`role\` | no | One of ${list(ROLES)}. The seed demo's \`user\` means \`visitor\`; a missing role means \`visitor\` (least privilege). Admins act as agents everywhere in this document. |
| \`company_id\` | yes | The company (a string or an integer). |
| \`exp\` | yes | Expiry, seconds since the epoch. A token without \`exp\` is refused. |
| \`name\` | no | Display name, normalised: control, bidi and zero-width (invisible) characters removed, whitespace collapsed to one space and trimmed, NFC, at most 100 code points. Absent, or nothing visible, means \`Visitor\` for visitors and the user id for agents and admins. |
| \`origin\` | no | A web origin (\`https://shop.example.com\`, or \`null\`): the page the visitor token was issued to. The web host sets it on visitor tokens requested from a browser. Any other value is refused (\`${AuthFailure.BadClaim}\`). See [Browser origin](#browser-origin). |
| \`ver\` | no | Agent and admin tokens: the account's credentials version when the token was issued (a whole number; none counts as 0). A password reset or disabling the agent raises it, and a token whose \`ver\` differs is refused (\`${AuthFailure.Revoked}\`). Any other value is refused (\`${AuthFailure.BadClaim}\`). |
| \`nbf\` | no | Honoured when present. |
| \`iss\` | when \`JWT_ISSUER\` is set | Must equal \`JWT_ISSUER\`. |
| \`aud\` | when \`JWT_AUDIENCE\` is set | Must match \`JWT_AUDIENCE\`. |

A token that is missing, malformed, badly signed, expired or lacks a required claim: the
upgrade completes and the server closes the socket at once with code \`4001\` and a reason
saying which (see [Close codes](#close-codes)). No message is sent before the close, the
connection never joins a room, and nothing is relayed for it. The token's signature and
claims are checked once, at the upgrade; a connection outliving its token's \`exp\` stays open.

A valid token is also compared with the database of the deployment, at the upgrade and, for
live connections, whenever an administrator changes access (an extension of v1; within a
second of the change):

- its company or, for an agent or admin, its account disabled: closed the same way with
  \`4003\` (\`${ForbiddenReason.NotAdmitted}\`); a new token will not help until it is enabled
  again;
- the account's password reset, or its role changed, since the token was issued: \`4001\`
  (\`${AuthFailure.Revoked}\`); get a new token (the web host's refresh issues one only for a
  changed role, with the new role; otherwise log in again).

Tokens of the web host carry the claim \`ver\` for this (the account's credentials version);
companies and agent ids the database does not know are not refused.

### Browser origin

A browser sends the page's origin as the upgrade's \`Origin\` header, and a page cannot forge it.
For a **visitor** token, when the upgrade carries \`Origin\` (an extension of v1):

- a token with an \`origin\` claim is accepted only from that origin or from one of the web
  host's own origins;
- a token without the claim (from a deployment's own identity provider) is accepted from the
  web host's own origins, and from any other only when the token's company lists no allowed
  origins or lists that one (companies the database does not know list none).

Otherwise the upgrade is closed with \`4001\` and the reason \`${AuthFailure.Origin}\`, before
anything is sent, and counted like every refused token. Upgrades without \`Origin\` (clients
that are not browsers) and agent and admin tokens are not checked. Origins are compared
normalised (lower case, default port dropped). The web host's own origins are \`WEB_ORIGINS\`
or, when it is unset, \`http://\` and \`https://\` with the upgrade's \`Host\` hostname and
\`WEB_PORT\` (and without a port when \`WEB_PORT\` is 80 or 443).

### After the upgrade

The first frame is always \`connection_established\` (protocol version, the user as the server
sees it, starting rooms, ICE servers, heartbeat interval). Then:

- **Agents and admins** start in \`${AGENT_ROOM}\` and get \`queue_updated\` (the queue,
  [bounded](#the-queue-as-agents-see-it)) and \`agent_list\` (their team as it is, themselves
  included; an extension of v1). If
  the agent was not present yet (its first connection), every member of \`${AGENT_ROOM}\` and \`${PUBLIC_ROOM}\` (the
  agent included) gets \`agent_status_changed\` with status \`online\`; the other members of
  \`${AGENT_ROOM}\` get \`user_joined\`.
- **Visitors** get \`agent_list\` (the company's present agents) and start in \`${PUBLIC_ROOM}\`.
- A user that reconnects within the [reconnect grace](#reconnect-grace) of a call then gets
  \`call_resumed\` (answered call) or \`call_waiting\` (call still queued or ringing).

A user already at \`MAX_CONNECTIONS_PER_USER\` connections in the company gets a close
\`4008\` (\`too many connections\`) instead of \`connection_established\`.

The same port answers plain HTTP: \`GET /healthz\` (liveness), \`GET /readyz\` (503 while
shutting down) and \`GET /metrics\` (Prometheus text format: with \`METRICS_TOKEN\` set, only to
\`Authorization: Bearer <METRICS_TOKEN>\`, else 401; without it, in production, only to loopback
clients, else 403); any other \`GET\` gets 426 and other methods 405. During a shutdown, new upgrades are refused with HTTP 503.
`;

const ENVELOPE = `## Envelope

Every frame is a UTF-8 text frame holding one JSON object with a string \`type\`. Binary frames,
other JSON values, unknown types and schema violations are answered with \`bad_request\`. Fields
a schema does not declare are ignored (and never relayed).

A client message may carry \`id\`, a string of ${idBounds.minLength}–${idBounds.maxLength} characters chosen by the
client. The server answers a message with an \`id\` **exactly once**:

- \`{"type": "ack", "id": ..., ...result}\` when it succeeded; the result fields of each message
  are listed under it below (most have none), or
- \`{"type": "error", "id": ..., "code": ..., "message": ...}\` when it did not.

A message without \`id\` gets no ack; if it fails, the \`error\` is sent without \`id\`. An \`id\`
that is not a string of the right length fails the schema, so its error cannot carry it.
\`message\` is for people; programs switch on \`code\`.

One connection's messages are handled one at a time, in the order they arrive, so answers come
back in the same order. Frames a message causes for its own sender (for example
\`call_started\` after \`call_accept\`) may arrive before its ack.

\`\`\`json
{"type": "call_request", "id": "r1", "callType": "video"}
{"type": "ack", "id": "r1", "callId": "0192...", "status": "queued", "position": 1}
{"type": "call_accept", "id": "r2", "callId": "no-such-call"}
{"type": "error", "id": "r2", "code": "not_found", "message": "no such call"}
\`\`\`
`;

function errorCodesSection(): string {
  const docs = constantDocs('ErrorCode');
  const rows = Object.entries(ErrorCode).map(([name, value]) => {
    const meaning = docs.get(name) ?? ERROR_CODE_FALLBACK[value];
    if (meaning === undefined)
      throw new Error(`gen-protocol-doc: ErrorCode.${name} is undocumented`);
    return `| ${code(value)} | ${cell(meaning)} |`;
  });
  return `## Error codes

Carried by \`error\` frames; stable, so clients may switch on them.

| Code | Meaning |
| --- | --- |
${rows.join('\n')}
`;
}

function closeCodesSection(): string {
  const docs = constantDocs('CloseCode');
  const rows = Object.entries(CloseCode).map(([name, value]) => {
    const meaning = docs.get(name) ?? CLOSE_CODE_FALLBACK[value];
    if (meaning === undefined)
      throw new Error(`gen-protocol-doc: CloseCode.${name} is undocumented`);
    const reasons = CLOSE_REASONS[value];
    const sent = CLOSE_CODES_NOT_SENT.has(value)
      ? 'Not sent by this version.'
      : reasons === undefined
        ? ''
        : reasons.map((r) => code(r)).join(', ');
    return `| ${value} | ${name} | ${cell(meaning)} | ${cell(sent)} |`;
  });
  return `## Close codes

| Code | Name | Meaning | Reasons sent |
| --- | --- | --- | --- |
${rows.join('\n')}

A connection terminated by the [heartbeat](#heartbeat) gets no close frame (clients see 1006).
After a close other than 1000 or 1001 the server destroys the socket one second later if the
client has not completed the closing handshake.
`;
}

const ROOMS = `## Rooms

A room is a name inside the caller's company: the same name in two companies is two rooms.
Names match \`${ROOM_NAME_PATTERN}\`; two are built in:

- \`${PUBLIC_ROOM}\`: every visitor starts here. Its members hear every \`agent_status_changed\`.
  Agents that join it are told of visitors arriving and leaving.
- \`${AGENT_ROOM}\`: agents and admins start here; visitors may not join it (\`forbidden\`). Its
  members get \`queue_updated\` at every queue change and every \`agent_status_changed\`; an agent
  that joins it gets the current queue at once.

\`join_room\` {roomId} answers the joiner with \`room_joined\`; \`leave_room\` {roomId} answers with
\`room_left\`. The other members get \`user_joined\` {roomId, user} and \`user_left\` {roomId,
userId}, except that in every room a visitor's arrival and departure are told to agents and
admins only: a visitor never learns another visitor's id or name (privacy; in \`${PUBLIC_ROOM}\`
announcing each arrival to every waiting visitor would also grow with the square of the crowd).
Agents and admins see everyone; visitors hear of agents and admins. (Earlier servers told
visitors in a named room of each other; clients must not rely on it.) A closing connection
leaves all its rooms (the others get \`user_left\`). The starting room is listed in \`connection_established.rooms\`
instead of a \`room_joined\`. A connection may be in at most ${MAX_ROOMS_PER_CONNECTION} rooms.

Rooms carry presence and status only: there is no message to broadcast to a room.
`;

const AGENT_STATUS = `## Agent status

Statuses: ${list(AGENT_STATUSES)}. An agent (or admin) is *present* while it has a connection,
or while a call still holds it. Every change of a present agent's status is announced with
\`agent_status_changed\` {agentId, name, status} to the company's \`${AGENT_ROOM}\` and
\`${PUBLIC_ROOM}\` members; visitors, and agents too (an extension of v1), get the whole list
once, as \`agent_list\`, right after \`connection_established\`.

- **First connection:** the agent becomes present with status \`online\` (announced). Further
  connections of the same agent change nothing.
- **Explicit choice:** \`agent_status\` {status} sets the status (announced when it changes) and
  is acked with the status. An explicit choice wins: if the agent sets a status during a call,
  the end of the call does not restore the earlier one. Choosing \`online\` also clears the
  missed-ring streak.
- **Busy on accept:** accepting a call sets the agent \`busy\` (announced) and remembers the
  status it had; when the call reaches a final state that status is restored (announced).
- **Missed rings:** when ${setting('MISSED_RINGS_BEFORE_AWAY')} calls aimed at an \`online\` agent
  ring out in a row, it is set \`away\` (announced), so visitors are not sent to someone who is
  not there. Accepting or declining a ring breaks the streak; 0 turns the rule off.
- **Offline:** when an agent's last connection is gone it becomes \`offline\` (announced) and
  leaves the agent list, unless a call still holds it: then it stays (busy) until the call ends,
  and goes offline at that point if it has not come back.

Only an agent whose status is \`online\`, and that no other call is ringing, can be rung
directly; any agent of the company may accept a queued call whatever its status.

**Coalescing.** Status announcements (and the queue's, below) are gathered per company over
${setting('PRESENCE_TICK_MS')} and sent once at its end, so they may arrive that much after the
change, and after the ack of the message that caused it. Within a tick each agent's latest
status wins: a change undone within the tick (\`busy\` and back to \`online\` for a short call) is
not announced, and an agent that connects and leaves within one tick is not announced at all.
Nothing final is lost: the latest status of every agent always goes out, and a visitor whose
\`agent_list\` was read during the tick is sent the latest status of every agent that changed
in it, even one the others need not hear of again.
`;

function lifecycleSection(): string {
  const states = CALL_STATES.map((state) => {
    const doc = CALL_STATE_DOCS[state];
    return `| ${code(state)} | ${doc.final ? 'yes' : 'no'} | ${cell(doc.meaning)} |`;
  });
  return `## Call lifecycle

Call types: ${list(CALL_TYPES)}. A visitor has at most one call that is not final.

1. **Request.** A visitor sends \`call_request\` {id, callType, agentId?, purpose?}. The ack
   carries \`callId\` and \`status\`:
   - without \`agentId\` the call is **queued** (ack \`position\`). Every member of
     \`${AGENT_ROOM}\` gets \`queue_updated\` with the queue
     ([bounded](#the-queue-as-agents-see-it)), oldest first, at the end of the tick in which it
     changed (see *Coalescing* above: changes within one tick make one update); a queued
     visitor gets \`queue_position\` when its position changes later (its latest position,
     once per tick). The ack, \`queue_position\` and \`call_waiting\` carry
     \`estimatedWaitSec\` (extension of v1) once the company has answered at least three
     queued calls in the last hour: the position times the median of those waits.
   - with \`agentId\` the call is **ringing** that agent only: each of its connections gets
     \`call_incoming\` with \`expiresAt\`. The agent must be present and \`online\`, else
     \`unavailable\`. An agent is rung by one call at a time: while another call rings it, a
     direct call to it is refused at once with \`busy\` (extension of v1) and rings no one;
     once that ring ends (answered, declined, timed out or cancelled) it can be rung again.
2. **Answer.** An agent sends \`call_accept\` {callId}. Exactly one accept wins; the others get
   \`conflict\`. An agent has at most one answered call. Both participants get \`call_started\`
   {callId, callType, peer}; the rung agent's other connections get
   \`call_answered_elsewhere\`; a queued call leaves the queue (\`queue_updated\`). The visitor is
   the caller and sends the \`webrtc_offer\`; the agent answers. Then both [relay](#relay).
3. **Final states.** Once final, a call is forgotten: its id gets \`not_found\` afterwards.

| How it ends | State | Who is told |
| --- | --- | --- |
| \`call_ended\` from either participant of an answered call | \`ended\` | both participants: \`call_ended\` {callId, reason (the sender's, default \`hangup\`), durationSec} |
| \`call_cancel\` (or the visitor's \`call_ended\`) before answer | \`abandoned\` | the visitor (and a ringing call's rung connections): \`call_ended\` with reason \`cancelled\`, durationSec 0 |
| \`call_decline\` by the rung agent | \`declined\` | the visitor and the rung agent's connections: \`call_declined\` |
| Ringing for ${setting('RING_TIMEOUT_MS')} | \`missed\` | the visitor and the rung agent's connections: \`call_missed\` with reason \`ring_timeout\` |
| Queued for ${setting('QUEUE_TIMEOUT_MS')} | \`missed\` | the visitor: \`call_missed\` with reason \`queue_timeout\` |
| A dropped participant did not return within the grace | \`ended\` (answered) or \`abandoned\` | the other participant, or the rung agent's connections: \`call_ended\` with reason \`disconnected\` |

\`durationSec\` is the time from answer to end, rounded to whole seconds (0 for calls never
answered). Whenever a
queued call leaves the queue, \`${AGENT_ROOM}\` gets the new \`queue_updated\`. When an answered
call ends, the agent's status from before the call comes back.

### The queue as agents see it

\`queue_updated\` carries the queue's oldest entries, at most ${setting('QUEUE_ANNOUNCE_MAX')},
oldest first, and \`total\`, the whole queue's length (both extensions of v1: before them it
carried the whole queue, which with a long queue of long purposes cost every agent tens of KB at
every change). While the queue holds at most that many calls, \`calls\` is the whole queue, as
before. An agent or admin reads further with \`queue_list\` {id, offset?, limit?}: its ack
carries \`calls\` (up to \`limit\`, at most ${QUEUE_PAGE_MAX}, from \`offset\` on, each with its
\`position\`) and \`total\`. A page is a snapshot: calls accepted or added since move the later
entries, so a client that shows several pages re-reads them, or just the first, on the next
\`queue_updated\`.

### Call states

| State | Final | Meaning |
| --- | --- | --- |
${states.join('\n')}
`;
}

const GRACE = `## Reconnect grace

A participant whose connection drops (closed, or terminated by the heartbeat) without ending
its call keeps the call for ${setting('CALL_RECONNECT_GRACE_MS')}:

- In an answered call the other participant gets \`peer_disconnected\` {callId}; its relayed
  messages get \`unavailable\` meanwhile. A queued or ringing call stays queued or ringing and
  may still be accepted (the agent then gets \`call_started\` and \`peer_disconnected\`).
- A connection with the same company and \`sub\` opened **after** the dropped one takes the
  call over: at once if it is already open when the drop is noticed (a client that reconnected
  before the server saw its old socket die), else when it opens within the grace. Connections
  opened before the dropped one never take it over. The new connection gets \`call_resumed\`
  {callId, callType, peer, role: \`caller\` | \`callee\`} for an answered call (right after its
  connect frames when it is new; the peer gets \`peer_reconnected\`; expect to renegotiate, for
  example an ICE restart), or \`call_waiting\` {callId, callType, status, position?} for a call
  still queued or ringing (extension of v1).
- When the grace runs out, an answered call ends with reason \`disconnected\` (state \`ended\`);
  a queued or ringing call whose visitor left is \`abandoned\` with reason \`disconnected\`.
`;

const RELAY = `## Relay

${list(RELAY_TYPES)} are forwarded between the two participants of an **answered** call and to
no one else. Each side of a call is bound to one connection: the one that requested or accepted
it, or took it over after a drop; the user's other connections cannot relay for it. The server
checks, in this order, and on the first failure delivers nothing and answers with:

| Code | When |
| --- | --- |
| \`not_found\` | the sending connection carries no such call: not a participant, another company's call, an unknown or finished call, or another connection of the participant |
| \`conflict\` | the call is not answered yet (the visitor is still queued or ringing) |
| \`forbidden\` | \`targetUserId\` is present and does not name the other participant |
| \`unavailable\` | the other participant is disconnected (within the [reconnect grace](#reconnect-grace)) |

The receiver gets the same \`type\` with the schema's fields and \`fromUserId\` (the sender's
user id, stamped by the server); \`id\` and \`targetUserId\` are not forwarded. A relayed message
with an \`id\` is acked once it has been handed to the peer's socket. The server does not read
SDP bodies or candidates beyond their size limits, and never logs them.
`;

const LIMITS = `## Limits

- **Frame size:** a frame over ${setting('MAX_MESSAGE_BYTES')} closes the connection with \`1009\`.
  Field limits (SDP, candidates, chat text, purpose, reason) are in the schemas below.
- **Rate:** each connection has a token bucket refilled at ${setting('RATE_LIMIT_MSGS_PER_SEC')}
  messages a second, holding at most ${setting('RATE_LIMIT_BURST')}. Every frame takes a token,
  valid or not. A frame that finds the bucket empty is dropped and answered with \`rate_limited\`
  (carrying its \`id\` when the frame is at most 4 KiB and the \`id\` is readable). A connection that has more messages dropped within one
  second than \`RATE_LIMIT_MSGS_PER_SEC\` is closed with \`4008\` (\`${PolicyReason.Flooding}\`).
- **Slow consumer:** when a send finds more than ${setting('SEND_HIGH_WATER_BYTES')} waiting in
  the connection's send buffer, the connection is closed with \`4008\` (\`${PolicyReason.SlowConsumer}\`)
  and destroyed one second later, so a client that stops reading cannot grow the server's
  memory.
- **Connections:** at most ${setting('MAX_CONNECTIONS_PER_USER')} per company and \`sub\`; one more
  is closed with \`4008\` (\`${PolicyReason.TooManyConnections}\`) before \`connection_established\`.
- **Visitors per address:** at most ${setting('MAX_VISITOR_CONNECTIONS_PER_ADDRESS')} live visitor
  connections per client address on one server node (an IPv6 address counts by its /64; behind a
  reverse proxy trusted by \`TRUST_PROXY\`, the address \`X-Forwarded-For\` names). One more is
  closed the same way. Agents and admins are not counted.
- **Call requests:** at most ${setting('CALL_REQUESTS_PER_VISITOR_PER_MIN')} \`call_request\`s per
  visitor and ${setting('CALL_REQUESTS_PER_ADDRESS_PER_MIN')} per client address in each minute,
  whatever their outcome; one more is answered \`rate_limited\` and nothing is queued or rung.
- **Queue:** a company's queue holds at most ${setting('MAX_QUEUED_CALLS_PER_COMPANY')} calls; a
  \`call_request\` for any agent past it is answered \`queue_full\`.
- **Rooms:** at most ${MAX_ROOMS_PER_CONNECTION} per connection (\`forbidden\`).
- **Token:** at most ${MAX_TOKEN_LENGTH} characters.
`;

const HEARTBEAT = `## Heartbeat

The server sends a WebSocket ping every ${setting('HEARTBEAT_INTERVAL_MS')} (also given to the
client as \`connection_established.heartbeatIntervalMs\`). A connection that has not answered
with a pong by the next sweep is terminated without a close frame, and cleaned up like any
other close: its rooms are left, its calls enter the [reconnect grace](#reconnect-grace), and an
agent with no connection left goes offline. Browsers and \`ws\` answer pings by themselves.

Browsers cannot see ping frames, so a client that wants to notice a dead connection itself
sends \`ping\` {} (for example every \`heartbeatIntervalMs\`) and reconnects when no \`pong\`
{ts} comes back in time. Application \`ping\` does not replace answering WebSocket pings.

On shutdown the server closes every connection with \`1001\` (\`server shutting down\`):
reconnect with backoff.
`;

function settingsSection(): string {
  const rows = SETTINGS.map(
    ([env, key, unit, meaning]) =>
      `| ${code(env)} | ${humanise(defaults[key] as number, unit)} | ${cell(meaning)} |`,
  );
  return `## Settings

Server settings that shape what a client sees, with their defaults.

| Variable | Default | Meaning |
| --- | --- | --- |
${rows.join('\n')}
`;
}

// ---------------------------------------------------------------------------------------------
// Message sections
// ---------------------------------------------------------------------------------------------

/** The first sentence of a description, for the index tables. */
const summary = (text: string) => text.match(/^.*?[.!?](?=\s|$)/)?.[0] ?? text;

function messageDescription(side: 'client' | 'server', type: string, schema: Schema): string {
  if (schema.description !== undefined) return schema.description;
  if (side === 'server' && (RELAY_TYPES as readonly string[]).includes(type)) {
    return `The other participant's \`${type}\`, relayed; \`fromUserId\` names the sender.`;
  }
  throw new Error(`gen-protocol-doc: ${side} message ${type} has no description`);
}

/**
 * GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens; repeats get
 * `-1`, `-2`. Server messages that share a client message's name are the repeats.
 */
function anchor(side: 'client' | 'server', type: string): string {
  return side === 'server' && type in ClientMessages ? `${type}-1` : type;
}

function clientSection(type: ClientMessageType): string {
  const schema = asSchema(ClientMessages[type]);
  const parts = [`### ${code(type)}`, messageDescription('client', type, schema)];
  const extension = EXTENSIONS[`client:${type}`];
  if (extension !== undefined) parts.push(`> ${extension}`);
  parts.push(fieldTable(schema, `client:${type}`));
  const result = (AckResults as Record<string, TSchema>)[type];
  parts.push(
    result === undefined
      ? '**Ack result:** no fields besides `type` and `id`.'
      : `**Ack result:**\n\n${fieldTable(asSchema(result), `ack:${type}`)}`,
  );
  const notes = CLIENT_NOTES[type];
  parts.push(`**Who:** ${notes.who}`, `**Errors:** ${notes.errors}`);
  return parts.join('\n\n');
}

function serverSection(type: ServerMessageType): string {
  const schema = asSchema(ServerMessages[type]);
  const parts = [`### ${code(type)}`, messageDescription('server', type, schema)];
  const extension = EXTENSIONS[`server:${type}`];
  if (extension !== undefined) parts.push(`> ${extension}`);
  parts.push(fieldTable(schema, `server:${type}`));
  if (schema.additionalProperties === true) {
    parts.push('Plus the result fields of the message it answers (see each client message).');
  }
  return parts.join('\n\n');
}

function messagesSection(side: 'client' | 'server'): string {
  const messages: Record<string, TSchema> = side === 'client' ? ClientMessages : ServerMessages;
  const index = Object.entries(messages).map(([type, schema]) => {
    const text = summary(messageDescription(side, type, asSchema(schema)));
    const extension = EXTENSIONS[`${side}:${type}`] !== undefined ? 'yes' : '';
    return `| [${code(type)}](#${anchor(side, type)}) | ${cell(text)} | ${extension} |`;
  });
  const sections =
    side === 'client'
      ? (Object.keys(ClientMessages) as ClientMessageType[]).map(clientSection)
      : (Object.keys(ServerMessages) as ServerMessageType[]).map(serverSection);
  const title = side === 'client' ? 'Client messages' : 'Server messages';
  const lead =
    side === 'client'
      ? 'Frames a client may send. Any of them may carry `id` (required on `call_request` and `queue_list`); any may be refused with `bad_request` or `rate_limited`.'
      : 'Frames the server sends.';
  return [
    `## ${title}`,
    lead,
    '| Message | Summary | v1 extension |\n| --- | --- | --- |\n' + index.join('\n'),
    ...sections,
  ]
    .join('\n\n')
    .concat('\n');
}

// ---------------------------------------------------------------------------------------------
// Assembly and self-check
// ---------------------------------------------------------------------------------------------

function githubSlug(heading: string): string {
  return heading
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

/** Throws when a `](#anchor)` link points at no heading, so the index cannot rot. */
function checkAnchors(markdown: string): void {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  for (const line of markdown.split('\n')) {
    const match = /^#{1,6} (.*)$/.exec(line);
    if (match === null) continue;
    const base = githubSlug(match[1]!);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  for (const [, target] of markdown.matchAll(/\]\(#([^)]+)\)/g)) {
    if (!anchors.has(target!)) throw new Error(`gen-protocol-doc: broken link #${target}`);
  }
}

/** Renders docs/PROTOCOL.md from the schemas and constants. Pure and deterministic. */
export function generateProtocolDoc(): string {
  usedNotes.clear();
  const doc = [
    INTRO,
    CONNECTION,
    ENVELOPE,
    errorCodesSection(),
    closeCodesSection(),
    ROOMS,
    AGENT_STATUS,
    lifecycleSection(),
    GRACE,
    RELAY,
    LIMITS,
    HEARTBEAT,
    settingsSection(),
    messagesSection('client'),
    messagesSection('server'),
  ].join('\n');
  checkAnchors(doc);
  for (const [key, notes] of Object.entries(FIELD_NOTES)) {
    for (const field of Object.keys(notes)) {
      if (!usedNotes.has(`${key} ${field}`)) {
        throw new Error(
          `gen-protocol-doc: FIELD_NOTES names a field that is gone: ${key} ${field}`,
        );
      }
    }
  }
  return doc;
}

/** The line number (1-based) where two texts first differ. */
function firstDifference(a: string, b: string): number {
  const left = a.split('\n');
  const right = b.split('\n');
  let i = 0;
  while (i < left.length && i < right.length && left[i] === right[i]) i++;
  return i + 1;
}

/**
 * The command line: `[--check] [path]`. Returns the exit code: 0 written or up to date, 1 out
 * of date (with `--check`), 2 bad usage.
 */
export function main(argv: readonly string[]): number {
  const flags = argv.filter((a) => a.startsWith('-'));
  const paths = argv.filter((a) => !a.startsWith('-'));
  if (flags.some((f) => f !== '--check') || paths.length > 1) {
    console.error('usage: gen-protocol-doc [--check] [path]');
    return 2;
  }
  const target = resolve(paths[0] ?? PROTOCOL_DOC_PATH);
  const fromCwd = relative(process.cwd(), target);
  const shown = fromCwd === '' || fromCwd.startsWith('..') ? target : fromCwd;
  const expected = generateProtocolDoc();
  if (flags.includes('--check')) {
    let actual = '';
    try {
      actual = readFileSync(target, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    if (actual !== expected) {
      console.error(
        `${shown} is out of date with client-lib/protocol.ts (first difference at line ` +
          `${firstDifference(actual, expected)}); run \`npm run docs:protocol\` and commit it.`,
      );
      return 1;
    }
    console.log(`${shown} is up to date.`);
    return 0;
  }
  writeFileSync(target, expected);
  console.log(`wrote ${shown}`);
  return 0;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = main(process.argv.slice(2));
}
