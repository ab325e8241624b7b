/**
 * Builds the web host without starting it: the landing page and static files from
 * `web/public`, and the JSON API under `/api`. `web/index.ts` reads the configuration and
 * listens; tests build their own instance and talk to it with `inject()`.
 *
 * Routes are Fastify plugins under `web/routes/`, one file per concern; register new ones in
 * {@link buildWebApp}.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import { TypeBoxValidatorCompiler, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { LogController, type FastifyError, type HTTPMethods } from 'fastify';
import { pino, type Logger } from 'pino';
import { signalingDefaults, type Config } from '../server/config.js';
import { MethodNotAllowedError, NotFoundError, toErrorResponse } from './errors.js';
import { configRoutes } from './routes/config.js';
import { healthRoutes } from './routes/health.js';

/** Options of {@link buildWebApp}. */
export interface WebAppOptions {
  /**
   * The `web` section of the configuration. `signalingPublicUrl`, when set, is what pages are
   * told to connect to, ahead of `signalingUrl` (for embedders that know the public address);
   * `signalingPort` is the port pages use with their own hostname when neither is set
   * (default 8081, the signaling server's default).
   */
  readonly config: Config['web'] & { signalingPublicUrl?: string; signalingPort?: number };
  /** Defaults to a silent logger, so tests and embedders are quiet unless they ask. */
  readonly logger?: Logger;
  /** Directory of the static files; defaults to `web/public` of this repository. */
  readonly publicDir?: string;
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
  return candidates.find((dir) => existsSync(join(dir, 'index.html'))) ?? candidates[0]!;
}

/** Builds the web host. Nothing listens until `listen()`; close it with `close()`. */
export function buildWebApp(opts: WebAppOptions) {
  const { config } = opts;
  const app = Fastify({
    loggerInstance: opts.logger ?? pino({ level: 'silent' }),
    // Two info lines per request would drown the servers' own logs (the landing page polls);
    // one debug line per response below, and failures are logged by the error handler.
    logController: new LogController({ disableRequestLogging: true }),
  }).withTypeProvider<TypeBoxTypeProvider>();
  // Request schemas are checked by TypeBox's compiled checker, as the signaling server does.
  app.setValidatorCompiler(TypeBoxValidatorCompiler);

  app.addHook('onResponse', async (request, reply) => {
    request.log.debug(
      // The query string is left out: it may carry a token.
      { method: request.method, path: request.url.split('?')[0], statusCode: reply.statusCode },
      'request completed',
    );
  });

  app.setErrorHandler((err: FastifyError, request, reply) => {
    const { status, body } = toErrorResponse(err);
    if (status >= 500) request.log.error({ err }, 'request failed');
    else request.log.debug({ code: body.error }, 'request rejected');
    return reply.code(status).type('application/json; charset=utf-8').send(body);
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

  void app.register(healthRoutes);
  void app.register(configRoutes, {
    signalingUrl: config.signalingPublicUrl ?? config.signalingUrl,
    signalingPort: config.signalingPort ?? signalingDefaults().port,
  });
  void app.register(fastifyStatic, {
    root: opts.publicDir ?? defaultPublicDir(),
    // One route per file, found at start-up: unknown paths reach the 404 handler, and a
    // POST to a file gets a 405 instead of a catch-all GET route hiding it.
    wildcard: false,
    index: ['index.html'],
  });

  return app;
}

/** A built web host. */
export type WebApp = ReturnType<typeof buildWebApp>;
