/**
 * The answers given before any route runs, in the error format of every other answer
 * ({@link ErrorBody}, codes from `errors.ts`) and with the same security headers:
 *
 * - {@link frameworkErrorHandler}, Fastify's `frameworkErrors`: a URL it cannot decode
 *   (`FST_ERR_BAD_URL`, 400 `bad_request`), a path parameter over `maxParamLength`
 *   (`FST_ERR_MAX_PARAM_LENGTH`, 414 `uri_too_long`).
 * - {@link clientErrorHandler}, Fastify's `clientErrorHandler` (Node's `clientError`): what
 *   Node refuses on the socket before there is a request to route: a request slower than
 *   `requestTimeout` or `headersTimeout` (408 `request_timeout`), a request line and headers over
 *   Node's 16 KiB (431 `headers_too_large`), anything its parser cannot read (400
 *   `bad_request`). The connection is closed after the answer.
 * - A request that arrives while the host closes (on a keep-alive connection still busy with
 *   another) gets 503 `unavailable` from a hook in `app.ts`, where Fastify's own
 *   `return503OnClosing` would write its bare `{ error: 'Service Unavailable' }`.
 *
 * Without them Fastify answers these with its own `{ error: 'Bad Request', statusCode }` bodies,
 * which clients switching on our codes cannot read.
 */
import type { Socket } from 'node:net';
import { STATUS_CODES } from 'node:http';
import createError from '@fastify/error';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { WebErrorCode, toErrorResponse } from './errors.js';
import {
  BASE_SECURITY_HEADERS,
  applySecurityHeaders,
  type SecurityHeadersOptions,
} from './security-headers.js';

/** The request or its headers did not arrive in time. No arguments. */
export const RequestTimeoutError = createError(
  WebErrorCode.RequestTimeout,
  'the request did not arrive in time',
  408,
  Error,
  false,
);
/** Request line and headers over Node's limit. No arguments. */
export const HeadersTooLargeError = createError(
  WebErrorCode.HeadersTooLarge,
  'the request line and headers are too large',
  431,
  Error,
  false,
);
/** Bytes Node's HTTP parser cannot read as a request. No arguments. */
export const MalformedRequestError = createError(
  WebErrorCode.BadRequest,
  'malformed HTTP request',
  400,
  Error,
  false,
);

/** Fastify's `frameworkErrors`: its routing errors as our error bodies. */
export function frameworkErrorHandler(opts: SecurityHeadersOptions) {
  return (err: FastifyError, request: FastifyRequest, reply: FastifyReply): void => {
    const { status, body, headers } = toErrorResponse(err);
    if (status >= 500) request.log.error({ err }, 'request failed');
    else request.log.debug({ code: body.error }, 'request rejected');
    void reply.code(status).headers(headers).type('application/json; charset=utf-8');
    // No hook runs for these answers, so the headers are given here.
    applySecurityHeaders(request, reply, opts);
    void reply.send(JSON.stringify(body));
  };
}

/** Node's error codes for the errors of {@link clientErrorHandler}. */
function errorOf(code: string | undefined): FastifyError {
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return new RequestTimeoutError();
  if (code === 'HPE_HEADER_OVERFLOW') return new HeadersTooLargeError();
  return new MalformedRequestError();
}

/** The raw HTTP/1.1 answer of a client error: our body and headers, then the connection closes. */
export function rawErrorResponse(err: FastifyError): string {
  const { status, body } = toErrorResponse(err);
  const text = JSON.stringify(body);
  const headers: Record<string, string> = {
    ...BASE_SECURITY_HEADERS,
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(text)),
    connection: 'close',
  };
  const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}`);
  return [`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}`, ...lines, '', text].join('\r\n');
}

/**
 * Fastify's `clientErrorHandler` (bound to the app): answers what Node's HTTP server refused
 * with {@link rawErrorResponse} and closes the connection, as Node's own handler would.
 */
export function clientErrorHandler(
  this: FastifyInstance,
  err: Error & { code?: string },
  socket: Socket,
): void {
  // A reset connection has no one to answer.
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const error = errorOf(err.code);
  this.log.debug({ code: err.code }, 'client error');
  // An answer whose head is already on the wire cannot be followed by another: Node's own
  // handler checks the response in flight (`_httpMessage`, not public) the same way.
  const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (socket.writable && inFlight?.headersSent !== true) socket.write(rawErrorResponse(error));
  socket.destroy();
}
