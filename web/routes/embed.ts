/**
 * `GET /api/embed/:companyId?origin=<origin>`: what the embeddable call button asks before it
 * shows itself on a company's site. Public and readable from any site: it reveals only the
 * company's display name and whether the asking origin may embed it, never the list itself.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { getCompany } from '../../db/companies.js';
import { companySettings, isOriginAllowed } from '../../db/company-settings.js';
import type { Database } from '../../db/database.js';
import { MAX_ORIGIN_LENGTH, OPAQUE_ORIGIN, parseOrigin } from '../../common/origin.js';
import {
  BadRequestError,
  CompanyDisabledError,
  ErrorBody,
  ResourceNotFoundError,
} from '../errors.js';

/** Answer of `GET /api/embed/:companyId`. */
export const EmbedReply = Type.Object(
  {
    companyId: Type.String(),
    name: Type.String({ description: "The company's display name" }),
    allowed: Type.Boolean({
      description: 'True when the company lists no origins (any site) or lists this one',
    }),
  },
  { additionalProperties: false, description: 'Whether the origin may embed the company' },
);

const EmbedParams = Type.Object(
  { companyId: Type.String({ minLength: 1, maxLength: 64 }) },
  { additionalProperties: false },
);

const EmbedQuery = Type.Object(
  {
    origin: Type.String({
      minLength: 1,
      maxLength: MAX_ORIGIN_LENGTH,
      description:
        'The embedding page\'s origin (`location.origin`), e.g. "https://shop.example.com"',
    }),
  },
  { additionalProperties: false },
);

/** Options of {@link embedRoutes}. */
export interface EmbedRoutesOptions {
  readonly database: Database;
}

/** Registers `GET /api/embed/:companyId`. */
export const embedRoutes: FastifyPluginAsyncTypebox<EmbedRoutesOptions> = async (app, opts) => {
  const { db } = opts.database;
  app.get(
    '/api/embed/:companyId',
    {
      schema: {
        tags: ['embed'],
        summary: 'May this origin embed the company?',
        params: EmbedParams,
        querystring: EmbedQuery,
        response: { 200: EmbedReply, 400: ErrorBody, 403: ErrorBody, 404: ErrorBody },
      },
      // On every answer, errors included: a button on any site must be able to read why it
      // may not show, and no cache may keep an answer past an administrator's change.
      onRequest: async (_request, reply) => {
        void reply.headers({ 'access-control-allow-origin': '*', 'cache-control': 'no-store' });
      },
    },
    async (request) => {
      const raw = request.query.origin;
      let origin: string | undefined;
      // An opaque origin (a sandboxed frame) is allowed wherever any site is.
      if (raw !== OPAQUE_ORIGIN) {
        const parsed = parseOrigin(raw);
        if (!parsed.ok) throw new BadRequestError(`origin: ${parsed.reason}`);
        origin = parsed.origin;
      }
      const company = await getCompany(db, request.params.companyId);
      if (company === undefined) throw new ResourceNotFoundError('no such company');
      if (company.disabled !== 0) throw new CompanyDisabledError();
      const settings = companySettings(company, request.log);
      return {
        companyId: company.id,
        name: company.name,
        allowed: isOriginAllowed(settings, origin),
      };
    },
  );
};
