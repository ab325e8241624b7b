/**
 * The token routes: `POST /api/auth/login` (agents and admins), `POST /api/visitor-token`
 * (anonymous website visitors) and `POST /api/token/refresh`. Every token they issue is one the
 * signaling server accepts.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { AccessVerdict, type AccessGuard } from '../../auth/access.js';
import type { JwtConfig, WebConfig } from '../../config/config.js';
import { activeCompany, findAgent, getAgent, getCompany } from '../../db/companies.js';
import { companySettings, isOriginAllowed } from '../../db/company-settings.js';
import type { Database } from '../../db/database.js';
import { dummyHash, verifyPassword } from '../../db/passwords.js';
import { addressKey } from '../../common/client-address.js';
import { normaliseName } from '../../common/text.js';
import { revokedError, verifyBearer } from '../bearer.js';
import { allowRequestOrigin, answerPreflight, requestOrigin } from '../cors.js';
import {
  CompanyDisabledError,
  ErrorBody,
  InvalidCredentialsError,
  OriginNotAllowedError,
  ResourceNotFoundError,
  TokenSigningUnavailableError,
  UnauthorizedError,
  rateLimited,
} from '../errors.js';
import type { RateLimiters } from '../rate-limit.js';
import { canIssueTokens, issueToken, newVisitorId, type TokenSubject } from '../../auth/sign.js';

/** Longest visitor name a token carries (the signaling server's own limit). */
export const MAX_VISITOR_NAME_LENGTH = 100;

const CompanyId = Type.String({
  minLength: 1,
  maxLength: 64,
  description: "The company's public id (slug)",
});
const Token = Type.String({ description: 'HS256 JWT for the signaling server and this API' });
const ExpiresAt = Type.String({ format: 'date-time', description: 'When the token expires' });

/** Body of `POST /api/auth/login`. */
export const LoginBody = Type.Object(
  {
    email: Type.String({ minLength: 1, maxLength: 254 }),
    password: Type.String({ minLength: 1, maxLength: 1024 }),
    companyId: CompanyId,
  },
  { additionalProperties: false },
);

/** The logged-in agent, as `POST /api/auth/login` describes it. */
export const AgentBody = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    email: Type.String(),
    role: Type.Union([Type.Literal('agent'), Type.Literal('admin')]),
    companyId: Type.String(),
  },
  { additionalProperties: false },
);

/** Answer of `POST /api/auth/login`. */
export const LoginReply = Type.Object(
  { token: Token, expiresAt: ExpiresAt, agent: AgentBody },
  { additionalProperties: false, description: 'Logged in: a token and who it speaks for' },
);

/** Body of `POST /api/visitor-token`. */
export const VisitorTokenBody = Type.Object(
  {
    companyId: CompanyId,
    name: Type.Optional(
      Type.String({
        maxLength: MAX_VISITOR_NAME_LENGTH,
        // Control characters have no place in a name an agent's screen shows.
        pattern: '^[^\\u0000-\\u001f\\u007f]*$',
        description:
          'Shown to agents, normalised: bidi, zero-width and other invisible characters removed, whitespace collapsed and trimmed; empty means "Visitor"',
      }),
    ),
  },
  { additionalProperties: false },
);

/** Answer of `POST /api/visitor-token`. */
export const VisitorTokenReply = Type.Object(
  {
    token: Token,
    expiresAt: ExpiresAt,
    visitorId: Type.String({ description: 'The token\'s `sub`: "v_" and a random id' }),
  },
  { additionalProperties: false, description: 'A visitor token' },
);

/** Answer of `POST /api/token/refresh`. */
export const RefreshReply = Type.Object(
  { token: Token, expiresAt: ExpiresAt },
  { additionalProperties: false, description: 'A fresh token with the same subject' },
);

/** Options of {@link authRoutes}. */
export interface AuthRoutesOptions {
  readonly database: Database;
  readonly jwt: JwtConfig;
  readonly web: Pick<WebConfig, 'visitorTokenTtlS' | 'agentTokenTtlS'>;
  /**
   * Login attempts per address, failed logins per account, visitor tokens per address: in
   * memory, or in Redis shared by every host of a cluster (`web/rate-limit.ts`).
   */
  readonly limiters: RateLimiters;
  /** Refuses to renew revoked tokens (see `auth/access.ts`). */
  readonly access: AccessGuard;
}

const SECURED = [{ bearerAuth: [] }];

/** Registers the token routes. */
export const authRoutes: FastifyPluginAsyncTypebox<AuthRoutesOptions> = async (app, opts) => {
  const { db } = opts.database;
  const { loginPerIp, loginFailuresPerAccount: loginFailures, visitorTokenPerIp } = opts.limiters;
  // The first unknown-account login would otherwise pay for hashing the dummy password too.
  void dummyHash();

  // Refused before anything is counted or checked: no attempt can succeed on this deployment.
  // A preflight is still answered, so that a page of another site can read the 503's code.
  app.addHook('onRequest', async (request) => {
    if (request.method !== 'OPTIONS' && !canIssueTokens(opts.jwt)) {
      throw new TokenSigningUnavailableError();
    }
  });

  app.post(
    '/api/auth/login',
    {
      schema: {
        tags: ['auth'],
        summary: 'Log an agent or admin in',
        body: LoginBody,
        response: {
          200: LoginReply,
          400: ErrorBody,
          401: ErrorBody,
          403: ErrorBody,
          429: ErrorBody,
          503: ErrorBody,
        },
      },
    },
    async (request) => {
      const { email, password, companyId } = request.body;
      // A limiter that cannot count (Redis away) rejects with 503 `unavailable`: without the
      // counts, guesses would go unchecked. An IPv6 client counts by its /64, as at the
      // signaling server: one host commonly holds a whole /64, so 2^64 addresses.
      const ipWait = await loginPerIp.hit(addressKey(request.ip));
      if (ipWait > 0) throw rateLimited(ipWait);
      // Both parts in one unambiguous string: no company id and email can pose as another pair.
      const account = JSON.stringify([companyId, email.trim().toLowerCase()]);
      // Every attempt counts as a failure until it succeeds: concurrent guesses cannot all slip
      // past the check while their passwords are being hashed. A locked account is refused
      // before its password is checked, so guessing stops there.
      const accountWait = await loginFailures.hit(account);
      if (accountWait > 0) throw rateLimited(accountWait);

      // A disabled company's accounts are looked up too, so their refusal costs the same scrypt.
      const company = await getCompany(db, companyId);
      const agent = company === undefined ? undefined : await findAgent(db, companyId, email);
      // Always one scrypt verification, so every refusal takes as long as a wrong password.
      const matches = await verifyPassword(password, agent?.password_hash ?? (await dummyHash()));
      if (agent === undefined || agent.disabled !== 0 || !matches) {
        request.log.info({ companyId }, 'login refused');
        throw new InvalidCredentialsError();
      }
      try {
        await loginFailures.reset(account);
      } catch (err) {
        // The password was right: refusing now would only make the agent try again. The count
        // left behind expires with its window.
        request.log.warn({ err, companyId }, 'login failures not cleared');
      }
      // Only someone with the right password learns that the company is disabled, so agents
      // are told why they cannot work while a stranger still learns nothing.
      if (company !== undefined && company.disabled !== 0) {
        request.log.info({ companyId }, 'login refused: company disabled');
        throw new CompanyDisabledError();
      }
      const issued = issueToken(
        opts.jwt,
        {
          userId: agent.id,
          role: agent.role,
          companyId,
          name: agent.name,
          credentialsVersion: agent.credentials_version,
        },
        opts.web.agentTokenTtlS,
      );
      request.log.info({ companyId, userId: agent.id }, 'login');
      return {
        ...issued,
        agent: {
          id: agent.id,
          name: agent.name,
          email: agent.email,
          role: agent.role,
          companyId: agent.company_id,
        },
      };
    },
  );

  app.post(
    '/api/visitor-token',
    {
      schema: {
        tags: ['auth'],
        summary: 'Get a short-lived token for an anonymous website visitor',
        body: VisitorTokenBody,
        response: {
          200: VisitorTokenReply,
          400: ErrorBody,
          403: ErrorBody,
          404: ErrorBody,
          429: ErrorBody,
          503: ErrorBody,
        },
      },
      // Errors included: a page of another site learns why it was refused. Only a 200 carries a
      // token, and a cross-origin request gets one only when the company allows its origin.
      onSend: async (request, reply) => allowRequestOrigin(request, reply),
    },
    async (request) => {
      const wait = await visitorTokenPerIp.hit(addressKey(request.ip));
      if (wait > 0) throw rateLimited(wait);
      const from = requestOrigin(request);
      const { companyId } = request.body;
      const company = await activeCompany(db, companyId);
      if (company === undefined) throw new ResourceNotFoundError('no such company');
      if (
        from.kind === 'cross' &&
        !isOriginAllowed(companySettings(company, request.log), from.origin)
      ) {
        request.log.info({ companyId, origin: from.origin }, 'visitor token refused for origin');
        throw new OriginNotAllowedError(from.origin);
      }
      // Normalised before it is signed, so the token itself carries what agents will see.
      const name = request.body.name === undefined ? '' : normaliseName(request.body.name);
      const visitorId = newVisitorId();
      const issued = issueToken(
        opts.jwt,
        {
          userId: visitorId,
          role: 'visitor',
          companyId,
          name: name === '' ? undefined : name,
          // The signaling server holds a browser's upgrade to it (see docs/PROTOCOL.md).
          origin: from.kind === 'none' ? undefined : from.origin,
        },
        opts.web.visitorTokenTtlS,
      );
      return { ...issued, visitorId };
    },
  );

  app.options(
    '/api/visitor-token',
    {
      schema: {
        tags: ['auth'],
        summary: 'CORS preflight of POST /api/visitor-token',
        response: { 204: Type.Null({ description: 'The CORS headers, no body' }) },
      },
    },
    // The company is in the body, which a preflight does not carry: every origin passes here,
    // and the POST itself is refused (403 origin_not_allowed) when it must be.
    async (request, reply) => answerPreflight(request, reply, 'POST'),
  );

  app.post(
    '/api/token/refresh',
    {
      schema: {
        tags: ['auth'],
        summary: 'Exchange a still-valid token for a fresh one',
        security: SECURED,
        response: { 200: RefreshReply, 401: ErrorBody, 503: ErrorBody },
      },
    },
    async (request) => {
      const principal = verifyBearer(request, opts.jwt);
      // Past the cache: a refresh is rare, and must not renew what was just taken away. A changed
      // role is the one revocation a refresh mends: the new token carries the role as it is now
      // (how a demoted admin's page carries on as an agent).
      const verdict = await opts.access.check(principal, { fresh: true });
      if (verdict !== AccessVerdict.Ok && verdict !== AccessVerdict.RoleChanged) {
        request.log.info({ companyId: principal.companyId, verdict }, 'refresh refused');
        throw revokedError(verdict);
      }
      // What the host would refuse to issue now, it refuses to renew: a company or, for staff, an
      // account it does not know. Role and name come from the account as it is.
      if ((await activeCompany(db, principal.companyId)) === undefined) {
        throw new UnauthorizedError('company unknown or disabled');
      }
      let subject: TokenSubject;
      let ttlS: number;
      if (principal.role === 'visitor') {
        // The origin claim is kept: refreshing must not free a token from its page.
        const { userId, role, companyId, name, origin } = principal;
        subject = { userId, role, companyId, name, origin };
        ttlS = opts.web.visitorTokenTtlS;
      } else {
        const agent = await getAgent(db, principal.companyId, principal.userId);
        if (agent === undefined || agent.disabled !== 0) {
          throw new UnauthorizedError('account unknown or disabled');
        }
        subject = {
          userId: agent.id,
          role: agent.role,
          companyId: agent.company_id,
          name: agent.name,
          credentialsVersion: agent.credentials_version,
        };
        ttlS = opts.web.agentTokenTtlS;
      }
      return issueToken(opts.jwt, subject, ttlS);
    },
  );
};
