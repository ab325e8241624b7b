/**
 * `/embed-demo`: a sample shop page with the call button on it, as a company's own site would
 * carry it: the one-line snippet for the demo company (or `?company=<id>`), a page button that
 * opens the panel through `window.CallDocker`, and a log of the call events the page hears. Its
 * style and script are files beside the status page (`web/public/embed-demo.css`, `.js`), so the
 * page runs under a strict CSP like a careful host site's: scripts only from itself, frames only
 * from this host.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { COMPANY_ID_PATTERN } from '../../db/companies.js';
import { DEMO_COMPANY_ID, escapeHtml } from './pages.js';

/**
 * The demo page's Content-Security-Policy: what docs/EMBED.md tells a host site to allow for the
 * button (`script-src` and `frame-src` for the CallDocker host, `connect-src` for its embed
 * check), here all `'self'` because the demo is served by that host. No inline script or
 * style: the button's styles are a constructed style sheet, which `style-src` does not govern.
 */
export const EMBED_DEMO_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "frame-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const DemoQuery = Type.Object({
  company: Type.Optional(
    Type.String({ pattern: COMPANY_ID_PATTERN.source, description: 'The company to call' }),
  ),
});

/** The page's HTML: the one line for `company`, as served from `origin`. */
function demoPage(company: string, origin: string): string {
  const snippet = `<script src="${origin}/widget.js" data-company="${company}" async></script>`;
  const products = [
    ['Trail 29', 'A hardtail for forest paths and long weekends.', '1 290 €'],
    ['City 7', 'Seven gears, a rack and lights for every day.', '740 €'],
    ['Gravel X', 'Drop bars, wide tyres, any road or none.', '1 650 €'],
  ]
    .map(
      ([name, text, price]) =>
        `<li class="product"><div class="picture" aria-hidden="true"></div><h3>${name}</h3><p>${text}</p><p class="price">${price}</p></li>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>Pedal &amp; Co. (CallDocker embed demo)</title>
<link rel="stylesheet" href="/embed-demo.css">
<script src="/embed-demo.js" defer></script>
</head>
<body>
<header><p class="brand">Pedal &amp; Co.</p><p class="tag">A sample shop: the call button in the corner is CallDocker's.</p></header>
<main>
<h1>Bikes for every road</h1>
<ul class="products">
${products}
</ul>
<section aria-labelledby="help">
<h2 id="help">Not sure which one?</h2>
<p>Talk to one of our experts by video or audio, right from this page.</p>
<button type="button" id="open-call">Call an expert</button>
<h3>What the page heard</h3>
<ol id="events" aria-live="polite"><li>Nothing yet.</li></ol>
</section>
<section aria-labelledby="snippet">
<h2 id="snippet">The one line on this page</h2>
<pre><code>${escapeHtml(snippet)}</code></pre>
<p>Options, the JS API and allowed origins: docs/EMBED.md in the CallDocker repository.</p>
</section>
</main>
<script src="/widget.js" data-company="${company}" async></script>
</body>
</html>
`;
}

/** Registers `GET /embed-demo`. */
export const embedDemoRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/embed-demo', { schema: { querystring: DemoQuery } }, (request, reply) =>
    reply
      .header('content-type', 'text/html; charset=utf-8')
      .header('content-security-policy', EMBED_DEMO_CSP)
      .header('x-content-type-options', 'nosniff')
      .header('cache-control', 'no-cache')
      .send(
        demoPage(request.query.company ?? DEMO_COMPANY_ID, `${request.protocol}://${request.host}`),
      ),
  );
};
