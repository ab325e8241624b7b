/**
 * `GET /api/health`: whether the web host can serve the API, for load balancers and the start
 * scripts. The database is probed with a trivial query and, in cluster mode, Redis with a
 * `PING`; when either does not answer, the host is `degraded` and answers 503 so a balancer
 * stops sending it traffic (without Redis, login and visitor tokens answer 503 anyway: their
 * rate limits live there).
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { Redis } from 'ioredis';
import { sql } from 'kysely';
import type { Database } from '../../db/database.js';

/** What a probe of one dependency found. */
const probe = (description: string) =>
  Type.Union([Type.Literal('ok'), Type.Literal('unavailable')], { description });

/** Body of `GET /api/health`, healthy (200) or not (503). */
export const HealthBody = Type.Object(
  {
    status: Type.Union([Type.Literal('ok'), Type.Literal('degraded')]),
    database: probe('The database answered a trivial query'),
    redis: Type.Optional(probe('Redis answered PING; present in cluster mode (REDIS_URL) only')),
  },
  { additionalProperties: false, description: 'Health of the host, its database and Redis' },
);

/** Options of {@link healthRoutes}. */
export interface HealthRoutesOptions {
  readonly database: Database;
  /** Cluster mode: the Redis the rate limits are counted in, probed too. */
  readonly redis?: Redis | undefined;
}

/** Registers `GET /api/health`. */
export const healthRoutes: FastifyPluginAsyncTypebox<HealthRoutesOptions> = async (app, opts) => {
  const { redis } = opts;
  app.get(
    '/api/health',
    {
      schema: {
        tags: ['meta'],
        summary: 'Liveness of the web host, its database and (in cluster mode) Redis',
        response: { 200: HealthBody, 503: HealthBody },
      },
    },
    async (request, reply) => {
      const [database, redisState] = await Promise.all([
        sql`select 1`.execute(opts.database.db).then(
          () => 'ok' as const,
          (err: unknown) => {
            request.log.warn({ err }, 'database health check failed');
            return 'unavailable' as const;
          },
        ),
        redis?.ping().then(
          () => 'ok' as const,
          (err: unknown) => {
            request.log.warn({ err }, 'redis health check failed');
            return 'unavailable' as const;
          },
        ),
      ]);
      const healthy = database === 'ok' && redisState !== 'unavailable';
      return reply.code(healthy ? 200 : 503).send({
        status: healthy ? 'ok' : 'degraded',
        database,
        ...(redisState !== undefined && { redis: redisState }),
      });
    },
  );
};
