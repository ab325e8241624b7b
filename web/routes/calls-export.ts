/**
 * `GET /api/calls/export.csv`: the call log as a CSV download, with the filters and the
 * visibility of `GET /api/calls` (an agent gets its own calls, an admin its company's), newest
 * first, at most {@link MAX_EXPORT_ROWS} rows.
 *
 * Rows are read in pages by keyset (the call id), each page a short query, and streamed as
 * they come: a large export neither holds the database connection nor the whole file in memory.
 */
import { Readable } from 'node:stream';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { CallState } from '../../client-lib/protocol.js';
import type { AccessGuard } from '../../auth/access.js';
import type { JwtConfig } from '../../config/config.js';
import { listCalls, type CallFilter, type Viewer } from '../../db/calls.js';
import type { Database } from '../../db/database.js';
import type { CallRow } from '../../db/schema.js';
import { authenticateStaff } from '../bearer.js';
import { csvRecord, type CsvValue } from '../csv.js';
import { ErrorBody } from '../errors.js';
import { CallsQuery, range, viewerOf } from './calls.js';
import '../formats.js';

/** Most rows one export holds (the newest); narrow `from`/`to` for older ones. */
export const MAX_EXPORT_ROWS = 50_000;
/** Rows read per query. */
const EXPORT_PAGE_ROWS = 1000;

/** The columns, in order, as the header row names them. */
export const EXPORT_COLUMNS = [
  'id',
  'createdAt',
  'state',
  'endReason',
  'callType',
  'visitorName',
  'purpose',
  'agentName',
  'answeredAt',
  'endedAt',
  'durationSec',
  'rating',
  'ratingComment',
] as const;

/** Query of the export: the filters of `GET /api/calls`, without paging. */
export const ExportQuery = Type.Object(
  {
    state: Type.Optional(CallState),
    agentId: Type.Optional(CallsQuery.properties.agentId),
    from: Type.Optional(CallsQuery.properties.from),
    to: Type.Optional(CallsQuery.properties.to),
  },
  { additionalProperties: false },
);

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

function recordOf(row: CallRow): string {
  const cells: Record<(typeof EXPORT_COLUMNS)[number], CsvValue> = {
    id: row.id,
    createdAt: iso(row.created_at),
    state: row.state,
    endReason: row.end_reason,
    callType: row.call_type,
    visitorName: row.visitor_name,
    purpose: row.purpose,
    agentName: row.agent_name,
    answeredAt: iso(row.answered_at),
    endedAt: iso(row.ended_at),
    durationSec: row.duration_sec,
    rating: row.rating,
    ratingComment: row.rating_comment,
  };
  return csvRecord(EXPORT_COLUMNS.map((column) => cells[column]));
}

/** The CSV text of the matching calls, newest first, in chunks of a page each. */
async function* exportRecords(database: Database, viewer: Viewer, filter: CallFilter) {
  yield csvRecord(EXPORT_COLUMNS);
  let cursor: string | undefined;
  let left = MAX_EXPORT_ROWS;
  while (left > 0) {
    const limit = Math.min(EXPORT_PAGE_ROWS, left);
    const page = await listCalls(database.db, viewer, filter, { limit, cursor });
    if (page.calls.length > 0) yield page.calls.map(recordOf).join('');
    left -= page.calls.length;
    if (page.nextCursor === null) return;
    cursor = page.nextCursor;
  }
}

/** Options of {@link callExportRoutes}. */
export interface CallExportRoutesOptions {
  readonly database: Database;
  readonly jwt: JwtConfig;
  /** Refuses revoked tokens (see `auth/access.ts`). */
  readonly access: AccessGuard;
}

/** Registers `GET /api/calls/export.csv`. */
export const callExportRoutes: FastifyPluginAsyncTypebox<CallExportRoutesOptions> = async (
  app,
  opts,
) => {
  app.get(
    '/api/calls/export.csv',
    {
      schema: {
        tags: ['calls'],
        summary: `The call log as CSV (RFC 4180), newest first, at most ${MAX_EXPORT_ROWS} rows`,
        security: [{ bearerAuth: [] }],
        querystring: ExportQuery,
        response: {
          // A stream, described per content type for the OpenAPI document.
          200: Type.Unsafe<Readable>({
            description: `CSV with a header row: ${EXPORT_COLUMNS.join(', ')}`,
            content: { 'text/csv': { schema: { type: 'string' } } },
          }),
          400: ErrorBody,
          401: ErrorBody,
          403: ErrorBody,
        },
      },
    },
    async (request, reply) => {
      const principal = await authenticateStaff(request, opts.jwt, opts.access);
      const { state, agentId } = request.query;
      const viewer = viewerOf(principal, agentId);
      const filter: CallFilter = { state, agentId, ...range(request.query.from, request.query.to) };
      const day = new Date().toISOString().slice(0, 10);
      return reply
        .header('content-type', 'text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="calls-${day}.csv"`)
        .header('cache-control', 'no-store')
        .send(Readable.from(exportRecords(opts.database, viewer, filter)));
    },
  );
};
