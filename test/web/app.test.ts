import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Type } from '@sinclair/typebox';
import t from 'tap';
import { PROTOCOL_VERSION } from '../../client-lib/constants.js';
import { BODY_LIMIT_BYTES, defaultPublicDir, type WebAppOptions } from '../../web/app.js';
import { buildTestApp, type Teardown } from './helpers.js';

/** A web host from the default configuration plus `overrides`, on a fresh SQLite file. */
async function build(t: Teardown, overrides: Partial<WebAppOptions['config']> = {}) {
  return (await buildTestApp(t, { config: overrides })).app;
}

/** An error body's keys and code; its message must be a string and carry no stack frame. */
function errorShape(body: string): { keys: string[]; error: unknown; messageType: string } {
  const parsed = JSON.parse(body) as Record<string, unknown>;
  if (/\bat .+:\d+:\d+\)?/.test(body)) throw new Error(`stack trace in error body: ${body}`);
  return {
    keys: Object.keys(parsed).sort(),
    error: parsed.error,
    messageType: typeof parsed.message,
  };
}

t.test('GET /api/health answers ok as JSON', async (t) => {
  const app = await build(t);
  const res = await app.inject({ method: 'GET', url: '/api/health' });
  t.equal(res.statusCode, 200);
  t.match(res.headers['content-type'], /^application\/json/);
  t.same(res.json(), { status: 'ok', database: 'ok' });
});

t.test(
  'GET /api/config leaves the signaling URL to the page when none is configured',
  async (t) => {
    const app = await build(t);
    const res = await app.inject({ method: 'GET', url: '/api/config' });
    t.equal(res.statusCode, 200);
    t.same(res.json(), {
      signalingUrl: '',
      signalingPort: 8081,
      protocolVersion: PROTOCOL_VERSION,
    });
    t.equal(PROTOCOL_VERSION, 1);
  },
);

t.test('GET /api/config sends the configured signaling URL and port', async (t) => {
  const app = await build(t, { signalingUrl: 'wss://signal.example.test/', signalingPort: 9443 });
  const res = await app.inject({ method: 'GET', url: '/api/config' });
  t.same(res.json(), {
    signalingUrl: 'wss://signal.example.test/',
    signalingPort: 9443,
    protocolVersion: 1,
  });
});

t.test('a public signaling URL given by the embedder wins over the configured one', async (t) => {
  const app = await build(t, {
    signalingUrl: 'ws://internal.example.test:8081/',
    signalingPublicUrl: 'wss://public.example.test/ws',
  });
  const res = await app.inject({ method: 'GET', url: '/api/config' });
  t.equal(res.json().signalingUrl, 'wss://public.example.test/ws');
});

t.test('the status page is served as HTML at /status.html and names the product', async (t) => {
  const app = await build(t);
  const res = await app.inject({ method: 'GET', url: '/status.html' });
  t.equal(res.statusCode, 200);
  t.match(res.headers['content-type'], /^text\/html/);
  t.match(res.body, /<title>CallDocker<\/title>/);
  t.match(res.body, /src="\/status\.js"/);

  const head = await app.inject({ method: 'HEAD', url: '/status.html' });
  t.equal(head.statusCode, 200);
  t.equal(head.body, '');

  const script = await app.inject({ method: 'GET', url: '/status.js' });
  t.equal(script.statusCode, 200);
  t.match(script.headers['content-type'], /javascript/);
  t.match(script.body, /\/api\/config/);
});

t.test('the status page loads nothing from another origin and opens no socket', async (t) => {
  const dir = defaultPublicDir();
  for (const file of ['status.html', 'status.js']) {
    const text = readFileSync(join(dir, file), 'utf8');
    t.notMatch(text, /(src|href)\s*=\s*["']?(https?:)?\/\//i, `${file}: no external resource`);
    t.notMatch(text, /@import|url\(\s*["']?(https?:)?\/\//i, `${file}: no external CSS`);
    t.notMatch(text, /new\s+WebSocket/, `${file}: no WebSocket`);
  }
});

t.test('an unknown path gets 404 with a JSON error body', async (t) => {
  const app = await build(t);
  for (const url of ['/nope', '/api/nope', '/api/health/extra', '/index.htm?x=1']) {
    const res = await app.inject({ method: 'GET', url });
    t.equal(res.statusCode, 404, url);
    t.match(res.headers['content-type'], /^application\/json/, url);
    t.same(
      errorShape(res.body),
      { keys: ['error', 'message'], error: 'not_found', messageType: 'string' },
      url,
    );
  }
  const post = await app.inject({ method: 'POST', url: '/nope', payload: { a: 1 } });
  t.equal(post.statusCode, 404);
  t.equal(errorShape(post.body).error, 'not_found');
});

t.test(
  'a known path with the wrong method gets 405, the allowed methods and a JSON body',
  async (t) => {
    const app = await build(t);
    const cases = [
      { method: 'POST', url: '/api/health' },
      { method: 'DELETE', url: '/api/config' },
      { method: 'PUT', url: '/' },
      { method: 'POST', url: '/status.js' },
    ] as const;
    for (const { method, url } of cases) {
      const res = await app.inject({ method, url });
      t.equal(res.statusCode, 405, `${method} ${url}`);
      t.match(res.headers.allow, /\bGET\b/, `${method} ${url}`);
      t.match(res.headers.allow, /\bHEAD\b/, `${method} ${url}`);
      t.same(errorShape(res.body), {
        keys: ['error', 'message'],
        error: 'method_not_allowed',
        messageType: 'string',
      });
    }
  },
);

t.test('a failing handler gets 500 with code internal and none of the error detail', async (t) => {
  const app = await build(t);
  app.get('/test/boom', async () => {
    throw new Error('database password is hunter2');
  });
  const res = await app.inject({ method: 'GET', url: '/test/boom' });
  t.equal(res.statusCode, 500);
  t.match(res.headers['content-type'], /^application\/json/);
  t.same(errorShape(res.body), {
    keys: ['error', 'message'],
    error: 'internal',
    messageType: 'string',
  });
  t.notMatch(res.body, /hunter2|database/);
});

t.test('bad request bodies get 400 or 415 with catalog codes', async (t) => {
  const app = await build(t);
  app.post(
    '/test/echo',
    { schema: { body: Type.Object({ n: Type.Integer() }, { additionalProperties: false }) } },
    async (request) => request.body,
  );

  const ok = await app.inject({ method: 'POST', url: '/test/echo', payload: { n: 3 } });
  t.equal(ok.statusCode, 200, 'a valid body passes the TypeBox validator');
  t.same(ok.json(), { n: 3 });

  const invalid = await app.inject({ method: 'POST', url: '/test/echo', payload: { n: 'three' } });
  t.equal(invalid.statusCode, 400);
  t.equal(errorShape(invalid.body).error, 'bad_request');

  const malformed = await app.inject({
    method: 'POST',
    url: '/test/echo',
    headers: { 'content-type': 'application/json' },
    payload: '{"n":',
  });
  t.equal(malformed.statusCode, 400);
  t.equal(errorShape(malformed.body).error, 'bad_request');

  const wrongType = await app.inject({
    method: 'POST',
    url: '/test/echo',
    headers: { 'content-type': 'application/x-unknown' },
    payload: 'n=3',
  });
  t.equal(wrongType.statusCode, 415);
  t.equal(errorShape(wrongType.body).error, 'unsupported_media_type');
});

t.test('GET /api/health answers 503 degraded when the database does not answer', async (t) => {
  const { app, database } = await buildTestApp(t);
  await app.ready();
  await database.close();
  const res = await app.inject({ method: 'GET', url: '/api/health' });
  t.equal(res.statusCode, 503);
  t.same(res.json(), { status: 'degraded', database: 'unavailable' });
});

t.test('a body over 16 KiB gets 413 payload_too_large on any API route', async (t) => {
  const app = await build(t);
  for (const url of ['/api/visitor-token', '/api/auth/login', '/api/token/refresh']) {
    const res = await app.inject({
      method: 'POST',
      url,
      payload: { companyId: 'acme', name: 'x'.repeat(BODY_LIMIT_BYTES) },
    });
    t.equal(res.statusCode, 413, url);
    t.same(errorShape(res.body), {
      keys: ['error', 'message'],
      error: 'payload_too_large',
      messageType: 'string',
    });
  }
});

t.test(
  'the OpenAPI document at /api/docs/json lists every API route with its schemas',
  async (t) => {
    const { app } = await buildTestApp(t);
    const routes: string[] = [];
    app.addHook('onRoute', (route) => {
      const methods = Array.isArray(route.method) ? route.method : [route.method];
      for (const method of methods) {
        if (route.url.startsWith('/api/') && method !== 'HEAD')
          routes.push(`${method} ${route.url}`);
      }
    });
    const res = await app.inject({ method: 'GET', url: '/api/docs/json' });
    t.equal(res.statusCode, 200);
    t.match(res.headers['content-type'], /^application\/json/);
    const doc = res.json() as {
      openapi: string;
      paths: Record<string, Record<string, Record<string, unknown>>>;
      components: { securitySchemes: Record<string, unknown> };
    };
    t.match(doc.openapi, /^3\./);
    const documented = Object.entries(doc.paths).flatMap(([path, ops]) =>
      // OpenAPI writes path parameters as {name}, Fastify as :name.
      Object.keys(ops).map(
        (method) => `${method.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`,
      ),
    );
    t.same(routes.sort(), [
      'GET /api/calls',
      'GET /api/calls/export.csv',
      'GET /api/calls/stats',
      'GET /api/config',
      'GET /api/docs/json',
      'GET /api/embed/:companyId',
      'GET /api/health',
      'OPTIONS /api/visitor-token',
      'POST /api/auth/login',
      'POST /api/calls/:callId/rating',
      'POST /api/token/refresh',
      'POST /api/visitor-token',
    ]);
    t.same(documented.sort(), routes.sort(), 'every API route is documented, and nothing else');
    const exported = doc.paths['/api/calls/export.csv']!['get']!;
    t.match(
      exported['responses'],
      { '200': { content: { 'text/csv': { schema: { type: 'string' } } } } },
      'the export is described as CSV',
    );

    const login = doc.paths['/api/auth/login']!['post']!;
    t.ok(login['requestBody'], 'request bodies are described');
    t.same(Object.keys(login['responses'] as object).sort(), [
      '200',
      '400',
      '401',
      '403',
      '429',
      '503',
    ]);
    const calls = doc.paths['/api/calls']!['get']!;
    const params = (calls['parameters'] as Array<{ name: string; in: string }>).map((p) => p.name);
    t.same(params.sort(), ['agentId', 'cursor', 'from', 'limit', 'state', 'to']);
    t.same(calls['security'], [{ bearerAuth: [] }]);
    t.ok(doc.components.securitySchemes['bearerAuth']);
  },
);
