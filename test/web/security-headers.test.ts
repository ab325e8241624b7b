/**
 * Security headers over real HTTP: on an API answer, the pages (each keeping its own policy, the
 * call page embeddable by the company's sites), a static asset, the status page, a 404 and an
 * error; HSTS only when a trusted proxy says the request came over https.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { setAllowedOrigins } from '../../db/company-settings.js';
import { defaultPagesDir } from '../../web/routes/pages.js';
import { EMBED_DEMO_CSP } from '../../web/routes/embed-demo.js';
import { STATUS_PAGE_CSP, STRICT_CSP, frameOptionsFor } from '../../web/security-headers.js';
import { listenTestApp, seedCompany, type Teardown, type TestAppOptions } from './helpers.js';

const SHOP = 'https://shop.acme.example';

/** A listening host with acme (allowed origin {@link SHOP}) and demo (any site). */
async function host(t: Teardown, options: TestAppOptions = {}) {
  const built = await listenTestApp(t, options);
  await seedCompany(built.database, 'acme', []);
  await seedCompany(built.database, 'demo', []);
  await setAllowedOrigins(built.database.db, 'acme', [SHOP]);
  return built;
}

/** The security headers of an answer (absent ones as undefined). */
function securityHeaders(res: Response) {
  const get = (name: string) => res.headers.get(name) ?? undefined;
  return {
    csp: get('content-security-policy'),
    nosniff: get('x-content-type-options'),
    frameOptions: get('x-frame-options'),
    referrer: get('referrer-policy'),
    hsts: get('strict-transport-security'),
    cache: get('cache-control'),
  };
}

/** What {@link securityHeaders} shows of an API answer over plain HTTP. */
const API_HEADERS = {
  csp: STRICT_CSP,
  nosniff: 'nosniff',
  frameOptions: 'DENY',
  referrer: 'no-referrer',
  hsts: undefined,
  cache: 'no-store',
};

t.test('an API answer: strict CSP, no framing, no referrer, no-store, same-origin', async (t) => {
  const { url } = await host(t);
  const res = await fetch(`${url}/api/health`);
  t.equal(res.status, 200);
  t.same(securityHeaders(res), API_HEADERS);
  t.equal(res.headers.get('cross-origin-resource-policy'), 'same-origin');
});

t.test(
  "the call page keeps its CSP, framed only by the company's sites (any when it lists none)",
  async (t) => {
    const { url } = await host(t);
    const acme = await fetch(`${url}/c/acme?embed=1`);
    t.equal(acme.status, 200);
    const headers = securityHeaders(acme);
    t.match(headers.csp, /script-src 'self';/);
    t.notMatch(headers.csp, /unsafe-inline/);
    t.match(headers.csp, new RegExp(`frame-ancestors 'self' ${SHOP}$`));
    t.equal(headers.frameOptions, undefined, 'no X-Frame-Options to contradict frame-ancestors');
    t.equal(headers.nosniff, 'nosniff');
    t.equal(headers.referrer, 'strict-origin-when-cross-origin', 'the frame learns its embedder');
    t.equal(headers.cache, 'no-cache');

    const demo = await fetch(`${url}/`);
    t.equal(demo.status, 200);
    t.match(securityHeaders(demo).csp, /frame-ancestors \*$/, '/ lists no sites: any may frame it');
    t.equal(securityHeaders(demo).frameOptions, undefined);
  },
);

t.test('the agent page, the embed demo and the 404 page may not be framed', async (t) => {
  const { url } = await host(t);
  for (const path of ['/agent', '/embed-demo', '/c/no-such-company']) {
    const res = await fetch(`${url}${path}`);
    const headers = securityHeaders(res);
    t.match(headers.csp, /frame-ancestors 'none'$/, path);
    t.equal(headers.frameOptions, 'DENY', path);
    t.equal(headers.nosniff, 'nosniff', path);
    t.equal(headers.referrer, 'strict-origin-when-cross-origin', path);
  }
  const demo = await fetch(`${url}/embed-demo`);
  t.equal(demo.headers.get('content-security-policy'), EMBED_DEMO_CSP);
});

t.test('hashed assets and the loader keep their caching, with nosniff', async (t) => {
  const { url } = await host(t);
  const manifest = JSON.parse(readFileSync(join(defaultPagesDir(), 'manifest.json'), 'utf8')) as {
    visitor: { js: string };
  };
  const asset = await fetch(`${url}${manifest.visitor.js}`);
  t.equal(asset.status, 200);
  t.same(securityHeaders(asset), { ...API_HEADERS, cache: 'public, max-age=31536000, immutable' });

  const loader = await fetch(`${url}/widget.js`);
  t.equal(loader.status, 200);
  t.equal(loader.headers.get('cache-control'), 'public, max-age=300');
  t.equal(loader.headers.get('cross-origin-resource-policy'), 'cross-origin', 'any site loads it');
  t.equal(loader.headers.get('x-content-type-options'), 'nosniff');
});

t.test('the status page gets its own policy and loads only from the host', async (t) => {
  const { url } = await host(t);
  const page = await fetch(`${url}/status.html`);
  t.equal(page.status, 200);
  t.equal(page.headers.get('content-security-policy'), STATUS_PAGE_CSP);
  t.equal(page.headers.get('x-frame-options'), 'DENY');
  t.equal(page.headers.get('referrer-policy'), 'strict-origin-when-cross-origin');
  const html = await page.text();
  t.notMatch(html, /<style|style=|<script>/, 'no inline style or script for the CSP to refuse');
  const css = await fetch(`${url}/status.css`);
  t.equal(css.status, 200);
  t.match(css.headers.get('content-type'), /^text\/css/);
});

t.test('a 404 and an error carry the same headers as any API answer', async (t) => {
  const { url } = await listenTestApp(t, {}, (app) => {
    app.get('/test/boom', async () => {
      throw new Error('boom');
    });
  });
  for (const [path, status] of [
    ['/nope', 404],
    ['/api/nope', 404],
    ['/test/boom', 500],
  ] as const) {
    const res = await fetch(`${url}${path}`);
    t.equal(res.status, status, path);
    t.same(securityHeaders(res), API_HEADERS, path);
  }
});

t.test('HSTS only when a trusted proxy says https', async (t) => {
  const https = { 'x-forwarded-proto': 'https' };
  const cases: Array<[string, TestAppOptions, Record<string, string>, string | undefined]> = [
    ['trusted proxy, https', { trustProxy: true }, https, 'max-age=31536000'],
    ['trusted proxy by address, https', { trustProxy: '127.0.0.1' }, https, 'max-age=31536000'],
    ['trusted proxy, http', { trustProxy: true }, { 'x-forwarded-proto': 'http' }, undefined],
    ['trusted proxy, no scheme', { trustProxy: true }, {}, undefined],
    ['no proxy trusted, https claimed', {}, https, undefined],
    ['another proxy trusted, https claimed', { trustProxy: '10.0.0.1' }, https, undefined],
    [
      'trusted, https, HSTS off',
      { trustProxy: true, config: { hstsMaxAgeS: 0 } },
      https,
      undefined,
    ],
  ];
  for (const [name, options, headers, expected] of cases) {
    const { url } = await listenTestApp(t, options);
    for (const path of ['/api/health', '/status.html', '/nope']) {
      const res = await fetch(`${url}${path}`, { headers });
      t.equal(
        res.headers.get('strict-transport-security') ?? undefined,
        expected,
        `${name}: ${path}`,
      );
    }
  }
});

t.test('X-Frame-Options follows frame-ancestors where it has an equivalent', async (t) => {
  t.equal(frameOptionsFor(STRICT_CSP), 'DENY');
  t.equal(frameOptionsFor("default-src 'self'; frame-ancestors 'self'"), 'SAMEORIGIN');
  t.equal(frameOptionsFor(`frame-ancestors 'self' ${SHOP}`), undefined);
  t.equal(frameOptionsFor('frame-ancestors *'), undefined);
  t.equal(frameOptionsFor("default-src 'self'"), undefined, 'no frame-ancestors: framing allowed');
  t.equal(
    frameOptionsFor("FRAME-ANCESTORS 'none'"),
    'DENY',
    'directive names are case-insensitive',
  );
});
