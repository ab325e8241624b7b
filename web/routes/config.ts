/**
 * `GET /api/config`: what a page needs to reach the signaling server. The page, not the host,
 * knows the hostname the browser used, so when no public URL is configured the host sends an
 * empty `signalingUrl` and the port, and the page builds `ws://<its hostname>:<port>/`.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type, type Static } from '@sinclair/typebox';
import { PROTOCOL_VERSION } from '../../client-lib/constants.js';

/** Body of `GET /api/config`. */
export const ClientConfigBody = Type.Object(
  {
    /** Public signaling URL (`ws://` or `wss://`), or `''` when the page should derive it. */
    signalingUrl: Type.String(),
    /** Port the page uses with its own hostname when `signalingUrl` is empty. */
    signalingPort: Type.Integer({ minimum: 0, maximum: 65535 }),
    /** Version of the wire contract the signaling server speaks. */
    protocolVersion: Type.Literal(PROTOCOL_VERSION),
  },
  { additionalProperties: false, description: 'Where and how pages reach the signaling server' },
);

/** Options of {@link configRoutes}. */
export interface ConfigRoutesOptions {
  /** Sent as is; `''` lets the page derive the URL. */
  readonly signalingUrl: string;
  readonly signalingPort: number;
}

/** Registers `GET /api/config`. */
export const configRoutes: FastifyPluginAsyncTypebox<ConfigRoutesOptions> = async (app, opts) => {
  const body: Static<typeof ClientConfigBody> = {
    signalingUrl: opts.signalingUrl,
    signalingPort: opts.signalingPort,
    protocolVersion: PROTOCOL_VERSION,
  };
  app.get(
    '/api/config',
    {
      schema: {
        tags: ['meta'],
        summary: 'How a page reaches the signaling server',
        response: { 200: ClientConfigBody },
      },
    },
    async () => body,
  );
};
