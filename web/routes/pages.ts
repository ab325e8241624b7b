/**
 * The pages people use: the visitor's call page (`/` for the demo company, `/c/:companyId` for
 * any), the agent's dashboard (`/agent`), the embeddable button's loader (`/widget.js`), and
 * the bundles they load (`/assets/*`, built by `scripts/build-pages.mjs` into `dist/pages/`),
 * and the `@calldocker/client` browser bundle for sites without a bundler
 * (`/client/v1/calldocker.js` and its map).
 *
 * Each HTML page is a small shell written here: the page's hashed script and style sheet from
 * the build's manifest, and what the page needs to start (the company, where the signaling
 * server is) as a JSON data block, so a page makes no request before it can draw itself and
 * the Content-Security-Policy needs no inline script. An unknown company gets a 404 page that
 * loads no script at all, so no connection is attempted.
 */
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyReply } from 'fastify';
import { getCompany } from '../../db/companies.js';
import type { Database } from '../../db/database.js';
import { COMPANY_ID_PATTERN } from '../../db/companies.js';
import { frameAncestorsFor } from '../../db/company-settings.js';
import { PROTOCOL_VERSION } from '../../client-lib/constants.js';
import type { PageBootData } from '../pages/shared/boot-data.js';

/** The company `/` shows: the one `npm run admin -- seed-demo` creates. */
export const DEMO_COMPANY_ID = 'demo';

/** What the build's `manifest.json` says of one page. */
interface PageFiles {
  readonly js: string;
  readonly css: readonly string[];
  readonly preload?: readonly string[];
}
type Manifest = Record<'visitor' | 'agent', PageFiles>;

/** Options of {@link pageRoutes}. */
export interface PageRoutesOptions {
  readonly database: Database;
  /** The build output (`dist/pages`); see {@link defaultPagesDir}. */
  readonly pagesDir: string;
  /** Sent to pages as is; `''` lets the page use its own hostname and `signalingPort`. */
  readonly signalingUrl: string;
  readonly signalingPort: number;
}

/** `dist/pages` of this repository, found from the source (`web/routes/`) or from `dist/web/routes/`. */
export function defaultPagesDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, '..', '..', 'dist', 'pages'), join(here, '..', '..', 'pages')];
  return candidates.find((dir) => existsSync(join(dir, 'manifest.json'))) ?? candidates[0]!;
}

/** A year: hashed file names never change content. */
const IMMUTABLE = 'public, max-age=31536000, immutable';
/**
 * The client bundle's URL names the protocol version, not the release, so a site's
 * `<script type="module">` stays the same across 1.x. It is cached as immutable all the same:
 * every 1.x speaks protocol v1, so a browser holding an older one keeps working; the cost is
 * that a fix reaches such a browser only when its cache lets the old copy go.
 */
export const CLIENT_BUNDLE_PREFIX = `/client/v${PROTOCOL_VERSION}/`;
/** The loader's name is fixed (sites link to it): browsers check back after five minutes. */
const WIDGET_CACHE = 'public, max-age=300';

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );
}

/** JSON that is safe inside a `<script type="application/json">` block. */
function jsonForScript(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c');
}

/**
 * The Content-Security-Policy of a page: scripts, styles and everything else only from this
 * host (no `unsafe-inline`), the signaling server over WebSocket, media from the page's own
 * streams, and who may frame it.
 */
export function pageCsp(frameAncestors: string): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: blob:",
    "media-src 'self' blob: mediastream:",
    // The signaling server is another origin (its own port, or its own host).
    "connect-src 'self' ws: wss:",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    `frame-ancestors ${frameAncestors}`,
  ].join('; ');
}

/** The HTML shell of a page. */
function shell(opts: {
  title: string;
  files: PageFiles | undefined;
  boot: PageBootData | undefined;
  body?: string;
}): string {
  const css = (opts.files?.css ?? []).map((href) => `<link rel="stylesheet" href="${href}">`);
  const preload = (opts.files?.preload ?? []).map(
    (href) => `<link rel="modulepreload" href="${href}">`,
  );
  const js =
    opts.files === undefined ? '' : `<script type="module" src="${opts.files.js}"></script>`;
  const boot =
    opts.boot === undefined
      ? ''
      : `<script type="application/json" id="calldocker-boot">${jsonForScript(opts.boot)}</script>`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<link rel="icon" href="data:,">
<title>${escapeHtml(opts.title)}</title>
${css.join('\n')}
${preload.join('\n')}
${js}
</head>
<body>
<div id="app">${opts.body ?? ''}</div>
${boot}
</body>
</html>
`;
}

/** The standalone page of a failure: plain HTML, no script. */
function errorPage(title: string, message: string): string {
  return shell({
    title,
    files: undefined,
    boot: undefined,
    body: `<main class="error-page"><h1>${escapeHtml(title)}</h1><p>${escapeHtml(message)}</p></main>`,
  });
}

function sendHtml(reply: FastifyReply, status: number, html: string, csp: string) {
  return reply
    .code(status)
    .header('content-type', 'text/html; charset=utf-8')
    .header('content-security-policy', csp)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'strict-origin-when-cross-origin')
    .header('cache-control', 'no-cache')
    .send(html);
}

/** Registers the page routes and the static bundles. */
export const pageRoutes: FastifyPluginAsyncTypebox<PageRoutesOptions> = async (app, opts) => {
  const manifestFile = join(opts.pagesDir, 'manifest.json');
  // Read per request while the build is missing, so a host started before `npm run build`
  // serves the pages as soon as they exist; once found, it is kept.
  let manifest: Manifest | undefined;
  const loadManifest = (): Manifest | undefined => {
    if (manifest !== undefined) return manifest;
    try {
      manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as Manifest;
    } catch {
      app.log.warn({ manifestFile }, 'pages are not built (npm run build)');
    }
    return manifest;
  };
  const notBuilt = (reply: FastifyReply) =>
    sendHtml(
      reply,
      503,
      errorPage('Not built yet', 'The pages have not been built: run npm run build.'),
      pageCsp("'none'"),
    );

  const where = { signalingUrl: opts.signalingUrl, signalingPort: opts.signalingPort };

  const visitorPage = async (companyId: string, embed: boolean, reply: FastifyReply) => {
    const company = COMPANY_ID_PATTERN.test(companyId)
      ? await getCompany(opts.database.db, companyId)
      : undefined;
    if (company === undefined) {
      return sendHtml(
        reply,
        404,
        errorPage('Company not found', `There is no company "${companyId}" to call here.`),
        pageCsp("'none'"),
      );
    }
    const files = loadManifest();
    if (files === undefined) return notBuilt(reply);
    const html = shell({
      title: `Call ${company.name}`,
      files: files.visitor,
      boot: {
        ...where,
        page: 'visitor',
        companyId: company.id,
        companyName: company.name,
        companyDisabled: company.disabled !== 0,
        embed,
      },
    });
    // Only the company's own sites may frame its call page (any, when it lists none).
    return sendHtml(reply, 200, html, pageCsp(frameAncestorsFor(company, reply.log)));
  };

  const VisitorQuery = Type.Object({ embed: Type.Optional(Type.String({ maxLength: 8 })) });
  app.get('/', { schema: { querystring: VisitorQuery } }, (request, reply) =>
    visitorPage(DEMO_COMPANY_ID, request.query.embed === '1', reply),
  );
  app.get(
    '/c/:companyId',
    {
      schema: {
        params: Type.Object({ companyId: Type.String({ maxLength: 200 }) }),
        querystring: VisitorQuery,
      },
    },
    (request, reply) => visitorPage(request.params.companyId, request.query.embed === '1', reply),
  );

  app.get('/agent', async (_request, reply) => {
    const files = loadManifest();
    if (files === undefined) return notBuilt(reply);
    const html = shell({
      title: 'CallDocker agent',
      files: files.agent,
      boot: { ...where, page: 'agent' },
    });
    return sendHtml(reply, 200, html, pageCsp("'none'"));
  });

  // The loader is small and read once; each encoding the build made is kept as it is.
  const widgetFiles = new Map<string, Buffer>();
  const widgetFile = async (suffix: '' | '.br' | '.gz') => {
    let body = widgetFiles.get(suffix);
    if (body === undefined) {
      body = await readFile(join(opts.pagesDir, `widget.js${suffix}`));
      widgetFiles.set(suffix, body);
    }
    return body;
  };
  app.get('/widget.js', async (request, reply) => {
    if (!existsSync(join(opts.pagesDir, 'widget.js'))) return notBuilt(reply);
    const accepted = String(request.headers['accept-encoding'] ?? '');
    const encoding = /\bbr\b/.test(accepted)
      ? 'br'
      : /\bgzip\b/.test(accepted)
        ? 'gzip'
        : undefined;
    const body = await widgetFile(encoding === 'br' ? '.br' : encoding === 'gzip' ? '.gz' : '');
    if (encoding !== undefined) void reply.header('content-encoding', encoding);
    return (
      reply
        .header('content-type', 'text/javascript; charset=utf-8')
        .header('cache-control', WIDGET_CACHE)
        .header('vary', 'accept-encoding')
        .header('x-content-type-options', 'nosniff')
        // Any site may load the loader; whether it shows a button is the company's to say.
        .header('cross-origin-resource-policy', 'cross-origin')
        .send(body)
    );
  });

  await app.register(fastifyStatic, {
    root: join(opts.pagesDir, 'assets'),
    prefix: '/assets/',
    decorateReply: false,
    // The folder may not exist before the first build; files are looked up per request.
    wildcard: true,
    preCompressed: true,
    cacheControl: false,
    setHeaders(reply) {
      void reply.header('cache-control', IMMUTABLE);
      void reply.header('x-content-type-options', 'nosniff');
    },
  });

  // The static files' MIME table says application/javascript; RFC 9239 made text/javascript
  // the one to send.
  app.addHook('onSend', async (request, reply) => {
    if (
      request.url.startsWith(CLIENT_BUNDLE_PREFIX) &&
      String(reply.getHeader('content-type')).startsWith('application/javascript')
    ) {
      void reply.header('content-type', 'text/javascript; charset=utf-8');
    }
  });
  await app.register(fastifyStatic, {
    root: join(opts.pagesDir, 'client', `v${PROTOCOL_VERSION}`),
    prefix: CLIENT_BUNDLE_PREFIX,
    decorateReply: false,
    wildcard: true,
    preCompressed: true,
    cacheControl: false,
    setHeaders(reply) {
      void reply.headers({
        'cache-control': IMMUTABLE,
        'x-content-type-options': 'nosniff',
        // Other sites load it: a module script from another origin is a CORS request.
        'access-control-allow-origin': '*',
        'cross-origin-resource-policy': 'cross-origin',
      });
    },
  });
};
