/**
 * What Fastify and Node refuse before any route runs, over real HTTP: a URL that cannot be
 * decoded, a path parameter too long, malformed JSON, a body too large or of the wrong type, a
 * method not allowed, headers too large, bytes that are not HTTP. Each answer is our error body
 * with its catalog code and the security headers; the raw-socket ones close the connection.
 */
import t from 'tap';
import { BODY_LIMIT_BYTES } from '../../web/app.js';
import { STRICT_CSP } from '../../web/security-headers.js';
import { errorOf, listenTestApp } from './helpers.js';
import { openRaw, parseAnswer, rawRequest, type RawAnswer } from './raw-http.js';

/** The security headers every error carries, as a raw answer or a fetch shows them. */
const ERROR_HEADERS = {
  'content-security-policy': STRICT_CSP,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

/** The test object tap hands to a subtest callback. */
type Test = Parameters<Parameters<typeof t.test>[0]>[0];

/** Asserts that `answer` is our error body with `code` and the security headers. */
function assertError(t: Test, answer: RawAnswer, status: number, code: string) {
  t.equal(answer.status, status, `${code}: status`);
  t.match(answer.headers['content-type'], /^application\/json/, `${code}: JSON`);
  t.same(errorOf(answer.body), { keys: ['error', 'message'], error: code }, `${code}: body`);
  t.match(answer.headers, ERROR_HEADERS, `${code}: security headers`);
}

/** A GET of `path` on its own connection. */
const get = (path: string) => `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`;

t.test('a URL Fastify cannot decode gets 400 bad_request in our format', async (t) => {
  const { port } = await listenTestApp(t);
  for (const path of ['/c/%zz', '/%E0%A4%A', '/api/embed/%zz?origin=x']) {
    assertError(t, await rawRequest(t, port, get(path)), 400, 'bad_request');
  }
});

t.test('a path parameter of 100 characters is routed, of 101 gets 414 uri_too_long', async (t) => {
  const { port } = await listenTestApp(t);
  const edge = await rawRequest(t, port, get(`/c/${'a'.repeat(100)}`));
  t.equal(edge.status, 404, 'routed: the page of an unknown company');
  t.match(edge.headers['content-type'], /^text\/html/);
  assertError(t, await rawRequest(t, port, get(`/c/${'a'.repeat(101)}`)), 414, 'uri_too_long');
});

t.test('bad bodies over HTTP: malformed, empty, of another type, too large', async (t) => {
  const { url } = await listenTestApp(t);
  const post = async (body: string, type = 'application/json') => {
    const res = await fetch(`${url}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': type },
      body,
    });
    const headers = Object.fromEntries(res.headers.entries());
    return { status: res.status, headers, body: await res.text() };
  };
  assertError(t, await post('{"email":'), 400, 'bad_request');
  assertError(t, await post(''), 400, 'bad_request');
  assertError(
    t,
    await post('email=a', 'application/x-www-form-urlencoded'),
    415,
    'unsupported_media_type',
  );
  // At the limit the body is read (and refused by the schema); one byte more is not read at all.
  const padding = (bytes: number) => JSON.stringify({ pad: 'x'.repeat(bytes - 10) });
  t.equal(padding(BODY_LIMIT_BYTES).length, BODY_LIMIT_BYTES);
  assertError(t, await post(padding(BODY_LIMIT_BYTES)), 400, 'bad_request');
  assertError(t, await post(padding(BODY_LIMIT_BYTES + 1)), 413, 'payload_too_large');
});

t.test('a method not allowed and an unknown path over HTTP', async (t) => {
  const { port } = await listenTestApp(t);
  const notAllowed = await rawRequest(
    t,
    port,
    'DELETE /api/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
  );
  assertError(t, notAllowed, 405, 'method_not_allowed');
  t.match(notAllowed.headers['allow'], /\bGET\b/);
  assertError(t, await rawRequest(t, port, get('/api/nope')), 404, 'not_found');
});

t.test(
  'headers of 16 KiB are read; one byte more gets 431 and the connection closes',
  async (t) => {
    const { port } = await listenTestApp(t);
    // Node's maxHeaderSize (16 KiB): here the header lines alone come to it, then one byte more.
    const request = (headerBytes: number) => {
      const fixed = 'Host: x\r\nConnection: close\r\nX-Pad: \r\n';
      return `GET /api/health HTTP/1.1\r\n${fixed.replace('X-Pad: ', `X-Pad: ${'a'.repeat(headerBytes - fixed.length)}`)}\r\n`;
    };
    t.equal((await rawRequest(t, port, request(16 * 1024))).status, 200);
    const tooLarge = await openRaw(t, port);
    await tooLarge.write(request(16 * 1024 + 1));
    assertError(t, await tooLarge.answer(), 431, 'headers_too_large');
    t.equal((await tooLarge.answer()).headers['connection'], 'close');
    await tooLarge.closed;
  },
);

t.test('bytes Node cannot parse as HTTP get 400 bad_request and a closed connection', async (t) => {
  const { port } = await listenTestApp(t);
  for (const garbage of [
    'GARBAGE\r\n\r\n',
    'FOO / HTTP/1.1\r\nHost: x\r\n\r\n',
    'POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n',
    'GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n',
  ]) {
    const connection = await openRaw(t, port);
    await connection.write(garbage);
    assertError(t, await connection.answer(), 400, 'bad_request');
    await connection.closed;
    t.pass(`${JSON.stringify(garbage.split('\r\n')[0])}: closed`);
  }
});

t.test('a request while the host closes gets 503 unavailable in our format', async (t) => {
  let markArrived: () => void = () => undefined;
  const arrived = new Promise<void>((resolve) => (markArrived = resolve));
  let markClosing: () => void = () => undefined;
  const closingSeen = new Promise<void>((resolve) => (markClosing = resolve));
  // Both hooks are added after the host's own, so each runs once the host has seen the same.
  const { app, port } = await listenTestApp(t, {}, (built) => {
    built.addHook('onRequest', async () => markArrived());
    built.addHook('preClose', (done) => {
      markClosing();
      done();
    });
  });
  // A request in flight (its body half sent) keeps the connection open through the close.
  const body = JSON.stringify({ companyId: 'acme', email: 'a@b.test', password: 'x' });
  const connection = await openRaw(t, port);
  await connection.write(
    `POST /api/auth/login HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\n` +
      `content-length: ${body.length}\r\n\r\n${body.slice(0, 5)}`,
  );
  await arrived;
  const closed = app.close();
  await closingSeen;
  // The rest of that body, and a second request pipelined behind it.
  await connection.write(`${body.slice(5)}GET /api/config HTTP/1.1\r\nHost: x\r\n\r\n`);
  await connection.closed;
  await closed;

  const first = parseAnswer(connection.received);
  t.not(first.status, 503, 'the request already in flight is answered as usual');
  const headEnd = connection.received.indexOf('\r\n\r\n') + 4;
  const second = parseAnswer(
    connection.received.slice(headEnd + Number(first.headers['content-length'])),
  );
  assertError(t, second, 503, 'unavailable');
  t.equal(second.headers['connection'], 'close', 'and the connection closes');
});
