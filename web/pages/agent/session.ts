/**
 * Logging in and out: the token lives in sessionStorage (gone with the tab, never in
 * localStorage), the company in localStorage (so the form remembers it), and every way a
 * session can end (log out, expiry, a refused token, access taken away) lands on the login form
 * with a message, never on a broken page. A token revoked only because the agent's role changed
 * is renewed instead, and the dashboard carries on with the views of the new role.
 */
import { tokenExpiry } from '@calldocker/client';
import { ApiError, api } from '../shared/api.js';
import { strings } from './strings.js';
import { auth, loginNotice, type Agent, type Auth, type Notice } from './store.js';

const AUTH_KEY = 'calldocker.agent.auth';
const COMPANY_KEY = 'calldocker.agent.company';
/** The company the form offers before one was remembered: the seed demo's. */
export const DEFAULT_COMPANY = 'demo';

/** Runs when a session starts (connect) and when it ends (disconnect); set by the signaling module. */
export const sessionHooks: { start: (a: Auth) => void; stop: () => void } = {
  start: () => undefined,
  stop: () => undefined,
};

/** The remembered company, or {@link DEFAULT_COMPANY}. */
export function rememberedCompany(): string {
  return localStorage.getItem(COMPANY_KEY) ?? DEFAULT_COMPANY;
}

/** The `role` claim of `token`, read without verifying it (the server did); undefined if none. */
function roleOf(token: string): Agent['role'] | undefined {
  try {
    const part = token.split('.')[1] ?? '';
    const { role } = JSON.parse(atob(part.replace(/-/g, '+').replace(/_/g, '/'))) as {
      role?: unknown;
    };
    return role === 'agent' || role === 'admin' ? role : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The login's notice for a token the API refused with `code`: `token_revoked` means an
 * administrator took the access away (docs/API.md, Revocation); anything else, an old session.
 */
export function refusedNotice(code: string): Notice {
  return {
    kind: 'warn',
    text: code === 'token_revoked' ? strings.accessChanged : strings.sessionExpired,
  };
}

/** Whether `token` is still usable for at least `marginMs` (false when it cannot be read). */
function tokenUsable(token: string, marginMs = 0): boolean {
  const exp = tokenExpiry(token);
  return exp !== undefined && exp * 1000 > Date.now() + marginMs;
}

/** Reads what a previous page load of this tab kept; anything unusable sends it to the login. */
export function restoreSession(): void {
  const text = sessionStorage.getItem(AUTH_KEY);
  if (text === null) return;
  let saved: Auth | undefined;
  try {
    const value = JSON.parse(text) as Partial<Auth> | null;
    if (typeof value?.token === 'string' && typeof value.agent?.id === 'string') {
      saved = value as Auth;
    }
  } catch {
    // unreadable: treated as no session below
  }
  if (saved === undefined || !tokenUsable(saved.token)) {
    endSession({ kind: 'warn', text: strings.sessionExpired });
    return;
  }
  begin(saved);
}

function begin(next: Auth): void {
  sessionStorage.setItem(AUTH_KEY, JSON.stringify(next));
  auth.value = next;
  loginNotice.value = undefined;
  sessionHooks.start(next);
}

/** A human "when" from the API's rate-limit message (`retry in N s`). */
function retryWhen(message: string): string {
  const seconds = Number(/retry in (\d+) s/.exec(message)?.[1]);
  if (!Number.isFinite(seconds) || seconds <= 0) return strings.inMinutes(15);
  return seconds < 90 ? strings.inSeconds(seconds) : strings.inMinutes(Math.ceil(seconds / 60));
}

/** The login form's message for a failed login. */
export function loginErrorText(err: unknown): string {
  if (!(err instanceof ApiError)) return strings.loginFailed;
  switch (err.code) {
    case 'invalid_credentials':
      return strings.invalidCredentials;
    case 'rate_limited':
      return strings.locked(retryWhen(err.message));
    case 'company_disabled':
      return strings.companyDisabled;
    case 'network':
      return strings.unreachable;
    default:
      return strings.loginFailed;
  }
}

/** Logs in; resolves when the dashboard shows, rejects with an {@link ApiError}. */
export async function logIn(companyId: string, email: string, password: string): Promise<void> {
  localStorage.setItem(COMPANY_KEY, companyId);
  const body = await api<{ token: string; expiresAt: string; agent: Agent }>('/api/auth/login', {
    body: { companyId, email, password },
  });
  begin({ token: body.token, expiresAt: body.expiresAt, agent: body.agent });
}

/** Ends the session (disconnects, forgets the token) and shows the login with `notice`. */
export function endSession(notice: Notice | undefined): void {
  sessionHooks.stop();
  sessionStorage.removeItem(AUTH_KEY);
  auth.value = undefined;
  loginNotice.value = notice;
}

/** The refresh under way: the socket and several panels may all ask at once. */
let refreshing: Promise<string> | undefined;

async function refresh(current: Auth): Promise<string> {
  try {
    const renewed = await api<{ token: string; expiresAt: string }>('/api/token/refresh', {
      method: 'POST',
      token: current.token,
    });
    // Logged out (or in anew) meanwhile: this token belongs to no session any more.
    if (auth.value !== current) throw new Error('the session ended during the refresh');
    // A changed role comes back in the new token; the admin-only views follow `agent.role`.
    const role = roleOf(renewed.token) ?? current.agent.role;
    const next = { ...current, ...renewed, agent: { ...current.agent, role } };
    sessionStorage.setItem(AUTH_KEY, JSON.stringify(next));
    auth.value = next;
    return next.token;
  } catch (err) {
    if (err instanceof ApiError && (err.code === 'unauthorized' || err.code === 'token_revoked')) {
      endSession(refusedNotice(err.code));
    }
    throw err;
  }
}

/**
 * The current token, renewed first when it is close to its expiry, or always with `force` (the
 * server refused it as revoked: only a refresh tells whether a new one can be had). Ends the
 * session if it cannot be renewed.
 */
export async function freshToken(marginMs = 60_000, force = false): Promise<string> {
  const current = auth.value;
  if (current === undefined) throw new Error('not logged in');
  if (!force && tokenUsable(current.token, marginMs)) return current.token;
  refreshing ??= refresh(current).finally(() => {
    refreshing = undefined;
  });
  return refreshing;
}

/**
 * Calls the API with the session's token. A revoked token is renewed once if it can be (a
 * changed role) and the call made again; any other refused token ends the session.
 */
export async function authedApi<T>(path: string): Promise<T> {
  const token = await freshToken();
  try {
    return await api<T>(path, { token });
  } catch (err) {
    if (err instanceof ApiError && err.code === 'token_revoked') {
      return api<T>(path, { token: await freshToken(0, true) });
    }
    if (err instanceof ApiError && err.code === 'unauthorized') endSession(refusedNotice(err.code));
    throw err;
  }
}
