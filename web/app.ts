/**
 * Builds the web host without starting it: the pages (`web/routes/pages.ts`), the status page
 * and static files from `web/public`, and the JSON API under `/api`. `web/index.ts` reads the configuration and
 * listens; tests build their own instance and talk to it with `inject()`.
 *
 * Routes are Fastify plugins under `web/routes/`, one file per concern; register new ones in
 * {@link buildWebApp}.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import fastifySwagger from '@fastify/swagger';
import { TypeBoxValidatorCompiler, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { LogController, type FastifyError, type HTTPMethods } from 'fastify';
import type { Redis } from 'ioredis';
import { pino, type Logger } from 'pino';
import { PROTOCOL_VERSION } from '../client-lib/constants.js';
import { AccessGuard } from '../auth/access.js';
import { signalingDefaults, type Config, type JwtConfig } from '../config/config.js';
import type { Database } from '../db/database.js';
import {
  MethodNotAllowedError,
  NotFoundError,
  ShuttingDownError,
  toErrorResponse,
} from './errors.js';
import { clientErrorHandler, frameworkErrorHandler } from './framework-errors.js';
import { DEFAULT_RATE_LIMITS, memoryLimiters, type RateLimits } from './rate-limit.js';
import { redisLimiters } from './redis-rate-limit.js';
import { authRoutes } from './routes/auth.js';
import { callExportRoutes } from './routes/calls-export.js';
import { callRoutes } from './routes/calls.js';
import { configRoutes } from './routes/config.js';
import { docsRoutes } from './routes/docs.js';
import { embedDemoRoutes } from './routes/embed-demo.js';
import { embedRoutes } from './routes/embed.js';
import { healthRoutes } from './routes/health.js';
import { defaultPagesDir, pageRoutes } from './routes/pages.js';
import { ratingRoutes } from './routes/ratings.js';
import { STATUS_PAGE_CSP, applySecurityHeaders } from './security-headers.js';
import { serverTimeoutOptions } from './timeouts.js';

/** Options of {@link buildWebApp}. */
export interface WebAppOptions {
  /**
   * The `web` section of the configuration. `signalingPublicUrl`, when set, is what pages are
   * told to connect to, ahead of `signalingUrl` (for embedders that know the public address);
   * `signalingPort` is the port pages use with their own hostname when neither is set
   * (default 8081, the signaling server's default).
   */
  readonly config: Config['web'] & { signalingPublicUrl?: string; signalingPort?: number };
  /**
   * The open database (from `openDatabase`, migrated). The app does not close it: whoever
   * opened it does, after `app.close()`.
   */
  readonly database: Database;
  /**
   * How tokens are verified (`config.signaling.jwt`). Tokens are issued with its HS256
   * `secret`; without one the token-issuing routes answer 503 `token_signing_unavailable`.
   */
  readonly jwt: JwtConfig;
  /**
   * Checks every bearer token against the database (revocation, see `auth/access.ts`). The
   * app does not close one it is given; without one it makes its own on `database` (polling the
   * access journal at the default interval) and closes it with the app.
   */
  readonly access?: AccessGuard;
  /** Overrides of {@link DEFAULT_RATE_LIMITS} (tests use small ones). */
  readonly rateLimits?: Partial<RateLimits>;
  /**
   * Cluster mode (`REDIS_URL`): the rate limits are counted in this Redis, shared by every host
   * with the same Redis and prefix, and `/api/health` checks it. Without it they are counted in
   * this process.
   */
  readonly redis?: WebRedis;
  /**
   * Fastify's `trustProxy`: set it behind a reverse proxy, or every client shares the proxy's
   * address and so its per-address rate limits.
   */
  readonly trustProxy?: boolean | number | string;
  /** Defaults to a silent logger, so tests and embedders are quiet unless they ask. */
  readonly logger?: Logger;
  /** The clock, ms since the epoch (rating windows); defaults to `Date.now`. */
  readonly now?: () => number;
  /** Directory of the static files; defaults to `web/public` of this repository. */
  readonly publicDir?: string;
  /** The built pages (`npm run build`); defaults to `dist/pages` of this repository. */
  readonly pagesDir?: string;
}

/** The web host's share of a cluster's Redis. */
export interface WebRedis {
  /**
   * A connected client from `connectRedis` (`common/redis.ts`), without a `keyPrefix`. The app
   * does not close it: whoever opened it does, after `app.close()`.
   */
  readonly client: Redis;
  /** What the host's keys start with (`REDIS_PREFIX`). */
  readonly prefix: string;
}

// Checked against in order for a path that exists only for other methods (405 vs 404).
const METHODS: readonly HTTPMethods[] = [
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'PATCH',
  'DELETE',
  'OPTIONS',
];

/** `web/public`, found from the source (`web/`) or from the build output (`dist/web/`). */
export function defaultPublicDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  // tsc does not copy static files, so the compiled app serves them from the source tree.
  const candidates = [join(here, 'public'), join(here, '..', '..', 'web', 'public')];
  return candidates.find((dir) => existsSync(join(dir, 'status.html'))) ?? candidates[0]!;
}

/** Largest request body the API accepts; its bodies are a few short strings. */
export const BODY_LIMIT_BYTES = 16 * 1024;

/** Fastify takes a hop count at run time but not in its types: the equivalent function. */
function trustProxyOption(value: boolean | number | string) {
  return typeof value === 'number' ? (_address: string, hop: number) => hop < value : value;
}

/** Builds the web host. Nothing listens until `listen()`; close it with `close()`. */
export function buildWebApp(opts: WebAppOptions) {
  const { config, database, jwt } = opts;
  const headerOptions = { trustProxy: opts.trustProxy ?? false, hstsMaxAgeS: config.hstsMaxAgeS };
  const app = Fastify({
    bodyLimit: BODY_LIMIT_BYTES,
    ...serverTimeoutOptions(config),
    // Routing and socket errors in our error format (bad URL, oversized headers, timeouts).
    frameworkErrors: frameworkErrorHandler(headerOptions),
    clientErrorHandler,
    // While closing, the hooks below answer in our format instead.
    return503OnClosing: false,
    trustProxy: trustProxyOption(headerOptions.trustProxy),
    loggerInstance: opts.logger ?? pino({ level: 'silent' }),
    // Two info lines per request would drown the servers' own logs (the landing page polls);
    // one debug line per response below, and failures are logged by the error handler.
    logController: new LogController({ disableRequestLogging: true }),
  }).withTypeProvider<TypeBoxTypeProvider>();
  // Request schemas are checked by TypeBox's compiled checker, as the signaling server does.
  app.setValidatorCompiler(TypeBoxValidatorCompiler);

  // From the moment close() is called, a new request (on a keep-alive connection still busy
  // with another) is refused with 503 `unavailable`, through the error handler and so with the
  // security headers; Fastify adds `Connection: close`.
  let closing = false;
  app.addHook('preClose', (done) => {
    closing = true;
    done();
  });
  app.addHook('onRequest', async () => {
    if (closing) throw new ShuttingDownError();
  });

  const access = opts.access ?? new AccessGuard({ db: database.db, log: app.log });
  if (opts.access === undefined) app.addHook('onClose', async () => access.close());

  app.addHook('onResponse', async (request, reply) => {
    request.log.debug(
      // The query string is left out: it may carry a token.
      { method: request.method, path: request.url.split('?')[0], statusCode: reply.statusCode },
      'request completed',
    );
  });

  // The route's own headers are set by now, and win over the defaults.
  app.addHook('onSend', async (request, reply) =>
    applySecurityHeaders(request, reply, headerOptions),
  );

  app.setErrorHandler((err: FastifyError, request, reply) => {
    const { status, body, headers } = toErrorResponse(err);
    if (status >= 500) request.log.error({ err }, 'request failed');
    else request.log.debug({ code: body.error }, 'request rejected');
    return reply.code(status).headers(headers).type('application/json; charset=utf-8').send(body);
  });

  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? '/';
    const allowed = METHODS.filter((method) => app.findRoute({ method, url: path }) !== null);
    const { status, body } = toErrorResponse(
      allowed.length > 0
        ? new MethodNotAllowedError(request.method, path)
        : new NotFoundError(request.method, path),
    );
    if (allowed.length > 0) void reply.header('allow', allowed.join(', '));
    return reply.code(status).type('application/json; charset=utf-8').send(body);
  });

  // Before every route: it collects their schemas as they are added.
  void app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'CallDocker web API',
        version: '1.0.0',
        description: `The CallDocker web host's API (signaling protocol v${PROTOCOL_VERSION}).`,
      },
      tags: [
        { name: 'auth', description: 'Tokens for agents, admins and visitors' },
        { name: 'calls', description: 'The call log and its statistics' },
        { name: 'embed', description: "The call button on a company's own site" },
        { name: 'meta', description: 'Health, configuration and this document' },
      ],
      components: {
        securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
      },
    },
    // Only the API: the static files' routes carry no tag.
    hideUntagged: true,
  });
  void app.register(healthRoutes, { database, redis: opts.redis?.client });
  const rateLimits = { ...DEFAULT_RATE_LIMITS, ...opts.rateLimits };
  void app.register(authRoutes, {
    database,
    jwt,
    web: config,
    limiters:
      opts.redis === undefined
        ? memoryLimiters(rateLimits)
        : redisLimiters(rateLimits, opts.redis.client, opts.redis.prefix),
    access,
  });
  void app.register(callRoutes, { database, jwt, access, serviceLevelS: config.serviceLevelS });
  void app.register(embedRoutes, { database });
  void app.register(callExportRoutes, { database, jwt, access });
  void app.register(ratingRoutes, { database, jwt, access, now: opts.now });
  void app.register(docsRoutes);
  void app.register(configRoutes, {
    signalingUrl: config.signalingPublicUrl ?? config.signalingUrl,
    signalingPort: config.signalingPort ?? signalingDefaults().port,
  });
  void app.register(embedDemoRoutes);
  void app.register(pageRoutes, {
    database,
    pagesDir: opts.pagesDir ?? defaultPagesDir(),
    signalingUrl: config.signalingPublicUrl ?? config.signalingUrl,
    signalingPort: config.signalingPort ?? signalingDefaults().port,
  });
  void app.register(fastifyStatic, {
    root: opts.publicDir ?? defaultPublicDir(),
    // One route per file, found at start-up: unknown paths reach the 404 handler, and a
    // POST to a file gets a 405 instead of a catch-all GET route hiding it.
    wildcard: false,
    index: false,
    setHeaders(reply, path) {
      if (path.endsWith('.html')) void reply.header('content-security-policy', STATUS_PAGE_CSP);
    },
  });

  return app;
}

/** A built web host. */
export type WebApp = ReturnType<typeof buildWebApp>;
