/**
 * The visitor's token and signaling client. The token comes from `POST /api/visitor-token`
 * (with the name the visitor typed), is kept in sessionStorage so a refresh resumes the call as
 * the same visitor, and is renewed with `POST /api/token/refresh` (same visitor id) before it
 * expires. The reconnect policy gives up quickly on a first connection that never succeeds (the
 * service is unreachable: say so) and after a long outage of a live one (the call is gone).
 */
import {
  FullJitterPolicy,
  WebSocketClient,
  tokenExpiry,
  type ReconnectPolicy,
} from '@calldocker/client';
import { api, ApiError } from '../shared/api.js';
import { signalingUrlOf } from '../shared/boot.js';
import { load, save } from './persist.js';
import { boot } from './store.js';

/** Retries of a first connection before the page says the service cannot be reached. */
const FIRST_CONNECT_RETRIES = 2;
/** An outage longer than the server's reconnect grace (30 s) has lost the call anyway. */
const GIVE_UP_AFTER_MS = 40_000;
/** A stored token is used while it has at least this long to live. */
const TOKEN_MARGIN_MS = 90_000;

/** Set when the API says the company is unknown or disabled: no token will ever come. */
export let companyGone = false;

/** A new visitor token (a new visitor id) carrying `name`, stored for this tab. */
export async function newToken(name: string): Promise<string> {
  try {
    const res = await api<{ token: string }>('/api/visitor-token', {
      body: name === '' ? { companyId: boot.companyId } : { companyId: boot.companyId, name },
    });
    save({ token: res.token, tokenName: name });
    return res.token;
  } catch (err) {
    if (err instanceof ApiError && err.code === 'not_found') companyGone = true;
    throw err;
  }
}

/** The client's `getToken`: the stored token while fresh, else renewed, else a new one. */
export async function getToken(): Promise<string> {
  const saved = load();
  const expMs = (saved.token === undefined ? 0 : (tokenExpiry(saved.token) ?? 0)) * 1000;
  if (saved.token !== undefined && expMs - TOKEN_MARGIN_MS > Date.now()) return saved.token;
  if (saved.token !== undefined && expMs > Date.now() + 5000) {
    try {
      const res = await api<{ token: string }>('/api/token/refresh', {
        method: 'POST',
        token: saved.token,
      });
      save({ token: res.token });
      return res.token;
    } catch {
      // Refused (the company went away) or unreachable: a new token says which.
    }
  }
  return newToken(saved.tokenName ?? '');
}

/** A client for this page, not connected yet; `everConnected()` tells the two outages apart. */
export function createClient(): { client: WebSocketClient; everConnected: () => boolean } {
  let connected = false;
  const base = new FullJitterPolicy();
  const policy: ReconnectPolicy = {
    nextRetryDelayMs(ctx) {
      if (companyGone) return null;
      if (!connected)
        return ctx.retryCount >= FIRST_CONNECT_RETRIES ? null : base.nextRetryDelayMs(ctx);
      return ctx.elapsedMs > GIVE_UP_AFTER_MS ? null : base.nextRetryDelayMs(ctx);
    },
  };
  const client = new WebSocketClient({
    url: signalingUrlOf(boot),
    getToken,
    reconnectPolicy: policy,
  });
  client.on('connection_established', () => (connected = true));
  return { client, everConnected: () => connected };
}
