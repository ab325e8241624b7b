/**
 * The call log over HTTP: `GET /api/calls` (a page of calls, newest first) and
 * `GET /api/calls/stats` (the figures supervisors manage by). Agents and admins only; the
 * company always comes from the token, and an agent sees only its own calls.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type, type Static } from '@sinclair/typebox';
import { CallState, CallType } from '../../client-lib/protocol.js';
import type { AccessGuard } from '../../auth/access.js';
import type { JwtConfig } from '../../config/config.js';
import { callStats, listCalls, type CallFilter, type Viewer } from '../../db/calls.js';
import type { Database } from '../../db/database.js';
import type { CallRow } from '../../db/schema.js';
import { authenticateStaff, type StaffPrincipal } from '../bearer.js';
import { BadRequestError, ErrorBody, ForbiddenError } from '../errors.js';
import '../formats.js';

/** Page size of `GET /api/calls` when `limit` is not given. */
export const DEFAULT_PAGE_SIZE = 50;
/** Largest page `GET /api/calls` serves. */
export const MAX_PAGE_SIZE = 200;
/** The window `GET /api/calls/stats` covers when `from` is not given: the last 24 hours. */
export const DEFAULT_STATS_WINDOW_MS = 24 * 3_600_000;

const DateTime = (description: string) => Type.String({ format: 'date-time', description });
const Nullable = <T extends ReturnType<typeof Type.String>>(schema: T) =>
  Type.Union([schema, Type.Null()]);
const AgentId = Type.String({
  minLength: 1,
  maxLength: 128,
  description: 'Calls this agent answered or that rang it directly',
});
const From = DateTime('Calls created at or after this instant (ISO 8601 date-time)');
const To = DateTime('Calls created before this instant (ISO 8601 date-time)');

/** Query of `GET /api/calls`. */
export const CallsQuery = Type.Object(
  {
    state: Type.Optional(CallState),
    agentId: Type.Optional(AgentId),
    from: Type.Optional(From),
    to: Type.Optional(To),
    limit: Type.Optional(
      Type.Integer({ minimum: 1, maximum: MAX_PAGE_SIZE, default: DEFAULT_PAGE_SIZE }),
    ),
    cursor: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 64,
        description: '`nextCursor` of the previous page',
      }),
    ),
  },
  { additionalProperties: false },
);

const Party = Type.Object(
  { id: Type.String(), name: Type.String() },
  { additionalProperties: false },
);
const Instant = Nullable(Type.String({ format: 'date-time' }));

/** One call of the log. */
export const CallBody = Type.Object(
  {
    id: Type.String({ description: 'UUIDv7, the call id of the signaling protocol' }),
    visitor: Party,
    agent: Type.Union([Party, Type.Null()], { description: 'Who answered, if anyone' }),
    targetAgentId: Nullable(Type.String({ description: 'The agent a direct call rang' })),
    callType: CallType,
    purpose: Nullable(Type.String()),
    state: CallState,
    endReason: Nullable(Type.String()),
    createdAt: Type.String({ format: 'date-time' }),
    queuedAt: Instant,
    ringingAt: Instant,
    answeredAt: Instant,
    endedAt: Instant,
    durationSec: Type.Union([Type.Integer(), Type.Null()], {
      description: 'Seconds from answer to end; null until an answered call ends',
    }),
    rating: Type.Union([Type.Integer({ minimum: 1, maximum: 5 }), Type.Null()], {
      description: "The visitor's stars, 1 to 5; null until rated",
    }),
    ratingComment: Nullable(Type.String({ description: "The visitor's comment with its rating" })),
  },
  { additionalProperties: false },
);
/** @see CallBody */
export type CallBody = Static<typeof CallBody>;

/** Answer of `GET /api/calls`. */
export const CallsReply = Type.Object(
  {
    calls: Type.Array(CallBody),
    nextCursor: Nullable(Type.String({ description: 'Pass as `cursor` for the next page' })),
  },
  { additionalProperties: false, description: 'A page of calls, newest first' },
);

/** Query of `GET /api/calls/stats`. */
export const StatsQuery = Type.Object(
  { from: Type.Optional(From), to: Type.Optional(To), agentId: Type.Optional(AgentId) },
  { additionalProperties: false },
);

const Ratio = Type.Number({ minimum: 0, maximum: 1 });
/** Answer of `GET /api/calls/stats`; definitions in docs/API.md. */
export const StatsReply = Type.Object(
  {
    from: Type.String({ format: 'date-time' }),
    to: Type.String({ format: 'date-time' }),
    serviceLevelThresholdSec: Type.Integer(),
    offered: Type.Integer(),
    answered: Type.Integer(),
    missed: Type.Integer(),
    declined: Type.Integer(),
    abandoned: Type.Integer(),
    failed: Type.Integer(),
    serviceLevel: Ratio,
    averageSpeedOfAnswerSec: Type.Number(),
    abandonmentRate: Ratio,
    averageHandleTimeSec: Type.Number(),
    averageRating: Type.Number({
      minimum: 0,
      maximum: 5,
      description: 'Mean stars of the rated calls, to 2 decimals; 0 when none was rated',
    }),
    rated: Type.Integer({ description: 'Calls with a rating' }),
  },
  { additionalProperties: false, description: 'Call statistics over [from, to)' },
);

/** Options of {@link callRoutes}. */
export interface CallRoutesOptions {
  readonly database: Database;
  readonly jwt: JwtConfig;
  /** Refuses revoked tokens (see `auth/access.ts`). */
  readonly access: AccessGuard;
  readonly serviceLevelS: number;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** A log row as the API shows it. */
export function callBodyOf(row: CallRow): CallBody {
  return {
    id: row.id,
    visitor: { id: row.visitor_id, name: row.visitor_name },
    agent: row.agent_id === null ? null : { id: row.agent_id, name: row.agent_name ?? '' },
    targetAgentId: row.target_agent_id,
    callType: row.call_type,
    purpose: row.purpose,
    state: row.state as CallBody['state'],
    endReason: row.end_reason,
    createdAt: new Date(row.created_at).toISOString(),
    queuedAt: iso(row.queued_at),
    ringingAt: iso(row.ringing_at),
    answeredAt: iso(row.answered_at),
    endedAt: iso(row.ended_at),
    durationSec: row.duration_sec,
    rating: row.rating,
    ratingComment: row.rating_comment,
  };
}

/**
 * Who asks, for the call-log queries.
 * @throws ForbiddenError when an agent asks for another agent's calls.
 */
export function viewerOf(principal: StaffPrincipal, agentId: string | undefined): Viewer {
  // Another agent's calls are an admin's business; asking for one's own is fine.
  if (agentId !== undefined && principal.role !== 'admin' && agentId !== principal.userId) {
    throw new ForbiddenError('an agent may only see its own calls');
  }
  return { companyId: principal.companyId, userId: principal.userId, role: principal.role };
}

/**
 * The `from` and `to` query values in ms.
 * @throws BadRequestError when `from` is after `to`.
 */
export function range(from: string | undefined, to: string | undefined) {
  const range = {
    from: from === undefined ? undefined : Date.parse(from),
    to: to === undefined ? undefined : Date.parse(to),
  };
  if (range.from !== undefined && range.to !== undefined && range.from > range.to) {
    throw new BadRequestError('from is after to');
  }
  return range;
}

const SECURED = [{ bearerAuth: [] }];
const ERRORS = { 400: ErrorBody, 401: ErrorBody, 403: ErrorBody };

/** Registers `GET /api/calls` and `GET /api/calls/stats`. */
export const callRoutes: FastifyPluginAsyncTypebox<CallRoutesOptions> = async (app, opts) => {
  const { db } = opts.database;

  app.get(
    '/api/calls',
    {
      schema: {
        tags: ['calls'],
        summary: 'A page of the call log, newest first',
        security: SECURED,
        querystring: CallsQuery,
        response: { 200: CallsReply, ...ERRORS },
      },
    },
    async (request) => {
      const principal = await authenticateStaff(request, opts.jwt, opts.access);
      const { state, agentId, cursor } = request.query;
      const viewer = viewerOf(principal, agentId);
      const filter: CallFilter = { state, agentId, ...range(request.query.from, request.query.to) };
      const limit = request.query.limit ?? DEFAULT_PAGE_SIZE;
      const page = await listCalls(db, viewer, filter, { limit, cursor });
      return { calls: page.calls.map(callBodyOf), nextCursor: page.nextCursor };
    },
  );

  app.get(
    '/api/calls/stats',
    {
      schema: {
        tags: ['calls'],
        summary: 'Service level, speed of answer, abandonment and handle time over a period',
        security: SECURED,
        querystring: StatsQuery,
        response: { 200: StatsReply, ...ERRORS },
      },
    },
    async (request) => {
      const principal = await authenticateStaff(request, opts.jwt, opts.access);
      const viewer = viewerOf(principal, request.query.agentId);
      const given = range(request.query.from, request.query.to);
      const to = given.to ?? Math.max(Date.now(), given.from ?? 0);
      const from = given.from ?? to - DEFAULT_STATS_WINDOW_MS;
      const stats = await callStats(
        db,
        viewer,
        { agentId: request.query.agentId, from, to },
        opts.serviceLevelS,
      );
      return {
        from: new Date(from).toISOString(),
        to: new Date(to).toISOString(),
        serviceLevelThresholdSec: opts.serviceLevelS,
        ...stats,
      };
    },
  );
};
