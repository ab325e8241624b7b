/** `GET /api/health`: liveness of the web host, for load balancers and the start scripts. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';

/** Body of a healthy answer. */
export const HealthBody = Type.Object(
  { status: Type.Literal('ok') },
  { additionalProperties: false },
);

/** Registers `GET /api/health`. */
export const healthRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/api/health', { schema: { response: { 200: HealthBody } } }, async () => ({
    status: 'ok' as const,
  }));
};
