/**
 * `POST /api/calls/:callId/rating`: a visitor rates a call of its own, once, after it was
 * answered and ended, within 24 hours. The company and visitor come from the token; another
 * visitor's or company's call answers as if it did not exist.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { AccessGuard } from '../../auth/access.js';
import type { JwtConfig } from '../../config/config.js';
import type { Database } from '../../db/database.js';
import { rateCall, type RatingRefusal } from '../../db/ratings.js';
import { normaliseComment } from '../../common/text.js';
import { authenticateVisitor } from '../bearer.js';
import {
  AlreadyRatedError,
  CallNotEndedError,
  CallNotRateableError,
  ErrorBody,
  RatingWindowClosedError,
  ResourceNotFoundError,
} from '../errors.js';
import '../formats.js';

/** Longest rating comment, in characters (before trimming). */
export const MAX_RATING_COMMENT_CHARS = 1000;

/** Path parameters of the rating route. */
export const RatingParams = Type.Object(
  { callId: Type.String({ minLength: 1, maxLength: 64, description: 'The call id' }) },
  { additionalProperties: false },
);

/** Body of `POST /api/calls/:callId/rating`. */
export const RatingBody = Type.Object(
  {
    stars: Type.Integer({ minimum: 1, maximum: 5, description: '1 (poor) to 5 (excellent)' }),
    comment: Type.Optional(
      Type.String({
        maxLength: MAX_RATING_COMMENT_CHARS,
        description:
          'Normalised as visitor names are (invisible and bidi-control characters removed, whitespace made single spaces, trimmed); empty or blank means no comment',
      }),
    ),
  },
  { additionalProperties: false },
);

/** Answer of `POST /api/calls/:callId/rating`. */
export const RatingReply = Type.Object(
  {
    callId: Type.String(),
    stars: Type.Integer({ minimum: 1, maximum: 5 }),
    comment: Type.Union([Type.String(), Type.Null()]),
    ratedAt: Type.String({ format: 'date-time' }),
  },
  { additionalProperties: false, description: 'The stored rating' },
);

/** Options of {@link ratingRoutes}. */
export interface RatingRoutesOptions {
  readonly database: Database;
  readonly jwt: JwtConfig;
  /** Refuses revoked tokens (see `auth/access.ts`). */
  readonly access: AccessGuard;
  /** The clock, ms since the epoch; defaults to `Date.now`. */
  readonly now?: () => number;
}

function refusal(reason: RatingRefusal): Error {
  switch (reason) {
    case 'not_found':
      return new ResourceNotFoundError('no such call');
    case 'not_ended':
      return new CallNotEndedError();
    case 'not_rateable':
      return new CallNotRateableError();
    case 'already_rated':
      return new AlreadyRatedError();
    case 'window_closed':
      return new RatingWindowClosedError();
    default: {
      const unreachable: never = reason;
      throw new Error(`unknown refusal ${String(unreachable)}`);
    }
  }
}

/** Registers `POST /api/calls/:callId/rating`. */
export const ratingRoutes: FastifyPluginAsyncTypebox<RatingRoutesOptions> = async (app, opts) => {
  const { db } = opts.database;
  const now = opts.now ?? Date.now;

  app.post(
    '/api/calls/:callId/rating',
    {
      schema: {
        tags: ['calls'],
        summary: 'A visitor rates its answered call, once, within 24 hours of its end',
        security: [{ bearerAuth: [] }],
        params: RatingParams,
        body: RatingBody,
        response: {
          201: RatingReply,
          400: ErrorBody,
          401: ErrorBody,
          403: ErrorBody,
          404: ErrorBody,
          409: ErrorBody,
        },
      },
    },
    async (request, reply) => {
      const principal = await authenticateVisitor(request, opts.jwt, opts.access);
      const { callId } = request.params;
      const { stars } = request.body;
      const comment = normaliseComment(request.body.comment, MAX_RATING_COMMENT_CHARS);
      const result = await rateCall(db, {
        callId,
        companyId: principal.companyId,
        visitorId: principal.userId,
        stars,
        comment,
        now: now(),
      });
      if (!result.ok) throw refusal(result.reason);
      return reply
        .code(201)
        .send({ callId, stars, comment, ratedAt: new Date(result.ratedAt).toISOString() });
    },
  );
};
