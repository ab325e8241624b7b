/**
 * `GET /api/health`: whether the web host can serve the API, for load balancers and the start
 * scripts. The database is probed with a trivial query; when it does not answer, the host is
 * `degraded` and answers 503 so a balancer stops sending it traffic.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { sql } from 'kysely';
import type { Database } from '../../db/database.js';

/** Body of `GET /api/health`, healthy (200) or not (503). */
export const HealthBody = Type.Object(
  {
    status: Type.Union([Type.Literal('ok'), Type.Literal('degraded')]),
    database: Type.Union([Type.Literal('ok'), Type.Literal('unavailable')]),
  },
  { additionalProperties: false, description: 'Health of the host and its database' },
);

/** Options of {@link healthRoutes}. */
export interface HealthRoutesOptions {
  readonly database: Database;
}

/** Registers `GET /api/health`. */
export const healthRoutes: FastifyPluginAsyncTypebox<HealthRoutesOptions> = async (app, opts) => {
  app.get(
    '/api/health',
    {
      schema: {
        tags: ['meta'],
        summary: 'Liveness of the web host and its database',
        response: { 200: HealthBody, 503: HealthBody },
      },
    },
    async (request, reply) => {
      try {
        await sql`select 1`.execute(opts.database.db);
        return { status: 'ok' as const, database: 'ok' as const };
      } catch (err) {
        request.log.warn({ err }, 'database health check failed');
        return reply.code(503).send({ status: 'degraded', database: 'unavailable' });
      }
    },
  );
};
